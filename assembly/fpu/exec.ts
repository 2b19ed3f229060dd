// fpu/exec.ts — the x87 escape opcodes D8..DF: #NM/#MF checks, the last-instruction pointers, and the handlers
// of every form (operands read first, so a faulting access leaves the FPU unchanged).
import {
  VEC_NM, VEC_MF, VEC_UD, CR0_EM, CR0_TS, CR0_MP, SEG_CS, SEG_ES, FLAG_ZF, FLAG_PF, FLAG_CF, FLAG_OF, FLAG_SF, FLAG_AF,
} from "../abi";
import { setPending, abort, cr0, mrMod, mrReg, mrRm, ea, eaSeg, ip0, segSel, o16, w16, EAX } from "../state";
import { memRd, memWr } from "../decode";
import { rdRmw } from "../mmu";
import { setStatus, getFlags } from "../flags";
import {
  fpBegin, fx, zM, zS, zE, roundedUp, noStore, FE_IE, FE_DE, TOPBIT, isSNaNx, quietNaN, setRc, rc,
  INDEF_M, setFx, raise,
} from "./softfloat";
import {
  cw, sw, setCw, setSwRaw, tw, setTw, top, setTop, updateEs, setCC, setC1, physEmpty, stEmpty, stSe, stM, setSt, pushSt,
  popSt, fullTagWord, setLastInsn, setLastData, fip, fcs, fop, fdp, fds, fninit, commitFlags, stackUnderflow,
  stackOverflow, SW_ES, SW_C0, SW_C1, SW_C2, SW_C3, phys, writePhys, setPhysEmpty, physAddr,
} from "./state";
import { setOpDenormal, opDenormal, binop, resSe, compare, fsqrt, frndint, fscale, fxtract, xSe, xM, fprem, remQ, remPartial, fxamClass, setDeUnmasked } from "./arith";
import { fTrig, f2xm1, fyl2x, fyl2xp1, fpatan } from "./transcendental";
import { fromF32, fromF64, fromInt, toF32, toF64, toInt, outBits, fromBcd, toBcd, bcdLo, bcdHi } from "./convert";

const INDEF_SE: u32 = 0xFFFF;

/** WAIT/FWAIT: #NM when CR0.MP and CR0.TS, then #MF for a pending unmasked exception. */
export function fwait(): void {
  if ((cr0() & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS)) { setPending(VEC_NM, 0, false); return; }
  if (sw() & SW_ES) setPending(VEC_MF, 0, false);
}

@inline function prec(): i32 { const p = (cw() >> 8) & 3; return p == 0 ? 24 : p == 2 ? 53 : 64; }
function begin(): void { fpBegin(cw()); setDeUnmasked((cw() & FE_DE) == 0); setOpDenormal(false); }

// ---- memory operands ----
function rd64(): u64 { const l = memRd(4, eaSeg, ea); if (abort) return 0; const h = memRd(4, eaSeg, ea + 4); return (<u64>h << 32) | <u64>l; }
/** check that `len` bytes at the operand are writable, so that a store cannot fault halfway */
function probe(len: u32): bool { rdRmw(eaSeg, ea, 1); if (abort) return false; rdRmw(eaSeg, ea + len - 1, 1); return !abort; }
function wr64(off: u32, v: u64): void { memWr(4, eaSeg, off, <u32>v); memWr(4, eaSeg, off + 4, <u32>(v >> 32)); }
function wr80(off: u32, se: u32, m: u64): void { wr64(off, m); memWr(2, eaSeg, off + 8, se); }

/** read the memory operand of an arithmetic/compare form as an extended value (opSe/opM): kind 0 m32, 1 m32int, 2 m64, 3 m16int */
let opSe: u32 = 0, opM: u64 = 0;
function readOperand(kind: u32): bool {
  if (kind == 0) { const v = memRd(4, eaSeg, ea); if (abort) return false; fromF32(v); }
  else if (kind == 1) { const v = memRd(4, eaSeg, ea); if (abort) return false; fromInt(<i64><i32>v); }
  else if (kind == 2) { const v = rd64(); if (abort) return false; fromF64(v); }
  else { const v = memRd(2, eaSeg, ea); if (abort) return false; fromInt(<i64><i16>v); }
  opSe = (zS << 15) | <u32>zE; opM = zM;
  // a denormal m32/m64 was normalized on the way in: its DE is raised where the operation checks operands
  setOpDenormal((fx & FE_DE) != 0);
  setFx(fx & ~FE_DE);
  return true;
}

// ---- the families ----
/** ST(dst) = a (op) b, op per the ModRM reg field; pop afterwards for the P forms */
function arith(op: u32, as: u32, am: u64, bs: u32, bm: u64, dst: u32, pop: bool): void {
  binop(op, as, am, bs, bm, prec());
  if (commitFlags()) return;
  setSt(dst, resSe(), zM); setC1(roundedUp);
  if (pop) popSt();
}
function arithReg(op: u32, i: u32, dstI: bool, pop: bool): void {
  const dst = dstI ? i : 0;
  if (stEmpty(0) || stEmpty(i)) {
    if (stackUnderflow()) { setSt(dst, INDEF_SE, INDEF_M); if (pop) popSt(); }
    return;
  }
  begin();
  if (dstI) { // DC/DE: ST(i) = ST(i) op ST(0) with the reversed sense of sub/div encoded in reg
    const rop = op == 4 ? 5 : op == 5 ? 4 : op == 6 ? 7 : op == 7 ? 6 : op;
    arith(rop, stSe(i), stM(i), stSe(0), stM(0), dst, pop);
  } else arith(op, stSe(0), stM(0), stSe(i), stM(i), dst, pop);
}
function arithMem(op: u32, kind: u32): void {
  begin();
  if (!readOperand(kind)) return;
  if (stEmpty(0)) { if (stackUnderflow()) setSt(0, INDEF_SE, INDEF_M); return; }
  arith(op, stSe(0), stM(0), opSe, opM, 0, false);
}
/** FCOM family: quiet = FUCOM; pops = 0..2; eflags = FCOMI forms */
function comWith(bs: u32, bm: u64, bEmpty: bool, quiet: bool, pops: u32, eflags: bool): void {
  let c: u32 = 3;
  let blocked = false;
  const c1 = sw() & SW_C1;
  if (stEmpty(0) || bEmpty) {
    blocked = !stackUnderflow();
  } else {
    c = compare(stSe(0), stM(0), bs, bm, quiet);
    blocked = commitFlags(); // unmasked IE or DE: nothing is popped; only IE makes the result unordered
    if ((fx & ~cw() & FE_IE) != 0) c = 3;
    if (eflags) setSwRaw(sw() | c1); // FCOMI keeps C1
  }
  // an unmasked invalid operation still reports unordered, but pops nothing
  if (eflags) {
    const f: u32 = c == 0 ? 0 : c == 1 ? FLAG_CF : c == 2 ? FLAG_ZF : FLAG_ZF | FLAG_PF | FLAG_CF;
    setStatus(FLAG_ZF | FLAG_PF | FLAG_CF | FLAG_OF | FLAG_SF | FLAG_AF, f);
  } else {
    setCC(c == 0 ? 0 : c == 1 ? SW_C0 : c == 2 ? SW_C3 : SW_C3 | SW_C2 | SW_C0);
  }
  if (blocked) return;
  for (let k: u32 = 0; k < pops; k++) popSt();
}
function comMem(kind: u32, pops: u32): void {
  begin();
  if (!readOperand(kind)) return;
  comWith(opSe, opM, false, false, pops, false);
}
function comReg(i: u32, quiet: bool, pops: u32, eflags: bool): void {
  begin();
  comWith(stSe(i), stM(i), stEmpty(i), quiet, pops, eflags);
}

/** push a value produced in zS/zE/zM (loads): stack overflow when ST(7) is in use */
function pushChecked(se: u32, m: u64): void {
  if (!physEmpty((top() - 1) & 7)) { if (stackOverflow()) pushSt(INDEF_SE, INDEF_M); return; }
  if (commitFlags()) return;
  pushSt(se, m); setC1(false);
}
function fldMem(kind: u32): void {
  begin();
  if (kind == 4) { // m80: no conversion, no exceptions but the stack's
    const m = rd64(); if (abort) return; const se = memRd(2, eaSeg, ea + 8); if (abort) return;
    pushChecked(se, m); return;
  }
  if (kind == 5) { const m = rd64(); if (abort) return; fromInt(<i64>m); pushChecked(resSe2(), zM); return; }
  if (kind == 6) { const lo = rd64(); if (abort) return; const h = memRd(2, eaSeg, ea + 8); if (abort) return; fromBcd(lo, h); pushChecked(resSe2(), zM); return; }
  if (!readOperand(kind)) return;
  if (!physEmpty((top() - 1) & 7)) { if (stackOverflow()) pushSt(INDEF_SE, INDEF_M); return; }
  let se = opSe, m = opM;
  if (opDenormal) raise(FE_DE);
  if (isSNaNx(se, m)) { quietNaN(se, m); se = (zS << 15) | 0x7FFF; m = zM; }
  if (commitFlags() && (fx & ~cw() & FE_IE) != 0) return; // an unmasked DE still loads (as this CPU does)
  pushSt(se, m); setC1(false);
}
@inline function resSe2(): u32 { return (zS << 15) | <u32>zE; }

/** FST/FSTP to memory: kind 0 m32, 2 m64, 4 m80, 1 m32int, 3 m16int, 5 m64int, 6 m80bcd */
function fstMem(kind: u32, pop: bool): void {
  const len: u32 = kind == 0 || kind == 1 ? 4 : kind == 3 ? 2 : kind == 4 || kind == 6 ? 10 : 8;
  if (!probe(len)) return;
  begin();
  if (stEmpty(0)) {
    if (!stackUnderflow()) return;
    if (kind == 0) memWr(4, eaSeg, ea, 0xFFC00000);
    else if (kind == 2) wr64(ea, 0xFFF8000000000000);
    else if (kind == 4) wr80(ea, INDEF_SE, INDEF_M);
    else if (kind == 1) memWr(4, eaSeg, ea, 0x80000000);
    else if (kind == 3) memWr(2, eaSeg, ea, 0x8000);
    else if (kind == 5) wr64(ea, 0x8000000000000000);
    else wr80(ea, 0xFFFF, 0xC000000000000000);
    if (pop) popSt();
    return;
  }
  const se = stSe(0), m = stM(0);
  if (kind == 4) { wr80(ea, se, m); setC1(false); if (pop) popSt(); return; }
  if (kind == 0) toF32(se, m);
  else if (kind == 2) toF64(se, m);
  else if (kind == 6) toBcd(se, m);
  else toInt(se, m, kind == 1 ? 32 : kind == 3 ? 16 : 64);
  const blocked = commitFlags();
  if (blocked || noStore) return;
  if (kind == 0 || kind == 1) memWr(4, eaSeg, ea, <u32>outBits);
  else if (kind == 3) memWr(2, eaSeg, ea, <u32>outBits);
  else if (kind == 6) wr80(ea, bcdHi, bcdLo);
  else wr64(ea, outBits);
  setC1(roundedUp);
  if (pop) popSt();
}

function fldReg(i: u32): void {
  if (stEmpty(i)) { if (stackUnderflow()) pushSt(INDEF_SE, INDEF_M); return; }
  if (!physEmpty((top() - 1) & 7)) { if (stackOverflow()) pushSt(INDEF_SE, INDEF_M); return; }
  pushSt(stSe(i), stM(i)); setC1(false);
}
function fstReg(i: u32, pop: bool): void {
  if (stEmpty(0)) { if (stackUnderflow()) { setSt(i, INDEF_SE, INDEF_M); if (pop) popSt(); } return; }
  setSt(i, stSe(0), stM(0)); setC1(false);
  if (pop) popSt();
}
/** D9 D8+i (reserved; Intel's FSTP1 alias) as this AMD CPU runs it: a pop, C1 cleared, no store, no stack fault */
function fstpNoCheck(i: u32): void { if (stEmpty(0)) { setC1(false); popSt(); } else fstReg(i, true); }
function fxch(i: u32): void {
  if (stEmpty(0) || stEmpty(i)) {
    if (!stackUnderflow()) return;
    if (stEmpty(0)) setSt(0, INDEF_SE, INDEF_M);
    if (stEmpty(i)) setSt(i, INDEF_SE, INDEF_M);
  } else setC1(false);
  const se = stSe(0), m = stM(0);
  setSt(0, stSe(i), stM(i)); setSt(i, se, m);
}
function fcmov(cc: bool, i: u32): void {
  if (stEmpty(0) || stEmpty(i)) { if (stackUnderflow()) setSt(0, INDEF_SE, INDEF_M); return; }
  if (cc) setSt(0, stSe(i), stM(i));
}
/** one-operand operations on ST(0): sqrt (0), rndint (1) */
function unary(kind: u32): void {
  if (stEmpty(0)) { if (stackUnderflow()) setSt(0, INDEF_SE, INDEF_M); return; }
  begin();
  if (kind == 0) fsqrt(stSe(0), stM(0), prec()); else frndint(stSe(0), stM(0));
  if (commitFlags()) return;
  setSt(0, resSe(), zM); setC1(roundedUp);
}
function fconst(which: u32): void {
  // pi, log2(e), log2(10), log10(2), ln(2) rounded per RC from their 66-bit internal values (SDM Vol. 1 8.3.8)
  let se: u32 = 0x3FFF, m: u64 = TOPBIT;
  const r = (cw() >> 10) & 3;
  const dn = r == 1 || r == 3, up = r == 2;
  switch (which) {
    case 0: se = 0x3FFF; m = TOPBIT; break;                                          // FLD1
    case 1: se = 0x4000; m = up ? 0xD49A784BCD1B8AFF : 0xD49A784BCD1B8AFE; break;    // FLDL2T
    case 2: se = 0x3FFF; m = dn ? 0xB8AA3B295C17F0BB : 0xB8AA3B295C17F0BC; break;    // FLDL2E
    case 3: se = 0x4000; m = dn ? 0xC90FDAA22168C234 : 0xC90FDAA22168C235; break;    // FLDPI
    case 4: se = 0x3FFD; m = dn ? 0x9A209A84FBCFF798 : 0x9A209A84FBCFF799; break;    // FLDLG2
    case 5: se = 0x3FFE; m = dn ? 0xB17217F7D1CF79AB : 0xB17217F7D1CF79AC; break;    // FLDLN2
    default: se = 0; m = 0;                                                           // FLDZ
  }
  if (!physEmpty((top() - 1) & 7)) { if (stackOverflow()) pushSt(INDEF_SE, INDEF_M); return; }
  pushSt(se, m); setC1(false);
}

// ---- environment and state images (32-bit and 16-bit protected-mode formats) ----
function envSize(): u32 { return o16 ? 14 : 28; }
function storeEnv(): void {
  const b = ea;
  if (o16) {
    memWr(2, eaSeg, b, cw()); memWr(2, eaSeg, b + 2, sw()); memWr(2, eaSeg, b + 4, fullTagWord());
    memWr(2, eaSeg, b + 6, fip()); memWr(2, eaSeg, b + 8, fcs()); memWr(2, eaSeg, b + 10, fdp()); memWr(2, eaSeg, b + 12, fds());
    return;
  }
  memWr(4, eaSeg, b, cw() | 0xFFFF0000); memWr(4, eaSeg, b + 4, sw() | 0xFFFF0000); memWr(4, eaSeg, b + 8, fullTagWord() | 0xFFFF0000);
  memWr(4, eaSeg, b + 12, fip()); memWr(4, eaSeg, b + 16, fcs() | (fop() << 16));
  memWr(4, eaSeg, b + 20, fdp()); memWr(4, eaSeg, b + 24, fds() | 0xFFFF0000);
}
/** read an environment image; the registers are applied by applyEnv once every byte has been read */
let eCw: u32 = 0, eSw: u32 = 0, eTw: u32 = 0, eFip: u32 = 0, eFcs: u32 = 0, eFop: u32 = 0, eFdp: u32 = 0, eFds: u32 = 0;
function readEnv(): bool {
  const b = ea;
  if (o16) {
    eCw = memRd(2, eaSeg, b); eSw = memRd(2, eaSeg, b + 2); eTw = memRd(2, eaSeg, b + 4);
    eFip = memRd(2, eaSeg, b + 6); eFcs = memRd(2, eaSeg, b + 8); eFdp = memRd(2, eaSeg, b + 10); eFds = memRd(2, eaSeg, b + 12);
    eFop = 0;
    return !abort;
  }
  eCw = memRd(2, eaSeg, b); eSw = memRd(2, eaSeg, b + 4); eTw = memRd(2, eaSeg, b + 8);
  eFip = memRd(4, eaSeg, b + 12); const t = memRd(4, eaSeg, b + 16); eFcs = t & 0xFFFF; eFop = (t >> 16) & 0x7FF;
  eFdp = memRd(4, eaSeg, b + 20); eFds = memRd(2, eaSeg, b + 24);
  return !abort;
}
function applyEnv(): void {
  setCw(eCw); setSwRaw(eSw);
  let t: u32 = 0;
  for (let p: u32 = 0; p < 8; p++) if (((eTw >> (p * 2)) & 3) == 3) t |= 3 << (p * 2);
  setTw(t);
  setLastInsn(eFip, eFcs, eFop); setLastData(eFdp, eFds);
  updateEs();
}
function fnstenv(): void {
  if (!probe(envSize())) return;
  storeEnv();
  setCw(cw() | 0x3F); updateEs();
}
function fldenv(): void { if (!readEnv()) return; applyEnv(); }
function fnsave(): void {
  const n = envSize();
  if (!probe(n + 80)) return;
  storeEnv();
  for (let i: u32 = 0; i < 8; i++) { const p = phys(i), a = physAddr(p); wr80(ea + n + i * 10, <u32>load<u16>(a + 8), load<u64>(a)); }
  fninit();
}
function frstor(): void {
  const n = envSize();
  // both ends readable first (the image spans at most two pages), so the register loads below cannot fault
  memRd(1, eaSeg, ea); if (abort) return;
  memRd(1, eaSeg, ea + n + 79); if (abort) return;
  if (!readEnv()) return;
  // the registers are stored in ST order: physical register (TOP + i) of the loaded TOP
  const t = (eSw >> 11) & 7;
  for (let i: u32 = 0; i < 8; i++) {
    const off = ea + n + i * 10;
    const m = rd64Off(off); if (abort) return;
    const se = memRd(2, eaSeg, off + 8); if (abort) return;
    const a = physAddr((t + i) & 7); store<u64>(a, m); store<u16>(a + 8, <u16>se);
  }
  applyEnv();
}
function rd64Off(off: u32): u64 { const l = memRd(4, eaSeg, off); if (abort) return 0; const h = memRd(4, eaSeg, off + 4); return (<u64>h << 32) | <u64>l; }

// ---- dispatch ----
@inline function ud(): void { setPending(VEC_UD, 0, false); }
/** the no-wait control instructions (they neither check nor raise #MF, nor change the last-instruction pointers) */
function isControl(esc: u32, mem: bool, reg: u32, modrm: u32): bool {
  if (mem) return (esc == 1 && reg >= 4) || (esc == 5 && (reg == 4 || reg == 6 || reg == 7));
  return (esc == 3 && modrm >= 0xE0 && modrm <= 0xE4) || (esc == 7 && modrm == 0xE0);
}
function isNoWait(esc: u32, mem: bool, reg: u32, modrm: u32): bool {
  if (mem) return (esc == 1 && (reg == 6 || reg == 7)) || (esc == 5 && (reg == 6 || reg == 7));
  return (esc == 3 && modrm >= 0xE0 && modrm <= 0xE4) || (esc == 7 && modrm == 0xE0);
}

export function x87(op: u32): void {
  const c0 = cr0();
  if (c0 & (CR0_EM | CR0_TS)) { setPending(VEC_NM, 0, false); return; }
  const esc = op & 7, mem = mrMod != 3, reg = mrReg, i = mrRm;
  const modrm = (mrMod << 6) | (reg << 3) | i;
  if (!isNoWait(esc, mem, reg, modrm) && (sw() & SW_ES)) { setPending(VEC_MF, 0, false); return; }
  if (!isControl(esc, mem, reg, modrm)) {
    setLastInsn(ip0, segSel(SEG_CS), (esc << 8) | modrm);
    if (mem) setLastData(ea, segSel(eaSeg));
  }
  if (mem) execMem(esc, reg); else execReg(esc, reg, i, modrm);
}

function execMem(esc: u32, reg: u32): void {
  switch (esc) {
    case 0: if (reg == 2 || reg == 3) comMem(0, reg - 2); else arithMem(reg, 0); return;
    case 4: if (reg == 2 || reg == 3) comMem(2, reg - 2); else arithMem(reg, 2); return;
    case 2: if (reg == 2 || reg == 3) comMem(1, reg - 2); else arithMem(reg, 1); return;
    case 6: if (reg == 2 || reg == 3) comMem(3, reg - 2); else arithMem(reg, 3); return;
    case 1:
      switch (reg) {
        case 0: fldMem(0); return;
        case 2: fstMem(0, false); return;
        case 3: fstMem(0, true); return;
        case 4: fldenv(); return;
        case 5: { const v = memRd(2, eaSeg, ea); if (abort) return; setCw(v); updateEs(); return; }
        case 6: fnstenv(); return;
        case 7: memWr(2, eaSeg, ea, cw()); return;
        default: ud(); return;
      }
    case 3:
      switch (reg) {
        case 0: fldMem(1); return;
        case 2: fstMem(1, false); return;
        case 3: fstMem(1, true); return;
        case 5: fldMem(4); return;
        case 7: fstMem(4, true); return;
        default: ud(); return; // 1: FISTTP (SSE3, not reported), 4, 6
      }
    case 5:
      switch (reg) {
        case 0: fldMem(2); return;
        case 2: fstMem(2, false); return;
        case 3: fstMem(2, true); return;
        case 4: frstor(); return;
        case 6: fnsave(); return;
        case 7: memWr(2, eaSeg, ea, sw()); return;
        default: ud(); return;
      }
    default: // 7
      switch (reg) {
        case 0: fldMem(3); return;
        case 2: fstMem(3, false); return;
        case 3: fstMem(3, true); return;
        case 4: fldMem(6); return;
        case 5: fldMem(5); return;
        case 6: fstMem(6, true); return;
        case 7: fstMem(5, true); return;
        default: ud(); return;
      }
  }
}

function cond(kind: u32): bool {
  const f = getFlags();
  if (kind == 0) return (f & FLAG_CF) != 0;
  if (kind == 1) return (f & FLAG_ZF) != 0;
  if (kind == 2) return (f & (FLAG_CF | FLAG_ZF)) != 0;
  return (f & FLAG_PF) != 0;
}

function execReg(esc: u32, reg: u32, i: u32, modrm: u32): void {
  switch (esc) {
    case 0: if (reg == 2) comReg(i, false, 0, false); else if (reg == 3) comReg(i, false, 1, false); else arithReg(reg, i, false, false); return;
    case 4: if (reg == 2) comReg(i, false, 0, false); else if (reg == 3) comReg(i, false, 1, false); else arithReg(reg, i, true, false); return;
    case 6:
      if (reg == 2) { comReg(i, false, 1, false); return; }
      if (reg == 3) { if (i == 1) comReg(1, false, 2, false); else ud(); return; }
      arithReg(reg, i, true, true); return;
    case 1:
      if (reg == 0) { fldReg(i); return; }
      if (reg == 1) { fxch(i); return; }
      if (reg == 3) { fstpNoCheck(i); return; } // D9 D8+i: FSTP1 alias
      if (reg == 2) { if (i != 0) ud(); return; } // FNOP
      d9Misc(modrm); return;
    case 2:
      if (reg < 4) { fcmov(cond(reg), i); return; }
      if (modrm == 0xE9) { comReg(1, true, 2, false); return; }
      ud(); return;
    case 3:
      if (reg < 4) { fcmov(!cond(reg), i); return; }
      if (reg == 5) { comReg(i, true, 0, true); return; }
      if (reg == 6) { comReg(i, false, 0, true); return; }
      if (modrm == 0xE2) { setSwRaw(sw() & 0x7F00); return; }          // FNCLEX
      if (modrm == 0xE3) { fninit(); return; }                          // FNINIT
      if (modrm == 0xE0 || modrm == 0xE1 || modrm == 0xE4) return;      // FNENI/FNDISI/FNSETPM: no-ops since the 387
      ud(); return;
    case 5:
      if (reg == 0) { setPhysEmpty(phys(i), true); setC1(false); return; } // FFREE (C1 cleared, as this CPU does)
      if (reg == 1) { fxch(i); return; }                                // FXCH4 alias
      if (reg == 2) { fstReg(i, false); return; }
      if (reg == 3) { fstReg(i, true); return; }
      if (reg == 4) { comReg(i, true, 0, false); return; }
      if (reg == 5) { comReg(i, true, 1, false); return; }
      ud(); return;
    default: // 7
      if (reg == 0) { setPhysEmpty(phys(i), true); popSt(); setC1(false); return; } // FFREEP
      if (reg == 1) { fxch(i); return; }                                // FXCH7 alias
      if (reg == 2 || reg == 3) { fstReg(i, true); return; }            // FSTP8/FSTP9 aliases
      if (modrm == 0xE0) { w16(EAX, sw()); return; }                    // FNSTSW AX
      if (reg == 5) { comReg(i, true, 1, true); return; }
      if (reg == 6) { comReg(i, false, 1, true); return; }
      ud(); return;
  }
}

function d9Misc(modrm: u32): void {
  switch (modrm) {
    case 0xE0: case 0xE1: { // FCHS, FABS
      if (stEmpty(0)) { if (stackUnderflow()) setSt(0, INDEF_SE, INDEF_M); return; }
      const se = stSe(0);
      setSt(0, modrm == 0xE0 ? se ^ 0x8000 : se & 0x7FFF, stM(0)); setC1(false); return;
    }
    case 0xE4: { // FTST
      begin(); comWith(0, 0, false, false, 0, false); return;
    }
    case 0xE5: { // FXAM
      const p = phys(0);
      const se = stSe(0), m = stM(0);
      const c = physEmpty(p) ? SW_C3 | SW_C0 : fxamClass(se, m);
      setCC(c | ((se & 0x8000) != 0 ? SW_C1 : 0)); return;
    }
    case 0xE8: case 0xE9: case 0xEA: case 0xEB: case 0xEC: case 0xED: case 0xEE:
      fconst(modrm == 0xEE ? 6 : modrm - 0xE8); return;
    case 0xF4: { // FXTRACT
      if (stEmpty(0)) { if (stackUnderflow()) { setSt(0, INDEF_SE, INDEF_M); pushSt(INDEF_SE, INDEF_M); } return; }
      if (!physEmpty((top() - 1) & 7)) { if (stackOverflow()) { setSt(0, INDEF_SE, INDEF_M); pushSt(INDEF_SE, INDEF_M); } return; }
      begin();
      if (!fxtract(stSe(0), stM(0))) { commitFlags(); return; }
      if (commitFlags()) return;
      setSt(0, resSe(), zM); pushSt(xSe, xM); setC1(false); return;
    }
    case 0xF5: case 0xF8: { // FPREM1, FPREM
      if (stEmpty(0) || stEmpty(1)) { setCC(sw() & ~SW_C2); if (stackUnderflow()) setSt(0, INDEF_SE, INDEF_M); return; }
      begin();
      fprem(stSe(0), stM(0), stSe(1), stM(1), modrm == 0xF5);
      if (commitFlags()) { setCC(sw() & ~SW_C2); return; }
      setSt(0, resSe(), zM);
      if ((resSe() & 0x7FFF) == 0x7FFF && zM != TOPBIT) { setCC(sw() & ~SW_C2); return; } // a NaN: C0 C3 kept, C2 cleared
      // complete: C0 C3 C1 = quotient bits 2 1 0; partial: C2 alone (this CPU clears the others)
      const q = remQ;
      setCC(remPartial ? SW_C2 : ((q & 4) != 0 ? SW_C0 : 0) | ((q & 2) != 0 ? SW_C3 : 0) | ((q & 1) != 0 ? SW_C1 : 0));
      return;
    }
    case 0xF6: setTop(top() - 1); setC1(false); return; // FDECSTP
    case 0xF7: setTop(top() + 1); setC1(false); return; // FINCSTP
    case 0xFA: unary(0); return;
    case 0xFC: unary(1); return;
    case 0xFD: { // FSCALE
      if (stEmpty(0) || stEmpty(1)) { if (stackUnderflow()) setSt(0, INDEF_SE, INDEF_M); return; }
      begin();
      fscale(stSe(0), stM(0), stSe(1), stM(1));
      if (commitFlags()) return;
      setSt(0, resSe(), zM); setC1(roundedUp); return;
    }
    case 0xF0: f2xm1(); return;
    case 0xF1: fyl2x(); return;
    case 0xF2: fTrig(3); return;  // FPTAN
    case 0xF3: fpatan(); return;
    case 0xF9: fyl2xp1(); return;
    case 0xFB: fTrig(2); return;  // FSINCOS
    case 0xFE: fTrig(0); return;  // FSIN
    case 0xFF: fTrig(1); return;  // FCOS
    default: ud(); return;
  }
}
