// lapic.ts — the local APIC of the (single) CPU, xAPIC MMIO interface at 0xFEE00000.
// Reference: Intel SDM Vol. 3A ch. 10 "Advanced Programmable Interrupt Controller (APIC)": Table 10-1 (register
// address map), 10.4.6 (local APIC ID), 10.4.7 (SVR, software enable/disable), 10.4.8 (version register), 10.5.1
// (LVT layout), 10.5.3 (error handling, ESR), 10.5.4 (timer: divide configuration, initial/current count, one-shot
// and periodic modes), 10.6 (ICR, destination shorthands, logical destinations: LDR/DFR flat and cluster models),
// 10.8 (IRR/ISR/TMR, TPR/PPR priorities, EOI), 10.9 (spurious interrupt).
//
// Pure state machine. The CPU side is peek()/acknowledge() (the INTR line and its INTA cycle, as the VM's
// InterruptController); the system bus side is accept() (a message from the I/O APIC or an IPI) and onEoi
// (the EOI broadcast to the I/O APIC for level-triggered vectors). The 8259 reaches the CPU through LINT0 in ExtINT
// mode ("virtual wire"): while LINT0 is unmasked ExtINT, the PIC's request is passed through with the PIC's vector
// (no IRR/ISR, no priority), as an ExtINT interrupt is.
//
// Reset state (documented choice): the state a PC firmware leaves for the OS in virtual-wire mode (MP spec 3.6.2.2;
// SeaBIOS does this): APIC software-enabled with spurious vector 0xFF, LINT0 = ExtINT, LINT1 = NMI, the other LVT
// entries masked, DFR flat, TPR 0. So a PIC-only guest that never touches the APIC sees exactly the 8259.
//
// Timer: counts at the bus clock divided by TDCR; the bus clock is given in ticks of the VM's virtual clock
// (advance(ticks) / nextEventTicks()), so it is deterministic. TSC-deadline mode is not offered (reserved mode
// 10b is counted and behaves as one-shot).
// One CPU: IPIs to other APIC IDs (and "all excluding self") have nowhere to go; INIT/STARTUP are counted and
// ignored; NMI/SMI delivery is not wired to the CPU (counted).
// Guest mistakes (bad offsets, partial-width accesses, writes to read-only registers, illegal vectors) are counted
// in `errors`, and illegal vectors/registers also set ESR bits as the SDM says; nothing throws.
import type { AccessSize, IoDevice } from "../bus.ts";
import { GuestErrors, hex, type LogFn } from "./guestlog.ts";
import { saveState, loadState, type Saved } from "../persist.ts";
import * as A from "../abi.generated.ts";

export const LAPIC_BASE = 0xfee00000;
export const LAPIC_SIZE = 0x1000;
/** version 14h (integrated xAPIC), 6 LVT entries (max LVT entry 5), no EOI-broadcast suppression (10.4.8) */
export const LAPIC_VERSION = 0x00050014;

// register offsets (Table 10-1)
export const LAPIC_REG = {
  ID: 0x020, VER: 0x030, TPR: 0x080, APR: 0x090, PPR: 0x0a0, EOI: 0x0b0, RRD: 0x0c0, LDR: 0x0d0, DFR: 0x0e0,
  SVR: 0x0f0, ISR: 0x100, TMR: 0x180, IRR: 0x200, ESR: 0x280, LVT_CMCI: 0x2f0, ICR_LO: 0x300, ICR_HI: 0x310,
  LVT_TIMER: 0x320, LVT_THERMAL: 0x330, LVT_PERF: 0x340, LVT_LINT0: 0x350, LVT_LINT1: 0x360, LVT_ERROR: 0x370,
  TIMER_ICR: 0x380, TIMER_CCR: 0x390, TIMER_DCR: 0x3e0,
} as const;

export const LVT_MASKED = 1 << 16;
export const SVR_ENABLE = 1 << 8;
// ESR bits (10.5.3)
export const ESR_SEND_ILLEGAL_VECTOR = 1 << 5, ESR_RECV_ILLEGAL_VECTOR = 1 << 6, ESR_ILLEGAL_REGISTER = 1 << 7;
// delivery modes (ICR / LVT / I/O APIC redirection entries)
export const DM_FIXED = 0, DM_LOWEST = 1, DM_SMI = 2, DM_NMI = 4, DM_INIT = 5, DM_STARTUP = 6, DM_EXTINT = 7;

/** What the I/O APIC (or another agent) sends over the APIC bus. */
export interface ApicMessage {
  vector: number;
  deliveryMode: number;
  /** 0 = physical, 1 = logical */
  destMode: number;
  dest: number;
  /** level-triggered (the I/O APIC waits for an EOI) */
  level: boolean;
}

/** The 8259 pair as LINT0 sees it in ExtINT mode. */
export interface ExtIntSource {
  peek(): number;
  acknowledge(): number;
}

export interface LocalApicOptions {
  /** local APIC ID (bits 31:24 of the ID register); default 0 */
  id?: number;
  /** the 8259 behind LINT0 (ExtINT) */
  extInt?: ExtIntSource;
  /** EOI of a level-triggered vector: broadcast to the I/O APIC(s) */
  onEoi?: (vector: number) => void;
  /** the interrupt state changed (a request may be deliverable now) */
  onChange?: () => void;
  log?: LogFn;
}

const TIMER_MODE_ONESHOT = 0, TIMER_MODE_PERIODIC = 1, TIMER_MODE_TSC = 2;

/** TDCR bits 3,1,0 → divisor (10.5.4, Figure 10-10) */
function divisorOf(dcr: number): number {
  const v = ((dcr >> 1) & 4) | (dcr & 3);
  return v === 7 ? 1 : 2 << v;
}

function highestBit(words: Uint32Array<ArrayBufferLike>): number {
  for (let i = 7; i >= 0; i--) {
    const w = words[i];
    if (w) return i * 32 + 31 - Math.clz32(w);
  }
  return -1;
}

const set = (w: Uint32Array<ArrayBufferLike>, v: number) => { w[v >> 5] |= 1 << (v & 31); };
const clear = (w: Uint32Array<ArrayBufferLike>, v: number) => { w[v >> 5] &= ~(1 << (v & 31)); };
const test = (w: Uint32Array<ArrayBufferLike>, v: number) => (w[v >> 5] & (1 << (v & 31))) !== 0;

/** word index of an OFF_APIC_* field in the shared area */
const W = (off: number) => (off - A.AREA_APIC) >> 2;
const WORDS = A.AREA_APIC_SIZE >> 2;

export class LocalApic implements IoDevice {
  /** Device state for a snapshot (host/persist.ts): the register area and the counters, not the wiring. */
  save(): Saved { return saveState(this); }
  /** Puts saved state back into a LocalApic built with the same options (into the shared area when bound). */
  restore(s: Saved): void { loadState(this, s); }

  readonly errors: GuestErrors;
  /** counters of what the host model did; `stats` adds what the CPU did in the shared area */
  private readonly hostStats = {
    accepted: 0, delivered: 0, extInt: 0, spurious: 0, eoi: 0, eoiIdle: 0, timerFired: 0,
    ipiSelf: 0, ipiIgnored: 0, initDeassert: 0,
  };
  get stats() {
    const inCpuEois = this.regs[W(A.OFF_APIC_INCPU_EOIS)];
    return { ...this.hostStats, eoi: this.hostStats.eoi + inCpuEois, inCpuReads: this.regs[W(A.OFF_APIC_INCPU_READS)], inCpuEois };
  }

  /**
   * Every register lives in this area (layout: AREA_APIC in assembly/abi.ts): a private buffer until shareWith()
   * moves it into the CPU's STATE block, where the CPU answers hot accesses in place (assembly/apic.ts). One
   * copy, so the model and the CPU never disagree.
   */
  private regs: Uint32Array<ArrayBufferLike> = new Uint32Array(WORDS);
  irr: Uint32Array<ArrayBufferLike> = this.regs.subarray(W(A.OFF_APIC_IRR), W(A.OFF_APIC_IRR) + 8);
  isr: Uint32Array<ArrayBufferLike> = this.regs.subarray(W(A.OFF_APIC_ISR), W(A.OFF_APIC_ISR) + 8);
  tmr: Uint32Array<ArrayBufferLike> = this.regs.subarray(W(A.OFF_APIC_TMR), W(A.OFF_APIC_TMR) + 8);

  get id(): number { return this.regs[W(A.OFF_APIC_ID)] >>> 24; }
  set id(v: number) { this.regs[W(A.OFF_APIC_ID)] = (v & 0xff) << 24; }
  get tpr(): number { return this.regs[W(A.OFF_APIC_TPR)]; }
  set tpr(v: number) { this.regs[W(A.OFF_APIC_TPR)] = v; }
  get ldr(): number { return this.regs[W(A.OFF_APIC_LDR)]; }
  set ldr(v: number) { this.regs[W(A.OFF_APIC_LDR)] = v; }
  get dfr(): number { return this.regs[W(A.OFF_APIC_DFR)]; }
  set dfr(v: number) { this.regs[W(A.OFF_APIC_DFR)] = v; }
  get svr(): number { return this.regs[W(A.OFF_APIC_SVR)]; }
  set svr(v: number) { this.regs[W(A.OFF_APIC_SVR)] = v; }
  /** ESR as last latched by a write; errors since then accumulate in esrPending */
  get esr(): number { return this.regs[W(A.OFF_APIC_ESR)]; }
  set esr(v: number) { this.regs[W(A.OFF_APIC_ESR)] = v; }
  private get esrPending(): number { return this.regs[W(A.OFF_APIC_ESR_PENDING)]; }
  private set esrPending(v: number) { this.regs[W(A.OFF_APIC_ESR_PENDING)] = v; }
  get icrLo(): number { return this.regs[W(A.OFF_APIC_ICR_LO)]; }
  set icrLo(v: number) { this.regs[W(A.OFF_APIC_ICR_LO)] = v; }
  get icrHi(): number { return this.regs[W(A.OFF_APIC_ICR_HI)]; }
  set icrHi(v: number) { this.regs[W(A.OFF_APIC_ICR_HI)] = v; }
  /** LVT: timer, thermal, perf, LINT0, LINT1, error */
  get lvtTimer(): number { return this.regs[W(A.OFF_APIC_LVT)]; }
  set lvtTimer(v: number) { this.regs[W(A.OFF_APIC_LVT)] = v; }
  get lvtThermal(): number { return this.regs[W(A.OFF_APIC_LVT) + 1]; }
  set lvtThermal(v: number) { this.regs[W(A.OFF_APIC_LVT) + 1] = v; }
  get lvtPerf(): number { return this.regs[W(A.OFF_APIC_LVT) + 2]; }
  set lvtPerf(v: number) { this.regs[W(A.OFF_APIC_LVT) + 2] = v; }
  get lvtLint0(): number { return this.regs[W(A.OFF_APIC_LVT) + 3]; }
  set lvtLint0(v: number) { this.regs[W(A.OFF_APIC_LVT) + 3] = v; }
  get lvtLint1(): number { return this.regs[W(A.OFF_APIC_LVT) + 4]; }
  set lvtLint1(v: number) { this.regs[W(A.OFF_APIC_LVT) + 4] = v; }
  get lvtError(): number { return this.regs[W(A.OFF_APIC_LVT) + 5]; }
  set lvtError(v: number) { this.regs[W(A.OFF_APIC_LVT) + 5] = v; }

  // timer
  get timerInitial(): number { return this.regs[W(A.OFF_APIC_TIMER_ICR)]; }
  set timerInitial(v: number) { this.regs[W(A.OFF_APIC_TIMER_ICR)] = v; }
  get timerDcr(): number { return this.regs[W(A.OFF_APIC_TIMER_DCR)]; }
  set timerDcr(v: number) { this.regs[W(A.OFF_APIC_TIMER_DCR)] = v; }
  private get div(): number { return this.regs[W(A.OFF_APIC_TIMER_DIV)]; }
  private set div(v: number) { this.regs[W(A.OFF_APIC_TIMER_DIV)] = v; }
  private get armed(): boolean { return this.regs[W(A.OFF_APIC_TIMER_ARMED)] !== 0; }
  private set armed(v: boolean) { this.regs[W(A.OFF_APIC_TIMER_ARMED)] = v ? 1 : 0; }
  /** bus tick at which the current count started (or last reloaded) */
  private get base(): number { return this.get64(A.OFF_APIC_TIMER_BASE); }
  private set base(v: number) { this.set64(A.OFF_APIC_TIMER_BASE, v); }
  /** bus ticks elapsed since construction */
  get now(): number { return this.get64(A.OFF_APIC_NOW); }
  set now(v: number) { this.set64(A.OFF_APIC_NOW, v); }
  private get64(off: number): number { return this.regs[W(off)] + this.regs[W(off) + 1] * 2 ** 32; }
  private set64(off: number, v: number): void { // (v a non-negative integer < 2^53; no float division on the hot path)
    const lo = v >>> 0;
    this.regs[W(off)] = lo; this.regs[W(off) + 1] = v < 4294967296 ? 0 : (v - lo) / 4294967296;
  }

  /**
   * Move the registers into `area` (the CPU's AREA_APIC, AREA_APIC_SIZE bytes) and let the CPU answer hot accesses
   * to the page at `page` there; `busTicksPerInstruction` converts the CPU's retired instructions into bus ticks
   * between two advance() calls, as the VM's clock does.
   */
  shareWith(area: Uint32Array, page: number, busTicksPerInstruction: number): void {
    if (area.length !== WORDS) throw new RangeError(`wasmvisor lapic: the shared area is ${WORDS} words`);
    area.set(this.regs);
    this.rebind(area);
    area[W(A.OFF_APIC_PAGE)] = page;
    area[W(A.OFF_APIC_BUS_PER_INSN)] = busTicksPerInstruction;
    area[W(A.OFF_APIC_CTRL)] = A.APIC_CTRL_INCPU;
  }

  /** The shared area again, as a new view of the same bytes: the CPU's memory grew and detached the old one
   * (Machine.onMemoryGrow). Its contents are already the registers. */
  rebind(area: Uint32Array): void {
    if (area.length !== WORDS) throw new RangeError(`wasmvisor lapic: the shared area is ${WORDS} words`);
    this.regs = area;
    this.irr = area.subarray(W(A.OFF_APIC_IRR), W(A.OFF_APIC_IRR) + 8);
    this.isr = area.subarray(W(A.OFF_APIC_ISR), W(A.OFF_APIC_ISR) + 8);
    this.tmr = area.subarray(W(A.OFF_APIC_TMR), W(A.OFF_APIC_TMR) + 8);
  }

  private readonly extInt?: ExtIntSource;
  private readonly onEoi: (vector: number) => void;
  private readonly onChange: () => void;

  constructor(opts: LocalApicOptions = {}) {
    this.id = (opts.id ?? 0) & 0xff;
    this.regs[W(A.OFF_APIC_VER)] = LAPIC_VERSION;
    this.dfr = 0xffffffff;
    this.svr = SVR_ENABLE | 0xff;
    this.lvtTimer = LVT_MASKED; this.lvtThermal = LVT_MASKED; this.lvtPerf = LVT_MASKED;
    this.lvtLint0 = DM_EXTINT << 8; // virtual wire (firmware state)
    this.lvtLint1 = DM_NMI << 8;
    this.lvtError = LVT_MASKED;
    this.div = 2;
    this.extInt = opts.extInt;
    this.onEoi = opts.onEoi ?? (() => {});
    this.onChange = opts.onChange ?? (() => {});
    this.errors = new GuestErrors("lapic", opts.log);
  }

  get enabled(): boolean {
    return (this.svr & SVR_ENABLE) !== 0;
  }

  // ---------------------------------------------------------------- priorities (10.8.3)

  /** processor priority: the higher of TPR and the class of the highest in-service vector */
  get ppr(): number {
    const isrv = Math.max(0, highestBit(this.isr));
    return (this.tpr >> 4) >= (isrv >> 4) ? this.tpr & 0xff : isrv & 0xf0;
  }

  private extIntActive(): boolean {
    return !!this.extInt && (this.lvtLint0 & LVT_MASKED) === 0 && ((this.lvtLint0 >> 8) & 7) === DM_EXTINT;
  }

  /** The vector the CPU would get on INTA now, or -1 (no side effects): the INTR line. */
  peek(): number {
    if (this.extIntActive()) {
      const v = this.extInt!.peek();
      if (v >= 0) return v;
    }
    if (!this.enabled) return -1;
    const v = highestBit(this.irr);
    if (v < 0 || (v & 0xf0) <= (this.ppr & 0xf0)) return -1;
    return v;
  }

  /** The INTA cycle: IRR → ISR for the highest deliverable vector; the spurious vector if it went away. */
  acknowledge(): number {
    if (this.extIntActive() && this.extInt!.peek() >= 0) {
      this.hostStats.extInt++;
      return this.extInt!.acknowledge();
    }
    const v = this.enabled ? highestBit(this.irr) : -1;
    if (v < 0 || (v & 0xf0) <= (this.ppr & 0xf0)) {
      this.hostStats.spurious++;
      return this.svr & 0xff;
    }
    clear(this.irr, v);
    set(this.isr, v);
    this.hostStats.delivered++;
    return v;
  }

  /** Does a message with this destination reach this APIC? (10.6.2) */
  matches(destMode: number, dest: number): boolean {
    dest &= 0xff;
    if (destMode === 0) return dest === 0xff || dest === this.id;
    if (dest === 0xff) return true;
    const logical = this.ldr >>> 24;
    if ((this.dfr >>> 28) === 0xf) return (logical & dest) !== 0; // flat model
    if ((this.dfr >>> 28) === 0) return (dest >> 4) === (logical >> 4) && (dest & logical & 0x0f) !== 0; // cluster
    return false;
  }

  /** A fixed/lowest-priority interrupt arrives (from the I/O APIC, an IPI or an LVT entry). */
  accept(vector: number, level: boolean): void {
    vector &= 0xff;
    if (vector < 16) {
      this.error(ESR_RECV_ILLEGAL_VECTOR, "illegal-vector", `received illegal vector ${hex(vector)}`);
      return;
    }
    this.hostStats.accepted++;
    set(this.irr, vector);
    if (level) set(this.tmr, vector); else clear(this.tmr, vector);
    this.onChange();
  }

  /** Deliver a bus message addressed to this APIC (destination already matched). */
  receive(msg: ApicMessage): void {
    switch (msg.deliveryMode) {
      case DM_FIXED: case DM_LOWEST:
        this.accept(msg.vector, msg.level);
        return;
      default:
        this.errors.report("unsupported-delivery", `delivery mode ${msg.deliveryMode} to the local APIC is not supported (ignored)`);
    }
  }

  private error(bit: number, kind: string, detail: string): void {
    this.errors.report(kind, detail);
    const first = (this.esrPending & bit) === 0;
    this.esrPending |= bit;
    // the error LVT fires when a new error is detected (10.5.3)
    if (first && !(this.lvtError & LVT_MASKED) && this.enabled) {
      const v = this.lvtError & 0xff;
      if (v >= 16) { set(this.irr, v); clear(this.tmr, v); this.onChange(); }
    }
  }

  private eoi(): void {
    const v = highestBit(this.isr);
    if (v < 0) {
      this.hostStats.eoiIdle++; // harmless (OSes "ack anything outstanding" at init): counted, not an error
      return;
    }
    this.hostStats.eoi++;
    clear(this.isr, v);
    if (test(this.tmr, v)) {
      clear(this.tmr, v);
      this.onEoi(v);
    }
    this.onChange();
  }

  // ---------------------------------------------------------------- timer (10.5.4)

  private timerMode(): number {
    return (this.lvtTimer >> 17) & 3;
  }

  /** bus ticks per full count */
  private period(): number {
    return this.timerInitial * this.div;
  }

  /** current count register */
  get currentCount(): number {
    if (!this.armed) return 0;
    const elapsed = Math.floor((this.now - this.base) / this.div);
    // (periodic: as if the expiries since the last advance() had reloaded it; assembly/apic.ts computes the same)
    if (this.timerMode() === TIMER_MODE_PERIODIC) return this.timerInitial - (elapsed % this.timerInitial);
    return Math.max(0, this.timerInitial - elapsed);
  }

  /**
   * Bus ticks until the timer next reaches zero with an observable effect, or Infinity. A masked timer (or one whose
   * vector is still pending in the IRR) changes nothing a guest can see when it expires — the count registers are
   * computed from the time — so it sets no deadline: a halted guest with a tiny masked period cannot spin the host.
   */
  nextEventTicks(): number {
    if (!this.armed) return Infinity;
    if ((this.lvtTimer & LVT_MASKED) || !this.enabled || test(this.irr, this.lvtTimer & 0xff)) return Infinity;
    return Math.max(0, this.base + this.period() - this.now);
  }

  /** `ticks` bus ticks have elapsed: fire the timer if it reached zero. */
  advance(ticks: number): void {
    if (!Number.isFinite(ticks) || ticks < 0) throw new RangeError(`wasmvisor lapic: bad tick count ${ticks}`);
    this.now += ticks;
    if (!this.armed) return;
    const p = this.period();
    if (this.now < this.base + p) return;
    if (this.timerMode() === TIMER_MODE_PERIODIC) {
      // every expiry sets the same IRR bit: expiries skipped in one step coalesce into one request
      this.base += Math.floor((this.now - this.base) / p) * p;
    } else {
      this.armed = false;
    }
    this.hostStats.timerFired++;
    if (!(this.lvtTimer & LVT_MASKED) && this.enabled) this.accept(this.lvtTimer & 0xff, false);
  }

  private writeDivide(v: number): void {
    const cur = this.currentCount;
    this.timerDcr = v & 0xb;
    const div = divisorOf(v);
    if (this.armed && div !== this.div) {
      // keep the current count; continue at the new rate
      this.base = this.now - (this.timerInitial - cur) * div;
    }
    this.div = div;
  }

  private writeInitialCount(v: number): void {
    this.timerInitial = v >>> 0;
    this.armed = this.timerInitial !== 0;
    this.base = this.now;
  }

  // ---------------------------------------------------------------- ICR (10.6)

  private sendIpi(): void {
    const lo = this.icrLo, vector = lo & 0xff, mode = (lo >> 8) & 7, destMode = (lo >> 11) & 1;
    const levelAssert = (lo >> 14) & 1, shorthand = (lo >> 18) & 3;
    const dest = this.icrHi >>> 24;
    if (mode === DM_INIT && levelAssert === 0) {
      this.hostStats.initDeassert++; // INIT level de-assert: arbitration ID sync, nothing else
      return;
    }
    if ((mode === DM_FIXED || mode === DM_LOWEST) && vector < 16) {
      this.error(ESR_SEND_ILLEGAL_VECTOR, "illegal-vector", `IPI with illegal vector ${hex(vector)}`);
      return;
    }
    const toSelf = shorthand === 1 || shorthand === 2 || (shorthand === 0 && this.matches(destMode, dest));
    const toOthers = shorthand === 2 || shorthand === 3 || (shorthand === 0 && !(destMode === 0 && dest === this.id));
    if (toOthers) this.hostStats.ipiIgnored++; // one CPU: nobody else on the APIC bus
    if (!toSelf) return;
    if (mode === DM_FIXED || mode === DM_LOWEST) {
      this.hostStats.ipiSelf++;
      this.accept(vector, false);
    } else {
      this.errors.report("ipi-self-unsupported", `IPI delivery mode ${mode} to self ignored`);
    }
  }

  // ---------------------------------------------------------------- register access

  read(offset: number, size: AccessSize): number {
    const reg = offset & 0xff0, lane = offset & 0xf;
    if (size !== 4 || lane !== 0) {
      this.errors.report("access-width", `${size}-byte read at offset ${hex(offset, 3)} (registers are 32-bit, 16-byte aligned)`);
      if (lane + size > 4) return 0;
      return (this.readReg(reg) >>> (lane * 8)) & (size === 4 ? 0xffffffff : (1 << (size * 8)) - 1);
    }
    return this.readReg(reg) >>> 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    const reg = offset & 0xff0, lane = offset & 0xf;
    if (size !== 4 || lane !== 0) {
      this.errors.report("access-width", `${size}-byte write at offset ${hex(offset, 3)} (registers are 32-bit, 16-byte aligned)`);
      if (lane + size > 4) return;
      const mask = size === 4 ? 0xffffffff : ((1 << (size * 8)) - 1) << (lane * 8);
      value = (this.readReg(reg) & ~mask) | ((value << (lane * 8)) & mask);
    }
    this.writeReg(reg, value >>> 0);
  }

  private readReg(reg: number): number {
    const R = LAPIC_REG;
    if (reg >= R.ISR && reg < R.ISR + 0x80) return this.isr[(reg - R.ISR) >> 4];
    if (reg >= R.TMR && reg < R.TMR + 0x80) return this.tmr[(reg - R.TMR) >> 4];
    if (reg >= R.IRR && reg < R.IRR + 0x80) return this.irr[(reg - R.IRR) >> 4];
    switch (reg) {
      case R.ID: return this.id << 24;
      case R.VER: return LAPIC_VERSION;
      case R.TPR: return this.tpr;
      case R.APR: return 0;
      case R.PPR: return this.ppr;
      case R.EOI: return 0; // write-only; reads are undefined, we return 0 without complaint
      case R.RRD: return 0;
      case R.LDR: return this.ldr;
      case R.DFR: return this.dfr;
      case R.SVR: return this.svr;
      case R.ESR: return this.esr;
      case R.ICR_LO: return this.icrLo & ~(1 << 12); // delivery status: always idle (sent at once)
      case R.ICR_HI: return this.icrHi;
      case R.LVT_TIMER: return this.lvtTimer;
      case R.LVT_THERMAL: return this.lvtThermal;
      case R.LVT_PERF: return this.lvtPerf;
      case R.LVT_LINT0: return this.lvtLint0;
      case R.LVT_LINT1: return this.lvtLint1;
      case R.LVT_ERROR: return this.lvtError;
      case R.TIMER_ICR: return this.timerInitial;
      case R.TIMER_CCR: return this.currentCount;
      case R.TIMER_DCR: return this.timerDcr;
    }
    this.error(ESR_ILLEGAL_REGISTER, "bad-register", `read of reserved register ${hex(reg, 3)}`);
    return 0;
  }

  private writeReg(reg: number, v: number): void {
    const R = LAPIC_REG;
    // when software-disabled, the LVT mask bits stay set (10.4.7.2)
    const lvt = (x: number, bits: number) => ((x & bits) | (this.enabled ? 0 : LVT_MASKED)) >>> 0;
    switch (reg) {
      case R.ID: this.id = v >>> 24; return;
      case R.TPR: this.tpr = v & 0xff; this.onChange(); return;
      case R.EOI:
        if (v !== 0) this.errors.report("eoi-nonzero", `EOI written with ${hex(v, 8)} (should be 0)`);
        this.eoi();
        return;
      case R.LDR: this.ldr = v & 0xff000000; return;
      case R.DFR: this.dfr = (v | 0x0fffffff) >>> 0; return;
      case R.SVR: {
        const wasEnabled = this.enabled;
        this.svr = v & 0x13ff & ~(1 << 12); // vector, enable, focus check; no EOI-broadcast suppression (not offered)
        if (wasEnabled && !this.enabled) {
          // software disable: every LVT entry gets masked
          this.lvtTimer |= LVT_MASKED; this.lvtThermal |= LVT_MASKED; this.lvtPerf |= LVT_MASKED;
          this.lvtLint0 |= LVT_MASKED; this.lvtLint1 |= LVT_MASKED; this.lvtError |= LVT_MASKED;
        }
        this.onChange();
        return;
      }
      case R.ESR:
        this.esr = this.esrPending;
        this.esrPending = 0;
        return;
      case R.ICR_LO: this.icrLo = v & 0x000ccfff; this.sendIpi(); return;
      case R.ICR_HI: this.icrHi = v & 0xff000000; return;
      case R.LVT_TIMER:
        if (((v >> 17) & 3) === TIMER_MODE_TSC || ((v >> 17) & 3) === 3) {
          this.errors.report("timer-mode", `timer mode ${(v >> 17) & 3} not supported (runs as one-shot)`);
        }
        this.lvtTimer = lvt(v, 0x700ff);
        return;
      case R.LVT_THERMAL: this.lvtThermal = lvt(v, 0x107ff); return;
      case R.LVT_PERF: this.lvtPerf = lvt(v, 0x107ff); return;
      case R.LVT_LINT0: this.lvtLint0 = lvt(v, 0x1a7ff); this.onChange(); return;
      case R.LVT_LINT1: this.lvtLint1 = lvt(v, 0x1a7ff); return;
      case R.LVT_ERROR: this.lvtError = lvt(v, 0x100ff); return;
      case R.TIMER_ICR: this.writeInitialCount(v); return;
      case R.TIMER_DCR: this.writeDivide(v); return;
      case R.VER: case R.APR: case R.PPR: case R.RRD: case R.TIMER_CCR:
        this.errors.report("read-only", `write ${hex(v, 8)} to read-only register ${hex(reg, 3)}`);
        return;
    }
    if (reg >= R.ISR && reg < R.IRR + 0x80) {
      this.errors.report("read-only", `write ${hex(v, 8)} to read-only register ${hex(reg, 3)}`);
      return;
    }
    this.error(ESR_ILLEGAL_REGISTER, "bad-register", `write ${hex(v, 8)} to reserved register ${hex(reg, 3)}`);
  }
}
