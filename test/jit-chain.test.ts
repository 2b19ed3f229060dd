// jit-chain.test.ts — compiled regions (host/jit/region.ts): a hot block's compiled function goes on into the
// blocks after it in the same page (an unconditional jump, a call, the fall-through of a backward jcc) and loops
// back to its start, instead of returning to the CPU's chain loop at every block end. Every test compares the
// full architectural state with the interpreter's. Also the decoder's `cmp [m], r32` fast form (decoder.ts).
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine, JIT_THRESHOLD, JIT_RAISE_AFTER, JIT_THRESHOLD_RAISED } from "../host/machine.ts";
import * as A from "../host/abi.generated.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const haveCpu = existsSync(join(root, "build/cpu.wasm"));

describe.skipIf(!haveCpu)("decoder fast forms", () => {
  it("cmp [m], r32 (39 /r) is decoded as its fast form and gives the handler's flags", () => {
    const code = [
      0x39, 0x0b, //  cmp [ebx], ecx
      0x9c, //        pushf
      0xf4, //        hlt
    ];
    const cases: [number, number][] = [[5, 5], [3, 7], [0x80000000, 1], [7, 0xffffffff], [0x7fffffff, 0xffffffff]];
    for (const [mv, cv] of cases) {
      const m = new Machine({ memSize: 1 << 20, jitThreshold: 0, exitOnHlt: true });
      m.setFlatProtectedMode();
      m.writeMem(0x10000, code);
      m.writeMem(0x20000, new Uint8Array(new Uint32Array([mv]).buffer));
      m.eip = 0x10000; m.ebx = 0x20000; m.ecx = cv; m.esp = 0x8000;
      expect(m.run(100).reason).toBe("hlt");
      // the first block the CPU decoded is at the arena's base: its first record's fast form
      const dv = m.stateView;
      const rec = A.BLOCK_ARENA_BASE + A.BLK_HDR;
      expect(dv.getUint16(rec + A.REC_OP, true)).toBe(0x39);
      expect(dv.getUint8(rec + A.REC_FAST)).toBe(A.F_CMP_MR);
      const r = (mv - cv) >>> 0;
      const cf = mv >>> 0 < cv >>> 0 ? 1 : 0;
      const zf = r === 0 ? 0x40 : 0;
      const sf = r >>> 31 ? 0x80 : 0;
      const of = ((mv ^ cv) & (mv ^ r)) >>> 31 ? 0x800 : 0;
      const flags = m.readMem(0x8000 - 4, 4);
      const f = new DataView(flags.buffer, flags.byteOffset).getUint32(0, true);
      expect(f & 0x8c1).toBe(cf | zf | sf | of);
    }
  });
});

// ---- compiled regions: the same state as the interpreter at every slice boundary ----
const CODE = 0x10000, DATA = 0x14000, IDT = 0x15000, HANDLER = 0x10f00;
interface Run { state: number[][]; entries: number; compiled: number; chained: number }
/** Runs `code` at CODE in slices of `slice` instructions until HLT (at most `maxSlices`), with the JIT at `threshold`
 *  (0 = interpreter); `intrAt(k)` raises INTR vector 0x20 before slice k (its handler: inc esi; iret). */
function runSliced(code: number[], threshold: number, slice: number, init: (m: Machine) => void,
  intrAt: (k: number) => boolean = () => false, maxSlices = 1_000_000): Run {
  const m = new Machine({ memSize: 1 << 20, jitThreshold: threshold, exitOnHlt: true });
  m.setFlatProtectedMode();
  m.writeMem(CODE, code);
  m.writeMem(HANDLER, [0x46, 0xcf]); // inc esi; iret
  const gate = new DataView(new ArrayBuffer(8));
  gate.setUint16(0, HANDLER & 0xffff, true); gate.setUint16(2, 0x08, true); gate.setUint16(4, 0x8e00, true);
  gate.setUint16(6, HANDLER >>> 16, true);
  m.writeMem(IDT + 0x20 * 8, new Uint8Array(gate.buffer));
  m.setIdtr(IDT, 0x20 * 8 + 7);
  // GDT: null, flat code 0x08, flat data 0x10 (the interrupt gate's CS)
  m.writeMem(IDT + 0x800, [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0]);
  m.setGdtr(IDT + 0x800, 23);
  m.eip = CODE; m.esp = 0x8000; m.eflags = 0x202;
  init(m);
  const state: number[][] = [];
  for (let k = 0; k < maxSlices; k++) {
    if (intrAt(k)) m.setIntr(true, 0x20);
    const e = m.run(slice);
    const d = m.readMem(DATA, 16), c = m.readMem(CODE, 64);
    state.push([m.eax, m.ebx, m.ecx, m.edx, m.esi, m.edi, m.ebp, m.esp, m.eip, m.eflags, m.instructions,
      ...new Uint32Array(d.slice().buffer), ...new Uint32Array(c.slice().buffer)]);
    if (e.reason === "hlt") break;
    expect(e.reason).toBe("budget");
  }
  const s = m.jitStats;
  return { state, entries: s.entries, compiled: s.compiled, chained: 0 };
}
function same(code: number[], slice: number, init: (m: Machine) => void, intrAt?: (k: number) => boolean): Run {
  const interp = runSliced(code, 0, slice, init, intrAt);
  const jit = runSliced(code, 2, slice, init, intrAt);
  expect(jit.state.length).toBe(interp.state.length);
  for (let k = 0; k < interp.state.length; k++) expect(jit.state[k], `slice ${k} (budget ${slice})`).toEqual(interp.state[k]);
  expect(jit.compiled).toBeGreaterThan(0);
  return jit;
}

// a loop over two blocks (a jmp links them) and a call into a function of the same page
const LOOP = [
  0x01, 0xd8, //                       00 add eax, ebx
  0xeb, 0x03, //                       02 jmp 07
  0x90, 0x90, 0x90, //                 04 (skipped)
  0x31, 0xc3, //                       07 xor ebx, eax
  0x89, 0x1d, 0x00, 0x40, 0x01, 0x00, // 09 mov [0x14000], ebx
  0xe8, 0x0b, 0x00, 0x00, 0x00, //     0f call 1f
  0x49, //                             14 dec ecx
  0x75, 0xe9, //                       15 jnz 00
  0xeb, 0x0d, //                       17 jmp 26
  0x90, 0x90, 0x90, 0x90, 0x90, 0x90, // 19 (skipped)
  0xc1, 0xc0, 0x05, //                 1f rol eax, 5
  0x01, 0x05, 0x04, 0x40, 0x01, 0x00, // 22 add [0x14004], eax  (6 bytes: 22..27)
];
// (fix up: the add ends at 0x28; ret at 0x28, the jmp at 0x17 goes to 0x29)
LOOP.push(0xc3); //                     28 ret
LOOP[0x18] = 0x29 - 0x19; //            jmp 29
LOOP.push(0x8b, 0x15, 0x04, 0x40, 0x01, 0x00); // 29 mov edx, [0x14004]
LOOP.push(0xf4); //                     2f hlt

describe.skipIf(!haveCpu)("compiled regions give the interpreter's results", () => {
  const init = (n: number) => (m: Machine) => { m.eax = 1; m.ebx = 0x1234567; m.ecx = n; };

  it("a loop over several blocks and a call runs as few compiled entries, to the same state", () => {
    const jit = same(LOOP, 10_000_000, init(20_000));
    // without regions every pass enters 4 compiled blocks (the loop head, the code before the call, the callee, the
    // code after the call)
    // with the region the whole pass is one wasm loop (the callee's ret checked against its call's return address)
    expect(jit.entries).toBeLessThan(1_000);
  });

  it("a ret to another address than its call's return address leaves the region there", () => {
    const SKIP = [
      0x01, 0xd8, //                       00 add eax, ebx
      0xe8, 0x0a, 0x00, 0x00, 0x00, //     02 call 11
      0x43, 0x43, //                       07 inc ebx; inc ebx  (skipped when the callee returns 2 bytes further)
      0x49, //                             09 dec ecx
      0x75, 0xf4, //                       0a jnz 00
      0xf4, //                             0c hlt
      0x90, 0x90, 0x90, 0x90, //           0d
      0x5a, //                             11 pop edx
      0xf6, 0xc1, 0x01, //                 12 test cl, 1
      0x74, 0x03, //                       15 jz 1a
      0x83, 0xc2, 0x02, //                 17 add edx, 2
      0x52, //                             1a push edx
      0xc3, //                             1b ret
    ];
    for (const slice of [4, 9, 1_000_000]) same(SKIP, slice, init(3_000));
  });

  it("the same state at every budget boundary when the budget ends inside a chain", () => {
    for (const slice of [1, 2, 3, 5, 7, 11, 13, 64]) same(LOOP, slice, init(300));
  });

  it("an interrupt arriving while a chained loop runs is taken at the same instruction", () => {
    for (const slice of [5, 37, 1000]) same(LOOP, slice, init(3_000), (k) => k % 3 === 2);
  });

  it("a loop that patches an instruction of its own region (self-modifying code) sees every patch", () => {
    const SMC = [
      0x01, 0xd8, //                       00 add eax, ebx
      0xeb, 0x03, //                       02 jmp 07
      0x90, 0x90, 0x90, //                 04
      0xf6, 0xc1, 0x3f, //                 07 test cl, 63
      0x75, 0x06, //                       0a jnz 12 (patch every 64th pass)
      0x89, 0x0d, 0x13, 0x00, 0x01, 0x00, // 0c mov [0x10013], ecx  (the imm32 of the mov at 12)
      0xbf, 0x00, 0x00, 0x00, 0x00, //     12 mov edi, 0
      0x01, 0xfe, //                       17 add esi, edi
      0x49, //                             19 dec ecx
      0x75, 0xe4, //                       1a jnz 00
      0xf4, //                             1c hlt
    ];
    for (const slice of [3, 100_000]) {
      const jit = same(SMC, slice, init(5_000));
      // esi = the sum over the passes of the immediate the last patch wrote
      let esi = 0, imm = 0;
      for (let c = 5_000; c > 0; c--) { if ((c & 63) === 0) imm = c; esi = (esi + imm) >>> 0; }
      expect(jit.state[jit.state.length - 1][4]).toBe(esi);
    }
  });
});

describe.skipIf(!haveCpu)("the default JIT threshold", () => {
  it("is raised once a machine compiled JIT_RAISE_AFTER new modules, and stays where the user set it", () => {
    // 1,100 distinct blocks (add eax, imm32 ; cld (a handler record: no region) ; jmp +0), run 300 times
    const n = 1_100, code: number[] = [];
    for (let i = 0; i < n; i++) code.push(0x05, i & 0xff, (i >> 8) & 0xff, 0x5a, 0xa5, 0xfc, 0xeb, 0x00);
    code.push(0x49, 0x0f, 0x85); // dec ecx ; jnz rel32 (to the start)
    const rel = -(code.length + 4);
    code.push(rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >>> 24) & 0xff, 0xf4); // ; hlt
    const threshold = (jitThreshold?: number) => {
      const m = new Machine({ memSize: 1 << 20, exitOnHlt: true, ...(jitThreshold ? { jitThreshold } : {}) });
      m.setFlatProtectedMode();
      m.writeMem(0x10000, code);
      m.eip = 0x10000; m.ecx = 300; m.esp = 0x8000;
      const t0 = m.stateView.getUint32(A.STATE_BASE + A.OFF_JIT_THRESHOLD, true);
      expect(m.run(100_000_000).reason).toBe("hlt");
      expect(m.eax).toBe((300 * (n * (n - 1) / 2 + n * 0xa55a0000)) >>> 0);
      return [t0, m.stateView.getUint32(A.STATE_BASE + A.OFF_JIT_THRESHOLD, true), m.jitStats.compiled];
    };
    const [t0, t1, compiled] = threshold();
    expect([t0, t1]).toEqual([JIT_THRESHOLD, JIT_THRESHOLD_RAISED]);
    expect(compiled).toBeGreaterThanOrEqual(JIT_RAISE_AFTER);
    expect(threshold(256).slice(0, 2)).toEqual([256, 256]);
  });
});
