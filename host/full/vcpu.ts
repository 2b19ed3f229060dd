// vcpu.ts — the full-mode monitor's virtual CPU and its plumbing: the VMM region layout, the virtual CPU state
// (virtual CPL, IF, IOPL, CR0/2/3/4, GDTR/IDTR/LDTR/TR), the monitor's options and stats, register access, and
// the base class every concern of the monitor extends (memory.ts → mode.ts → reflect.ts → gates.ts →
// ptwrite.ts → privileged.ts → sensitive.ts → monitor.ts, one concern per file). See README.md.
import { Machine, REG_NAMES, SEG_NAMES, type Exit, type DecodedInsn as Insn } from "../machine.ts";
import * as A from "../abi.generated.ts";
import { ShadowMmu, FLOOD, type GuestPaging, type PhysMem } from "./shadow.ts";
import { PtMirror } from "./ptmirror.ts";
import { Patcher } from "./patcher.ts";

// ---- the VMM region: machine-physical [0, VMM_SIZE); linear [VMM_LINEAR, 4 GiB) (PDE 1023), supervisor-only ----
export const VMM_SIZE = 8 << 20;
export const VMM_PT = 0x0000;      // the page table installed at PDE 1023 of every shadow
export const GDT_K = 0x1000;       // real GDT, kernel view (guest code/data descriptors with DPL 3)
export const GDT_U = 0x11000;      // real GDT, user view (the guest's descriptors as written)
export const LDT_K = 0x21000;
export const LDT_U = 0x31000;
export const IDT_REAL = 0x41000;   // empty: every vector is intercepted before the CPU would look
export const POOL_START = 0x42000; // shadow page tables
const MAPPED_END = POOL_START;     // VMM pages visible at VMM_LINEAR (tables only; the pool is never mapped)

/** An exception to reflect into the guest (thrown from emulation code). */
export class GuestFault {
  constructor(public vector: number, public error?: number, public cr2?: number) {}
}
/** The guest did something full mode cannot (or must not) do: stop with this message. */
export class FatalGuest extends Error {}

export interface MonitorIo {
  ioRead(port: number, size: 1 | 2 | 4): number;
  ioWrite(port: number, size: 1 | 2 | 4, value: number): void;
  /** device registers at a guest-physical address outside guest RAM (the monitor's own emulated accesses) */
  mmioRead?(gpa: number, size: 1 | 2 | 4): number;
  mmioWrite?(gpa: number, size: 1 | 2 | 4, value: number): void;
}

export interface SegState { sel: number; base: number; limit: number; attr: number }

export interface VirtualCpu {
  cpl: number;
  vif: boolean;
  iopl: number;
  cr0: number; cr2: number; cr3: number; cr4: number;
  gdtr: { base: number; limit: number };
  idtr: { base: number; limit: number };
  ldtr: SegState;
  tr: SegState;
}

export const FAST_CTRLS = A.CTRL_FAST_VIF | A.CTRL_FAST_SEG | A.CTRL_FAST_INT | A.CTRL_FAST_CR | A.CTRL_FAST_SREG | A.CTRL_FAST_PT | A.CTRL_FAST_PF;
const FF_NAMES = ["cli", "sti", "pushf", "popf", "mov sreg", "int", "iret", "mov from cr"];

/**
 * The virtual CPU. CPL, IF and IOPL live in the CPU's state block (abi.ts OFF_FF_VCPL / OFF_FF_VFLAGS), read and
 * written in place, so the CPU's fast paths (assembly/fullfast.ts) and the monitor share one copy, and a snapshot
 * of the CPU state carries them; the rest is the monitor's own.
 */
export class SharedVirtualCpu implements VirtualCpu {
  gdtr = { base: 0, limit: 0xffff };
  idtr = { base: 0, limit: 0xffff };
  ldtr: SegState = { sel: 0, base: 0, limit: 0, attr: 0 };
  tr: SegState = { sel: 0, base: 0, limit: 0, attr: 0 };
  /** the STATE block's view (Machine.stateView), made again by the monitor when the memory grows (a DataView: never
   * snapshot state); read on every access of the virtual CPU, so not looked up through the Machine each time */
  view: DataView;
  constructor(state: DataView) {
    this.view = state;
    this.cpl = 0; this.vif = false; this.iopl = 0;
    this.cr0 = A.CR0_PE | A.CR0_ET; this.cr2 = 0; this.cr3 = 0; this.cr4 = 0;
  }
  private ld(off: number): number { return this.view.getUint32(A.STATE_BASE + off, true); }
  private st(off: number, v: number): void { this.view.setUint32(A.STATE_BASE + off, v >>> 0, true); }
  get cpl(): number { return this.ld(A.OFF_FF_VCPL); }
  set cpl(c: number) { this.st(A.OFF_FF_VCPL, c & 3); }
  get vif(): boolean { return (this.ld(A.OFF_FF_VFLAGS) & FL_IF) !== 0; }
  set vif(b: boolean) { const f = this.ld(A.OFF_FF_VFLAGS); this.st(A.OFF_FF_VFLAGS, b ? f | FL_IF : f & ~FL_IF); }
  get iopl(): number { return (this.ld(A.OFF_FF_VFLAGS) & FL_IOPL) >>> 12; }
  set iopl(n: number) { const f = this.ld(A.OFF_FF_VFLAGS); this.st(A.OFF_FF_VFLAGS, (f & ~FL_IOPL) | ((n & 3) << 12)); }
  get cr0(): number { return this.ld(A.OFF_FF_VCR0); }
  set cr0(v: number) { this.st(A.OFF_FF_VCR0, v); }
  get cr2(): number { return this.ld(A.OFF_FF_VCR2); }
  set cr2(v: number) { this.st(A.OFF_FF_VCR2, v); }
  get cr3(): number { return this.ld(A.OFF_FF_VCR3); }
  set cr3(v: number) { this.st(A.OFF_FF_VCR3, v); }
  get cr4(): number { return this.ld(A.OFF_FF_VCR4); }
  set cr4(v: number) { this.st(A.OFF_FF_VCR4, v); }
}

export type HandleResult = null | { hlt: true } | { stop: "halted" | "shutdown" | "internal-error"; message: string };

export interface FullStats {
  exits: Record<string, number>;
  emulated: Record<string, number>;
  reflected: Record<string, number>;
  interruptsInjected: number;
  emulatedInstructions: number;
}

export const FL_IF = A.FLAG_IF, FL_IOPL = A.FLAG_IOPL;
export const SEG = { es: 0, cs: 1, ss: 2, ds: 3, fs: 4, gs: 5 } as const;
export const hex = (n: number) => "0x" + (n >>> 0).toString(16);

export interface MonitorOptions {
  /** guest RAM bytes (the Machine has VMM_SIZE more) */
  guestRam: number;
  io: MonitorIo;
  /** close the x86 hole (default true); false leaves pushf/popf/sgdt/… native (the switch that shows the hole) */
  closeHole?: boolean;
  /**
   * How the sensitive instructions are caught: "runtime" (default) — the CPU exits before each one while the
   * virtual CPU needs it (Machine.sensitiveExits; guest memory is never modified); "static" — the old sweep that
   * writes INT3 over them in the kernel's ELF code before it runs (patcher.ts), kept for comparison.
   */
  translate?: TranslateMode;
  maxShadows?: number;
  /** handle the hot traps inside the CPU (default true; false: every one exits, to compare): README "Fast paths" */
  fastPaths?: boolean;
  log?: (msg: string) => void;
}

export type TranslateMode = "runtime" | "static";

export const descAttr = (hi: number): number => (hi >>> 8) & 0xf0ff;
export const descBase = (lo: number, hi: number): number => ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
export function descLimit(lo: number, hi: number): number {
  const l = (lo & 0xffff) | (hi & 0xf0000);
  return hi & 0x800000 ? ((l * 4096) + 0xfff) >>> 0 : l;
}
/** a guest descriptor as read from its table: both words and its linear address */
export interface GuestDesc { lo: number; hi: number; addr: number }

export abstract class VcpuBase {
  readonly m: Machine;
  readonly shadow: ShadowMmu;
  readonly patcher: Patcher;
  readonly v: VirtualCpu;
  /** the counters as the monitor updates them, and `counts` the by-name ones in Maps (an exit counts one or two:
   * a Map update costs half a dictionary object's), copied into `stats` when it is read */
  protected readonly totals: FullStats = { exits: {}, emulated: {}, reflected: {}, interruptsInjected: 0, emulatedInstructions: 0 };
  protected readonly counts = { exits: new Map<string, number>(), emulated: new Map<string, number>(), reflected: new Map<string, number>() };
  private countsDirty = false;
  /** exits by cause, emulated instructions by name, reflections by vector, injections, instructions emulated */
  get stats(): FullStats {
    if (this.countsDirty) {
      this.countsDirty = false;
      for (const k of ["exits", "emulated", "reflected"] as const) for (const [n, c] of this.counts[k]) this.totals[k][n] = c;
    }
    return this.totals;
  }
  /** instructions the monitor emulated (the virtual clock's part; read on every slice) */
  get emulatedCount(): number { return this.totals.emulatedInstructions; }
  readonly guestRam: number;
  readonly translation: TranslateMode;
  /** the CPU fast paths to enable at start() (abi.ts CTRL_FAST_*) */
  readonly fastWanted: number;
  /** after STI: let one instruction run before an interrupt can be injected */
  stiShadow = false;
  protected io: MonitorIo;
  protected log: (msg: string) => void;
  protected gdtCache: { base: number; limit: number; bytes: Uint8Array<ArrayBufferLike> } = { base: -1, limit: -1, bytes: new Uint8Array(0) };
  protected ldtCache: { key: string; bytes: Uint8Array<ArrayBufferLike> } = { key: "", bytes: new Uint8Array(0) };
  protected delivering = 0;
  /**
   * The machine's memory as it is now: guest RAM is backed on first touch (assembly/ram-backing.ts), so these cover
   * the STATE block, the VMM region and the part of guest RAM backed so far, and a grown memory detaches the old
   * buffer: both are looked up through Machine.stateView on every use (getters, not fields: never snapshot state).
   * A reader of guest RAM through them checks `backedEnd` first and otherwise goes through the Machine's accessors,
   * which back the rest as the CPU would.
   */
  protected get dv(): DataView { return this.stateDv; }
  /** Machine.stateView, made again whenever the memory grows (Machine.onMemoryGrow runs before run() returns or a
   * host access goes on): looking it up through the Machine on every access was a tenth of a round trip */
  private stateDv: DataView;
  protected get u8(): Uint8Array { return this.m.stateBytes; }
  /** machine-memory offset (A.RAM_BASE + machine-physical) where the backed part of RAM ends now */
  protected get backedEnd(): number { return this.m.stateView.byteLength; }

  constructor(m: Machine, o: MonitorOptions) {
    this.m = m;
    this.io = o.io;
    this.guestRam = o.guestRam;
    this.translation = o.translate ?? "runtime";
    this.fastWanted = o.fastPaths === false ? 0 : FAST_CTRLS;
    this.log = o.log ?? (() => {});
    if (m.ramSize < VMM_SIZE + o.guestRam) throw new Error("wasmvisor full: the machine needs VMM_SIZE more RAM than the guest");
    const mem: PhysMem = {
      read32: (a) => m.read32(a), write32: (a, v) => m.write32(a, v), fill: (a, l, v) => m.fillMem(a, l, v),
      read: (a, l) => m.readMem(a, l), write: (a, d) => m.writeMem(a, d), flushTlb: () => m.flushTlb(), invlpg: (lin) => m.invlpg(lin),
    };
    this.patcher = new Patcher({ read8: (g) => m.read8(g + VMM_SIZE), write8: (g, v) => m.write8(g + VMM_SIZE, v) }, o.closeHole ?? true, (b, a) => m.decode(b, a));
    // the reverse map the CPU's own shadow fills and page-table stores read (ptmirror.ts), below the shadow pool
    const mirror = PtMirror.create(mem, POOL_START, VMM_SIZE, o.guestRam);
    this.shadow = new ShadowMmu({
      mem, ramOffset: VMM_SIZE, ramSize: o.guestRam, poolStart: mirror?.end ?? POOL_START, poolEnd: VMM_SIZE, vmmPt: VMM_PT,
      maxShadows: o.maxShadows, isCodeFrame: (f) => this.patcher.isCodeFrame(f), mirror,
    });
    // the VMM page table: linear VMM_LINEAR + x → machine x, supervisor-only, for the tables
    for (let a = 0; a < MAPPED_END; a += 4096) m.write32(VMM_PT + (a >> 12) * 4, a | 3);
    this.stateDv = m.stateView;
    const v = new SharedVirtualCpu(this.stateDv);
    this.v = v;
    m.onMemoryGrow(() => { this.stateDv = m.stateView; v.view = this.stateDv; });
    this.stateSet(A.OFF_FF_N_SREG, 0); // (scratch counters: a recycled machine may hold a previous VM's)
    this.stateSet(A.OFF_FF_N_IRET0, 0);
    this.stateSet(A.OFF_FPT_N_WRITES, 0);
    this.stateSet(A.OFF_FPT_N_FILLS, 0);
    this.stateSet(A.OFF_FPT_N_INVLPG, 0);
    this.stateSet(A.OFF_FPF_N, 0);
    this.publishPtMirror();
  }

  /**
   * Tells the CPU where the shadow reverse map is (abi.ts CTRL_FAST_PT, assembly/fullpt.ts): scratch of the state
   * block, so again whenever it is missing (a restored or reset state block). Only with run-time translation: in
   * static mode code frames are protected too, which the mirror does not carry (the CPU then always exits).
   */
  protected publishPtMirror(): void {
    const mi = this.shadow.mirror;
    if (!mi || this.translation !== "runtime") { this.stateSet(A.OFF_FPT_NFRAMES, 0); return; }
    if (this.stateGet(A.OFF_FPT_NFRAMES) !== mi.nFrames || this.stateGet(A.OFF_FPT_FRAMES) !== mi.frames) mi.publish((off, v) => this.stateSet(off, v), FLOOD, VMM_SIZE);
  }

  /** the CPU fast paths in force (abi.ts CTRL_FAST_*, assembly/fullfast.ts); other controls are left alone */
  set fastPaths(bits: number) {
    const c = this.dv.getUint32(A.STATE_BASE + A.OFF_CTRL, true);
    this.stateSet(A.OFF_CTRL, (c & ~FAST_CTRLS) | (bits & FAST_CTRLS));
  }
  get fastPaths(): number { return this.dv.getUint32(A.STATE_BASE + A.OFF_CTRL, true) & FAST_CTRLS; }
  /** tells the CPU whether a virtual interrupt waits (its fast sti/popf must not open the window past it) */
  set interruptPending(p: boolean) { this.stateSet(A.OFF_FF_PENDING, p ? 1 : 0); }
  /** events the CPU handled itself (no exit), by kind */
  inCpuCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    FF_NAMES.forEach((k, i) => { const n = this.dv.getUint32(A.STATE_BASE + A.OFF_FF_N_CLI + 4 * i, true); if (n) out[k] = n; });
    for (const [k, off] of [["mov/push cs|ss", A.OFF_FF_N_SREG], ["iret to kernel", A.OFF_FF_N_IRET0], ["pt write", A.OFF_FPT_N_WRITES], ["shadow fill", A.OFF_FPT_N_FILLS], ["invlpg", A.OFF_FPT_N_INVLPG], ["page fault", A.OFF_FPF_N]] as const) {
      const n = this.dv.getUint32(A.STATE_BASE + off, true);
      if (n) out[k] = n;
    }
    return out;
  }

  protected paging(): GuestPaging {
    return { pg: !!(this.v.cr0 & A.CR0_PG), wp: !!(this.v.cr0 & A.CR0_WP), pse: !!(this.v.cr4 & A.CR4_PSE), cr3: this.v.cr3 };
  }

  /** The virtual clock (core/vm.ts: retired + emulated + skipped while idle), which is the guest's TSC — the run loop
   * gives the CPU the same value as its TSC adjustment; the mode points this at the loop's clock when attached
   * (standalone, without a run loop: retired + emulated). */
  clock: () => number = () => this.m.instructions + this.totals.emulatedInstructions;
  /** The guest's TSC as the CPU's RDTSC would read it now (an RDTSC the monitor emulates). */
  get tsc(): number { return this.clock(); }
  protected stateSet(off: number, v: number): void { this.dv.setUint32(A.STATE_BASE + off, v >>> 0, true); }
  protected stateGet(off: number): number { return this.dv.getUint32(A.STATE_BASE + off, true); }
  reg(i: number, size = 4): number {
    if (size === 4) return this.m.getReg(REG_NAMES[i]) >>> 0;
    if (size === 2) return this.m.getReg(REG_NAMES[i]) & 0xffff;
    return i < 4 ? this.m.getReg(REG_NAMES[i]) & 0xff : (this.m.getReg(REG_NAMES[i - 4]) >>> 8) & 0xff;
  }

  setRegSized(i: number, v: number, size = 4): void {
    if (size === 4) { this.m.setReg(REG_NAMES[i], v >>> 0); return; }
    if (size === 2) { const r = REG_NAMES[i]; this.m.setReg(r, ((this.m.getReg(r) & ~0xffff) | (v & 0xffff)) >>> 0); return; }
    if (i < 4) { const r = REG_NAMES[i]; this.m.setReg(r, ((this.m.getReg(r) & ~0xff) | (v & 0xff)) >>> 0); return; }
    const r = REG_NAMES[i - 4];
    this.m.setReg(r, ((this.m.getReg(r) & ~0xff00) | ((v & 0xff) << 8)) >>> 0);
  }

  segBase(i: number): number { return this.m.getSegment(SEG_NAMES[i]).base >>> 0; }
  /** the virtual selector of CS/SS (the real one carries RPL 3) */
  vsel(name: "cs" | "ss"): number { return (this.m.getSegment(name).selector & ~3) | this.v.cpl; }
  protected count(map: Map<string, number>, k: string): void { map.set(k, (map.get(k) ?? 0) + 1); this.countsDirty = true; }
  countExit(cause: string): void { this.count(this.counts.exits, cause); }
  protected done(d: Insn, name: string): string {
    this.m.eip = (d.addr + d.len) >>> 0;
    this.count(this.counts.emulated, name);
    this.totals.emulatedInstructions++;
    return name;
  }
  /** Handles one exit (monitor.ts); lower layers re-enter it (a single-stepped write's own exit). */
  abstract handle(exit: Exit): HandleResult;
}
