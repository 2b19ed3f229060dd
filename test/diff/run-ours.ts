// run-ours.ts — runs a case on the wasm CPU through the Machine API, with the same layout as the oracle:
// the code page at CODE_BASE filled with int3 around the instruction, the scratch pages at SCRATCH_BASE,
// CPL 3 flat segments with Linux's user selectors (cs 0x23, ds/es/ss 0x2b, fs/gs null).
import { Machine, REG_NAMES, SEG_NAMES, type MachineOptions } from "../../host/machine.ts";
import * as A from "../../host/abi.generated.ts";
import { CODE_BASE, CODE_SIZE, SCRATCH_BASE, SCRATCH_SIZE, scratchImage, type Case } from "./gen.ts";

export type OutcomeKind = "done" | "fault" | "softint" | "hang" | "exit" | "host-error";
export interface Outcome {
  kind: OutcomeKind;
  /** fault / softint vector */
  vector?: number;
  errorCode?: number;
  /** absolute EIP: the int3 filler reached (done), the faulting instruction (fault), the next instruction (softint) */
  eip: number;
  regs: number[];
  eflags: number;
  /** final scratch contents */
  mem: Uint8Array;
  /** segment selectors es cs ss ds fs gs */
  segs: number[];
  /** free text (exit reason name, host exception message) */
  note?: string;
}

export const OUR_RAM = 4 * 1024 * 1024;
/** A GDT laid out like Linux x86-64's (for a 32-bit process), so segment loads see the same descriptors. */
export const GDT_BASE = 0x0010_0000;
export const LINUX_GDT: [number, number][] = [ // [index, attr (descriptor bits 40..55 >> 8)]; base 0, limit 0xfffff
  [1, 0xc09b], // 0x08 KERNEL32_CS
  [2, 0xa09b], // 0x10 KERNEL_CS (64-bit)
  [3, 0xc093], // 0x18 KERNEL_DS
  [4, 0xc0fb], // 0x23 USER32_CS
  [5, 0xc0f3], // 0x2b USER_DS
  [6, 0xa0fb], // 0x33 USER_CS (64-bit)
];
function descriptor(attr: number): number[] {
  // limit 0xfffff, base 0: limit 15..0, base 15..0, base 23..16, access, flags|limit 19..16, base 31..24
  return [0xff, 0xff, 0, 0, 0, attr & 0xff, ((attr >> 8) & 0xf0) | 0x0f, 0];
}
const BUDGET = 4096;
/** es cs ss ds fs gs as Linux gives a 32-bit process (fs/gs null without TLS) */
export const DEFAULT_SEGS = [0x2b, 0x23, 0x2b, 0x2b, 0, 0];

export class OurCpu {
  m!: Machine;
  private img = new Uint8Array(SCRATCH_SIZE);
  private cc = new Uint8Array(CODE_SIZE).fill(0xcc);

  private dirtySegs = false;
  /** extra Machine options (e.g. { jitThreshold: 1 } to run every case through the block compiler) */
  constructor(private readonly extra: Partial<MachineOptions> = {}) { this.fresh(); }

  private resetSegs() {
    const m = this.m;
    for (const s of ["ss", "ds", "es"] as const) m.setSegment(s, { selector: 0x2b, base: 0, limit: 0xffffffff, attr: 0xc0f3 });
    for (const s of ["fs", "gs"] as const) m.setSegment(s, { selector: 0, base: 0, limit: 0, attr: 0 });
    this.dirtySegs = false;
  }

  fresh() {
    this.m = new Machine({ memSize: OUR_RAM, exceptionBitmap: 0xffffffff, exitOnSoftInt: true, ...this.extra });
    this.configure();
  }

  /**
   * Back to the power-on state without a new Machine (creating one costs tens of ms): the CPU's reset
   * export (not part of the Machine API), then the same configuration as fresh().
   */
  reset() {
    (this.m as unknown as { cpu: { reset(): void } }).cpu.reset();
    const dv = new DataView(this.m.memory.buffer);
    dv.setUint32(A.STATE_BASE + A.OFF_EXC_BITMAP, 0xffffffff, true);
    dv.setUint32(A.STATE_BASE + A.OFF_CTRL, A.CTRL_EXIT_SOFTINT, true);
    this.configure();
  }

  private configure() {
    const m = this.m;
    m.setFlatProtectedMode();
    // CPL 3, as the oracle's code runs under Linux
    m.setSegment("cs", { selector: 0x23, base: 0, limit: 0xffffffff, attr: 0xc0fb });
    for (const s of ["ss", "ds", "es"] as const) m.setSegment(s, { selector: 0x2b, base: 0, limit: 0xffffffff, attr: 0xc0f3 });
    for (const s of ["fs", "gs"] as const) m.setSegment(s, { selector: 0, base: 0, limit: 0, attr: 0 });
    const gdt = new Uint8Array(16 * 8);
    for (const [i, attr] of LINUX_GDT) gdt.set(descriptor(attr), i * 8);
    m.writeMem(GDT_BASE, gdt);
    m.setGdtr(GDT_BASE, gdt.length - 1);
    this.m = m;
  }

  run(c: Case): Outcome {
    const m = this.m;
    try {
      m.writeMem(CODE_BASE, this.cc);
      m.writeMem(CODE_BASE + c.codeOff, c.code);
      m.writeMem(SCRATCH_BASE, scratchImage(c, this.img));
      for (let i = 0; i < 8; i++) m.setReg(REG_NAMES[i], c.regs[i]);
      m.setReg("eflags", (c.eflags & 0xcd5) | 0x202);
      m.setReg("eip", CODE_BASE + c.codeOff);
      if (this.dirtySegs) this.resetSegs();
      const e = m.run(BUDGET);
      const regs = REG_NAMES.map((r) => m.getReg(r));
      const eflags = m.getReg("eflags");
      const mem = m.readMem(SCRATCH_BASE, SCRATCH_SIZE);
      const segs = SEG_NAMES.map((s) => m.getSegment(s).selector);
      this.dirtySegs = segs.some((v, i) => v !== DEFAULT_SEGS[i]);
      const base = { regs, eflags, mem, segs };
      const inInsn = (a: number) => a >= CODE_BASE + c.codeOff && a < CODE_BASE + c.codeOff + c.code.length;
      switch (e.reason) {
        case "softint": {
          const at = e.eip >>> 0;
          if (e.vector === 3 && !inInsn(at) && at >= CODE_BASE && at < CODE_BASE + CODE_SIZE && m.read8(at) === 0xcc) {
            return { kind: "done", eip: at, ...base };
          }
          return { kind: "softint", vector: e.vector, eip: m.getReg("eip"), ...base };
        }
        case "exception":
          return { kind: "fault", vector: e.vector, errorCode: e.errorCode, eip: e.eip >>> 0, ...base };
        case "budget":
          return { kind: "hang", eip: m.getReg("eip"), ...base, note: `no exit after ${BUDGET} instructions` };
        default:
          return { kind: "exit", eip: e.eip >>> 0, ...base, note: `exit ${e.reason}` };
      }
    } catch (err) {
      this.fresh();
      return { kind: "host-error", eip: 0, regs: [], eflags: 0, mem: new Uint8Array(0), segs: [], note: String((err as Error)?.stack ?? err) };
    }
  }
}
