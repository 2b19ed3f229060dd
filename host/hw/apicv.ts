// apicv.ts — the hypervisor's side of APIC-register virtualization (PROC2_APIC_REG_VIRT; assembly/apicv.ts):
// the virtual-APIC page in the hypervisor's memory, kept up to date from the local APIC model (AREA_APIC), and the
// guest's TPR writes (which go to VTPR without an exit) carried back into the model, as KVM's APICv does.
//
// Exactness: a guest read served from the page must return what native mode reads at the same instruction. The
// model changes only on the host's side of an exit (device exits, timers advanced between slices, the IRR -> ISR
// acknowledge of an injected interrupt), so the page is rewritten from the model before every VM entry
// (`beforeEntry`); inside a run() only two things change: VTPR (the guest's own writes: copied into the model at
// every exit, `afterExit`, before anything reads the model) and ISR by an EOI the CPU completes itself (it clears
// the bit in both). The TPR threshold is KVM's: the class of the highest pending request when the TPR masks it, so
// a TPR write that unmasks it is a reason-43 exit and the request is injected at the same boundary as in native
// mode. Registers outside the SDM's list (PPR, APR, the timer's current count …) are not in the page.
import type { Machine } from "../machine.ts";
import * as A from "../abi.generated.ts";
import type { Vmcs } from "./vmcs.ts";
import type { Platform } from "../core/platform.ts";
import { LAPIC_BASE } from "../devices/lapic.ts";

/** the virtual-APIC page: hypervisor memory below guest RAM (host/hw/ept.ts layout) */
export const VAPIC_PAGE = 0x5000;
const SPAN = 0x400; // registers 000H..3FFH

export class ApicVirt {
  private readonly img = new Uint32Array(SPAN / 4);
  private readonly bytes = new Uint8Array(this.img.buffer);
  private readonly last = new Uint32Array(SPAN / 4);
  private fresh = false;

  constructor(private readonly m: Machine, private readonly vmcs: Vmcs, private readonly platform: Platform) {}

  /** Turn the controls on (with "virtualize APIC accesses", set by the caller). */
  enable(): void {
    const v = this.vmcs;
    this.m.fillMem(VAPIC_PAGE, 4096, 0);
    v.set(A.OFF_VMX_VAPIC_PAGE, VAPIC_PAGE);
    v.set(A.OFF_VMX_TPR_THRESHOLD, 0);
    v.ctl(A.OFF_VMX_PROC, A.PROC_TPR_SHADOW, true);
    v.ctl(A.OFF_VMX_PROC2, A.PROC2_APIC_REG_VIRT, true);
    this.fresh = false;
  }
  get enabled(): boolean { return (this.vmcs.get(A.OFF_VMX_PROC2) & A.PROC2_APIC_REG_VIRT) !== 0; }
  /** after a snapshot restore: write the whole page again */
  invalidate(): void { this.fresh = false; }

  private reg(off: number): number { return this.vmcs.get(off); } // (AREA_APIC lies in the STATE block too)

  /** At every exit, before the host looks at the model: the guest's TPR writes reach it. */
  afterExit(): void {
    const vtpr = this.m.read32(VAPIC_PAGE + 0x80) & 0xff;
    if (vtpr !== (this.reg(A.OFF_APIC_TPR) & 0xff)) this.platform.bus.mmioWrite(LAPIC_BASE + 0x80, 4, vtpr);
  }

  /** Before every entry: the page from the model (only when something changed), and the TPR threshold. */
  beforeEntry(): void {
    const r = this.img;
    r.fill(0);
    r[0x20 / 4] = this.reg(A.OFF_APIC_ID);
    r[0x30 / 4] = this.reg(A.OFF_APIC_VER);
    r[0x80 / 4] = this.reg(A.OFF_APIC_TPR);
    r[0xd0 / 4] = this.reg(A.OFF_APIC_LDR);
    r[0xe0 / 4] = this.reg(A.OFF_APIC_DFR);
    r[0xf0 / 4] = this.reg(A.OFF_APIC_SVR);
    for (let i = 0; i < 8; i++) {
      r[(0x100 + i * 16) / 4] = this.reg(A.OFF_APIC_ISR + i * 4);
      r[(0x180 + i * 16) / 4] = this.reg(A.OFF_APIC_TMR + i * 4);
      r[(0x200 + i * 16) / 4] = this.reg(A.OFF_APIC_IRR + i * 4);
    }
    r[0x280 / 4] = this.reg(A.OFF_APIC_ESR);
    r[0x300 / 4] = this.reg(A.OFF_APIC_ICR_LO) & ~(1 << 12); // delivery status: idle (the model's read)
    r[0x310 / 4] = this.reg(A.OFF_APIC_ICR_HI);
    for (let i = 0; i < 6; i++) r[(0x320 + i * 16) / 4] = this.reg(A.OFF_APIC_LVT + i * 4);
    r[0x380 / 4] = this.reg(A.OFF_APIC_TIMER_ICR);
    r[0x3e0 / 4] = this.reg(A.OFF_APIC_TIMER_DCR);
    let same = this.fresh;
    for (let i = 0; same && i < r.length; i++) same = r[i] === this.last[i];
    if (!same) { this.m.writeMem(VAPIC_PAGE, this.bytes); this.last.set(r); this.fresh = true; }
    // KVM's threshold: the highest request's class when the TPR masks it (a write unmasking it exits), else 0
    let irr = -1;
    for (let i = 7; i >= 0 && irr < 0; i--) { const w = r[(0x200 + i * 16) / 4]; if (w) irr = i * 32 + 31 - Math.clz32(w); }
    const tpr = (r[0x80 / 4] >> 4) & 0xf, cls = irr >> 4;
    this.vmcs.set(A.OFF_VMX_TPR_THRESHOLD, irr >= 0 && cls <= tpr ? cls : 0);
  }
}
