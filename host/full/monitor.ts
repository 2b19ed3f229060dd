// monitor.ts — the full-mode virtual machine monitor: a deprivileged guest kernel (real CPL 3), a virtual CPU
// (virtual CPL, IF, IOPL, CR0/2/3/4, DR0-7, GDTR/IDTR/LDTR/TR), trap-and-emulate for privileged instructions,
// emulation of the patched sensitive instructions (patcher.ts), reflection of exceptions and interrupts through
// the guest's own IDT, and shadow paging (shadow.ts). See host/full/README.md for the design.
import { Machine, REG_NAMES, SEG_NAMES, type Exit, type SegName, type Segment } from "../machine.ts";
import * as A from "../abi.generated.ts";
import { ShadowMmu, VMM_LINEAR, GuestRangeError, type GuestPaging, type PhysMem } from "./shadow.ts";
import { Patcher } from "./patcher.ts";
import { decode, DecodeError, type Insn } from "./x86dec.ts";

// ---- the VMM region: machine-physical [0, VMM_SIZE); linear [VMM_LINEAR, 4 GiB) (PDE 1023), supervisor-only ----
export const VMM_SIZE = 8 << 20;
export const VMM_PT = 0x0000;      // the page table installed at PDE 1023 of every shadow
export const GDT_K = 0x1000;       // real GDT, kernel view (guest code/data descriptors with DPL 3)
export const GDT_U = 0x11000;      // real GDT, user view (the guest's descriptors as written)
export const LDT_K = 0x21000;
export const LDT_U = 0x31000;
export const IDT_REAL = 0x41000;   // empty: every vector is intercepted before the CPU would look
export const POOL_START = 0x42000; // shadow page tables
const MAPPED_END = POOL_START;     // VMM pages visible at VMM_LINEAR (tables only; the pool is never mapped)

/** An exception to reflect into the guest (thrown from emulation code). */
export class GuestFault {
  constructor(public vector: number, public error?: number, public cr2?: number) {}
}
/** The guest did something full mode cannot (or must not) do: stop with this message. */
export class FatalGuest extends Error {}

export interface MonitorIo {
  ioRead(port: number, size: 1 | 2 | 4): number;
  ioWrite(port: number, size: 1 | 2 | 4, value: number): void;
}

export interface SegState { sel: number; base: number; limit: number; attr: number }

export interface VirtualCpu {
  cpl: number;
  vif: boolean;
  iopl: number;
  cr0: number; cr2: number; cr3: number; cr4: number;
  gdtr: { base: number; limit: number };
  idtr: { base: number; limit: number };
  ldtr: SegState;
  tr: SegState;
}

export type HandleResult = null | { hlt: true } | { stop: "halted" | "shutdown" | "internal-error"; message: string };

export interface FullStats {
  exits: Record<string, number>;
  emulated: Record<string, number>;
  reflected: Record<string, number>;
  interruptsInjected: number;
  emulatedInstructions: number;
}

const FAULTS = new Set([0, 5, 6, 7, 10, 11, 12, 13, 14, 16, 17, 19]);
const FL_IF = A.FLAG_IF, FL_IOPL = A.FLAG_IOPL;
const SEG = { es: 0, cs: 1, ss: 2, ds: 3, fs: 4, gs: 5 } as const;
const hex = (n: number) => "0x" + (n >>> 0).toString(16);

export interface MonitorOptions {
  /** guest RAM bytes (the Machine has VMM_SIZE more) */
  guestRam: number;
  io: MonitorIo;
  /** close the x86 hole by patching (default true) */
  closeHole?: boolean;
  maxShadows?: number;
  log?: (msg: string) => void;
}

export class Monitor {
  readonly m: Machine;
  readonly shadow: ShadowMmu;
  readonly patcher: Patcher;
  readonly v: VirtualCpu;
  readonly stats: FullStats = { exits: {}, emulated: {}, reflected: {}, interruptsInjected: 0, emulatedInstructions: 0 };
  readonly guestRam: number;
  /** after STI: let one instruction run before an interrupt can be injected */
  stiShadow = false;
  private io: MonitorIo;
  private log: (msg: string) => void;
  private gdtCache: { base: number; limit: number; bytes: Uint8Array<ArrayBufferLike> } = { base: -1, limit: -1, bytes: new Uint8Array(0) };
  private ldtCache: { key: string; bytes: Uint8Array<ArrayBufferLike> } = { key: "", bytes: new Uint8Array(0) };
  private delivering = 0;
  private dv: DataView;
  private u8: Uint8Array;

  constructor(m: Machine, o: MonitorOptions) {
    this.m = m;
    this.io = o.io;
    this.guestRam = o.guestRam;
    this.log = o.log ?? (() => {});
    if (m.ramSize < VMM_SIZE + o.guestRam) throw new Error("wasmvisor full: the machine needs VMM_SIZE more RAM than the guest");
    this.dv = new DataView(m.memory.buffer);
    this.u8 = new Uint8Array(m.memory.buffer);
    const mem: PhysMem = {
      read32: (a) => m.read32(a), write32: (a, v) => m.write32(a, v), fill: (a, l, v) => m.fillMem(a, l, v),
      read: (a, l) => m.readMem(a, l), write: (a, d) => m.writeMem(a, d), flushTlb: () => m.flushTlb(), invlpg: (lin) => m.invlpg(lin),
    };
    this.patcher = new Patcher({ read8: (g) => m.read8(g + VMM_SIZE), write8: (g, v) => m.write8(g + VMM_SIZE, v) }, o.closeHole ?? true);
    this.shadow = new ShadowMmu({
      mem, ramOffset: VMM_SIZE, ramSize: o.guestRam, poolStart: POOL_START, poolEnd: VMM_SIZE, vmmPt: VMM_PT,
      maxShadows: o.maxShadows, isCodeFrame: (f) => this.patcher.isCodeFrame(f),
    });
    // the VMM page table: linear VMM_LINEAR + x → machine x, supervisor-only, for the tables
    for (let a = 0; a < MAPPED_END; a += 4096) m.write32(VMM_PT + (a >> 12) * 4, a | 3);
    const nul = { sel: 0, base: 0, limit: 0, attr: 0 };
    this.v = {
      cpl: 0, vif: false, iopl: 0, cr0: A.CR0_PE | A.CR0_ET, cr2: 0, cr3: 0, cr4: 0,
      gdtr: { base: 0, limit: 0xffff }, idtr: { base: 0, limit: 0xffff }, ldtr: { ...nul }, tr: { ...nul },
    };
  }

  // ---------------------------------------------------------------- state plumbing
  private paging(): GuestPaging {
    return { pg: !!(this.v.cr0 & A.CR0_PG), wp: !!(this.v.cr0 & A.CR0_WP), pse: !!(this.v.cr4 & A.CR4_PSE), cr3: this.v.cr3 };
  }

  /** Takes over a machine left in the multiboot entry state (or any flat ring-0 state) and deprivileges it. */
  start(): void {
    const m = this.m;
    const fl = m.eflags;
    this.v.cpl = m.cpl;
    this.v.vif = !!(fl & FL_IF);
    this.v.iopl = (fl & FL_IOPL) >> 12;
    this.v.cr0 = m.getCr("cr0") & ~A.CR0_PG;
    this.v.gdtr = m.getGdtr();
    this.v.idtr = m.getIdtr();
    const cs = m.getSegment("cs"), ss = m.getSegment("ss");
    m.setSegment("cs", { ...cs, selector: cs.selector | 3, attr: cs.attr | 0x60 });
    m.setSegment("ss", { ...ss, selector: ss.selector | 3, attr: ss.attr | 0x60 });
    this.setGuestFlags(fl);
    m.setIdtr(VMM_LINEAR + IDT_REAL, 0);
    this.applyCr0();
    this.applyMode();
  }

  /** EFLAGS as the guest sees them: the real arithmetic/control flags with the virtual IF and IOPL. */
  guestFlags(): number {
    return ((this.m.eflags & ~(FL_IF | FL_IOPL)) | (this.v.vif ? FL_IF : 0) | (this.v.iopl << 12)) >>> 0;
  }
  /** Real EFLAGS: IF always 1 (the line is never raised: the VMM injects), IOPL 0 (cli/sti/in/out trap). */
  setGuestFlags(f: number): void {
    this.v.vif = !!(f & FL_IF);
    this.v.iopl = (f & FL_IOPL) >> 12;
    this.m.eflags = ((f & ~(FL_IOPL | A.FLAG_VM)) | FL_IF) >>> 0;
  }

  private applyCr0(): void {
    const keep = A.CR0_MP | A.CR0_EM | A.CR0_TS | A.CR0_NE | A.CR0_ET | A.CR0_AM;
    const real = (A.CR0_PE | A.CR0_PG | A.CR0_WP | (this.v.cr0 & keep)) >>> 0;
    if (this.m.getCr("cr0") !== real) this.m.setCr("cr0", real);
    const cr4 = this.v.cr4 & A.CR4_TSD;
    if (this.m.getCr("cr4") !== cr4) this.m.setCr("cr4", cr4);
  }

  /** Real CR3 and descriptor tables for the current virtual privilege and address space. */
  applyMode(): void {
    const pd = this.shadow.activate(this.paging(), this.v.cpl === 3);
    if (this.m.getCr("cr3") !== pd) {
      // U → K in one address space: load the real CR3 without flushing the TLB (see ShadowMmu.keepTlb)
      if (this.shadow.keepTlb) this.stateSet(A.OFF_CR3, pd);
      else this.m.setCr("cr3", pd);
    }
    this.syncTables();
  }

  private stateSet(off: number, v: number): void { this.dv.setUint32(A.STATE_BASE + off, v >>> 0, true); }

  /** Copies the guest GDT/LDT into the real tables (kernel view: code/data DPL 3). */
  syncTables(): boolean {
    let changed = false;
    const user = this.v.cpl === 3;
    const g = this.v.gdtr;
    const len = Math.min(g.limit + 1, 0x10000);
    let bytes: Uint8Array | null = null;
    const c = this.gdtCache;
    try {
      // the common case (every privilege switch): unchanged, compared in place without a copy
      const same = c.base === g.base && c.limit === g.limit && this.linEquals(g.base, len, c.bytes);
      if (!same) bytes = this.readLin(g.base, len, false);
    } catch (e) { if (!(e instanceof GuestFault || e instanceof GuestRangeError)) throw e; }
    if (bytes) {
      this.writeTable(GDT_U, GDT_K, bytes);
      this.gdtCache = { base: g.base, limit: g.limit, bytes };
      changed = true;
    }
    this.m.setGdtr(VMM_LINEAR + (user ? GDT_U : GDT_K), g.limit);
    const l = this.v.ldtr;
    if (l.attr & 0x80) {
      const llen = Math.min(l.limit + 1, 0x10000);
      let lb: Uint8Array | null = null;
      const key = `${l.base}:${l.limit}`;
      try {
        if (!(this.ldtCache.key === key && this.linEquals(l.base, llen, this.ldtCache.bytes))) lb = this.readLin(l.base, llen, false);
      } catch (e) { if (!(e instanceof GuestFault || e instanceof GuestRangeError)) throw e; }
      if (lb && (this.ldtCache.key !== key || !equal(this.ldtCache.bytes, lb))) {
        this.writeTable(LDT_U, LDT_K, lb);
        this.ldtCache = { key, bytes: lb };
        changed = true;
      }
      this.m.setLdtr({ selector: l.sel, base: VMM_LINEAR + (user ? LDT_U : LDT_K), limit: l.limit, attr: l.attr });
    } else {
      const cur = this.m.getLdtr();
      this.m.setLdtr({ ...cur, attr: 0 });
    }
    return changed;
  }

  private writeTable(uOff: number, kOff: number, bytes: Uint8Array): void {
    this.m.writeMem(uOff, bytes);
    const k = bytes.slice();
    // System descriptors (TSS, gates, LDT) get DPL 3 so the CPU's own checks on a far jmp to them run at CPL 3
    // as they would at CPL 0. Code/data descriptors stay exact: loading a DPL < 3 segment from the deprivileged
    // kernel traps (#GP) and is emulated with the checks at the virtual CPL, so no privilege check is lost.
    for (let i = 0; i + 8 <= k.length; i += 8) if (!(k[i + 5] & 0x10)) k[i + 5] |= 0x60;
    this.m.writeMem(kOff, k);
  }

  // ---------------------------------------------------------------- guest memory (through the guest's tables)
  /** guest-linear → guest-physical for an access at the given privilege; throws GuestFault(#PF). */
  translate(lin: number, write: boolean, user: boolean): number {
    const w = this.shadow.walk(this.paging(), lin >>> 0, write, user, true);
    if (!w.ok) throw new GuestFault(A.VEC_PF, w.err, lin >>> 0);
    if (w.gpa >= this.guestRam) throw new FatalGuest(`guest access to ${hex(lin)} reaches guest-physical ${hex(w.gpa)}, outside its RAM`);
    return w.gpa;
  }
  readLin(lin: number, len: number, user = this.v.cpl === 3): Uint8Array {
    const out = new Uint8Array(len);
    let i = 0;
    while (i < len) {
      const a = (lin + i) >>> 0;
      const n = Math.min(len - i, 4096 - (a & 0xfff));
      const g = this.translate(a, false, user);
      out.set(this.m.readMem(g + VMM_SIZE, n), i);
      i += n;
    }
    return out;
  }
  writeLin(lin: number, data: ArrayLike<number>, user = this.v.cpl === 3): void {
    // translate every page first: a fault leaves memory untouched
    const parts: [number, number, number][] = [];
    let i = 0;
    while (i < data.length) {
      const a = (lin + i) >>> 0;
      const n = Math.min(data.length - i, 4096 - (a & 0xfff));
      parts.push([this.translate(a, true, user), i, n]);
      i += n;
    }
    for (const [g, off, n] of parts) {
      const frame = g >>> 12;
      const prot = this.shadow.isProtected(frame);
      if (prot && !this.patcher.isCodeFrame(frame)) {
        // a page-table frame: write and drop exactly the derived shadow entries
        this.shadow.writeEntries(g, Uint8Array.from(Array.prototype.slice.call(data, off, off + n) as number[]));
        continue;
      }
      const snap = prot ? this.shadow.snapshot(frame) : null;
      this.m.writeMem(g + VMM_SIZE, Array.prototype.slice.call(data, off, off + n));
      if (snap) this.afterProtectedWrite(frame, snap);
    }
  }
  private afterProtectedWrite(frame: number, snap: Uint8Array): void {
    if (this.patcher.isCodeFrame(frame)) this.patcher.onWrite(frame, snap);
    this.shadow.commitWrite(frame, snap);
  }
  read32(lin: number, user = this.v.cpl === 3): number {
    lin >>>= 0;
    // within one page: one guest walk, read in place (no copy)
    if ((lin & 0xfff) <= 0xffc) return this.dv.getUint32(A.RAM_BASE + VMM_SIZE + this.translate(lin, false, user), true);
    const b = this.readLin(lin, 4, user);
    return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  }
  read16(lin: number, user = this.v.cpl === 3): number {
    lin >>>= 0;
    if ((lin & 0xfff) <= 0xffe) return this.dv.getUint16(A.RAM_BASE + VMM_SIZE + this.translate(lin, false, user), true);
    const b = this.readLin(lin, 2, user);
    return b[0] | (b[1] << 8);
  }
  /** do `len` guest-linear bytes at `lin` (supervisor reads) equal `bytes`? Compared in place. */
  private linEquals(lin: number, len: number, bytes: Uint8Array): boolean {
    if (bytes.length !== len) return false;
    const u8 = this.u8;
    let i = 0;
    while (i < len) {
      const a = (lin + i) >>> 0;
      const n = Math.min(len - i, 4096 - (a & 0xfff));
      const p = A.RAM_BASE + VMM_SIZE + this.translate(a, false, false);
      for (let k = 0; k < n; k++) if (u8[p + k] !== bytes[i + k]) return false;
      i += n;
    }
    return true;
  }
  write32(lin: number, v: number, user?: boolean): void { this.writeLin(lin, [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24], user); }
  write16(lin: number, v: number, user?: boolean): void { this.writeLin(lin, [v & 0xff, (v >>> 8) & 0xff], user); }

  // ---------------------------------------------------------------- registers and operands
  reg(i: number, size = 4): number {
    if (size === 4) return this.m.getReg(REG_NAMES[i]) >>> 0;
    if (size === 2) return this.m.getReg(REG_NAMES[i]) & 0xffff;
    return i < 4 ? this.m.getReg(REG_NAMES[i]) & 0xff : (this.m.getReg(REG_NAMES[i - 4]) >>> 8) & 0xff;
  }
  setRegSized(i: number, v: number, size = 4): void {
    if (size === 4) { this.m.setReg(REG_NAMES[i], v >>> 0); return; }
    if (size === 2) { const r = REG_NAMES[i]; this.m.setReg(r, ((this.m.getReg(r) & ~0xffff) | (v & 0xffff)) >>> 0); return; }
    if (i < 4) { const r = REG_NAMES[i]; this.m.setReg(r, ((this.m.getReg(r) & ~0xff) | (v & 0xff)) >>> 0); return; }
    const r = REG_NAMES[i - 4];
    this.m.setReg(r, ((this.m.getReg(r) & ~0xff00) | ((v & 0xff) << 8)) >>> 0);
  }
  segBase(i: number): number { return this.m.getSegment(SEG_NAMES[i]).base >>> 0; }
  /** linear address of a ModRM memory operand */
  lin(d: Insn): number {
    let ea = d.disp;
    if (d.base >= 0) ea += this.reg(d.base);
    if (d.index >= 0) ea += this.reg(d.index) * d.scale;
    ea = d.addrsize16 ? ea & 0xffff : ea >>> 0;
    const seg = d.seg >= 0 ? d.seg : (d.base === 4 || d.base === 5) ? SEG.ss : SEG.ds;
    return (this.segBase(seg) + ea) >>> 0;
  }
  rmRead(d: Insn, size: number): number {
    if (d.mod === 3) return this.reg(d.rm, size);
    const a = this.lin(d);
    return size === 4 ? this.read32(a) : size === 2 ? this.read16(a) : this.readLin(a, 1)[0];
  }
  rmWrite(d: Insn, size: number, v: number): void {
    if (d.mod === 3) { this.setRegSized(d.rm, v, size); return; }
    const a = this.lin(d);
    if (size === 4) this.write32(a, v); else if (size === 2) this.write16(a, v); else this.writeLin(a, [v & 0xff]);
  }
  private ssBase(): number { return this.segBase(SEG.ss); }
  push(v: number, size = 4): void {
    const sp = (this.m.esp - size) >>> 0;
    const a = (this.ssBase() + sp) >>> 0;
    if (size === 4) this.write32(a, v); else this.write16(a, v);
    this.m.esp = sp;
  }
  /** reads `n` stack slots of `size` from ESP without popping */
  peekStack(n: number, size: number, user = this.v.cpl === 3): number[] {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = (this.ssBase() + this.m.esp + i * size) >>> 0;
      out.push(size === 4 ? this.read32(a, user) : this.read16(a, user));
    }
    return out;
  }

  /** decodes the instruction at CS:EIP as the guest wrote it (patched bytes read as their originals) */
  fetchInsn(eip = this.m.eip): Insn {
    const base = this.segBase(SEG.cs);
    const user = this.v.cpl === 3;
    // one guest walk per page touched (not per byte): the A bits end up the same
    let page = -1, pageGpa = 0;
    return decode((i) => {
      const lin = (base + eip + i) >>> 0;
      if (lin >>> 12 !== page) { pageGpa = this.translate(lin, false, user) - (lin & 0xfff); page = lin >>> 12; }
      return this.patcher.origByte(pageGpa + (lin & 0xfff));
    }, eip);
  }

  // ---------------------------------------------------------------- descriptors
  /** the guest descriptor for `sel` from its GDT/LDT, or null if outside the table */
  desc(sel: number): { lo: number; hi: number; addr: number } | null {
    const t = sel & 4 ? (this.v.ldtr.attr & 0x80 ? { base: this.v.ldtr.base, limit: this.v.ldtr.limit } : null) : this.v.gdtr;
    if (!t) return null;
    const idx = sel & 0xfff8;
    if (idx + 7 > t.limit) return null;
    const addr = (t.base + idx) >>> 0;
    return { lo: this.read32(addr, false), hi: this.read32(addr + 4, false), addr };
  }
  static descAttr(hi: number): number { return (hi >>> 8) & 0xf0ff; }
  static descBase(lo: number, hi: number): number { return ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0; }
  static descLimit(lo: number, hi: number): number {
    const l = (lo & 0xffff) | (hi & 0xf0000);
    return hi & 0x800000 ? ((l * 4096) + 0xfff) >>> 0 : l;
  }
  private markAccessed(d: { hi: number; addr: number }): void {
    if (!(d.hi & 0x100)) { try { this.write32(d.addr + 4, d.hi | 0x100, false); } catch { /* a read-only table stays as is */ } }
  }
  /** Loads a segment register from a guest descriptor into the real machine (CS/SS: RPL and DPL forced to 3). */
  loadSegReal(name: SegName, sel: number, d: { lo: number; hi: number; addr: number } | null): void {
    if (!d) { this.m.setSegment(name, { selector: sel, base: 0, limit: 0, attr: 0 }); return; }
    this.markAccessed(d);
    let attr = Monitor.descAttr(d.hi | 0x100);
    let selector = sel;
    if (name === "cs" || name === "ss") { selector |= 3; attr |= 0x60; }
    this.m.setSegment(name, { selector, base: Monitor.descBase(d.lo, d.hi), limit: Monitor.descLimit(d.lo, d.hi), attr });
  }
  /** the virtual selector of CS/SS (the real one carries RPL 3) */
  vsel(name: "cs" | "ss"): number { return (this.m.getSegment(name).selector & ~3) | this.v.cpl; }

  /** Checked segment load (mov/pop to a data segment or SS) at the virtual CPL, as the CPU does it. */
  loadDataSeg(name: SegName, sel: number): void {
    sel &= 0xffff;
    const cpl = this.v.cpl, rpl = sel & 3;
    if ((sel & 0xfffc) === 0) {
      if (name === "ss") throw new GuestFault(A.VEC_GP, 0);
      this.loadSegReal(name, sel, null);
      return;
    }
    const d = this.desc(sel);
    if (!d) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    const attr = Monitor.descAttr(d.hi), dpl = (attr >> 5) & 3;
    if (name === "ss") {
      if (rpl !== cpl || !(attr & 0x10) || (attr & 8) || !(attr & 2) || dpl !== cpl) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
      if (!(attr & 0x80)) throw new GuestFault(A.VEC_SS, sel & 0xfffc);
    } else {
      if (!(attr & 0x10) || ((attr & 8) && !(attr & 2))) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
      if (!(attr & 8) || !(attr & 4)) { if (dpl < cpl || dpl < rpl) throw new GuestFault(A.VEC_GP, sel & 0xfffc); }
      if (!(attr & 0x80)) throw new GuestFault(A.VEC_NP, sel & 0xfffc);
    }
    this.loadSegReal(name, sel, d);
  }

  /** Checks a code segment for a far return / iret / far call to privilege `rpl`; returns the descriptor. */
  private codeDesc(sel: number, rpl: number, call: boolean): { lo: number; hi: number; addr: number } {
    if ((sel & 0xfffc) === 0) throw new GuestFault(A.VEC_GP, 0);
    const d = this.desc(sel);
    if (!d) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    const attr = Monitor.descAttr(d.hi), dpl = (attr >> 5) & 3;
    if ((attr & 0x18) !== 0x18) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    if (call) {
      if (attr & 4 ? dpl > this.v.cpl : (rpl > this.v.cpl || dpl !== this.v.cpl)) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    } else if (attr & 4 ? dpl > rpl : dpl !== rpl) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    if (!(attr & 0x80)) throw new GuestFault(A.VEC_NP, sel & 0xfffc);
    return d;
  }

  private setCpl(cpl: number): void {
    if (cpl === this.v.cpl) return;
    this.v.cpl = cpl;
    this.applyMode();
  }

  // ---------------------------------------------------------------- exits
  private count(map: Record<string, number>, k: string): void { map[k] = (map[k] ?? 0) + 1; }

  /** Handles one exit from the deprivileged guest. */
  handle(exit: Exit): HandleResult {
    if (exit.reason === "budget") return null;
    try {
      switch (exit.reason) {
        case "exception": {
          const vec = exit.vector!;
          if (vec === A.VEC_PF) { this.count(this.stats.exits, "#PF"); return this.pageFault(exit.errorCode ?? 0, this.m.getCr("cr2")); }
          if (vec === A.VEC_GP) return this.generalProtection(exit.errorCode ?? 0);
          this.count(this.stats.exits, `exception ${vec}`);
          this.deliver(vec, exit.errorCode, this.m.eip, false);
          return null;
        }
        case "softint": {
          const vec = exit.vector!;
          if (vec === 3) {
            let g = -1;
            try { g = this.translate((this.segBase(SEG.cs) + exit.eip) >>> 0, false, this.v.cpl === 3); } catch { /* not ours */ }
            const p = g >= 0 ? this.patcher.patches.get(g) : undefined;
            if (p) {
              this.count(this.stats.exits, `patched ${p.kind}`);
              this.m.eip = exit.eip;
              return this.emulatePatched();
            }
          }
          this.count(this.stats.exits, vec === 0x80 ? "int 0x80" : `int ${hex(vec)}`);
          this.deliver(vec, undefined, this.m.eip, true, undefined, false, exit.eip);
          return null;
        }
        case "shutdown":
          return { stop: "shutdown", message: `triple fault (CPU shutdown) at eip ${hex(exit.eip)}` };
        default:
          return { stop: "internal-error", message: `full mode: unexpected ${exit.reason} exit at eip ${hex(exit.eip)}` };
      }
    } catch (e) {
      if (e instanceof GuestFault) {
        // a fault while emulating: the instruction did not complete (EIP still at it). Delivering it may itself
        // end in a triple fault or reach past guest RAM: that is a stop, never a host exception.
        try {
          this.deliver(e.vector, e.error, this.m.eip, false, e.cr2);
        } catch (e2) {
          if (e2 instanceof FatalGuest || e2 instanceof GuestRangeError) return { stop: "shutdown", message: `full mode: ${e2.message}` };
          throw e2;
        }
        return null;
      }
      if (e instanceof FatalGuest || e instanceof GuestRangeError) return { stop: "shutdown", message: `full mode: ${e.message}` };
      throw e;
    }
  }

  // ---------------------------------------------------------------- page faults
  private pageFault(err: number, cr2: number): HandleResult {
    cr2 >>>= 0;
    const user = this.v.cpl === 3, write = !!(err & 2);
    const pg = this.paging();
    if (cr2 >>> 22 === 1023) {
      const w = this.shadow.walk(pg, cr2, write, user, false);
      if (w.ok) throw new FatalGuest(`the guest uses ${hex(cr2)}, inside the VMM-reserved linear region ${hex(VMM_LINEAR)}-0xffffffff (relocate the guest's mapping)`);
      this.shadow.stats.trueFaults++;
      throw new GuestFault(A.VEC_PF, w.err, cr2);
    }
    const w = this.shadow.walk(pg, cr2, write, user, true);
    if (!w.ok) {
      this.shadow.stats.trueFaults++;
      throw new GuestFault(A.VEC_PF, w.err, cr2);
    }
    this.shadow.stats.hiddenFaults++;
    if (this.shadow.fill(cr2, w, write)) return null;
    return this.protectedWrite(cr2, w.gpa);
  }

  /**
   * A write the guest may do to a frame the VMM protects. Page-table frames: the faulting store is decoded and
   * emulated against guest memory (through the guest's mapping), and exactly the shadow entries derived from the
   * guest entries it changed are dropped (ShadowMmu.writeEntries). Forms not decoded here, translated-code frames
   * and TF=1 fall back to single-stepping the instruction with the page opened, then diffing the frame.
   */
  private protectedWrite(lin: number, gpa: number): HandleResult {
    this.count(this.stats.exits, "protected write");
    const frame = gpa >>> 12;
    if (!this.patcher.isCodeFrame(frame) && !(this.m.eflags & A.FLAG_TF)) {
      let d: Insn | null = null;
      try { d = this.fetchInsn(); } catch (e) { if (!(e instanceof DecodeError || e instanceof GuestFault)) throw e; }
      if (d && this.emulatePtWrite(d, lin)) {
        this.shadow.stats.ptWritesEmulated++;
        return null;
      }
    }
    this.shadow.stats.ptWritesStepped++;
    this.count(this.stats.emulated, "pt-write single-stepped");
    const snap = this.shadow.snapshot(frame);
    const old = this.shadow.mapTemporarilyWritable(lin, gpa);
    const e = this.m.run(1);
    this.shadow.restoreSpte(lin, old);
    this.afterProtectedWrite(frame, snap);
    return e.reason === "budget" ? null : this.handle(e);
  }

  /**
   * Emulates a store that faulted on a write-protected guest page table: mov r/m,r / r/m,imm / moffs,acc;
   * and/or/xor r/m,r / r/m,imm; xchg; cmpxchg; bt[src] r/m,r / r/m,imm8; (rep) stos — 8/16/32-bit, its memory
   * operand inside the faulting page. Returns false (nothing changed) for anything else. A guest fault while
   * emulating propagates (GuestFault) with nothing written and EIP at the instruction, as the CPU would.
   */
  private emulatePtWrite(d: Insn, lin: number): boolean {
    const op = d.op;
    const osz = d.opsize16 ? 2 : 4;
    let size = osz;
    let kind: "mov" | "or" | "and" | "xor" | "xchg" | "cmpxchg" | "bts" | "btr" | "btc" | "stos";
    let src = 0;
    switch (op) {
      case 0x88: case 0x89: kind = "mov"; size = op & 1 ? osz : 1; src = this.reg(d.reg, size); break;
      case 0xc6: case 0xc7: if (d.reg !== 0) return false; kind = "mov"; size = op & 1 ? osz : 1; src = d.imm; break;
      case 0xa2: case 0xa3: kind = "mov"; size = op & 1 ? osz : 1; src = this.reg(0, size); break;
      case 0x08: case 0x09: kind = "or"; size = op & 1 ? osz : 1; src = this.reg(d.reg, size); break;
      case 0x20: case 0x21: kind = "and"; size = op & 1 ? osz : 1; src = this.reg(d.reg, size); break;
      case 0x30: case 0x31: kind = "xor"; size = op & 1 ? osz : 1; src = this.reg(d.reg, size); break;
      case 0x80: case 0x81: case 0x83: {
        const k = ([null, "or", null, null, "and", null, "xor", null] as const)[d.reg];
        if (!k) return false;
        kind = k; size = op === 0x80 ? 1 : osz;
        src = op === 0x83 ? ((d.imm << 24) >> 24) >>> 0 : d.imm;
        break;
      }
      case 0x86: case 0x87: kind = "xchg"; size = op & 1 ? osz : 1; src = this.reg(d.reg, size); break;
      case 0x0fb0: case 0x0fb1: kind = "cmpxchg"; size = op & 1 ? osz : 1; src = this.reg(d.reg, size); break;
      case 0x0fab: kind = "bts"; src = this.reg(d.reg, osz); break;
      case 0x0fb3: kind = "btr"; src = this.reg(d.reg, osz); break;
      case 0x0fbb: kind = "btc"; src = this.reg(d.reg, osz); break;
      case 0x0fba: {
        const k = ([null, null, null, null, null, "bts", "btr", "btc"] as const)[d.reg];
        if (!k) return false;
        kind = k; src = d.imm & (osz * 8 - 1);
        break;
      }
      case 0xaa: case 0xab: kind = "stos"; size = op & 1 ? osz : 1; break;
      default: return false;
    }
    if (d.rep && kind !== "stos") return false;
    const mask = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    src = (src & mask) >>> 0;
    const user = this.v.cpl === 3;
    const page = lin >>> 12;
    const inPage = (a: number, n: number) => a >>> 12 === page && (a & 0xfff) + n <= 4096;

    if (kind === "stos") {
      if (d.addrsize16) return false;
      const down = (this.m.eflags & A.FLAG_DF) !== 0;
      let count = d.rep ? this.reg(1) : 1;
      if (count === 0) return false;
      const di = this.reg(7);
      const a = (this.segBase(SEG.es) + di) >>> 0;
      if (!inPage(a, size)) return false;
      // as many elements as stay inside this page (the rest run natively / fault again on the next page)
      const room = down ? Math.floor((a & 0xfff) / size) + 1 : Math.floor((4096 - (a & 0xfff)) / size);
      const n = Math.min(count, room);
      const lo = down ? (a - (n - 1) * size) >>> 0 : a;
      const gpa = this.translate(lo, true, user);
      if (this.patcher.isCodeFrame(gpa >>> 12)) return false;
      const val = this.reg(0, size);
      const bytes = new Uint8Array(n * size);
      for (let i = 0; i < n * size; i++) bytes[i] = (val >>> (8 * (i % size))) & 0xff;
      this.shadow.writeEntries(gpa, bytes);
      this.m.edi = (di + (down ? -n : n) * size) >>> 0;
      count -= n;
      if (d.rep) this.m.ecx = count >>> 0;
      if (count === 0) this.done(d, "pt-write emulated");
      else { this.count(this.stats.emulated, "pt-write emulated"); this.stats.emulatedInstructions++; }
      return true;
    }

    if (d.mod === 3 && op !== 0xa2 && op !== 0xa3) return false;
    let a: number;
    if (op === 0xa2 || op === 0xa3) {
      const off = d.addrsize16 ? d.imm & 0xffff : d.imm;
      a = (this.segBase(d.seg >= 0 ? d.seg : SEG.ds) + off) >>> 0;
    } else a = this.lin(d);
    let bit = 0;
    if (kind === "bts" || kind === "btr" || kind === "btc") {
      if (op === 0x0fba) bit = src;
      else {
        // register bit offset: a signed index into a bit string starting at the operand
        const sbits = osz === 4 ? src | 0 : (src << 16) >> 16;
        a = (a + Math.floor(sbits / (osz * 8)) * osz) >>> 0;
        bit = sbits & (osz * 8 - 1);
      }
    }
    if (!inPage(a, size)) return false;
    const gpa = this.translate(a, true, user);
    if (this.patcher.isCodeFrame(gpa >>> 12)) return false;
    const mpa = gpa + VMM_SIZE;
    const old = (size === 4 ? this.m.read32(mpa) : size === 2 ? this.m.read16(mpa) : this.m.read8(mpa)) >>> 0;
    let val = old;
    const topBit = size * 8 - 1;
    let fl = this.m.eflags;
    const logicFlags = (r: number) => {
      fl &= ~(A.FLAG_CF | A.FLAG_OF | A.FLAG_SF | A.FLAG_ZF | A.FLAG_PF | A.FLAG_AF);
      if (r === 0) fl |= A.FLAG_ZF;
      if ((r >>> topBit) & 1) fl |= A.FLAG_SF;
      if (parity(r)) fl |= A.FLAG_PF;
    };
    let regOut: [number, number] | null = null;
    switch (kind) {
      case "mov": val = src; break;
      case "or": val = (old | src) >>> 0; logicFlags(val); break;
      case "and": val = (old & src) >>> 0; logicFlags(val); break;
      case "xor": val = (old ^ src) >>> 0; logicFlags(val); break;
      case "xchg": val = src; regOut = [d.reg, old]; break;
      case "cmpxchg": {
        const acc = this.reg(0, size);
        const r = (acc - old) & mask;
        fl &= ~(A.FLAG_CF | A.FLAG_OF | A.FLAG_SF | A.FLAG_ZF | A.FLAG_PF | A.FLAG_AF);
        if (acc < old) fl |= A.FLAG_CF;
        if (r === 0) fl |= A.FLAG_ZF;
        if ((r >>> topBit) & 1) fl |= A.FLAG_SF;
        if ((((acc ^ old) & (acc ^ r)) >>> topBit) & 1) fl |= A.FLAG_OF;
        if ((acc ^ old ^ r) & 0x10) fl |= A.FLAG_AF;
        if (parity(r)) fl |= A.FLAG_PF;
        if (acc === old) val = src; else regOut = [0, old]; // the CPU writes the old value back (no change)
        break;
      }
      default: {
        const m = (1 << bit) >>> 0;
        fl = (old & m) ? fl | A.FLAG_CF : fl & ~A.FLAG_CF;
        val = (kind === "bts" ? old | m : kind === "btr" ? old & ~m : old ^ m) >>> 0;
      }
    }
    val = (val & mask) >>> 0;
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = (val >>> (8 * i)) & 0xff;
    this.shadow.writeEntries(gpa, bytes);
    if (regOut) this.setRegSized(regOut[0], regOut[1], size);
    this.m.eflags = fl >>> 0;
    this.done(d, "pt-write emulated");
    return true;
  }

  // ---------------------------------------------------------------- #GP: privileged instructions
  private generalProtection(err: number): HandleResult {
    let d: Insn | null = null;
    try { d = this.fetchInsn(); } catch (e) { if (!(e instanceof DecodeError)) throw e; }
    this.fusedFault = null;
    const name = d ? this.privileged(d) : null;
    if (name === null) {
      this.count(this.stats.exits, "#GP reflected");
      this.deliver(A.VEC_GP, err, this.m.eip, false);
      return null;
    }
    this.count(this.stats.exits, name);
    if (this.fusedFault) { const f = this.fusedFault; this.fusedFault = null; throw f; }
    return this.lastResult;
  }
  /** a guest fault raised by an instruction emulated in the same exit as the one that trapped (at its EIP) */
  private fusedFault: GuestFault | null = null;

  /**
   * Segment-register reloads come in runs (a trap entry loads DS, ES, FS and GS with the kernel data selector
   * one after another): after a trapped `mov sreg` is emulated, the directly following `mov ds/es/fs/gs, r/m16`
   * are emulated in the same exit, each with the full checks at the virtual CPL against the guest's own
   * descriptor (exactly what the trapping path does for each, so nothing the guest can observe changes: a
   * fault on one is raised at its EIP after the earlier ones completed, as the CPU would). One exit instead of
   * four per kernel entry. Interrupts are only ever injected between exits, so none is held back longer than
   * a few instructions; not with TF set (each instruction must trap).
   */
  private fuseSegLoads(): void {
    const names: SegName[] = ["es", "cs", "ss", "ds", "fs", "gs"];
    for (let n = 0; n < 5; n++) {
      if (this.m.eflags & A.FLAG_TF) return;
      let d: Insn;
      try { d = this.fetchInsn(); } catch { return; }
      if (d.op !== 0x8e || d.rep || d.lock || d.reg === 1 || d.reg === 2 || d.reg > 5) return;
      try {
        this.loadDataSeg(names[d.reg], this.rmRead(d, 2));
      } catch (e) {
        if (e instanceof GuestFault) { this.fusedFault = e; return; }
        throw e;
      }
      this.done(d, `mov ${names[d.reg]} (fused)`);
    }
  }
  private lastResult: HandleResult = null;

  private done(d: Insn, name: string): string {
    this.m.eip = (d.addr + d.len) >>> 0;
    this.count(this.stats.emulated, name);
    this.stats.emulatedInstructions++;
    return name;
  }
  private needCpl0(): void { if (this.v.cpl !== 0) throw new GuestFault(A.VEC_GP, 0); }

  private ioAllowed(port: number, size: number): boolean {
    if (this.v.cpl <= this.v.iopl) return true;
    const tr = this.v.tr;
    const type = tr.attr & 0x1f;
    if (!(tr.attr & 0x80) || (type !== 0x09 && type !== 0x0b) || tr.limit < 0x67) return false;
    const mapBase = this.read16(tr.base + 0x66, false);
    const off = mapBase + (port >> 3);
    if (off + 1 > tr.limit) return false;
    const bits = this.read16(tr.base + off, false);
    return (bits & (((1 << size) - 1) << (port & 7))) === 0;
  }

  /** Emulates a privileged instruction that trapped with #GP; returns its name, or null if not one (reflect). */
  private privileged(d: Insn): string | null {
    this.lastResult = null;
    const v = this.v;
    const osz = d.opsize16 ? 2 : 4;
    switch (d.op) {
      case 0xfa: case 0xfb:
        if (v.cpl > v.iopl) return null;
        if (d.op === 0xfb && !v.vif) this.stiShadow = true;
        v.vif = d.op === 0xfb;
        return this.done(d, d.op === 0xfa ? "cli" : "sti");
      case 0xf4:
        this.needCpl0();
        this.done(d, "hlt");
        if (!v.vif) { this.lastResult = { stop: "halted", message: `guest halted with interrupts disabled (hlt at eip ${hex(d.addr)})` }; return "hlt"; }
        this.lastResult = { hlt: true };
        return "hlt";
      case 0xe4: case 0xe5: case 0xec: case 0xed: {
        const size = (d.op & 1 ? osz : 1) as 1 | 2 | 4;
        const port = d.op < 0xe8 ? d.imm & 0xff : this.reg(2, 2);
        if (!this.ioAllowed(port, size)) return null;
        this.setRegSized(0, this.io.ioRead(port, size), size);
        return this.done(d, "in");
      }
      case 0xe6: case 0xe7: case 0xee: case 0xef: {
        const size = (d.op & 1 ? osz : 1) as 1 | 2 | 4;
        const port = d.op < 0xe8 ? d.imm & 0xff : this.reg(2, 2);
        if (!this.ioAllowed(port, size)) return null;
        this.io.ioWrite(port, size, this.reg(0, size));
        return this.done(d, "out");
      }
      case 0x6c: case 0x6d: case 0x6e: case 0x6f: {
        const size = (d.op & 1 ? osz : 1) as 1 | 2 | 4;
        const port = this.reg(2, 2);
        if (!this.ioAllowed(port, size)) return null;
        const isIn = d.op < 0x6e;
        const step = this.m.eflags & A.FLAG_DF ? -size : size;
        const amask = d.addrsize16 ? 0xffff : 0xffffffff;
        let count = d.rep ? this.reg(1, d.addrsize16 ? 2 : 4) : 1;
        while (count > 0) {
          if (isIn) {
            const di = this.reg(7) & amask;
            const a = (this.segBase(SEG.es) + di) >>> 0;
            // translate first so a fault leaves the port unread
            this.translate(a, true, v.cpl === 3);
            const val = this.io.ioRead(port, size);
            this.writeLin(a, [val & 0xff, (val >>> 8) & 0xff, (val >>> 16) & 0xff, val >>> 24].slice(0, size));
            this.setRegSized(7, (di + step) & amask, d.addrsize16 ? 2 : 4);
          } else {
            const si = this.reg(6) & amask;
            const a = (this.segBase(d.seg >= 0 ? d.seg : SEG.ds) + si) >>> 0;
            const b = this.readLin(a, size);
            this.io.ioWrite(port, size, (b[0] | ((b[1] ?? 0) << 8) | ((b[2] ?? 0) << 16) | ((b[3] ?? 0) << 24)) >>> 0);
            this.setRegSized(6, (si + step) & amask, d.addrsize16 ? 2 : 4);
          }
          count--;
          if (d.rep) this.setRegSized(1, count, d.addrsize16 ? 2 : 4);
        }
        return this.done(d, isIn ? "ins" : "outs");
      }
      case 0x0f01: {
        if (d.mod === 3) {
          if (d.reg === 6) { this.needCpl0(); this.lmsw(this.reg(d.rm, 2)); return this.done(d, "lmsw"); }
          return null;
        }
        if (d.reg === 2 || d.reg === 3) {
          this.needCpl0();
          const a = this.lin(d);
          const limit = this.read16(a);
          let base = this.read32(a + 2);
          if (d.opsize16) base &= 0xffffff;
          if (d.reg === 2) { v.gdtr = { base, limit }; this.syncTables(); return this.done(d, "lgdt"); }
          v.idtr = { base, limit };
          return this.done(d, "lidt");
        }
        if (d.reg === 7) { this.needCpl0(); this.shadow.invlpg(this.lin(d)); return this.done(d, "invlpg"); }
        if (d.reg === 6) { this.needCpl0(); this.lmsw(this.rmRead(d, 2)); return this.done(d, "lmsw"); }
        return null;
      }
      case 0x0f00: {
        if (d.reg !== 2 && d.reg !== 3) return null;
        this.needCpl0();
        const sel = this.rmRead(d, 2);
        if (d.reg === 2) { this.lldt(sel); return this.done(d, "lldt"); }
        this.ltr(sel);
        return this.done(d, "ltr");
      }
      case 0x0f20: case 0x0f22: {
        this.needCpl0();
        if (d.op === 0x0f20) {
          const val = [v.cr0, 0, v.cr2, v.cr3, v.cr4][d.reg];
          if (d.reg === 1 || d.reg > 4) throw new GuestFault(A.VEC_UD);
          this.setRegSized(d.rm, val);
          return this.done(d, `mov from cr${d.reg}`);
        }
        this.movToCr(d.reg, this.reg(d.rm));
        return this.done(d, `mov to cr${d.reg}`);
      }
      case 0x0f21: case 0x0f23: {
        this.needCpl0();
        const n = d.reg === 4 ? 6 : d.reg === 5 ? 7 : d.reg;
        // the debug registers live in the real state block, where the CPU arms them (assembly/debug.ts);
        // DR7.GD: the access is a #DB fault with DR6.BD, and GD is cleared (SDM 17.2.4)
        const dr7 = this.m.getDr(7);
        if (dr7 & 0x2000) { this.m.setDr(7, dr7 & ~0x2000); this.m.setDr(6, this.m.getDr(6) | 0x2000); throw new GuestFault(A.VEC_DB); }
        if (d.op === 0x0f21) { this.setRegSized(d.rm, this.m.getDr(n)); return this.done(d, "mov from dr"); }
        let val = this.reg(d.rm);
        if (n === 6) val = ((val & 0xe00f) | 0xffff0ff0) >>> 0; // fixed bits, as the CPU's MOV DR6/DR7
        if (n === 7) val = ((val & 0xffff2bff) | 0x400) >>> 0;
        this.m.setDr(n, val);
        return this.done(d, "mov to dr");
      }
      case 0x0f06: this.needCpl0(); v.cr0 = (v.cr0 & ~A.CR0_TS) >>> 0; this.applyCr0(); return this.done(d, "clts");
      case 0x0f08: case 0x0f09: this.needCpl0(); return this.done(d, "wbinvd");
      case 0x0f30: this.needCpl0(); throw new GuestFault(A.VEC_GP, 0); // no writable MSR
      case 0x0f32: {
        this.needCpl0();
        if (this.reg(1) !== 0x10) throw new GuestFault(A.VEC_GP, 0);
        const t = this.m.instructions;
        this.setRegSized(0, t >>> 0); this.setRegSized(2, Math.floor(t / 2 ** 32));
        return this.done(d, "rdmsr");
      }
      case 0x0f31: {
        this.needCpl0();
        const t = this.m.instructions;
        this.setRegSized(0, t >>> 0); this.setRegSized(2, Math.floor(t / 2 ** 32));
        return this.done(d, "rdtsc");
      }
      case 0x8e: case 0x17: case 0x0fb2: {
        // a segment load that faulted: maybe the real table was stale; else the SS RPL rule at virtual CPL 0
        if (this.syncTables()) { this.count(this.stats.emulated, "gdt resync"); return "gdt resync"; }
        if (d.op === 0x8e) {
          const names: SegName[] = ["es", "cs", "ss", "ds", "fs", "gs"];
          if (d.reg === 1 || d.reg > 5) return null;
          this.loadDataSeg(names[d.reg], this.rmRead(d, 2));
          const r = this.done(d, `mov ${names[d.reg]}`);
          if (d.reg !== 2) this.fuseSegLoads();
          return r;
        }
        if (d.op === 0x17) {
          const [sel] = this.peekStack(1, osz);
          this.loadDataSeg("ss", sel & 0xffff);
          this.m.esp = (this.m.esp + osz) >>> 0;
          return this.done(d, "pop ss");
        }
        const a = this.lin(d);
        const off = osz === 4 ? this.read32(a) : this.read16(a);
        const sel = this.read16(a + osz);
        this.loadDataSeg("ss", sel);
        this.setRegSized(d.reg, off, osz);
        return this.done(d, "lss");
      }
      case 0xc4: case 0xc5: case 0x0fb4: case 0x0fb5: {
        // far-pointer loads into ES/DS/FS/GS that trapped (a DPL < 3 descriptor at real CPL 3)
        if (d.mod === 3) return null;
        if (this.syncTables()) { this.count(this.stats.emulated, "gdt resync"); return "gdt resync"; }
        if (v.cpl === 3) return null;
        const name: SegName = d.op === 0xc4 ? "es" : d.op === 0xc5 ? "ds" : d.op === 0x0fb4 ? "fs" : "gs";
        const a = this.lin(d);
        const off = osz === 4 ? this.read32(a) : this.read16(a);
        const sel = this.read16(a + osz);
        this.loadDataSeg(name, sel);
        this.setRegSized(d.reg, off, osz);
        return this.done(d, `l${name}`);
      }
      case 0x1f: case 0x07: case 0x0fa1: case 0x0fa9: {
        if (this.syncTables()) { this.count(this.stats.emulated, "gdt resync"); return "gdt resync"; }
        if (v.cpl === 3) return null;
        const name: SegName = d.op === 0x1f ? "ds" : d.op === 0x07 ? "es" : d.op === 0x0fa1 ? "fs" : "gs";
        const [sel] = this.peekStack(1, osz);
        this.loadDataSeg(name, sel & 0xffff);
        this.m.esp = (this.m.esp + osz) >>> 0;
        return this.done(d, `pop ${name}`);
      }
      case 0xea: case 0xff: {
        // far jmp to a kernel code segment (DPL < 3 in the real GDT): same privilege only
        if (d.op === 0xff && (d.reg !== 5 || d.mod === 3)) return null;
        if (v.cpl === 3) return null;
        let off: number, sel: number;
        if (d.op === 0xea) { off = d.imm; sel = d.imm2; } else {
          const a = this.lin(d);
          off = osz === 4 ? this.read32(a) : this.read16(a);
          sel = this.read16(a + osz);
        }
        const g = (sel & 0xfffc) ? this.desc(sel) : null;
        if (g && !(g.hi & 0x1000)) return null; // TSS / gates: the CPU's own checks already ran (DPL 3 copy)
        const desc = this.codeDesc(sel, sel & 3, true);
        this.loadSegReal("cs", (sel & ~3) | v.cpl, desc);
        this.count(this.stats.emulated, "ljmp");
        this.stats.emulatedInstructions++;
        this.m.eip = off;
        return "ljmp";
      }
    }
    return null;
  }

  private lmsw(src: number): void {
    const v = this.v;
    v.cr0 = ((v.cr0 & ~0xe) | (src & 0xf) | (v.cr0 & 1)) >>> 0;
    this.applyCr0();
  }

  private movToCr(n: number, val: number): void {
    const v = this.v;
    val >>>= 0;
    switch (n) {
      case 0: {
        if ((val & A.CR0_PG) && !(val & A.CR0_PE)) throw new GuestFault(A.VEC_GP, 0);
        if ((val & A.CR0_NW) && !(val & A.CR0_CD)) throw new GuestFault(A.VEC_GP, 0);
        if (!(val & A.CR0_PE)) throw new FatalGuest("the guest left protected mode (CR0.PE=0): real mode is not supported");
        const old = v.cr0;
        v.cr0 = (val | A.CR0_ET) >>> 0;
        if ((old ^ v.cr0) & (A.CR0_PG | A.CR0_WP)) { this.shadow.flushAll(); }
        this.applyCr0();
        this.applyMode();
        return;
      }
      case 2:
        v.cr2 = val;
        return;
      case 3:
        v.cr3 = val;
        this.applyMode();
        return;
      case 4: {
        if (val & ~0x1ff & ~0x600) throw new GuestFault(A.VEC_GP, 0);
        const old = v.cr4;
        v.cr4 = val;
        if ((old ^ val) & (A.CR4_PSE | A.CR4_PGE)) { this.shadow.flushAll(); this.applyMode(); }
        this.applyCr0();
        return;
      }
      default:
        throw new GuestFault(A.VEC_UD);
    }
  }

  private lldt(sel: number): void {
    if ((sel & 0xfffc) === 0) { this.v.ldtr = { sel, base: 0, limit: 0, attr: 0 }; this.syncTables(); return; }
    if (sel & 4) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    const d = this.desc(sel);
    if (!d) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    const attr = Monitor.descAttr(d.hi);
    if ((attr & 0x1f) !== 0x02) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    if (!(attr & 0x80)) throw new GuestFault(A.VEC_NP, sel & 0xfffc);
    this.v.ldtr = { sel, base: Monitor.descBase(d.lo, d.hi), limit: Monitor.descLimit(d.lo, d.hi), attr };
    this.syncTables();
  }
  private ltr(sel: number): void {
    if ((sel & 0xfffc) === 0) throw new GuestFault(A.VEC_GP, 0);
    if (sel & 4) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    const d = this.desc(sel);
    if (!d) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    const attr = Monitor.descAttr(d.hi);
    const t = attr & 0x1f;
    if (t !== 0x09 && t !== 0x01) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    if (!(attr & 0x80)) throw new GuestFault(A.VEC_NP, sel & 0xfffc);
    this.write32(d.addr + 4, d.hi | 0x200, false);
    this.v.tr = { sel, base: Monitor.descBase(d.lo, d.hi), limit: Monitor.descLimit(d.lo, d.hi), attr: attr | 2 };
    this.syncTables();
  }

  // ---------------------------------------------------------------- patched (sensitive) instructions
  private emulatePatched(): HandleResult {
    const d = this.fetchInsn();
    const v = this.v;
    const osz = d.opsize16 ? 2 : 4;
    const setZf = (on: boolean) => { this.m.eflags = on ? this.m.eflags | A.FLAG_ZF : this.m.eflags & ~A.FLAG_ZF; };
    switch (d.op) {
      case 0x9c:
        this.push(this.guestFlags() & ~(A.FLAG_VM | A.FLAG_RF) & (osz === 2 ? 0xffff : 0xffffffff), osz);
        this.done(d, "pushf");
        this.fuseIrqSave();
        return null;
      case 0x9d: {
        const [val] = this.peekStack(1, osz);
        this.m.esp = (this.m.esp + osz) >>> 0;
        this.applyFlags(val, osz, v.cpl, false);
        this.done(d, "popf"); return null;
      }
      case 0xcf: this.farReturn(d, true, 0); return null;
      case 0xcb: this.farReturn(d, false, 0); return null;
      case 0xca: this.farReturn(d, false, d.imm & 0xffff); return null;
      case 0x9a: case 0xff: {
        let off: number, sel: number;
        if (d.op === 0x9a) { off = d.imm; sel = d.imm2; } else {
          if (d.mod === 3) throw new GuestFault(A.VEC_UD);
          const a = this.lin(d);
          off = osz === 4 ? this.read32(a) : this.read16(a);
          sel = this.read16(a + osz);
        }
        const next = (d.addr + d.len) >>> 0;
        if ((sel & 0xfffc) !== 0) {
          const g = this.desc(sel);
          if (g && !(g.hi & 0x1000) && (((g.hi >>> 8) & 0x1f) === 0x0c)) { this.callGate(d, sel, g, next); return null; }
        }
        const desc = this.codeDesc(sel, sel & 3, true);
        this.push(this.vsel("cs"), osz);
        this.push(next, osz);
        this.loadSegReal("cs", (sel & ~3) | v.cpl, desc);
        this.count(this.stats.emulated, "lcall");
        this.stats.emulatedInstructions++;
        this.m.eip = off;
        return null;
      }
      case 0x0e: this.push(this.vsel("cs"), osz); this.done(d, "push cs"); return null;
      case 0x16: this.push(this.vsel("ss"), osz); this.done(d, "push ss"); return null;
      case 0x8c: {
        const sel = this.vsel(d.reg === 1 ? "cs" : "ss");
        if (d.mod === 3) this.setRegSized(d.rm, sel, osz); else this.rmWrite(d, 2, sel);
        this.done(d, "mov from cs/ss"); return null;
      }
      case 0x0f01: {
        if (d.reg === 4) {
          if (d.mod === 3) this.setRegSized(d.rm, v.cr0, osz); else this.rmWrite(d, 2, v.cr0 & 0xffff);
          this.done(d, "smsw"); return null;
        }
        const t = d.reg === 0 ? v.gdtr : v.idtr;
        const a = this.lin(d);
        this.writeLin(a, [t.limit & 0xff, t.limit >> 8, t.base & 0xff, (t.base >>> 8) & 0xff, (t.base >>> 16) & 0xff, t.base >>> 24]);
        this.done(d, d.reg === 0 ? "sgdt" : "sidt"); return null;
      }
      case 0x0f00: {
        if (d.reg === 0 || d.reg === 1) {
          const sel = d.reg === 0 ? v.ldtr.sel : v.tr.sel;
          if (d.mod === 3) this.setRegSized(d.rm, sel & 0xffff, osz); else this.rmWrite(d, 2, sel);
          this.done(d, d.reg === 0 ? "sldt" : "str"); return null;
        }
        const sel = this.rmRead(d, 2);
        setZf(this.verx(sel, d.reg === 5));
        this.done(d, d.reg === 4 ? "verr" : "verw"); return null;
      }
      case 0x0f02: case 0x0f03: {
        const isLsl = d.op === 0x0f03;
        const sel = this.rmRead(d, 2);
        let ok = false, val = 0;
        if ((sel & 0xfffc) !== 0) {
          const de = this.desc(sel);
          if (de) {
            const attr = Monitor.descAttr(de.hi), dpl = (attr >> 5) & 3;
            const conf = (attr & 0x1c) === 0x1c;
            const t = attr & 0xf;
            const typeOk = attr & 0x10 ? true : isLsl ? [1, 2, 3, 9, 11].includes(t) : [1, 2, 3, 4, 5, 9, 11, 12].includes(t);
            ok = typeOk && (conf || (dpl >= v.cpl && dpl >= (sel & 3)));
            val = isLsl ? Monitor.descLimit(de.lo, de.hi) : (de.hi & 0x00f0ff00) >>> 0;
          }
        }
        if (ok) this.setRegSized(d.reg, val, osz);
        setZf(ok);
        this.done(d, isLsl ? "lsl" : "lar"); return null;
      }
    }
    if (d.op === 0x8e || d.op === 0x17 || d.op === 0x0fb2) {
      if (this.privileged(d) === null) throw new GuestFault(A.VEC_GP, 0);
      return null;
    }
    throw new FatalGuest(`patched instruction at ${hex(d.addr)} (opcode ${hex(d.op)}) has no emulation`);
  }

  /**
   * The irq_save idiom `pushf ; pop r32 ; cli` costs three exits (pushf is patched, cli traps). After an emulated
   * pushf with the virtual IF already clear, the following `pop r32` and `cli` are emulated in the same exit:
   * with IF=0 nothing could be delivered between them natively either, so interrupt timing is unchanged. Only on a
   * flat expand-up SS (so the pop can raise nothing but the guest's #PF, at the pop's EIP, as the CPU would) and
   * without TF. (The kit kernel's boot frees every page of RAM this way with interrupts off: 16 K exits fewer.)
   */
  private fuseIrqSave(): void {
    const v = this.v;
    if (v.vif || this.m.eflags & A.FLAG_TF) return;
    const ss = this.m.getSegment("ss");
    if (ss.base !== 0 || (ss.limit >>> 0) !== 0xffffffff || (ss.attr & 0x0c) !== 0) return;
    for (let n = 0; n < 2; n++) {
      let d: Insn;
      try { d = this.fetchInsn(); } catch { return; }
      if (d.opsize16 || d.addrsize16 || d.rep || d.lock || d.seg >= 0) return;
      if (n === 0 && d.op >= 0x58 && d.op <= 0x5f) {
        const [val] = this.peekStack(1, 4);
        this.m.esp = (this.m.esp + 4) >>> 0;
        this.setRegSized(d.op - 0x58, val);
        this.done(d, "pop (fused)");
      } else if (d.op === 0xfa && v.cpl <= v.iopl) {
        this.done(d, "cli (fused)");
        return;
      } else return;
    }
  }

  /** CALL through a 32-bit call gate (same privilege, or inward with the TSS stack and copied parameters). */
  private callGate(d: Insn, sel: number, g: { lo: number; hi: number }, next: number): void {
    const v = this.v;
    const gdpl = (g.hi >>> 13) & 3;
    if (gdpl < v.cpl || gdpl < (sel & 3)) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    if (!(g.hi & 0x8000)) throw new GuestFault(A.VEC_NP, sel & 0xfffc);
    const tsel = g.lo >>> 16, off = ((g.lo & 0xffff) | (g.hi & 0xffff0000)) >>> 0, params = g.hi & 0x1f;
    if ((tsel & 0xfffc) === 0) throw new GuestFault(A.VEC_GP, 0);
    const td = this.desc(tsel);
    if (!td) throw new GuestFault(A.VEC_GP, tsel & 0xfffc);
    const tattr = Monitor.descAttr(td.hi), tdpl = (tattr >> 5) & 3;
    if ((tattr & 0x18) !== 0x18 || tdpl > v.cpl) throw new GuestFault(A.VEC_GP, tsel & 0xfffc);
    if (!(tattr & 0x80)) throw new GuestFault(A.VEC_NP, tsel & 0xfffc);
    const oldCs = this.vsel("cs");
    if (!(tattr & 4) && tdpl < v.cpl) {
      const tr = v.tr;
      const nesp = this.read32(tr.base + 4 + tdpl * 8, false);
      const nss = this.read32(tr.base + 8 + tdpl * 8, false) & 0xffff;
      if ((nss & 0xfffc) === 0) throw new GuestFault(A.VEC_TS, 0);
      const sd = this.desc(nss);
      if (!sd) throw new GuestFault(A.VEC_TS, nss & 0xfffc);
      const sa = Monitor.descAttr(sd.hi);
      if ((nss & 3) !== tdpl || (sa & 0x18) !== 0x10 || !(sa & 2) || ((sa >> 5) & 3) !== tdpl) throw new GuestFault(A.VEC_TS, nss & 0xfffc);
      if (!(sa & 0x80)) throw new GuestFault(A.VEC_SS, nss & 0xfffc);
      const oldSs = this.vsel("ss"), oldEsp = this.m.esp >>> 0;
      const ps = this.peekStack(params, 4);
      const frame = [oldSs, oldEsp, ...ps.reverse(), oldCs, next]; // pushed in this order
      const sbase = Monitor.descBase(sd.lo, sd.hi);
      let esp = nesp >>> 0;
      const bytes: number[] = [];
      for (let i = frame.length - 1; i >= 0; i--) { const x = frame[i]; bytes.push(x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24); }
      esp = (esp - bytes.length) >>> 0;
      this.writeLin((sbase + esp) >>> 0, bytes, tdpl === 3);
      v.cpl = tdpl;
      this.loadSegReal("ss", nss, sd);
      this.loadSegReal("cs", (tsel & ~3) | tdpl, td);
      this.m.esp = esp;
      this.applyMode();
    } else {
      this.push(oldCs);
      this.push(next);
      this.loadSegReal("cs", (tsel & ~3) | v.cpl, td);
    }
    this.m.eip = off;
    this.count(this.stats.emulated, "lcall gate");
    this.stats.emulatedInstructions++;
  }

  private verx(sel: number, write: boolean): boolean {
    if ((sel & 0xfffc) === 0) return false;
    const de = this.desc(sel);
    if (!de) return false;
    const attr = Monitor.descAttr(de.hi), dpl = (attr >> 5) & 3;
    if (!(attr & 0x10)) return false;
    const code = (attr & 8) !== 0, conforming = code && (attr & 4) !== 0;
    const privOk = conforming || (dpl >= this.v.cpl && dpl >= (sel & 3));
    return write ? !code && (attr & 2) !== 0 && privOk : (!code || (attr & 2) !== 0) && privOk;
  }

  /** IRET/POPF flag rules (as the CPU: IOPL only at CPL 0, IF only at CPL <= IOPL). */
  private applyFlags(val: number, size: number, cpl: number, iret: boolean): void {
    const cur = this.guestFlags();
    let m = 0x00000dd5 | A.FLAG_TF | A.FLAG_NT | A.FLAG_AC | A.FLAG_ID;
    if (cpl === 0) m |= FL_IOPL | (iret ? A.FLAG_VIF | A.FLAG_VIP : 0);
    if (cpl <= ((cur & FL_IOPL) >> 12)) m |= FL_IF;
    if (iret) m |= A.FLAG_RF; // IRET loads RF: it suppresses the instruction breakpoint it returns to (debug.ts)
    if (size === 2) m &= 0xffff;
    this.setGuestFlags((((cur & ~m) | (val & m)) & (iret ? ~0 : ~A.FLAG_RF)) >>> 0);
  }

  /** IRET / RETF at the virtual CPL: same-privilege or to an outer level. */
  private farReturn(d: Insn, iret: boolean, imm: number): void {
    const v = this.v;
    const osz = d.opsize16 ? 2 : 4;
    if (iret && this.guestFlags() & A.FLAG_NT) {
      // a task return: the CPU's checks on the back link, then #GP (task switches are not implemented)
      const link = this.read32(v.tr.base, false) & 0xffff;
      if (link & 4) throw new GuestFault(A.VEC_TS, link & 0xfffc);
      const ld = this.desc(link);
      if (!ld) throw new GuestFault(A.VEC_TS, link & 0xfffc);
      const la = Monitor.descAttr(ld.hi), t = la & 0x1f;
      if (t !== 0x0b && t !== 0x03) throw new GuestFault(A.VEC_TS, link & 0xfffc);
      if (!(la & 0x80)) throw new GuestFault(A.VEC_NP, link & 0xfffc);
      if (Monitor.descLimit(ld.lo, ld.hi) < (t & 8 ? 0x67 : 0x2b)) throw new GuestFault(A.VEC_TS, link & 0xfffc);
      throw new GuestFault(A.VEC_GP, link & 0xfffc);
    }
    const n = iret ? 3 : 2;
    const [off, selRaw, fl] = this.peekStack(n, osz);
    const sel = selRaw & 0xffff;
    if (iret && v.cpl === 0 && osz === 4 && fl & A.FLAG_VM) throw new GuestFault(A.VEC_GP, 0);
    const rpl = sel & 3;
    if (rpl < v.cpl) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    const desc = this.codeDesc(sel, rpl, false);
    const oldCpl = v.cpl;
    let esp = (this.m.esp + n * osz + imm) >>> 0;
    if (rpl > oldCpl) {
      // outer return: SS:ESP follow
      const base = this.ssBase();
      const nesp = osz === 4 ? this.read32(base + esp) : this.read16(base + esp);
      const nss = (osz === 4 ? this.read32(base + esp + osz) : this.read16(base + esp + osz)) & 0xffff;
      if ((nss & 0xfffc) === 0) throw new GuestFault(A.VEC_GP, 0);
      const sd = this.desc(nss);
      if (!sd) throw new GuestFault(A.VEC_GP, nss & 0xfffc);
      const sattr = Monitor.descAttr(sd.hi);
      if ((nss & 3) !== rpl || (sattr & 0x18) !== 0x10 || !(sattr & 2) || ((sattr >> 5) & 3) !== rpl) throw new GuestFault(A.VEC_GP, nss & 0xfffc);
      if (!(sattr & 0x80)) throw new GuestFault(A.VEC_SS, nss & 0xfffc);
      if (iret) this.applyFlags(fl, osz, oldCpl, true);
      this.v.cpl = rpl;
      this.loadSegReal("cs", sel, desc);
      this.loadSegReal("ss", nss, sd);
      this.m.esp = (nesp + imm) >>> 0;
      this.m.eip = off;
      // data segments the new level may not use become null
      for (const s of ["es", "ds", "fs", "gs"] as const) {
        const seg = this.m.getSegment(s);
        // the guest's DPL (the real cache may hold the kernel view's DPL 3)
        let gattr = seg.attr;
        if (seg.selector & 0xfffc) { try { const gd = this.desc(seg.selector); if (gd) gattr = Monitor.descAttr(gd.hi); } catch { /* keep */ } }
        const dpl = (gattr >> 5) & 3;
        const conformingCode = (gattr & 0x1c) === 0x1c;
        if ((seg.selector & 0xfffc) === 0 || (!conformingCode && dpl < rpl)) this.m.setSegment(s, { selector: 0, base: 0, limit: 0, attr: 0 });
      }
      this.applyMode();
    } else {
      if (iret) this.applyFlags(fl, osz, oldCpl, true);
      this.loadSegReal("cs", sel, desc);
      this.m.esp = esp;
      this.m.eip = off;
    }
    this.count(this.stats.emulated, iret ? "iret" : "retf");
    this.stats.emulatedInstructions++;
  }

  // ---------------------------------------------------------------- reflection through the virtual IDT
  /**
   * Delivers vector `vec` to the guest kernel through its IDT, as the CPU would (interrupt/trap gates, stack
   * switch from the guest TSS on a privilege change). `soft`: INT n / INT3 / INTO (gate DPL checked).
   */
  deliver(vec: number, err: number | undefined, retEip: number, soft: boolean, cr2?: number, ext = false, faultEip = retEip): void {
    const v = this.v;
    this.count(this.stats.reflected, String(vec));
    if (vec === A.VEC_PF && cr2 !== undefined) v.cr2 = cr2 >>> 0;
    this.delivering++;
    try {
      const idtErr = vec * 8 + 2 + (soft ? 0 : 1);
      if (vec * 8 + 7 > v.idtr.limit) throw new GuestFault(A.VEC_GP, idtErr);
      const lo = this.read32(v.idtr.base + vec * 8, false), hi = this.read32(v.idtr.base + vec * 8 + 4, false);
      const type = (hi >>> 8) & 0x1f, gdpl = (hi >>> 13) & 3;
      if (type !== 0x0e && type !== 0x0f && type !== 0x06 && type !== 0x07) throw new GuestFault(A.VEC_GP, idtErr);
      if (soft && gdpl < v.cpl) throw new GuestFault(A.VEC_GP, idtErr);
      if (!(hi & 0x8000)) throw new GuestFault(A.VEC_NP, idtErr);
      const gsz = type & 8 ? 4 : 2;
      const sel = lo >>> 16;
      const off = gsz === 4 ? ((lo & 0xffff) | (hi & 0xffff0000)) >>> 0 : lo & 0xffff;
      if ((sel & 0xfffc) === 0) throw new GuestFault(A.VEC_GP, 0);
      const cd = this.desc(sel);
      if (!cd) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
      const cattr = Monitor.descAttr(cd.hi), cdpl = (cattr >> 5) & 3;
      if ((cattr & 0x18) !== 0x18 || cdpl > v.cpl) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
      if (!(cattr & 0x80)) throw new GuestFault(A.VEC_NP, sel & 0xfffc);
      const newCpl = cattr & 4 ? v.cpl : cdpl;
      let flags = this.guestFlags();
      // faults push RF=1 (SDM 17.3.1.1); traps, software and external interrupts do not
      if (!soft && !ext && FAULTS.has(vec)) flags |= A.FLAG_RF;
      const oldCs = this.vsel("cs"), oldSs = this.vsel("ss"), oldEsp = this.m.esp >>> 0;
      const frame: number[] = [];
      let ssSel = oldSs, ssDesc: { lo: number; hi: number; addr: number } | null = null, esp = oldEsp;
      if (newCpl < v.cpl) {
        const tr = v.tr;
        if (!(tr.attr & 0x80)) throw new GuestFault(A.VEC_TS, tr.sel & 0xfffc);
        esp = this.read32(tr.base + 4 + newCpl * 8, false);
        ssSel = this.read32(tr.base + 8 + newCpl * 8, false) & 0xffff;
        if ((ssSel & 0xfffc) === 0) throw new GuestFault(A.VEC_TS, ssSel & 0xfffc);
        ssDesc = this.desc(ssSel);
        if (!ssDesc) throw new GuestFault(A.VEC_TS, ssSel & 0xfffc);
        const sa = Monitor.descAttr(ssDesc.hi);
        if ((ssSel & 3) !== newCpl || (sa & 0x18) !== 0x10 || !(sa & 2) || ((sa >> 5) & 3) !== newCpl) throw new GuestFault(A.VEC_TS, ssSel & 0xfffc);
        if (!(sa & 0x80)) throw new GuestFault(A.VEC_SS, ssSel & 0xfffc);
        frame.push(oldSs, oldEsp);
      }
      frame.push(flags, oldCs, retEip >>> 0);
      if (err !== undefined) frame.push(err);
      const ssBase = ssDesc ? Monitor.descBase(ssDesc.lo, ssDesc.hi) : this.ssBase();
      const bytes: number[] = [];
      for (let i = frame.length - 1; i >= 0; i--) {
        const x = frame[i];
        if (gsz === 4) bytes.push(x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24);
        else bytes.push(x & 0xff, (x >>> 8) & 0xff);
      }
      const newEsp = (esp - bytes.length) >>> 0;
      this.writeLin((ssBase + newEsp) >>> 0, bytes, newCpl === 3);
      // commit
      if (newCpl !== v.cpl) {
        v.cpl = newCpl;
        this.loadSegReal("ss", ssSel, ssDesc);
      }
      this.loadSegReal("cs", (sel & ~3) | newCpl, cd);
      this.m.esp = newEsp;
      this.m.eip = off;
      let nf = this.guestFlags() & ~(A.FLAG_TF | A.FLAG_NT | A.FLAG_RF | A.FLAG_VM);
      if ((type & 7) === 6) nf &= ~FL_IF; // interrupt gate
      this.setGuestFlags(nf);
      this.applyMode();
    } catch (e) {
      if (!(e instanceof GuestFault)) throw e;
      this.delivering--;
      // a fault while delivering: #DF for contributory/#PF combinations, shutdown if #DF itself fails
      if (vec === A.VEC_DF) throw new FatalGuest(`triple fault: exception while delivering #DF`);
      const contributory = (x: number) => x === 0 || (x >= 10 && x <= 13);
      if ((contributory(vec) && contributory(e.vector)) || (vec === A.VEC_PF && (contributory(e.vector) || e.vector === A.VEC_PF))) {
        this.deliver(A.VEC_DF, 0, faultEip, false, undefined, true);
      } else {
        const ee = e.error !== undefined && e.vector !== A.VEC_PF && !soft ? e.error | 1 : e.error;
        this.deliver(e.vector, ee, faultEip, false, e.cr2, true);
      }
      return;
    }
    this.delivering--;
  }

  /** Injects an external interrupt (the PIC has acknowledged `vector`). */
  injectInterrupt(vector: number): void {
    this.stats.interruptsInjected++;
    this.deliver(vector, undefined, this.m.eip, false, undefined, true);
  }
  /** injectInterrupt() with the monitor's stop handling (a triple fault while delivering stops the VM) */
  injectExternal(vector: number): HandleResult {
    try { this.injectInterrupt(vector); return null; } catch (e) {
      if (e instanceof FatalGuest || e instanceof GuestRangeError) return { stop: "shutdown", message: `full mode: ${e.message}` };
      throw e;
    }
  }
  /** may an external interrupt be injected now? */
  get interruptible(): boolean { return this.v.vif && !this.stiShadow; }
}

function parity(v: number): boolean {
  let x = v & 0xff;
  x ^= x >> 4; x ^= x >> 2; x ^= x >> 1;
  return (x & 1) === 0;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
