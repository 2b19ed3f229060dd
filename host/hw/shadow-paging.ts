// shadow-paging.ts — hw mode without nested paging (`--npt off`): first-generation VT-x (2005–2008), where the
// hypervisor keeps shadow page tables as full mode does (host/full/shadow.ts, the same ShadowMmu), but the guest
// kernel runs unmodified at ring 0 in guest mode and the VMCS decides what the hypervisor sees:
//
// - CR3 load and store exiting: the guest's CR3 lives here; the CPU's real CR3 is the shadow directory of that
//   address space (a cached shadow is reused), so a MOV from CR3 must exit too or the guest would read it.
// - INVLPG exiting: the shadow entry for that page is dropped.
// - #PF exiting (exception bitmap bit 14, PFEC mask = match = 0: every #PF exits, as KVM does with shadow paging):
//   the hypervisor walks the guest's tables (setting A/D as the CPU would); if the guest's walk faults it is a true
//   fault, injected with the guest's error code and CR2; else a hidden fault: the shadow entry is filled and the
//   instruction restarts. A #PF while the CPU delivers an event exits with the event in the IDT-vectoring
//   information, re-injected after the fill.
// - Guest page-table writes: the frames the shadows derive from are mapped read-only (the real CR0.WP is always 1, so
//   the ring-0 kernel faults on them too); a write is stepped with the monitor trap flag: the page is opened for
//   one instruction, then the frame is diffed and exactly the shadow entries of the changed guest entries dropped.
// - CR0.PG/WP/PE and CR4.PSE are host-owned (guest/host masks with read shadows): the real CPU always pages with
//   WP=1 (guest paging off = an identity shadow), the guest reads and writes its own values, and a write that
//   changes one exits so the shadows follow the guest's paging mode.
//
// Shadow entries keep the guest's U/S and R/W (ShadowMmu ring0Guest): the guest kernel and its user programs see
// exactly their own protection, with a kernel-only writable entry where a guest with CR0.WP=0 writes a read-only page.
import type { Exit, Machine } from "../machine.ts";
import { REG_NAMES } from "../machine.ts";
import * as A from "../abi.generated.ts";
import { ShadowMmu, GuestRangeError, type GuestPaging, type PhysMem } from "../full/shadow.ts";
import type { Vmcs } from "./vmcs.ts";
import { HW_HOST_SIZE } from "./ept.ts";
import { saveState, loadState, type Saved } from "../persist.ts";

/** the hypervisor's machine pages for shadow tables: above the EPT area, below guest RAM */
export const SHADOW_POOL_START = 0x100000;
const CR0_OWNED = A.CR0_PG | A.CR0_WP | A.CR0_PE;
const CR4_OWNED = A.CR4_PSE;
const CR0_BITS = A.CR0_PE | A.CR0_MP | A.CR0_EM | A.CR0_TS | A.CR0_NE | A.CR0_WP | A.CR0_AM | A.CR0_NW | A.CR0_CD | A.CR0_PG;
const CR4_OSFXSR = 0x200; // (assembly/fpu/fxsave.ts)
const CR4_BITS = A.CR4_TSD | A.CR4_DE | A.CR4_PSE | A.CR4_PGE | CR4_OSFXSR;

/** What the hypervisor does after an npt-off exit: continue (null), or stop the VM with a message. */
export type ShadowAction = null | { stop: "shutdown" | "internal-error"; message: string };

interface OpenPage { lin: number; frame: number; old: number; before: Uint8Array }

export interface ShadowPagingStats {
  cr3Loads: number; cr3Stores: number; invlpgExits: number; crWrites: number;
  pfExits: number; hiddenFaults: number; trueFaults: number; reinjected: number; ptWritesStepped: number; mmioExits: number;
}

export class HwShadowPaging {
  readonly mmu: ShadowMmu;
  /** the guest's own control registers (the real ones are the shadows' and the host's) */
  cr0 = A.CR0_PE | A.CR0_ET;
  cr3 = 0;
  cr4 = 0;
  readonly stats: ShadowPagingStats = { cr3Loads: 0, cr3Stores: 0, invlpgExits: 0, crWrites: 0, pfExits: 0, hiddenFaults: 0, trueFaults: 0, reinjected: 0, ptWritesStepped: 0, mmioExits: 0 };
  /** pages opened for the instruction being stepped over a page-table write (MTF) */
  private open: OpenPage[] = [];

  constructor(private readonly m: Machine, private readonly vmcs: Vmcs, readonly guestRam: number) {
    const mem: PhysMem = {
      read32: (a) => m.read32(a), write32: (a, v) => m.write32(a, v), fill: (a, l, v) => m.fillMem(a, l, v),
      read: (a, l) => m.readMem(a, l), write: (a, d) => m.writeMem(a, d), flushTlb: () => m.flushTlb(), invlpg: (lin) => m.invlpg(lin),
    };
    this.mmu = new ShadowMmu({ mem, ramOffset: HW_HOST_SIZE, ramSize: guestRam, poolStart: SHADOW_POOL_START, poolEnd: HW_HOST_SIZE, vmmPt: 0, ring0Guest: true });
  }

  /** The VMCS controls of shadow paging (added to the mode's), and the guest's entry state taken over (after the loader). */
  start(): void {
    const v = this.vmcs, m = this.m;
    v.set(A.OFF_VMX_PROC, v.get(A.OFF_VMX_PROC) | A.PROC_CR3_LOAD | A.PROC_CR3_STORE | A.PROC_INVLPG);
    v.set(A.OFF_VMX_PROC2, v.get(A.OFF_VMX_PROC2) & ~(A.PROC2_EPT | A.PROC2_EPT_MMIO));
    v.set(A.OFF_VMX_EXC_BITMAP, v.get(A.OFF_VMX_EXC_BITMAP) | (1 << A.VEC_PF));
    v.set(A.OFF_VMX_PF_MASK, 0);
    v.set(A.OFF_VMX_PF_MATCH, 0);
    v.set(A.OFF_VMX_CR0_MASK, CR0_OWNED);
    v.set(A.OFF_VMX_CR4_MASK, CR4_OWNED);
    this.cr0 = m.getCr("cr0") >>> 0;
    this.cr3 = m.getCr("cr3") >>> 0;
    this.cr4 = m.getCr("cr4") >>> 0;
    this.load();
  }

  private paging(): GuestPaging {
    return { pg: !!(this.cr0 & A.CR0_PG), wp: !!(this.cr0 & A.CR0_WP), pse: !!(this.cr4 & A.CR4_PSE), cr3: this.cr3 };
  }

  /** The real CPU state for the guest's: read shadows, CR0 with PG/WP/PE on, CR3 = the current shadow directory. */
  private load(): void {
    const v = this.vmcs, m = this.m;
    v.set(A.OFF_VMX_CR0_SHADOW, this.cr0);
    v.set(A.OFF_VMX_CR4_SHADOW, this.cr4);
    m.setCr("cr0", (this.cr0 | CR0_OWNED) >>> 0);
    m.setCr("cr4", this.cr4);
    m.setCr("cr3", this.mmu.activate(this.paging(), false)); // (flushes the TLB)
  }

  get stepping(): boolean { return this.open.length > 0; }

  /** A device-memory exit: the CPU reports the machine address the shadow maps the page to (mmioMachineAddr). */
  mmioGuestAddr(mpa: number, count = true): number { if (count) this.stats.mmioExits++; return this.mmu.mmioGuestAddr(mpa); }

  /**
   * Before handling any exit: an instruction stepped over a page-table write has run (or left by another exit):
   * close the pages and drop the shadow entries of the guest entries it changed. Returns true for the MTF exit
   * itself (nothing else to do).
   */
  finishStep(exit: Exit): boolean {
    if (!this.open.length) return false;
    const mtf = exit.reason === "vmexit" && exit.vmxReason === A.VMX_EXIT_MTF;
    // a second protected page in the same instruction (a store across a page boundary): open it too, keep stepping
    if (exit.reason === "vmexit" && exit.vmxReason === A.VMX_EXIT_EXCEPTION && this.isPf() && this.open.length < 4 && this.protectedWriteFault(exit)) return true;
    this.vmcs.ctl(A.OFF_VMX_PROC, A.PROC_MTF, false);
    const pages = this.open;
    this.open = [];
    for (const p of pages.reverse()) this.mmu.restoreSpte(p.lin, p.old);
    for (const p of pages) this.mmu.commitWrite(p.frame, p.before);
    return mtf;
  }

  private isPf(): boolean { const i = this.vmcs.exitInterruption; return i !== null && i.vector === A.VEC_PF; }

  /** a #PF exit that is a write to a page-table frame the guest may write: opened for the step; false otherwise */
  private protectedWriteFault(exit: Exit & { reason: "vmexit" }): boolean {
    const lin = exit.qualification >>> 0, err = this.vmcs.exitInterruption!.errorCode ?? 0;
    if (!(err & A.PF_W)) return false;
    const w = this.mmu.walk(this.paging(), lin, true, (err & A.PF_U) !== 0, false);
    if (!w.ok || w.gpa >= this.guestRam || !this.mmu.isProtected(w.gpa >>> 12)) return false;
    this.mmu.walk(this.paging(), lin, true, (err & A.PF_U) !== 0, true);
    this.openPage(lin, w.gpa);
    return true;
  }

  private openPage(lin: number, gpa: number): void {
    const frame = gpa >>> 12;
    const before = this.mmu.snapshot(frame);
    const old = this.mmu.mapTemporarilyWritable(lin, gpa);
    this.open.push({ lin, frame, old, before });
    this.vmcs.ctl(A.OFF_VMX_PROC, A.PROC_MTF, true);
    this.vmcs.ctl(A.OFF_VMX_PROC, A.PROC_INTR_WINDOW, false); // (re-armed by the mode after the step)
  }

  /** Handles the npt-off VM exits (CR access, INVLPG, #PF); undefined for an exit that is not one of them. */
  handle(exit: Exit & { reason: "vmexit" }, emulated: () => void): ShadowAction | undefined {
    try {
      switch (exit.vmxReason) {
        case A.VMX_EXIT_CR: return this.crAccess(exit, emulated);
        case A.VMX_EXIT_INVLPG:
          this.stats.invlpgExits++;
          this.mmu.invlpg(exit.qualification >>> 0);
          this.advance(exit, emulated);
          return null;
        case A.VMX_EXIT_EXCEPTION:
          if (!this.isPf()) return undefined;
          return this.pageFault(exit);
        default: return undefined;
      }
    } catch (e) {
      if (e instanceof GuestRangeError) return { stop: "shutdown", message: `hw --npt off: ${e.message}` };
      throw e;
    }
  }

  private advance(exit: Exit & { reason: "vmexit" }, emulated: () => void): void {
    this.m.eip = (this.m.eip + exit.insnLength) >>> 0;
    emulated();
  }

  private crAccess(exit: Exit & { reason: "vmexit" }, emulated: () => void): ShadowAction {
    const q = exit.qualification >>> 0;
    const cr = q & 15, type = (q >>> 4) & 3, gpr = REG_NAMES[(q >>> 8) & 7];
    if (type === A.QCR_MOV_FROM && cr === 3) {
      this.stats.cr3Stores++;
      this.m.setReg(gpr, this.cr3);
      this.advance(exit, emulated);
      return null;
    }
    if (type !== A.QCR_MOV_TO) return { stop: "internal-error", message: `hw --npt off: unexpected CR access exit (qualification 0x${q.toString(16)})` };
    const v = this.m.getReg(gpr) >>> 0;
    if (cr === 3) {
      this.stats.cr3Loads++;
      this.cr3 = (v & 0xfffff018) >>> 0;
      if (this.cr0 & A.CR0_PG) this.m.setCr("cr3", this.mmu.activate(this.paging(), false));
      this.advance(exit, emulated);
      return null;
    }
    this.stats.crWrites++;
    // the CPU's own checks of a MOV to CR0/CR4 (ops/system.ts), then the guest's new paging mode
    if (cr === 0) {
      if (((v & A.CR0_PG) && !(v & A.CR0_PE)) || ((v & A.CR0_NW) && !(v & A.CR0_CD))) { this.vmcs.inject("hw-exception", A.VEC_GP, 0); return null; }
      const nv = ((v & CR0_BITS) | A.CR0_ET) >>> 0;
      if (!(nv & A.CR0_PE)) return { stop: "internal-error", message: "hw --npt off: the guest left protected mode (real mode needs unrestricted guest or nested paging)" };
      const changed = (this.cr0 ^ nv) & (A.CR0_PG | A.CR0_WP);
      this.cr0 = nv;
      if (changed) this.mmu.flushAll();
    } else if (cr === 4) {
      if ((v & ~CR4_BITS) >>> 0) { this.vmcs.inject("hw-exception", A.VEC_GP, 0); return null; }
      const changed = (this.cr4 ^ v) & A.CR4_PSE;
      this.cr4 = v >>> 0;
      if (changed) this.mmu.flushAll();
    } else return { stop: "internal-error", message: `hw --npt off: unexpected CR${cr} write exit` };
    this.load();
    this.advance(exit, emulated);
    return null;
  }

  /** A #PF exit: a true fault (the guest's walk faults) is injected; a hidden one fills the shadow. */
  private pageFault(exit: Exit & { reason: "vmexit" }): ShadowAction {
    this.stats.pfExits++;
    const lin = exit.qualification >>> 0;
    const err = this.vmcs.exitInterruption!.errorCode ?? 0;
    const write = (err & A.PF_W) !== 0, user = (err & A.PF_U) !== 0;
    const vectoring = this.vmcs.get(A.OFF_VMX_IDT_VEC_INFO) >>> 0;
    const w = this.mmu.walk(this.paging(), lin, write, user, true);
    if (!w.ok) {
      this.stats.trueFaults++;
      this.mmu.stats.trueFaults++;
      this.vmcs.set(A.OFF_CR2, lin); // (the exit left CR2 alone)
      // a true fault while delivering an event: the CPU's rules for the pair (SDM table 6-5) — a #PF while
      // delivering a #PF is a #DF, while delivering a #DF a triple fault; after anything else the #PF is delivered
      const first = vectoring & A.INTR_INFO_VALID && (vectoring & 0x700) === A.INTR_TYPE_HW_EXC ? vectoring & 0xff : -1;
      if (first === A.VEC_DF) return { stop: "shutdown", message: `triple fault (CPU shutdown): #PF at 0x${lin.toString(16)} while delivering #DF` };
      if (first === A.VEC_PF) this.vmcs.inject("hw-exception", A.VEC_DF, 0);
      else this.vmcs.inject("hw-exception", A.VEC_PF, w.err);
      return null;
    }
    this.stats.hiddenFaults++;
    this.mmu.stats.hiddenFaults++;
    if (!this.mmu.fill(lin, w, write)) {
      // a write to a frame the shadows derive from: step the instruction with the page opened
      this.stats.ptWritesStepped++;
      this.mmu.stats.ptWritesStepped++;
      this.openPage(lin, w.gpa);
    }
    this.reinject(vectoring);
    return null;
  }

  /** The event whose delivery the hidden fault interrupted is delivered again (SDM 27.2.4 / KVM's complete_interrupts). */
  private reinject(info: number): void {
    if (!(info & A.INTR_INFO_VALID)) return;
    const type = info & 0x700;
    if (type === A.INTR_TYPE_SOFT_INT || type === A.INTR_TYPE_SOFT_EXC) return; // the INT instruction restarts
    this.stats.reinjected++;
    this.vmcs.set(A.OFF_VMX_ENTRY_ERROR, this.vmcs.get(A.OFF_VMX_IDT_VEC_ERROR));
    this.vmcs.set(A.OFF_VMX_ENTRY_INSN_LEN, 0);
    this.vmcs.set(A.OFF_VMX_ENTRY_INTR, info);
  }

  statsSnapshot(): Record<string, unknown> {
    return { ...this.stats, shadow: { ...this.mmu.stats, shadowsCached: this.mmu.shadowCount, freePages: this.mmu.freePages } };
  }

  /** the guest's control registers, the counters, a step in progress and the shadow bookkeeping (the tables are in machine RAM) */
  save(): Saved {
    return {
      cr: [this.cr0, this.cr3, this.cr4], stats: { ...this.stats },
      open: this.open.map((p) => ({ lin: p.lin, frame: p.frame, old: p.old, before: Array.from(p.before) })),
      mmu: saveState(this.mmu),
    };
  }
  restore(s: Saved): void {
    const o = s as unknown as { cr: number[]; stats: ShadowPagingStats; open: { lin: number; frame: number; old: number; before: number[] }[]; mmu: Saved };
    [this.cr0, this.cr3, this.cr4] = o.cr;
    Object.assign(this.stats, o.stats);
    this.open = o.open.map((p) => ({ ...p, before: Uint8Array.from(p.before) }));
    loadState(this.mmu, o.mmu);
  }
}
