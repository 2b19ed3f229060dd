// memory.ts — guest memory as a virtio device sees it (the "DMA window").
//
// Devices never touch guest RAM except through a GuestMemory, and a GuestMemory only ever exposes
// [0, size): everything a guest hands a device (ring addresses, buffer addresses and lengths) is checked against
// it with overflow-free arithmetic before any byte moves. In para mode `size` stops short of the VMM region at the
// top of RAM (host/para/layout.ts), so a hostile descriptor can neither read nor write the VMM's own pages.
import type { Machine } from "../machine.ts";

export interface GuestMemory {
  /** bytes of guest-physical memory a device may access: [0, size) */
  readonly size: number;
  /** copy len bytes out of guest memory (caller has checked the range) */
  read(addr: number, len: number): Uint8Array;
  /** copy data into guest memory (caller has checked the range) */
  write(addr: number, data: Uint8Array): void;
  read16(addr: number): number;
  read32(addr: number): number;
  write16(addr: number, v: number): void;
  write32(addr: number, v: number): void;
}

/** True when [addr, addr+len) lies inside [0, mem.size) — safe for any numbers the guest produced. */
export function inRange(mem: GuestMemory, addr: number, len: number): boolean {
  return Number.isInteger(addr) && Number.isInteger(len) && addr >= 0 && len >= 0 && addr <= mem.size && len <= mem.size - addr;
}

/** A plain byte array as guest memory (unit tests, the mock driver). */
export class ArrayMemory implements GuestMemory {
  readonly bytes: Uint8Array;
  private readonly dv: DataView;
  constructor(size: number, readonly limit = size) {
    this.bytes = new Uint8Array(size);
    this.dv = new DataView(this.bytes.buffer);
  }
  get size(): number { return this.limit; }
  read(a: number, n: number): Uint8Array { this.chk(a, n); return this.bytes.slice(a, a + n); }
  write(a: number, d: Uint8Array): void { this.chk(a, d.length); this.bytes.set(d, a); }
  read16(a: number): number { this.chk(a, 2); return this.dv.getUint16(a, true); }
  read32(a: number): number { this.chk(a, 4); return this.dv.getUint32(a, true); }
  write16(a: number, v: number): void { this.chk(a, 2); this.dv.setUint16(a, v & 0xffff, true); }
  write32(a: number, v: number): void { this.chk(a, 4); this.dv.setUint32(a, v >>> 0, true); }
  private chk(a: number, n: number): void {
    // a device bug, never a guest one: every guest value is range-checked before it reaches here
    if (!inRange(this, a, n)) throw new RangeError(`wasmvisor virtio: host access 0x${a.toString(16)}+${n} outside the DMA window`);
  }
}

/** A Machine's RAM below `limit` (default: all of it) as guest memory. Writes keep the CPU's code cache coherent. */
export class MachineMemory implements GuestMemory {
  constructor(private readonly m: Machine, private readonly limit = m.ramSize) {}
  get size(): number { return this.limit; }
  read(a: number, n: number): Uint8Array { this.chk(a, n); return this.m.readMem(a, n); }
  write(a: number, d: Uint8Array): void { this.chk(a, d.length); this.m.writeMem(a, d); }
  read16(a: number): number { this.chk(a, 2); return this.m.read16(a); }
  read32(a: number): number { this.chk(a, 4); return this.m.read32(a); }
  write16(a: number, v: number): void { this.chk(a, 2); this.m.write16(a, v); }
  write32(a: number, v: number): void { this.chk(a, 4); this.m.write32(a, v); }
  private chk(a: number, n: number): void {
    if (!inRange(this, a, n)) throw new RangeError(`wasmvisor virtio: host access 0x${a.toString(16)}+${n} outside the DMA window`);
  }
}
