// fpu/state.ts — the x87 register stack, control/status/tag words and the exception bookkeeping, kept in the
// STATE block (abi.ts AREA_FPU) so a vCPU state copy carries them.
import {
  STATE_BASE, OFF_FPU_REGS, FPU_REG_STRIDE, OFF_FPU_CW, OFF_FPU_SW, OFF_FPU_TW, OFF_FPU_FIP, OFF_FPU_FCS,
  OFF_FPU_FOP, OFF_FPU_FDP, OFF_FPU_FDS,
} from "../abi";
import { fx, roundedUp, INDEF_SE, INDEF_M, FE_IE, TOPBIT, isNaNx, isInfx, isUnsupx } from "./softfloat";

// status word bits
export const SW_SF: u32 = 0x40;
export const SW_ES: u32 = 0x80;
export const SW_C0: u32 = 0x100;
export const SW_C1: u32 = 0x200;
export const SW_C2: u32 = 0x400;
export const SW_C3: u32 = 0x4000;
export const SW_B: u32 = 0x8000;
export const SW_CC: u32 = SW_C0 | SW_C1 | SW_C2 | SW_C3;

// power-on state (the STATE block zeroed): CW 0x0040, SW 0, all registers +0 and valid (tag word 0x5555), as RESET leaves them
@inline export function cw(): u32 { return <u32>load<u16>(STATE_BASE + OFF_FPU_CW) | 0x40; }
@inline export function sw(): u32 { return <u32>load<u16>(STATE_BASE + OFF_FPU_SW); }
@inline export function tw(): u32 { return <u32>load<u16>(STATE_BASE + OFF_FPU_TW); }
@inline export function setCw(v: u32): void { store<u16>(STATE_BASE + OFF_FPU_CW, <u16>((v & 0x1F3F) | 0x40)); }
@inline export function setSwRaw(v: u32): void { store<u16>(STATE_BASE + OFF_FPU_SW, <u16>v); }
@inline export function setTw(v: u32): void { store<u16>(STATE_BASE + OFF_FPU_TW, <u16>v); }
@inline export function top(): u32 { return (sw() >> 11) & 7; }
@inline export function setTop(t: u32): void { setSwRaw((sw() & ~0x3800) | ((t & 7) << 11)); }
/** ES (and B, which mirrors it) follow the unmasked exception flags */
export function updateEs(): void {
  const s = sw();
  if (s & ~cw() & 0x3F) setSwRaw(s | SW_ES | SW_B); else setSwRaw(s & ~(SW_ES | SW_B));
}
@inline export function setCC(c: u32): void { setSwRaw((sw() & ~SW_CC) | c); }
@inline export function setC1(b: bool): void { setSwRaw(b ? sw() | SW_C1 : sw() & ~SW_C1); }

// ---- physical registers ----
@inline export function physAddr(p: u32): u32 { return STATE_BASE + OFF_FPU_REGS + (p & 7) * FPU_REG_STRIDE; }
@inline export function phys(i: u32): u32 { return (top() + i) & 7; }
@inline export function physEmpty(p: u32): bool { return ((tw() >> ((p & 7) * 2)) & 3) == 3; }
@inline export function setPhysEmpty(p: u32, e: bool): void {
  const sh = (p & 7) * 2;
  setTw(e ? tw() | (3 << sh) : tw() & ~(3 << sh));
}
@inline export function stEmpty(i: u32): bool { return physEmpty(phys(i)); }
@inline export function stSe(i: u32): u32 { return <u32>load<u16>(physAddr(phys(i)) + 8); }
@inline export function stM(i: u32): u64 { return load<u64>(physAddr(phys(i))); }
@inline export function writePhys(p: u32, se: u32, m: u64): void {
  const a = physAddr(p); store<u64>(a, m); store<u16>(a + 8, <u16>se); setPhysEmpty(p, false);
}
@inline export function setSt(i: u32, se: u32, m: u64): void { writePhys(phys(i), se, m); }
export function pushSt(se: u32, m: u64): void { const t = (top() - 1) & 7; setTop(t); writePhys(t, se, m); }
export function popSt(): void { setPhysEmpty(top(), true); setTop(top() + 1); }

/** the full 2-bit tag of physical register p as FNSAVE/FNSTENV report it: valid 0, zero 1, special 2, empty 3 */
export function fullTag(p: u32): u32 {
  if (physEmpty(p)) return 3;
  const a = physAddr(p);
  const m = load<u64>(a), e = <u32>load<u16>(a + 8) & 0x7FFF;
  if (e == 0x7FFF) return 2;
  if (e == 0) return m == 0 ? 1 : 2;
  return (m & TOPBIT) != 0 ? 0 : 2;
}
export function fullTagWord(): u32 {
  let t: u32 = 0;
  for (let p: u32 = 0; p < 8; p++) t |= fullTag(p) << (p * 2);
  return t;
}

// ---- last instruction / operand pointers ----
export function setLastInsn(fip: u32, fcs: u32, fop: u32): void {
  store<u32>(STATE_BASE + OFF_FPU_FIP, fip);
  store<u16>(STATE_BASE + OFF_FPU_FCS, <u16>fcs);
  store<u16>(STATE_BASE + OFF_FPU_FOP, <u16>fop);
}
export function setLastData(fdp: u32, fds: u32): void {
  store<u32>(STATE_BASE + OFF_FPU_FDP, fdp);
  store<u16>(STATE_BASE + OFF_FPU_FDS, <u16>fds);
}
@inline export function fip(): u32 { return load<u32>(STATE_BASE + OFF_FPU_FIP); }
@inline export function fcs(): u32 { return <u32>load<u16>(STATE_BASE + OFF_FPU_FCS); }
@inline export function fop(): u32 { return <u32>load<u16>(STATE_BASE + OFF_FPU_FOP); }
@inline export function fdp(): u32 { return load<u32>(STATE_BASE + OFF_FPU_FDP); }
@inline export function fds(): u32 { return <u32>load<u16>(STATE_BASE + OFF_FPU_FDS); }

export function fninit(): void {
  setCw(0x037F); setSwRaw(0); setTw(0xFFFF);
  setLastInsn(0, 0, 0); setLastData(0, 0);
}

// ---- exceptions ----
/** Record the flags of an operation in SW (and ES/B); true when an unmasked IE/DE/ZE forbids writing the result. */
export function commitFlags(): bool {
  const f = fx;
  setSwRaw((sw() | f) & ~SW_C1); // C1 is cleared unless the result sets it (rounded up)
  updateEs();
  return (f & ~cw() & (FE_IE | 2 | 4)) != 0;
}
/** C1 after an arithmetic result: set if rounded up (cleared otherwise) */
export function commitC1(): void { setC1(roundedUp); }

/** stack underflow (an empty operand): IE|SF, C1=0; true when masked (the caller writes the indefinite) */
export function stackUnderflow(): bool {
  setSwRaw((sw() | FE_IE | SW_SF) & ~SW_C1);
  updateEs();
  return (cw() & FE_IE) != 0;
}
/** stack overflow (push onto a full register): IE|SF, C1=1; true when masked */
export function stackOverflow(): bool {
  setSwRaw(sw() | FE_IE | SW_SF | SW_C1);
  updateEs();
  return (cw() & FE_IE) != 0;
}
@inline export function indefSe(): u32 { return INDEF_SE; }
@inline export function indefM(): u64 { return INDEF_M; }
export function isSpecial(se: u32, m: u64): bool { return isNaNx(se, m) || isInfx(se, m) || isUnsupx(se, m); }
