// snapshot.ts — the snapshot file: one versioned, checksummed buffer holding a whole VM.
//
//   offset 0   "WVSNAP\r\n"              magic (the CR LF catches text-mode mangling)
//          8   u32 format version        SNAPSHOT_VERSION: a reader refuses any other
//         12   u32 CPU ABI version       ABI_VERSION of assembly/abi.ts: the STATE block layout
//         16   u32 payload length        bytes after the header
//         20   u32 body length           the payload inflated
//         24   sha256(payload)           32 bytes
//         56   payload                   zlib deflate of the body
//   body: u32 JSON length, the JSON (config, device/mode/loop state, blob table), then the blobs it points to:
//         the vCPU (Machine.saveState: the STATE block), RAM as a page map (zero / filled with one word / data)
//         + the fill words + the data pages, and in-memory disks the same way.
// Disks: an in-memory image (MemoryBackend) is stored in the snapshot; a file image (FileBackend) is written in
// place as the guest runs, so the snapshot refers to it by path, size and sha256 of its contents, and restore
// refuses a file that changed since (one line). The snapshot is sparse (a zero or word-filled page costs a byte or
// five) and then compressed: its size follows the RAM the guest really wrote, not its RAM size.
import type { Buffer } from "node:buffer";
import { runtime } from "../runtime/index.ts";
import { ABI_VERSION } from "../abi.generated.ts";
import { type Machine, pageWritten } from "../machine.ts";
import { FileBackend, MemoryBackend, type BlockBackend } from "../devices/block.ts";
import type { Saved } from "../persist.ts";

export const SNAPSHOT_MAGIC: Uint8Array = new TextEncoder().encode("WVSNAP\r\n");
const { Buffer: Buf } = runtime; // Node's Buffer, or the `buffer` package in the browser
export const SNAPSHOT_VERSION = 1;
const HEADER = 56;
const PAGE = 4096;

/** A snapshot that cannot be used: one line for the user (status BAD_INPUT). */
export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SnapshotError";
  }
}

/** How to rebuild the VM: its mode and the JSON-able options it was created with (no disks, no callbacks). */
export interface SnapshotConfig {
  mode: string;
  options: Record<string, unknown>;
}

type PagedRef = { kinds: [number, number]; words: [number, number]; pages: [number, number] };

export type DiskRef = { kind: "memory"; size: number } | { kind: "file"; path: string; size: number; sha256: string; readonly: boolean };

export interface SnapshotInput {
  config: SnapshotConfig;
  machine: Machine;
  disks: (BlockBackend | undefined)[];
  state: Record<string, Saved>;
}

export interface SnapshotContents {
  config: SnapshotConfig;
  /** the vCPU state block (Machine.loadState) */
  cpu: Uint8Array;
  /** machine RAM size and a function that copies RAM into a destination of that size */
  ramSize: number;
  /** RAM bytes [0, ramEnd) hold every page that is not zero: fillRam's dst needs to cover no more (nor less) */
  ramEnd: number;
  /** `written`: Machine.writtenPages() of dst, if known (pages outside it are zero already); dst may stop short of
   * ramSize (at least ramEnd): RAM past it must be zero */
  fillRam(dst: Uint8Array, written?: Uint8Array | null): void;
  /** the disks by position ([--disk, --disk2]), reopened (files checked for identity) */
  disks: (BlockBackend | undefined)[];
  state: Record<string, Saved>;
}

/**
 * Memory as pages of three kinds, so a snapshot costs what the guest really wrote: a zero page is one byte, a page
 * filled with one repeated 32-bit word after its first word (a kernel's junk-filled free pages with their free-list
 * link, as xv6's kfree makes them) is one byte plus two words, and only the other pages are stored whole (then
 * compressed with the rest).
 */
const ZERO = 0, FILLED = 1, DATA = 2;
const ZERO_PAGE = new Uint8Array(PAGE);
interface Paged { kinds: Uint8Array; words: Uint32Array; pages: Buffer[] }

function pageEncode(bytes: Uint8Array): Paged {
  const n = Math.ceil(bytes.length / PAGE);
  const kinds = new Uint8Array(n);
  const words: number[] = [];
  const pages: Buffer[] = [];
  const buf = Buf.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const patterns = new Map<number, Buffer>();
  for (let i = 0; i < n; i++) {
    const start = i * PAGE, end = Math.min(start + PAGE, buf.length);
    const page = buf.subarray(start, end);
    if (end - start === PAGE) {
      // the first word may differ (a free-list link in a junk-filled free page); the rest must repeat one word
      const head = buf.readUInt32LE(start), w = buf.readUInt32LE(start + 4);
      let pat = patterns.get(w);
      if (!pat && patterns.size < 64) { pat = Buf.alloc(PAGE - 4); pat.writeUInt32LE(w, 0); pat.fill(pat.subarray(0, 4)); patterns.set(w, pat); }
      if (pat && page.subarray(4).equals(pat)) {
        if (w === 0 && head === 0) kinds[i] = ZERO;
        else { kinds[i] = FILLED; words.push(head, w); }
        continue;
      }
    }
    kinds[i] = DATA;
    pages.push(page);
  }
  return { kinds, words: Uint32Array.from(words), pages };
}

/** Bytes up to the end of the last page that is not zero (what a restore must write; the rest of RAM stays zero). */
function usedEnd(kinds: Uint8Array, size: number): number {
  let i = kinds.length;
  while (i > 0 && kinds[i - 1] === ZERO) i--;
  return Math.min(i * PAGE, size);
}

/** Decodes pages into dst, which may stop short of `size` (the memory's size) where only zero pages follow. */
function pageDecode(dst: Uint8Array, kinds: Uint8Array, wordBytes: Uint8Array, data: Uint8Array, written: Uint8Array | null = null, size = dst.length): void {
  const n = Math.ceil(dst.length / PAGE);
  if (kinds.length !== Math.ceil(size / PAGE) || dst.length > size || usedEnd(kinds, size) > dst.length || wordBytes.length % 4) throw new SnapshotError("snapshot is corrupted (page map)");
  const words = new Uint32Array(wordBytes.buffer.slice(wordBytes.byteOffset, wordBytes.byteOffset + wordBytes.byteLength));
  const whole = dst.length % 4 === 0 ? new Uint32Array(dst.buffer, dst.byteOffset, dst.length / 4) : null;
  let off = 0, wi = 0;
  for (let i = 0; i < n; ) {
    const k = kinds[i];
    let j = i + 1;
    // a run of pages of the same kind (and, for filled pages, the same word) is one copy or one fill
    if (k === DATA) while (j < n && kinds[j] === DATA) j++;
    else if (k === ZERO) while (j < n && kinds[j] === ZERO) j++;
    else if (k === FILLED) {
      if (wi + 2 * (j - i) > words.length) throw new SnapshotError("snapshot is corrupted (fill words)");
      while (j < n && kinds[j] === FILLED && wi + 2 * (j - i) + 1 < words.length && words[wi + 2 * (j - i) + 1] === words[wi + 1]) j++;
    }
    else throw new SnapshotError("snapshot is corrupted (page kind)");
    const start = i * PAGE, end = Math.min(j * PAGE, dst.length);
    if (k === DATA) {
      if (off + end - start > data.length) throw new SnapshotError("snapshot is corrupted (page data shorter than its map)");
      dst.set(data.subarray(off, off + end - start), start);
      off += end - start;
    } else if (k === ZERO && written) {
      // a page never written is zero; one written may not be (cleared without reading: it is committed anyway)
      for (let p = i; p < j; p++) if (pageWritten(written, p)) dst.fill(0, p * PAGE, Math.min(p * PAGE + PAGE, dst.length));
    } else if (k === ZERO) {
      // a fresh machine's RAM is already zero: only look (reading untouched memory does not make the OS commit it)
      const d = Buf.from(dst.buffer, dst.byteOffset, dst.byteLength);
      for (let p = start; p < end; p += PAGE) {
        const e = Math.min(p + PAGE, end);
        if (!d.subarray(p, e).equals(ZERO_PAGE.subarray(0, e - p))) dst.fill(0, p, e);
      }
    }
    else {
      // one fill for the run, then each page's first word
      if (whole) whole.fill(words[wi + 1], start / 4, end / 4);
      else for (let a = start; a < end; a++) dst[a] = (words[wi + 1] >>> (8 * (a & 3))) & 0xff;
      for (let p = i; p < j; p++, wi += 2) {
        const at = p * PAGE;
        if (whole) whole[at / 4] = words[wi];
        else for (let b = 0; b < 4 && at + b < dst.length; b++) dst[at + b] = (words[wi] >>> (8 * b)) & 0xff;
      }
    }
    i = j;
  }
}

function fileSha256(path: string): string {
  return Buf.from(runtime.sha256(runtime.fs.readFileSync(path))).toString("hex");
}

export function writeSnapshot(inp: SnapshotInput): Buffer {
  const blobs: Uint8Array[] = [];
  let at = 0;
  const blob = (parts: Uint8Array[]): [number, number] => {
    const start = at;
    for (const p of parts) { blobs.push(p); at += p.length; }
    return [start, at - start];
  };
  const cpu = blob([inp.machine.saveState()]);
  const paged = (p: Paged) => ({ kinds: blob([p.kinds]), words: blob([new Uint8Array(p.words.buffer)]), pages: blob(p.pages) });
  // only the RAM the memory covers: the rest was never touched (RAM backed on first touch) and is zero pages
  const m = inp.machine, ram = pageEncode(m.ramBytes(Math.min(m.ramSize, Math.ceil(m.ramBacked / PAGE) * PAGE)));
  if (ram.kinds.length < Math.ceil(m.ramSize / PAGE)) {
    const kinds = new Uint8Array(Math.ceil(m.ramSize / PAGE)); // ZERO = 0
    kinds.set(ram.kinds);
    ram.kinds = kinds;
  }
  const ramRef = { size: m.ramSize, ...paged(ram) };
  const disks = inp.disks.map((d) => {
    if (!d) return null;
    if (d instanceof MemoryBackend) {
      return { ref: { kind: "memory", size: d.data.length } as DiskRef, ...paged(pageEncode(d.data)), readonly: d.readonly };
    }
    if (d instanceof FileBackend) {
      d.flush(); // the file must hold every write the guest made so far
      return { ref: { kind: "file", path: d.path, size: d.sectorCount * 512, sha256: fileSha256(d.path), readonly: d.readonly } as DiskRef };
    }
    throw new SnapshotError("a disk backend that is neither an in-memory image nor a file cannot be snapshotted");
  });
  const json = Buf.from(JSON.stringify({ config: inp.config, cpu, ram: ramRef, disks, state: inp.state }), "utf8");
  const len = Buf.alloc(4);
  len.writeUInt32LE(json.length);
  const body = Buf.concat([len, json, ...blobs]);
  const payload = runtime.deflate(body, 1);
  const head = Buf.alloc(HEADER);
  head.set(SNAPSHOT_MAGIC, 0);
  head.writeUInt32LE(SNAPSHOT_VERSION, 8);
  head.writeUInt32LE(ABI_VERSION, 12);
  head.writeUInt32LE(payload.length, 16);
  head.writeUInt32LE(body.length, 20);
  head.set(runtime.sha256(payload), 24);
  return Buf.concat([head, payload]);
}

/** Checks and unpacks a snapshot; every problem is a SnapshotError with one line. */
export function readSnapshot(buf: Uint8Array): SnapshotContents {
  const b = Buf.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < HEADER || !b.subarray(0, 8).equals(SNAPSHOT_MAGIC)) {
    if (b.length >= 8 || !b.equals(SNAPSHOT_MAGIC.subarray(0, b.length))) throw new SnapshotError("not a wasmvisor snapshot (bad magic)");
    throw new SnapshotError(`snapshot is truncated (${b.length} bytes, the header alone is ${HEADER})`);
  }
  const version = b.readUInt32LE(8), abi = b.readUInt32LE(12);
  if (version !== SNAPSHOT_VERSION) throw new SnapshotError(`snapshot format version ${version}, this wasmvisor reads version ${SNAPSHOT_VERSION}`);
  if (abi !== ABI_VERSION) throw new SnapshotError(`snapshot was taken with CPU ABI version ${abi}, this wasmvisor's is ${ABI_VERSION}`);
  const plen = b.readUInt32LE(16), blen = b.readUInt32LE(20);
  if (b.length < HEADER + plen) throw new SnapshotError(`snapshot is truncated (${b.length} of ${HEADER + plen} bytes)`);
  if (b.length > HEADER + plen) throw new SnapshotError(`snapshot has ${b.length - HEADER - plen} bytes of trailing garbage`);
  const payload = b.subarray(HEADER, HEADER + plen);
  if (!b.subarray(24, 56).equals(runtime.sha256(payload))) throw new SnapshotError("snapshot is corrupted (checksum mismatch)");
  let body: Buffer;
  try {
    const out = runtime.inflate(payload, Math.max(blen, 1));
    body = Buf.from(out.buffer, out.byteOffset, out.byteLength);
  } catch {
    throw new SnapshotError("snapshot is corrupted (cannot inflate its payload)");
  }
  if (body.length !== blen || blen < 4) throw new SnapshotError("snapshot is corrupted (payload length)");
  const jlen = body.readUInt32LE(0);
  if (4 + jlen > body.length) throw new SnapshotError("snapshot is corrupted (header length)");
  let meta: {
    config: SnapshotConfig; cpu: [number, number]; ram: { size: number } & PagedRef;
    disks: (({ ref: DiskRef; readonly?: boolean } & Partial<PagedRef>) | null)[]; state: Record<string, Saved>;
  };
  try {
    meta = JSON.parse(body.subarray(4, 4 + jlen).toString("utf8"));
  } catch {
    throw new SnapshotError("snapshot is corrupted (its description is not JSON)");
  }
  const blobs = body.subarray(4 + jlen);
  const get = (r: [number, number] | undefined): Uint8Array => {
    if (!Array.isArray(r) || !(r[0] >= 0 && r[1] >= 0 && r[0] + r[1] <= blobs.length)) throw new SnapshotError("snapshot is corrupted (blob outside the file)");
    return blobs.subarray(r[0], r[0] + r[1]);
  };
  if (!meta?.config?.mode || !meta.ram || !Array.isArray(meta.disks) || !meta.state) throw new SnapshotError("snapshot is corrupted (missing sections)");
  const disks = meta.disks.map((d): BlockBackend | undefined => {
    if (!d) return undefined;
    if (d.ref?.kind === "memory") {
      const data = new Uint8Array(d.ref.size);
      pageDecode(data, get(d.kinds), get(d.words), get(d.pages));
      return new MemoryBackend(data, { readonly: d.readonly });
    }
    if (d.ref?.kind !== "file") throw new SnapshotError("snapshot is corrupted (disk description)");
    const { path, sha256, size } = d.ref;
    let sum: string;
    try {
      sum = fileSha256(path);
    } catch (e) {
      throw new SnapshotError(`disk image '${path}' of the snapshot cannot be read: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
    }
    if (sum !== sha256) throw new SnapshotError(`disk image '${path}' has changed since the snapshot was taken (sha256 differs)`);
    const backend = new FileBackend(path, { readonly: d.ref.readonly });
    if (backend.sectorCount * 512 !== size) throw new SnapshotError(`disk image '${path}' has changed size since the snapshot`);
    return backend;
  });
  const cpu = get(meta.cpu), kinds = get(meta.ram.kinds), words = get(meta.ram.words), pages = get(meta.ram.pages);
  return {
    config: meta.config,
    cpu,
    ramSize: meta.ram.size,
    ramEnd: usedEnd(kinds, meta.ram.size),
    fillRam: (dst, written) => pageDecode(dst, kinds, words, pages, written ?? null, meta.ram.size),
    disks,
    state: meta.state,
  };
}
