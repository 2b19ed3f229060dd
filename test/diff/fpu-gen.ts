// fpu-gen.ts — random x87 cases for the real-CPU oracle. A case is a short instruction sequence the oracle and
// the wasm CPU both run to the int3 filler:
//
//   fninit                 DB E3      (a clean FPU whatever the previous case left)
//   frstor [ebx]           DD 23      the case's FPU state: CW, SW, TW, the 8 registers as 80-bit values
//   <the x87 instruction>             a memory operand is at [edi]
//   fnsave [esi]           DD 36      the full FPU state after it (108-byte image), compared byte for byte
//
// so the comparison covers the registers, CW/SW/TW, the last-instruction/operand pointers, memory results and
// EFLAGS (FCOMI). Operands are drawn from special values: denormals, pseudo-denormals, unnormals, pseudo-NaNs
// and pseudo-infinities, ±0, ±inf, QNaN/SNaN with either sign and random payloads, the extreme exponents, the
// borders of the m32/m64 ranges, significands next to every rounding boundary (24/53/64 bits), integers; in all
// precision and rounding controls, with random exception masks (masked and unmasked responses) and random
// empty registers (stack faults). A few cases load a pending unmasked exception (ES) so the instruction raises #MF.
import { join } from "node:path";
import { Rng, SCRATCH_BASE, scratchImage, type Case, type Patch } from "./gen.ts";
import { ROOT } from "./oracle.ts";

export const FPU_CORPUS_FILE = join(ROOT, "fixtures/fpu-cases/corpus.bin.gz");

const EBX = 3, ESI = 6, EDI = 7;
export const FPU_IN = 0x000;     // the FRSTOR image
export const FPU_OUT = 0x200;    // the FNSAVE image
export const FPU_MEM = 0x400;    // the memory operand
const BIAS = 16383;

type Val80 = { se: number; m: bigint };
const TOP = 1n << 63n;
export function rnd64(r: Rng): bigint { return (BigInt(r.u32()) << 32n) | BigInt(r.u32()); }

/** a significand next to a rounding boundary at bit position b (the kept bits end at b) */
function nearBoundary(r: Rng): bigint {
  const b = r.pick([40n, 11n, 0n, 1n, 39n, 41n, 10n, 12n]);
  let m = TOP | (rnd64(r) & ~((1n << (b + 2n)) - 1n)) & ((1n << 64n) - 1n);
  const low = r.pick([0n, 1n, (1n << b) - 1n, 1n << (b > 0n ? b - 1n : 0n), (1n << (b > 0n ? b - 1n : 0n)) + 1n, (1n << (b > 0n ? b - 1n : 0n)) - 1n, (1n << b) | (1n << (b > 0n ? b - 1n : 0n))]);
  m = (m | low) | TOP;
  if (r.chance(0.2)) m = ((1n << 64n) - 1n) - r.pick([0n, 1n, (1n << b) - 1n, 1n << b]);
  return (m | TOP) & ((1n << 64n) - 1n);
}

export function val80(r: Rng): Val80 {
  const s = r.chance(0.5) ? 0x8000 : 0;
  const k = r.int(28);
  switch (k) {
    case 0: return { se: s, m: 0n };                                                   // ±0
    case 1: return { se: s, m: rnd64(r) >> BigInt(1 + r.int(63)) || 1n };              // denormal
    case 2: return { se: s, m: TOP | (rnd64(r) >> 1n) };                               // pseudo-denormal
    case 3: return { se: s | 0x7fff, m: TOP };                                         // ±inf
    case 4: return { se: s | 0x7fff, m: TOP | (1n << 62n) | (r.chance(0.5) ? 0n : rnd64(r) >> 2n) }; // QNaN
    case 5: return { se: s | 0x7fff, m: TOP | ((rnd64(r) >> 2n) || 1n) };              // SNaN
    case 6: return { se: 0xffff, m: 0xc000000000000000n };                            // indefinite
    case 7: return { se: s | (1 + r.int(0x7ffe)), m: rnd64(r) >> 1n };                 // unnormal
    case 8: return { se: s | 0x7fff, m: r.chance(0.3) ? 0n : rnd64(r) >> 1n };          // pseudo-NaN / pseudo-inf
    case 9: return { se: s | r.pick([1, 2, 0x7ffe, 0x7ffd, 3, 0x7ffc]), m: r.chance(0.5) ? nearBoundary(r) : TOP | rnd64(r) };
    case 10: case 11: return { se: s | (BIAS - 126 + r.range(-66, 2)), m: r.chance(0.5) ? nearBoundary(r) : TOP | rnd64(r) }; // m32 border
    case 12: case 13: return { se: s | (BIAS - 1022 + r.range(-66, 2)), m: r.chance(0.5) ? nearBoundary(r) : TOP | rnd64(r) }; // m64 border
    case 14: return { se: s | (BIAS + r.pick([127, 128, 126, 1023, 1024, 1022])), m: r.chance(0.5) ? nearBoundary(r) : TOP | rnd64(r) };
    case 15: case 16: { const n = BigInt(r.int(1 << 20)) + 1n; const z = 64 - n.toString(2).length; return { se: s | (BIAS + 63 - z), m: n << BigInt(z) }; } // small integer
    case 17: { const e = r.range(-2, 66); return { se: s | (BIAS + e), m: r.chance(0.5) ? nearBoundary(r) : TOP | rnd64(r) }; } // around integers
    case 18: return { se: s | (BIAS + r.pick([15, 31, 63, 64, 59, 60])), m: r.chance(0.5) ? TOP : nearBoundary(r) }; // integer-range borders
    case 19: return { se: s | BIAS, m: TOP | (r.chance(0.5) ? 0n : rnd64(r) >> BigInt(r.int(64))) }; // 1.x
    default: { const e = r.range(-70, 70); return { se: s | (BIAS + e), m: r.chance(0.3) ? nearBoundary(r) : TOP | rnd64(r) }; }
  }
}
function valF32(r: Rng): number {
  const s = r.chance(0.5) ? 0x80000000 : 0;
  switch (r.int(10)) {
    case 0: return s;
    case 1: return (s | (r.u32() & 0x7fffff)) >>> 0;                          // denormal
    case 2: return (s | 0x7f800000) >>> 0;
    case 3: return (s | 0x7fc00000 | (r.u32() & 0x3fffff)) >>> 0;             // QNaN
    case 4: return (s | 0x7f800000 | ((r.u32() & 0x3fffff) || 1)) >>> 0;      // SNaN
    case 5: return (s | (r.pick([1, 2, 0xfe, 0xfd]) << 23) | (r.u32() & 0x7fffff)) >>> 0;
    default: return (s | ((127 + r.range(-30, 30)) << 23) | (r.u32() & 0x7fffff)) >>> 0;
  }
}
function valF64(r: Rng): bigint {
  const s = r.chance(0.5) ? 1n << 63n : 0n;
  const f = rnd64(r) & ((1n << 52n) - 1n);
  switch (r.int(10)) {
    case 0: return s;
    case 1: return s | f;
    case 2: return s | (0x7ffn << 52n);
    case 3: return s | (0x7ffn << 52n) | (1n << 51n) | (f >> 1n);
    case 4: return s | (0x7ffn << 52n) | ((f >> 1n) || 1n);
    case 5: return s | (BigInt(r.pick([1, 2, 0x7fe, 0x7fd])) << 52n) | f;
    default: return s | (BigInt(1023 + r.range(-80, 80)) << 52n) | f;
  }
}
function valInt(r: Rng, bits: number): bigint {
  const k = r.int(6);
  const lim = 1n << BigInt(bits - 1);
  let v: bigint;
  if (k === 0) v = r.pick([0n, 1n, -1n, lim - 1n, -lim, -lim + 1n]);
  else if (k === 1) v = BigInt(r.range(-1000, 1000));
  else v = BigInt.asIntN(bits, rnd64(r));
  return BigInt.asUintN(bits, v);
}
function valBcd(r: Rng): number[] {
  const out: number[] = [];
  const nd = r.int(19);
  for (let i = 0; i < 9; i++) {
    const lo = i * 2 < nd ? r.int(10) : 0, hi = i * 2 + 1 < nd ? r.int(10) : 0;
    out.push(lo | (hi << 4));
  }
  out.push(r.chance(0.5) ? 0x80 : 0);
  return out;
}
const le = (v: bigint, n: number) => Array.from({ length: n }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));

// ---- the forms ----
export interface FForm { name: string; bytes: (r: Rng) => number[]; mem?: "m32" | "m64" | "m80" | "i16" | "i32" | "i64" | "bcd" | "env" | "save" | "m16" | "env16" | "save16"; }
const ARITH = ["fadd", "fmul", "fcom", "fcomp", "fsub", "fsubr", "fdiv", "fdivr"];
const IARITH = ["fiadd", "fimul", "ficom", "ficomp", "fisub", "fisubr", "fidiv", "fidivr"];
const mr = (reg: number) => (reg << 3) | 7; // [edi]
const ri = (r: Rng) => r.int(8);
const FORMS: FForm[] = [];
for (let reg = 0; reg < 8; reg++) {
  FORMS.push({ name: `${ARITH[reg]} m32`, bytes: () => [0xd8, mr(reg)], mem: "m32" });
  FORMS.push({ name: `${ARITH[reg]} m64`, bytes: () => [0xdc, mr(reg)], mem: "m64" });
  FORMS.push({ name: `${IARITH[reg]} m32int`, bytes: () => [0xda, mr(reg)], mem: "i32" });
  FORMS.push({ name: `${IARITH[reg]} m16int`, bytes: () => [0xde, mr(reg)], mem: "i16" });
  FORMS.push({ name: `${ARITH[reg]} st0, st(i)`, bytes: (r) => [0xd8, 0xc0 | (reg << 3) | ri(r)] });
  if (reg !== 2 && reg !== 3) {
    const n = ["fadd", "fmul", "", "", "fsubr", "fsub", "fdivr", "fdiv"][reg];
    FORMS.push({ name: `${n} st(i), st0`, bytes: (r) => [0xdc, 0xc0 | (reg << 3) | ri(r)] });
    FORMS.push({ name: `${n}p st(i), st0`, bytes: (r) => [0xde, 0xc0 | (reg << 3) | ri(r)] });
  }
}
FORMS.push(
  { name: "fcom2 st(i) (dc d0 alias)", bytes: (r) => [0xdc, 0xd0 | ri(r)] },
  { name: "fcomp3 st(i) (dc d8 alias)", bytes: (r) => [0xdc, 0xd8 | ri(r)] },
  { name: "fcomp5 st(i) (de d0 alias)", bytes: (r) => [0xde, 0xd0 | ri(r)] },
  { name: "fcompp", bytes: () => [0xde, 0xd9] },
  { name: "fucom st(i)", bytes: (r) => [0xdd, 0xe0 | ri(r)] },
  { name: "fucomp st(i)", bytes: (r) => [0xdd, 0xe8 | ri(r)] },
  { name: "fucompp", bytes: () => [0xda, 0xe9] },
  { name: "fcomi st0, st(i)", bytes: (r) => [0xdb, 0xf0 | ri(r)] },
  { name: "fucomi st0, st(i)", bytes: (r) => [0xdb, 0xe8 | ri(r)] },
  { name: "fcomip st0, st(i)", bytes: (r) => [0xdf, 0xf0 | ri(r)] },
  { name: "fucomip st0, st(i)", bytes: (r) => [0xdf, 0xe8 | ri(r)] },
  { name: "ftst", bytes: () => [0xd9, 0xe4] },
  { name: "fxam", bytes: () => [0xd9, 0xe5] },
  { name: "fld m32", bytes: () => [0xd9, mr(0)], mem: "m32" },
  { name: "fld m64", bytes: () => [0xdd, mr(0)], mem: "m64" },
  { name: "fld m80", bytes: () => [0xdb, mr(5)], mem: "m80" },
  { name: "fild m16", bytes: () => [0xdf, mr(0)], mem: "i16" },
  { name: "fild m32", bytes: () => [0xdb, mr(0)], mem: "i32" },
  { name: "fild m64", bytes: () => [0xdf, mr(5)], mem: "i64" },
  { name: "fbld m80", bytes: () => [0xdf, mr(4)], mem: "bcd" },
  { name: "fst m32", bytes: () => [0xd9, mr(2)], mem: "m32" },
  { name: "fstp m32", bytes: () => [0xd9, mr(3)], mem: "m32" },
  { name: "fst m64", bytes: () => [0xdd, mr(2)], mem: "m64" },
  { name: "fstp m64", bytes: () => [0xdd, mr(3)], mem: "m64" },
  { name: "fstp m80", bytes: () => [0xdb, mr(7)], mem: "m80" },
  { name: "fist m16", bytes: () => [0xdf, mr(2)], mem: "i16" },
  { name: "fistp m16", bytes: () => [0xdf, mr(3)], mem: "i16" },
  { name: "fist m32", bytes: () => [0xdb, mr(2)], mem: "i32" },
  { name: "fistp m32", bytes: () => [0xdb, mr(3)], mem: "i32" },
  { name: "fistp m64", bytes: () => [0xdf, mr(7)], mem: "i64" },
  { name: "fbstp m80", bytes: () => [0xdf, mr(6)], mem: "bcd" },
  { name: "fld st(i)", bytes: (r) => [0xd9, 0xc0 | ri(r)] },
  { name: "fst st(i)", bytes: (r) => [0xdd, 0xd0 | ri(r)] },
  { name: "fstp st(i)", bytes: (r) => [0xdd, 0xd8 | ri(r)] },
  { name: "fstp1 st(i) (d9 d8 alias)", bytes: (r) => [0xd9, 0xd8 | ri(r)] },
  { name: "fstp8 st(i) (df d0 alias)", bytes: (r) => [0xdf, 0xd0 | ri(r)] },
  { name: "fstp9 st(i) (df d8 alias)", bytes: (r) => [0xdf, 0xd8 | ri(r)] },
  { name: "fxch st(i)", bytes: (r) => [0xd9, 0xc8 | ri(r)] },
  { name: "fxch4 st(i) (dd c8 alias)", bytes: (r) => [0xdd, 0xc8 | ri(r)] },
  { name: "fxch7 st(i) (df c8 alias)", bytes: (r) => [0xdf, 0xc8 | ri(r)] },
  { name: "ffree st(i)", bytes: (r) => [0xdd, 0xc0 | ri(r)] },
  { name: "ffreep st(i)", bytes: (r) => [0xdf, 0xc0 | ri(r)] },
  { name: "fincstp", bytes: () => [0xd9, 0xf7] },
  { name: "fdecstp", bytes: () => [0xd9, 0xf6] },
  { name: "fnop", bytes: () => [0xd9, 0xd0] },
  { name: "fchs", bytes: () => [0xd9, 0xe0] },
  { name: "fabs", bytes: () => [0xd9, 0xe1] },
  { name: "fsqrt", bytes: () => [0xd9, 0xfa] },
  { name: "frndint", bytes: () => [0xd9, 0xfc] },
  { name: "fscale", bytes: () => [0xd9, 0xfd] },
  { name: "fxtract", bytes: () => [0xd9, 0xf4] },
  { name: "fprem", bytes: () => [0xd9, 0xf8] },
  { name: "fprem1", bytes: () => [0xd9, 0xf5] },
  ...["fld1", "fldl2t", "fldl2e", "fldpi", "fldlg2", "fldln2", "fldz"].map((n, k) => ({ name: n, bytes: () => [0xd9, 0xe8 + k] })),
  ...["fcmovb", "fcmove", "fcmovbe", "fcmovu"].map((n, k) => ({ name: `${n} st0, st(i)`, bytes: (r: Rng) => [0xda, 0xc0 | (k << 3) | ri(r)] })),
  ...["fcmovnb", "fcmovne", "fcmovnbe", "fcmovnu"].map((n, k) => ({ name: `${n} st0, st(i)`, bytes: (r: Rng) => [0xdb, 0xc0 | (k << 3) | ri(r)] })),
  { name: "fldcw m16", bytes: () => [0xd9, mr(5)], mem: "m16" },
  { name: "fnstcw m16", bytes: () => [0xd9, mr(7)], mem: "m16" },
  { name: "fnstsw m16", bytes: () => [0xdd, mr(7)], mem: "m16" },
  { name: "fnstsw ax", bytes: () => [0xdf, 0xe0] },
  { name: "fnclex", bytes: () => [0xdb, 0xe2] },
  { name: "fninit", bytes: () => [0xdb, 0xe3] },
  { name: "fwait", bytes: () => [0x9b] },
  { name: "fnstenv m28", bytes: () => [0xd9, mr(6)], mem: "env" },
  { name: "fldenv m28", bytes: () => [0xd9, mr(4)], mem: "env" },
  { name: "fnsave m108", bytes: () => [0xdd, mr(6)], mem: "save" },
  { name: "frstor m108", bytes: () => [0xdd, mr(4)], mem: "save" },
  // the 16-bit protected-mode formats (operand-size prefix): 14-byte environment, 94-byte state
  { name: "fnstenv m14 (o16)", bytes: () => [0x66, 0xd9, mr(6)], mem: "env16" },
  { name: "fldenv m14 (o16)", bytes: () => [0x66, 0xd9, mr(4)], mem: "env16" },
  { name: "fnsave m94 (o16)", bytes: () => [0x66, 0xdd, mr(6)], mem: "save16" },
  { name: "frstor m94 (o16)", bytes: () => [0x66, 0xdd, mr(4)], mem: "save16" },
);
export const FPU_FORM_NAMES = FORMS.map((f) => f.name);

function cwRandom(r: Rng): number {
  const masks = r.chance(0.6) ? 0x3f : r.chance(0.5) ? r.int(64) : 0x3f & ~(1 << r.int(6));
  const pc = r.pick([0, 2, 3, 3]);
  return masks | 0x40 | (pc << 8) | (r.int(4) << 10) | (r.chance(0.1) ? 0x1000 : 0);
}
/** an FRSTOR image (32-bit protected-mode format): CW, SW (flags only where masked, unless pendingEs), TW, regs */
function stateImage(r: Rng, pendingEs: boolean, mem: number): number[] {
  const cw = cwRandom(r);
  const top = r.int(8);
  let flags = r.chance(0.3) ? r.int(64) & cw & 0x3f : 0;
  if (pendingEs) { flags |= 1 << r.int(6); if (!(flags & ~cw & 0x3f)) return stateImage(r, pendingEs, mem); }
  const sw = (flags | (r.int(16) & 0xf) << 8) & ~0x800 | ((r.int(2) << 14)) | (top << 11) | (flags & ~cw & 0x3f ? 0x8080 : 0);
  let tw = 0;
  const emptyP = r.pick([0, 0.15, 0.5, 1]);
  for (let i = 0; i < 8; i++) if (r.chance(emptyP)) tw |= 3 << (2 * i);
  const out: number[] = [];
  const w32 = (v: number) => out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  w32(0xffff0000 | cw); w32(0xffff0000 | sw); w32(0xffff0000 | tw);
  w32(r.u32()); w32(r.u32() & 0x07ff0000 | 0x23); w32(mem); w32(0xffff002b);
  for (let i = 0; i < 8; i++) { const v = val80(r); out.push(...le(v.m, 8), v.se & 0xff, v.se >> 8); }
  return out;
}

export function genFpuCase(r: Rng, f: FForm): Case {
  const memAddr = SCRATCH_BASE + FPU_MEM + r.int(16) * 4;
  const pendingEs = r.chance(0.03);
  const patches: Patch[] = [{ off: FPU_IN, data: stateImage(r, pendingEs, memAddr) }];
  if (f.mem) {
    const off = memAddr - SCRATCH_BASE;
    let d: number[] = [];
    switch (f.mem) {
      case "m32": d = le(BigInt(valF32(r)), 4); break;
      case "m64": d = le(valF64(r), 8); break;
      case "m80": { const v = val80(r); d = [...le(v.m, 8), v.se & 0xff, v.se >> 8]; break; }
      case "i16": d = le(valInt(r, 16), 2); break;
      case "i32": d = le(valInt(r, 32), 4); break;
      case "i64": d = le(valInt(r, 64), 8); break;
      case "bcd": d = valBcd(r); break;
      case "m16": d = le(BigInt(cwRandom(r) | (r.chance(0.2) ? r.int(0x10000) : 0)), 2); break;
      case "env": case "save": d = stateImage(r, false, memAddr).slice(0, f.mem === "env" ? 28 : 108); break;
      case "env16": case "save16": {
        // the 32-bit image's fields in the 16-bit layout: CW SW TW FIP FCS FDP FDS, then the registers
        const img = stateImage(r, false, memAddr);
        const w = (o: number) => [img[o], img[o + 1]];
        d = [...w(0), ...w(4), ...w(8), ...w(12), ...w(16), ...w(20), ...w(24)];
        if (f.mem === "save16") d.push(...img.slice(28));
        break;
      }
    }
    patches.push({ off, data: d });
  }
  const insn = f.bytes(r);
  const code = [0xdb, 0xe3, 0xdd, 0x23, ...insn, 0xdd, 0x36];
  const regs = [r.u32(), r.u32(), r.u32(), SCRATCH_BASE + FPU_IN, SCRATCH_BASE + 0x1800, r.u32(), SCRATCH_BASE + FPU_OUT, memAddr];
  const hex = insn.map((b) => b.toString(16).padStart(2, "0")).join(" ");
  return {
    form: `x87 ${f.name}`, desc: `${f.name}   [${hex}]`, regs: regs.map((v) => v >>> 0), eflags: r.u32() & 0xcd5, seed: r.u32() || 1,
    codeOff: 0x10 + r.int(0x100), code, patches, undef: 0, undefRegs: 0,
  };
}

/** `count` cases round-robin over the x87 forms */
export function genFpuCases(seed: number, count: number, filter?: (name: string) => boolean): Case[] {
  const r = new Rng(seed);
  const fs = FORMS.filter((f) => !filter || filter(`x87 ${f.name}`));
  const out: Case[] = [];
  for (let i = 0; i < count; i++) out.push(genFpuCase(r, fs[i % fs.length]));
  return out;
}

// ---- explaining a case: the FPU state images decoded (debugging aid for mismatches) ----
function hx(v: number | bigint, n: number) { return v.toString(16).padStart(n, "0"); }
/** an FNSAVE/FRSTOR image (32-bit format) decoded: CW SW TW pointers and ST(0..7) */
export function decodeImage(b: Uint8Array | number[], off = 0): string {
  const u16 = (o: number) => b[off + o] | (b[off + o + 1] << 8);
  const u32 = (o: number) => (u16(o) | (u16(o + 2) << 16)) >>> 0;
  const sw = u16(4), tw = u16(8), top = (sw >> 11) & 7;
  const regs: string[] = [];
  for (let i = 0; i < 8; i++) {
    const o = 28 + i * 10;
    let m = 0n; for (let k = 7; k >= 0; k--) m = (m << 8n) | BigInt(b[off + o + k]);
    const t = (tw >> (2 * ((top + i) & 7))) & 3;
    regs.push(`st${i}=${hx(u16(o + 8), 4)}:${hx(m, 16)}${["", "z", "s", "E"][t]}`);
  }
  return `cw=${hx(u16(0), 4)} sw=${hx(sw, 4)} (top ${top} C3210=${(sw >> 14) & 1}${(sw >> 10) & 1}${(sw >> 9) & 1}${(sw >> 8) & 1} exc=${hx(sw & 0xff, 2)}) tw=${hx(tw, 4)} fip=${hx(u32(12), 8)} fcs/fop=${hx(u32(16), 8)} fdp=${hx(u32(20), 8)} fds=${hx(u32(24), 8)}\n    ${regs.join(" ")}`;
}

/**
 * The x87 cases' oracle results made robust to the host kernel: a case preempted between its FRSTOR and FNSAVE
 * gets its FPU state saved and restored by the kernel (XSAVE/XRSTOR of a 64-bit kernel keep no FCS/FDS, and
 * this AMD CPU's restore drops the pointers when no exception is pending), so its FNSAVE image shows zeroed
 * pointers. Every case runs twice; where the two runs differ a third run decides (the majority). Returns the
 * results and how many cases were disturbed.
 */
export function stableResults<R>(cases: Case[], run: (cs: Case[]) => R[]): { results: R[]; disturbed: number } {
  const a = run(cases), b = run(cases);
  const idx: number[] = [];
  for (let i = 0; i < cases.length; i++) if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) idx.push(i);
  if (idx.length) {
    const c = run(idx.map((i) => cases[i]));
    idx.forEach((i, k) => { if (JSON.stringify(c[k]) === JSON.stringify(b[i])) a[i] = b[i]; });
  }
  return { results: a, disturbed: idx.length };
}

const CONTROL_FORM = /^x87 (fldcw|fnstcw|fnstsw|fnstenv|fldenv|fnsave|frstor|fnclex|fninit|fwait)/;
/**
 * An x86-64 oracle result of an x87 case as the i386 oracle reports it: the FPU's last-instruction and
 * last-operand selectors in the FNSAVE image are the process's CS and DS, 0x33 and null in a 64-bit process,
 * 0x23 and 0x2b in a 32-bit one; everything else in an x87 case executes identically in 64-bit mode.
 */
export function mapX64FpuResult<R extends { mem: [number, number][]; vector: number }>(c: Case, r: R): R {
  if (r.vector !== 0xff) return r; // it faulted (#MF) before the FNSAVE: no image
  const memForm = !CONTROL_FORM.test(c.form) && FORMS.some((f) => `x87 ${f.name}` === c.form && f.mem);
  // the oracle lists changed bytes only: a byte equal to the initial scratch fill is not in the list
  const img = scratchImage(c);
  const byteAt = (o: number) => r.mem.find(([k]) => k === o)?.[1] ?? img[o];
  const mem = r.mem.filter(([o]) => o !== FPU_OUT + 16 && o !== FPU_OUT + 24);
  const fcs = byteAt(FPU_OUT + 16), fds = byteAt(FPU_OUT + 24);
  mem.push([FPU_OUT + 16, fcs === 0x33 ? 0x23 : fcs]);
  mem.push([FPU_OUT + 24, memForm && fds === 0 ? 0x2b : fds]);
  return { ...r, mem };
}
