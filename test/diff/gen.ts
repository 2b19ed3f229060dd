// gen.ts — random but valid single-instruction test cases for the differential tests (issue 2).
//
// Every case is one x86 instruction (32-bit protected mode, flat segments, CPL 3 as under Linux) placed
// in a code page filled with int3, plus the full input state: 8 GPRs, EFLAGS (CF PF AF ZF SF OF DF),
// a seed for the scratch pages' contents and a few patches over them. Memory operands, string-op ranges
// and the stack always land inside the scratch pages; branch targets always land in the code page.
// The real CPU (tools/oracle) and the wasm CPU (run-ours.ts) execute the same case; the comparison
// masks only the flags the Intel SDM calls undefined for that form (UNDEF below, with the SDM's words).

export const CODE_BASE = 0x0020_0000;
export const CODE_SIZE = 0x2000;
export const SCRATCH_BASE = 0x0030_0000;
export const SCRATCH_SIZE = 0x2000;
export const SCRATCH_END = SCRATCH_BASE + SCRATCH_SIZE;

export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, TF = 0x100, IF = 0x200, DF = 0x400, OF = 0x800;
export const NT = 0x4000, AC = 0x40000, ID = 0x200000;
export const ARITH = CF | PF | AF | ZF | SF | OF;
/** EFLAGS bits compared (user-visible; RF/VM/VIF/VIP are not observable from CPL 3 through these tests). */
export const FLAGS_COMPARED = ARITH | TF | IF | DF | 0x3000 | NT | AC | ID;

export const REGS32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
export const REGS16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"];
export const REGS8 = ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"];
const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;
const CC = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];

// ---------------------------------------------------------------------------------------------------
// Undefined flags, per the Intel SDM (Vol. 2, "Flags Affected" of each instruction). Only these are
// masked in the comparison; how often the real CPU's undefined values differ from ours is reported
// separately (the lead aims to reproduce this AMD machine's values where practical).
// ---------------------------------------------------------------------------------------------------
export interface UndefClass { mask: number; why: string }
export const UNDEF: Record<string, UndefClass> = {
  none: { mask: 0, why: "all affected flags are defined" },
  logic: { mask: AF, why: "AND/OR/XOR/TEST: 'The OF and CF flags are cleared; the SF, ZF, and PF flags are set according to the result. The state of the AF flag is undefined.'" },
  mul: { mask: SF | ZF | AF | PF, why: "MUL/IMUL (all forms): 'The SF, ZF, AF, and PF flags are undefined.'" },
  div: { mask: CF | OF | SF | ZF | AF | PF, why: "DIV/IDIV: 'The CF, OF, SF, ZF, AF, and PF flags are undefined.'" },
  bitscan: { mask: CF | OF | SF | AF | PF, why: "BSF/BSR: 'The ZF flag is set to 1 if the source operand is 0; otherwise, the ZF flag is cleared. The CF, OF, SF, AF, and PF flags are undefined.' (and the destination is undefined when the source is 0)" },
  bittest: { mask: OF | SF | AF | PF, why: "BT/BTS/BTR/BTC: 'The CF flag contains the value of the selected bit before it is changed. The ZF flag is unaffected. The OF, SF, AF, and PF flags are undefined.'" },
  daa: { mask: OF, why: "DAA/DAS: 'The CF and AF flags are set if the adjustment results in a decimal carry/borrow... The SF, ZF, and PF flags are set according to the result. The OF flag is undefined.'" },
  aaa: { mask: OF | SF | ZF | PF, why: "AAA/AAS: 'The AF and CF flags are set to 1 if the adjustment results in a decimal carry/borrow; otherwise they are set to 0. The OF, SF, ZF, and PF flags are undefined.'" },
  aam: { mask: OF | AF | CF, why: "AAM/AAD: 'The SF, ZF, and PF flags are set according to the resulting binary value in the AL register. The OF, AF, and CF flags are undefined.'" },
  // the dynamic classes (depend on the count): see shiftUndef / rotUndef / rcUndef / shldUndef
  shift: { mask: 0, why: "SAL/SAR/SHL/SHR: 'If the count is 0, the flags are not affected.' Otherwise 'For a non-zero count, the AF flag is undefined.' 'The OF flag is affected only on 1-bit shifts. For shifts greater than 1 bit, the OF flag is undefined.' 'CF ... is undefined for SHL and SHR instructions where the count is greater than or equal to the size (in bits) of the destination operand.' (count = masked count)" },
  rot: { mask: 0, why: "ROL/ROR: 'The OF flag is defined only for the 1-bit rotates; it is undefined in all other cases (except RCL and RCR instructions only: a zero-bit rotate does nothing...)'. So OF is undefined unless the masked count is 1. SF ZF AF PF are unaffected." },
  rc: { mask: 0, why: "RCL/RCR: 'The OF flag is defined only for the 1-bit rotates; it is undefined in all other cases (except RCL and RCR instructions only: a zero-bit rotate does nothing, that is affects no flags).' So OF is undefined when the masked count is > 1." },
  shld: { mask: 0, why: "SHLD/SHRD: 'If the count is 1 or greater, the CF flag is filled with the last bit shifted out... For a 1-bit shift, the OF flag is set if a sign change occurred; otherwise, it is cleared. For shifts greater than 1 bit, the OF flag is undefined. ... If the count operand is 0, the flags are not affected. If the count is greater than the operand size, the flags are undefined.' AF: 'For a non-zero count, the AF flag is undefined.' (the generator keeps 16-bit counts <= 16, where the result is defined)" },
};
/**
 * Memory the SDM leaves implementation-specific, as scratch offsets for a case (compared like undefined
 * flags: reported, not failed).
 */
export const IMPL_DEFINED_MEM: Record<string, { why: string; bytes(c: Case): number[] }> = {
  fxsave: {
    why: "FXSAVE: with no SSE reported, MXCSR_MASK (the real CPU reports its own SSE features) and the XMM and reserved areas (bytes 160-511, 'If the OSFXSR bit in control register CR4 is not set, the FXSAVE instruction may not save these registers. This behavior is implementation dependent.') are not the x87 state's",
    bytes: (c) => { const b = c.regs[7] - SCRATCH_BASE, out: number[] = []; for (let o = 28; o < 32; o++) out.push(b + o); for (let o = 160; o < 512; o++) out.push(b + o); return out; },
  },
  "push sreg": {
    why: "PUSH: 'If the source operand is a segment register (16 bits) and the operand size is 32-bits, either a zero-extended value is pushed on the stack or the segment selector is written on the stack using a 16-bit move. For the last case, all recent Intel Core and Intel Atom processors perform a 16-bit move, leaving the upper portion of the stack location unmodified.'",
    bytes: (c) => c.code[0] === 0x66 ? [] : [c.regs[4] - 2 - SCRATCH_BASE, c.regs[4] - 1 - SCRATCH_BASE],
  },
};
export function implDefinedMem(c: Case): number[] {
  if (/^push (es|cs|ss|ds|fs|gs)$/.test(c.form)) return IMPL_DEFINED_MEM["push sreg"].bytes(c);
  if (c.form === "x87 fxsave m512") return IMPL_DEFINED_MEM["fxsave"].bytes(c);
  return [];
}

function shiftUndef(op: number, count: number, size: number): number {
  // op: 4 shl, 5 shr, 6 sal(alias), 7 sar
  if (count === 0) return 0;
  let m = AF;
  if (count !== 1) m |= OF;
  if ((op === 4 || op === 5 || op === 6) && count >= size) m |= CF;
  return m;
}
function rotUndef(count: number): number { return count === 1 ? 0 : OF; }
function rcUndef(count: number): number { return count > 1 ? OF : 0; }
function shldUndef(count: number, size: number): number {
  if (count === 0) return 0;
  if (count > size) return ARITH;
  return count === 1 ? AF : AF | OF;
}

// ---------------------------------------------------------------------------------------------------
// random numbers
// ---------------------------------------------------------------------------------------------------
export class Rng {
  private a: number; private b: number; private c: number; private d: number;
  constructor(seed: number) {
    this.a = seed >>> 0; this.b = 0x9e3779b9; this.c = 0x243f6a88; this.d = (seed ^ 0xdeadbeef) >>> 0;
    for (let i = 0; i < 12; i++) this.u32();
  }
  /** sfc32 */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  int(n: number): number { return Math.floor((this.u32() / 4294967296) * n); }
  range(lo: number, hi: number): number { return lo + this.int(hi - lo + 1); }
  chance(p: number): boolean { return this.u32() / 4294967296 < p; }
  pick<T>(a: readonly T[]): T { return a[this.int(a.length)]; }
}

const EDGE32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff];
const EDGE16 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff];
const EDGE8 = [0, 1, 2, 0x0f, 0x10, 0x7f, 0x80, 0x81, 0xfe, 0xff];
const COUNTS = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 0x80, 0xff];

/** A value of `size` bits with a bias toward edge values. */
export function val(r: Rng, size: number): number {
  const x = r.int(10);
  if (size === 8) return x < 4 ? r.pick(EDGE8) : r.int(256);
  if (size === 16) return x < 4 ? r.pick(EDGE16) : x < 5 ? r.pick(EDGE8) : r.int(65536);
  if (x < 3) return r.pick(EDGE32);
  if (x < 4) return r.pick(EDGE16) | (r.chance(0.5) ? 0 : 0xffff0000) >>> 0;
  if (x < 5) return r.pick(EDGE8) ^ (r.chance(0.5) ? 0 : 0xffffff00) >>> 0;
  if (x < 6) return r.int(64);
  return r.u32();
}

// ---------------------------------------------------------------------------------------------------
// the case
// ---------------------------------------------------------------------------------------------------
export interface Patch { off: number; data: number[] }
export interface Case {
  form: string;
  /** human-readable instruction (operands as generated) */
  desc: string;
  regs: number[];
  eflags: number;
  seed: number;
  codeOff: number;
  code: number[];
  patches: Patch[];
  /** EFLAGS bits the SDM calls undefined for this case */
  undef: number;
  /** GPRs (bitmask by encoding number) whose result the SDM calls undefined for this case */
  undefRegs: number;
  /** INT n (n not 3/4): the real CPU under Linux raises #GP((n<<3)|2); ours exits with softint n */
  intN?: number;
  /**
   * Index in `code` of a ModRM byte with mod=00 rm=101 (a bare disp32 address): the one 32-bit addressing
   * form that means something else (RIP-relative) in 64-bit mode; the x86-64 oracle rewrites it
   * (test/diff/oracle64.ts). Not stored in the corpus.
   */
  disp32At?: number;
}

export interface FormSpec {
  name: string;
  group: string;
  gen(c: Ctx): void;
}

interface MemOp { mem: true; addr: number; size: number; mod: number; rm: number; sib: number | null; disp: number[]; text: string }
interface RegOp { mem: false; r: number; size: number; text: string }
type Operand = MemOp | RegOp;

const hex = (v: number) => (v >>> 0) < 10 ? String(v >>> 0) : "0x" + (v >>> 0).toString(16);
function regName(r: number, size: number) { return size === 8 ? REGS8[r] : size === 16 ? REGS16[r] : REGS32[r]; }
function le(v: number, n: number): number[] { const o: number[] = []; for (let i = 0; i < n; i++) o.push((v >>> (8 * i)) & 0xff); return o; }
function sx8(v: number) { return (v << 24) >> 24; }

/** modular inverse of an odd number mod 2^32 */
function inv32(a: number): number {
  let x = a >>> 0; // Newton: x = x*(2 - a*x)
  for (let i = 0; i < 5; i++) x = Math.imul(x, (2 - Math.imul(a, x)) | 0) >>> 0;
  return x >>> 0;
}

export class Ctx {
  readonly r: Rng;
  regs: number[] = [];
  fixed: boolean[] = new Array(8).fill(false);
  avoid: boolean[] = new Array(8).fill(false);
  bytes: number[] = [];
  patches: Patch[] = [];
  eflags: number;
  undef = 0;
  undefRegs = 0;
  codeOff: number;
  desc = "";
  intN: number | undefined;
  disp32At: number | undefined;
  seed: number;
  /** the segment-override prefix chosen for the memory operand (text) */
  segText = "";

  constructor(r: Rng) {
    this.r = r;
    for (let i = 0; i < 8; i++) this.regs.push(val(r, 32));
    // the stack: ESP inside the upper scratch page, with room both ways (pusha/popa, enter, ret imm)
    this.regs[ESP] = r.chance(0.1) ? SCRATCH_BASE + 0x1000 + r.int(40) : (SCRATCH_BASE + 0x1100 + r.int(0xe00)) & (r.chance(0.9) ? ~3 : ~0);
    this.regs[ESP] >>>= 0;
    this.fixed[ESP] = true;
    this.eflags = (r.u32() & (ARITH | DF)) | 0x202;
    if (r.chance(0.6)) this.eflags &= ~DF;
    // the instruction: anywhere in the two code pages, 15% of the time straddling their boundary
    this.codeOff = r.chance(0.15) ? 0x1000 - 1 - r.int(6) : 0x400 + r.int(0x1800);
    this.seed = r.u32() || 1;
  }

  emit(...b: number[]) { for (const x of b) this.bytes.push(x & 0xff); }
  imm(v: number, size: number) { this.emit(...le(v, size / 8)); }
  set(r: number, v: number) { this.regs[r] = v >>> 0; this.fixed[r] = true; }
  /** set an 8-bit register (AL..BH) */
  set8(r8: number, v: number) {
    const r = r8 & 3, sh = r8 >= 4 ? 8 : 0;
    this.regs[r] = ((this.regs[r] & ~(0xff << sh)) | ((v & 0xff) << sh)) >>> 0;
  }
  get8(r8: number) { return (this.regs[r8 & 3] >>> (r8 >= 4 ? 8 : 0)) & 0xff; }
  /** set the low `size` bits of a register */
  setSized(r: number, size: number, v: number) {
    if (size === 8) return this.set8(r, v);
    if (size === 16) this.regs[r] = ((this.regs[r] & 0xffff0000) | (v & 0xffff)) >>> 0;
    else this.regs[r] = v >>> 0;
  }
  getSized(r: number, size: number) { return size === 8 ? this.get8(r) : size === 16 ? this.regs[r] & 0xffff : this.regs[r]; }
  patch(addr: number, data: number[]) {
    const off = addr - SCRATCH_BASE;
    if (off < 0 || off + data.length > SCRATCH_SIZE) throw new Error(`gen: patch outside scratch at ${hex(addr)}`);
    this.patches.push({ off, data });
  }
  patchVal(addr: number, size: number, v: number) { this.patch(addr, le(v, size / 8)); }

  /** the operand-size prefix and optional segment override / LOCK, in random order */
  prefixes(list: number[]) {
    const l = list.slice();
    for (let i = l.length - 1; i > 0; i--) { const j = this.r.int(i + 1); [l[i], l[j]] = [l[j], l[i]]; }
    this.emit(...l);
  }
  /** a random segment override prefix for memory forms (ds/es/ss are all flat), or none */
  seg(): number[] {
    if (!this.r.chance(0.15)) return [];
    const p = this.r.pick([0x26, 0x36, 0x3e]);
    this.segText = { 0x26: "es:", 0x36: "ss:", 0x3e: "ds:" }[p]!;
    return [p];
  }

  /** a register operand that is free to take any value (not fixed, not avoided) */
  freeReg(size: number, exclude: number[] = []): number {
    for (let i = 0; i < 64; i++) {
      const r = this.r.int(8);
      const full = size === 8 ? r & 3 : r;
      if (!this.fixed[full] && !exclude.includes(full) && (size === 8 || r !== ESP)) return r;
    }
    return size === 8 ? 0 : EAX;
  }

  /** a register operand (any register but ESP unless allowEsp) */
  regOp(size: number, allowEsp = false): RegOp {
    let r = this.r.int(8);
    if (size !== 8 && r === ESP && !allowEsp) r = this.r.pick([EAX, ECX, EDX, EBX, EBP, ESI, EDI]);
    return { mem: false, r, size, text: regName(r, size) };
  }

  /**
   * A ModRM r/m operand: a register (probability 1-memProb) or a memory operand inside the scratch pages.
   * For memory, picks an addressing form (all mod/rm/SIB/disp forms), then the base/index values.
   */
  rm(size: number, memProb = 0.5, o: { allowEspReg?: boolean; patchValue?: number | null; span?: number } = {}): Operand {
    if (!this.r.chance(memProb)) return this.regOp(size, o.allowEspReg);
    const span = o.span ?? size / 8;
    const m = this.memOperand(span, size);
    if (o.patchValue !== null && (o.patchValue !== undefined || this.r.chance(0.6))) {
      this.patchVal(m.addr, size, o.patchValue ?? val(this.r, size));
    }
    return m;
  }

  memOperand(span: number, size: number): MemOp {
    const r = this.r;
    const lo = SCRATCH_BASE + 16, hi = SCRATCH_END - 16 - span;
    for (let attempt = 0; attempt < 200; attempt++) {
      const T0 = r.chance(0.12) ? SCRATCH_BASE + 0x1000 - 1 - r.int(Math.max(span, 2) - 1) : lo + r.int(hi - lo);
      const kind = r.int(8);
      let mod: number, rm: number, sib: number | null = null, base = -1, index = -1, scale = 1, dispSize = 0;
      if (kind === 0) { mod = 0; rm = 5; dispSize = 4; }
      else if (kind <= 3) {
        mod = kind - 1; rm = r.pick([EAX, ECX, EDX, EBX, EBP, ESI, EDI]);
        if (mod === 0 && rm === EBP) continue;
        base = rm; dispSize = mod === 1 ? 1 : mod === 2 ? 4 : 0;
      } else {
        mod = r.int(3); rm = 4;
        const b = r.int(8), i = r.int(8), ss = r.int(4);
        sib = (ss << 6) | (i << 3) | b;
        scale = 1 << ss;
        if (i !== 4) index = i;
        if (b === 5 && mod === 0) { dispSize = 4; } else base = b;
        if (mod === 1) dispSize = 1; else if (mod === 2) dispSize = 4;
      }
      const regsUsed = [base, index].filter((x) => x >= 0);
      if (regsUsed.some((x) => this.avoid[x])) continue;
      // coefficients
      const coef = new Map<number, number>();
      if (base >= 0) coef.set(base, (coef.get(base) ?? 0) + 1);
      if (index >= 0) coef.set(index, (coef.get(index) ?? 0) + scale);
      const free = [...coef.keys()].filter((x) => !this.fixed[x]);
      // choose the register values: all but (maybe) one free register random
      const solveDisp = dispSize === 4 && (free.length === 0 || r.chance(0.4));
      const solver = !solveDisp && free.length ? r.pick(free) : -1;
      if (!solveDisp && solver < 0 && dispSize !== 4) {
        // everything fixed (e.g. [esp+d8]): the displacement must bring it in range
        let known = 0;
        for (const [reg, k] of coef) known = (known + Math.imul(this.regs[reg], k)) >>> 0;
        let disp = 0;
        if (dispSize === 1) {
          const want = (T0 - known) | 0;
          disp = want >= -128 && want <= 127 ? want : r.range(-128, 127);
        }
        const addr = (known + disp) >>> 0;
        if (addr < lo - 8 || addr > hi + 8) continue;
        if (addr < SCRATCH_BASE || addr + span > SCRATCH_END) continue;
        return this.finishMem(mod, rm, sib, dispSize ? le(disp, dispSize) : [], addr, base, index, scale, disp, size);
      }
      const vals = new Map<number, number>();
      for (const reg of coef.keys()) vals.set(reg, this.fixed[reg] ? this.regs[reg] : reg === solver ? 0 : val(r, 32));
      let disp = 0;
      if (dispSize === 1) disp = r.chance(0.3) ? r.pick([0, 1, -1, 127, -128, 4, -4]) : r.range(-128, 127);
      else if (dispSize === 4) disp = r.chance(0.5) ? r.range(-300, 300) : val(r, 32) | 0;
      let known = disp >>> 0;
      for (const [reg, k] of coef) if (reg !== solver) known = (known + Math.imul(vals.get(reg)!, k)) >>> 0;
      let T = T0;
      if (solveDisp) {
        disp = (T - known + (disp >>> 0)) | 0; // replace the chosen disp
        const check = (known - (0 /*old disp*/)) >>> 0;
        void check;
      } else {
        const k = coef.get(solver)!;
        const tz = 31 - Math.clz32(k & -k);
        const need0 = (T - known) >>> 0;
        T -= need0 & ((1 << tz) - 1); // make T - known divisible by 2^tz
        const need = (T - known) >>> 0;
        const odd = k >>> tz;
        let x = Math.imul(need >>> tz, inv32(odd)) >>> 0;
        if (tz) x = ((x & ((2 ** (32 - tz)) - 1)) + (r.int(1 << tz) * 2 ** (32 - tz))) >>> 0;
        vals.set(solver, x);
      }
      // recompute the effective address from scratch, to be sure
      let ea = disp >>> 0;
      for (const [reg, k] of coef) ea = (ea + Math.imul(vals.get(reg)!, k)) >>> 0;
      if (ea < SCRATCH_BASE || ea + span > SCRATCH_END) continue;
      for (const [reg, v] of vals) this.set(reg, v);
      return this.finishMem(mod, rm, sib, dispSize ? le(disp, dispSize) : [], ea, base, index, scale, disp, size);
    }
    throw new Error("gen: could not place a memory operand");
  }

  private finishMem(mod: number, rm: number, sib: number | null, disp: number[], addr: number, base: number, index: number,
    scale: number, dispv: number, size: number): MemOp {
    const parts: string[] = [];
    if (base >= 0) parts.push(REGS32[base]);
    if (index >= 0) parts.push(REGS32[index] + (scale > 1 ? "*" + scale : ""));
    if (disp.length) parts.push(disp.length === 1 ? String(dispv) : hex(dispv));
    const ptr = size === 8 ? "byte" : size === 16 ? "word" : size === 32 ? "dword" : "";
    const text = `${ptr ? ptr + " " : ""}${this.segText}[${parts.join("+").replace(/\+-/g, "-")}]`;
    return { mem: true, addr, size, mod, rm, sib, disp, text };
  }

  modrm(regField: number, op: Operand) {
    if (!op.mem) { this.emit(0xc0 | ((regField & 7) << 3) | op.r); return; }
    if (op.mod === 0 && op.rm === 5) this.disp32At = this.bytes.length;
    this.emit((op.mod << 6) | ((regField & 7) << 3) | op.rm);
    if (op.sib !== null) this.emit(op.sib);
    this.emit(...op.disp);
  }

  /** a relative branch target inside the code page; call after the opcode bytes, before the displacement */
  rel(relSize: 1 | 4) {
    const start = this.codeOff, next = start + this.bytes.length + relSize;
    let t: number;
    for (;;) {
      if (relSize === 1 || this.r.chance(0.6)) t = next + this.r.range(-128, 127);
      else t = this.r.int(CODE_SIZE);
      if (t >= 0 && t < CODE_SIZE && (t < start || t >= next)) break;
    }
    this.imm(t - next, relSize * 8);
    return t;
  }
  /** a code address (absolute) outside the instruction itself, for indirect branches and returns */
  codeTarget(): number {
    for (;;) {
      const t = this.r.int(CODE_SIZE);
      if (t < this.codeOff || t >= this.codeOff + 16) return CODE_BASE + t;
    }
  }

  finish(form: string): Case {
    return {
      form, desc: this.desc, regs: this.regs.map((x) => x >>> 0), eflags: this.eflags >>> 0, seed: this.seed >>> 0,
      codeOff: this.codeOff, code: this.bytes, patches: this.patches, undef: this.undef, undefRegs: this.undefRegs,
      ...(this.intN !== undefined ? { intN: this.intN } : {}),
      ...(this.disp32At !== undefined ? { disp32At: this.disp32At } : {}),
    };
  }
}

// ---------------------------------------------------------------------------------------------------
// the forms
// ---------------------------------------------------------------------------------------------------
const FORMS: FormSpec[] = [];
function form(name: string, group: string, gen: (c: Ctx) => void) { FORMS.push({ name, group, gen }); }
const OSZ = (size: number) => (size === 16 ? [0x66] : []);
const sizesWV = [16, 32];
const ALU = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"];
const LOGIC = new Set([1, 4, 6]);

function lock(c: Ctx, op: Operand, legal = true): number[] {
  return legal && op.mem && c.r.chance(0.2) ? [0xf0] : [];
}
function pfx(c: Ctx, size: number, op: Operand | null, lockable: boolean): { list: number[]; lk: string } {
  const l = lock(c, op ?? { mem: false } as Operand, lockable);
  const s = op && op.mem ? c.seg() : [];
  return { list: [...OSZ(size), ...l, ...s], lk: l.length ? "lock " : "" };
}

// ---- ALU: add or adc sbb and sub xor cmp ----
for (let o = 0; o < 8; o++) {
  const name = ALU[o], und = LOGIC.has(o) ? UNDEF.logic.mask : 0, lockable = o !== 7;
  for (const size of [8, 16, 32]) {
    const w = size === 8 ? 0 : 1;
    form(`${name} r/m${size}, r${size}`, "alu", (c) => {
      const d = c.rm(size), s = c.regOp(size, true);
      const p = pfx(c, size, d, lockable); c.prefixes(p.list);
      c.emit(o * 8 + w); c.modrm(s.r, d);
      c.undef = und; c.desc = `${p.lk}${name} ${d.text}, ${s.text}`;
    });
    form(`${name} r${size}, r/m${size}`, "alu", (c) => {
      const s = c.rm(size), d = c.regOp(size, true);
      const p = pfx(c, size, s, false); c.prefixes(p.list);
      c.emit(o * 8 + 2 + w); c.modrm(d.r, s);
      c.undef = und; c.desc = `${name} ${d.text}, ${s.text}`;
    });
    form(`${name} ${size === 8 ? "al" : size === 16 ? "ax" : "eax"}, imm${size}`, "alu", (c) => {
      c.prefixes(OSZ(size)); c.emit(o * 8 + 4 + w);
      const v = val(c.r, size); c.imm(v, size);
      c.undef = und; c.desc = `${name} ${regName(0, size)}, ${hex(v)}`;
    });
    form(`${name} r/m${size}, imm${size}`, "alu", (c) => {
      const d = c.rm(size); const p = pfx(c, size, d, lockable); c.prefixes(p.list);
      c.emit(size === 8 ? 0x80 : 0x81); c.modrm(o, d);
      const v = val(c.r, size); c.imm(v, size);
      c.undef = und; c.desc = `${p.lk}${name} ${d.text}, ${hex(v)}`;
    });
    if (size !== 8) {
      form(`${name} r/m${size}, imm8 (83)`, "alu", (c) => {
        const d = c.rm(size); const p = pfx(c, size, d, lockable); c.prefixes(p.list);
        c.emit(0x83); c.modrm(o, d);
        const v = val(c.r, 8); c.imm(v, 8);
        c.undef = und; c.desc = `${p.lk}${name} ${d.text}, ${sx8(v)}`;
      });
    }
  }
  form(`${name} r/m8, imm8 (82 alias)`, "alu", (c) => {
    const d = c.rm(8); const p = pfx(c, 8, d, lockable); c.prefixes(p.list);
    c.emit(0x82); c.modrm(o, d); const v = val(c.r, 8); c.imm(v, 8);
    c.undef = und; c.desc = `${p.lk}${name} ${d.text}, ${hex(v)} (82)`;
  });
}

// ---- TEST, NOT, NEG, INC, DEC ----
for (const size of [8, 16, 32]) {
  const w = size === 8 ? 0 : 1;
  form(`test r/m${size}, r${size}`, "alu", (c) => {
    const d = c.rm(size), s = c.regOp(size, true); const p = pfx(c, size, d, false); c.prefixes(p.list);
    c.emit(0x84 + w); c.modrm(s.r, d); c.undef = UNDEF.logic.mask; c.desc = `test ${d.text}, ${s.text}`;
  });
  form(`test ${regName(0, size)}, imm${size}`, "alu", (c) => {
    c.prefixes(OSZ(size)); c.emit(0xa8 + w); const v = val(c.r, size); c.imm(v, size);
    c.undef = UNDEF.logic.mask; c.desc = `test ${regName(0, size)}, ${hex(v)}`;
  });
  form(`test r/m${size}, imm${size}`, "alu", (c) => {
    const d = c.rm(size); const p = pfx(c, size, d, false); c.prefixes(p.list);
    c.emit(0xf6 + w); c.modrm(0, d); const v = val(c.r, size); c.imm(v, size);
    c.undef = UNDEF.logic.mask; c.desc = `test ${d.text}, ${hex(v)}`;
  });
  for (const [n, name] of [[2, "not"], [3, "neg"]] as const) {
    form(`${name} r/m${size}`, "alu", (c) => {
      const d = c.rm(size); const p = pfx(c, size, d, true); c.prefixes(p.list);
      c.emit(0xf6 + w); c.modrm(n, d); c.desc = `${p.lk}${name} ${d.text}`;
    });
  }
  for (const [n, name] of [[0, "inc"], [1, "dec"]] as const) {
    form(`${name} r/m${size}`, "alu", (c) => {
      const d = c.rm(size); const p = pfx(c, size, d, true); c.prefixes(p.list);
      c.emit(size === 8 ? 0xfe : 0xff); c.modrm(n, d); c.desc = `${p.lk}${name} ${d.text}`;
    });
    if (size !== 8) form(`${name} r${size} (${n ? "48" : "40"}+r)`, "alu", (c) => {
      const r = c.r.int(8); c.prefixes(OSZ(size)); c.emit((n ? 0x48 : 0x40) + r); c.desc = `${name} ${regName(r, size)}`;
    });
  }
}

// ---- MUL IMUL DIV IDIV ----
function setDividend(c: Ctx, size: number, divisor: number, signed: boolean) {
  const r = c.r;
  const lo = val(r, size);
  let hi: number;
  const k = r.int(10);
  if (k < 4) hi = signed ? ((lo & (1 << (size - 1))) ? (2 ** size - 1) : 0) : 0;
  else if (k < 7 && divisor) hi = signed ? 0 : r.int(divisor) % 2 ** size; // unsigned: hi < divisor => no overflow
  else hi = val(r, size);
  if (size === 8) { c.regs[EAX] = ((c.regs[EAX] & 0xffff0000) | (hi << 8) | lo) >>> 0; }
  else { c.setSized(EAX, size, lo); c.setSized(EDX, size, hi); }
  c.fixed[EAX] = true; if (size !== 8) c.fixed[EDX] = true;
}
for (const size of [8, 16, 32]) {
  const w = size === 8 ? 0 : 1;
  for (const [n, name] of [[4, "mul"], [5, "imul"]] as const) {
    form(`${name} r/m${size}`, "muldiv", (c) => {
      const d = c.rm(size); const p = pfx(c, size, d, false); c.prefixes(p.list);
      c.emit(0xf6 + w); c.modrm(n, d); c.undef = UNDEF.mul.mask; c.desc = `${name} ${d.text}`;
    });
  }
  for (const [n, name] of [[6, "div"], [7, "idiv"]] as const) {
    form(`${name} r/m${size}`, "muldiv", (c) => {
      c.avoid[EAX] = true; c.avoid[EDX] = true;
      const divisor = c.r.chance(0.08) ? 0 : c.r.chance(0.1) ? (2 ** size - 1) : val(c.r, size) || 1;
      let d: Operand;
      if (c.r.chance(0.5)) {
        d = c.memOperand(size / 8, size); c.patchVal(d.addr, size, divisor);
      } else {
        const rr = c.r.int(8);
        d = { mem: false, r: rr, size, text: regName(rr, size) };
        if (size === 8 ? (rr & 3) !== EAX : rr !== EAX && rr !== EDX && rr !== ESP) c.setSized(rr, size, divisor);
      }
      setDividend(c, size, divisor, n === 7);
      const p = pfx(c, size, d, false); c.prefixes(p.list);
      c.emit(0xf6 + w); c.modrm(n, d); c.undef = UNDEF.div.mask; c.desc = `${name} ${d.text}`;
    });
  }
}
for (const size of sizesWV) {
  form(`imul r${size}, r/m${size}`, "muldiv", (c) => {
    const s = c.rm(size), d = c.regOp(size, true); const p = pfx(c, size, s, false); c.prefixes(p.list);
    c.emit(0x0f, 0xaf); c.modrm(d.r, s); c.undef = UNDEF.mul.mask; c.desc = `imul ${d.text}, ${s.text}`;
  });
  form(`imul r${size}, r/m${size}, imm${size}`, "muldiv", (c) => {
    const s = c.rm(size), d = c.regOp(size, true); const p = pfx(c, size, s, false); c.prefixes(p.list);
    c.emit(0x69); c.modrm(d.r, s); const v = val(c.r, size); c.imm(v, size);
    c.undef = UNDEF.mul.mask; c.desc = `imul ${d.text}, ${s.text}, ${hex(v)}`;
  });
  form(`imul r${size}, r/m${size}, imm8`, "muldiv", (c) => {
    const s = c.rm(size), d = c.regOp(size, true); const p = pfx(c, size, s, false); c.prefixes(p.list);
    c.emit(0x6b); c.modrm(d.r, s); const v = val(c.r, 8); c.imm(v, 8);
    c.undef = UNDEF.mul.mask; c.desc = `imul ${d.text}, ${s.text}, ${sx8(v)}`;
  });
}

// ---- shifts and rotates ----
const SH = ["rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"];
function shUndef(op: number, count: number, size: number): number {
  const masked = count & 31;
  if (op <= 1) return masked === 0 ? OF /* ambiguous in the SDM for ROL/ROR; treated as undefined */ : rotUndef(masked);
  if (op <= 3) return rcUndef(masked);
  return shiftUndef(op, masked, size);
}
for (let op = 0; op < 8; op++) {
  for (const size of [8, 16, 32]) {
    const w = size === 8 ? 0 : 1;
    for (const how of ["1", "imm8", "cl"] as const) {
      form(`${SH[op]} r/m${size}, ${how}`, "shift", (c) => {
        if (how === "cl") c.avoid[ECX] = c.r.chance(0.9);
        const d = c.rm(size);
        let count = 1;
        if (how === "cl") {
          if (!c.fixed[ECX] || !d.mem) { count = c.r.chance(0.7) ? c.r.pick(COUNTS) : c.r.int(256); }
          if (!c.fixed[ECX]) c.set8(ECX, count);
          count = c.get8(ECX);
        }
        const p = pfx(c, size, d, false); c.prefixes(p.list);
        c.emit(how === "1" ? 0xd0 + w : how === "cl" ? 0xd2 + w : 0xc0 + w); c.modrm(op, d);
        if (how === "imm8") { count = c.r.chance(0.7) ? c.r.pick(COUNTS) : c.r.int(256); c.imm(count, 8); }
        c.undef = shUndef(op, count, size);
        c.desc = `${SH[op]} ${d.text}, ${how === "1" ? "1" : how === "cl" ? `cl (=${count})` : count}`;
      });
    }
  }
}
for (const size of sizesWV) {
  for (const [opc, name] of [[0xa4, "shld"], [0xac, "shrd"]] as const) {
    for (const how of ["imm8", "cl"] as const) {
      form(`${name} r/m${size}, r${size}, ${how}`, "shift", (c) => {
        if (how === "cl") c.avoid[ECX] = true;
        const d = c.rm(size), s = c.regOp(size, true);
        const pick = () => { for (;;) { const k = c.r.chance(0.7) ? c.r.pick(COUNTS) : c.r.int(256); if (size === 32 || (k & 31) <= 16) return k; } };
        let count = pick();
        if (how === "cl") {
          if (c.fixed[ECX]) count = c.regs[ECX] & 0xff; else c.set8(ECX, count);
          if (size === 16 && (count & 31) > 16) { c.set8(ECX, 16); count = 16; }
        }
        const p = pfx(c, size, d, false); c.prefixes(p.list);
        c.emit(0x0f, opc + (how === "cl" ? 1 : 0)); c.modrm(s.r, d);
        if (how === "imm8") c.imm(count, 8);
        c.undef = shldUndef(count & 31, size);
        if (size === 16 && (count & 31) > 16) { c.undef = ARITH; if (!d.mem) c.undefRegs |= 1 << d.r; }
        c.desc = `${name} ${d.text}, ${s.text}, ${how === "cl" ? `cl (=${count})` : count}`;
      });
    }
  }
}

// ---- bit test / scan ----
const BT = ["bt", "bts", "btr", "btc"];
for (const size of sizesWV) {
  for (let k = 0; k < 4; k++) {
    form(`${BT[k]} r/m${size}, r${size}`, "bit", (c) => {
      const offReg = c.freeReg(32, [ESP]);
      c.avoid[offReg] = true;
      const d = c.rm(size, 0.6, { span: 4 });
      let text = REGS32[offReg];
      if (d.mem) {
        // a bit offset reaching outside the addressed dword, either way (signed; 16-bit form: +-32K bits)
        let B: number;
        for (;;) {
          B = SCRATCH_BASE + 8 + c.r.int(SCRATCH_SIZE - 16);
          if (size === 32 || Math.abs(B - d.addr) < 4000) break;
        }
        const off = c.r.chance(0.2) ? c.r.int(size) : (B - d.addr) * 8 + c.r.int(8);
        c.setSized(offReg, size, off); c.fixed[offReg] = true;
        c.patchVal(B & ~3, 32, val(c.r, 32));
      } else if (d.r !== offReg) {
        c.setSized(offReg, size, c.r.chance(0.5) ? c.r.int(size) : val(c.r, size)); c.fixed[offReg] = true;
      }
      text = regName(offReg, size);
      const p = pfx(c, size, d, k !== 0); c.prefixes(p.list);
      c.emit(0x0f, 0xa3 + 8 * k); c.modrm(offReg, d);
      c.undef = UNDEF.bittest.mask; c.desc = `${p.lk}${BT[k]} ${d.text}, ${text}`;
    });
    form(`${BT[k]} r/m${size}, imm8`, "bit", (c) => {
      const d = c.rm(size); const p = pfx(c, size, d, k !== 0); c.prefixes(p.list);
      c.emit(0x0f, 0xba); c.modrm(4 + k, d); const v = c.r.chance(0.6) ? c.r.int(size) : c.r.int(256); c.imm(v, 8);
      c.undef = UNDEF.bittest.mask; c.desc = `${p.lk}${BT[k]} ${d.text}, ${v}`;
    });
  }
  for (const [opc, name] of [[0xbc, "bsf"], [0xbd, "bsr"]] as const) {
    form(`${name} r${size}, r/m${size}`, "bit", (c) => {
      const zero = c.r.chance(0.2);
      const sv = zero ? 0 : val(c.r, size);
      const s = c.rm(size, 0.5, { patchValue: sv });
      const d = c.regOp(size, true);
      if (!s.mem && !c.fixed[s.r]) c.setSized(s.r, size, sv);
      const p = pfx(c, size, s, false); c.prefixes(p.list);
      c.emit(0x0f, opc); c.modrm(d.r, s);
      c.undef = UNDEF.bitscan.mask;
      const srcVal = s.mem ? sv : c.getSized(s.r, size);
      if (srcVal === 0) c.undefRegs |= 1 << d.r; // "If the content of the source operand is 0, the content of the destination operand is undefined."
      c.desc = `${name} ${d.text}, ${s.text}`;
    });
  }
}

// ---- SETcc, CMOVcc ----
form("setcc r/m8", "cond", (c) => {
  const cc = c.r.int(16), d = c.rm(8); const p = pfx(c, 8, d, false); c.prefixes(p.list);
  c.emit(0x0f, 0x90 + cc); c.modrm(c.r.chance(0.8) ? 0 : c.r.int(8), d); c.desc = `set${CC[cc]} ${d.text}`;
});
for (const size of sizesWV) {
  form(`cmovcc r${size}, r/m${size}`, "cond", (c) => {
    const cc = c.r.int(16), s = c.rm(size), d = c.regOp(size, true); const p = pfx(c, size, s, false); c.prefixes(p.list);
    c.emit(0x0f, 0x40 + cc); c.modrm(d.r, s); c.desc = `cmov${CC[cc]} ${d.text}, ${s.text}`;
  });
}

// ---- data movement ----
for (const size of [8, 16, 32]) {
  const w = size === 8 ? 0 : 1;
  form(`mov r/m${size}, r${size}`, "mov", (c) => {
    const d = c.rm(size, 0.6, { patchValue: null }), s = c.regOp(size, true); const p = pfx(c, size, d, false); c.prefixes(p.list);
    c.emit(0x88 + w); c.modrm(s.r, d); c.desc = `mov ${d.text}, ${s.text}`;
  });
  form(`mov r${size}, r/m${size}`, "mov", (c) => {
    const s = c.rm(size, 0.6), d = c.regOp(size, true); const p = pfx(c, size, s, false); c.prefixes(p.list);
    c.emit(0x8a + w); c.modrm(d.r, s); c.desc = `mov ${d.text}, ${s.text}`;
  });
  form(`mov r/m${size}, imm${size}`, "mov", (c) => {
    const d = c.rm(size, 0.6, { patchValue: null }); const p = pfx(c, size, d, false); c.prefixes(p.list);
    c.emit(0xc6 + w); c.modrm(0, d); const v = val(c.r, size); c.imm(v, size); c.desc = `mov ${d.text}, ${hex(v)}`;
  });
  form(`mov r${size}, imm${size} (${size === 8 ? "b0" : "b8"}+r)`, "mov", (c) => {
    const r = c.r.int(8); c.prefixes(OSZ(size)); c.emit((size === 8 ? 0xb0 : 0xb8) + r);
    const v = val(c.r, size); c.imm(v, size); c.desc = `mov ${regName(r, size)}, ${hex(v)}`;
  });
  form(`mov ${regName(0, size)}, moffs${size}`, "mov", (c) => {
    const a = SCRATCH_BASE + c.r.int(SCRATCH_SIZE - 4); if (c.r.chance(0.6)) c.patchVal(a, size, val(c.r, size));
    const s = c.seg(); c.prefixes([...OSZ(size), ...s]); c.emit(0xa0 + w); c.imm(a, 32);
    c.desc = `mov ${regName(0, size)}, ${c.segText}[${hex(a)}]`;
  });
  form(`mov moffs${size}, ${regName(0, size)}`, "mov", (c) => {
    const a = SCRATCH_BASE + c.r.int(SCRATCH_SIZE - 4);
    const s = c.seg(); c.prefixes([...OSZ(size), ...s]); c.emit(0xa2 + w); c.imm(a, 32);
    c.desc = `mov ${c.segText}[${hex(a)}], ${regName(0, size)}`;
  });
  form(`xchg r/m${size}, r${size}`, "mov", (c) => {
    const d = c.rm(size), s = c.regOp(size, false); const p = pfx(c, size, d, true); c.prefixes(p.list);
    c.emit(0x86 + w); c.modrm(s.r, d); c.desc = `${p.lk}xchg ${d.text}, ${s.text}`;
  });
  form(`cmpxchg r/m${size}, r${size}`, "mov", (c) => {
    c.avoid[EAX] = true;
    const d = c.rm(size, 0.5, { patchValue: null }), s = c.regOp(size, true);
    const dv = val(c.r, size);
    if (d.mem) c.patchVal(d.addr, size, dv); else if (!(size === 8 ? (d.r & 3) === EAX : d.r === EAX || d.r === ESP)) c.setSized(d.r, size, dv);
    const cur = d.mem ? dv : c.getSized(d.r, size);
    if (c.r.chance(0.5)) c.setSized(EAX, size, cur); // equal -> store the source
    const p = pfx(c, size, d, true); c.prefixes(p.list);
    c.emit(0x0f, 0xb0 + w); c.modrm(s.r, d); c.desc = `${p.lk}cmpxchg ${d.text}, ${s.text}`;
  });
  form(`xadd r/m${size}, r${size}`, "mov", (c) => {
    const d = c.rm(size), s = c.regOp(size, false); const p = pfx(c, size, d, true); c.prefixes(p.list);
    c.emit(0x0f, 0xc0 + w); c.modrm(s.r, d); c.desc = `${p.lk}xadd ${d.text}, ${s.text}`;
  });
}
for (const size of sizesWV) {
  form(`xchg ${regName(0, size)}, r${size} (90+r)`, "mov", (c) => {
    const r = c.r.pick([1, 2, 3, 5, 6, 7]); c.prefixes(OSZ(size)); c.emit(0x90 + r); c.desc = `xchg ${regName(0, size)}, ${regName(r, size)}`;
  });
  form(`lea r${size}, m`, "mov", (c) => {
    const s = c.memOperand(1, 0), d = c.regOp(size, true); c.prefixes([...OSZ(size), ...(c.r.chance(0.1) ? [0x3e] : [])]);
    c.emit(0x8d); c.modrm(d.r, s); c.desc = `lea ${d.text}, ${s.text}`;
  });
  for (const [opc, name] of [[0xb6, "movzx"], [0xbe, "movsx"]] as const) {
    for (const ssize of [8, 16]) {
      form(`${name} r${size}, r/m${ssize}`, "mov", (c) => {
        const s = c.rm(ssize), d = c.regOp(size, true); const p = pfx(c, size, s, false); c.prefixes(p.list);
        c.emit(0x0f, opc + (ssize === 16 ? 1 : 0)); c.modrm(d.r, s); c.desc = `${name} ${d.text}, ${s.text}`;
      });
    }
  }
}

// ---- segment registers (CPL 3; the wasm side gets a GDT laid out like Linux's: run-ours.ts LINUX_GDT) ----
// selectors: null (any RPL), USER_DS 0x2b with RPL 0..3, USER32_CS 0x23 (readable code), the 64-bit USER_CS
// 0x33, kernel DS/CS (DPL 0: #GP), beyond the GDT limit, TI=1 with no LDT
const SELECTORS = [0, 1, 3, 0x2b, 0x2b, 0x2b, 0x28, 0x2a, 0x23, 0x33, 0x18, 0x1b, 0x10, 0x08, 0x7f8, 0x2f, 0x0c];
const SREG = ["es", "cs", "ss", "ds", "fs", "gs"];
form("mov sreg, r/m16", "seg", (c) => {
  const sr = c.r.chance(0.95) ? c.r.pick([0, 2, 3, 4, 5]) : c.r.pick([1, 6, 7]); // cs, 6, 7: #UD
  const sel = (c.r.pick(SELECTORS) | (c.r.chance(0.1) ? c.r.u32() & 0xffff0000 : 0)) >>> 0;
  const s = c.rm(16, 0.4, { patchValue: sel & 0xffff });
  if (!s.mem && !c.fixed[s.r] && s.r !== 4) c.setSized(s.r, 32, sel);
  const size = c.r.pick(sizesWV);
  const p = pfx(c, size, s, false); c.prefixes(p.list);
  c.emit(0x8e); c.modrm(sr, s); c.desc = `mov ${SREG[sr] ?? "sreg" + sr}, ${s.text}`;
});
for (const [opc, name] of [[[0x07], "es"], [[0x17], "ss"], [[0x1f], "ds"], [[0x0f, 0xa1], "fs"], [[0x0f, 0xa9], "gs"]] as const) {
  form(`pop ${name}`, "seg", (c) => {
    const size = c.r.pick(sizesWV);
    const sel = (c.r.pick(SELECTORS) | (size === 32 ? c.r.pick([0, 0, 0xffff0000, c.r.u32() & 0xffff0000]) : 0)) >>> 0;
    c.patchVal(c.regs[ESP], size, sel);
    c.prefixes(OSZ(size)); c.emit(...opc); c.desc = `pop${size === 16 ? "w" : ""} ${name} (=${hex(sel)})`;
  });
}
for (const [opc, name] of [[[0x0f, 0xa0], "fs"], [[0x0f, 0xa8], "gs"]] as const) {
  form(`push ${name}`, "seg", (c) => { const size = c.r.pick(sizesWV); c.prefixes(OSZ(size)); c.emit(...opc); c.desc = `push${size === 16 ? "w" : ""} ${name}`; });
}
for (const size of sizesWV) {
  form(`mov r/m, sreg (${size})`, "seg", (c) => {
    const sr = c.r.int(6);
    const d = c.rm(16, 0.5, { patchValue: null });
    const p = pfx(c, size, d, false); c.prefixes(p.list);
    c.emit(0x8c); c.modrm(sr, d); c.desc = `mov ${d.mem ? d.text : regName(d.r, size)}, ${SREG[sr]}`;
  });
}

// ---- cmpxchg8b ----
form("cmpxchg8b m64", "mov", (c) => {
  for (const r of [EAX, EDX, EBX, ECX]) c.avoid[r] = true;
  const m = c.memOperand(8, 64);
  const lo = val(c.r, 32), hi = val(c.r, 32);
  c.patchVal(m.addr, 32, lo); c.patchVal(m.addr + 4, 32, hi);
  if (c.r.chance(0.5)) { c.set(EAX, lo); c.set(EDX, c.r.chance(0.8) ? hi : val(c.r, 32)); }
  const p = pfx(c, 32, m, true); c.prefixes(p.list);
  c.emit(0x0f, 0xc7); c.modrm(1, m); c.desc = `${p.lk}cmpxchg8b ${m.text.replace(/^\w+ /, "qword ")}`;
});
form("cmpxchg8b reg (#UD)", "invalid", (c) => { c.emit(0x0f, 0xc7, 0xc8 | c.r.int(8)); c.desc = "cmpxchg8b reg"; });

form("bswap r32", "mov", (c) => { const r = c.r.int(8); c.emit(0x0f, 0xc8 + r); c.desc = `bswap ${REGS32[r]}`; });
form("xlat", "mov", (c) => {
  c.avoid[EBX] = true;
  const al = c.get8(0), a = SCRATCH_BASE + 16 + c.r.int(SCRATCH_SIZE - 300);
  c.set(EBX, a - al); if (c.r.chance(0.5)) c.patchVal(a, 8, val(c.r, 8));
  const s = c.seg(); c.prefixes(s); c.emit(0xd7); c.desc = `xlat ${c.segText}[ebx+al]`;
});
form("cbw/cwde", "mov", (c) => { const size = c.r.pick(sizesWV); c.prefixes(OSZ(size)); c.emit(0x98); c.desc = size === 16 ? "cbw" : "cwde"; });
form("cwd/cdq", "mov", (c) => { const size = c.r.pick(sizesWV); c.prefixes(OSZ(size)); c.emit(0x99); c.desc = size === 16 ? "cwd" : "cdq"; });
form("lahf", "flags", (c) => { c.emit(0x9f); c.desc = "lahf"; });
form("sahf", "flags", (c) => { c.emit(0x9e); c.desc = "sahf"; });

// ---- stack ----
for (const size of sizesWV) {
  form(`push r${size} (50+r)`, "stack", (c) => { const r = c.r.int(8); c.prefixes(OSZ(size)); c.emit(0x50 + r); c.desc = `push ${regName(r, size)}`; });
  form(`pop r${size} (58+r)`, "stack", (c) => { const r = c.r.int(8); c.prefixes(OSZ(size)); c.emit(0x58 + r); c.desc = `pop ${regName(r, size)}`; });
  form(`push imm${size}`, "stack", (c) => { const v = val(c.r, size); c.prefixes(OSZ(size)); c.emit(0x68); c.imm(v, size); c.desc = `push ${hex(v)}`; });
  form(`push imm8 (${size})`, "stack", (c) => { const v = val(c.r, 8); c.prefixes(OSZ(size)); c.emit(0x6a); c.imm(v, 8); c.desc = `push${size === 16 ? "w" : ""} ${sx8(v)}`; });
  form(`push r/m${size}`, "stack", (c) => {
    const s = c.rm(size, 0.6, { allowEspReg: true }); const p = pfx(c, size, s, false); c.prefixes(p.list);
    c.emit(0xff); c.modrm(6, s); c.desc = `push ${s.text}`;
  });
  form(`pop r/m${size}`, "stack", (c) => {
    const d = c.rm(size, 0.6, { allowEspReg: true, patchValue: null }); const p = pfx(c, size, d, false); c.prefixes(p.list);
    c.emit(0x8f); c.modrm(0, d); c.desc = `pop ${d.text}`;
  });
  form(`pusha (${size})`, "stack", (c) => { c.prefixes(OSZ(size)); c.emit(0x60); c.desc = size === 16 ? "pushaw" : "pushad"; });
  form(`popa (${size})`, "stack", (c) => { c.prefixes(OSZ(size)); c.emit(0x61); c.desc = size === 16 ? "popaw" : "popad"; });
  form(`pushf (${size})`, "flags", (c) => { c.prefixes(OSZ(size)); c.emit(0x9c); c.desc = size === 16 ? "pushfw" : "pushfd"; });
  form(`popf (${size})`, "flags", (c) => {
    // any user-visible value but TF (a trap after the next instruction); IF/IOPL changes are ignored at CPL 3
    c.patchVal(c.regs[ESP], size, c.r.u32() & ~TF & (size === 16 ? 0xffff : 0xffffffff));
    c.prefixes(OSZ(size)); c.emit(0x9d); c.desc = size === 16 ? "popfw" : "popfd";
  });
  form(`enter imm16, imm8 (${size})`, "stack", (c) => {
    c.avoid[EBP] = true;
    const level = c.r.chance(0.5) ? 0 : c.r.chance(0.7) ? c.r.range(1, 4) : c.r.pick([5, 8, 31, 32, 33, 255]);
    // the real CPU touches the final stack top (ESP - frame - alloc): keep it inside the scratch pages
    const room = c.regs[ESP] - SCRATCH_BASE - 4 * ((level & 31) + 1) - 8;
    let alloc = c.r.chance(0.5) ? c.r.int(0x40) * 4 : val(c.r, 16);
    if (alloc > room) alloc = c.r.chance(0.3) ? room : c.r.int(room);
    c.set(EBP, SCRATCH_BASE + 0x200 + c.r.int(0x1c00) & ~(c.r.chance(0.9) ? 3 : 0));
    c.prefixes(OSZ(size)); c.emit(0xc8); c.imm(alloc, 16); c.imm(level, 8);
    c.desc = `enter${size === 16 ? "w" : ""} ${hex(alloc)}, ${level}`;
  });
  form(`leave (${size})`, "stack", (c) => {
    c.set(EBP, (SCRATCH_BASE + 0x100 + c.r.int(0x1e00)) & ~(c.r.chance(0.9) ? 3 : 0));
    c.prefixes(OSZ(size)); c.emit(0xc9); c.desc = size === 16 ? "leavew" : "leave";
  });
}
for (const [opc, name] of [[0x06, "es"], [0x0e, "cs"], [0x16, "ss"], [0x1e, "ds"]] as const) {
  form(`push ${name}`, "stack", (c) => { const size = c.r.pick(sizesWV); c.prefixes(OSZ(size)); c.emit(opc); c.desc = `push${size === 16 ? "w" : ""} ${name}`; });
}

// ---- control transfer ----
form("jmp rel8", "branch", (c) => { c.emit(0xeb); const t = c.rel(1); c.desc = `jmp +${hex(t)}`; });
form("jmp rel32", "branch", (c) => { c.emit(0xe9); const t = c.rel(4); c.desc = `jmp +${hex(t)}`; });
form("jcc rel8", "branch", (c) => { const cc = c.r.int(16); c.emit(0x70 + cc); const t = c.rel(1); c.desc = `j${CC[cc]} +${hex(t)}`; });
form("jcc rel32", "branch", (c) => { const cc = c.r.int(16); c.emit(0x0f, 0x80 + cc); const t = c.rel(4); c.desc = `j${CC[cc]} +${hex(t)}`; });
form("call rel32", "branch", (c) => { c.emit(0xe8); const t = c.rel(4); c.desc = `call +${hex(t)}`; });
for (const [n, name] of [[2, "call"], [4, "jmp"]] as const) {
  form(`${name} r/m32`, "branch", (c) => {
    const target = c.codeTarget();
    let s: Operand;
    if (c.r.chance(0.5)) { s = c.memOperand(4, 32); c.patchVal(s.addr, 32, target); }
    else { const r = c.freeReg(32, [ESP]); c.set(r, target); s = { mem: false, r, size: 32, text: REGS32[r] }; }
    const p = pfx(c, 32, s, false); c.prefixes(p.list); c.emit(0xff); c.modrm(n, s); c.desc = `${name} ${s.text} (-> +${hex(target - CODE_BASE)})`;
  });
}
form("ret", "branch", (c) => {
  const t = c.codeTarget(); c.patchVal(c.regs[ESP], 32, t);
  if (c.r.chance(0.2)) c.emit(0xf3); // "rep ret", as GCC emits for AMD
  c.emit(0xc3); c.desc = `ret (-> +${hex(t - CODE_BASE)})`;
});
form("ret imm16", "branch", (c) => {
  const t = c.codeTarget(); c.patchVal(c.regs[ESP], 32, t);
  const n = c.r.chance(0.7) ? c.r.int(32) * 4 : val(c.r, 16);
  c.emit(0xc2); c.imm(n, 16); c.desc = `ret ${hex(n)} (-> +${hex(t - CODE_BASE)})`;
});
for (const [opc, name] of [[0xe0, "loopne"], [0xe1, "loope"], [0xe2, "loop"], [0xe3, "jecxz"]] as const) {
  for (const a16 of [false, true]) {
    const nm = a16 ? (name === "jecxz" ? "jcxz" : name + "w") : name;
    form(a16 ? `${nm} (67: cx)` : name, "branch", (c) => {
      c.set(ECX, c.r.chance(0.6) ? c.r.pick([0, 1, 2, 0x10000, 0x10001, 0xffffffff]) : val(c.r, 32));
      if (a16) c.emit(0x67); // address-size prefix: CX instead of ECX
      c.emit(opc); const t = c.rel(1); c.desc = `${nm} +${hex(t)} (ecx=${hex(c.regs[ECX])})`;
    });
  }
}

// ---- string instructions ----
const STR: [number, string, boolean, boolean][] = [ // opcode, name, reads [esi], uses [edi]
  [0xa4, "movs", true, true], [0xa6, "cmps", true, true], [0xae, "scas", false, true], [0xac, "lods", true, false], [0xaa, "stos", false, true],
];
for (const [opc, name, src, dst] of STR) {
  for (const size of [8, 16, 32]) {
    form(`${name} ${size}`, "string", (c) => {
      const r = c.r, es = size / 8;
      const rep = r.pick([0, 0, 0xf3, 0xf3, 0xf2]);
      const n = rep ? r.pick([0, 1, 2, 3, 4, 5, 7, 8, 16]) : 0;
      if (rep) c.set(ECX, n); else c.fixed[ECX] = true;
      const iters = Math.max(n, 1) + 1;
      const span = iters * es + 8;
      const place = () => r.chance(0.15) ? SCRATCH_BASE + 0x1000 - r.int(span) // the run crosses the page boundary
        : SCRATCH_BASE + span + r.int(SCRATCH_SIZE - 2 * span) + (r.chance(0.8) ? 0 : r.int(4));
      const down = (c.eflags & DF) !== 0;
      const si = place(), di = r.chance(0.1) ? si + r.range(-4, 4) : place();
      c.set(ESI, si); c.set(EDI, di);
      // equal runs so that REPE/REPNE stop at an interesting place
      if ((name === "cmps" || name === "scas") && rep) {
        const k = r.int(n + 1);
        const eq = rep === 0xf3;
        const acc = c.getSized(EAX, size);
        for (let i = 0; i < iters; i++) {
          const off = down ? -i * es : i * es;
          const sv = name === "cmps" ? val(r, size) : acc;
          let dv = (i < k) === eq ? sv : (sv ^ (1 + r.int(255))) >>> 0;
          if (size < 32) dv &= 2 ** size - 1;
          if (name === "cmps") c.patchVal(si + off, size, sv);
          c.patchVal(di + off, size, dv);
        }
      }
      const segs = (src && r.chance(0.2)) ? c.seg() : [];
      c.prefixes([...OSZ(size), ...(rep ? [rep] : []), ...segs]);
      c.emit(opc + (size === 8 ? 0 : 1));
      const sfx = size === 8 ? "b" : size === 16 ? "w" : "d";
      c.desc = `${rep === 0xf3 ? (name === "cmps" || name === "scas" ? "repe " : "rep ") : rep === 0xf2 ? "repne " : ""}${c.segText}${name}${sfx}` +
        `${rep ? ` (ecx=${hex(c.regs[ECX])})` : ""}${down ? " DF=1" : ""}`;
      void dst;
    });
  }
}

// ---- BCD ----
for (const [opc, name, und] of [[0x27, "daa", UNDEF.daa], [0x2f, "das", UNDEF.daa], [0x37, "aaa", UNDEF.aaa], [0x3f, "aas", UNDEF.aaa]] as const) {
  form(name, "bcd", (c) => {
    if (c.r.chance(0.5)) c.set8(0, c.r.pick([0x00, 0x09, 0x0a, 0x0f, 0x10, 0x19, 0x1a, 0x99, 0x9a, 0x9f, 0xa0, 0xf9, 0xfa, 0xff]));
    c.emit(opc); c.undef = und.mask; c.desc = name;
  });
}
form("aam imm8", "bcd", (c) => { const v = c.r.chance(0.5) ? 10 : c.r.chance(0.15) ? 0 : c.r.int(256); c.emit(0xd4, v); c.undef = UNDEF.aam.mask; c.desc = `aam ${v}`; });
form("aad imm8", "bcd", (c) => { const v = c.r.chance(0.5) ? 10 : c.r.int(256); c.emit(0xd5, v); c.undef = UNDEF.aam.mask; c.desc = `aad ${v}`; });

// ---- flags and misc ----
for (const [opc, name] of [[0xf5, "cmc"], [0xf8, "clc"], [0xf9, "stc"], [0xfc, "cld"], [0xfd, "std"], [0x90, "nop"]] as const) {
  form(name, "flags", (c) => { c.emit(opc); c.desc = name; });
}
form("pause (f3 90)", "flags", (c) => { c.emit(0xf3, 0x90); c.desc = "pause"; });
form("xchg ax, ax (66 90)", "flags", (c) => { c.emit(0x66, 0x90); c.desc = "xchg ax, ax"; });
form("nop r/m (0f 1f /0)", "flags", (c) => {
  const size = c.r.pick(sizesWV), s = c.rm(size, 0.7, { patchValue: null }); c.prefixes(OSZ(size)); c.emit(0x0f, 0x1f); c.modrm(0, s); c.desc = `nop ${s.text}`;
});
form("int3", "trap", (c) => { c.emit(0xcc); c.desc = "int3"; });
form("int 3 (cd 03)", "trap", (c) => { c.emit(0xcd, 0x03); c.desc = "int 3"; });
form("into", "trap", (c) => { if (c.r.chance(0.6)) c.eflags |= OF; c.emit(0xce); c.desc = `into (OF=${(c.eflags >> 11) & 1})`; });
form("int imm8", "trap", (c) => {
  let n: number; do { n = c.r.int(256); } while (n === 3 || n === 4 || n === 0x80);
  c.emit(0xcd, n); c.intN = n; c.desc = `int ${hex(n)}`;
});
form("ud2", "invalid", (c) => { c.emit(0x0f, 0x0b); c.desc = "ud2"; });
form("lea r32, reg (#UD)", "invalid", (c) => { const a = c.r.int(8), b = c.r.int(8); c.emit(0x8d, 0xc0 | (a << 3) | b); c.desc = `lea ${REGS32[a]}, ${REGS32[b]}`; });
form("fe /2..7 (#UD)", "invalid", (c) => { const op = c.r.range(2, 7), s = c.rm(8, 0.5); c.emit(0xfe); c.modrm(op, s); c.desc = `(fe /${op}) ${s.text}`; });
form("ff /7 (#UD)", "invalid", (c) => { const s = c.rm(32, 0.5); c.emit(0xff); c.modrm(7, s); c.desc = `(ff /7) ${s.text}`; });
form("lock on a register destination (#UD)", "invalid", (c) => {
  const o = c.r.int(7), d = c.regOp(32, true), s = c.regOp(32, true);
  c.emit(0xf0, o * 8 + 1); c.modrm(s.r, d); c.desc = `lock ${ALU[o]} ${d.text}, ${s.text}`;
});
form("lock on a non-lockable instruction (#UD)", "invalid", (c) => {
  const k = c.r.int(5);
  if (k === 0) { c.emit(0xf0, 0x90); c.desc = "lock nop"; return; }
  const size = 32, m = c.rm(size, 1);
  c.emit(0xf0);
  if (k === 1) { c.emit(0x39); c.modrm(c.r.int(8), m); c.desc = `lock cmp ${m.text}, r32`; }
  else if (k === 2) { c.emit(0x89); c.modrm(c.r.int(8), m); c.desc = `lock mov ${m.text}, r32`; }
  else if (k === 3) { c.emit(0x0f, 0xa3); c.avoid[0] = true; c.modrm(0, m); c.desc = `lock bt ${m.text}, eax`; }
  else { c.emit(0x85); c.modrm(c.r.int(8), m); c.desc = `lock test ${m.text}, r32`; }
});

export const FORM_SPECS: readonly FormSpec[] = FORMS;
export const FORM_NAMES: readonly string[] = FORMS.map((f) => f.name);
{
  const seen = new Set<string>();
  for (const n of FORM_NAMES) { if (seen.has(n)) throw new Error(`gen: duplicate form name ${n}`); seen.add(n); }
}

/** One random case of the given form (or of a uniformly random form). */
export function genCase(r: Rng, formIndex = r.int(FORMS.length)): Case {
  const f = FORMS[formIndex];
  for (let attempt = 0; ; attempt++) {
    const c = new Ctx(r);
    try {
      f.gen(c);
    } catch (e) {
      if (attempt < 20 && String(e).includes("could not place")) continue;
      throw e;
    }
    if (c.codeOff + c.bytes.length > CODE_SIZE) continue;
    return c.finish(f.name);
  }
}

/** `count` cases, round-robin over the forms (so every form gets count/forms cases), from a seed. */
export function genCases(seed: number, count: number, filter?: (name: string) => boolean): Case[] {
  const r = new Rng(seed);
  const idx = FORMS.map((_, i) => i).filter((i) => !filter || filter(FORMS[i].name));
  const out: Case[] = [];
  for (let i = 0; i < count; i++) out.push(genCase(r, idx[i % idx.length]));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// the scratch fill (must match tools/oracle/oracle.c: xorshift32 from the seed, one u32 per 4 bytes)
// ---------------------------------------------------------------------------------------------------
export function scratchImage(c: Case, out = new Uint8Array(SCRATCH_SIZE)): Uint8Array {
  const w = new Uint32Array(out.buffer, out.byteOffset, SCRATCH_SIZE / 4);
  let x = c.seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < w.length; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; w[i] = x; }
  for (const p of c.patches) out.set(p.data, p.off);
  return out;
}
