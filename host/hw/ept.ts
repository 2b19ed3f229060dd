// ept.ts — the host's nested page tables (the EPT format of assembly/abi.ts: 2 levels, 4 KiB entries R W X A D).
//
// Host-physical layout of hw mode's machine RAM: the first HW_HOST_SIZE bytes are the hypervisor's (the EPT
// directory and tables, the I/O and MSR bitmaps); guest-physical X is host-physical HW_HOST_SIZE + X, so a walk
// that skipped the EPT would read the hypervisor's memory instead of the guest's and could not pass unnoticed.
// Guest-physical addresses outside guest RAM (device memory: the local and I/O APIC) have no EPT entry: an access
// there is an EPT violation, which the CPU hands back as a device access (PROC2_EPT_MMIO).
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

export interface EptEntry { hpa: number; perms: number; accessed: boolean; dirty: boolean }

export class Ept {
  constructor(readonly m: Machine, readonly guestRam: number) {
    if (EPT_TABLES + Math.ceil(guestRam / (4 << 20)) * 4096 > HW_HOST_SIZE) throw new RangeError("wasmvisor: guest RAM too large for hw mode's EPT area");
  }

  /** EPTP: the directory, with accessed/dirty flags enabled */
  get pointer(): number { return (EPT_DIR | A.EPTP_AD) >>> 0; }

  /** Map all of guest RAM read/write/execute to HW_HOST_SIZE + gpa with 4 KiB entries (so a guest TLB miss walks both levels). */
  mapGuestRam(): void {
    const m = this.m;
    m.fillMem(EPT_DIR, 4096, 0);
    const pages = this.guestRam / 4096;
    for (let t = 0; t * 1024 < pages; t++) {
      const table = EPT_TABLES + t * 4096;
      const entries = new Uint8Array(4096);
      const dv = new DataView(entries.buffer);
      for (let i = 0; i < 1024 && t * 1024 + i < pages; i++) {
        dv.setUint32(i * 4, (HW_HOST_SIZE + (t * 1024 + i) * 4096 + (A.EPT_R | A.EPT_W | A.EPT_X)) >>> 0, true);
      }
      m.writeMem(table, entries);
      m.write32(EPT_DIR + t * 4, (table | A.EPT_R | A.EPT_W | A.EPT_X) >>> 0);
    }
    m.flushTlb(); // INVEPT
  }

  private tableOf(gpa: number): number {
    const d = this.m.read32(EPT_DIR + (gpa >>> 22) * 4) >>> 0;
    if (!(d & 7) || (d & A.EPT_PS)) throw new RangeError(`wasmvisor: no EPT table for guest-physical ${gpa.toString(16)}`);
    return (d & 0xfffff000) >>> 0;
  }
  /** The EPT entry of one guest-physical page. */
  entry(gpa: number): EptEntry {
    const e = this.m.read32(this.tableOf(gpa) + ((gpa >>> 12) & 0x3ff) * 4) >>> 0;
    return { hpa: (e & 0xfffff000) >>> 0, perms: e & 7, accessed: !!(e & A.EPT_A), dirty: !!(e & A.EPT_D) };
  }
  /** Change one page's permissions (0 = not present) and invalidate the combined translations (INVEPT). */
  protect(gpa: number, perms: number): void {
    const at = this.tableOf(gpa) + ((gpa >>> 12) & 0x3ff) * 4;
    const e = this.m.read32(at) >>> 0;
    this.m.write32(at, ((e & ~7) | (perms & 7)) >>> 0);
    this.m.flushTlb();
  }
  /** Write a raw entry value (tests: misconfigurations). */
  setRaw(gpa: number, value: number): void {
    this.m.write32(this.tableOf(gpa) + ((gpa >>> 12) & 0x3ff) * 4, value >>> 0);
    this.m.flushTlb();
  }
  /** The directory entry covering `gpa` (its accessed flag: the 2-D walk's A at the EPT's first level). */
  dirEntry(gpa: number): number { return this.m.read32(EPT_DIR + (gpa >>> 22) * 4) >>> 0; }
  /** Clear the accessed/dirty flags of every entry (tests, and a host tracking dirty pages). */
  clearAccessed(): void {
    const pages = this.guestRam / 4096;
    for (let t = 0; t * 1024 < pages; t++) {
      const dAt = EPT_DIR + t * 4;
      this.m.write32(dAt, (this.m.read32(dAt) & ~(A.EPT_A | A.EPT_D)) >>> 0);
      const table = EPT_TABLES + t * 4096;
      for (let i = 0; i < 1024 && t * 1024 + i < pages; i++) this.m.write32(table + i * 4, (this.m.read32(table + i * 4) & ~(A.EPT_A | A.EPT_D)) >>> 0);
    }
    this.m.flushTlb();
  }
}
