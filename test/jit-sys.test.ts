// jit-sys.test.ts — PUSHF, POPF, CLI and STI compiled inline (host/jit/emit-sys.ts) and regions that go on past them
// and into blocks of other pages (host/jit/region.ts). Every test compares the full architectural state (registers,
// EFLAGS, EIP, instruction count, data and code bytes) of the compiled run with the interpreter's after every slice.
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine } from "../host/machine.ts";
import { DebugUnit } from "../host/gdb/unit.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const haveCpu = existsSync(join(root, "build/cpu.wasm"));

const CODE = 0x10000, FAR = 0x11000, DATA = 0x14000, IDT = 0x15000, HANDLER = 0x10f00, DB_HANDLER = 0x10f10;
interface Opts {
  /** run at CPL 3 (code 0x1b, data 0x23) with this IOPL; default CPL 0 */
  cpl3Iopl?: number;
  /** EFLAGS at the start (default IF) */
  eflags?: number;
  /** code at FAR (another page) */
  far?: number[];
  /** raise INTR vector 0x20 before slice k (its handler: inc esi; mov [DATA + 8], ebx; iret) */
  intrAt?: (k: number) => boolean;
  /** the full mode hooks (OFF_CTRL bits) */
  sensitive?: number;
  /** change the machine before slice k (both runs alike) */
  before?: (m: Machine, k: number) => void;
}
interface Run { state: number[][]; exits: string[]; entries: number; compiled: number }

function runSliced(code: number[], threshold: number, slice: number, init: (m: Machine) => void, o: Opts = {}): Run {
  const m = new Machine({ memSize: 1 << 20, jitThreshold: threshold, exitOnHlt: true, exceptionBitmap: 1 << 13 });
  m.setFlatProtectedMode();
  m.writeMem(CODE, code);
  if (o.far) m.writeMem(FAR, o.far);
  m.writeMem(HANDLER, [0x46, 0x89, 0x1d, 0x08, 0x40, 0x01, 0x00, 0xcf]); // inc esi; mov [0x14008], ebx; iret
  m.writeMem(DB_HANDLER, [0x47, 0x81, 0x64, 0x24, 0x08, 0xff, 0xfe, 0xff, 0xff, 0xcf]); // inc edi; and dword [esp+8], ~TF; iret
  const gate = (vec: number, h: number) => {
    const g = new DataView(new ArrayBuffer(8));
    g.setUint16(0, h & 0xffff, true); g.setUint16(2, 0x08, true); g.setUint16(4, 0x8e00, true); g.setUint16(6, h >>> 16, true);
    m.writeMem(IDT + vec * 8, new Uint8Array(g.buffer));
  };
  gate(0x20, HANDLER); gate(1, DB_HANDLER);
  m.setIdtr(IDT, 0x20 * 8 + 7);
  // GDT: null, flat code 0x08, flat data 0x10, ring-3 code 0x18, ring-3 data 0x20
  m.writeMem(IDT + 0x800, [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0,
    0xff, 0xff, 0, 0, 0, 0xfb, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0xf3, 0xcf, 0]);
  m.setGdtr(IDT + 0x800, 39);
  m.eip = CODE; m.esp = 0x8000; m.eflags = o.eflags ?? 0x202;
  if (o.cpl3Iopl !== undefined) {
    m.setSegment("cs", { selector: 0x1b, base: 0, limit: 0xffffffff, attr: 0xc0fb });
    for (const s of ["ss", "ds", "es", "fs", "gs"] as const) m.setSegment(s, { selector: 0x23, base: 0, limit: 0xffffffff, attr: 0xc0f3 });
    m.eflags = (m.eflags & ~0x3000) | (o.cpl3Iopl << 12);
  }
  if (o.sensitive) m.sensitiveExits = o.sensitive;
  init(m);
  const state: number[][] = [], exits: string[] = [];
  for (let k = 0; k < 1_000_000; k++) {
    o.before?.(m, k);
    if (o.intrAt?.(k)) m.setIntr(true, 0x20);
    const e = m.run(slice);
    const d = m.readMem(DATA, 16), c = m.readMem(CODE, 64), f = m.readMem(FAR, 32);
    state.push([m.eax, m.ebx, m.ecx, m.edx, m.esi, m.edi, m.ebp, m.esp, m.eip, m.eflags, m.instructions, m.intrPending ? 1 : 0,
      ...new Uint32Array(d.slice().buffer), ...new Uint32Array(c.slice().buffer), ...new Uint32Array(f.slice().buffer)]);
    exits.push(e.reason + (e.reason === "exception" ? `:${e.vector}@${e.eip.toString(16)}` : ""));
    if (e.reason === "hlt" || e.reason === "exception") break;
    if (e.reason === "sensitive") { // (the monitor's part: step over the instruction, as if emulated)
      m.eip = (m.eip + (e.insnLength ?? 1)) >>> 0;
      continue;
    }
    expect(e.reason).toBe("budget");
  }
  const s = m.jitStats;
  return { state, exits, entries: s.entries, compiled: s.compiled };
}
function same(code: number[], slice: number, init: (m: Machine) => void, o: Opts = {}): Run {
  const interp = runSliced(code, 0, slice, init, o);
  const jit = runSliced(code, 2, slice, init, o);
  expect(jit.exits).toEqual(interp.exits);
  expect(jit.state.length).toBe(interp.state.length);
  const k = interp.state.findIndex((s, j) => s.some((v, x) => v !== jit.state[j][x])); // (one expect: thousands are slow)
  if (k >= 0) expect(jit.state[k], `slice ${k} (budget ${slice})`).toEqual(interp.state[k]);
  expect(jit.compiled).toBeGreaterThan(0);
  return jit;
}

// pushf after lazy flags of several kinds, cli/sti (ending their blocks), popf of a value that changes the status
// flags, DF, NT, AC, ID, IOPL and IF (TF stays clear), sti again
const SYS = [
  0x01, 0xd8, //                             00 add eax, ebx
  0x9c, //                                   02 pushf
  0x5a, //                                   03 pop edx
  0x01, 0xd6, //                             04 add esi, edx
  0xfa, //                                   06 cli
  0x9c, //                                   07 pushf
  0x5a, //                                   08 pop edx
  0x31, 0xd7, //                             09 xor edi, edx
  0xfb, //                                   0b sti
  0xc1, 0xc3, 0x03, //                       0c rol ebx, 3
  0x53, //                                   0f push ebx
  0x81, 0x24, 0x24, 0xd5, 0x7e, 0x24, 0x00, // 10 and dword [esp], 0x247ed5
  0x9d, //                                   17 popf
  0x9c, //                                   18 pushf
  0x5a, //                                   19 pop edx
  0x01, 0xd5, //                             1a add ebp, edx
  0xfb, //                                   1c sti
  0x49, //                                   1d dec ecx
  0x75, 0xe0, //                             1e jnz 00
  0xf4, //                                   20 hlt
];
const init = (n: number) => (m: Machine) => { m.eax = 0x9e3779b9; m.ebx = 0x7f4a7c15; m.ecx = n; };

describe.skipIf(!haveCpu)("pushf, popf, cli, sti in compiled code", () => {
  it("a loop through pushf/cli/sti/popf runs as one compiled region, to the interpreter's state", () => {
    const jit = same(SYS, 10_000_000, init(20_000));
    // without the inline forms every pass enters 4 compiled blocks (cli, sti, popf and sti end their blocks, and a
    // block with a handler record is compiled alone): 80,000 entries
    expect(jit.entries).toBeLessThan(1_000);
  });

  it("the same state at every budget boundary, the budget ending after each instruction", () => {
    for (const slice of [1, 2, 3, 5, 7, 11, 13, 31, 64]) same(SYS, slice, init(100));
  });

  it("an interrupt raised between slices is taken at the interpreter's instruction (IF, the STI shadow)", () => {
    // slices of every length end right after an sti at some point, with the shadow set; the next slice raises INTR
    // (not 1: an interrupt every other slice of one instruction leaves the loop no instruction of its own)
    for (const slice of [2, 3, 4, 5, 7, 17, 100]) {
      const jit = same(SYS, slice, init(120), { intrAt: (k) => k % 2 === 1 });
      expect(jit.state.at(-1)![4]).not.toBe(0); // (esi: the handler ran)
    }
  });

  it("an STI at the end of a slice leaves its shadow: the interrupt comes after the next instruction", () => {
    // IF clear; the loop: sti; inc ebx; cli; ... — a slice ending right after sti, then INTR
    const code = [
      0xfb, //       00 sti
      0x43, //       01 inc ebx
      0xfa, //       02 cli
      0x49, //       03 dec ecx
      0x75, 0xfa, // 04 jnz 00
      0xf4, //       06 hlt
    ];
    // (slices of 1 run no compiled code, and with INTR every third one the handler leaves the loop almost nothing)
    for (const slice of [2, 4, 5, 9, 13]) {
      const jit = same(code, slice, (m) => { m.ecx = 600; }, { eflags: 0x002, intrAt: (k) => k > 10 && k % 3 === 0 });
      expect(jit.state.at(-1)![4]).toBeGreaterThan(0); // (interrupts were taken)
    }
  });

  it("popf setting TF traps after the next instruction, as the interpreter", () => {
    const code = [
      0x68, 0x02, 0x03, 0x00, 0x00, // 00 push 0x302 (IF | TF)
      0x9d, //                       05 popf
      0x43, //                       06 inc ebx         (#DB after it: the handler clears TF)
      0x43, //                       07 inc ebx
      0x49, //                       08 dec ecx
      0x75, 0xf5, //                 09 jnz 00
      0xf4, //                       0b hlt
    ];
    for (const slice of [1, 3, 1000]) {
      const jit = same(code, slice, (m) => { m.ecx = 500; });
      expect(jit.state.at(-1)![5]).toBe(500); // edi: one #DB per pass
    }
  });

  it("at CPL 3 with IOPL 3 cli/sti run inline; popf leaves IOPL alone", () => {
    const jit = same(SYS, 1_000_000, init(5_000), { cpl3Iopl: 3 });
    expect(jit.entries).toBeLessThan(500);
    expect(jit.state.at(-1)![9] & 0x3000).toBe(0x3000);
  });

  it("at CPL 3 with IOPL 0 cli faults (#GP) at the interpreter's instruction, also in compiled code", () => {
    // IOPL 3 while the loop gets compiled, then the host clears IOPL: the compiled cli checks it at run time
    for (const slice of [3, 50]) {
      const jit = same(SYS, slice, init(5_000), { cpl3Iopl: 3, before: (m, k) => { if (k === 40) m.eflags &= ~0x3000; } });
      expect(jit.exits.at(-1)).toMatch(/^exception:13@1000(6|b)$/); // (cli or sti, where the slice left it)
      expect(jit.entries).toBeGreaterThan(0);
    }
    // popf at CPL 3, IOPL 0: IF and IOPL stay (the loop without cli/sti)
    const code = [
      0x53, //                                   00 push ebx
      0x81, 0x24, 0x24, 0xd5, 0x7e, 0x24, 0x00, // 01 and dword [esp], 0x247ed5
      0x9d, //                                   08 popf
      0x9c, //                                   09 pushf
      0x5a, //                                   0a pop edx
      0x01, 0xd5, //                             0b add ebp, edx
      0xc1, 0xc3, 0x05, //                       0d rol ebx, 5
      0x49, //                                   10 dec ecx
      0x75, 0xed, //                             11 jnz 00
      0xfa, //                                   13 cli (#GP at CPL 3, IOPL 0)
    ];
    const jit = same(code, 1_000_000, init(3_000), { cpl3Iopl: 0 });
    expect(jit.exits.at(-1)).toBe(`exception:13@${(CODE + 0x13).toString(16)}`);
    expect(jit.state.at(-1)![9] & 0x3200).toBe(0x200);
    expect(jit.entries).toBeLessThan(100);
  });

  it("full mode's hooks still take them: CTRL_EXIT_SENSITIVE exits at pushf/popf", () => {
    for (const slice of [1, 1_000_000]) {
      const jit = same(SYS, slice, init(300), { sensitive: 0x100 }); // CTRL_EXIT_SENSITIVE
      expect(jit.exits.filter((x) => x === "sensitive").length).toBe(4 * 300); // (3 pushf, 1 popf per pass)
    }
  });
});

// a loop in one page calling a function in the next page that runs pushcli/popcli's pattern and returns
const CALLER = [
  0x01, 0xd8, //                       00 add eax, ebx
  0xe8, 0xf9, 0x0f, 0x00, 0x00, //     02 call 0x11000
  0x31, 0xc3, //                       07 xor ebx, eax
  0x49, //                             09 dec ecx
  0x75, 0xf4, //                       0a jnz 00
  0xf4, //                             0c hlt
];
const CALLEE = [
  0x29, 0xc2, //             00 sub edx, eax    (pushf materializes a sub's flags)
  0x9c, //                   02 pushf
  0x5a, //                   03 pop edx
  0xfa, //                   04 cli
  0x01, 0xd6, //             05 add esi, edx
  0xbf, 0x05, 0, 0, 0, //    07 mov edi, 5      (its immediate patched from outside)
  0x01, 0xfd, //             0c add ebp, edi
  0xfb, //                   0e sti
  0xc3, //                   0f ret
];

describe.skipIf(!haveCpu)("regions into another page", () => {
  it("a call into another page and its return run inside one region, to the interpreter's state", () => {
    const jit = same(CALLER, 10_000_000, init(20_000), { far: CALLEE });
    // without regions across pages: 3 entries per pass (the caller, the callee after cli, the return site)
    expect(jit.entries).toBeLessThan(1_000);
    for (const slice of [3, 5, 8, 13]) same(CALLER, slice, init(100), { far: CALLEE, intrAt: (k) => k % 3 === 1 });
  });

  it("a write to the other page's code between slices is seen (its generation is checked)", () => {
    const patch = (m: Machine, k: number) => { if (k % 4 === 3) m.writeMem(FAR + 8, [k & 0xff]); };
    for (const slice of [7, 997]) {
      const jit = same(CALLER, slice, init(3_000), { far: CALLEE, before: patch });
      expect(jit.state.at(-1)![5]).not.toBe(5); // (edi: the immediate of a patch)
    }
  });

  it("stays in its first page while the debugger is armed (a breakpoint in the other page is hit)", () => {
    const bp = (threshold: number) => {
      const m = new Machine({ memSize: 1 << 20, jitThreshold: threshold, exitOnHlt: true });
      m.setFlatProtectedMode();
      m.writeMem(CODE, CALLER); m.writeMem(FAR, CALLEE);
      m.eip = CODE; m.esp = 0x8000; m.eflags = 0x202; m.ecx = 5_000; m.ebx = 3;
      expect(m.run(200_000).reason).toBe("hlt"); // compiled (or interpreted) to the end once
      m.eip = CODE; m.ecx = 5_000; m.halted = false;
      new DebugUnit(m).addBreakpoint(FAR + 0x0e); // the sti
      const e = m.run(10_000_000);
      expect(e.reason).toBe("debug");
      return [e.reason, m.eip, m.instructions, m.ecx, m.esi, m.ebp];
    };
    expect(bp(2)).toEqual(bp(0));
  });
});
