// machine.ts — the typed Node API over the wasm CPU, in the spirit of Unicorn's:
// create a machine, read/write registers and guest memory, run for N instructions or until an exit,
// read the exit. Everything goes through the kvm_run-like state block defined in assembly/abi.ts.
import * as A from "./abi.generated.ts";
import { BlockCompiler, JIT_HELPERS } from "./jit/compiler.ts";
import { CompileQueue } from "./jit/batch.ts";

export const REG_NAMES = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"] as const;
export type GprName = (typeof REG_NAMES)[number];
export type RegName = GprName | "eip" | "eflags";
export const SEG_NAMES = ["es", "cs", "ss", "ds", "fs", "gs"] as const;
export type SegName = (typeof SEG_NAMES)[number];
export type CrName = "cr0" | "cr2" | "cr3" | "cr4";

export interface Segment {
  selector: number;
  base: number;
  /** byte-granular limit (already scaled by G) */
  limit: number;
  /** descriptor bits 40..55 >> 8: type|S|DPL|P in bits 0..7, AVL|L|D/B|G in bits 12..15 */
  attr: number;
}

const SENSITIVE_CTRLS = A.CTRL_EXIT_SENSITIVE | A.CTRL_EXIT_PRIV_XFER | A.CTRL_EXIT_DESC_READ;

export { EXIT_NAMES } from "./exit-types.ts";
export type { ExitName, DecodedInsn, IoQualification, CrQualification, DrQualification, Exit } from "./exit-types.ts";
import type { ExitName, DecodedInsn, IoQualification, CrQualification, DrQualification, Exit } from "./exit-types.ts";
import { EXIT_NAMES } from "./exit-types.ts";
import { ReusedExits, readDecoded, readIoQual, newInsn, newIo } from "./exit-reuse.ts";

export interface MachineOptions {
  /** guest RAM in bytes (multiple of 4 KiB); default 64 MiB */
  memSize?: number;
  /** exceptions that exit to the host instead of IDT delivery (bitmap of vectors 0..31); default: none */
  exceptionBitmap?: number;
  /** INT n / INT3 / INTO exit to the host instead of IDT delivery */
  exitOnSoftInt?: boolean;
  /** HLT exits to the host */
  exitOnHlt?: boolean;
  /**
   * Compile hot blocks to wasm (host/jit/): executions of a block before it is compiled; 0 disables the JIT.
   * Default 256 (a block must be clearly hot before compiling it, ~0.1 ms, pays off), raised to 1024 once V8 compiled
   * 1,000 modules for this machine (JIT_RAISE_AFTER): a guest with that much hot code — Linux's kernel — runs most of
   * it a few hundred times and never again, so compiling it costs more than interpreting it (docs/RESULTS.md jit-chain).
   */
  jitThreshold?: number;
  /**
   * A hypervisor is present: VMCALL (0F 01 C1) exits with reason "hypercall" (EIP past it, arguments in the
   * registers) and CPUID 0x40000000 reports this 12-character signature; without it VMCALL raises #UD.
   */
  hypervisorSignature?: string;
}

/** Instructions per call into wasm: V8 only tiers a hot loop up between calls (see shared/references.md). */
const SLICE = 200_000;

import {
  MAX_JIT_BLOCKS_PER_MACHINE, cpuModule, takePooled, freshCpu, giveBack, releasedCpu,
  takeLease, endLease, notCompiling, type PooledCpu, type CpuExports, type Lease,
} from "./cpu-instances.ts";
/** the default JIT threshold, and after how many new modules of one machine it becomes JIT_THRESHOLD_RAISED */
export const JIT_THRESHOLD = 256, JIT_RAISE_AFTER = 1000, JIT_THRESHOLD_RAISED = 1024;
export { MAX_JIT_BLOCKS_PER_MACHINE, MAX_LIVE_JIT_MODULES, cpuModule, drainMachinePool } from "./cpu-instances.ts";

/** A protection fault a rule reports: vector and error code. */
export interface RuleFault { vector: number; error: number }
const ruleFault = (f: number): RuleFault | null => (f ? { vector: f >>> 16, error: f & 0xffff } : null);

/**
 * The CPU's protection rules (assembly/ops/rules.ts) as pure functions of descriptor words and privilege levels,
 * so a monitor that emulates an instruction applies exactly the rule the CPU applies.
 */
export interface CpuRules {
  /** offset of ESPn (32-bit TSS) / SPn (16-bit) in a TSS with these attributes and limit, or -1: #TS(TR) */
  tssStackSlot(attr: number, limit: number, n: number): number;
  /** new-SS checks of an inward CALL/interrupt */
  newSsCheck(sel: number, hi: number, newCpl: number, ext: number): RuleFault | null;
  /** MOV/POP/LxS checks for a segment register (index 0..5) with a non-null selector */
  dataSegCheck(seg: number, sel: number, hi: number, cpl: number): RuleFault | null;
  larLslOk(sel: number, hi: number, cpl: number, isLsl: boolean): boolean;
  verOk(sel: number, hi: number, cpl: number, write: boolean): boolean;
  /** does `second`, raised while delivering `first`, become #DF (SDM Vol. 3A table 6-5)? */
  isDoubleFault(first: number, second: number): boolean;
  /** a fault-class vector (its frame carries RF=1) */
  isFaultVector(v: number): boolean;
  /** after `second` is raised while delivering `first` (`soft`: an INT n, raised as itself): the vector to deliver (#DF or `second`), or -1: triple fault */
  escalation(first: number, second: number, soft: boolean): number;
  /** does this event's frame carry RF=1 (faults; not INT n, not external interrupts)? */
  framePushesRf(vec: number, soft: boolean, external: boolean): boolean;
  /** IDT delivery: the entry inside the IDT limit (#GP(vec*8+2+ext)) */
  idtLimitCheck(vec: number, idtLimit: number, ext: number): RuleFault | null;
  /** IDT delivery: gate type, DPL >= CPL for INT n, present (#GP / #NP(vec*8+2+ext)) */
  idtGateCheck(vec: number, hi: number, soft: boolean, cpl: number, ext: number): RuleFault | null;
  /** entry offset of an interrupt/trap/call gate (16- or 32-bit by its type) */
  gateOffset(lo: number, hi: number): number;
  /** operand size of what a gate pushes: 4 or 2 */
  gateSize(hi: number): number;
  /** the code segment a gate names (call gate via JMP: `isJmp`), with `off` inside its limit */
  gateTargetCheck(sel: number, lo: number, hi: number, off: number, cpl: number, ext: number, isJmp: boolean): RuleFault | null;
  /** the privilege a gate transfer runs at (lower than `cpl`: inward, stack from the TSS) */
  gateTargetCpl(hi: number, cpl: number): number;
  /** bytes of an interrupt frame: [SS ESP] EFLAGS CS EIP [error] */
  deliveryFrameSize(gateHi: number, inward: boolean, hasErr: boolean): number;
  /** EFLAGS in the handler (TF NT RF VM cleared; IF too through an interrupt gate) */
  deliveryFlags(flags: number, gateHi: number): number;
  /** a call gate's DPL and present checks */
  callGateCheck(gateSel: number, hi: number, cpl: number): RuleFault | null;
  /** a direct far JMP/CALL code target (offset already truncated to the operand size) */
  farTargetCheck(sel: number, lo: number, hi: number, off: number, cpl: number): RuleFault | null;
  /** the CS a RETF/IRET returns to (its RPL is the new CPL) */
  returnCsCheck(sel: number, lo: number, hi: number, off: number, cpl: number): RuleFault | null;
  /** the SS a return to outer level `rpl` pops */
  returnSsCheck(sel: number, hi: number, rpl: number): RuleFault | null;
  /** does a return to `newCpl` null a data segment register with these cached attributes? */
  nullsOnReturn(attr: number, newCpl: number): boolean;
  /** EFLAGS after POPF / IRET load `val` at `cpl` */
  popFlags(cur: number, val: number, size: number, cpl: number, iret: boolean): number;
  /** offset of the I/O-map base word in the TSS, or -1 (#GP) */
  ioMapBaseSlot(trAttr: number, trLimit: number): number;
  /** offset of the bitmap word for `port`, or -1 (#GP: past the TSS limit) */
  ioBitmapSlot(mapBase: number, port: number, trLimit: number): number;
  /** does the bitmap word allow `size` bytes at `port`? */
  ioBitsAllow(bits: number, port: number, size: number): boolean;
  /** a far transfer to a TSS / IRET's back-link task (`wantBusy`): its checks, then #GP (no task switching) */
  taskTargetCheck(sel: number, lo: number, hi: number, wantBusy: boolean): RuleFault | null;
  /** room for `frame` bytes below `sp` in a stack segment of `limit` (`big`: 32-bit SP), or #SS(errSel) */
  stackRoomCheck(limit: number, sp: number, frame: number, errSel: number, big: boolean): RuleFault | null;
  /** LLDT/LTR: a non-null selector must name the GDT (before its descriptor is read) */
  sysSelCheck(sel: number): RuleFault | null;
  /** LLDT: an LDT descriptor; LTR (`isTr`): an available TSS; present */
  sysDescCheck(sel: number, hi: number, isTr: boolean): RuleFault | null;
  /** a data access of `size` bytes at `off` through a segment cache (attr, limit): #GP(0)/#SS(0) or null */
  segAccessCheck(attr: number, limit: number, off: number, size: number, write: boolean, isSs: boolean): RuleFault | null;
}

/** Is page `p` set in a Machine.writtenPages() bitmap (bit p & 7 of byte p >> 3)? */
export function pageWritten(written: Uint8Array, p: number): boolean { return (written[p >>> 3] & (1 << (p & 7))) !== 0; }

export class Machine {
  readonly ramSize: number;
  private cpu: CpuExports;
  private u8: Uint8Array;
  private dv: DataView;
  /** the state block as words (STATE_BASE and every OFF_* are 4-aligned): the exit path's reads, without DataView calls */
  private sw: Uint32Array;
  private readonly mem: WebAssembly.Memory;
  private pooled: PooledCpu | null;
  /** ramSize, or -1 once released (every guest-memory access then fails its range check) */
  private ramLimit: number;
  /** the host was handed a view of RAM (ramBytes): release() zeroes all of RAM, not only the pages the CPU saw written */
  private get rawViews(): boolean { return this.lease.rawViews; }
  private set rawViews(v: boolean) { this.lease.rawViews = v; }
  /** the host was handed the Memory object itself: release() cannot take it back, so it is not pooled */
  private get memoryShared(): boolean { return this.lease.shared; }
  private set memoryShared(v: boolean) { this.lease.shared = v; }
  /** what this machine holds of the pool (given back by release(), or when the collector frees the machine) */
  private readonly lease: Lease;

  constructor(opts: MachineOptions = {}) {
    const ram = opts.memSize ?? 64 * 1024 * 1024;
    if (!Number.isInteger(ram) || ram < 4096 || ram % 4096 !== 0 || ram > A.MAX_RAM_SIZE) {
      throw new RangeError(`wasmvisor: memory size must be a multiple of 4 KiB between 4 KiB and ${A.MAX_RAM_SIZE} bytes`);
    }
    const cpu = takePooled(ram) ?? freshCpu(ram);
    // (the instance calls jitCompile only inside run(), which points it at this machine for the call: between
    // runs nothing the pool's lease holds refers to the machine, so the collector can free it; a WeakRef would
    // keep every machine made in a synchronous loop alive until the loop ends)
    this.compileHook = (block) => this.jitCompile(block);
    this.lease = { cpu, ram, rawViews: false, shared: false };
    takeLease(this, this.lease);
    this.mem = cpu.memory;
    this.pooled = cpu;
    this.cpu = cpu.instance.exports as unknown as CpuExports;
    this.ramSize = ram;
    this.ramLimit = ram;
    this.u8 = new Uint8Array(this.mem.buffer);
    this.dv = new DataView(this.mem.buffer);
    this.backedRam = Math.min(this.u8.length - A.RAM_BASE, ram);
    this.sw = new Uint32Array(this.mem.buffer, A.STATE_BASE, A.STATE_SIZE >>> 2);
    this.st32(A.OFF_RAM_SIZE, ram);
    this.cpu.reset();
    this.st32(A.OFF_EXC_BITMAP, opts.exceptionBitmap ?? 0);
    this.st32(A.OFF_CTRL, (opts.exitOnSoftInt ? A.CTRL_EXIT_SOFTINT : 0) | (opts.exitOnHlt ? A.CTRL_EXIT_HLT : 0));
    if (opts.hypervisorSignature !== undefined) this.setHypervisor(opts.hypervisorSignature);
    this.st32(A.OFF_JIT_THRESHOLD, opts.jitThreshold ?? JIT_THRESHOLD);
    this.jitAdaptive = opts.jitThreshold === undefined;
  }

  /** The wasm memory (state block, CPU tables and guest RAM at A.RAM_BASE), all of RAM backed (its buffer stays). */
  get memory(): WebAssembly.Memory { this.backRam(this.ramSize); this.memoryShared = true; endLease(this.lease); return this.mem; }

  // ---- RAM backed on first touch (assembly/ram-backing.ts): the memory starts with the CPU tables and a little RAM ----
  /** RAM bytes the memory covered when the views were last made (the CPU may have grown it since: views detach) */
  private backedRam: number;
  /** the views again after the memory grew (a grown memory detaches the old buffer); then every onMemoryGrow holder's */
  private refreshViews(): void {
    if (!this.pooled || this.u8.byteLength === this.mem.buffer.byteLength) return;
    this.u8 = new Uint8Array(this.mem.buffer);
    this.dv = new DataView(this.mem.buffer);
    this.sw = new Uint32Array(this.mem.buffer, A.STATE_BASE, A.STATE_SIZE >>> 2);
    this.backedRam = Math.min(this.u8.length - A.RAM_BASE, this.ramSize);
    for (const f of this.growHooks) f();
  }
  private readonly growHooks: (() => void)[] = [];
  /**
   * A view of the memory as it is now, without backing the rest of RAM (as `memory` does): for the STATE block and
   * the CPU tables, which it always covers. It detaches when the memory grows (the CPU or a host access backing more
   * RAM): make it again in `onMemoryGrow`, which runs before run() returns or the host access goes on. release()
   * detaches it for good (the pool's memory.grow(0)), so a stale holder reads nothing and writes nowhere.
   */
  get stateView(): DataView { return this.liveDv; }
  /** the same memory as bytes (the machine's own view, remade with stateView's) */
  get stateBytes(): Uint8Array { if (this.u8.byteLength === 0) this.refreshViews(); return this.u8; }
  /** `fn` runs whenever the memory grew, after the machine's own views are remade (see stateView). */
  onMemoryGrow(fn: () => void): void { this.growHooks.push(fn); }
  /** Cover RAM up to `end` for a host access there, by the CPU's own growth rule (assembly/ram-backing.ts). */
  private backRam(end: number): void {
    this.refreshViews();
    if (end <= this.backedRam || !this.pooled) return;
    this.cpu.backRamTo(Math.min(end, this.ramSize));
    this.refreshViews();
  }
  /** Bytes of guest RAM the wasm memory covers now (the rest reads as zero and is backed when first touched). */
  get ramBacked(): number { this.refreshViews(); return this.pooled ? this.backedRam : 0; }
  private get liveDv(): DataView { if (this.u8.byteLength === 0) this.refreshViews(); return this.dv; }

  /**
   * Give this machine's memory and CPU instance back for the next `new Machine` of the same RAM size: creating a
   * wasm memory makes V8 collect garbage every few machines, reusing one costs zeroing what this guest wrote.
   * The next machine is indistinguishable from a fresh one (RAM, state, TLB, blocks, compiled code: test/launch.test.ts).
   * Every view of the old memory is detached and any later use of this machine throws. Calling it is optional.
   */
  release(): void {
    const p = this.pooled;
    if (!p) return;
    this.pooled = null;
    this.ramLimit = -1;
    this.cpu = releasedCpu;
    endLease(this.lease);
    giveBack(p, this.ramSize, this.rawViews, this.memoryShared);
    this.u8 = new Uint8Array(0);
    this.dv = new DataView(new ArrayBuffer(0));
    this.sw = new Uint32Array(0);
    this.jit = null;
    this.jitQueue = null;
  }
  /** Machine.release()d */
  get released(): boolean { return this.pooled === null; }

  // ---- the block compiler (called by the CPU when a block gets hot) ----
  private jit: BlockCompiler | null = null;
  /** blocks this machine compiled (its function table keeps each alive) */
  private jitBlocks = 0;
  /** the CPU's block-cache generation jitBlocks counts in (cpu-instances.ts MAX_JIT_BLOCKS_PER_MACHINE) */
  private jitGen = -1;
  /** modules V8 compiled for this machine (the cache answered the others): bounded by MAX_JIT_BLOCKS_PER_MACHINE too */
  private jitNewModules = 0;
  private jitQueue: CompileQueue | null = null;
  /** the threshold is the default one: raised after JIT_RAISE_AFTER new modules */
  private jitAdaptive = false;
  private readonly compileHook: (block: number) => number;
  private jitCompile(block: number): number {
    if (!this.jit) {
      this.jit = new BlockCompiler(() => this.liveDv);
      const x = this.cpu as unknown as Record<string, unknown>;
      const imports: Record<string, unknown> = { memory: this.mem };
      for (const k of JIT_HELPERS) imports[k] = x[k];
      this.jitQueue = new CompileQueue({
        compiler: this.jit,
        mem: () => this.liveDv,
        // a guest that keeps generating code must not exhaust the host: past the caps the block is interpreted. The
        // slots are counted per generation; new code (functions V8 must compile) per machine, so refills give back
        // slots for code compiled before (from the cache) but not more compile work than without them
        mayCompile: (n) => this.jitNewModules + n <= MAX_JIT_BLOCKS_PER_MACHINE,
        compiledFresh: (n) => {
          const before = this.jitNewModules;
          this.jitNewModules += n;
          if (before < JIT_RAISE_AFTER && this.jitNewModules >= JIT_RAISE_AFTER && this.jitAdaptive) this.st32(A.OFF_JIT_THRESHOLD, JIT_THRESHOLD_RAISED);
        },
        instantiate: (m) => new WebAssembly.Instance(m, { env: imports as WebAssembly.ModuleImports }),
        install: (fn) => {
          if (this.jitBlocks >= MAX_JIT_BLOCKS_PER_MACHINE) return 0;
          // a recycled instance reuses the slots its last machine filled (their blocks are gone): the table never
          // grows past the most one machine compiled
          const t = this.cpu.table;
          const idx = this.pooled!.tableBase + this.jitBlocks++;
          if (idx >= t.length) t.grow(idx + 1 - t.length);
          t.set(idx, fn as never);
          return idx;
        },
        installedOther: () => this.st32(A.OFF_JIT_COMPILED, this.ld32(A.OFF_JIT_COMPILED) + 1),
      });
    }
    // the CPU dropped every block since the last compile: none refers to a slot any more, so they are reused (a kernel
    // that fills the block arena again and again — Linux: its decompressor, then itself — keeps its JIT)
    const gen = this.cpu.blockGeneration();
    if (gen !== this.jitGen) { this.jitGen = gen; this.jitBlocks = 0; this.jitQueue!.clear(); }
    if (this.jitBlocks >= MAX_JIT_BLOCKS_PER_MACHINE) return 0;
    // the default threshold batches compiles (host/jit/batch.ts); a threshold the user set compiles at once
    return this.jitQueue!.request(block, this.jitAdaptive);
  }
  /** blocks compiled to wasm, calls into them, instructions retired in them (the rest ran in the interpreter) */
  get jitStats() {
    const retired = this.ld32(A.OFF_JIT_RETIRED) + this.ld32(A.OFF_JIT_RETIRED + 4) * 2 ** 32;
    return { compiled: this.ld32(A.OFF_JIT_COMPILED), entries: this.ld32(A.OFF_JIT_ENTRIES), retired };
  }

  /** Platform CPUID additions: `apic` sets CPUID.1:EDX bit 9 (the host emulates a local APIC). */
  /** The CPU's own CPUID answer for `leaf` [EAX, EBX, ECX, EDX] (what a hypervisor emulating CPUID exits starts from). */
  cpuid(leaf: number): [number, number, number, number] {
    const c = this.cpu;
    return [c.hwCpuid(leaf >>> 0, 0) >>> 0, c.hwCpuid(leaf >>> 0, 1) >>> 0, c.hwCpuid(leaf >>> 0, 2) >>> 0, c.hwCpuid(leaf >>> 0, 3) >>> 0];
  }
  setCpuidFeatures(f: { apic?: boolean }): void { this.st32(A.OFF_CPUID_EDX_EXTRA, f.apic ? 1 << 9 : 0); }

  /** Announce a hypervisor (see MachineOptions.hypervisorSignature); null removes it. */
  setHypervisor(signature: string | null, maxLeaf = 0x40000001): void {
    const ctrl = this.ld32(A.OFF_CTRL) & ~A.CTRL_HYPERCALL;
    if (signature === null) { this.st32(A.OFF_CTRL, ctrl); return; }
    if (signature.length !== 12) throw new RangeError("wasmvisor: a hypervisor signature has 12 characters");
    const ch = (i: number) => signature.charCodeAt(i) & 0xff; // latin1
    this.st32(A.OFF_HV_SIGNATURE, maxLeaf);
    for (let i = 0; i < 3; i++) this.st32(A.OFF_HV_SIGNATURE + 4 + 4 * i, (ch(4 * i) | ch(4 * i + 1) << 8 | ch(4 * i + 2) << 16 | ch(4 * i + 3) << 24) >>> 0);
    this.st32(A.OFF_CTRL, ctrl | A.CTRL_HYPERCALL);
  }

  /**
   * The sensitive-instruction exits in force (abi.ts CTRL_EXIT_SENSITIVE | CTRL_EXIT_PRIV_XFER |
   * CTRL_EXIT_DESC_READ): a monitor sets them by the virtual CPU's state; every instruction of a set class
   * exits ("sensitive") before executing. Other controls are left alone.
   */
  get sensitiveExits(): number { return this.ld32(A.OFF_CTRL) & SENSITIVE_CTRLS; }
  set sensitiveExits(bits: number) {
    const c = this.ld32(A.OFF_CTRL);
    const n = (c & ~SENSITIVE_CTRLS) | (bits & SENSITIVE_CTRLS);
    if (n !== c) this.st32(A.OFF_CTRL, n);
  }

  // ---- the CPU's decoder and protection rules, for monitors ----
  /**
   * Decodes `bytes` (up to 15) as the instruction at `eip` with the CPU's own decoder. When the result's `len`
   * exceeds bytes.length the instruction continues past them: supply more and decode again.
   */
  decode(bytes: ArrayLike<number>, eip = 0): DecodedInsn {
    const n = Math.min(bytes.length, 15);
    const at = A.STATE_BASE + A.OFF_DECODE_BYTES;
    if (bytes instanceof Uint8Array && n === bytes.length) this.u8.set(bytes, at);
    else for (let i = 0; i < n; i++) this.u8[at + i] = bytes[i];
    this.st32(A.OFF_DECODE_AVAIL, n);
    this.cpu.decodeAt(eip >>> 0);
    return this.readInsn(A.OFF_DECODE, eip >>> 0);
  }
  readonly rules: CpuRules = {
    tssStackSlot: (attr, limit, n) => this.cpu.tssStackSlot(attr >>> 0, limit >>> 0, n),
    newSsCheck: (sel, hi, newCpl, ext) => ruleFault(this.cpu.newSsCheck(sel, hi >>> 0, newCpl, ext)),
    dataSegCheck: (seg, sel, hi, cpl) => ruleFault(this.cpu.dataSegCheck(seg, sel, hi >>> 0, cpl)),
    larLslOk: (sel, hi, cpl, isLsl) => this.cpu.larLslOk(sel, hi >>> 0, cpl, isLsl ? 1 : 0) !== 0,
    verOk: (sel, hi, cpl, write) => this.cpu.verOk(sel, hi >>> 0, cpl, write ? 1 : 0) !== 0,
    isDoubleFault: (first, second) => this.cpu.isDoubleFault(first, second) !== 0,
    isFaultVector: (v) => this.cpu.isFaultVector(v) !== 0,
    escalation: (first, second, soft) => this.cpu.escalation(first, second, soft ? 1 : 0),
    framePushesRf: (vec, soft, external) => this.cpu.framePushesRf(vec, soft ? 1 : 0, external ? 1 : 0) !== 0,
    idtLimitCheck: (vec, idtLimit, ext) => ruleFault(this.cpu.idtLimitCheck(vec, idtLimit >>> 0, ext)),
    idtGateCheck: (vec, hi, soft, cpl, ext) => ruleFault(this.cpu.idtGateCheck(vec, hi >>> 0, soft ? 1 : 0, cpl, ext)),
    gateOffset: (lo, hi) => this.cpu.gateOffset(lo >>> 0, hi >>> 0) >>> 0,
    gateSize: (hi) => this.cpu.gateSize(hi >>> 0),
    gateTargetCheck: (sel, lo, hi, off, cpl, ext, isJmp) =>
      ruleFault(this.cpu.gateTargetCheck(sel, lo >>> 0, hi >>> 0, off >>> 0, cpl, ext, isJmp ? 1 : 0)),
    gateTargetCpl: (hi, cpl) => this.cpu.gateTargetCpl(hi >>> 0, cpl),
    deliveryFrameSize: (gateHi, inward, hasErr) => this.cpu.deliveryFrameSize(gateHi >>> 0, inward ? 1 : 0, hasErr ? 1 : 0),
    deliveryFlags: (flags, gateHi) => this.cpu.deliveryFlags(flags >>> 0, gateHi >>> 0) >>> 0,
    callGateCheck: (gateSel, hi, cpl) => ruleFault(this.cpu.callGateCheck(gateSel, hi >>> 0, cpl)),
    farTargetCheck: (sel, lo, hi, off, cpl) => ruleFault(this.cpu.farTargetCheck(sel, lo >>> 0, hi >>> 0, off >>> 0, cpl)),
    returnCsCheck: (sel, lo, hi, off, cpl) => ruleFault(this.cpu.returnCsCheck(sel, lo >>> 0, hi >>> 0, off >>> 0, cpl)),
    returnSsCheck: (sel, hi, rpl) => ruleFault(this.cpu.returnSsCheck(sel, hi >>> 0, rpl)),
    nullsOnReturn: (attr, newCpl) => this.cpu.nullsOnReturn(attr, newCpl) !== 0,
    popFlags: (cur, val, size, cpl, iret) => this.cpu.popFlags(cur >>> 0, val >>> 0, size, cpl, iret ? 1 : 0) >>> 0,
    ioMapBaseSlot: (trAttr, trLimit) => this.cpu.ioMapBaseSlot(trAttr, trLimit >>> 0),
    ioBitmapSlot: (mapBase, port, trLimit) => this.cpu.ioBitmapSlot(mapBase, port, trLimit >>> 0),
    ioBitsAllow: (bits, port, size) => this.cpu.ioBitsAllow(bits, port, size) !== 0,
    sysSelCheck: (sel) => ruleFault(this.cpu.sysSelCheck(sel)),
    sysDescCheck: (sel, hi, isTr) => ruleFault(this.cpu.sysDescCheck(sel, hi >>> 0, isTr ? 1 : 0)),
    segAccessCheck: (attr, limit, off, size, write, isSs) =>
      ruleFault(this.cpu.segAccessCheck(attr, limit >>> 0, off >>> 0, size, write ? 1 : 0, isSs ? 1 : 0)),
    stackRoomCheck: (limit, sp, frame, errSel, big) =>
      ruleFault(this.cpu.stackRoomCheck(limit >>> 0, sp >>> 0, frame, errSel, big ? 1 : 0)),
    taskTargetCheck: (sel, lo, hi, wantBusy) => ruleFault(this.cpu.taskTargetCheck(sel, lo >>> 0, hi >>> 0, wantBusy ? 1 : 0)),
  };
  private readInsn(off: number, addr: number): DecodedInsn { return readDecoded(this.sw, off, addr, newInsn()); }


  // ---- raw state block access ----
  private ld32(off: number): number { return this.sw[off >>> 2]; } // (every OFF_* is 4-aligned: abi.test.ts)
  private st32(off: number, v: number): void { this.dv.setUint32(A.STATE_BASE + off, v >>> 0, true); }

  // ---- registers ----
  getReg(name: RegName): number {
    if (name === "eip") return this.ld32(A.OFF_EIP);
    if (name === "eflags") return this.ld32(A.OFF_EFLAGS);
    const i = REG_NAMES.indexOf(name);
    if (i < 0) throw new RangeError(`wasmvisor: unknown register ${name}`);
    return this.ld32(A.OFF_EAX + i * 4);
  }
  setReg(name: RegName, value: number): void {
    if (name === "eip") return this.st32(A.OFF_EIP, value);
    if (name === "eflags") return this.st32(A.OFF_EFLAGS, (value & 0x3f7fd7) | 2); // reserved bits as hardware keeps them
    const i = REG_NAMES.indexOf(name);
    if (i < 0) throw new RangeError(`wasmvisor: unknown register ${name}`);
    this.st32(A.OFF_EAX + i * 4, value);
  }
  get eax() { return this.getReg("eax"); } set eax(v) { this.setReg("eax", v); }
  get ecx() { return this.getReg("ecx"); } set ecx(v) { this.setReg("ecx", v); }
  get edx() { return this.getReg("edx"); } set edx(v) { this.setReg("edx", v); }
  get ebx() { return this.getReg("ebx"); } set ebx(v) { this.setReg("ebx", v); }
  get esp() { return this.getReg("esp"); } set esp(v) { this.setReg("esp", v); }
  get ebp() { return this.getReg("ebp"); } set ebp(v) { this.setReg("ebp", v); }
  get esi() { return this.getReg("esi"); } set esi(v) { this.setReg("esi", v); }
  get edi() { return this.getReg("edi"); } set edi(v) { this.setReg("edi", v); }
  get eip() { return this.getReg("eip"); } set eip(v) { this.setReg("eip", v); }
  get eflags() { return this.getReg("eflags"); } set eflags(v) { this.setReg("eflags", v); }
  get cpl(): number { return this.ld32(A.OFF_CPL); }

  // ---- segments (like KVM_SET_SREGS: the host writes selector and hidden cache together) ----
  getSegment(name: SegName): Segment {
    const o = A.OFF_SEGS + SEG_NAMES.indexOf(name) * A.SEG_STRIDE;
    return { selector: this.ld32(o + A.SEG_SEL), base: this.ld32(o + A.SEG_BASE), limit: this.ld32(o + A.SEG_LIMIT), attr: this.ld32(o + A.SEG_ATTR) };
  }
  setSegment(name: SegName, s: Segment): void {
    const i = SEG_NAMES.indexOf(name);
    if (i < 0) throw new RangeError(`wasmvisor: unknown segment ${name}`);
    const o = A.OFF_SEGS + i * A.SEG_STRIDE;
    this.st32(o + A.SEG_SEL, s.selector & 0xffff);
    this.st32(o + A.SEG_BASE, s.base);
    this.st32(o + A.SEG_LIMIT, s.limit);
    this.st32(o + A.SEG_ATTR, s.attr);
    if (name === "cs") this.st32(A.OFF_CPL, s.selector & 3);
    // no TLB flush: translations do not depend on segments (run() re-reads CPL and the segment rights)
  }
  /** Flat 32-bit protected mode as GRUB/QEMU leave a multiboot kernel: CS=0x08, data=0x10, base 0, limit 4 GiB. */
  setFlatProtectedMode(): void {
    this.setCr("cr0", (this.getCr("cr0") | A.CR0_PE | A.CR0_ET) >>> 0);
    this.setSegment("cs", { selector: 0x08, base: 0, limit: 0xffffffff, attr: 0xc09b });
    for (const s of ["ss", "ds", "es", "fs", "gs"] as const) {
      this.setSegment(s, { selector: 0x10, base: 0, limit: 0xffffffff, attr: 0xc093 });
    }
  }
  /** LDTR and TR with their hidden caches (selector, base, byte-granular limit, attr), as KVM_SET_SREGS. */
  getLdtr(): Segment { return this.sysSeg(A.OFF_LDTR); }
  setLdtr(s: Segment): void { this.setSysSeg(A.OFF_LDTR, s); }
  getTr(): Segment { return this.sysSeg(A.OFF_TR); }
  setTr(s: Segment): void { this.setSysSeg(A.OFF_TR, s); }
  private sysSeg(o: number): Segment {
    return { selector: this.ld32(o + A.SEG_SEL), base: this.ld32(o + A.SEG_BASE), limit: this.ld32(o + A.SEG_LIMIT), attr: this.ld32(o + A.SEG_ATTR) };
  }
  private setSysSeg(o: number, s: Segment): void {
    this.st32(o + A.SEG_SEL, s.selector & 0xffff); this.st32(o + A.SEG_BASE, s.base);
    this.st32(o + A.SEG_LIMIT, s.limit); this.st32(o + A.SEG_ATTR, s.attr);
  }
  getCr(name: CrName): number {
    return this.ld32(crOffset(name));
  }
  setCr(name: CrName, v: number): void {
    this.st32(crOffset(name), v);
    this.cpu.flushTlb();
  }
  /** DR0..DR7 (DR4/DR5 are stored apart; the CPU aliases them to DR6/DR7 when CR4.DE=0). */
  getDr(n: number): number { if (!(n >= 0 && n <= 7)) throw new RangeError("wasmvisor: debug registers are DR0..DR7"); return this.ld32(A.OFF_DR0 + 4 * n); }
  setDr(n: number, v: number): void { if (!(n >= 0 && n <= 7)) throw new RangeError("wasmvisor: debug registers are DR0..DR7"); this.st32(A.OFF_DR0 + 4 * n, v); }
  setGdtr(base: number, limit: number) { this.st32(A.OFF_GDTR_BASE, base); this.st32(A.OFF_GDTR_LIMIT, limit & 0xffff); }
  setIdtr(base: number, limit: number) { this.st32(A.OFF_IDTR_BASE, base); this.st32(A.OFF_IDTR_LIMIT, limit & 0xffff); }
  getGdtr() { return { base: this.ld32(A.OFF_GDTR_BASE), limit: this.ld32(A.OFF_GDTR_LIMIT) }; }
  getIdtr() { return { base: this.ld32(A.OFF_IDTR_BASE), limit: this.ld32(A.OFF_IDTR_LIMIT) }; }

  // ---- guest physical memory ----
  private check(paddr: number, len: number): void {
    if (!Number.isInteger(paddr) || !Number.isInteger(len) || paddr < 0 || len < 0 || paddr + len > this.ramLimit) {
      if (this.ramLimit < 0) throw new Error("wasmvisor: this machine was released (Machine.release)");
      throw new RangeError(`wasmvisor: guest physical range 0x${paddr.toString(16)}+${len} is outside RAM (${this.ramSize} bytes)`);
    }
    if (paddr + len > this.backedRam) this.backRam(paddr + len);
  }
  readMem(paddr: number, len: number): Uint8Array {
    this.check(paddr, len);
    return this.u8.slice(A.RAM_BASE + paddr, A.RAM_BASE + paddr + len);
  }
  writeMem(paddr: number, data: ArrayLike<number>): void {
    this.check(paddr, data.length);
    this.u8.set(data, A.RAM_BASE + paddr);
    this.cpu.notifyHostWrite(paddr, data.length);
  }
  fillMem(paddr: number, len: number, value = 0): void {
    this.check(paddr, len);
    this.u8.fill(value, A.RAM_BASE + paddr, A.RAM_BASE + paddr + len);
    this.cpu.notifyHostWrite(paddr, len);
  }
  read8(p: number) { this.check(p, 1); return this.u8[A.RAM_BASE + p]; }
  read16(p: number) { this.check(p, 2); return this.dv.getUint16(A.RAM_BASE + p, true); }
  read32(p: number) { this.check(p, 4); return this.dv.getUint32(A.RAM_BASE + p, true); }
  write8(p: number, v: number) { this.check(p, 1); this.u8[A.RAM_BASE + p] = v; this.cpu.notifyHostWrite(p, 1); }
  write16(p: number, v: number) { this.check(p, 2); this.dv.setUint16(A.RAM_BASE + p, v, true); this.cpu.notifyHostWrite(p, 2); }
  write32(p: number, v: number) { this.check(p, 4); this.dv.setUint32(A.RAM_BASE + p, v >>> 0, true); this.cpu.notifyHostWrite(p, 4); }

  // ---- interrupts ----
  /** Raise (level=true, with a vector) or lower the INTR line, as an 8259 would. */
  setIntr(level: boolean, vector = 0): void {
    this.st32(A.OFF_INTR_VECTOR, vector & 0xff);
    this.st32(A.OFF_INTR_LEVEL, level ? 1 : 0);
  }
  get intrPending(): boolean { return this.ld32(A.OFF_INTR_LEVEL) !== 0; }
  /** Halted by HLT (or after a shutdown); writable like KVM's MP state, e.g. to restart a halted CPU elsewhere. */
  get halted(): boolean { return this.ld32(A.OFF_HALTED) !== 0; }
  set halted(v: boolean) { this.st32(A.OFF_HALTED, v ? 1 : 0); }

  // ---- running ----
  get instructions(): number { return this.sw[A.OFF_INSTR_LO >>> 2] + this.sw[A.OFF_INSTR_HI >>> 2] * 4294967296; }
  /** What RDTSC and RDMSR 0x10 add to the instructions retired (abi.ts AREA_TSC_ADJUST; the run loop sets it so
   * that the TSC is the virtual clock: core/vm.ts syncTsc) */
  get tscAdjust(): number { return this.ld32(A.OFF_TSC_ADJUST_LO) + this.ld32(A.OFF_TSC_ADJUST_HI) * 2 ** 32; }
  set tscAdjust(v: number) { this.st32(A.OFF_TSC_ADJUST_LO, v >>> 0); this.st32(A.OFF_TSC_ADJUST_HI, Math.floor(v / 2 ** 32)); }

  /**
   * Run until an exit other than the budget, or until `maxInstructions` units of work are done (then reason
   * "budget"): an instruction retired is one unit (a REP unit of up to 4096 iterations too), so is an exception
   * delivered through the IDT (assembly/cpu.ts run()) — a fault loop cannot run forever.
   * Returns control to JS every SLICE instructions so V8 can tier the interpreter up.
   */
  run(maxInstructions = Infinity): Exit { return this.exit(this.runCode(maxInstructions)); }
  /**
   * run() for a run loop that handles each exit before the next run: the same exit, in objects this Machine reuses
   * (host/exit-reuse.ts) — valid until the next runReused; detachExit() copies one that must outlive it.
   */
  runReused(maxInstructions = Infinity): Exit {
    const code = this.runCode(maxInstructions);
    return (this.reused ??= new ReusedExits()).read(this.sw, code) ?? this.exit(code);
  }
  private reused: ReusedExits | null = null;
  private runCode(maxInstructions: number): number {
    const owner = this.pooled?.owner;
    if (owner) owner.compile = this.compileHook;
    try { return this.runSlices(maxInstructions); } finally { if (owner) owner.compile = notCompiling; }
  }
  private runSlices(maxInstructions: number): number {
    let left = maxInstructions;
    for (;;) {
      const slice = left < SLICE ? left : SLICE;
      const code = this.cpu.run(slice);
      if (this.u8.byteLength === 0) this.refreshViews(); // the CPU backed more RAM (assembly/ram-backing.ts)
      if (code !== A.EXIT_BUDGET) return code;
      // the slice is used up: instructions retired plus work that retired nothing (faults delivered)
      left -= slice;
      if (left <= 0) return code;
    }
  }
  /** Execute exactly one instruction (or stop at the exit it causes). */
  step(): Exit { return this.run(1); }

  /** Complete an IN / MMIO-read exit: the value is consumed when the instruction re-executes on the next run(). */
  completeIo(value: number): void {
    this.st32(A.OFF_EXIT_VALUE, value);
    this.st32(A.OFF_IO_COMPLETE, 1);
  }

  /** The last exit record. */
  exit(code = this.ld32(A.OFF_EXIT_REASON)): Exit {
    const eip = this.ld32(A.OFF_EXIT_EIP);
    const insnLength = this.ld32(A.OFF_EXIT_INSN_LEN);
    switch (code) {
      case A.EXIT_EXCEPTION: {
        const e: Exit = { reason: "exception", code, eip, vector: this.ld32(A.OFF_EXIT_VECTOR) };
        if (this.ld32(A.OFF_EXIT_HAS_ERROR)) e.errorCode = this.ld32(A.OFF_EXIT_ERROR);
        const insn = this.exitInsn();
        if (insn) {
          e.insn = insn;
          e.insnLength = insn.len;
          const k = this.ld32(A.OFF_EXIT_QUAL_KIND);
          if (k === A.QK_IO) e.io = this.ioQual();
          else if (k === A.QK_CR) e.cr = this.crQual();
          else if (k === A.QK_DR) e.dr = this.drQual();
        }
        return e;
      }
      case A.EXIT_SOFTINT: {
        // (the INT instruction itself: exitInsn() has it for a caller that wants it)
        return { reason: "softint", code, eip, vector: this.ld32(A.OFF_EXIT_VECTOR), insnLength };
      }
      case A.EXIT_HYPERCALL: return { reason: "hypercall", code, eip, insnLength: 3 };
      case A.EXIT_SENSITIVE: return { reason: "sensitive", code, eip, insn: this.exitInsn(), insnLength };
      case A.EXIT_HLT: return { reason: "hlt", code, eip, insnLength };
      case A.EXIT_IO_IN: return { reason: "io-in", code, eip, insnLength, ...this.ioQual() };
      case A.EXIT_IO_OUT: return { reason: "io-out", code, eip, insnLength, ...this.ioQual(), value: this.ld32(A.OFF_EXIT_VALUE) };
      case A.EXIT_MMIO_READ: case A.EXIT_MMIO_WRITE: {
        const address = this.ld32(A.OFF_EXIT_PORT), size = this.ld32(A.OFF_EXIT_SIZE);
        if (code === A.EXIT_MMIO_READ) return { reason: "mmio-read", code, eip, port: address, address, size, write: false, insnLength };
        return { reason: "mmio-write", code, eip, port: address, address, size, write: true, value: this.ld32(A.OFF_EXIT_VALUE), insnLength };
      }
      case A.EXIT_SHUTDOWN: return { reason: "shutdown", code, eip };
      case A.EXIT_INTR_WINDOW: return { reason: "intr-window", code, eip };
      case A.EXIT_DEBUG: return { reason: "debug", code, eip };
      case A.EXIT_VMEXIT: return { reason: "vmexit", code, eip, vmxReason: this.ld32(A.OFF_VMX_EXIT_REASON), qualification: this.ld32(A.OFF_VMX_EXIT_QUAL), insnLength: this.ld32(A.OFF_VMX_EXIT_INSN_LEN) };
      default: return { reason: "budget", code, eip };
    }
  }
  /** The instruction of the last exit as the CPU decoded it, if there is one (abi.ts OFF_EXIT_INSN). */
  exitInsn(): DecodedInsn | undefined {
    if (!this.ld32(A.OFF_EXIT_INSN + A.DEC_VALID)) return undefined;
    return this.readInsn(A.OFF_EXIT_INSN, this.ld32(A.OFF_EXIT_EIP));
  }
  private ioQual(): IoQualification { return readIoQual(this.sw, newIo()); }

  private crQual(): CrQualification {
    const q = this.ld32(A.OFF_EXIT_QUAL);
    const t = (q >> 4) & 3;
    const access = (["mov-to", "mov-from", "clts", "lmsw"] as const)[t];
    const c: CrQualification = { cr: q & 15, access, gpr: t === A.QCR_CLTS || (t === A.QCR_LMSW && q & A.QCR_LMSW_MEM) ? -1 : (q >> 8) & 15 };
    if (t === A.QCR_LMSW && !(q & A.QCR_LMSW_MEM)) c.lmswData = q >>> 16;
    return c;
  }
  private drQual(): DrQualification {
    const q = this.ld32(A.OFF_EXIT_QUAL);
    return { dr: q & 7, access: q & A.QDR_FROM ? "mov-from" : "mov-to", gpr: (q >> 8) & 15 };
  }

  // ---- vCPU state (the base of VM snapshot/restore) ----
  /**
   * A copy of the vCPU state: the first VCPU_STATE_SIZE bytes of the STATE block (layout in assembly/abi.ts,
   * ABI_VERSION): registers and segment caches, control/debug registers, the VMM's configuration, the INTR line
   * and MP state (halted), the events KVM_GET_VCPU_EVENTS would report (STI/MOV SS interrupt shadow, a pending
   * #DB trap) and the APIC base MSR, the counters (instructions retired = TSC), and any host exchange in flight
   * (the exit record, completed reads of an instruction being restarted, queued MMIO writes). Taken between
   * run() calls it is complete: with a copy of RAM a fresh Machine of the same memory size continues exactly
   * as this one would (loadState). Caches (TLB, predecoded and compiled blocks) and scratch are not in it.
   */
  saveState(): Uint8Array {
    return this.u8.slice(A.STATE_BASE, A.STATE_BASE + A.VCPU_STATE_SIZE);
  }
  /**
   * Replace the vCPU state with one from saveState (of this or another Machine with the same memory size) and
   * drop every cache built from the old state and RAM. Restore RAM with writeMem before or after. The JIT
   * threshold stays this machine's (compiled or interpreted, a guest retires the same instructions).
   */
  loadState(state: Uint8Array): void {
    if (!(state instanceof Uint8Array) || state.length !== A.VCPU_STATE_SIZE) {
      throw new RangeError(`wasmvisor: a vCPU state is ${A.VCPU_STATE_SIZE} bytes (ABI version ${A.ABI_VERSION})`);
    }
    const sv = new DataView(state.buffer, state.byteOffset, state.byteLength);
    const ram = sv.getUint32(A.OFF_RAM_SIZE, true);
    if (ram !== this.ramSize) {
      throw new RangeError(`wasmvisor: the vCPU state is of a machine with ${ram} bytes of RAM, this one has ${this.ramSize}`);
    }
    const jit = this.ld32(A.OFF_JIT_THRESHOLD);
    this.u8.set(state, A.STATE_BASE);
    this.st32(A.OFF_JIT_THRESHOLD, jit);
    this.cpu.stateLoaded();
  }
  /**
   * Which guest-physical pages may be non-zero (bit p & 7 of byte p >> 3), a copy; null when unknown (the host was
   * handed raw views of RAM). A page the CPU never saw written (by the guest, or the host through writeMem and
   * friends) since the machine was created is zero: a snapshot restore need not look at it.
   */
  writtenPages(): Uint8Array | null {
    if (this.rawViews || this.memoryShared) return null;
    return this.u8.slice(A.DIRTY_BASE, A.DIRTY_BASE + Math.ceil(this.ramSize / 4096 / 8));
  }
  /** Guest-physical RAM [0, end) as a view (no copy): for snapshots, which read or fill it whole. A restore passes the
   * end of what it writes: RAM past it is not backed (it reads as zero; the view detaches when the memory grows). */
  ramBytes(end = this.ramSize): Uint8Array {
    if (!Number.isInteger(end) || end < 0 || end > this.ramSize) throw new RangeError(`wasmvisor: ramBytes(${end}) is outside RAM (${this.ramSize} bytes)`);
    this.backRam(end); this.rawViews = true; endLease(this.lease);
    return this.u8.subarray(A.RAM_BASE, A.RAM_BASE + end);
  }
  /** After the host filled ramBytes() directly: drop predecoded code for all of it. */
  ramChanged(): void { this.cpu.notifyHostWrite(0, this.ramSize); }

  /** Flush the software TLB (after the host edits page tables or CR3 behind the CPU's back). */
  flushTlb(): void { this.cpu.flushTlb(); }
  /** Drop the TLB entries of one linear page (after the host edits one PTE), like INVLPG. */
  invlpg(linear: number): void { this.cpu.invlpg(linear >>> 0); }
  /** hw mode: the host's INVVPID (abi.ts INVVPID_* types) */
  invvpid(type: number, vpid: number, linear = 0): void { this.cpu.invvpid(type >>> 0, vpid >>> 0, linear >>> 0); }
}

/** (a switch, not an object literal per call: monitors read CR2/CR3 on every exit) */
function crOffset(name: CrName): number {
  switch (name) { case "cr0": return A.OFF_CR0; case "cr2": return A.OFF_CR2; case "cr3": return A.OFF_CR3; default: return A.OFF_CR4; }
}
