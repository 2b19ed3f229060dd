// mode.ts — `hw` mode: hardware-assisted virtualization, VT-x-like. The unmodified guest kernel runs at ring 0 in
// the CPU's guest (non-root) mode, controlled by the VMCS (vmcs.ts, assembly/vmx.ts); its memory is translated
// twice, by its own page tables and by the host's nested tables (ept.ts, assembly/ept.ts). The hypervisor sees the
// guest only through VM exits (exits.ts) and the device accesses every mode answers (core/device-exits.ts).
//
// Controls (as KVM sets them with EPT): external-interrupt exiting, HLT exiting, unconditional I/O exiting, MSR
// bitmaps with nothing intercepted, TSC offsetting, EPT with A/D flags and device memory left unmapped; CPUID,
// VMCALL and triple faults exit unconditionally. No CR, INVLPG or #PF intercepts: with nested paging the guest owns
// its page tables, CR3 and TLB. With a local APIC, "virtualize APIC accesses": its hot registers are answered in
// the CPU without a VM exit (virtualizeApic).
//
// Interrupts go in by event injection: before every slice, if the controller has a request and the guest can
// take it (IF=1, no STI/MOV SS shadow) it is acknowledged and injected on entry; if not, interrupt-window exiting
// brings the CPU back at the first instruction boundary where it can, and the request is injected then. The
// guest takes it at the same instruction boundary as in native mode.
//
// `npt: false` (CLI `--npt off`) is first-generation VT-x: no EPT; the hypervisor shadows the guest's page tables
// with CR3/INVLPG/#PF exits (shadow-paging.ts).
import { Machine, type Exit, type MachineOptions } from "../machine.ts";
import * as A from "../abi.generated.ts";
import { deviceExit, enableStringIoBatches } from "../core/device-exits.ts";
import { shareApic } from "../core/apic-share.ts";
import type { VmStats } from "../stats.ts";
import { loadMultiboot, enterMultiboot, type MultibootBoot } from "../multiboot.ts";
import { loadBzImage, enterBzImage, type BzImageBoot, type BzImageOptions } from "../loaders/bzimage.ts";
import { guestRamAt, type GuestMemory } from "../elf.ts";
import type { Saved } from "../persist.ts";
import type { ExitAction, LoadOptions, Mode } from "../core/mode.ts";
import type { Platform } from "../core/platform.ts";
import { EXIT_STATUS, VmConfigError, hex } from "../core/status.ts";
import { Vmcs, reasonName } from "./vmcs.ts";
import { Ept, HW_HOST_SIZE, IO_BITMAP_A, IO_BITMAP_B, MSR_BITMAP } from "./ept.ts";
import { handleVmExit, internal } from "./exits.ts";
import { HwShadowPaging } from "./shadow-paging.ts";
import { ApicVirt } from "./apicv.ts";
import { IOAPIC_BASE } from "../devices/ioapic.ts";
import { LAPIC_BASE, LAPIC_SIZE } from "../devices/lapic.ts";

const STALL_EXITS = 64;
/** the guest's VPID (KVM gives each vCPU its own; 0 is the host's) */
const VPID = 1;
/** with shadow paging, hidden page faults retire nothing either: a longer run of them is still progress */
const STALL_EXITS_SHADOW = 4096;
/** npt off: a device-memory access (the shadow maps it past machine RAM), by reason in the stats */
const MMIO_REASON = "exception (#PF: device memory)";

export interface HwModeOptions {
  /** CPU options (the VMCS controls are hw mode's own) */
  machine?: Partial<MachineOptions>;
  /** nested paging (EPT, default true); false: shadow page tables, as first-generation VT-x (`--npt off`) */
  npt?: boolean;
  /** "enable VPID" (default true, as KVM): false flushes the TLB at every VM exit and entry (VT-x before Nehalem) */
  vpid?: boolean;
  /** the nested TLB of the 2-D walk (default true; false: every walk makes its 8 references) */
  pwc?: boolean;
  /** large (4 MiB) EPT pages where guest RAM allows (default true; false: 4 KiB EPT entries only) */
  eptLarge?: boolean;
  /** APIC-register virtualization with the TPR shadow (default true; apicv.ts): false leaves every APIC access
   *  to the in-CPU APIC's non-architectural answers from the shared model, as before */
  apicv?: boolean;
}

export class HwMode implements Mode {
  readonly name = "hw";
  readonly machine: Machine;
  readonly vmcs: Vmcs;
  readonly ept: Ept;
  readonly guestRam: number;
  /** shadow paging (npt off), else null */
  readonly shadow: HwShadowPaging | null;
  private platform!: Platform;
  private vmStats!: VmStats;
  /** instructions the hypervisor emulated (CPUID, HLT): part of the virtual clock, and of the guest's TSC */
  private emulated = 0;
  private injected = 0;
  private readonly exitsByReason: Record<string, number> = {};
  private lastProgress = -1;
  private apicv: ApicVirt | null = null;
  private readonly wantApicv: boolean;
  private stalled = 0;

  constructor(memSize: number, o: HwModeOptions, private readonly log: (m: string) => void) {
    this.guestRam = memSize;
    if (memSize + HW_HOST_SIZE > A.MAX_RAM_SIZE) {
      throw new VmConfigError(`--mem ${memSize / 2 ** 20}M is too large for --mode hw (at most ${(A.MAX_RAM_SIZE - HW_HOST_SIZE) / 2 ** 20}M: the hypervisor's ${HW_HOST_SIZE >> 20}M sit below guest RAM)`);
    }
    this.machine = new Machine({ ...o.machine, memSize: memSize + HW_HOST_SIZE });
    this.vmcs = new Vmcs(this.machine);
    // device memory keeps 4 KiB EPT entries around it (today all of it lies above the largest guest RAM)
    this.ept = new Ept(this.machine, memSize, { large: o.eptLarge !== false, holes: [[IOAPIC_BASE, IOAPIC_BASE + 0x1000], [LAPIC_BASE, LAPIC_BASE + LAPIC_SIZE]] });
    this.shadow = o.npt === false ? new HwShadowPaging(this.machine, this.vmcs, memSize) : null;
    if (!this.shadow) this.ept.mapGuestRam();
    this.setControls();
    this.vmcs.vpid = o.vpid === false ? 0 : VPID;
    this.vmcs.pwc = o.pwc !== false && !this.shadow;
    this.wantApicv = o.apicv !== false;
    enableStringIoBatches(this.machine); // REP INS/OUTS: one I/O exit per run of elements, as native (KVM_EXIT_IO with a count)
  }

  /** The VMCS controls of a KVM-like hypervisor with nested paging (the file comment). */
  private setControls(): void {
    const v = this.vmcs;
    this.machine.fillMem(IO_BITMAP_A, 0x3000, 0); // I/O bitmaps (unused: unconditional I/O exiting) and MSR bitmap: nothing intercepted
    v.set(A.OFF_VMX_PIN, A.PIN_EXT_INTR);
    v.set(A.OFF_VMX_PROC, A.PROC_HLT | A.PROC_IO_UNCOND | A.PROC_MSR_BITMAPS | A.PROC_TSC_OFFSET);
    v.set(A.OFF_VMX_PROC2, A.PROC2_EPT | A.PROC2_EPT_MMIO);
    v.set(A.OFF_VMX_EPTP, this.ept.pointer);
    v.set(A.OFF_VMX_IO_BITMAP_A, IO_BITMAP_A);
    v.set(A.OFF_VMX_IO_BITMAP_B, IO_BITMAP_B);
    v.set(A.OFF_VMX_MSR_BITMAP, MSR_BITMAP);
    v.set(A.OFF_VMX_EXC_BITMAP, 0);
    v.guestMode = true;
  }

  get emulatedInstructions(): number { return this.emulated; }

  attach(platform: Platform, stats: VmStats): void {
    this.platform = platform;
    this.vmStats = stats;
    this.virtualizeApic();
  }

  /**
   * "Virtualize APIC accesses" (PROC2_VIRT_APIC), as KVM sets it when the platform has a local APIC: its registers
   * move into the CPU's AREA_APIC (as in native mode) and the APIC-access page is where the guest's accesses to it
   * arrive: the guest-physical page with EPT, the host-physical page the shadow tables map it to without. The CPU
   * answers its hot registers (ID, TPR, EOI ...) with no VM exit; everything else still exits (assembly/apic.ts).
   */
  private virtualizeApic(): void {
    if (!this.platform.shareApic) return;
    const area = shareApic(this.platform, this.machine, this.shadow ? HW_HOST_SIZE : 0)!; // (follows the memory as RAM is backed)
    this.vmcs.set(A.OFF_VMX_APIC_ACCESS, area[(A.OFF_APIC_PAGE - A.AREA_APIC) / 4]);
    this.vmcs.ctl(A.OFF_VMX_PROC2, A.PROC2_VIRT_APIC, true);
    if (!this.wantApicv) return;
    this.apicv = new ApicVirt(this.machine, this.vmcs, this.platform);
    this.apicv.enable();
  }

  /** Guest-physical memory as the loaders write it: guest RAM sits at host-physical HW_HOST_SIZE + gpa. */
  private guestMemory(): GuestMemory { return guestRamAt(this.machine, HW_HOST_SIZE, this.guestRam); }

  /** Loads a multiboot kernel into guest RAM and enters it. */
  load(image: Uint8Array, opts: LoadOptions): MultibootBoot {
    const boot = loadMultiboot(image, this.guestMemory(), { ...opts, mpTables: this.platform.mpTables });
    enterMultiboot(this.machine, boot);
    this.shadow?.start();
    return boot;
  }

  /** Loads a Linux bzImage (+ initrd, boot_params) into guest RAM and enters it at ring 0 in guest mode, in the
   * boot protocol's 32-bit entry state (the same registers as native; addresses are guest-physical). */
  loadLinux(image: Uint8Array, opts: BzImageOptions): BzImageBoot {
    const boot = loadBzImage(image, this.guestMemory(), { ...opts, mpTables: this.platform.mpTables });
    enterBzImage(this.machine, boot);
    this.shadow?.start();
    return boot;
  }

  beforeSlice(): number { this.deliver(); this.apicv?.beforeEntry(); return Infinity; }
  afterSlice(): void {}
  wakeup(): boolean { return this.platform.pic.peek() >= 0; }

  /** Inject the controller's request if the guest can take it now, else ask for the interrupt window. */
  private deliver(): void {
    const v = this.vmcs;
    if (v.injectionPending || this.shadow?.stepping) return;
    const want = this.platform.pic.peek() >= 0;
    const open = want && (this.machine.eflags & A.FLAG_IF) !== 0 && (v.get(A.OFF_INT_SHADOW) & (A.SHADOW_INT | A.SHADOW_MOV_SS)) === 0;
    v.ctl(A.OFF_VMX_PROC, A.PROC_INTR_WINDOW, want && !open);
    if (!open) return;
    const vec = this.platform.pic.acknowledge();
    if (vec < 0) return;
    this.vmStats.countInterrupt(vec);
    this.injected++;
    v.inject("external", vec);
  }

  handle(exit: Exit): ExitAction {
    const r = this.vmcs.exitReason;
    this.apicv?.afterExit(); // (the guest's TPR writes reach the model before anything reads it)
    if (r !== A.VMX_NO_EXIT) { const n = reasonName(r); this.exitsByReason[n] = (this.exitsByReason[n] ?? 0) + 1; }
    const sp = this.shadow;
    if (sp) {
      if (sp.finishStep(exit)) return null;
      // device memory: the shadow maps it past machine RAM; the devices see the guest-physical address
      // (first-generation VT-x takes a #PF exit for it: counted as a VM exit of its own reason)
      if (exit.reason === "mmio-read" || exit.reason === "mmio-write") {
        const apic = r === A.VMX_EXIT_APIC_ACCESS; // (the APIC-access page: a VM exit of its own reason, counted above)
        exit = { ...exit, port: sp.mmioGuestAddr(exit.port, !apic) };
        if (!apic) this.exitsByReason[MMIO_REASON] = (this.exitsByReason[MMIO_REASON] ?? 0) + 1;
      }
    }
    // A device exit is no VM exit: a fault loop that exits for a device read every round is bounded by the CPU
    // (assembly/cpu.ts counts its deliveries across run() calls), as in native mode.
    if (deviceExit(exit, this.machine, this.platform.bus, this.vmStats)) return null;
    // A guest in a loop of VM exits that retire nothing (an injected #UD whose handler is VMCALL again: the
    // injection happens at VM entry, which the CPU does not count as a delivery) would keep the run loop from
    // ever reaching its instruction limit: past STALL_EXITS such exits in a row, each counts as an instruction.
    const progress = this.machine.instructions + this.emulated;
    if (progress === this.lastProgress) { if (++this.stalled > (sp ? STALL_EXITS_SHADOW : STALL_EXITS)) this.emulated++; } else this.stalled = 0;
    this.lastProgress = this.machine.instructions + this.emulated;
    switch (exit.reason) {
      case "vmexit": {
        const a = sp?.handle(exit, () => this.emulate());
        if (a === null) return null;
        if (a) return a.stop === "shutdown" ? { exitStatus: EXIT_STATUS.TRIPLE_FAULT, stopReason: "shutdown", message: a.message, exit } : internal(exit, a.message);
        return handleVmExit({ m: this.machine, vmcs: this.vmcs, emulated: () => this.emulate() }, exit);
      }
      case "budget":
        return null;
      case "hlt": // halted in guest mode without HLT exiting (activity state HLT)
        if (this.machine.eflags & A.FLAG_IF) return "idle";
        return { exitStatus: EXIT_STATUS.HALTED, stopReason: "halted", message: `guest halted with interrupts disabled (hlt at eip ${hex(exit.eip)})`, exit };
      default:
        return internal(exit, `unexpected ${exit.reason} exit at eip ${hex(exit.eip)}`);
    }
  }

  /** One emulated instruction: the virtual clock counts it, and so the guest's TSC (the run loop gives the CPU the
   * clock as its TSC adjustment, which holds in guest mode too: the TSC offset stays 0, as KVM's for a guest started
   * with the host's TSC). */
  private emulate(): void { this.emulated++; }

  /** VM exits by basic reason, injections, and the two-dimensional walk's cost per guest TLB miss */
  stats(): Record<string, unknown> {
    const c = this.vmcs.counters;
    return {
      vmExits: c.exits + (this.shadow?.stats.mmioExits ?? 0),
      exitsByReason: { ...this.exitsByReason },
      interruptsInjected: this.injected,
      emulatedInstructions: this.emulated,
      nestedWalks: c.walks,
      nestedWalkRefs: c.walkRefs, // raw, so the bench can difference it (refs per miss = Δrefs / Δwalks)
      vpid: this.vmcs.vpid,
      vpidTlbFlushes: c.tlbFlushes, // whole-TLB flushes by VM exits/entries without VPID
      pwc: this.vmcs.pwc ? { hits: c.pwcHits, misses: c.pwcMisses } : null,
      walkRefsPerMiss: c.walks ? +(c.walkRefs / c.walks).toFixed(2) : 0,
      tlbMisses: this.vmcs.get(A.OFF_TLB_MISSES), // the CPU's TLB misses (nested: = nestedWalks; shadow: 1-D walks of 2 references)
      paging: this.shadow ? "shadow" : "nested",
      eptLarge: !this.shadow && this.ept.large,
      apicv: this.apicv ? { pageReads: this.vmcs.get(A.OFF_VMX_APICV_READS), tprAccesses: this.vmcs.get(A.OFF_VMX_TPR_INCPU) } : null,
      ...(this.shadow ? { shadowPaging: this.shadow.statsSnapshot() } : {}),
    };
  }

  save(): Saved {
    return { vmcs: this.vmcs.save(), emulated: this.emulated, injected: this.injected, exitsByReason: { ...this.exitsByReason }, ...(this.shadow ? { shadow: this.shadow.save() } : {}) };
  }
  restore(s: Saved): void {
    const o = s as { vmcs: number[]; emulated: number; injected: number; exitsByReason: Record<string, number> };
    this.vmcs.restore(o.vmcs);
    this.emulated = o.emulated;
    this.injected = o.injected;
    Object.assign(this.exitsByReason, o.exitsByReason);
    if (this.shadow) this.shadow.restore((s as { shadow: Saved }).shadow);
    this.apicv?.invalidate();
  }
}
