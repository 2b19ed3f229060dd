// memory.ts — the monitor's access to guest memory through the guest's own page tables (and the patcher's
// original bytes): linear reads and writes at the virtual privilege, ModRM operands, the guest stack, and
// fetching an instruction for the CPU's decoder. Writes to protected frames keep the shadows exact. Pages the
// guest maps outside its RAM are device registers: the monitor's accesses to them go to the bus (io.mmioRead /
// mmioWrite, guest-physical addresses) as the CPU's own MMIO exits do.
import { type DecodedInsn as Insn, type Exit } from "../machine.ts";
import * as A from "../abi.generated.ts";
import { VcpuBase, GuestFault, FatalGuest, VMM_SIZE, SEG, hex, type HandleResult } from "./vcpu.ts";
import { MMIO_WINDOW, type WalkResult } from "./shadow.ts";
import { GuestPhysMemory } from "../memory/guest-memory.ts";
import type { PagingRegs } from "../memory/paging.ts";

export abstract class GuestMemory extends VcpuBase {
  // named "memory": wiring, not state, for snapshots (host/persist.ts WIRING)
  private memory?: GuestPhysMemory;
  /** The guest's RAM as the one guest-physical memory object (machine-physical VMM_SIZE + X, bounds-checked). */
  get guestPhys(): GuestPhysMemory { return (this.memory ??= new GuestPhysMemory(this.m, VMM_SIZE, this.guestRam)); }
  /**
   * The guest's own paging registers (the virtual CR0/CR3/CR4; the real CR3 points at a shadow): what a debugger
   * passes to guestPhys.walk/readLinear to see the guest's linear addresses without touching A/D bits.
   */
  guestPagingRegs(): PagingRegs { return { cr0: this.v.cr0 >>> 0, cr3: this.v.cr3 >>> 0, cr4: this.v.cr4 >>> 0 }; }

  /** guest-linear → guest-physical for an access at the given privilege; throws GuestFault(#PF). */
  translate(lin: number, write: boolean, user: boolean): number {
    const w = this.shadow.walk(this.paging(), lin >>> 0, write, user, true);
    if (!w.ok) throw new GuestFault(A.VEC_PF, w.err, lin >>> 0);
    if (w.gpa >= this.guestRam) throw new FatalGuest(`guest access to ${hex(lin)} reaches guest-physical ${hex(w.gpa)}, outside its RAM`);
    return w.gpa;
  }

  /**
   * guest-linear → guest-physical like translate(), but a page outside guest RAM is allowed: device registers (or
   * nothing), which the callers reach through the bus (mmioRead/mmioWrite) as the CPU's own accesses do.
   */
  translateAny(lin: number, write: boolean, user: boolean): number {
    const w = this.shadow.walk(this.paging(), lin >>> 0, write, user, true);
    if (!w.ok) throw new GuestFault(A.VEC_PF, w.err, lin >>> 0);
    return w.gpa >>> 0;
  }

  /**
   * One access of `n` bytes to guest-physical `gpa` outside guest RAM, as the CPU makes it (mmu.ts): 1, 2 or 4
   * bytes inside the page in one bus access, anything else (a split, a descriptor) byte by byte.
   */
  private mmioReadBytes(gpa: number, n: number, split: boolean): Uint8Array {
    const io = this.io, out = new Uint8Array(n);
    if (!io.mmioRead) throw new FatalGuest(`guest-physical ${hex(gpa)} is outside guest RAM`);
    if (!split && (n === 1 || n === 2 || n === 4)) {
      const v = io.mmioRead(gpa, n);
      for (let k = 0; k < n; k++) out[k] = (v >>> (8 * k)) & 0xff;
    } else for (let k = 0; k < n; k++) out[k] = io.mmioRead((gpa + k) >>> 0, 1) & 0xff;
    return out;
  }
  private mmioWriteBytes(gpa: number, data: ArrayLike<number>, off: number, n: number, split: boolean): void {
    const io = this.io;
    if (!io.mmioWrite) throw new FatalGuest(`guest-physical ${hex(gpa)} is outside guest RAM`);
    if (!split && (n === 1 || n === 2 || n === 4)) {
      let v = 0;
      for (let k = 0; k < n; k++) v |= (data[off + k] & 0xff) << (8 * k);
      io.mmioWrite(gpa, n, v >>> 0);
    } else for (let k = 0; k < n; k++) io.mmioWrite((gpa + k) >>> 0, 1, data[off + k] & 0xff);
  }

  /**
   * An MMIO exit of the CPU (a guest page mapped outside guest RAM, shadow.ts mmioMachineAddr) handed to the
   * devices at its guest-physical address: a read completes the restarted instruction, a write is done. False for
   * any other exit. `window`: the guest page mapped onto MMIO_WINDOW for this step (stepThroughWindow), or -1.
   */
  mmioExit(e: Exit, window = -1): boolean {
    if (e.reason !== "mmio-read" && e.reason !== "mmio-write") return false;
    const a = e.address >>> 0;
    const gpa = window >= 0 && (a & ~0xfff) >>> 0 === MMIO_WINDOW ? (window | (a & 0xfff)) >>> 0 : this.shadow.mmioGuestAddr(a);
    if (!this.io.mmioRead || !this.io.mmioWrite) throw new FatalGuest(`guest-physical ${hex(gpa)} is outside guest RAM`);
    if (e.reason === "mmio-read") this.m.completeIo(this.io.mmioRead(gpa, e.size as 1 | 2 | 4));
    else this.io.mmioWrite(gpa, e.size as 1 | 2 | 4, e.value);
    return true;
  }

  /**
   * An access to a page of the top VMM_SIZE bytes of guest-physical space (shadow.mmioMachineAddr: its machine
   * address would wrap into the VMM region, so the shadow leaves it absent): the faulting instruction is
   * single-stepped with the page mapped onto the machine page MMIO_WINDOW (past machine RAM), and its MMIO exits
   * there go to the bus at the guest page's address — the same device accesses as native, one exit more.
   */
  protected stepThroughWindow(lin: number, w: WalkResult): HandleResult {
    if (this.windowBusy) throw new FatalGuest(`one instruction touches two pages of the top ${VMM_SIZE >>> 20} MiB of physical memory (at ${hex(lin)}): not supported in full mode`);
    this.count(this.counts.exits, "mmio window");
    const page = (w.gpa & ~0xfff) >>> 0;
    const old = this.shadow.mapWindow(lin, w);
    const i0 = this.m.instructions;
    this.windowBusy = true;
    let restored = false;
    try {
      for (let k = 0; k < 64; k++) {
        const e = this.m.run(1);
        if (this.mmioExit(e, page)) {
          // done once the instruction retired and handed over every write it queued
          if (this.m.instructions !== i0 && this.dv.getUint32(A.STATE_BASE + A.AREA_WQ, true) === 0) return null;
          continue;
        }
        if (e.reason === "budget") return null;
        // a write to the window page mapped read-only (the guest PTE was not dirty at the first, read access):
        // the guest walk for the write sets D, as the CPU's would; a true fault goes on below
        if (e.reason === "exception" && e.vector === A.VEC_PF && ((e.errorCode ?? 0) & 2) && (this.m.getCr("cr2") ^ lin) >>> 12 === 0) {
          const ww = this.shadow.walk(this.paging(), this.m.getCr("cr2") >>> 0, true, this.v.cpl === 3, true);
          if (ww.ok && (ww.gpa & ~0xfff) >>> 0 === page) { this.shadow.mapWindow(lin, ww); continue; }
        }
        // anything else (a fault on another page, #DB with TF...): handled as usual, the window closed first; a
        // second page of the top of memory in the same instruction would need a second window: a stop
        this.shadow.restoreSpte(lin, old);
        restored = true;
        return e.reason === "debug" ? null : this.handle(e);
      }
      throw new FatalGuest(`an instruction at ${hex(this.m.eip)} made more than 64 device accesses through the top of physical memory`);
    } finally {
      if (!restored) this.shadow.restoreSpte(lin, old);
      this.windowBusy = false;
    }
  }
  private windowBusy = false;

  readLin(lin: number, len: number, user = this.v.cpl === 3): Uint8Array {
    const out = new Uint8Array(len);
    let i = 0;
    while (i < len) {
      const a = (lin + i) >>> 0;
      const n = Math.min(len - i, 4096 - (a & 0xfff));
      const g = this.translateAny(a, false, user);
      out.set(g >= this.guestRam ? this.mmioReadBytes(g, n, n !== len) : this.guestPhys.read(g, n), i);
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
      parts.push([this.translateAny(a, true, user), i, n]);
      i += n;
    }
    for (const [g, off, n] of parts) {
      if (g >= this.guestRam) { this.mmioWriteBytes(g, data, off, n, n !== data.length); continue; }
      const frame = g >>> 12;
      const prot = this.shadow.isProtected(frame);
      if (prot && !this.patcher.isCodeFrame(frame)) {
        // a page-table frame: write and drop exactly the derived shadow entries
        this.shadow.writeEntries(g, Uint8Array.from(Array.prototype.slice.call(data, off, off + n) as number[]));
        continue;
      }
      const snap = prot ? this.shadow.snapshot(frame) : null;
      this.guestPhys.write(g, Array.prototype.slice.call(data, off, off + n) as number[]);
      if (snap) this.afterProtectedWrite(frame, snap);
    }
  }

  protected afterProtectedWrite(frame: number, snap: Uint8Array): void {
    if (this.patcher.isCodeFrame(frame)) this.patcher.onWrite(frame, snap);
    this.shadow.commitWrite(frame, snap);
  }

  read32(lin: number, user = this.v.cpl === 3): number {
    lin >>>= 0;
    // within one page: one guest walk, read in place (no copy)
    if ((lin & 0xfff) <= 0xffc) {
      const g = this.translateAny(lin, false, user);
      // (RAM not backed yet: readLin below backs it, as the CPU's read would)
      if (g < this.guestRam && A.RAM_BASE + VMM_SIZE + g + 4 <= this.backedEnd) return this.dv.getUint32(A.RAM_BASE + VMM_SIZE + g, true);
    }
    const b = this.readLin(lin, 4, user);
    return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  }

  read16(lin: number, user = this.v.cpl === 3): number {
    lin >>>= 0;
    if ((lin & 0xfff) <= 0xffe) {
      const g = this.translateAny(lin, false, user);
      if (g < this.guestRam && A.RAM_BASE + VMM_SIZE + g + 2 <= this.backedEnd) return this.dv.getUint16(A.RAM_BASE + VMM_SIZE + g, true);
    }
    const b = this.readLin(lin, 2, user);
    return b[0] | (b[1] << 8);
  }

  /** do `len` guest-linear bytes at `lin` (supervisor reads) equal `bytes`? Compared in place. */
  protected linEquals(lin: number, len: number, bytes: Uint8Array): boolean {
    if (bytes.length !== len) return false;
    let u8 = this.u8, u32 = wordView(u8);
    // (word by word where both sides are 4-aligned: a GDT is compared on every privilege switch the monitor adopts)
    const words = (bytes.byteOffset & 3) === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, len >>> 2) : null;
    let i = 0;
    while (i < len) {
      const a = (lin + i) >>> 0;
      const n = Math.min(len - i, 4096 - (a & 0xfff));
      const g = this.translateAny(a, false, false);
      if (g >= this.guestRam) return false; // device registers: read again (readLin)
      const p = A.RAM_BASE + VMM_SIZE + g;
      if (p + n > u8.length) { this.backGuest(g + n); u8 = this.u8; u32 = wordView(u8); }
      let k = 0;
      if (words && ((p | i) & 3) === 0) {
        const pw = p >>> 2, iw = i >>> 2, nw = n >>> 2;
        for (; k < nw; k++) if (u32[pw + k] !== words[iw + k]) return false;
        k <<= 2;
      }
      for (; k < n; k++) if (u8[p + k] !== bytes[i + k]) return false;
      i += n;
    }
    return true;
  }

  write32(lin: number, v: number, user?: boolean): void { this.writeLin(lin, [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24], user); }
  write16(lin: number, v: number, user?: boolean): void { this.writeLin(lin, [v & 0xff, (v >>> 8) & 0xff], user); }
  /** linear address of a ModRM memory operand */
  lin(d: Insn): number {
    let ea = d.disp;
    if (d.base >= 0) ea += this.reg(d.base);
    if (d.index >= 0) ea += this.reg(d.index) * d.scale;
    ea = d.addrsize16 ? ea & 0xffff : ea >>> 0;
    return (this.segBase(d.segment) + ea) >>> 0;
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

  protected ssBase(): number { return this.segBase(SEG.ss); }
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

  /**
   * Decodes the instruction at CS:EIP as the guest wrote it (patched bytes read as their originals) with the
   * CPU's decoder (Machine.decode). The bytes are read through the guest's tables one page at a time: the next
   * page is only touched (and may fault, as on the CPU) when the instruction continues into it.
   */
  fetchInsn(eip = this.m.eip): Insn {
    const base = this.segBase(SEG.cs);
    const user = this.v.cpl === 3;
    const buf = this.insnBytes;
    let n = 0;
    const fetchPage = () => {
      const lin = (base + eip + n) >>> 0;
      const gpa = this.translateAny(lin, false, user) - (lin & 0xfff);
      if (gpa >= this.guestRam) {
        // no code runs from device memory: it reads as open bus, as the CPU's fetch (assembly/decode.ts)
        for (let o = lin & 0xfff; o < 4096 && n < 15; o++) buf[n++] = 0xff;
        return;
      }
      const host = A.RAM_BASE + VMM_SIZE + gpa;
      if (host + 4096 > this.backedEnd) this.backGuest(gpa + 4096);
      const u8 = this.u8;
      for (let o = lin & 0xfff; o < 4096 && n < 15; o++) {
        const b = u8[host + o];
        // a patch is always an INT3 over the first byte: only those bytes need the side table
        buf[n++] = b === 0xcc ? this.patcher.origByte(gpa + o) : b;
      }
    };
    fetchPage();
    let d = this.m.decode(n === 15 ? buf : buf.subarray(0, n), eip);
    if (d.len > n && n < 15) { fetchPage(); d = this.m.decode(n === 15 ? buf : buf.subarray(0, n), eip); }
    return d;
  }
  private readonly insnBytes = new Uint8Array(15);

  /** Backs guest RAM up to guest-physical `end` (<= guestRam) for an in-place read, as the CPU's own access would
   * (assembly/ram-backing.ts): a read of the last byte through the Machine, which grows the memory and remakes views. */
  private backGuest(end: number): void { this.guestPhys.read8(end - 1); }
}

/** machine memory as words, one view per buffer (not a monitor field: a snapshot would save it as state) */
const wordViews = new WeakMap<ArrayBufferLike, Uint32Array>();
function wordView(u8: Uint8Array): Uint32Array {
  let w = wordViews.get(u8.buffer);
  if (!w) { w = new Uint32Array(u8.buffer, 0, u8.buffer.byteLength >>> 2); wordViews.set(u8.buffer, w); }
  return w;
}
