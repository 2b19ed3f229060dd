// mock-driver.ts — a virtio driver written in TypeScript that plays the guest in tests: it drives a VirtioMmio
// transport through its registers exactly as a guest would (status handshake, feature negotiation, queue setup),
// lays out split virtqueues in an ArrayMemory, publishes chains, kicks, and reads the used ring back.
// It also exposes raw access (descriptor writes, avail.idx) so tests can play a hostile driver.
import { DESC_SIZE, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from "./chain.ts";
import type { GuestMemory } from "./memory.ts";
import { F, R, STATUS, type VirtioMmio } from "./mmio.ts";
import { availRingSize, descTableSize, usedRingSize } from "./queue.ts";

export interface Buf {
  addr: number;
  len: number;
  write?: boolean;
}

export interface MockQueue {
  index: number;
  size: number;
  desc: number;
  avail: number;
  used: number;
  /** driver's free-running avail.idx */
  availIdx: number;
  /** last used.idx we consumed */
  lastUsed: number;
  /** next free descriptor (simple bump allocator, wraps) */
  nextDesc: number;
}

export class MockDriver {
  readonly queues: MockQueue[] = [];
  /** bump allocator for ring memory and buffers */
  private brk: number;

  constructor(readonly dev: VirtioMmio, readonly mem: GuestMemory, heapBase = 0x1000) {
    this.brk = heapBase;
  }

  r32(off: number): number { return this.dev.read(off, 4); }
  w32(off: number, v: number): void { this.dev.write(off, 4, v); }

  alloc(len: number, align = 16): number {
    this.brk = Math.ceil(this.brk / align) * align;
    const a = this.brk;
    this.brk += len;
    if (this.brk > this.mem.size) throw new Error("mock driver: out of memory");
    return a;
  }

  /** §3.1.1 driver initialization; returns false if the device refused FEATURES_OK. */
  init(opts: { features?: bigint; eventIdx?: boolean; indirect?: boolean } = {}): boolean {
    this.w32(R.STATUS, 0);
    this.w32(R.STATUS, STATUS.ACKNOWLEDGE);
    this.w32(R.STATUS, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    this.w32(R.DEVICE_FEATURES_SEL, 0);
    const lo = this.r32(R.DEVICE_FEATURES);
    this.w32(R.DEVICE_FEATURES_SEL, 1);
    const hi = this.r32(R.DEVICE_FEATURES);
    const offered = (BigInt(hi) << 32n) | BigInt(lo);
    let want = opts.features ?? (offered & ~((1n << BigInt(F.EVENT_IDX)) | (1n << BigInt(F.INDIRECT_DESC))));
    if (opts.eventIdx) want |= 1n << BigInt(F.EVENT_IDX);
    if (opts.indirect) want |= 1n << BigInt(F.INDIRECT_DESC);
    this.w32(R.DRIVER_FEATURES_SEL, 0);
    this.w32(R.DRIVER_FEATURES, Number(want & 0xffffffffn));
    this.w32(R.DRIVER_FEATURES_SEL, 1);
    this.w32(R.DRIVER_FEATURES, Number(want >> 32n));
    this.w32(R.STATUS, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
    return (this.r32(R.STATUS) & STATUS.FEATURES_OK) !== 0;
  }

  /** Lays out queue `index` with `size` entries (default: the device's max) and makes it ready. */
  setupQueue(index: number, size?: number, at?: { desc?: number; avail?: number; used?: number }): MockQueue {
    this.w32(R.QUEUE_SEL, index);
    const max = this.r32(R.QUEUE_NUM_MAX);
    const n = size ?? max;
    const q: MockQueue = {
      index, size: n,
      desc: at?.desc ?? this.alloc(descTableSize(n), 16),
      avail: at?.avail ?? this.alloc(availRingSize(n), 2),
      used: at?.used ?? this.alloc(usedRingSize(n), 4),
      availIdx: 0, lastUsed: 0, nextDesc: 0,
    };
    this.w32(R.QUEUE_NUM, n);
    this.w32(R.QUEUE_DESC_LOW, q.desc); this.w32(R.QUEUE_DESC_HIGH, 0);
    this.w32(R.QUEUE_DRIVER_LOW, q.avail); this.w32(R.QUEUE_DRIVER_HIGH, 0);
    this.w32(R.QUEUE_DEVICE_LOW, q.used); this.w32(R.QUEUE_DEVICE_HIGH, 0);
    this.w32(R.QUEUE_READY, 1);
    this.queues[index] = q;
    return q;
  }

  driverOk(): void { this.w32(R.STATUS, this.r32(R.STATUS) | STATUS.DRIVER_OK); }

  // ---------------------------------------------------------------- raw ring access (also for hostile tests)
  writeDesc(table: number, i: number, addr: number, len: number, flags: number, next: number, addrHi = 0): void {
    const a = table + i * DESC_SIZE;
    this.mem.write32(a, addr); this.mem.write32(a + 4, addrHi); this.mem.write32(a + 8, len);
    this.mem.write16(a + 12, flags); this.mem.write16(a + 14, next);
  }
  /** puts head in the next avail slot and bumps avail.idx (by `publish` entries, default 1) */
  publish(q: MockQueue, head: number): void {
    this.mem.write16(q.avail + 4 + 2 * (q.availIdx % q.size), head);
    q.availIdx = (q.availIdx + 1) & 0xffff;
    this.mem.write16(q.avail + 2, q.availIdx);
  }
  setAvailIdx(q: MockQueue, idx: number): void { q.availIdx = idx & 0xffff; this.mem.write16(q.avail + 2, q.availIdx); }
  setAvailFlags(q: MockQueue, flags: number): void { this.mem.write16(q.avail, flags); }
  setUsedEvent(q: MockQueue, v: number): void { this.mem.write16(q.avail + 4 + 2 * q.size, v); }
  availEvent(q: MockQueue): number { return this.mem.read16(q.used + 4 + 8 * q.size); }
  usedIdx(q: MockQueue): number { return this.mem.read16(q.used + 2); }

  // ---------------------------------------------------------------- well-formed chains
  /** Writes a chain of direct descriptors (readable first) and publishes it; returns the head index. */
  add(q: MockQueue, bufs: Buf[], opts: { publish?: boolean } = {}): number {
    const ids = bufs.map(() => { const i = q.nextDesc; q.nextDesc = (q.nextDesc + 1) % q.size; return i; });
    bufs.forEach((b, k) => this.writeDesc(q.desc, ids[k], b.addr, b.len,
      (b.write ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < bufs.length ? VIRTQ_DESC_F_NEXT : 0), k + 1 < bufs.length ? ids[k + 1] : 0));
    if (opts.publish !== false) this.publish(q, ids[0]);
    return ids[0];
  }

  /** Same chain through one indirect table (one ring descriptor). */
  addIndirect(q: MockQueue, bufs: Buf[]): number {
    const table = this.alloc(bufs.length * DESC_SIZE, 16);
    bufs.forEach((b, k) => this.writeDesc(table, k, b.addr, b.len,
      (b.write ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < bufs.length ? VIRTQ_DESC_F_NEXT : 0), k + 1));
    const head = q.nextDesc;
    q.nextDesc = (q.nextDesc + 1) % q.size;
    this.writeDesc(q.desc, head, table, bufs.length * DESC_SIZE, VIRTQ_DESC_F_INDIRECT, 0);
    this.publish(q, head);
    return head;
  }

  kick(q: MockQueue): void { this.w32(R.QUEUE_NOTIFY, q.index); }

  /** Used entries the device returned since the last call. */
  takeUsed(q: MockQueue): { id: number; len: number }[] {
    const out: { id: number; len: number }[] = [];
    const idx = this.usedIdx(q);
    while (q.lastUsed !== idx) {
      const slot = q.used + 4 + 8 * (q.lastUsed % q.size);
      out.push({ id: this.mem.read32(slot), len: this.mem.read32(slot + 4) });
      q.lastUsed = (q.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  ackInterrupt(): number {
    const s = this.r32(R.INTERRUPT_STATUS);
    this.w32(R.INTERRUPT_ACK, s);
    return s;
  }
}
