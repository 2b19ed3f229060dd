// hw-guest.ts — a bare Machine in guest (VMX non-root) mode for the hw-* unit tests: 1 MiB of guest RAM (`ram`) at
// host-physical HW_HOST_SIZE behind the EPT (host/hw/ept.ts), flat ring-0 segments, a GDT and an IDT in guest
// memory, optional 2-level guest paging. Everything else is off until a test turns its control on.
import { expect } from "vitest";
import { Machine, type Exit } from "../host/machine.ts";
import * as A from "../host/abi.generated.ts";
import { Vmcs } from "../host/hw/vmcs.ts";
import { Ept, HW_HOST_SIZE, IO_BITMAP_A, IO_BITMAP_B, MSR_BITMAP } from "../host/hw/ept.ts";

export { A, HW_HOST_SIZE, IO_BITMAP_A, IO_BITMAP_B, MSR_BITMAP };
export const CODE = 0x1000;
export const GDT = 0x2000;
export const IDT = 0x3000;
export const PD = 0x10000;
export const PT = 0x11000;
export const HANDLER = 0x4000; // every IDT vector's handler: hlt
export const GUEST_RAM = 1 << 20;

export interface HwGuest {
  m: Machine; v: Vmcs; ept: Ept;
  gw(gpa: number, bytes: number[]): void; g32(gpa: number): number; gs32(gpa: number, v: number): void;
  /** leave guest mode for good: the same memory image as host-physical memory from 0 (the EPT is gone) */
  root(): void;
  /** continue at `eip` (default: where it is) out of a halted state */
  again(eip?: number): void;
}

export function hwGuest(code: number[], o: { paging?: boolean; ept?: boolean; mmio?: boolean; idt?: boolean; jitThreshold?: number; vpid?: number; pwc?: boolean; ram?: number; eptLarge?: boolean; holes?: [number, number][] } = {}): HwGuest {
  const ram = o.ram ?? GUEST_RAM;
  const m = new Machine({ memSize: HW_HOST_SIZE + ram, jitThreshold: o.jitThreshold ?? 0 });
  const v = new Vmcs(m);
  const ept = new Ept(m, ram, { large: o.eptLarge, holes: o.holes });
  ept.mapGuestRam();
  const gw = (gpa: number, bytes: number[]) => m.writeMem(HW_HOST_SIZE + gpa, bytes);
  const g32 = (gpa: number) => m.read32(HW_HOST_SIZE + gpa) >>> 0;
  const gs32 = (gpa: number, val: number) => m.write32(HW_HOST_SIZE + gpa, val >>> 0);
  m.setFlatProtectedMode();
  // GDT: null, 0x08 flat code, 0x10 flat data
  gw(GDT, [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0]);
  m.setGdtr(GDT, 23);
  if (o.idt !== false) {
    for (let vec = 0; vec < 256; vec++) { // 32-bit interrupt gates to HANDLER
      gs32(IDT + vec * 8, (0x08 << 16) | (HANDLER & 0xffff));
      gs32(IDT + vec * 8 + 4, (HANDLER & 0xffff0000) | 0x8e00);
    }
    m.setIdtr(IDT, 256 * 8 - 1);
  } else m.setIdtr(0, 0);
  gw(HANDLER, [0xf4]); // hlt
  if (o.paging) {
    gs32(PD, PT | 0x3); // 0..4 MiB through PT, supervisor read/write
    for (let i = 0; i < 256; i++) gs32(PT + i * 4, (i << 12) | 0x3); // identity map of guest RAM
    m.setCr("cr3", PD);
    m.setCr("cr0", (m.getCr("cr0") | A.CR0_PG) >>> 0);
  }
  gw(CODE, code);
  m.eip = CODE; m.esp = 0x8000;
  v.set(A.OFF_VMX_PROC2, (o.ept !== false ? A.PROC2_EPT : 0) | (o.mmio ? A.PROC2_EPT_MMIO : 0));
  v.set(A.OFF_VMX_EPTP, ept.pointer);
  v.set(A.OFF_VMX_IO_BITMAP_A, IO_BITMAP_A);
  v.set(A.OFF_VMX_IO_BITMAP_B, IO_BITMAP_B);
  v.set(A.OFF_VMX_MSR_BITMAP, MSR_BITMAP);
  m.fillMem(IO_BITMAP_A, 0x3000, 0);
  if (o.vpid) v.vpid = o.vpid;
  if (o.pwc) v.pwc = true;
  v.guestMode = true;
  const root = () => {
    v.guestMode = false;
    m.writeMem(0, m.readMem(HW_HOST_SIZE, Math.min(ram, HW_HOST_SIZE)));
    m.flushTlb();
  };
  const again = (eip = m.eip) => { m.eip = eip; m.halted = false; };
  return { m, v, ept, gw, g32, gs32, root, again };
}

/** narrows an exit to one reason (the test fails otherwise) */
export function as<R extends Exit["reason"]>(e: Exit, reason: R): Extract<Exit, { reason: R }> {
  expect(e.reason, JSON.stringify(e)).toBe(reason);
  return e as Extract<Exit, { reason: R }>;
}
/** a VM exit with this basic reason */
export function vmexit(e: Exit, reason: number): Extract<Exit, { reason: "vmexit" }> {
  const x = as(e, "vmexit");
  expect(x.vmxReason).toBe(reason);
  return x;
}

/** the APIC-access page's guest-physical address and the virtual-APIC page (host-physical: the hypervisor's memory) */
export const APIC_PAGE = 0xfee00000;
export const VAPIC_PAGE = 0x5000;
export interface VapicOpt { regVirt?: boolean; shadow?: boolean; virt?: boolean; page?: number; threshold?: number }
/**
 * A guest-mode Machine running `code` with the APIC-access page at APIC_PAGE and a zeroed virtual-APIC page at
 * VAPIC_PAGE holding `regs` (offset → value): "virtualize APIC accesses" and the TPR shadow on unless turned off,
 * APIC-register virtualization only when `regVirt` (hw-tpr and hw-apicv tests).
 */
export function vapicGuest(code: number[], regs: Record<number, number>, o: VapicOpt = {}): HwGuest {
  const g = hwGuest(code, { mmio: true });
  g.m.fillMem(VAPIC_PAGE, 4096, 0);
  for (const [off, v] of Object.entries(regs)) g.m.write32(VAPIC_PAGE + Number(off), v);
  g.v.set(A.OFF_VMX_APIC_ACCESS, APIC_PAGE);
  g.v.ctl(A.OFF_VMX_PROC2, A.PROC2_VIRT_APIC, o.virt !== false);
  g.v.ctl(A.OFF_VMX_PROC2, A.PROC2_APIC_REG_VIRT, o.regVirt === true);
  g.v.ctl(A.OFF_VMX_PROC, A.PROC_TPR_SHADOW, o.shadow !== false);
  g.v.set(A.OFF_VMX_VAPIC_PAGE, o.page ?? VAPIC_PAGE);
  g.v.set(A.OFF_VMX_TPR_THRESHOLD, o.threshold ?? 0);
  return g;
}
