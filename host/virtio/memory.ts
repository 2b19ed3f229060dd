// memory.ts — guest memory as a virtio device sees it (the "DMA window").
//
// Devices never touch guest RAM except through a GuestMemory, and a GuestMemory only ever exposes
// [0, size): everything a guest hands a device (ring addresses, buffer addresses and lengths) is checked against
// it with overflow-free arithmetic before any byte moves. In para mode `size` stops short of the VMM region at the
// top of RAM (host/para/vm.ts), so a hostile descriptor can neither read nor write the VMM's own pages; and every
// device write is also checked against a DmaPolicy (para mode: host/para/policy.ts, the frame types), so no device
// writes a frame the guest may not write itself (its page tables). Devices check a whole request up front
// (checkWrites) and ring stores one by one (mayWrite); the write methods refuse (throw) what the policy forbids as a
// last line of defence, which the transport turns into a broken device.
import type { Machine } from "../machine.ts";

export interface Seg { addr: number; len: number }

/** Who may write which guest frame (para mode: MemoryPolicy). */
export interface DmaPolicy {
  /** may a device write [addr, addr+len)? no side effects */
  deviceMayWrite(addr: number, len: number): boolean;
  /** a whole request's writes, checked and counted (allowed / refused) */
  checkDeviceWrite(segs: readonly Seg[]): boolean;
  /** marks / unmarks a checked request's frames as having a device write in flight */
  claim(segs: readonly Seg[]): void;
  release(segs: readonly Seg[]): void;
}

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
  /** may a device write [addr, addr+len)? (in the window and allowed by the policy); no side effects */
  mayWrite(addr: number, len: number): boolean;
  /** checks all the segments a request will write, up front (counted by the policy, if any) */
  checkWrites(segs: readonly Seg[]): boolean;
  /** brackets a checked request's writes: its frames have a device write in flight */
  claim(segs: readonly Seg[]): void;
  release(segs: readonly Seg[]): void;
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
  mayWrite(a: number, n: number): boolean { return inRange(this, a, n); }
  checkWrites(segs: readonly Seg[]): boolean { return segs.every((s) => inRange(this, s.addr, s.len)); }
  claim(): void {}
  release(): void {}
  private chk(a: number, n: number): void {
    // a device bug, never a guest one: every guest value is range-checked before it reaches here
    if (!inRange(this, a, n)) throw new RangeError(`wasmvisor virtio: host access 0x${a.toString(16)}+${n} outside the DMA window`);
  }
}

/**
 * A Machine's RAM below `limit` (default: all of it) as guest memory, writes checked against `policy` (if given).
 * Writes keep the CPU's code cache coherent.
 */
export class MachineMemory implements GuestMemory {
  constructor(private readonly m: Machine, private readonly limit = m.ramSize, private readonly policy: DmaPolicy | null = null) {}
  get size(): number { return this.limit; }
  read(a: number, n: number): Uint8Array { this.chk(a, n); return this.m.readMem(a, n); }
  write(a: number, d: Uint8Array): void { this.wchk(a, d.length); this.m.writeMem(a, d); }
  read16(a: number): number { this.chk(a, 2); return this.m.read16(a); }
  read32(a: number): number { this.chk(a, 4); return this.m.read32(a); }
  write16(a: number, v: number): void { this.wchk(a, 2); this.m.write16(a, v); }
  write32(a: number, v: number): void { this.wchk(a, 4); this.m.write32(a, v); }
  mayWrite(a: number, n: number): boolean { return inRange(this, a, n) && (!this.policy || this.policy.deviceMayWrite(a, n)); }
  checkWrites(segs: readonly Seg[]): boolean {
    if (!segs.every((s) => inRange(this, s.addr, s.len))) return false;
    return !this.policy || this.policy.checkDeviceWrite(segs);
  }
  claim(segs: readonly Seg[]): void { this.policy?.claim(segs); }
  release(segs: readonly Seg[]): void { this.policy?.release(segs); }
  private chk(a: number, n: number): void {
    if (!inRange(this, a, n)) throw new RangeError(`wasmvisor virtio: host access 0x${a.toString(16)}+${n} outside the DMA window`);
  }
  private wchk(a: number, n: number): void {
    this.chk(a, n);
    // a device bug, never reached by a guest: devices check with mayWrite/checkWrites before writing
    if (this.policy && !this.policy.deviceMayWrite(a, n)) throw new RangeError(`wasmvisor virtio: device write 0x${a.toString(16)}+${n} refused by the memory policy`);
  }
}
