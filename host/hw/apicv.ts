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

/** The page's registers: [offset in the page, word of AREA_APIC it is copied from] */
const W = (off: number) => (off - A.AREA_APIC) / 4;
const SRC: [number, number][] = [
  [0x20, W(A.OFF_APIC_ID)], [0x30, W(A.OFF_APIC_VER)], [0x80, W(A.OFF_APIC_TPR)], [0xd0, W(A.OFF_APIC_LDR)],
  [0xe0, W(A.OFF_APIC_DFR)], [0xf0, W(A.OFF_APIC_SVR)], [0x280, W(A.OFF_APIC_ESR)], [0x300, W(A.OFF_APIC_ICR_LO)],
  [0x310, W(A.OFF_APIC_ICR_HI)], [0x380, W(A.OFF_APIC_TIMER_ICR)], [0x3e0, W(A.OFF_APIC_TIMER_DCR)],
  ...Array.from({ length: 6 }, (_, i): [number, number] => [0x320 + i * 16, W(A.OFF_APIC_LVT) + i]),
  ...Array.from({ length: 8 }, (_, i): [number, number] => [0x100 + i * 16, W(A.OFF_APIC_ISR) + i]),
  ...Array.from({ length: 8 }, (_, i): [number, number] => [0x180 + i * 16, W(A.OFF_APIC_TMR) + i]),
  ...Array.from({ length: 8 }, (_, i): [number, number] => [0x200 + i * 16, W(A.OFF_APIC_IRR) + i]),
];
const PAGE_OFF = Int32Array.from(SRC, ([o]) => o);
const AREA_WORD = Int32Array.from(SRC, ([, w]) => w);
const ICR_LO = SRC.findIndex(([o]) => o === 0x300);
const TPR = SRC.findIndex(([o]) => o === 0x80);
const IRR0 = SRC.findIndex(([o]) => o === 0x200);

export class ApicVirt {
  private readonly img = new Uint32Array(SPAN / 4);
  private readonly bytes = new Uint8Array(this.img.buffer);
  private readonly last = new Uint32Array(SRC.length);
  private fresh = false;
  private area: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

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
  /** after a snapshot restore: write the whole page again */
  invalidate(): void { this.fresh = false; }

  /** AREA_APIC (a view of the STATE block: made again when the memory grew and detached the old one) */
  private regs(): Uint32Array {
    if (this.area.length === 0) this.area = new Uint32Array(this.m.stateView.buffer, A.STATE_BASE + A.AREA_APIC, A.AREA_APIC_SIZE / 4);
    return this.area;
  }

  /** At every exit, before the host looks at the model: the guest's TPR writes reach it. */
  afterExit(): void {
    const vtpr = this.m.read32(VAPIC_PAGE + 0x80) & 0xff;
    if (vtpr !== (this.regs()[AREA_WORD[TPR]] & 0xff)) this.platform.bus.mmioWrite(LAPIC_BASE + 0x80, 4, vtpr);
  }

  /** Before every entry: the page from the model when a register changed, and the TPR threshold. */
  beforeEntry(): void {
    const a = this.regs(), last = this.last;
    let changed = !this.fresh;
    for (let i = 0; i < AREA_WORD.length; i++) {
      const v = i === ICR_LO ? (a[AREA_WORD[i]] & ~(1 << 12)) >>> 0 : a[AREA_WORD[i]]; // ICR: delivery status idle (the model's read)
      if (v !== last[i]) { last[i] = v; changed = true; }
    }
    if (!changed) return;
    const r = this.img;
    for (let i = 0; i < PAGE_OFF.length; i++) r[PAGE_OFF[i] >> 2] = last[i];
    this.m.writeMem(VAPIC_PAGE, this.bytes);
    this.fresh = true;
    // KVM's threshold: the highest request's class when the TPR masks it (a write unmasking it exits), else 0
    let irr = -1;
    for (let i = 7; i >= 0 && irr < 0; i--) { const w = last[IRR0 + i]; if (w) irr = i * 32 + 31 - Math.clz32(w); }
    const tpr = (last[TPR] >> 4) & 0xf, cls = irr >> 4;
    this.vmcs.set(A.OFF_VMX_TPR_THRESHOLD, irr >= 0 && cls <= tpr ? cls : 0);
  }
}
