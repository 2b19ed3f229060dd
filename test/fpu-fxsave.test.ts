// fpu-fxsave.test.ts — FXSAVE/FXRSTOR (assembly/fpu/fxsave.ts) and CPUID.1 EDX.FXSR:
//  1. raw instruction bytes on the wasm CPU (CPL 0): the 512-byte image's layout, the round trip, #GP for an operand
//     that is not 16-byte aligned, #NM for CR0.TS and CR0.EM, #UD for the 0F AE forms of the unreported SSE/CLFLUSH,
//     FXRSTOR's MXCSR check, CR4.OSFXSR;
//  2. the recorded real-CPU corpus (fixtures/fpu-cases/fxsave.bin.gz, `node scripts/diff.mjs fx-record`) and a live
//     batch on the oracle this host runs (`node scripts/diff.mjs fx`): the x87 part of the image byte for byte.
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Machine } from "../host/machine.ts";
import { readCorpus, runOracleAny, oracleAvailable, ROOT } from "./diff/oracle.ts";
import { checkCases } from "./diff/harness.ts";
import { stableResults, mapX64FpuResult } from "./diff/fpu-gen.ts";
import { genFxCases, FX_CORPUS_FILE } from "./diff/fpu-fx-gen.ts";
import type { Case } from "./diff/gen.ts";

const haveCpu = existsSync(join(ROOT, "build/cpu.wasm"));
const oracle = oracleAvailable();
const CODE = 0x1000, DATA = 0x3000, IMG = 0x3400;

function flat(code: number[]) {
  const m = new Machine({ memSize: 1 << 20, exitOnHlt: true, exceptionBitmap: 0xffffffff });
  m.setFlatProtectedMode();
  m.esp = 0x8000;
  m.writeMem(CODE, [0xdb, 0xe3, ...code, 0xf4]); // fninit first
  m.writeMem(IMG, new Array(512).fill(0xaa));
  m.eip = CODE;
  return m;
}
const u16 = (b: number[], o: number) => b[o] | (b[o + 1] << 8);
const u32 = (b: number[], o: number) => (u16(b, o) | (u16(b, o + 2) << 16)) >>> 0;
const hex = (b: number[]) => Buffer.from(b).toString("hex");
const FXSAVE = (a: number) => [0x0f, 0xae, 0x05, a & 0xff, a >> 8, 0, 0];   // fxsave [a]
const FXRSTOR = (a: number) => [0x0f, 0xae, 0x0d, a & 0xff, a >> 8, 0, 0];  // fxrstor [a]
const FLDCW = [0xd9, 0x2d, DATA & 0xff, DATA >> 8, 0, 0];                    // fldcw [DATA]

describe.skipIf(!haveCpu)("FXSAVE / FXRSTOR", () => {
  it("CPUID.1 EDX reports FXSR (bit 24) and neither MMX (23) nor SSE/SSE2 (25, 26)", () => {
    const m = flat([0x0f, 0xa2]); // cpuid
    m.eax = 1;
    m.run(10);
    expect((m.edx >>> 24) & 1).toBe(1);
    expect((m.edx >>> 23) & 0b1101).toBe(0);
  });

  it("the image: FCW, FSW, abridged tags, MXCSR 0x1F80 and its mask, ST(i) in 16-byte slots; the XMM area untouched", () => {
    const m = flat([...FLDCW, 0xd9, 0xeb, 0xd9, 0xe8, ...FXSAVE(IMG)]); // fldcw; fldpi; fld1; fxsave [IMG]
    m.writeMem(DATA, [0x7f, 0x02]);
    expect(m.run(20).reason).toBe("hlt");
    const b = [...m.readMem(IMG, 512)];
    expect(u16(b, 0)).toBe(0x027f);          // FCW
    expect(u16(b, 2)).toBe(0x3000);          // FSW: TOP 6
    expect(b[4]).toBe(0xc0);                 // abridged tag: physical registers 6 and 7 in use
    expect(b[5]).toBe(0);
    // no exception pending: the pointers are stored as zeros (this AMD CPU's FXSAVE; Intel's stores them)
    expect([u16(b, 6), u32(b, 8), u32(b, 12), u32(b, 16), u32(b, 20)]).toEqual([0, 0, 0, 0, 0]);
    expect([u32(b, 24), u32(b, 28)]).toEqual([0x1f80, 0xffbf]); // MXCSR, MXCSR_MASK
    expect(hex(b.slice(32, 48))).toBe("0000000000000080ff3f000000000000"); // ST(0) = 1.0
    expect(hex(b.slice(48, 64))).toBe("35c26821a2da0fc90040000000000000"); // ST(1) = pi
    expect(b.slice(64, 160).every((x) => x === 0)).toBe(true);          // empty registers: +0 slots
    expect(b.slice(160).every((x) => x === 0xaa)).toBe(true);           // no XMM registers: not written
  });

  it("with an exception pending, FXSAVE does not fault (#MF) and stores FOP, FIP/FCS, FDP/FDS", () => {
    const m = flat([
      ...FLDCW,                           // fldcw [DATA]  (ZE unmasked)
      0xd9, 0xe8, 0xd9, 0xee,             // fld1; fldz
      0xde, 0xf9,                         // fdivp st1, st0 -> ZE pending (at CODE+12)
      ...FXSAVE(IMG),
    ]);
    m.writeMem(DATA, [0x7b, 0x03]);
    expect(m.run(20).reason).toBe("hlt");
    const b = [...m.readMem(IMG, 32)];
    expect(u16(b, 2) & 0x80ff).toBe(0x8084);               // B, ES, ZE
    expect(u16(b, 6)).toBe(0x6f9);                         // FOP of de f9
    expect(u32(b, 8)).toBe(CODE + 12);                     // FIP
    expect(u16(b, 12)).toBe(m.getSegment("cs").selector);  // FCS
  });

  it("round trip: FXSAVE, FNINIT, FXRSTOR restores what FNSAVE sees (registers, CW, SW, tags, pointers)", () => {
    const m = flat([
      ...FLDCW, 0xd9, 0xeb, 0xd9, 0xe8, 0xd9, 0xee, 0xdd, 0xc1,   // fldcw; fldpi; fld1; fldz; ffree st1
      0xdd, 0x35, 0x00, 0x36, 0, 0,                              // fnsave [0x3600] (reinitializes)
      0xdd, 0x25, 0x00, 0x36, 0, 0,                              // frstor [0x3600]
      ...FXSAVE(IMG), 0xdb, 0xe3, 0xd9, 0xe8, ...FXRSTOR(IMG),   // fxsave; fninit; fld1; fxrstor
      0xdd, 0x35, 0x00, 0x37, 0, 0,                              // fnsave [0x3700]
    ]);
    m.writeMem(DATA, [0x7f, 0x0b]);
    expect(m.run(40).reason).toBe("hlt");
    const a = [...m.readMem(0x3600, 108)], c = [...m.readMem(0x3700, 108)];
    // the pointers went through FXSAVE as zeros (no exception pending); everything else is restored
    expect(hex(c.slice(0, 12))).toBe(hex(a.slice(0, 12)));
    expect(hex(c.slice(28))).toBe(hex(a.slice(28)));
  });

  it("#GP(0) for an operand not 16-byte aligned; #NM for CR0.TS and for CR0.EM; FXRSTOR of a reserved MXCSR bit: #GP", () => {
    const g = flat(FXSAVE(IMG + 8));
    expect(g.run(10)).toMatchObject({ reason: "exception", vector: 13, errorCode: 0, eip: CODE + 2 });
    for (const bit of [8, 4]) {
      const n = flat(FXSAVE(IMG));
      n.run(1); // the fninit
      n.setCr("cr0", (n.getCr("cr0") | bit) >>> 0);
      expect(n.run(10)).toMatchObject({ reason: "exception", vector: 7, eip: CODE + 2 });
    }
    const r = flat(FXRSTOR(IMG));
    r.writeMem(IMG, new Array(512).fill(0));
    r.writeMem(IMG + 24, [0x80, 0x1f, 0x04, 0]); // MXCSR 0x41F80: bit 18 reserved
    expect(r.run(10)).toMatchObject({ reason: "exception", vector: 13, errorCode: 0, eip: CODE + 2 });
  });

  it("the other 0F AE forms (LDMXCSR, STMXCSR, CLFLUSH, the fences) are #UD: SSE and CLFSH are not reported", () => {
    for (const code of [[0x0f, 0xae, 0x15, 0, 0x34, 0, 0], [0x0f, 0xae, 0x1d, 0, 0x34, 0, 0], [0x0f, 0xae, 0x3d, 0, 0x34, 0, 0], [0x0f, 0xae, 0xf0], [0x0f, 0xae, 0xe8], [0x0f, 0xae, 0xf8]]) {
      expect(flat(code).run(10), hex(code)).toMatchObject({ reason: "exception", vector: 6, eip: CODE + 2 });
    }
  });

  it("CR4.OSFXSR (bit 9) can be set, as an OS with FXSR support does", () => {
    const m = flat([0xb8, 0x00, 0x02, 0, 0, 0x0f, 0x22, 0xe0, 0x31, 0xc0, 0x0f, 0x20, 0xe0]); // mov eax,0x200; mov cr4,eax; xor eax,eax; mov eax,cr4
    expect(m.run(10).reason).toBe("hlt");
    expect(m.eax).toBe(0x200);
  });
});

describe.skipIf(!haveCpu || !existsSync(FX_CORPUS_FILE))("FXSAVE/FXRSTOR vs the recorded real-CPU corpus", () => {
  it("0 mismatches (the x87 part of the image, faults)", () => {
    const { entries } = readCorpus(FX_CORPUS_FILE);
    const st = checkCases(entries.map((e) => e.c), entries.map((e) => e.r));
    if (st.bad) console.log(st.mismatchReport(10));
    expect(st.total).toBe(entries.length);
    expect(st.bad).toBe(0);
  });
});

describe.skipIf(!haveCpu || !oracle.ok)(`FXSAVE/FXRSTOR vs the real CPU, live (${oracle.ok ? oracle.arch : "no"} oracle)`, () => {
  it("600 fresh cases: 0 mismatches", () => {
    const cases = genFxCases(Number(process.env.FPU_SEED ?? 161803), 600);
    const run = (cs: Case[]) => {
      const r = runOracleAny(cs, oracle.arch);
      expect(r.skippedTotal).toBe(0);
      return r.arch === "x86-64" ? r.results.map((x, i) => mapX64FpuResult(cs[i], x)) : r.results;
    };
    const { results } = stableResults(cases, run);
    const st = checkCases(cases, results);
    if (st.bad) console.log(st.mismatchReport(10));
    expect(st.bad).toBe(0);
  });
});
