// mode.ts — virtual privilege and mode switching: taking over the machine deprivileged, the virtual/real
// EFLAGS split, the real CR0/CR4/CR3 for the current virtual mode and address space, the real GDT/LDT copies of
// the guest's tables (kernel and user views), and segment loads checked at the virtual CPL.
import { type SegName } from "../machine.ts";
import * as A from "../abi.generated.ts";
import { GuestRangeError, VMM_LINEAR } from "./shadow.ts";
import { GuestMemory } from "./memory.ts";
import {
  GuestFault, SEG, FL_IF, FL_IOPL, GDT_K, GDT_U, LDT_K, LDT_U, IDT_REAL, descAttr, descBase, descLimit, type GuestDesc,
} from "./vcpu.ts";

export abstract class ModeSwitch extends GuestMemory {
  /** Takes over a machine left in the multiboot entry state (or any flat ring-0 state) and deprivileges it. */
  start(): void {
    const m = this.m;
    const fl = m.eflags;
    this.v.cpl = m.cpl;
    this.v.vif = !!(fl & FL_IF);
    this.v.iopl = (fl & FL_IOPL) >> 12;
    this.v.cr0 = m.getCr("cr0") & ~A.CR0_PG;
    this.v.gdtr = m.getGdtr();
    this.v.idtr = m.getIdtr();
    const cs = m.getSegment("cs"), ss = m.getSegment("ss");
    m.setSegment("cs", { ...cs, selector: cs.selector | 3, attr: cs.attr | 0x60 });
    m.setSegment("ss", { ...ss, selector: ss.selector | 3, attr: ss.attr | 0x60 });
    this.setGuestFlags(fl);
    m.setIdtr(VMM_LINEAR + IDT_REAL, 0);
    this.fastPaths = this.fastWanted;
    this.applyCr0();
    this.applyMode();
    this.publishFast();
  }

  /** EFLAGS as the guest sees them: the real arithmetic/control flags with the virtual IF and IOPL. */
  guestFlags(): number {
    return ((this.m.eflags & ~(FL_IF | FL_IOPL)) | (this.v.vif ? FL_IF : 0) | (this.v.iopl << 12)) >>> 0;
  }

  /** Real EFLAGS: IF always 1 (the line is never raised: the VMM injects), IOPL 0 (cli/sti/in/out trap). */
  setGuestFlags(f: number): void {
    this.v.vif = !!(f & FL_IF);
    this.v.iopl = (f & FL_IOPL) >> 12;
    this.m.eflags = ((f & ~(FL_IOPL | A.FLAG_VM)) | FL_IF) >>> 0;
    this.applySensitiveExits();
  }

  /**
   * The x86 hole, translated at run time: which sensitive instructions the CPU must hand over (exit before
   * executing, EXIT_SENSITIVE) in the current virtual state, so that the deprivileged guest sees exactly what
   * it would natively. The privilege-dependent transfers (iret, retf, far call, SS loads) always: a far call
   * through a gate from virtual CPL 3 would make the real CPU switch stacks with the VMM's TSS, and at virtual
   * CPL 0–2 every one of them depends on the real CPL 3. At virtual CPL 0–2 also every hole instruction (the
   * real CPL 3 would give other results). At virtual CPL 3 the real CPL is the virtual one, so those give the
   * same results — except the reads of state the VMM replaced (sgdt/sidt/sldt/str/smsw: the real tables live in
   * the VMM's region), and pushf/popf whenever the real IF=1/IOPL=0 differ from the virtual ones (IF clear or
   * IOPL > 0: pushf shows them, popf may change IF at IOPL 3). With the hole left open (closeHole: false) only
   * the transfers are caught. In static mode the patcher's INT3s do all this instead.
   */
  applySensitiveExits(): void {
    if (this.translation !== "runtime") return;
    const v = this.v;
    let bits = A.CTRL_EXIT_PRIV_XFER;
    if (this.patcher.closeHole) bits |= v.cpl < 3 || !v.vif || v.iopl !== 0 ? A.CTRL_EXIT_SENSITIVE : A.CTRL_EXIT_DESC_READ;
    this.m.sensitiveExits = bits;
  }

  /** the CPU's fast privilege switches (INT n and #PF in, IRET out) the monitor has adopted: abi.ts CTRL_FAST_INT, CTRL_FAST_PF */
  protected fastSeen = 0;
  private fastSwitches(): number {
    const d = this.dv, b = A.STATE_BASE;
    return (d.getUint32(b + A.OFF_FF_N_INT, true) + d.getUint32(b + A.OFF_FF_N_IRET, true) + d.getUint32(b + A.OFF_FPF_N, true)) >>> 0;
  }
  /**
   * Publishes what the CPU's fast INT/IRET need (abi.ts CTRL_FAST_INT, assembly/fullfast.ts): both shadows of the
   * current address space (0 when one is not cached: the CPU then exits), the exit controls of either level, the
   * real GDT/LDT views, the guest's IDTR/GDTR/TR. After every exit and before every run(): nothing of it changes
   * while the guest runs but by those fast switches themselves, which only move between the published values.
   */
  publishFast(): void {
    this.publishPtMirror();
    if (!(this.fastWanted & A.CTRL_FAST_INT) || this.translation !== "runtime") return;
    const v = this.v, hole = this.patcher.closeHole, memo = this.published;
    // after every exit and slice, usually unchanged: compare the inputs (and one published word, which a reset or
    // a restored state block would have replaced) instead of rebuilding the shadow keys for two Map lookups
    if (memo[0] === v.cr0 && memo[1] === v.cr3 && memo[2] === v.cr4 && memo[3] === this.shadow.generation &&
      memo[4] === v.idtr.base && memo[5] === v.idtr.limit && memo[6] === v.gdtr.base && memo[7] === v.gdtr.limit &&
      memo[8] === v.tr.base && memo[9] === v.tr.limit && memo[10] === v.tr.attr && memo[11] === (hole ? 1 : 0) &&
      memo[12] === this.stateGet(A.OFF_FF_KCTRL)) {
      this.fastSeen = this.fastSwitches();
      return;
    }
    const pg = this.paging();
    this.stateSet(A.OFF_FF_KPD, this.shadow.cachedPd(pg, false));
    this.stateSet(A.OFF_FF_UPD, this.shadow.cachedPd(pg, true));
    this.stateSet(A.OFF_FF_KCTRL, A.CTRL_EXIT_PRIV_XFER | (hole ? A.CTRL_EXIT_SENSITIVE : 0));
    this.stateSet(A.OFF_FF_UCTRL, A.CTRL_EXIT_PRIV_XFER | (hole ? A.CTRL_EXIT_DESC_READ : 0));
    this.stateSet(A.OFF_FF_GDT_K, VMM_LINEAR + GDT_K);
    this.stateSet(A.OFF_FF_GDT_U, VMM_LINEAR + GDT_U);
    this.stateSet(A.OFF_FF_GDT_U_PHYS, GDT_U);
    this.stateSet(A.OFF_FF_LDT_K, VMM_LINEAR + LDT_K);
    this.stateSet(A.OFF_FF_LDT_U, VMM_LINEAR + LDT_U);
    this.stateSet(A.OFF_FF_IDT_BASE, v.idtr.base);
    this.stateSet(A.OFF_FF_IDT_LIMIT, v.idtr.limit);
    this.stateSet(A.OFF_FF_GDT_BASE, v.gdtr.base);
    this.stateSet(A.OFF_FF_GDT_LIMIT, v.gdtr.limit);
    this.stateSet(A.OFF_FF_TR_BASE, v.tr.base);
    this.stateSet(A.OFF_FF_TR_LIMIT, v.tr.limit);
    this.stateSet(A.OFF_FF_TR_ATTR, v.tr.attr);
    memo[0] = v.cr0; memo[1] = v.cr3; memo[2] = v.cr4; memo[3] = this.shadow.generation;
    memo[4] = v.idtr.base; memo[5] = v.idtr.limit; memo[6] = v.gdtr.base; memo[7] = v.gdtr.limit;
    memo[8] = v.tr.base; memo[9] = v.tr.limit; memo[10] = v.tr.attr; memo[11] = hole ? 1 : 0;
    memo[12] = this.stateGet(A.OFF_FF_KCTRL);
    this.fastSeen = this.fastSwitches();
  }
  /** what publishFast last published from (its inputs; NaN: nothing yet) */
  private published: number[] = new Array(13).fill(NaN);
  /**
   * The CPU switched the virtual privilege itself since the last exit (and the real CR3, GDT/LDT view and exit
   * controls with it): the monitor's own view follows — the current shadow, the table copies (re-compared with the
   * guest's, as on every privilege switch). Called first at every exit and slice.
   */
  adoptFastSwitches(): void {
    if (this.fastSwitches() === this.fastSeen) return;
    this.fastSeen = this.fastSwitches();
    this.applyMode();
  }

  /**
   * After the monitor reflected INT `vec` from user mode into the kernel: fills the K shadow's entries the CPU's
   * fast INT reads (the IDT entry, the GDT, the TSS) and writes (the kernel stack frame just pushed), which the
   * monitor's own accesses — through the guest's tables — never filled, so that the next INT is done in the CPU.
   * Each with the guest's walk and its A/D update, as the delivery's own accesses make natively.
   */
  protected prefillFastInt(vec: number, frame = 20): void {
    if (!(this.fastWanted & A.CTRL_FAST_INT) || this.translation !== "runtime" || this.v.cpl !== 0) return;
    const v = this.v;
    this.prefillPage(v.idtr.base + vec * 8, false);
    // (the GDT's pages by offset: `base & ~0xfff` is negative for a base ≥ 2 GiB, and a loop from there to the base
    // walked the whole linear space — every mapped page marked accessed, a million walks per INT)
    const gb = v.gdtr.base >>> 0, glen = Math.min(v.gdtr.limit, 0xffff) + 1;
    for (let o = -(gb & 0xfff); o < glen; o += 4096) this.prefillPage(gb + o, false);
    if (v.tr.attr & 0x80) this.prefillPage(v.tr.base, false);
    const esp = (this.m.getSegment("ss").base + this.m.esp) >>> 0;
    this.prefillPage(esp, true);
    this.prefillPage(esp + frame - 1, true);
  }

  /** Fills the current shadow's entry for guest-linear `lin` from the guest's walk, with its A/D update (an access
   *  the guest makes natively at this point); nothing if the guest has no mapping or it is not RAM. */
  protected prefillPage(lin: number, write: boolean): void {
    lin >>>= 0;
    if (lin >>> 22 === 1023) return;
    const a = this.shadow.spteAddr(lin);
    if (!write && a >= 0 && (this.m.read32(a) & 1)) return; // there already (a 4 MiB region would be refilled whole)
    try {
      const w = this.shadow.walk(this.paging(), lin, write, false, true);
      if (w.ok && w.gpa < this.guestRam) this.shadow.fill(lin, w, write);
    } catch (e) { if (!(e instanceof GuestFault || e instanceof GuestRangeError)) throw e; }
  }

  protected applyCr0(): void {
    const keep = A.CR0_MP | A.CR0_EM | A.CR0_TS | A.CR0_NE | A.CR0_ET | A.CR0_AM;
    const real = (A.CR0_PE | A.CR0_PG | A.CR0_WP | (this.v.cr0 & keep)) >>> 0;
    if (this.m.getCr("cr0") !== real) this.m.setCr("cr0", real);
    const cr4 = this.v.cr4 & A.CR4_TSD;
    if (this.m.getCr("cr4") !== cr4) this.m.setCr("cr4", cr4);
  }

  /** Real CR3 and descriptor tables for the current virtual privilege and address space. */
  applyMode(): void {
    this.applySensitiveExits();
    const pd = this.shadow.activate(this.paging(), this.v.cpl === 3);
    if (this.m.getCr("cr3") !== pd) {
      // U → K in one address space: load the real CR3 without flushing the TLB (see ShadowMmu.keepTlb)
      if (this.shadow.keepTlb) this.stateSet(A.OFF_CR3, pd);
      else this.m.setCr("cr3", pd);
    }
    this.syncTables();
  }

  /** Copies the guest GDT/LDT into the real tables (kernel view: code/data DPL 3). */
  syncTables(): boolean {
    let changed = false;
    let synced = true; // the real copies equal the guest's tables (the CPU's fast segment loads trust them: abi.ts CTRL_FAST_SEG)
    const user = this.v.cpl === 3;
    const g = this.v.gdtr;
    const len = Math.min(g.limit + 1, 0x10000);
    let bytes: Uint8Array | null = null;
    const c = this.gdtCache;
    try {
      // the common case (every privilege switch): unchanged, compared in place without a copy
      const same = c.base === g.base && c.limit === g.limit && this.linEquals(g.base, len, c.bytes);
      if (!same) bytes = this.readLin(g.base, len, false);
    } catch (e) { if (!(e instanceof GuestFault || e instanceof GuestRangeError)) throw e; synced = false; }
    if (bytes) {
      this.writeTable(GDT_U, GDT_K, bytes);
      this.gdtCache = { base: g.base, limit: g.limit, bytes };
      changed = true;
    }
    this.m.setGdtr(VMM_LINEAR + (user ? GDT_U : GDT_K), g.limit);
    const l = this.v.ldtr;
    if (l.attr & 0x80) {
      const llen = Math.min(l.limit + 1, 0x10000);
      let lb: Uint8Array | null = null;
      const key = `${l.base}:${l.limit}`;
      try {
        if (!(this.ldtCache.key === key && this.linEquals(l.base, llen, this.ldtCache.bytes))) lb = this.readLin(l.base, llen, false);
      } catch (e) { if (!(e instanceof GuestFault || e instanceof GuestRangeError)) throw e; synced = false; }
      if (lb && (this.ldtCache.key !== key || !equal(this.ldtCache.bytes, lb))) {
        this.writeTable(LDT_U, LDT_K, lb);
        this.ldtCache = { key, bytes: lb };
        changed = true;
      }
      this.m.setLdtr({ selector: l.sel, base: VMM_LINEAR + (user ? LDT_U : LDT_K), limit: l.limit, attr: l.attr });
    } else {
      const cur = this.m.getLdtr();
      this.m.setLdtr({ ...cur, attr: 0 });
    }
    this.stateSet(A.OFF_FF_TABLES_OK, synced ? 1 : 0);
    return changed;
  }

  protected writeTable(uOff: number, kOff: number, bytes: Uint8Array): void {
    this.m.writeMem(uOff, bytes);
    const k = bytes.slice();
    // System descriptors (TSS, gates, LDT) get DPL 3 so the CPU's own checks on a far jmp to them run at CPL 3
    // as they would at CPL 0. Code/data descriptors stay exact: loading a DPL < 3 segment from the deprivileged
    // kernel traps (#GP) and is emulated with the checks at the virtual CPL, so no privilege check is lost.
    for (let i = 0; i + 8 <= k.length; i += 8) if (!(k[i + 5] & 0x10)) k[i + 5] |= 0x60;
    this.m.writeMem(kOff, k);
  }

  /** the guest descriptor for `sel` from its GDT/LDT, or null if outside the table */
  desc(sel: number): GuestDesc | null {
    const t = sel & 4 ? (this.v.ldtr.attr & 0x80 ? { base: this.v.ldtr.base, limit: this.v.ldtr.limit } : null) : this.v.gdtr;
    if (!t) return null;
    const idx = sel & 0xfff8;
    if (idx + 7 > t.limit) return null;
    const addr = (t.base + idx) >>> 0;
    return { lo: this.read32(addr, false), hi: this.read32(addr + 4, false), addr };
  }

  protected markAccessed(d: { hi: number; addr: number }): void {
    if (!(d.hi & 0x100)) { try { this.write32(d.addr + 4, d.hi | 0x100, false); } catch { /* a read-only table stays as is */ } }
  }

  /** Loads a segment register from a guest descriptor into the real machine (CS/SS: RPL and DPL forced to 3). */
  loadSegReal(name: SegName, sel: number, d: GuestDesc | null): void {
    if (!d) { this.m.setSegment(name, { selector: sel, base: 0, limit: 0, attr: 0 }); return; }
    this.markAccessed(d);
    let attr = descAttr(d.hi | 0x100);
    let selector = sel;
    if (name === "cs" || name === "ss") { selector |= 3; attr |= 0x60; }
    this.m.setSegment(name, { selector, base: descBase(d.lo, d.hi), limit: descLimit(d.lo, d.hi), attr });
  }

  /** Checked segment load (mov/pop to a data segment or SS) at the virtual CPL, as the CPU does it. */
  loadDataSeg(name: SegName, sel: number): void {
    sel &= 0xffff;
    const cpl = this.v.cpl;
    if ((sel & 0xfffc) === 0) {
      if (name === "ss") throw new GuestFault(A.VEC_GP, 0);
      this.loadSegReal(name, sel, null);
      return;
    }
    const d = this.desc(sel);
    if (!d) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    // the CPU's fast load of a kernel data segment checks the real copy against the guest's descriptor, read through
    // the current shadow (assembly/fullfast.ts fastDataSeg): the page it reads is filled here, as natively the
    // descriptor read is an access to it
    if (cpl < 3 && !(sel & 4) && (this.fastWanted & A.CTRL_FAST_SEG) && this.translation === "runtime") this.prefillPage(d.addr, false);
    // the CPU's own rule (assembly/ops/rules.ts dataSegCheck)
    const f = this.m.rules.dataSegCheck(SEG[name], sel, d.hi, cpl);
    if (f) throw new GuestFault(f.vector, f.error);
    this.loadSegReal(name, sel, d);
  }

  /**
   * The code segment of a direct far JMP/CALL (`call`) or of a RETF/IRET (its RPL is the new CPL), entered at
   * `off` (truncated to the operand size), checked at the virtual CPL with the CPU's rules (rules.ts
   * farTargetCheck / returnCsCheck); returns the descriptor.
   */
  protected codeDesc(sel: number, off: number, call: boolean): GuestDesc {
    if ((sel & 0xfffc) === 0) throw new GuestFault(A.VEC_GP, 0);
    const d = this.desc(sel);
    if (!d) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    const f = call ? this.m.rules.farTargetCheck(sel, d.lo, d.hi, off >>> 0, this.v.cpl)
      : this.m.rules.returnCsCheck(sel, d.lo, d.hi, off >>> 0, this.v.cpl);
    if (f) throw new GuestFault(f.vector, f.error);
    return d;
  }

  protected setCpl(cpl: number): void {
    if (cpl === this.v.cpl) return;
    this.v.cpl = cpl;
    this.applyMode();
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
