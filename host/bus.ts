// bus.ts — the I/O port bus (16-bit x86 I/O space) and the MMIO bus (32-bit guest-physical) that route
// `in`/`out` and MMIO exits to devices. Devices see offsets relative to the base of the range they claimed.
//
// Routing rules (what a PC chipset does, simplified):
//  * an access that lies entirely inside one claimed range goes to that device with its full size;
//  * an access that straddles a range boundary is split into byte accesses, each routed on its own
//    (like a 16-bit ISA cycle to 8-bit devices being split by the bus controller); bytes compose little-endian;
//  * an unclaimed read floats high: all-ones of the access size (ISA data lines are pulled up);
//    an unclaimed write is dropped. Both are counted (per port / per MMIO address) and logged, never fatal.
// Port numbers wrap at 0xffff (the ISA bus decodes 16 address lines). Argument checking here targets host bugs
// (size 3, port 70000): those throw RangeError; anything the guest controls is within range by construction.
import type { LogFn } from "./devices/guestlog.ts";
import { saveState, loadState, type Saved } from "./persist.ts";

export type AccessSize = 1 | 2 | 4;

export interface IoDevice {
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
}

export interface AccessCount { reads: number; writes: number }

export interface BusRange {
  readonly kind: "pio" | "mmio";
  readonly base: number;
  readonly length: number;
  readonly name: string;
  readonly dev: IoDevice;
  /** accesses routed to this range (after splitting) */
  reads: number;
  writes: number;
}

export interface BusStats {
  unclaimedReads: number;
  unclaimedWrites: number;
  unclaimedMmioReads: number;
  unclaimedMmioWrites: number;
  /** unclaimed port accesses per port number */
  readonly perPort: Map<number, AccessCount>;
  /** unclaimed MMIO accesses per address (at most MMIO_TRACK_LIMIT addresses; the rest land in mmioUntracked) */
  readonly perMmio: Map<number, AccessCount>;
  mmioUntracked: number;
}

export interface BusOptions {
  /** where unclaimed-access reports go (rate-limited) */
  log?: LogFn;
}

/** Distinct unclaimed MMIO addresses remembered individually: a guest probing all of memory must not grow host memory without bound. */
export const MMIO_TRACK_LIMIT = 4096;
/** Distinct unclaimed locations logged individually before logging goes to powers of two of the total. */
const LOG_DISTINCT_LIMIT = 64;

const MASK = [0, 0xff, 0xffff, 0, 0xffffffff] as const;

function checkSize(size: number): asserts size is AccessSize {
  if (size !== 1 && size !== 2 && size !== 4) throw new RangeError(`wasmvisor bus: access size must be 1, 2 or 4 (got ${size})`);
}

function fmt(v: number, digits: number): string {
  return "0x" + (v >>> 0).toString(16).padStart(digits, "0");
}

export class Bus {
  /** The bus's counters for a snapshot (host/persist.ts); the ranges themselves are wiring, rebuilt by the platform. */
  save(): Saved {
    return { stats: saveState(this.stats), distinctLogged: this.distinctLogged, ranges: [...this.pio, ...this.mmio].map((r) => [r.reads, r.writes]) };
  }
  /** Puts saved counters back into a Bus with the same ranges. */
  restore(s: Saved): void {
    const st = s as { stats: Saved; distinctLogged: number; ranges: [number, number][] };
    loadState(this.stats, st.stats);
    this.distinctLogged = st.distinctLogged;
    [...this.pio, ...this.mmio].forEach((r, i) => { if (st.ranges[i]) [r.reads, r.writes] = st.ranges[i]; });
  }

  /** port → index+1 into pio (0 = unclaimed): O(1) lookup for the hot in/out path */
  private readonly portMap = new Uint16Array(0x10000);
  private readonly pio: BusRange[] = [];
  /** sorted by base, non-overlapping */
  private readonly mmio: BusRange[] = [];
  private lastMmio: BusRange | null = null;
  private distinctLogged = 0;
  private readonly log?: LogFn;

  readonly stats: BusStats = {
    unclaimedReads: 0,
    unclaimedWrites: 0,
    unclaimedMmioReads: 0,
    unclaimedMmioWrites: 0,
    perPort: new Map(),
    perMmio: new Map(),
    mmioUntracked: 0,
  };

  constructor(opts: BusOptions = {}) {
    this.log = opts.log;
  }

  // ---------------------------------------------------------------- registration

  addPorts(base: number, count: number, dev: IoDevice, name: string): void {
    if (!Number.isInteger(base) || !Number.isInteger(count) || base < 0 || count < 1 || base + count > 0x10000) {
      throw new RangeError(`wasmvisor bus: bad port range ${base}+${count} for ${name}`);
    }
    checkDevice(dev, name);
    if (this.pio.length >= 0xffff) throw new RangeError("wasmvisor bus: too many port ranges");
    for (let p = base; p < base + count; p++) {
      const idx = this.portMap[p];
      if (idx !== 0) {
        const other = this.pio[idx - 1];
        throw new Error(`wasmvisor bus: ports ${fmt(base, 4)}-${fmt(base + count - 1, 4)} (${name}) overlap ${other.name} at ${fmt(p, 4)}`);
      }
    }
    this.pio.push({ kind: "pio", base, length: count, name, dev, reads: 0, writes: 0 });
    const idx = this.pio.length;
    this.portMap.fill(idx, base, base + count);
  }

  addMmio(base: number, length: number, dev: IoDevice, name: string): void {
    if (!Number.isInteger(base) || !Number.isInteger(length) || base < 0 || length < 1 || base + length > 0x1_0000_0000) {
      throw new RangeError(`wasmvisor bus: bad MMIO range ${base}+${length} for ${name}`);
    }
    checkDevice(dev, name);
    const end = base + length; // exclusive
    for (const r of this.mmio) {
      if (base < r.base + r.length && r.base < end) {
        throw new Error(`wasmvisor bus: MMIO ${fmt(base, 8)}-${fmt(end - 1, 8)} (${name}) overlaps ${r.name} at ${fmt(r.base, 8)}-${fmt(r.base + r.length - 1, 8)}`);
      }
    }
    const range: BusRange = { kind: "mmio", base, length, name, dev, reads: 0, writes: 0 };
    let i = this.mmio.length;
    while (i > 0 && this.mmio[i - 1].base > base) i--;
    this.mmio.splice(i, 0, range);
  }

  /** Name of the device claiming a port, for diagnostics. */
  portOwner(port: number): string | undefined {
    const idx = this.portMap[port & 0xffff];
    return idx ? this.pio[idx - 1].name : undefined;
  }

  mmioOwner(addr: number): string | undefined {
    return this.findMmio(addr >>> 0)?.name;
  }

  /** All claimed ranges with their access counters. */
  ranges(): readonly BusRange[] {
    return [...this.pio, ...this.mmio];
  }

  // ---------------------------------------------------------------- port I/O

  ioRead(port: number, size: AccessSize): number {
    checkSize(size);
    checkPort(port);
    const idx = this.portMap[port];
    if (idx !== 0) {
      const r = this.pio[idx - 1];
      const off = port - r.base;
      if (off + size <= r.length) {
        r.reads++;
        return maskValue(r.dev.read(off, size), size);
      }
    } else if (!this.anyPortClaimed(port, size)) {
      this.unclaimedPort(port, size, false, 0);
      return MASK[size];
    }
    // straddles a boundary: byte by byte
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.ioRead((port + i) & 0xffff, 1) << (8 * i);
    return v >>> 0;
  }

  ioWrite(port: number, size: AccessSize, value: number): void {
    checkSize(size);
    checkPort(port);
    value = maskValue(value, size);
    const idx = this.portMap[port];
    if (idx !== 0) {
      const r = this.pio[idx - 1];
      const off = port - r.base;
      if (off + size <= r.length) {
        r.writes++;
        r.dev.write(off, size, value);
        return;
      }
    } else if (!this.anyPortClaimed(port, size)) {
      this.unclaimedPort(port, size, true, value);
      return;
    }
    for (let i = 0; i < size; i++) this.ioWrite((port + i) & 0xffff, 1, (value >>> (8 * i)) & 0xff);
  }

  private anyPortClaimed(port: number, size: number): boolean {
    for (let i = 1; i < size; i++) if (this.portMap[(port + i) & 0xffff] !== 0) return true;
    return false;
  }

  private unclaimedPort(port: number, size: number, write: boolean, value: number): void {
    const s = this.stats;
    if (write) s.unclaimedWrites++; else s.unclaimedReads++;
    let c = s.perPort.get(port);
    const first = c === undefined;
    if (!c) { c = { reads: 0, writes: 0 }; s.perPort.set(port, c); }
    if (write) c.writes++; else c.reads++;
    this.report(first, s.unclaimedReads + s.unclaimedWrites,
      write ? `unclaimed out ${fmt(port, 4)} size ${size} value ${fmt(value, size * 2)}` : `unclaimed in ${fmt(port, 4)} size ${size}`);
  }

  // ---------------------------------------------------------------- MMIO

  mmioRead(addr: number, size: AccessSize): number {
    checkSize(size);
    checkAddr(addr);
    const r = this.findMmio(addr);
    if (r && addr + size <= r.base + r.length) {
      r.reads++;
      return maskValue(r.dev.read(addr - r.base, size), size);
    }
    if (size > 1 && this.anyMmioClaimed(addr, size)) {
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.mmioRead((addr + i) >>> 0, 1) << (8 * i);
      return v >>> 0;
    }
    this.unclaimedMmio(addr, size, false, 0);
    return MASK[size];
  }

  mmioWrite(addr: number, size: AccessSize, value: number): void {
    checkSize(size);
    checkAddr(addr);
    value = maskValue(value, size);
    const r = this.findMmio(addr);
    if (r && addr + size <= r.base + r.length) {
      r.writes++;
      r.dev.write(addr - r.base, size, value);
      return;
    }
    if (size > 1 && this.anyMmioClaimed(addr, size)) {
      for (let i = 0; i < size; i++) this.mmioWrite((addr + i) >>> 0, 1, (value >>> (8 * i)) & 0xff);
      return;
    }
    this.unclaimedMmio(addr, size, true, value);
  }

  private findMmio(addr: number): BusRange | null {
    const last = this.lastMmio;
    if (last && addr >= last.base && addr < last.base + last.length) return last;
    const m = this.mmio;
    let lo = 0, hi = m.length - 1, found: BusRange | null = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (m[mid].base <= addr) { found = m[mid]; lo = mid + 1; } else hi = mid - 1;
    }
    if (found && addr < found.base + found.length) { this.lastMmio = found; return found; }
    return null;
  }

  private anyMmioClaimed(addr: number, size: number): boolean {
    for (let i = 0; i < size; i++) if (this.findMmio((addr + i) >>> 0)) return true;
    return false;
  }

  private unclaimedMmio(addr: number, size: number, write: boolean, value: number): void {
    const s = this.stats;
    if (write) s.unclaimedMmioWrites++; else s.unclaimedMmioReads++;
    let c = s.perMmio.get(addr);
    const first = c === undefined;
    if (!c) {
      if (s.perMmio.size >= MMIO_TRACK_LIMIT) { s.mmioUntracked++; return; }
      c = { reads: 0, writes: 0 };
      s.perMmio.set(addr, c);
    }
    if (write) c.writes++; else c.reads++;
    this.report(first, s.unclaimedMmioReads + s.unclaimedMmioWrites,
      write ? `unclaimed MMIO write ${fmt(addr, 8)} size ${size} value ${fmt(value, size * 2)}` : `unclaimed MMIO read ${fmt(addr, 8)} size ${size}`);
  }

  /** Log each new location (up to a limit), afterwards only at power-of-two totals. */
  private report(firstAtLocation: boolean, total: number, msg: string): void {
    if (!this.log) return;
    if (firstAtLocation && this.distinctLogged < LOG_DISTINCT_LIMIT) {
      this.distinctLogged++;
      this.log(`bus: ${msg}`);
    } else if ((total & (total - 1)) === 0 && total >= 1024) {
      this.log(`bus: ${msg} (${total} unclaimed accesses so far)`);
    }
  }
}

function checkDevice(dev: IoDevice, name: string): void {
  if (!dev || typeof dev.read !== "function" || typeof dev.write !== "function") {
    throw new TypeError(`wasmvisor bus: ${name} is not an IoDevice`);
  }
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`wasmvisor bus: bad port ${port}`);
}

function checkAddr(addr: number): void {
  if (!Number.isInteger(addr) || addr < 0 || addr > 0xffffffff) throw new RangeError(`wasmvisor bus: bad MMIO address ${addr}`);
}

function maskValue(v: number, size: AccessSize): number {
  return size === 4 ? v >>> 0 : v & MASK[size];
}

// ---------------------------------------------------------------- helpers for byte-wide devices

/** Compose a wide read from byte reads at consecutive offsets (an 8-bit device on a 16/32-bit cycle). */
export function readBytewise(read8: (offset: number) => number, offset: number, size: AccessSize): number {
  let v = 0;
  for (let i = 0; i < size; i++) v |= (read8(offset + i) & 0xff) << (8 * i);
  return v >>> 0;
}

/** Split a wide write into byte writes at consecutive offsets, low byte first. */
export function writeBytewise(write8: (offset: number, value: number) => void, offset: number, size: AccessSize, value: number): void {
  for (let i = 0; i < size; i++) write8(offset + i, (value >>> (8 * i)) & 0xff);
}
