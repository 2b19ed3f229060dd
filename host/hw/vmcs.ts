// vmcs.ts — the host's typed view of the VMCS-like control block (AREA_VMCS in assembly/abi.ts): the controls it
// writes before a VM entry (Machine.run) and the exit information it reads after a VM exit. The guest-state area of
// a real VMCS is the vCPU register file itself (Machine registers, OFF_HALTED, OFF_INT_SHADOW).
import type { Machine } from "../machine.ts";
import * as A from "../abi.generated.ts";

/** Basic exit reasons by number (SDM Vol. 3C appendix C), for stats and messages. */
export const VMX_REASON_NAMES: Record<number, string> = {
  [A.VMX_EXIT_EXCEPTION]: "exception", [A.VMX_EXIT_EXT_INTR]: "external-interrupt", [A.VMX_EXIT_TRIPLE_FAULT]: "triple-fault",
  [A.VMX_EXIT_INTR_WINDOW]: "interrupt-window", [A.VMX_EXIT_CPUID]: "cpuid", [A.VMX_EXIT_HLT]: "hlt",
  [A.VMX_EXIT_INVLPG]: "invlpg", [A.VMX_EXIT_RDTSC]: "rdtsc", [A.VMX_EXIT_VMCALL]: "vmcall", [A.VMX_EXIT_CR]: "cr-access",
  [A.VMX_EXIT_DR]: "dr-access", [A.VMX_EXIT_IO]: "io-instruction", [A.VMX_EXIT_RDMSR]: "rdmsr", [A.VMX_EXIT_WRMSR]: "wrmsr",
  [A.VMX_EXIT_MTF]: "monitor-trap-flag", [A.VMX_EXIT_APIC_ACCESS]: "apic-access", [A.VMX_EXIT_TPR_BELOW_THRESHOLD]: "tpr-below-threshold", [A.VMX_EXIT_EPT_VIOLATION]: "ept-violation", [A.VMX_EXIT_EPT_MISCONFIG]: "ept-misconfig",
};
export function reasonName(r: number): string { return VMX_REASON_NAMES[r] ?? `reason-${r}`; }

/** Event injection on VM entry (SDM 24.8.3): interruption-information types. */
export type EventType = "external" | "nmi" | "hw-exception" | "soft-int" | "soft-exception";
const TYPE_BITS: Record<EventType, number> = {
  external: A.INTR_TYPE_EXT, nmi: A.INTR_TYPE_NMI, "hw-exception": A.INTR_TYPE_HW_EXC, "soft-int": A.INTR_TYPE_SOFT_INT,
  "soft-exception": A.INTR_TYPE_SOFT_EXC,
};

export class Vmcs {
  // the STATE block without backing guest RAM (Machine.memory would back all of it); remade when the memory grows
  private get dv(): DataView { return this.m.stateView; }
  constructor(readonly m: Machine) {}

  get(off: number): number { return this.dv.getUint32(A.STATE_BASE + off, true); }
  set(off: number, v: number): void { this.dv.setUint32(A.STATE_BASE + off, v >>> 0, true); }
  /** turn a control bit of the field at `off` on or off */
  ctl(off: number, bit: number, on: boolean): void { this.set(off, on ? this.get(off) | bit : this.get(off) & ~bit); }

  get guestMode(): boolean { return this.get(A.OFF_VMX_ON) !== 0; }
  set guestMode(v: boolean) { this.set(A.OFF_VMX_ON, v ? 1 : 0); }

  /** Queue an event for delivery through the guest IDT at the next VM entry. */
  inject(type: EventType, vector: number, errorCode?: number, insnLength = 0): void {
    this.set(A.OFF_VMX_ENTRY_ERROR, errorCode ?? 0);
    this.set(A.OFF_VMX_ENTRY_INSN_LEN, insnLength);
    this.set(A.OFF_VMX_ENTRY_INTR, A.INTR_INFO_VALID | TYPE_BITS[type] | (errorCode !== undefined ? A.INTR_INFO_ERR : 0) | (vector & 0xff));
  }
  get injectionPending(): boolean { return (this.get(A.OFF_VMX_ENTRY_INTR) & A.INTR_INFO_VALID) !== 0; }

  /** the last exit: basic reason (VMX_NO_EXIT if the last run() return was not a VM exit) and its information */
  get exitReason(): number { return this.get(A.OFF_VMX_EXIT_REASON); }
  get qualification(): number { return this.get(A.OFF_VMX_EXIT_QUAL); }
  get exitInsnLength(): number { return this.get(A.OFF_VMX_EXIT_INSN_LEN); }
  get guestPhysical(): number { return this.get(A.OFF_VMX_GUEST_PHYS); }
  get guestLinear(): number { return this.get(A.OFF_VMX_GUEST_LINEAR); }
  get exitInterruption(): { vector: number; type: number; errorCode?: number } | null {
    const i = this.get(A.OFF_VMX_EXIT_INTR);
    if (!(i & A.INTR_INFO_VALID)) return null;
    return { vector: i & 0xff, type: (i >> 8) & 7, ...(i & A.INTR_INFO_ERR ? { errorCode: this.get(A.OFF_VMX_EXIT_INTR_ERROR) } : {}) };
  }
  /** counters: VM exits, two-dimensional walks (guest TLB misses), their memory references */
  get counters(): { exits: number; walks: number; walkRefs: number; tlbFlushes: number; pwcHits: number; pwcMisses: number } {
    return {
      exits: this.get(A.OFF_VMX_EXITS), walks: this.get(A.OFF_VMX_EPT_WALKS), walkRefs: this.get(A.OFF_VMX_WALK_REFS),
      tlbFlushes: this.get(A.OFF_VMX_TLB_FLUSHES), pwcHits: this.get(A.OFF_VMX_PWC_HITS), pwcMisses: this.get(A.OFF_VMX_PWC_MISSES),
    };
  }
  /** "enable VPID" with this tag (0: off; every VM exit and entry then flushes the TLB) */
  set vpid(tag: number) {
    this.set(A.OFF_VMX_VPID, tag & 0xffff);
    this.ctl(A.OFF_VMX_PROC2, A.PROC2_VPID, tag !== 0);
  }
  get vpid(): number { return this.get(A.OFF_VMX_PROC2) & A.PROC2_VPID ? this.get(A.OFF_VMX_VPID) & 0xffff : 0; }
  /** the nested TLB of the 2-D walk (OFF_VMX_PWC; not architectural) */
  set pwc(on: boolean) { this.set(A.OFF_VMX_PWC, on ? 1 : 0); }
  get pwc(): boolean { return this.get(A.OFF_VMX_PWC) === 1; }
  /** INVVPID (A.INVVPID_* types) */
  invvpid(type: number, vpid: number, linear = 0): void { this.m.invvpid(type, vpid, linear); }

  /** The whole control block (for snapshots: it lies outside the vCPU state Machine.saveState copies). */
  save(): number[] {
    const out: number[] = [];
    for (let o = 0; o < A.AREA_VMCS_SIZE; o += 4) out.push(this.get(A.AREA_VMCS + o));
    return out;
  }
  restore(words: number[]): void {
    if (!Array.isArray(words) || words.length !== A.AREA_VMCS_SIZE / 4) throw new Error("wasmvisor: snapshot has a malformed VMCS");
    words.forEach((w, i) => this.set(A.AREA_VMCS + i * 4, w));
  }
}
