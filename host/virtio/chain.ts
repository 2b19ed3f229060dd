// chain.ts — walking one descriptor chain of a split virtqueue (virtio 1.x §2.7.5, §2.7.7 indirect descriptors),
// defensively, in the manner of rust-vmm's virtio-queue DescriptorChain: every value read from guest memory is
// checked before use, and a chain that cannot be walked safely is reported as an error, never thrown.
//
//   struct virtq_desc {            16 bytes, table aligned to 16
//     le64 addr;                   guest-physical buffer address
//     le32 len;
//     le16 flags;                  NEXT 1 | WRITE 2 | INDIRECT 4
//     le16 next;                   index of the next descriptor when NEXT
//   };
//
// Rules enforced (each failure has its own ChainError code, counted by the queue):
//   head / next index >= queue size (or >= indirect table length)         "index"
//   more descriptors than the table holds (a loop, or a chain > size):    "loop"   (ttl = table size)
//   buffer outside the DMA window, or addr+len overflowing 2^64/2^32:     "range"
//   a single length or the chain total above MAX_CHAIN_BYTES:             "length"
//   INDIRECT together with NEXT, INDIRECT inside an indirect table,
//   INDIRECT without VIRTIO_F_INDIRECT_DESC, table len not a multiple
//   of 16 or zero:                                                        "indirect"
//   a device-readable descriptor after a device-writable one:             "order"
import { type GuestMemory, inRange } from "./memory.ts";

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
export const DESC_SIZE = 16;
/** Largest total length one chain may describe (the biggest request any device here accepts is far smaller). */
export const MAX_CHAIN_BYTES = 16 << 20;

export type ChainErrorCode = "index" | "loop" | "range" | "length" | "indirect" | "order";

export class ChainError {
  constructor(readonly code: ChainErrorCode, readonly message: string) {}
}

export interface Segment {
  /** guest-physical address (checked: inside the DMA window) */
  addr: number;
  len: number;
}

export interface DescriptorChain {
  /** index of the head descriptor: what goes back in the used ring */
  head: number;
  /** device-readable buffers, in order */
  readable: Segment[];
  /** device-writable buffers, in order */
  writable: Segment[];
  readLen: number;
  writeLen: number;
  /** descriptors visited (direct + indirect) */
  descriptors: number;
  indirect: boolean;
}

interface RawDesc { addrLo: number; addrHi: number; len: number; flags: number; next: number }

function readDesc(mem: GuestMemory, table: number, i: number): RawDesc {
  const a = table + i * DESC_SIZE;
  return { addrLo: mem.read32(a), addrHi: mem.read32(a + 4), len: mem.read32(a + 8), flags: mem.read16(a + 12), next: mem.read16(a + 14) };
}

/**
 * Parse the chain whose head is `head`, in the descriptor table at `table` with `size` entries (already validated
 * to lie in guest memory by the queue). Returns the chain, or a ChainError describing the first violation.
 */
export function parseChain(mem: GuestMemory, table: number, size: number, head: number, indirectAllowed: boolean): DescriptorChain | ChainError {
  if (!(head >= 0 && head < size)) return new ChainError("index", `head index ${head} >= queue size ${size}`);
  const chain: DescriptorChain = { head, readable: [], writable: [], readLen: 0, writeLen: 0, descriptors: 0, indirect: false };
  let tbl = table, tblSize = size, idx = head, ttl = size, inIndirect = false;
  for (;;) {
    if (ttl-- <= 0) return new ChainError("loop", `chain longer than its table (${tblSize} descriptors): a loop?`);
    const d = readDesc(mem, tbl, idx);
    chain.descriptors++;
    if (d.flags & VIRTQ_DESC_F_INDIRECT) {
      if (!indirectAllowed) return new ChainError("indirect", "INDIRECT descriptor but VIRTIO_F_INDIRECT_DESC was not negotiated");
      if (inIndirect) return new ChainError("indirect", "INDIRECT descriptor inside an indirect table");
      if (d.flags & VIRTQ_DESC_F_NEXT) return new ChainError("indirect", "INDIRECT together with NEXT");
      if (d.len === 0 || d.len % DESC_SIZE !== 0) return new ChainError("indirect", `indirect table length ${d.len} is not a non-zero multiple of 16`);
      if (d.addrHi !== 0 || !inRange(mem, d.addrLo, d.len)) return new ChainError("range", `indirect table ${hex64(d.addrHi, d.addrLo)}+${d.len} outside guest memory`);
      if (d.addrLo % DESC_SIZE !== 0) return new ChainError("indirect", `indirect table at ${hex(d.addrLo)} is not 16-byte aligned`);
      // §2.7.5.3.1: the write flag of the descriptor that points at the table is ignored
      tbl = d.addrLo;
      tblSize = d.len / DESC_SIZE;
      if (tblSize > 65536) return new ChainError("indirect", `indirect table of ${tblSize} descriptors`);
      idx = 0;
      ttl = tblSize;
      inIndirect = true;
      chain.indirect = true;
      continue;
    }
    if (d.len > MAX_CHAIN_BYTES) return new ChainError("length", `descriptor length ${d.len} exceeds ${MAX_CHAIN_BYTES}`);
    if (d.addrHi !== 0 || !inRange(mem, d.addrLo, d.len)) return new ChainError("range", `buffer ${hex64(d.addrHi, d.addrLo)}+${d.len} outside guest memory`);
    if (d.flags & VIRTQ_DESC_F_WRITE) {
      chain.writable.push({ addr: d.addrLo, len: d.len });
      chain.writeLen += d.len;
    } else {
      if (chain.writable.length) return new ChainError("order", "device-readable descriptor after a device-writable one");
      chain.readable.push({ addr: d.addrLo, len: d.len });
      chain.readLen += d.len;
    }
    if (chain.readLen + chain.writeLen > MAX_CHAIN_BYTES) return new ChainError("length", `chain describes more than ${MAX_CHAIN_BYTES} bytes`);
    if (!(d.flags & VIRTQ_DESC_F_NEXT)) return chain;
    if (d.next >= tblSize) return new ChainError("index", `next index ${d.next} >= table size ${tblSize}`);
    idx = d.next;
  }
}

// ---------------------------------------------------------------- reading and writing a chain's buffers

/** Gather `len` bytes from the chain's readable buffers starting at byte `offset` (fewer if the chain is shorter). */
export function readFromChain(mem: GuestMemory, chain: DescriptorChain, offset: number, len: number): Uint8Array {
  const out = new Uint8Array(Math.max(0, Math.min(len, chain.readLen - offset)));
  let pos = 0, skip = offset;
  for (const s of chain.readable) {
    if (pos >= out.length) break;
    if (skip >= s.len) { skip -= s.len; continue; }
    const n = Math.min(s.len - skip, out.length - pos);
    out.set(mem.read(s.addr + skip, n), pos);
    pos += n;
    skip = 0;
  }
  return out;
}

/**
 * The guest-physical slices that writeToChain(mem, chain, offset, <len bytes>) would write: what a device checks
 * against the memory policy (GuestMemory.checkWrites) before it writes anything.
 */
export function writeSlices(chain: DescriptorChain, offset: number, len: number): Segment[] {
  const out: Segment[] = [];
  let pos = 0, skip = offset;
  for (const s of chain.writable) {
    if (pos >= len) break;
    if (skip >= s.len) { skip -= s.len; continue; }
    const n = Math.min(s.len - skip, len - pos);
    out.push({ addr: s.addr + skip, len: n });
    pos += n;
    skip = 0;
  }
  return out;
}

/** Scatter data into the chain's writable buffers starting at byte `offset`; returns the bytes written. */
export function writeToChain(mem: GuestMemory, chain: DescriptorChain, offset: number, data: Uint8Array): number {
  let pos = 0, skip = offset;
  for (const s of chain.writable) {
    if (pos >= data.length) break;
    if (skip >= s.len) { skip -= s.len; continue; }
    const n = Math.min(s.len - skip, data.length - pos);
    mem.write(s.addr + skip, data.subarray(pos, pos + n));
    pos += n;
    skip = 0;
  }
  return pos;
}

function hex(n: number): string { return "0x" + (n >>> 0).toString(16); }
function hex64(hi: number, lo: number): string { return hi ? "0x" + (hi >>> 0).toString(16) + (lo >>> 0).toString(16).padStart(8, "0") : hex(lo); }
