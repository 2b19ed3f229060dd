// ept.ts — the host's nested page tables (the EPT format of assembly/abi.ts: 2 levels; 4 KiB table entries and
// 4 MiB directory entries (EPT_PS), both R W X A D).
//
// Host-physical layout of hw mode's machine RAM: the first HW_HOST_SIZE bytes are the hypervisor's (the EPT
// directory and tables, the I/O and MSR bitmaps); guest-physical X is host-physical HW_HOST_SIZE + X, so a walk
// that skipped the EPT would read the hypervisor's memory instead of the guest's and could not pass unnoticed.
// Guest-physical addresses outside guest RAM (device memory: the local and I/O APIC) have no EPT entry: an access
// there is an EPT violation, which the CPU hands back as a device access (PROC2_EPT_MMIO).
//
// Large pages (default on): every 4 MiB of guest-physical space that is all guest RAM and holds no hole (device
// memory or the APIC-access page inside RAM: `holes`) is one directory entry with EPT_PS, so the final address of
// a 2-D walk costs one EPT reference instead of two (HW_HOST_SIZE is 4 MiB-aligned, so both ranges are). The rest
// keeps 4 KiB tables, and a large page the host later protects or rewrites page by page is split into a table
// first (as KVM splits huge pages around write-protected or MMIO pages). Every 4 MiB slot has its table reserved.
import type { Machine } from "../machine.ts";
import * as A from "../abi.generated.ts";

/** bytes of host-physical memory below guest RAM that belong to the hypervisor */
export const HW_HOST_SIZE = 8 << 20;
export const EPT_DIR = 0x1000;
export const IO_BITMAP_A = 0x2000;
export const IO_BITMAP_B = 0x3000;
export const MSR_BITMAP = 0x4000;
/** the EPT tables: one 4 KiB table per 4 MiB of guest-physical space */
export const EPT_TABLES = 0x10000;
const LARGE = 4 << 20;
const RWX = A.EPT_R | A.EPT_W | A.EPT_X;

export interface EptEntry { hpa: number; perms: number; accessed: boolean; dirty: boolean; large: boolean }
export interface EptOptions {
  /** map 4 MiB-aligned all-RAM ranges with one EPT_PS directory entry (default true) */
  large?: boolean;
  /** guest-physical [start, end) ranges inside guest RAM that must keep 4 KiB entries (device memory, APIC page) */
  holes?: ReadonlyArray<readonly [number, number]>;
}

export class Ept {
  readonly large: boolean;
  private readonly holes: ReadonlyArray<readonly [number, number]>;
  constructor(readonly m: Machine, readonly guestRam: number, o: EptOptions = {}) {
    if (EPT_TABLES + Math.ceil(guestRam / LARGE) * 4096 > HW_HOST_SIZE) throw new RangeError("wasmvisor: guest RAM too large for hw mode's EPT area");
    this.large = o.large !== false;
    this.holes = o.holes ?? [];
  }

  /** EPTP: the directory, with accessed/dirty flags enabled */
  get pointer(): number { return (EPT_DIR | A.EPTP_AD) >>> 0; }

  /** Whether the 4 MiB slot `t` may be one large page: all guest RAM, no hole in it. */
  private largeOk(t: number): boolean {
    const lo = t * LARGE, hi = lo + LARGE;
    return this.large && hi <= this.guestRam && !this.holes.some(([s, e]) => s < hi && e > lo);
  }

  /** Map all of guest RAM read/write/execute to HW_HOST_SIZE + gpa: 4 MiB entries where largeOk, else 4 KiB. */
  mapGuestRam(): void {
    const m = this.m;
    m.fillMem(EPT_DIR, 4096, 0);
    const pages = this.guestRam / 4096;
    for (let t = 0; t * 1024 < pages; t++) {
      if (this.largeOk(t)) { m.write32(EPT_DIR + t * 4, (HW_HOST_SIZE + t * LARGE + RWX + A.EPT_PS) >>> 0); continue; }
      const table = EPT_TABLES + t * 4096;
      const entries = new Uint8Array(4096);
      const dv = new DataView(entries.buffer);
      for (let i = 0; i < 1024 && t * 1024 + i < pages; i++) {
        dv.setUint32(i * 4, (HW_HOST_SIZE + (t * 1024 + i) * 4096 + RWX) >>> 0, true);
      }
      m.writeMem(table, entries);
      m.write32(EPT_DIR + t * 4, (table | RWX) >>> 0);
    }
    m.flushTlb(); // INVEPT
  }

  /** Replace a large page by a table of 1024 entries with its permissions and A/D flags (the caller INVEPTs). */
  private split(gpa: number): void {
    const t = gpa >>> 22;
    const d = this.dirEntry(gpa);
    const table = EPT_TABLES + t * 4096;
    const entries = new Uint8Array(4096);
    const dv = new DataView(entries.buffer);
    const base = (d & 0xffc00000) >>> 0, attrs = d & (7 | A.EPT_A | A.EPT_D);
    for (let i = 0; i < 1024; i++) dv.setUint32(i * 4, (base + i * 4096 + attrs) >>> 0, true);
    this.m.writeMem(table, entries);
    this.m.write32(EPT_DIR + t * 4, (table | (d & 7) | (d & A.EPT_A)) >>> 0);
  }
  private tableOf(gpa: number, split: boolean): number {
    let d = this.dirEntry(gpa);
    if ((d & 7) && (d & A.EPT_PS) && split) { this.split(gpa); d = this.dirEntry(gpa); }
    if (!(d & 7) || (d & A.EPT_PS)) throw new RangeError(`wasmvisor: no EPT table for guest-physical ${gpa.toString(16)}`);
    return (d & 0xfffff000) >>> 0;
  }
  /** The EPT entry of one guest-physical page (of its large page: hpa is the 4 KiB page's within it). */
  entry(gpa: number): EptEntry {
    const d = this.dirEntry(gpa);
    const e = (d & A.EPT_PS) ? d : this.m.read32(this.tableOf(gpa, false) + ((gpa >>> 12) & 0x3ff) * 4) >>> 0;
    const hpa = (d & A.EPT_PS) ? ((d & 0xffc00000) + (gpa & 0x3ff000)) >>> 0 : (e & 0xfffff000) >>> 0;
    return { hpa, perms: e & 7, accessed: !!(e & A.EPT_A), dirty: !!(e & A.EPT_D), large: !!(d & A.EPT_PS) };
  }
  /** Change one page's permissions (0 = not present; a large page is split first) and INVEPT. */
  protect(gpa: number, perms: number): void {
    const at = this.tableOf(gpa, true) + ((gpa >>> 12) & 0x3ff) * 4;
    const e = this.m.read32(at) >>> 0;
    this.m.write32(at, ((e & ~7) | (perms & 7)) >>> 0);
    this.m.flushTlb();
  }
  /** Change a whole large page's permissions (tests; the host's dirty tracking of a 4 MiB range) and INVEPT. */
  protectLarge(gpa: number, perms: number): void {
    const d = this.dirEntry(gpa);
    if (!(d & A.EPT_PS)) throw new RangeError(`wasmvisor: guest-physical ${gpa.toString(16)} is not in a large EPT page`);
    this.m.write32(EPT_DIR + (gpa >>> 22) * 4, ((d & ~7) | (perms & 7)) >>> 0);
    this.m.flushTlb();
  }
  /** Write a raw entry value (tests: misconfigurations; a large page is split first). */
  setRaw(gpa: number, value: number): void {
    this.m.write32(this.tableOf(gpa, true) + ((gpa >>> 12) & 0x3ff) * 4, value >>> 0);
    this.m.flushTlb();
  }
  /** Write a raw directory entry (tests: large-page misconfigurations). */
  setDirRaw(gpa: number, value: number): void {
    this.m.write32(EPT_DIR + (gpa >>> 22) * 4, value >>> 0);
    this.m.flushTlb();
  }
  /** The directory entry covering `gpa` (its accessed flag: the 2-D walk's A at the EPT's first level). */
  dirEntry(gpa: number): number { return this.m.read32(EPT_DIR + (gpa >>> 22) * 4) >>> 0; }
  /** Clear the accessed/dirty flags of every entry (tests, and a host tracking dirty pages). */
  clearAccessed(): void {
    const pages = this.guestRam / 4096;
    for (let t = 0; t * 1024 < pages; t++) {
      const dAt = EPT_DIR + t * 4;
      const d = this.m.read32(dAt) >>> 0;
      this.m.write32(dAt, (d & ~(A.EPT_A | A.EPT_D)) >>> 0);
      if (d & A.EPT_PS) continue;
      const table = EPT_TABLES + t * 4096;
      for (let i = 0; i < 1024 && t * 1024 + i < pages; i++) this.m.write32(table + i * 4, (this.m.read32(table + i * 4) & ~(A.EPT_A | A.EPT_D)) >>> 0);
    }
    this.m.flushTlb();
  }
}
