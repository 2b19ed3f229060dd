// machine.ts — the typed Node API over the wasm CPU, in the spirit of Unicorn's:
// create a machine, read/write registers and guest memory, run for N instructions or until an exit,
// read the exit. Everything goes through the kvm_run-like state block defined in assembly/abi.ts.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import * as A from "./abi.generated.ts";
import { BlockCompiler, JIT_HELPERS } from "./jit/compiler.ts";

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

export const EXIT_NAMES = [
  "budget", "hlt", "io-in", "io-out", "mmio-read", "mmio-write",
  "exception", "softint", "shutdown", "hypercall", "intr-window", "debug",
] as const;
export type ExitName = (typeof EXIT_NAMES)[number];

export interface Exit {
  reason: ExitName;
  /** numeric exit code (A.EXIT_*) */
  code: number;
  /** EIP of the instruction that caused the exit */
  eip: number;
  /** exception / interrupt vector (exception, softint) */
  vector?: number;
  errorCode?: number;
  /** I/O port or MMIO physical address */
  port?: number;
  size?: number;
  /** value written (io-out, mmio-write) */
  value?: number;
  insnLength?: number;
}

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
   * Default 256 (a block must be clearly hot before compiling it, ~0.1 ms, pays off).
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

let cachedModule: WebAssembly.Module | null = null;
export function cpuModule(): WebAssembly.Module {
  if (!cachedModule) {
    const here = dirname(fileURLToPath(import.meta.url));
    // host/ in the source tree, dist/ when bundled: build/ sits beside both.
    const candidates = [join(here, "../build/cpu.wasm"), join(here, "build/cpu.wasm")];
    let bytes: Buffer | null = null;
    for (const c of candidates) {
      try { bytes = readFileSync(c); break; } catch { /* try the next */ }
    }
    if (!bytes) throw new Error("wasmvisor: build/cpu.wasm not found (run `npm run build:wasm`)");
    cachedModule = new WebAssembly.Module(new Uint8Array(bytes));
  }
  return cachedModule;
}

interface CpuExports {
  table: WebAssembly.Table;
  run(budget: number): number;
  reset(): void;
  flushTlb(): void;
  invlpg(lin: number): void;
  notifyHostWrite(paddr: number, len: number): void;
}

export class Machine {
  readonly memory: WebAssembly.Memory;
  readonly ramSize: number;
  private readonly cpu: CpuExports;
  private u8: Uint8Array;
  private dv: DataView;

  constructor(opts: MachineOptions = {}) {
    const ram = opts.memSize ?? 64 * 1024 * 1024;
    if (!Number.isInteger(ram) || ram < 4096 || ram % 4096 !== 0 || ram > A.MAX_RAM_SIZE) {
      throw new RangeError(`wasmvisor: memory size must be a multiple of 4 KiB between 4 KiB and ${A.MAX_RAM_SIZE} bytes`);
    }
    const pages = Math.ceil((A.RAM_BASE + ram) / 65536);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const inst = new WebAssembly.Instance(cpuModule(), {
      env: {
        memory: this.memory,
        jitCompile: (block: number) => this.jitCompile(block),
        abort: (_m: number, _f: number, line: number, col: number) => {
          throw new Error(`wasmvisor: CPU abort at ${line}:${col}`);
        },
      },
    });
    this.cpu = inst.exports as unknown as CpuExports;
    this.ramSize = ram;
    this.u8 = new Uint8Array(this.memory.buffer);
    this.dv = new DataView(this.memory.buffer);
    this.st32(A.OFF_RAM_SIZE, ram);
    this.cpu.reset();
    this.st32(A.OFF_EXC_BITMAP, opts.exceptionBitmap ?? 0);
    this.st32(A.OFF_CTRL, (opts.exitOnSoftInt ? A.CTRL_EXIT_SOFTINT : 0) | (opts.exitOnHlt ? A.CTRL_EXIT_HLT : 0));
    if (opts.hypervisorSignature !== undefined) this.setHypervisor(opts.hypervisorSignature);
    this.st32(A.OFF_JIT_THRESHOLD, opts.jitThreshold ?? 256);
  }

  // ---- the block compiler (called by the CPU when a block gets hot) ----
  private jit: BlockCompiler | null = null;
  private jitImports: Record<string, unknown> | null = null;
  private jitCompile(block: number): number {
    if (!this.jit) {
      this.jit = new BlockCompiler(() => this.dv);
      const x = this.cpu as unknown as Record<string, unknown>;
      this.jitImports = { memory: this.memory };
      for (const k of JIT_HELPERS) this.jitImports[k] = x[k];
    }
    const bytes = this.jit.compile(block);
    if (!bytes) return 0;
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: this.jitImports as WebAssembly.ModuleImports });
    const t = this.cpu.table;
    const idx = t.length;
    t.grow(1);
    t.set(idx, inst.exports.f as WebAssembly.ExportValue as never);
    return idx;
  }
  /** blocks compiled to wasm and calls into them */
  get jitStats() { return { compiled: this.ld32(A.OFF_JIT_COMPILED), entries: this.ld32(A.OFF_JIT_ENTRIES) }; }

  /** Platform CPUID additions: `apic` sets CPUID.1:EDX bit 9 (the host emulates a local APIC). */
  setCpuidFeatures(f: { apic?: boolean }): void { this.st32(A.OFF_CPUID_EDX_EXTRA, f.apic ? 1 << 9 : 0); }

  /** Announce a hypervisor (see MachineOptions.hypervisorSignature); null removes it. */
  setHypervisor(signature: string | null, maxLeaf = 0x40000001): void {
    const ctrl = this.ld32(A.OFF_CTRL) & ~A.CTRL_HYPERCALL;
    if (signature === null) { this.st32(A.OFF_CTRL, ctrl); return; }
    if (signature.length !== 12) throw new RangeError("wasmvisor: a hypervisor signature has 12 characters");
    const b = Buffer.from(signature, "latin1");
    this.st32(A.OFF_HV_SIGNATURE, maxLeaf);
    for (let i = 0; i < 3; i++) this.st32(A.OFF_HV_SIGNATURE + 4 + 4 * i, b.readUInt32LE(4 * i));
    this.st32(A.OFF_CTRL, ctrl | A.CTRL_HYPERCALL);
  }

  // ---- raw state block access ----
  private ld32(off: number): number { return this.dv.getUint32(A.STATE_BASE + off, true); }
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
    return this.ld32({ cr0: A.OFF_CR0, cr2: A.OFF_CR2, cr3: A.OFF_CR3, cr4: A.OFF_CR4 }[name]);
  }
  setCr(name: CrName, v: number): void {
    this.st32({ cr0: A.OFF_CR0, cr2: A.OFF_CR2, cr3: A.OFF_CR3, cr4: A.OFF_CR4 }[name], v);
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
    if (!Number.isInteger(paddr) || !Number.isInteger(len) || paddr < 0 || len < 0 || paddr + len > this.ramSize) {
      throw new RangeError(`wasmvisor: guest physical range 0x${paddr.toString(16)}+${len} is outside RAM (${this.ramSize} bytes)`);
    }
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
  get instructions(): number { return this.ld32(A.OFF_INSTR_LO) + this.ld32(A.OFF_INSTR_HI) * 2 ** 32; }

  /**
   * Run until an exit other than the budget, or until `maxInstructions` have retired (then reason "budget").
   * Returns control to JS every SLICE instructions so V8 can tier the interpreter up.
   */
  run(maxInstructions = Infinity): Exit {
    let left = maxInstructions;
    for (;;) {
      const slice = left < SLICE ? left : SLICE;
      const before = this.instructions;
      const code = this.cpu.run(slice);
      if (code !== A.EXIT_BUDGET) return this.exit(code);
      left -= this.instructions - before;
      if (left <= 0) return this.exit(code);
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
    const e: Exit = { reason: EXIT_NAMES[code] ?? "budget", code, eip: this.ld32(A.OFF_EXIT_EIP) };
    switch (code) {
      case A.EXIT_EXCEPTION: case A.EXIT_SOFTINT:
        e.vector = this.ld32(A.OFF_EXIT_VECTOR);
        if (this.ld32(A.OFF_EXIT_HAS_ERROR)) e.errorCode = this.ld32(A.OFF_EXIT_ERROR);
        break;
      case A.EXIT_HYPERCALL:
        e.insnLength = 3;
        break;
      case A.EXIT_IO_IN: case A.EXIT_IO_OUT: case A.EXIT_MMIO_READ: case A.EXIT_MMIO_WRITE:
        e.port = this.ld32(A.OFF_EXIT_PORT);
        e.size = this.ld32(A.OFF_EXIT_SIZE);
        if (code === A.EXIT_IO_OUT || code === A.EXIT_MMIO_WRITE) e.value = this.ld32(A.OFF_EXIT_VALUE);
        e.insnLength = this.ld32(A.OFF_EXIT_INSN_LEN);
        break;
    }
    return e;
  }

  /** Flush the software TLB (after the host edits page tables or CR3 behind the CPU's back). */
  flushTlb(): void { this.cpu.flushTlb(); }
  /** Drop the TLB entries of one linear page (after the host edits one PTE), like INVLPG. */
  invlpg(linear: number): void { this.cpu.invlpg(linear >>> 0); }
}
