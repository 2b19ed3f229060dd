// queue.ts — the device side of a virtio 1.x split virtqueue (§2.7).
//
//   descriptor table   size x 16 bytes, 16-byte aligned           (chain.ts)
//   available ring     driver → device, 2-byte aligned:
//     le16 flags (VIRTQ_AVAIL_F_NO_INTERRUPT 1); le16 idx; le16 ring[size]; le16 used_event (EVENT_IDX only)
//   used ring          device → driver, 4-byte aligned:
//     le16 flags (VIRTQ_USED_F_NO_NOTIFY 1);     le16 idx; {le32 id; le32 len} ring[size]; le16 avail_event (EVENT_IDX)
//
// idx fields are free-running 16-bit counters: ring slot = idx % size (size is a power of two), and every
// difference is taken mod 2^16, so wrap-around at 65535 → 0 is invisible. The driver may not publish more than
// `size` new entries at once: avail.idx - next_avail > size (mod 2^16) is a driver error.
//
// Safety (rust-vmm virtio-queue's model): the queue's configuration is validated once when the driver sets it
// ready (isValid: power-of-two size ≤ max, alignment, all three areas inside the DMA window without overflow);
// every chain is walked by parseChain with a ttl; any violation is counted in `errors` and reported to the
// device, which marks itself DEVICE_NEEDS_RESET (virtio-mmio.ts) and stops using the queue until reset. Nothing
// a driver writes can make the host throw or touch memory outside the window.
// The memory policy (GuestMemory.mayWrite; para mode: host/para/policy.ts) is asked before every store the queue
// makes (used ring entries, used.idx, avail_event), not only at setup: the guest may turn a ring frame into a page
// table after the queue became ready. A refused store is error "policy": nothing is written, the queue stops.
//
// Notification suppression: without EVENT_IDX, the device interrupts unless avail.flags has NO_INTERRUPT, and
// the driver kicks unless used.flags has NO_NOTIFY (we never set it: a kick costs us nothing once we are in the
// host). With VIRTIO_F_EVENT_IDX (§2.7.10) the device interrupts only when the used index crosses used_event,
// computed with vring_need_event(), and publishes avail_event = next_avail so the driver kicks only when needed.
import { type GuestMemory, inRange } from "./memory.ts";
import { ChainError, type ChainErrorCode, DESC_SIZE, type DescriptorChain, parseChain } from "./chain.ts";

export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTQ_USED_F_NO_NOTIFY = 1;
export const MAX_QUEUE_SIZE = 32768;

export function descTableSize(size: number): number { return DESC_SIZE * size; }
export function availRingSize(size: number, eventIdx = true): number { return 4 + 2 * size + (eventIdx ? 2 : 0); }
export function usedRingSize(size: number, eventIdx = true): number { return 4 + 8 * size + (eventIdx ? 2 : 0); }

/** vring_need_event (§2.7.10 / linux virtio_ring.h): has new_idx passed event_idx since old? */
export function needEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}

export type QueueErrorCode = ChainErrorCode | "config" | "avail-idx" | "policy";

export interface QueueStats {
  chains: number;
  used: number;
  notificationsSuppressed: number;
  interruptsSignalled: number;
  errors: Record<QueueErrorCode, number>;
}

export class QueueError {
  constructor(readonly code: QueueErrorCode, readonly message: string) {}
}

export class Queue {
  // ---- set by the driver through the transport ----
  size: number;
  ready = false;
  descTable = 0;
  availRing = 0;
  usedRing = 0;
  /** upper 32 bits of the three addresses (must be 0 here: a 32-bit guest) */
  descHi = 0; availHi = 0; usedHi = 0;
  // ---- negotiated features ----
  eventIdx = false;
  indirect = false;
  // ---- device-private ----
  nextAvail = 0;
  nextUsed = 0;
  /** used.idx when we last signalled (EVENT_IDX) */
  private signalledUsed = 0;
  private signalledValid = false;
  /** a driver error stopped this queue: nothing more is taken from it until reset */
  broken = false;
  readonly stats: QueueStats = { chains: 0, used: 0, notificationsSuppressed: 0, interruptsSignalled: 0,
    errors: { index: 0, loop: 0, range: 0, length: 0, indirect: 0, order: 0, config: 0, "avail-idx": 0, policy: 0 } };

  constructor(readonly maxSize: number) {
    if (!(maxSize >= 1 && maxSize <= MAX_QUEUE_SIZE && (maxSize & (maxSize - 1)) === 0)) throw new RangeError(`wasmvisor virtio: bad max queue size ${maxSize}`);
    this.size = maxSize;
  }

  reset(): void {
    this.size = this.maxSize;
    this.ready = false;
    this.descTable = this.availRing = this.usedRing = this.descHi = this.availHi = this.usedHi = 0;
    this.eventIdx = this.indirect = false;
    this.nextAvail = this.nextUsed = this.signalledUsed = 0;
    this.signalledValid = false;
    this.broken = false;
  }

  /** Checks the driver's configuration (§2.7: sizes, alignment; ours: inside the DMA window). */
  validate(mem: GuestMemory): QueueError | null {
    const s = this.size;
    if (!(s >= 1 && s <= this.maxSize && (s & (s - 1)) === 0)) return new QueueError("config", `queue size ${s} is not a power of two <= ${this.maxSize}`);
    if (this.descHi || this.availHi || this.usedHi) return new QueueError("config", "ring address above 4 GiB");
    if (this.descTable % 16) return new QueueError("config", "descriptor table not 16-byte aligned");
    if (this.availRing % 2) return new QueueError("config", "available ring not 2-byte aligned");
    if (this.usedRing % 4) return new QueueError("config", "used ring not 4-byte aligned");
    if (!inRange(mem, this.descTable, descTableSize(s))) return new QueueError("config", "descriptor table outside guest memory");
    if (!inRange(mem, this.availRing, availRingSize(s))) return new QueueError("config", "available ring outside guest memory");
    if (!inRange(mem, this.usedRing, usedRingSize(s))) return new QueueError("config", "used ring outside guest memory");
    if (!mem.mayWrite(this.usedRing, usedRingSize(s))) return new QueueError("policy", "used ring in a frame devices may not write (a page table?)");
    return null;
  }

  /** Count an error and stop the queue; returns the error for the caller to report. */
  fail(e: QueueError | ChainError): QueueError {
    this.stats.errors[e.code]++;
    this.broken = true;
    return e instanceof QueueError ? e : new QueueError(e.code, e.message);
  }

  private availIdx(mem: GuestMemory): number { return mem.read16(this.availRing + 2); }

  /** Number of chains the driver has published that we have not taken (or a QueueError if avail.idx is absurd). */
  pending(mem: GuestMemory): number | QueueError {
    const n = (this.availIdx(mem) - this.nextAvail) & 0xffff;
    if (n > this.size) return this.fail(new QueueError("avail-idx", `available index moved ${n} entries past ours, queue size ${this.size}`));
    return n;
  }

  /**
   * Takes the next available chain: the chain, null if none, or a QueueError (the queue is now broken).
   * With EVENT_IDX, publishes avail_event so the driver kicks again for the next one.
   */
  pop(mem: GuestMemory): DescriptorChain | null | QueueError {
    if (!this.ready || this.broken) return null;
    const n = this.pending(mem);
    if (n instanceof QueueError) return n;
    if (n === 0) return null;
    const head = mem.read16(this.availRing + 4 + 2 * (this.nextAvail % this.size));
    this.nextAvail = (this.nextAvail + 1) & 0xffff;
    if (this.eventIdx) {
      const at = this.usedRing + 4 + 8 * this.size;
      if (!mem.mayWrite(at, 2)) return this.fail(new QueueError("policy", "avail_event in a frame devices may not write"));
      mem.write16(at, this.nextAvail);
    }
    const c = parseChain(mem, this.descTable, this.size, head, this.indirect);
    if (c instanceof ChainError) return this.fail(c);
    this.stats.chains++;
    return c;
  }

  /**
   * Returns a chain to the driver: used ring entry {id: head, len: bytes written}, then used.idx (in that order).
   * A QueueError (the queue is now broken) if the policy refuses the stores.
   */
  addUsed(mem: GuestMemory, head: number, len: number): QueueError | null {
    const slot = this.usedRing + 4 + 8 * (this.nextUsed % this.size);
    if (!mem.mayWrite(slot, 8) || !mem.mayWrite(this.usedRing + 2, 2)) return this.fail(new QueueError("policy", "used ring in a frame devices may not write (a page table?)"));
    mem.write32(slot, head);
    mem.write32(slot + 4, len);
    this.nextUsed = (this.nextUsed + 1) & 0xffff;
    mem.write16(this.usedRing + 2, this.nextUsed); // publishes the entry (stores are ordered on the host)
    this.stats.used++;
    return null;
  }

  /** After a batch of addUsed: should the driver get an interrupt? (§2.7.7.2 / §2.7.10) */
  needsInterrupt(mem: GuestMemory): boolean {
    // as rust-vmm's needs_notification: compare against used.idx at the previous check, whatever it decided
    const old = this.signalledUsed, hadOld = this.signalledValid;
    this.signalledUsed = this.nextUsed;
    this.signalledValid = true;
    let need: boolean;
    if (hadOld && old === this.nextUsed) need = false; // nothing new
    else if (this.eventIdx) need = !hadOld || needEvent(mem.read16(this.availRing + 4 + 2 * this.size), this.nextUsed, old);
    else need = (mem.read16(this.availRing) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    if (need) this.stats.interruptsSignalled++; else this.stats.notificationsSuppressed++;
    return need;
  }
}
