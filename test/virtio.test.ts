// virtio.test.ts — split virtqueues, the virtio-mmio transport, virtio-blk and virtio-console, driven by the mock
// driver (host/virtio/mock-driver.ts) playing a well-behaved guest, then a hostile one.
import { describe, it, expect } from "vitest";
import { ArrayMemory } from "../host/virtio/memory.ts";
import { VirtioMmio, R, STATUS, INT_USED, INT_CONFIG, VIRTIO_MMIO_MAGIC, F } from "../host/virtio/mmio.ts";
import { VirtioBlk, BLK_T, BLK_S, BLK_F } from "../host/virtio/blk.ts";
import { VirtioConsole } from "../host/virtio/console.ts";
import { MockDriver, type MockQueue } from "../host/virtio/mock-driver.ts";
import { needEvent } from "../host/virtio/queue.ts";
import { MAX_CHAIN_BYTES, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from "../host/virtio/chain.ts";
import { MemoryBackend } from "../host/devices/block.ts";

const MEM = 1 << 20;
/** the last 64 KiB play the VMM region: outside the DMA window */
const WINDOW = MEM - 0x10000;

function blkSetup(opts: { sectors?: number; eventIdx?: boolean; indirect?: boolean; queueSize?: number; readonly?: boolean } = {}) {
  const mem = new ArrayMemory(MEM, WINDOW);
  const disk = new MemoryBackend((opts.sectors ?? 256) * 512, { readonly: opts.readonly });
  const blk = new VirtioBlk(disk);
  const irqs: boolean[] = [];
  const dev = new VirtioMmio(blk, mem, { irq: (l) => irqs.push(l) });
  const drv = new MockDriver(dev, mem);
  expect(drv.init({ eventIdx: opts.eventIdx, indirect: opts.indirect })).toBe(true);
  const q = drv.setupQueue(0, opts.queueSize);
  drv.driverOk();
  return { mem, disk, blk, dev, drv, q, irqs };
}

/** one blk request: header, data, status; returns the addresses */
function blkReq(t: ReturnType<typeof blkSetup>, type: number, sector: number, dataLen: number, opts: { indirect?: boolean; publish?: boolean } = {}) {
  const { drv, mem, q } = t;
  const hdr = drv.alloc(16), data = dataLen ? drv.alloc(dataLen) : 0, status = drv.alloc(1, 1);
  mem.write32(hdr, type); mem.write32(hdr + 4, 0); mem.write32(hdr + 8, sector); mem.write32(hdr + 12, 0);
  mem.write(status, Uint8Array.of(0xff));
  const bufs = [{ addr: hdr, len: 16 }];
  if (dataLen) bufs.push({ addr: data, len: dataLen, write: type !== BLK_T.OUT } as never);
  bufs.push({ addr: status, len: 1, write: true } as never);
  const head = opts.indirect ? drv.addIndirect(q, bufs) : drv.add(q, bufs, { publish: opts.publish });
  return { head, hdr, data, status };
}

describe("virtio-mmio transport", () => {
  it("identifies itself as virtio-mmio v2 and negotiates features", () => {
    const t = blkSetup();
    expect(t.drv.r32(R.MAGIC)).toBe(VIRTIO_MMIO_MAGIC);
    expect(t.drv.r32(R.VERSION)).toBe(2);
    expect(t.drv.r32(R.DEVICE_ID)).toBe(2);
    expect(t.drv.r32(R.QUEUE_NUM_MAX)).toBe(128);
    expect(t.dev.status & STATUS.DRIVER_OK).toBeTruthy();
    expect(t.dev.has(F.VERSION_1)).toBe(true);
    expect(t.dev.has(BLK_F.FLUSH)).toBe(true);
    // config: capacity
    expect(t.dev.read(R.CONFIG, 4)).toBe(256);
    expect(t.dev.read(R.CONFIG + 20, 4)).toBe(512);
  });

  it("refuses FEATURES_OK for a feature it does not offer, or without VERSION_1", () => {
    const mem = new ArrayMemory(MEM);
    const dev = new VirtioMmio(new VirtioBlk(new MemoryBackend(4096)), mem);
    const drv = new MockDriver(dev, mem);
    expect(drv.init({ features: (1n << 32n) | (1n << 20n) })).toBe(false);
    expect(drv.init({ features: 1n << 9n })).toBe(false);
    expect(drv.init({ features: 1n << 32n })).toBe(true);
  });

  it("rejects narrow register accesses and queue changes while ready, without throwing", () => {
    const t = blkSetup();
    expect(t.dev.read(R.MAGIC, 2)).toBe(0);
    t.dev.write(R.QUEUE_NUM, 4, 8);
    expect(t.dev.queues[0].size).toBe(128);
    expect(t.dev.errors.get("narrow-read")).toBe(1);
    expect(t.dev.errors.get("queue-live")).toBe(1);
  });

  it("reset (Status = 0) clears queues, features and interrupts", () => {
    const t = blkSetup();
    blkReq(t, BLK_T.FLUSH, 0, 0);
    t.drv.kick(t.q);
    expect(t.dev.interruptStatus).toBe(INT_USED);
    t.drv.w32(R.STATUS, 0);
    expect(t.dev.status).toBe(0);
    expect(t.dev.interruptStatus).toBe(0);
    expect(t.dev.queues[0].ready).toBe(false);
    expect(t.irqs.at(-1)).toBe(false);
  });
});

describe("virtio-blk", () => {
  it("writes, reads back, flushes and returns its id", () => {
    const t = blkSetup();
    const w = blkReq(t, BLK_T.OUT, 3, 1024);
    const payload = new Uint8Array(1024).map((_, i) => (i * 7) & 0xff);
    t.mem.write(w.data, payload);
    t.drv.kick(t.q);
    expect(t.drv.takeUsed(t.q)).toEqual([{ id: w.head, len: 1 }]);
    expect(t.mem.read(w.status, 1)[0]).toBe(BLK_S.OK);
    expect(t.disk.data.subarray(3 * 512, 5 * 512)).toEqual(payload);
    const r = blkReq(t, BLK_T.IN, 3, 1024);
    t.drv.kick(t.q);
    expect(t.drv.takeUsed(t.q)).toEqual([{ id: r.head, len: 1025 }]);
    expect(t.mem.read(r.data, 1024)).toEqual(payload);
    const f = blkReq(t, BLK_T.FLUSH, 0, 0);
    const id = blkReq(t, BLK_T.GET_ID, 0, 20);
    t.drv.kick(t.q);
    expect(t.drv.takeUsed(t.q)).toEqual([{ id: f.head, len: 1 }, { id: id.head, len: 21 }]);
    expect(t.disk.flushes).toBe(1);
    expect(new TextDecoder().decode(t.mem.read(id.data, 20)).replace(/\0+$/, "")).toBe("wasmvisor-virtio-blk");
  });

  it("one doorbell and one interrupt for a batch of requests", () => {
    const t = blkSetup();
    for (let i = 0; i < 10; i++) blkReq(t, BLK_T.IN, i, 512);
    t.drv.kick(t.q);
    expect(t.drv.takeUsed(t.q)).toHaveLength(10);
    expect(t.dev.stats.notifies).toBe(1);
    expect(t.dev.stats.interrupts).toBe(1);
    expect(t.irqs).toEqual([true]);
    expect(t.drv.ackInterrupt()).toBe(INT_USED);
    expect(t.irqs).toEqual([true, false]);
  });

  it("scatters a request over many descriptors and through an indirect table", () => {
    const t = blkSetup({ indirect: true });
    t.disk.data.set(new Uint8Array(2048).fill(0x5a), 0);
    const hdr = t.drv.alloc(16), st = t.drv.alloc(1, 1);
    t.mem.write32(hdr, BLK_T.IN); t.mem.write32(hdr + 8, 0);
    const parts = [100, 412, 1024, 512].map((n) => ({ addr: t.drv.alloc(n, 1), len: n, write: true }));
    const head = t.drv.addIndirect(t.q, [{ addr: hdr, len: 16 }, ...parts, { addr: st, len: 1, write: true }]);
    t.drv.kick(t.q);
    expect(t.drv.takeUsed(t.q)).toEqual([{ id: head, len: 2049 }]);
    for (const p of parts) expect(t.mem.read(p.addr, p.len).every((b) => b === 0x5a)).toBe(true);
    expect(t.dev.queues[0].stats.chains).toBe(1);
  });

  it("fails bad requests with IOERR / UNSUPP and keeps going", () => {
    const t = blkSetup({ sectors: 16 });
    const past = blkReq(t, BLK_T.IN, 16, 512);
    const odd = blkReq(t, BLK_T.OUT, 0, 100);
    const huge = blkReq(t, BLK_T.IN, 0xfffffff0, 512);
    const weird = blkReq(t, 77, 0, 0);
    const ok = blkReq(t, BLK_T.IN, 15, 512);
    t.drv.kick(t.q);
    expect(t.drv.takeUsed(t.q).map((u) => u.id)).toEqual([past.head, odd.head, huge.head, weird.head, ok.head]);
    expect([past, odd, huge, weird, ok].map((r) => t.mem.read(r.status, 1)[0])).toEqual([BLK_S.IOERR, BLK_S.IOERR, BLK_S.IOERR, BLK_S.UNSUPP, BLK_S.OK]);
    expect(t.blk.stats.ioErrors).toBe(3);
    expect(t.dev.status & STATUS.NEEDS_RESET).toBe(0);
  });

  it("refuses writes to a read-only backend", () => {
    const t = blkSetup({ readonly: true });
    expect(t.dev.offered & (1n << BigInt(BLK_F.RO))).toBeTruthy();
    const w = blkReq(t, BLK_T.OUT, 0, 512);
    t.drv.kick(t.q);
    expect(t.mem.read(w.status, 1)[0]).toBe(BLK_S.IOERR);
  });

  it("survives 16-bit index wrap-around (70,000 requests on an 8-entry queue)", () => {
    const t = blkSetup({ queueSize: 8 });
    const st = t.drv.alloc(1, 1), hdr = t.drv.alloc(16);
    t.mem.write32(hdr, BLK_T.FLUSH);
    let done = 0;
    for (let i = 0; i < 70000; i += 4) {
      for (let k = 0; k < 4; k++) t.drv.add(t.q, [{ addr: hdr, len: 16 }, { addr: st, len: 1, write: true }]);
      t.drv.kick(t.q);
      done += t.drv.takeUsed(t.q).length;
    }
    expect(done).toBe(70000);
    expect(t.dev.queues[0].nextAvail).toBe(70000 & 0xffff);
    expect(t.drv.usedIdx(t.q)).toBe(70000 & 0xffff);
    expect(t.dev.status & STATUS.NEEDS_RESET).toBe(0);
  });

  it("suppresses interrupts with NO_INTERRUPT, and with EVENT_IDX signals only when used_event is crossed", () => {
    const t = blkSetup();
    t.drv.setAvailFlags(t.q, 1);
    blkReq(t, BLK_T.FLUSH, 0, 0);
    t.drv.kick(t.q);
    expect(t.dev.stats.interrupts).toBe(0);

    const e = blkSetup({ eventIdx: true });
    e.drv.setUsedEvent(e.q, 5); // interrupt me when used.idx passes 5 (i.e. after the 6th)
    let ints = 0;
    for (let i = 0; i < 8; i++) {
      blkReq(e, BLK_T.FLUSH, 0, 0);
      const before = e.dev.stats.interrupts;
      e.drv.kick(e.q);
      if (e.dev.stats.interrupts > before) ints++;
      if (i === 0) expect(e.dev.stats.interrupts).toBe(1); // first batch always signals
    }
    expect(ints).toBe(2); // the first batch, then crossing 5
    expect(e.drv.availEvent(e.q)).toBe(8); // the device asks to be kicked at the next new entry
    expect(needEvent(5, 6, 5)).toBe(true);
    expect(needEvent(5, 5, 4)).toBe(false);
    expect(needEvent(0xffff, 0, 0xfffe)).toBe(true); // across the wrap
  });
});

describe("virtio: hostile drivers", () => {
  /** a blk device, a queue, and a raw chain published at head 0 */
  function hostile(write: (t: ReturnType<typeof blkSetup>) => void, opts: { indirect?: boolean; queueSize?: number } = {}) {
    const t = blkSetup({ ...opts, queueSize: opts.queueSize ?? 8 });
    write(t);
    t.drv.publish(t.q, 0);
    expect(() => t.drv.kick(t.q)).not.toThrow();
    return t;
  }
  function expectReset(t: ReturnType<typeof blkSetup>, code: string) {
    expect(t.dev.status & STATUS.NEEDS_RESET).toBe(STATUS.NEEDS_RESET);
    expect(t.dev.interruptStatus & INT_CONFIG).toBe(INT_CONFIG);
    expect(t.dev.queues[0].stats.errors[code as "loop"]).toBe(1);
    expect(t.drv.takeUsed(t.q)).toEqual([]);
    // the device stays dead until reset, then works again
    blkReq(t, BLK_T.FLUSH, 0, 0);
    t.drv.kick(t.q);
    expect(t.drv.takeUsed(t.q)).toEqual([]);
    expect(t.drv.init()).toBe(true);
    const q = t.drv.setupQueue(0, 8);
    t.drv.driverOk();
    const hdr = t.drv.alloc(16), st = t.drv.alloc(1, 1);
    t.mem.write32(hdr, BLK_T.FLUSH);
    t.drv.add(q, [{ addr: hdr, len: 16 }, { addr: st, len: 1, write: true }]);
    t.drv.kick(q);
    expect(t.drv.takeUsed(q)).toHaveLength(1);
  }

  it("a descriptor loop (0 → 1 → 0)", () => {
    const t = hostile((t) => {
      t.drv.writeDesc(t.q.desc, 0, 0x8000, 16, VIRTQ_DESC_F_NEXT, 1);
      t.drv.writeDesc(t.q.desc, 1, 0x9000, 16, VIRTQ_DESC_F_NEXT, 0);
    });
    expectReset(t, "loop");
  });

  it("a self-loop", () => {
    expectReset(hostile((t) => t.drv.writeDesc(t.q.desc, 0, 0x8000, 16, VIRTQ_DESC_F_NEXT, 0)), "loop");
  });

  it("a loop inside an indirect table", () => {
    const t = hostile((t) => {
      const tbl = t.drv.alloc(32);
      t.drv.writeDesc(tbl, 0, 0x8000, 16, VIRTQ_DESC_F_NEXT, 1);
      t.drv.writeDesc(tbl, 1, 0x8000, 16, VIRTQ_DESC_F_NEXT, 0);
      t.drv.writeDesc(t.q.desc, 0, tbl, 32, VIRTQ_DESC_F_INDIRECT, 0);
    }, { indirect: true });
    expectReset(t, "loop");
  });

  it("a next index beyond the queue size", () => {
    expectReset(hostile((t) => t.drv.writeDesc(t.q.desc, 0, 0x8000, 16, VIRTQ_DESC_F_NEXT, 8)), "index");
  });

  it("a head index beyond the queue size", () => {
    const t = blkSetup({ queueSize: 8 });
    t.drv.publish(t.q, 1000);
    t.drv.kick(t.q);
    expectReset(t, "index");
  });

  it("a buffer outside guest RAM", () => {
    expectReset(hostile((t) => t.drv.writeDesc(t.q.desc, 0, MEM + 0x1000, 16, 0, 0)), "range");
  });

  it("a buffer in the VMM region (inside RAM, outside the DMA window)", () => {
    expectReset(hostile((t) => t.drv.writeDesc(t.q.desc, 0, WINDOW + 0x100, 16, 0, 0)), "range");
  });

  it("a buffer that straddles the end of the DMA window", () => {
    expectReset(hostile((t) => t.drv.writeDesc(t.q.desc, 0, WINDOW - 8, 16, 0, 0)), "range");
  });

  it("an address above 4 GiB (addr high word)", () => {
    expectReset(hostile((t) => t.drv.writeDesc(t.q.desc, 0, 0x8000, 16, 0, 0, 1)), "range");
  });

  it("an address + length that overflows 32 bits", () => {
    expectReset(hostile((t) => t.drv.writeDesc(t.q.desc, 0, 0xfffff000, 0x2000, 0, 0)), "range");
  });

  it("an absurd length", () => {
    expectReset(hostile((t) => t.drv.writeDesc(t.q.desc, 0, 0x8000, 0xffffffff, 0, 0)), "length");
  });

  it("a chain whose total exceeds the cap (many in-range descriptors)", () => {
    const t = hostile((t) => {
      const tbl = t.drv.alloc(16 * 40);
      for (let i = 0; i < 40; i++) t.drv.writeDesc(tbl, i, 0, WINDOW, VIRTQ_DESC_F_NEXT, i + 1);
      t.drv.writeDesc(tbl, 39, 0, WINDOW, 0, 0);
      t.drv.writeDesc(t.q.desc, 0, tbl, 16 * 40, VIRTQ_DESC_F_INDIRECT, 0);
    }, { indirect: true });
    expect(40 * WINDOW).toBeGreaterThan(MAX_CHAIN_BYTES);
    expectReset(t, "length");
  });

  it("INDIRECT with NEXT, nested INDIRECT, INDIRECT not negotiated, bad table length", () => {
    expectReset(hostile((t) => t.drv.writeDesc(t.q.desc, 0, 0x8000, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1), { indirect: true }), "indirect");
    expectReset(hostile((t) => {
      const tbl = t.drv.alloc(16);
      t.drv.writeDesc(tbl, 0, tbl, 16, VIRTQ_DESC_F_INDIRECT, 0);
      t.drv.writeDesc(t.q.desc, 0, tbl, 16, VIRTQ_DESC_F_INDIRECT, 0);
    }, { indirect: true }), "indirect");
    expectReset(hostile((t) => t.drv.writeDesc(t.q.desc, 0, 0x8000, 32, VIRTQ_DESC_F_INDIRECT, 0)), "indirect");
    expectReset(hostile((t) => t.drv.writeDesc(t.q.desc, 0, 0x8000, 20, VIRTQ_DESC_F_INDIRECT, 0), { indirect: true }), "indirect");
  });

  it("an indirect table outside guest memory", () => {
    expectReset(hostile((t) => t.drv.writeDesc(t.q.desc, 0, WINDOW, 64, VIRTQ_DESC_F_INDIRECT, 0), { indirect: true }), "range");
  });

  it("a readable descriptor after a writable one", () => {
    expectReset(hostile((t) => {
      t.drv.writeDesc(t.q.desc, 0, 0x8000, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
      t.drv.writeDesc(t.q.desc, 1, 0x9000, 16, 0, 0);
    }), "order");
  });

  it("avail.idx jumping more than the queue size", () => {
    const t = blkSetup({ queueSize: 8 });
    t.drv.setAvailIdx(t.q, 9);
    t.drv.kick(t.q);
    expectReset(t, "avail-idx");
  });

  it("rings configured outside guest memory, misaligned or with a bad size", () => {
    for (const at of [{ desc: WINDOW }, { desc: 0x1008 }, { used: 0x1002 }, { avail: MEM - 2 }]) {
      const mem = new ArrayMemory(MEM, WINDOW);
      const dev = new VirtioMmio(new VirtioBlk(new MemoryBackend(4096)), mem);
      const drv = new MockDriver(dev, mem);
      drv.init();
      drv.setupQueue(0, 8, at);
      expect(dev.queues[0].ready).toBe(false);
      expect(dev.status & STATUS.NEEDS_RESET).toBe(STATUS.NEEDS_RESET);
      expect(dev.queues[0].stats.errors.config).toBe(1);
    }
    const mem = new ArrayMemory(MEM, WINDOW);
    const dev = new VirtioMmio(new VirtioBlk(new MemoryBackend(4096)), mem);
    const drv = new MockDriver(dev, mem);
    drv.init();
    drv.setupQueue(0, 12);
    expect(dev.queues[0].stats.errors.config).toBe(1);
  });

  it("a header too short for a request, or no status byte: used length 0, counted", () => {
    const t = blkSetup();
    const a = t.drv.alloc(16);
    const h1 = t.drv.add(t.q, [{ addr: a, len: 8 }, { addr: a + 8, len: 1, write: true }]);
    const h2 = t.drv.add(t.q, [{ addr: a, len: 16 }]);
    t.drv.kick(t.q);
    expect(t.drv.takeUsed(t.q)).toEqual([{ id: h1, len: 0 }, { id: h2, len: 0 }]);
    expect(t.blk.stats.malformed).toBe(2);
  });

  it("random descriptor tables never make the host throw or write outside the window", () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8);
    for (let round = 0; round < 300; round++) {
      const t = blkSetup({ queueSize: 16, indirect: round % 2 === 0, eventIdx: round % 3 === 0 });
      const guard = t.mem.bytes.slice(WINDOW);
      for (let i = 0; i < 16; i++) {
        const pick = rnd() % 4;
        const addr = pick === 0 ? rnd() * 4 : pick === 1 ? WINDOW - (rnd() % 64) : 0x8000 + (rnd() % 0x1000);
        t.drv.writeDesc(t.q.desc, i, addr >>> 0, rnd() % 3 === 0 ? rnd() : rnd() % 4096, rnd() & 7, rnd() % 20, rnd() % 7 === 0 ? 1 : 0);
      }
      for (let i = 0; i < 1 + (rnd() % 8); i++) t.drv.publish(t.q, rnd() % 20);
      expect(() => t.drv.kick(t.q)).not.toThrow();
      expect(Buffer.compare(t.mem.bytes.subarray(WINDOW), guard)).toBe(0);
    }
  });
});

describe("virtio-console", () => {
  it("prints transmitq chains in order, fills receiveq buffers, emergency write", () => {
    const mem = new ArrayMemory(MEM);
    const out: number[] = [];
    const con = new VirtioConsole((b) => out.push(...b));
    const dev = new VirtioMmio(con, mem);
    const drv = new MockDriver(dev, mem);
    drv.init();
    const rx = drv.setupQueue(0), tx = drv.setupQueue(1);
    drv.driverOk();
    expect(drv.r32(R.DEVICE_ID)).toBe(3);
    const s1 = drv.alloc(5, 1), s2 = drv.alloc(6, 1);
    mem.write(s1, new TextEncoder().encode("hello"));
    mem.write(s2, new TextEncoder().encode(" world"));
    drv.add(tx, [{ addr: s1, len: 5 }]);
    drv.add(tx, [{ addr: s2, len: 6 }]);
    drv.kick(tx);
    expect(new TextDecoder().decode(Uint8Array.from(out))).toBe("hello world");
    expect(drv.takeUsed(tx)).toHaveLength(2);
    expect(dev.stats.interrupts).toBe(1);
    const buf = drv.alloc(8, 1);
    drv.add(rx, [{ addr: buf, len: 8, write: true }]);
    con.receive(new TextEncoder().encode("abc"));
    dev.notify(0);
    expect(drv.takeUsed(rx)).toEqual([{ id: 0, len: 3 }]);
    expect(new TextDecoder().decode(mem.read(buf, 3))).toBe("abc");
    dev.write(R.CONFIG + 8, 4, 0x21);
    expect(out.at(-1)).toBe(0x21);
  });
});
