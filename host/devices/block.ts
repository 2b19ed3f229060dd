// block.ts — sector-addressed storage behind the ATA disk: an in-memory image and a host file (synchronous node:fs).
// Backends are host-side: they throw on misuse by host code (out-of-range LBA, write to a read-only image);
// the ATA device checks every guest-supplied address first and turns backend failures into ATA errors.
import { runtime } from "../runtime/index.ts";

const { fs } = runtime; // node:fs on Node; in the browser there are no host files

export const SECTOR_SIZE = 512;

export interface BlockBackend {
  /** capacity in 512-byte sectors */
  readonly sectorCount: number;
  readonly readonly: boolean;
  /** read buf.length / 512 whole sectors starting at lba */
  read(lba: number, buf: Uint8Array): void;
  /** write buf.length / 512 whole sectors starting at lba */
  write(lba: number, buf: Uint8Array): void;
  /** make every completed write durable */
  flush(): void;
  close?(): void;
}

function checkRange(b: BlockBackend, lba: number, buf: Uint8Array): number {
  if (buf.length === 0 || buf.length % SECTOR_SIZE !== 0) throw new RangeError(`wasmvisor block: buffer of ${buf.length} bytes is not whole sectors`);
  const n = buf.length / SECTOR_SIZE;
  if (!Number.isSafeInteger(lba) || lba < 0 || lba + n > b.sectorCount) {
    throw new RangeError(`wasmvisor block: sectors ${lba}+${n} outside 0..${b.sectorCount}`);
  }
  return n;
}

/** The file cannot be a disk: not a regular file, or smaller than one sector. */
export class DiskImageError extends Error {}

export class ReadOnlyError extends Error {
  constructor() { super("wasmvisor block: image is read-only"); }
}

export class MemoryBackend implements BlockBackend {
  readonly data: Uint8Array;
  readonly sectorCount: number;
  readonly readonly: boolean;
  flushes = 0;

  /** `image`: a size in bytes (zero-filled) or the image bytes themselves (used in place); a multiple of 512 */
  constructor(image: number | Uint8Array, opts: { readonly?: boolean } = {}) {
    const data = typeof image === "number" ? new Uint8Array(image) : image;
    if (data.length % SECTOR_SIZE !== 0) throw new RangeError(`wasmvisor block: image size ${data.length} is not a multiple of ${SECTOR_SIZE}`);
    this.data = data;
    this.sectorCount = data.length / SECTOR_SIZE;
    this.readonly = opts.readonly ?? false;
  }

  read(lba: number, buf: Uint8Array): void {
    checkRange(this, lba, buf);
    buf.set(this.data.subarray(lba * SECTOR_SIZE, lba * SECTOR_SIZE + buf.length));
  }

  write(lba: number, buf: Uint8Array): void {
    checkRange(this, lba, buf);
    if (this.readonly) throw new ReadOnlyError();
    this.data.set(buf, lba * SECTOR_SIZE);
  }

  flush(): void {
    this.flushes++;
  }
}

export interface FileBackendOptions {
  readonly?: boolean;
  /**
   * "writethrough" (default): each write goes to the file at once, flush() fsyncs.
   * "writeback": writes are kept in memory and written + fsynced by flush()/close(); reads see them.
   */
  cache?: "writethrough" | "writeback";
  /** writeback only: dirty data kept before writing it out early (default 64 MiB) */
  maxDirtyBytes?: number;
}

/**
 * A raw disk image file: a regular file of at least one sector (a device or FIFO such as /dev/zero is refused: it has
 * no size, and reads from a FIFO would block the VM). A trailing partial sector is not addressable (capacity rounds
 * down, as with QEMU raw images); `trailingBytes` says how much, so callers can warn.
 * Open it read-only for images the guest must not change; ATA WRITE then fails with ABRT instead of touching the file.
 */
export class FileBackend implements BlockBackend {
  readonly sectorCount: number;
  readonly readonly: boolean;
  readonly cache: "writethrough" | "writeback";
  /** bytes past the last whole sector: not visible to the guest */
  readonly trailingBytes: number;
  private fd: number | null;
  private readonly dirty = new Map<number, Uint8Array>();
  private readonly maxDirty: number;

  constructor(readonly path: string, opts: FileBackendOptions = {}) {
    this.readonly = opts.readonly ?? false;
    this.cache = opts.cache ?? "writethrough";
    this.maxDirty = Math.max(1, Math.floor((opts.maxDirtyBytes ?? 64 * 1024 * 1024) / SECTOR_SIZE));
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below anyway
    const fd = fs.openSync(path, (this.readonly ? fs.constants.O_RDONLY : fs.constants.O_RDWR) | fs.constants.O_NONBLOCK);
    const st = fs.fstatSync(fd);
    let problem = "";
    if (!st.isFile()) problem = "not a regular file (a device, FIFO or socket cannot be a disk image)";
    else if (st.size < SECTOR_SIZE) problem = st.size === 0 ? "the file is empty (a disk needs at least one 512-byte sector)" : `the file has ${st.size} bytes, less than one 512-byte sector`;
    if (problem) {
      fs.closeSync(fd);
      throw new DiskImageError(problem);
    }
    this.fd = fd;
    this.sectorCount = Math.floor(st.size / SECTOR_SIZE);
    this.trailingBytes = st.size % SECTOR_SIZE;
  }

  /** The open file (for locking it: host/cli/disk-lock.ts). */
  get fileDescriptor(): number {
    return this.handle();
  }

  private handle(): number {
    if (this.fd === null) throw new Error(`wasmvisor block: ${this.path} is closed`);
    return this.fd;
  }

  read(lba: number, buf: Uint8Array): void {
    const n = checkRange(this, lba, buf);
    const fd = this.handle();
    let done = 0;
    while (done < buf.length) {
      const got = fs.readSync(fd, buf, done, buf.length - done, lba * SECTOR_SIZE + done);
      if (got === 0) { buf.fill(0, done); break; } // file shrank underneath us: read zeros
      done += got;
    }
    if (this.dirty.size) {
      for (let i = 0; i < n; i++) {
        const d = this.dirty.get(lba + i);
        if (d) buf.set(d, i * SECTOR_SIZE);
      }
    }
  }

  write(lba: number, buf: Uint8Array): void {
    const n = checkRange(this, lba, buf);
    if (this.readonly) throw new ReadOnlyError();
    const fd = this.handle();
    if (this.cache === "writethrough") {
      this.writeAt(fd, lba * SECTOR_SIZE, buf);
      return;
    }
    for (let i = 0; i < n; i++) this.dirty.set(lba + i, buf.slice(i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE));
    if (this.dirty.size > this.maxDirty) this.writeDirty(fd);
  }

  private writeAt(fd: number, pos: number, buf: Uint8Array): void {
    let done = 0;
    while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done, pos + done);
  }

  private writeDirty(fd: number): void {
    const lbas = [...this.dirty.keys()].sort((a, b) => a - b);
    for (const lba of lbas) {
      this.writeAt(fd, lba * SECTOR_SIZE, this.dirty.get(lba)!);
      this.dirty.delete(lba); // only forget a sector once it is in the file
    }
  }

  /** Sectors written by the guest but not yet in the file (writeback). */
  get dirtySectors(): number {
    return this.dirty.size;
  }

  flush(): void {
    const fd = this.handle();
    if (this.readonly) return;
    this.writeDirty(fd);
    fs.fsyncSync(fd);
  }

  close(): void {
    if (this.fd === null) return;
    this.flush(); // if this throws, the file stays open and the dirty data stays in memory for a retry
    fs.closeSync(this.fd);
    this.fd = null;
  }
}
