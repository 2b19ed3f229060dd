// policy.ts — the one guest-memory policy of para mode (Xen's page types): a type per frame of RAM, and the checks
// that every device access and every hypercall argument goes through. host/para/mmu.ts changes page-table types
// through it; virtio (host/virtio/memory.ts MachineMemory) asks it before every DMA write; the hypercalls ask it
// before reading their argument buffers. The threat model is docs/THREAT-MODEL.md.
//
// Frame types (one per 4 KiB frame of RAM):
//   RAM   ordinary guest memory: the guest may map it writable, devices may write it
//   L1    a page table in use (pinned, or referenced by a PDE of a validated L2)     read-only to guest and devices
//   L2    a page directory in use (pinned)                                           read-only to guest and devices
//   VMM   the VMM region above the guest (hole page table, shared page): never mapped by a guest PTE, never DMA
//   DESC  the VMM's GDT/IDT/TSS frames, the descriptor tables the CPU uses: like VMM (named apart: they are
//         what an escape would target). SET_GDT / SET_TRAP_TABLE validate the guest's tables and *copy* them
//         here, so the guest's source frames stay RAM (as Xen's set_trap_table copies).
// Per frame, as Xen's page_info: typeRefs (PDEs referencing an L1, + 1 if pinned), pinned, writable (present+RW PTEs
// in validated L1s mapping it) and deviceWrites (device writes in flight into it).
//
// Invariants (checked before a change is made; a refused request changes nothing):
//   * a frame is never both a page table (L1/L2) and writable — by a guest mapping OR by a device: a device write
//     into any frame that is not RAM is refused, and a frame becomes a page table only while it has no writable
//     mapping and no device write in flight;
//   * no guest PTE/PDE and no device reaches a VMM/DESC frame or anything beyond the guest's RAM;
//   * a hypercall reads its arguments only from the guest's own frames [0, vmmBase).
import { PAGE } from "./abi.ts";
import type { DmaPolicy } from "../virtio/memory.ts";

export const FT = { RAM: 0, L1: 1, L2: 2, VMM: 3, DESC: 4 } as const;
export const FT_NAMES = ["ram", "l1", "l2", "vmm", "desc"] as const;

export interface PolicyStats {
  /** device writes allowed / refused (a refused request is one count, whatever its segments) */
  deviceWrites: number;
  deviceWritesRefused: number;
  /** refusals by the type of the first protected frame hit: ram (beyond the window), l1, l2, vmm, desc */
  refusedByType: Record<string, number>;
  /** hypercall argument buffers outside the guest's frames */
  hypercallBuffersRefused: number;
}

export class MemoryPolicy implements DmaPolicy {
  readonly type: Uint8Array;
  readonly typeRefs: Uint32Array;
  readonly pinned: Uint8Array;
  readonly writable: Uint32Array;
  readonly deviceWrites: Uint32Array;
  readonly stats: PolicyStats = { deviceWrites: 0, deviceWritesRefused: 0, refusedByType: {}, hypercallBuffersRefused: 0 };

  /**
   * @param ramFrames  frames of RAM the policy types: [0, ramFrames)
   * @param guestFrames frames the guest owns: [0, guestFrames); the rest of RAM is the VMM's
   * @param descFrames frames (≥ guestFrames) holding the descriptor tables the CPU uses
   */
  constructor(readonly ramFrames: number, readonly guestFrames: number, descFrames: number[] = []) {
    if (!(guestFrames <= ramFrames)) throw new RangeError("wasmvisor para: guest frames exceed RAM");
    this.type = new Uint8Array(ramFrames);
    this.typeRefs = new Uint32Array(ramFrames);
    this.pinned = new Uint8Array(ramFrames);
    this.writable = new Uint32Array(ramFrames);
    this.deviceWrites = new Uint32Array(ramFrames);
    this.type.fill(FT.VMM, guestFrames);
    for (const f of descFrames) if (f >= guestFrames && f < ramFrames) this.type[f] = FT.DESC;
  }

  /** bytes of guest-physical memory the guest owns (and devices may address): [0, guestBytes) */
  get guestBytes(): number { return this.guestFrames * PAGE; }

  /** [pa, pa+len) lies in the guest's own frames — any numbers (overflow-free). */
  inGuest(pa: number, len: number): boolean {
    return Number.isInteger(pa) && Number.isInteger(len) && pa >= 0 && len >= 0 && pa <= this.guestBytes && len <= this.guestBytes - pa;
  }

  /** A hypercall may read its argument buffer [pa, pa+len): the guest can read all its frames (page tables too). */
  hypercallReadable(pa: number, len: number): boolean {
    if (this.inGuest(pa, len)) return true;
    this.stats.hypercallBuffersRefused++;
    return false;
  }

  /** The type of the first frame in [pa, pa+len) a device may not write, or -1 if all are RAM. No counting. */
  protectedIn(pa: number, len: number): number {
    if (!this.inGuest(pa, len)) return FT.VMM;
    if (len === 0) return -1;
    const last = Math.floor((pa + len - 1) / PAGE);
    for (let f = Math.floor(pa / PAGE); f <= last; f++) if (this.type[f] !== FT.RAM) return this.type[f];
    return -1;
  }

  /** May a device write [pa, pa+len)? Only if every frame is the guest's ordinary RAM. */
  deviceMayWrite(pa: number, len: number): boolean { return this.protectedIn(pa, len) < 0; }

  /**
   * Checks a whole device request up front: every [addr, len) segment it would write. Counts the request as allowed
   * or refused (by the type of the first protected frame), so a refused request writes nothing at all.
   */
  checkDeviceWrite(segs: readonly { addr: number; len: number }[]): boolean {
    for (const s of segs) {
      const t = this.protectedIn(s.addr, s.len);
      if (t >= 0) {
        this.stats.deviceWritesRefused++;
        const k = FT_NAMES[t];
        this.stats.refusedByType[k] = (this.stats.refusedByType[k] ?? 0) + 1;
        return false;
      }
    }
    this.stats.deviceWrites++;
    return true;
  }

  /** Marks the frames of a checked device write in flight (they cannot become page tables until release). */
  claim(segs: readonly { addr: number; len: number }[], d: 1 | -1 = 1): void {
    for (const s of segs) {
      if (s.len === 0) continue;
      const last = Math.floor((s.addr + s.len - 1) / PAGE);
      for (let f = Math.floor(s.addr / PAGE); f <= last; f++) this.deviceWrites[f] += d;
    }
  }
  release(segs: readonly { addr: number; len: number }[]): void { this.claim(segs, -1); }
}
