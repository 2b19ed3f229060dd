// blk.ts — virtio-blk (virtio 1.x §5.2), device ID 2, one request queue, backed by the same BlockBackend as the
// ATA disk (host/devices/block.ts: MemoryBackend, FileBackend).
//
// A request is one descriptor chain:
//   device-readable   struct virtio_blk_req { le32 type; le32 reserved; le64 sector; }   (16 bytes)
//   data              device-readable (OUT) or device-writable (IN, GET_ID), any number of descriptors
//   device-writable   u8 status  (the last byte of the chain: OK 0, IOERR 1, UNSUPP 2)
// Types: IN 0 (read), OUT 1 (write), FLUSH 4, GET_ID 8 (20-byte serial, NUL-padded).
// The used length is what the device wrote: data + 1 for IN/GET_ID, 1 for the others.
//
// Config space (§5.2.4): le64 capacity (512-byte sectors) @0, le32 size_max @8, le32 seg_max @12,
// geometry (le16 cylinders, u8 heads, u8 sectors) @16, le32 blk_size @20.
// Features: SEG_MAX (2), RO (5, read-only backends), BLK_SIZE (6), FLUSH (9).
//
// Guest errors never throw: a request the chain cannot even carry (no status byte, header short) completes with
// used length 0 and is counted as "malformed"; a bad sector range, unaligned length or write to a read-only disk
// completes with IOERR, an unknown type with UNSUPP. Chain-level violations (loops, ranges...) are the queue's.
//
// Memory policy (GuestMemory.checkWrites; para mode: host/para/policy.ts): every byte a request would write (data
// and status) is checked up front. If any lies in a frame the guest may not write itself (a page table...), the
// request moves no data at all: it completes with IOERR if the status byte itself may be written, else with used
// length 0 — counted in stats.policyRefused either way.
import type { BlockBackend } from "../devices/block.ts";
import { readFromChain, writeSlices, writeToChain, type DescriptorChain } from "./chain.ts";
import type { GuestMemory } from "./memory.ts";
import type { VirtioDeviceModel } from "./mmio.ts";
import { type Queue, QueueError } from "./queue.ts";

export const VIRTIO_ID_BLOCK = 2;
export const BLK_T = { IN: 0, OUT: 1, FLUSH: 4, GET_ID: 8 } as const;
export const BLK_S = { OK: 0, IOERR: 1, UNSUPP: 2 } as const;
export const BLK_F = { SIZE_MAX: 1, SEG_MAX: 2, GEOMETRY: 4, RO: 5, BLK_SIZE: 6, FLUSH: 9 } as const;
export const BLK_ID_BYTES = 20;
export const BLK_QUEUE_SIZE = 128;
/** Largest data transfer of one request (what size_max × seg_max announce: 126 segments of 64 KiB... kept simple). */
export const BLK_MAX_BYTES = 4 << 20;

export interface BlkStats {
  reads: number; writes: number; flushes: number; getIds: number; unsupported: number;
  bytesRead: number; bytesWritten: number; ioErrors: number; malformed: number;
  /** requests refused by the memory policy (they wrote a protected frame): nothing transferred */
  policyRefused: number;
}

export class VirtioBlk implements VirtioDeviceModel {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly queueSizes = [BLK_QUEUE_SIZE];
  readonly configSize = 24;
  readonly features: bigint;
  readonly stats: BlkStats = { reads: 0, writes: 0, flushes: 0, getIds: 0, unsupported: 0, bytesRead: 0, bytesWritten: 0, ioErrors: 0, malformed: 0, policyRefused: 0 };
  private readonly config = new Uint8Array(24);

  constructor(readonly backend: BlockBackend, readonly serial = "wasmvisor-virtio-blk") {
    this.features = (1n << BigInt(BLK_F.SEG_MAX)) | (1n << BigInt(BLK_F.BLK_SIZE)) | (1n << BigInt(BLK_F.FLUSH)) |
      (backend.readonly ? 1n << BigInt(BLK_F.RO) : 0n);
    const dv = new DataView(this.config.buffer);
    dv.setBigUint64(0, BigInt(backend.sectorCount), true);
    dv.setUint32(8, 1 << 16, true); // size_max (not offered; informative)
    dv.setUint32(12, BLK_QUEUE_SIZE - 2, true); // seg_max
    dv.setUint32(20, 512, true); // blk_size
  }

  readConfig(o: number): number { return this.config[o] ?? 0; }

  process(_q: number, queue: Queue, mem: GuestMemory): QueueError | null {
    for (;;) {
      const c = queue.pop(mem);
      if (c === null) return null;
      if (c instanceof QueueError) return c;
      const e = queue.addUsed(mem, c.head, this.request(mem, c));
      if (e) return e;
    }
  }

  /** Executes one request; returns the used length. */
  private request(mem: GuestMemory, c: DescriptorChain): number {
    if (c.writeLen < 1 || c.readLen < 16) { this.stats.malformed++; return 0; }
    const hdr = readFromChain(mem, c, 0, 16);
    const dv = new DataView(hdr.buffer, hdr.byteOffset, 16);
    const type = dv.getUint32(0, true);
    const sector = Number(dv.getBigUint64(8, true)); // may be huge: checked below
    const status = (s: number): void => { writeToChain(mem, c, c.writeLen - 1, Uint8Array.of(s)); };
    const dataOut = c.readLen - 16, dataIn = c.writeLen - 1;
    const ioerr = (): number => { this.stats.ioErrors++; status(BLK_S.IOERR); return 1; };
    // all the request will write, checked before anything moves
    const statusSeg = writeSlices(c, c.writeLen - 1, 1);
    const writes = type === BLK_T.IN ? writeSlices(c, 0, c.writeLen)
      : type === BLK_T.GET_ID ? [...writeSlices(c, 0, Math.min(BLK_ID_BYTES, dataIn)), ...statusSeg] : statusSeg;
    if (!mem.checkWrites(writes)) {
      this.stats.policyRefused++;
      return mem.mayWrite(statusSeg[0].addr, 1) ? ioerr() : 0;
    }
    const rangeOk = (bytes: number) => bytes % 512 === 0 && bytes <= BLK_MAX_BYTES && Number.isSafeInteger(sector) &&
      sector >= 0 && sector + bytes / 512 <= this.backend.sectorCount;
    switch (type) {
      case BLK_T.IN: {
        if (dataOut !== 0 || !rangeOk(dataIn) || dataIn === 0) return ioerr();
        const buf = new Uint8Array(dataIn);
        mem.claim(writes); // the frames have a device write in flight: none may become a page table meanwhile
        try {
          try { this.backend.read(sector, buf); } catch { return ioerr(); }
          writeToChain(mem, c, 0, buf);
        } finally { mem.release(writes); }
        status(BLK_S.OK);
        this.stats.reads++;
        this.stats.bytesRead += dataIn;
        return dataIn + 1;
      }
      case BLK_T.OUT: {
        if (dataIn !== 0 || !rangeOk(dataOut) || dataOut === 0 || this.backend.readonly) return ioerr();
        const buf = readFromChain(mem, c, 16, dataOut);
        try { this.backend.write(sector, buf); } catch { return ioerr(); }
        status(BLK_S.OK);
        this.stats.writes++;
        this.stats.bytesWritten += dataOut;
        return 1;
      }
      case BLK_T.FLUSH:
        try { this.backend.flush(); } catch { return ioerr(); }
        status(BLK_S.OK);
        this.stats.flushes++;
        return 1;
      case BLK_T.GET_ID: {
        const id = new Uint8Array(BLK_ID_BYTES);
        id.set(new TextEncoder().encode(this.serial).subarray(0, BLK_ID_BYTES));
        const n = writeToChain(mem, c, 0, id.subarray(0, Math.min(BLK_ID_BYTES, dataIn)));
        status(BLK_S.OK);
        this.stats.getIds++;
        return n + 1;
      }
      default:
        this.stats.unsupported++;
        status(BLK_S.UNSUPP);
        return 1;
    }
  }
}
