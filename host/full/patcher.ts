// patcher.ts — the STATIC x86-hole translator, only with `translate: "static"` (--full-translate static), kept to
// compare with the default run-time translation (the CPU hands each sensitive instruction over as it executes it:
// mode.ts applySensitiveExits, README.md "The x86 hole"), which sees what a sweep cannot (code jumped into
// mid-instruction, generated at run time, ELF without section headers) and never modifies guest memory.
// It scans guest-kernel code before it runs and replaces every sensitive
// instruction that would not trap at CPL 3 (pushf/popf, sgdt/sidt/sldt/str/smsw, mov from CS/SS, push CS/SS,
// lar/lsl/verr/verw, and the privilege-dependent control transfers iret/retf/lcall) by INT3 (0xCC), keeping the
// original byte in a side table keyed by guest-physical address. INT3 is one byte, so it fits over any
// instruction; the monitor intercepts every software interrupt, finds the address in the side table and emulates
// the original instruction against the virtual CPU. A guest's own INT3 (not in the table) is reflected as usual.
//
// What is code: the executable sections of the kernel's ELF (SHF_EXECINSTR), swept linearly from every symbol
// (and the entry point), so data between functions (the multiboot header) cannot desynchronise the sweep past
// the next symbol. Code frames are write-protected in every shadow; a write to one is single-stepped by the
// monitor and then onWrite() drops patches whose bytes the guest overwrote and re-sweeps the touched intervals
// (self-modifying code works). The guest reading its own code sees 0xCC at patched bytes (documented limit:
// there is no execute-only protection in 32-bit paging to hide them).
import type { DecodedInsn } from "../machine.ts";

/** The CPU's decoder (Machine.decode): `bytes` as the instruction at `addr`. */
export type InsnDecoder = (bytes: ArrayLike<number>, addr: number) => DecodedInsn;

/**
 * Sensitive-but-unprivileged instructions (the x86 hole: they run at CPL 3 without trapping but read or silently
 * ignore privileged state), plus the control transfers whose semantics depend on privilege, which the
 * deprivileged guest kernel must not execute natively. The scanner patches these; everything else that is
 * privileged traps by itself (#GP at CPL 3).
 */
export function sensitiveKind(d: DecodedInsn): string | null {
  switch (d.op) {
    case 0x9c: return "pushf";
    case 0x9d: return "popf";
    case 0xcf: return "iret";
    case 0xca: case 0xcb: return "retf";
    case 0x9a: return "lcall";
    case 0x0e: return "push-cs";
    case 0x16: return "push-ss";
    case 0x8c: return d.reg === 1 || d.reg === 2 ? "mov-from-cs-ss" : null;
    // SS loads: at real CPL 3 a DPL-3 stack segment with RPL 3 would load without trapping, where the virtual
    // CPL 0 requires DPL 0: emulate every SS load of the kernel
    case 0x8e: return d.reg === 2 ? "mov-ss" : null;
    case 0x17: return "pop-ss";
    case 0x0fb2: return "lss";
    case 0x0f00: return ["sldt", "str", null, null, "verr", "verw", null, null][d.reg];
    case 0x0f01:
      if (d.mod === 3) return d.reg === 4 ? "smsw" : null;
      return d.reg === 0 ? "sgdt" : d.reg === 1 ? "sidt" : d.reg === 4 ? "smsw" : null;
    case 0x0f02: return "lar";
    case 0x0f03: return "lsl";
    case 0xff: return d.reg === 3 ? "lcall" : null;
  }
  return null;
}

export interface PatchMem {
  /** guest-physical byte access */
  read8(gpa: number): number;
  write8(gpa: number, v: number): void;
}

export interface Patch { orig: number; kind: string; len: number }

/** The instructions the "hole" switch controls: the ones that leak or ignore privileged state at CPL 3. */
export const HOLE_KINDS = new Set(["pushf", "popf", "sgdt", "sidt", "sldt", "str", "smsw", "mov-from-cs-ss", "push-cs", "push-ss", "lar", "lsl", "verr", "verw"]);

export class Patcher {
  readonly patches = new Map<number, Patch>();
  /** sweep intervals [start, end) in guest-physical addresses, sorted by start */
  private intervals: [number, number][] = [];
  private codeFrames = new Set<number>();
  readonly stats = { scannedBytes: 0, patched: 0, rescans: 0, byKind: {} as Record<string, number> };

  /** closeHole=false leaves the x86 hole open (the switch): only iret/retf/lcall are patched then. */
  constructor(private mem: PatchMem, public closeHole = true, private decode: InsnDecoder) {}

  isCodeFrame(frame: number): boolean { return this.codeFrames.has(frame); }
  get codeFrameCount(): number { return this.codeFrames.size; }

  /** Registers a code range [start, end) with sweep entry points inside it, and sweeps it now. */
  addRegion(start: number, end: number, entries: number[]): void {
    const inside = entries.filter((e) => e >= start && e < end);
    // with symbols, bytes before the first one (a multiboot header) are data, not swept
    const starts = [...new Set(inside.length ? inside : [start])].sort((a, b) => a - b);
    for (let i = 0; i < starts.length; i++) {
      const iv: [number, number] = [starts[i], i + 1 < starts.length ? starts[i + 1] : end];
      if (iv[1] > iv[0]) this.intervals.push(iv);
    }
    this.intervals.sort((a, b) => a[0] - b[0]);
    for (let f = start >>> 12; f <= (end - 1) >>> 12; f++) this.codeFrames.add(f);
    for (const iv of this.intervals) if (iv[0] >= start && iv[1] <= end) this.sweep(iv[0], iv[1]);
  }

  /** The original byte at `gpa` (the guest's view of its code). */
  origByte(gpa: number): number {
    const p = this.patches.get(gpa);
    return p ? p.orig : this.mem.read8(gpa);
  }

  private sweep(start: number, end: number): void {
    const buf = new Array<number>(15);
    let pos = start;
    while (pos < end) {
      let n = 0;
      try { for (; n < 15; n++) buf[n] = this.origByte(pos + n); } catch { /* the end of guest RAM */ }
      const d = this.decode(n === 15 ? buf : buf.slice(0, n), pos);
      if (d.len > n) break; // runs past the end of RAM
      // an over-long prefix run (#GP when executed) is stepped over one byte at a time
      const len = d.op === -2 ? 1 : d.len;
      const kind = sensitiveKind(d);
      if (kind && (this.closeHole || !HOLE_KINDS.has(kind)) && !this.patches.has(pos)) {
        this.patches.set(pos, { orig: this.mem.read8(pos), kind, len });
        this.mem.write8(pos, 0xcc);
        this.stats.patched++;
        this.stats.byKind[kind] = (this.stats.byKind[kind] ?? 0) + 1;
      }
      this.stats.scannedBytes += len;
      pos += len;
    }
  }

  private unpatchRange(start: number, end: number): void {
    for (const [a, p] of this.patches) {
      if (a >= start && a < end) { this.mem.write8(a, p.orig); this.patches.delete(a); }
    }
  }

  /**
   * After a write to code frame `frame` (contents before the write in `before`): a patched byte the guest
   * overwrote is the guest's now; every sweep interval containing a changed byte is swept again.
   */
  onWrite(frame: number, before: Uint8Array): void {
    const base = frame * 4096;
    const changed: number[] = [];
    for (let i = 0; i < 4096; i++) if (this.mem.read8(base + i) !== before[i]) changed.push(base + i);
    if (!changed.length) return;
    for (const a of changed) {
      const p = this.patches.get(a);
      if (p) this.patches.delete(a); // the guest's byte replaces our int3 (and its original)
    }
    for (const iv of this.intervals) {
      if (changed.some((a) => a >= iv[0] - 15 && a < iv[1])) {
        this.unpatchRange(iv[0], iv[1]);
        this.sweep(iv[0], iv[1]);
        this.stats.rescans++;
      }
    }
  }

  /** Restores every original byte (used by tests and when full mode stops patching). */
  unpatchAll(): void {
    for (const [a, p] of this.patches) this.mem.write8(a, p.orig);
    this.patches.clear();
  }
}

// ---------------------------------------------------------------- ELF: executable sections and symbols
export interface CodeRegion { start: number; end: number; entries: number[] }

/**
 * The executable sections of a 32-bit ELF (addresses translated to physical with `v2p`) and the symbols inside
 * them. Returns [] if the image has no section headers (then nothing is scanned ahead of time).
 */
export function elfCodeRegions(image: Uint8Array, entry: number, v2p: (va: number) => number): CodeRegion[] {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (image.length < 52 || dv.getUint32(0, true) !== 0x464c457f) return [];
  const shoff = dv.getUint32(32, true), shentsize = dv.getUint16(46, true), shnum = dv.getUint16(48, true);
  if (!shoff || shentsize < 40 || shoff + shnum * shentsize > image.length) return [];
  const sh = (i: number) => {
    const o = shoff + i * shentsize;
    return { type: dv.getUint32(o + 4, true), flags: dv.getUint32(o + 8, true), addr: dv.getUint32(o + 12, true),
      offset: dv.getUint32(o + 16, true), size: dv.getUint32(o + 20, true), link: dv.getUint32(o + 24, true), entsize: dv.getUint32(o + 36, true) };
  };
  const secs = Array.from({ length: shnum }, (_, i) => sh(i));
  const SHF_ALLOC = 2, SHF_EXECINSTR = 4, SHT_PROGBITS = 1, SHT_SYMTAB = 2;
  const symAddrs: number[] = [entry];
  for (const s of secs) {
    if (s.type !== SHT_SYMTAB || s.entsize < 16) continue;
    for (let o = s.offset; o + 16 <= s.offset + s.size && o + 16 <= image.length; o += s.entsize) {
      const value = dv.getUint32(o + 4, true), info = image[o + 12], shndx = dv.getUint16(o + 14, true);
      const type = info & 0xf;
      if (shndx === 0 || shndx >= 0xff00 || type === 3 /*SECTION*/ || type === 4 /*FILE*/) continue;
      if (secs[shndx] && secs[shndx].flags & SHF_EXECINSTR) symAddrs.push(value);
    }
  }
  const out: CodeRegion[] = [];
  for (const s of secs) {
    if (s.type !== SHT_PROGBITS || (s.flags & (SHF_ALLOC | SHF_EXECINSTR)) !== (SHF_ALLOC | SHF_EXECINSTR) || !s.size) continue;
    const entries = symAddrs.filter((a) => a >= s.addr && a < s.addr + s.size);
    // without symbols: sweep from the entry point if it is in this section, else from the start
    const p = v2p(s.addr);
    out.push({ start: p, end: p + s.size, entries: entries.map((a) => v2p(a)) });
  }
  return out;
}
