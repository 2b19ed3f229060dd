// fpu.test.ts — the x87 FPU (assembly/fpu/): raw instruction bytes run on the wasm CPU at CPL 0, checked against
// values worked out by hand (the real-CPU comparison is test/fpu-diff.test.ts): precision and rounding control,
// #NM for lazy FPU switching (CR0.TS/EM/MP), #MF for pending unmasked exceptions, FSAVE/FRSTOR round trips, the
// vCPU state copy, and CPUID's FPU bit.
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine } from "../host/machine.ts";

const haveCpu = existsSync(join(dirname(fileURLToPath(import.meta.url)), "../build/cpu.wasm"));
const CODE = 0x1000, DATA = 0x3000;

function flat(code: number[]) {
  const m = new Machine({ memSize: 1 << 20, exitOnHlt: true, exceptionBitmap: 0xffffffff });
  m.setFlatProtectedMode();
  m.setCr("cr0", (m.getCr("cr0") | 0x20) >>> 0); // NE: native #MF
  m.esp = 0x8000;
  m.writeMem(CODE - 2, [0xdb, 0xe3, ...code, 0xf4]); // fninit first: power-on leaves every register in use
  m.eip = CODE - 2;
  return m;
}
const f32 = (v: number) => { const b = Buffer.alloc(4); b.writeFloatLE(v); return [...b]; };
const u16 = (v: number) => [v & 0xff, v >> 8];
/** the 80-bit value at addr as "sexp:significand" hex */
function rd80(m: Machine, a: number): string {
  const b = m.readMem(a, 10);
  let sig = 0n; for (let i = 7; i >= 0; i--) sig = (sig << 8n) | BigInt(b[i]);
  return `${(b[8] | (b[9] << 8)).toString(16).padStart(4, "0")}:${sig.toString(16).padStart(16, "0")}`;
}

describe.skipIf(!haveCpu)("x87 FPU", () => {
  it("CPUID leaf 1 reports the FPU (EDX bit 0) and FXSR (bit 24), not MMX (23), SSE (25) or SSE2 (26)", () => {
    const m = flat([0x0f, 0xa2]); // cpuid
    m.eax = 1;
    expect(m.run(10).reason).toBe("hlt");
    expect(m.edx & 1).toBe(1);
    expect((m.edx >>> 24) & 1).toBe(1);
    expect((m.edx >>> 23) & 0b1101).toBe(0); // MMX, SSE, SSE2
  });

  it("1/3 rounded in each precision control (24, 53, 64 bits)", () => {
    for (const [cw, want] of [[0x007f, "3ffd:aaaaab0000000000"], [0x027f, "3ffd:aaaaaaaaaaaaa800"], [0x037f, "3ffd:aaaaaaaaaaaaaaab"]] as const) {
      const m = flat([
        0xd9, 0x2d, 0x10, 0x30, 0, 0, // fldcw [0x3010]
        0xd9, 0xe8,                   // fld1
        0xd9, 0x05, 0x00, 0x30, 0, 0, // fld dword [0x3000]  (3.0)
        0xde, 0xf9,                   // fdivp st1, st0  -> 1/3
        0xdb, 0x3d, 0x20, 0x30, 0, 0, // fstp tword [0x3020]
      ]);
      m.writeMem(DATA, f32(3)); m.writeMem(DATA + 0x10, u16(cw));
      expect(m.run(20).reason).toBe("hlt");
      expect(rd80(m, DATA + 0x20)).toBe(want);
    }
  });

  it("FIST rounds per RC: ±2.5 to nearest-even, down, up, toward zero", () => {
    const got: number[] = [];
    for (const v of [2.5, -2.5]) for (let rc = 0; rc < 4; rc++) {
      const m = flat([
        0xd9, 0x2d, 0x10, 0x30, 0, 0, // fldcw [0x3010]
        0xd9, 0x05, 0x00, 0x30, 0, 0, // fld dword [0x3000]
        0xdb, 0x1d, 0x20, 0x30, 0, 0, // fistp dword [0x3020]
      ]);
      m.writeMem(DATA, f32(v)); m.writeMem(DATA + 0x10, u16(0x037f | (rc << 10)));
      expect(m.run(20).reason).toBe("hlt");
      got.push(m.read32(DATA + 0x20) | 0);
    }
    expect(got).toEqual([2, 2, 3, 2, -2, -3, -2, -2]);
  });

  it("FSQRT of 2 and the FLDPI rounding per RC", () => {
    const m = flat([0xd9, 0xe8, 0xd9, 0xe8, 0xde, 0xc1, 0xd9, 0xfa, 0xdb, 0x3d, 0x20, 0x30, 0, 0]); // fld1 fld1 faddp fsqrt fstp
    expect(m.run(20).reason).toBe("hlt");
    expect(rd80(m, DATA + 0x20)).toBe("3fff:b504f333f9de6484");
    for (const [rc, want] of [[0, "4000:c90fdaa22168c235"], [1, "4000:c90fdaa22168c234"], [2, "4000:c90fdaa22168c235"], [3, "4000:c90fdaa22168c234"]] as const) {
      const p = flat([0xd9, 0x2d, 0x10, 0x30, 0, 0, 0xd9, 0xeb, 0xdb, 0x3d, 0x20, 0x30, 0, 0]); // fldcw; fldpi; fstp tword
      p.writeMem(DATA + 0x10, u16(0x037f | (rc << 10)));
      expect(p.run(20).reason).toBe("hlt");
      expect(rd80(p, DATA + 0x20)).toBe(want);
    }
  });

  it("#NM: CR0.TS (lazy FPU switching) and CR0.EM fault every x87 instruction; WAIT only with MP and TS; CLTS clears it", () => {
    const m = flat([0xd9, 0xe8]); // fld1
    m.setCr("cr0", (m.getCr("cr0") | 8) >>> 0); // TS
    expect(m.run(10)).toMatchObject({ reason: "exception", vector: 7, eip: CODE - 2 }); // at the fninit
    const em = flat([0xdb, 0xe3]); // fninit
    em.setCr("cr0", (em.getCr("cr0") | 4) >>> 0); // EM
    expect(em.run(10)).toMatchObject({ reason: "exception", vector: 7, eip: CODE - 2 });
    const w = flat([0x9b]); // fwait
    w.run(1); // the fninit
    w.setCr("cr0", (w.getCr("cr0") | 8) >>> 0); // TS without MP: WAIT runs
    expect(w.run(10).reason).toBe("hlt");
    const w2 = flat([0x9b]);
    w2.run(1); // the fninit
    w2.setCr("cr0", (w2.getCr("cr0") | 8 | 2) >>> 0); // MP + TS
    expect(w2.run(10)).toMatchObject({ reason: "exception", vector: 7, eip: CODE });
    const c = flat([0x0f, 0x06, 0xd9, 0xe8]); // clts; fld1
    c.run(1); // the fninit
    c.setCr("cr0", (c.getCr("cr0") | 8) >>> 0);
    expect(c.run(10).reason).toBe("hlt");
  });

  it("#MF: an unmasked divide by zero is pending until the next waiting instruction; FNSTSW/FNCLEX do not wait", () => {
    const m = flat([
      0xd9, 0x2d, 0x10, 0x30, 0, 0, // fldcw [0x3010]   (ZE unmasked)
      0xd9, 0xe8,                   // fld1
      0xd9, 0xee,                   // fldz
      0xde, 0xf9,                   // fdivp st1, st0  -> ZE, pending
      0xdf, 0xe0,                   // fnstsw ax       (no wait)
      0xd9, 0xe8,                   // fld1            -> #MF here
    ]);
    m.writeMem(DATA + 0x10, u16(0x037b));
    expect(m.run(20)).toMatchObject({ reason: "exception", vector: 16, eip: CODE + 14 });
    expect(m.eax & 0xffff & 0x80ff).toBe(0x8084); // B, ES, ZE
    // FNCLEX clears it: the same FLD then runs
    const n = flat([0xd9, 0x2d, 0x10, 0x30, 0, 0, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0xdb, 0xe2, 0xd9, 0xe8, 0x9b]);
    n.writeMem(DATA + 0x10, u16(0x037b));
    expect(n.run(20).reason).toBe("hlt");
    // and FWAIT alone raises it
    const w = flat([0xd9, 0x2d, 0x10, 0x30, 0, 0, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0x9b]);
    w.writeMem(DATA + 0x10, u16(0x037b));
    expect(w.run(20)).toMatchObject({ reason: "exception", vector: 16, eip: CODE + 12 });
  });

  it("FNSAVE / FRSTOR round trip: the image restores the whole state (FNSAVE reinitializes the FPU)", () => {
    const m = flat([
      0xd9, 0x2d, 0x10, 0x30, 0, 0, // fldcw [0x3010]
      0xd9, 0xeb, 0xd9, 0xe8, 0xd9, 0xee, // fldpi fld1 fldz
      0xdd, 0x35, 0x00, 0x31, 0, 0, // fnsave [0x3100]
      0xd9, 0xe8,                   // fld1 (on the reinitialized FPU)
      0xdd, 0x25, 0x00, 0x31, 0, 0, // frstor [0x3100]
      0xdd, 0x35, 0x00, 0x32, 0, 0, // fnsave [0x3200]
    ]);
    m.writeMem(DATA + 0x10, u16(0x027f));
    expect(m.run(30).reason).toBe("hlt");
    const a = m.readMem(0x3100, 108), b = m.readMem(0x3200, 108);
    expect(a[0] | (a[1] << 8)).toBe(0x027f);           // CW
    expect(((a[4] | (a[5] << 8)) >> 11) & 7).toBe(5);  // TOP after three pushes
    expect(rd80(m, 0x3100 + 28)).toBe("0000:0000000000000000"); // ST0 = 0
    expect(rd80(m, 0x3100 + 38)).toBe("3fff:8000000000000000"); // ST1 = 1
    expect(rd80(m, 0x3100 + 48)).toBe("4000:c90fdaa22168c235"); // ST2 = pi
    // everything but the last-instruction pointer (the second FNSAVE ran at another address) is identical
    expect([...b.slice(0, 12), ...b.slice(28)]).toEqual([...a.slice(0, 12), ...a.slice(28)]);
    // tags: ST0 zero (01), ST1/ST2 valid (00), the rest empty (11): physical registers 5, 6, 7
    expect(a[8] | (a[9] << 8)).toBe(0x03ff | (1 << 10));
  });

  it("the FPU is vCPU state: a copy continues identically in a fresh Machine", () => {
    const m = flat([0xd9, 0xeb, 0xd9, 0xe8, 0xde, 0xc1, 0xdb, 0x3d, 0x20, 0x30, 0, 0]); // fldpi fld1 | faddp fstp
    expect(m.run(3).reason).toBe("budget"); // fninit, fldpi, fld1
    const st = m.saveState();
    const n = new Machine({ memSize: 1 << 20, exitOnHlt: true, exceptionBitmap: 0xffffffff });
    n.writeMem(0, m.readMem(0, 1 << 20));
    n.loadState(st);
    expect(n.run(10).reason).toBe("hlt");
    expect(rd80(n, DATA + 0x20)).toBe("4001:8487ed5110b4611a"); // pi + 1: a tie, rounded to even
  });
});
