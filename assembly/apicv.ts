// apicv.ts — APIC-register virtualization in guest mode (SDM Vol. 3C 30.4; abi.ts block "hw-apicv").
//
// With PROC2_APIC_REG_VIRT, "virtualize APIC accesses" and "use TPR shadow" (and a virtual-APIC page in host RAM)
// an access to the APIC-access page is decided here, before anything else on the MMIO path: reads of the registers
// the SDM lists come from the virtual-APIC page, TPR writes go to VTPR (TPR virtualization: vmx.ts), everything
// else is an APIC-access exit (reason 44, vmx.ts vmxFinish). The host keeps the page up to date from its APIC model
// (host/hw/apicv.ts). Non-architectural, for a CPU whose in-CPU local APIC shares the host model (APIC_CTRL_INCPU):
// the timer's current count is answered from that model (exact: assembly/apic.ts), and an edge EOI it can complete
// exactly is done there when VTPR equals the model's TPR, with the ISR bit cleared in the virtual-APIC page too.
import {
  RAM_BASE, OFF_VMX_PROC, OFF_VMX_PROC2, OFF_VMX_VAPIC_PAGE, OFF_VMX_APICV_READS, PROC2_APIC_REG_VIRT, PROC2_VIRT_APIC,
  PROC_TPR_SHADOW, OFF_APIC_CTRL, APIC_CTRL_INCPU, OFF_APIC_TPR, OFF_APIC_ISR,
} from "./abi";
import { st, setSt } from "./state";
import { inRam } from "./mmu";
import { apicRead, apicWrite, apicValue } from "./apic";
import { vmxTprStore } from "./vmx";

/** the APIC-access page while APIC-register virtualization is on, else 1 (matches no page) */
export let apicvPage: u32 = 1;
let vapic: u32 = 0; // the virtual-APIC page (host-physical)
export let apicvValue: u32 = 0;

/** vmxEnter (guest mode, controls loaded): `accessPage` is the APIC-access page or 1. */
export function apicvEnter(accessPage: u32): void {
  apicvPage = 1;
  if (accessPage == 1 || !(st(OFF_VMX_PROC2) & PROC2_APIC_REG_VIRT) || !(st(OFF_VMX_PROC2) & PROC2_VIRT_APIC)) return;
  if (!(st(OFF_VMX_PROC) & PROC_TPR_SHADOW)) return; // (VM entry requires the TPR shadow with it: acts as off)
  const p = st(OFF_VMX_VAPIC_PAGE) & 0xFFFFF000;
  if (!inRam(p, 4096)) return;
  vapic = p;
  apicvPage = accessPage;
}
export function apicvLeave(): void { apicvPage = 1; }

/** The registers whose reads are virtualized (SDM 30.4.2), by offset bits 11:4. Not LVT CMCI (2F0H): our APIC
 *  (version 0x14, LVT entries 320H-370H) has none, so a read of it is a reserved-register access the model sees. */
function listed(reg: u32): bool {
  if (reg >= 0x100 && reg <= 0x280) return true; // ISR, TMR, IRR, ESR
  if (reg >= 0x300 && reg <= 0x380) return true; // ICR low/high, LVT, initial count
  switch (reg) {
    case 0x020: case 0x030: case 0x080: case 0x0B0: case 0x0D0: case 0x0E0: case 0x0F0: case 0x3E0: return true;
  }
  return false;
}
@inline function inCpuApic(): bool { return (st(OFF_APIC_CTRL) & APIC_CTRL_INCPU) != 0; }

/** A read at `phys` in the APIC-access page: true if answered (apicvValue, or abort set for apic.ts's restart);
 *  false for an APIC-access exit. */
export function apicvRead(phys: u32, size: u32): bool {
  const off = phys & 0xFFF;
  if ((off & 0xF) + size <= 4 && listed(off & 0xFF0)) {
    const w = load<u32>(RAM_BASE + vapic + (off & 0xFFC));
    const sh = (off & 3) << 3;
    apicvValue = size == 4 ? w : (w >>> sh) & ((<u32>1 << (size << 3)) - 1);
    setSt(OFF_VMX_APICV_READS, st(OFF_VMX_APICV_READS) + 1);
    return true;
  }
  if (off == 0x390 && inCpuApic() && apicRead(phys, size)) { apicvValue = apicValue; return true; }
  return false;
}

/** A write at `phys` in the APIC-access page (`v` masked to its size): true if done; false for an APIC-access exit. */
export function apicvWrite(phys: u32, size: u32, v: u32): bool {
  const off = phys & 0xFFF;
  if (off >= 0x80 && off + size <= 0x84) { // TPR: the bytes written, bytes 081H-083H cleared, TPR virtualization
    const sh = (off & 3) << 3;
    const old = load<u32>(RAM_BASE + vapic + 0x80);
    const m = size == 4 ? 0xFFFFFFFF : ((<u32>1 << (size << 3)) - 1) << sh;
    vmxTprStore(vapic, ((old & ~m) | ((v << sh) & m)) & 0xFF);
    return true;
  }
  if (off == 0xB0 && inCpuApic() && (load<u32>(RAM_BASE + vapic + 0x80) & 0xFF) == (st(OFF_APIC_TPR) & 0xFF) && apicWrite(phys, size, v)) {
    for (let i: u32 = 0; i < 8; i++) store<u32>(RAM_BASE + vapic + 0x100 + (i << 4), st(OFF_APIC_ISR + (i << 2)));
    return true;
  }
  return false;
}
