// fpu/fxsave.ts — FXSAVE/FXRSTOR (0F AE /0, /1): the 512-byte image of the x87 state (SDM Vol. 1 10.5.1, the
// 32-bit layout, which is also what 64-bit mode stores without REX.W): FCW, FSW, the abridged tag byte (one bit per
// physical register, 1 = in use), FOP, FIP/FCS, FDP/FDS, MXCSR and MXCSR_MASK, ST(0)..ST(7) in 16-byte slots.
// No SSE is reported (CPUID.1 EDX.FXSR only), so there are no XMM registers: bytes 160..511 are not written, the
// MXCSR field holds its power-on value 0x1F80 and MXCSR_MASK the default mask 0x0000FFBF (what a processor
// without DAZ reports; the SDM's rule for software that finds 0 there). CR0.EM or CR0.TS: #NM; an operand not
// 16-byte aligned: #GP(0); FXRSTOR of an MXCSR with bits outside the mask: #GP(0). Neither checks for pending
// x87 exceptions (#MF) nor changes the last-instruction pointers.
import { VEC_NM, VEC_GP, VEC_UD, CR0_EM, CR0_TS } from "../abi";
import { setPending, abort, cr0, mrMod, mrReg, ea, eaSeg, segBase } from "../state";
import { memRd, memWr } from "../decode";
import { rdRmw } from "../mmu";
import {
  cw, sw, setCw, setSwRaw, setTw, updateEs, SW_ES, physEmpty, physAddr, fip, fcs, fop, fdp, fds, setLastInsn, setLastData,
} from "./state";

/** CR4.OSFXSR: the OS supports FXSAVE/FXRSTOR (and would enable SSE, which is not reported) */
export const CR4_OSFXSR: u32 = 0x200;
const MXCSR_DEFAULT: u32 = 0x1F80;
const MXCSR_MASK: u32 = 0xFFBF;

/** 0F AE: /0 FXSAVE m512, /1 FXRSTOR m512; the other forms (SSE/CLFLUSH/XSAVE, the fences) are not reported: #UD */
export function op0FAE(): void {
  if (mrMod == 3 || mrReg > 1) { setPending(VEC_UD, 0, false); return; }
  if (cr0() & (CR0_EM | CR0_TS)) { setPending(VEC_NM, 0, false); return; }
  if ((segBase(eaSeg) + ea) & 15) { setPending(VEC_GP, 0, true); return; }
  if (mrReg == 0) fxsave(); else fxrstor();
}

function fxsave(): void {
  // both ends writable first (512 aligned bytes span at most two pages), so the image is never half written
  rdRmw(eaSeg, ea, 1); if (abort) return;
  rdRmw(eaSeg, ea + 511, 1); if (abort) return;
  const b = ea;
  let ftw: u32 = 0;
  for (let p: u32 = 0; p < 8; p++) if (!physEmpty(p)) ftw |= 1 << p;
  memWr(2, eaSeg, b, cw()); memWr(2, eaSeg, b + 2, sw());
  // the last-instruction and operand pointers only while an exception is pending (ES), zeros otherwise: AMD's
  // FXSAVE, as the real CPU here does (Linux's X86_BUG_FXSAVE_LEAK); Intel's always stores them
  const es = (sw() & SW_ES) != 0;
  memWr(2, eaSeg, b + 4, ftw); memWr(2, eaSeg, b + 6, es ? fop() : 0);
  memWr(4, eaSeg, b + 8, es ? fip() : 0); memWr(4, eaSeg, b + 12, es ? fcs() : 0);
  memWr(4, eaSeg, b + 16, es ? fdp() : 0); memWr(4, eaSeg, b + 20, es ? fds() : 0);
  memWr(4, eaSeg, b + 24, MXCSR_DEFAULT); memWr(4, eaSeg, b + 28, MXCSR_MASK);
  const top = (sw() >> 11) & 7;
  for (let i: u32 = 0; i < 8; i++) {
    const a = physAddr((top + i) & 7), o = b + 32 + i * 16;
    const m = load<u64>(a);
    memWr(4, eaSeg, o, <u32>m); memWr(4, eaSeg, o + 4, <u32>(m >> 32));
    memWr(4, eaSeg, o + 8, <u32>load<u16>(a + 8)); memWr(4, eaSeg, o + 12, 0);
  }
}

function fxrstor(): void {
  memRd(1, eaSeg, ea); if (abort) return;
  memRd(1, eaSeg, ea + 511); if (abort) return;
  const b = ea;
  const fcw = memRd(2, eaSeg, b), fsw = memRd(2, eaSeg, b + 2), ftw = memRd(1, eaSeg, b + 4), op = memRd(2, eaSeg, b + 6);
  const ip = memRd(4, eaSeg, b + 8), cs = memRd(2, eaSeg, b + 12), dp = memRd(4, eaSeg, b + 16), ds = memRd(2, eaSeg, b + 20);
  const mx = memRd(4, eaSeg, b + 24);
  if (abort) return;
  if (mx & ~MXCSR_MASK) { setPending(VEC_GP, 0, true); return; }
  // the registers in ST order from the image's TOP; read all before changing anything
  const top = (fsw >> 11) & 7;
  for (let i: u32 = 0; i < 8; i++) {
    const o = b + 32 + i * 16;
    memRd(4, eaSeg, o); memRd(4, eaSeg, o + 4); memRd(2, eaSeg, o + 8);
  }
  if (abort) return;
  for (let i: u32 = 0; i < 8; i++) {
    const o = b + 32 + i * 16;
    const lo = memRd(4, eaSeg, o), hi = memRd(4, eaSeg, o + 4), se = memRd(2, eaSeg, o + 8);
    const a = physAddr((top + i) & 7);
    store<u64>(a, (<u64>hi << 32) | <u64>lo); store<u16>(a + 8, <u16>se);
  }
  setCw(fcw); setSwRaw(fsw);
  let t: u32 = 0;
  for (let p: u32 = 0; p < 8; p++) if (((ftw >> p) & 1) == 0) t |= 3 << (p * 2);
  setTw(t);
  setLastInsn(ip, cs, op & 0x7FF); setLastData(dp, ds);
  updateEs();
}
