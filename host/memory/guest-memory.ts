// guest-memory.ts — one guest-physical memory object over a Machine's RAM, for the monitor, debuggers and devices.
//
// Guest-physical X is machine-physical X + base (0 for native and para; the VMM region's size in full mode), and
// the guest owns [0, size). Every access is bounds-checked (GuestRangeError outside), and every write goes through
// Machine.writeMem/write32, which keeps the CPU's predecoded-code cache coherent. Linear accesses walk the guest's
// own page tables with the side-effect-free walker (paging.ts): they set no accessed/dirty bits and fill no TLB.
import type { Machine } from "../machine.ts";
import { walk, pagingRegs, access as accessOf, PAGE_SIZE, type Access, type PagingRegs, type TableMemory, type Walk } from "./paging.ts";

/** A guest-physical access outside the guest's RAM. */
export class GuestRangeError extends Error {}

/** A linear access the guest's page tables refuse: `errorCode` and `linear` are what the CPU's #PF would carry. */
export class GuestPageFault extends Error {
  constructor(readonly linear: number, readonly errorCode: number) {
    super(`#PF(0x${errorCode.toString(16)}) at linear 0x${(linear >>> 0).toString(16)}`);
  }
}

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

export class GuestPhysMemory implements TableMemory {
  /** machine-physical address of guest-physical 0 */
  readonly base: number;
  /** bytes of guest RAM */
  readonly size: number;

  constructor(readonly machine: Machine, base = 0, size = machine.ramSize - base) {
    if (!Number.isInteger(base) || !Number.isInteger(size) || base < 0 || size < 0 || base + size > machine.ramSize) {
      throw new RangeError(`wasmvisor: guest RAM ${hex(base)}+${size} does not fit the machine's ${machine.ramSize} bytes`);
    }
    this.base = base;
    this.size = size;
  }

  /** [gpa, gpa + len) is guest RAM */
  contains(gpa: number, len = 1): boolean {
    return Number.isInteger(gpa) && Number.isInteger(len) && gpa >= 0 && len >= 0 && gpa + len <= this.size;
  }
  private check(gpa: number, len: number): number {
    if (!this.contains(gpa, len)) throw new GuestRangeError(`guest-physical ${hex(gpa)}${len > 1 ? `+${len}` : ""} is outside guest RAM`);
    return gpa + this.base;
  }

  read8(gpa: number): number { return this.machine.read8(this.check(gpa, 1)); }
  read16(gpa: number): number { return this.machine.read16(this.check(gpa, 2)); }
  read32(gpa: number): number { return this.machine.read32(this.check(gpa, 4)) >>> 0; }
  /** a copy of [gpa, gpa + len) */
  read(gpa: number, len: number): Uint8Array { return this.machine.readMem(this.check(gpa, len), len); }
  write8(gpa: number, v: number): void { this.machine.write8(this.check(gpa, 1), v & 0xff); }
  write16(gpa: number, v: number): void { this.machine.write16(this.check(gpa, 2), v & 0xffff); }
  write32(gpa: number, v: number): void { this.machine.write32(this.check(gpa, 4), v >>> 0); }
  write(gpa: number, data: ArrayLike<number>): void { this.machine.writeMem(this.check(gpa, data.length), data); }
  fill(gpa: number, len: number, v = 0): void { this.machine.fillMem(this.check(gpa, len), len, v); }

  // TableMemory: what the page walker reads; outside RAM is the walker's open bus
  peek32(gpa: number): number | undefined { return this.contains(gpa, 4) ? this.machine.read32(gpa + this.base) >>> 0 : undefined; }
  poke32(gpa: number, v: number): void { if (this.contains(gpa, 4)) this.machine.write32(gpa + this.base, v >>> 0); }

  // ---- linear addresses through the guest's page tables (no A/D bits, no TLB) ----
  /** The walk for one access; `regs` default to the machine's own control registers. */
  walk(linear: number, acc: Access = 0, regs: PagingRegs = pagingRegs(this.machine)): Walk {
    return walk(this, regs, linear, acc);
  }
  /** linear → guest-physical for an access; throws GuestPageFault where the CPU would raise #PF. */
  translate(linear: number, acc: Access = 0, regs: PagingRegs = pagingRegs(this.machine)): number {
    const w = walk(this, regs, linear, acc);
    if (!w.ok) throw new GuestPageFault(linear >>> 0, w.errorCode);
    return w.phys;
  }
  /** Bytes at a linear address, page by page (a debugger's or device's view: throws on the first unmapped page). */
  readLinear(linear: number, len: number, acc: Access = 0, regs: PagingRegs = pagingRegs(this.machine)): Uint8Array {
    const out = new Uint8Array(len);
    for (let i = 0; i < len;) {
      const a = (linear + i) >>> 0, n = Math.min(len - i, PAGE_SIZE - (a & (PAGE_SIZE - 1)));
      out.set(this.read(this.translate(a, acc & ~2, regs), n), i);
      i += n;
    }
    return out;
  }
  /** Writes at a linear address: every page is translated first, so a fault leaves memory untouched. */
  writeLinear(linear: number, data: ArrayLike<number>, user = false, regs: PagingRegs = pagingRegs(this.machine)): void {
    const parts: [number, number, number][] = [];
    for (let i = 0; i < data.length;) {
      const a = (linear + i) >>> 0, n = Math.min(data.length - i, PAGE_SIZE - (a & (PAGE_SIZE - 1)));
      const g = this.translate(a, accessOf(true, user), regs);
      this.check(g, n);
      parts.push([g, i, n]);
      i += n;
    }
    for (const [g, off, n] of parts) this.write(g, Array.prototype.slice.call(data, off, off + n) as number[]);
  }
}
