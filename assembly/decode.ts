// decode.ts — instruction fetch (for the decoder), operand and stack access (for the handlers).
import { translateFetch } from "./ept";
import { SEG_CS, SEG_SS, SEG_DS, VEC_GP } from "./abi";
import {
  eip, setEip, abort, setPending, r32, w32, r16, w16, r8, w8, segOvr, mrMod, mrRm, ea, eaSeg,
  segBase, segLimit, cpl, ESP, o16,
} from "./state";
import {
  fLo, fLen, fHost, setFetchWindow, tlbR, translate, mmioHit, rd8, rd16, rd32, wr8, wr16, wr32, rdRmw, segOk,
} from "./mmu";

// ---- instruction fetch through the current page window ----
@inline export function fetch8(): u32 {
  const d = eip - fLo;
  if (d < fLen) { setEip(eip + 1); return <u32>load<u8>(fHost + d); }
  return fetch8Slow();
}
@inline export function fetch16(): u32 {
  const d = eip - fLo;
  if (d + 1 < fLen) { setEip(eip + 2); return <u32>load<u16>(fHost + d); }
  const lo = fetch8Slow();
  return lo | (fetch8() << 8);
}
@inline export function fetch32(): u32 {
  const d = eip - fLo;
  if (d + 3 < fLen) { setEip(eip + 4); return load<u32>(fHost + d); }
  const b0 = fetch8Slow();
  const b1 = fetch8();
  const b2 = fetch8();
  return b0 | (b1 << 8) | (b2 << 16) | (fetch8() << 24);
}

/** Refill the fetch window for the page EIP is in (CS limit and paging checked), then fetch one byte. */
function fetch8Slow(): u32 {
  if (abort) return 0;
  const lim = segLimit(SEG_CS);
  if (eip > lim) { setPending(VEC_GP, 0, true); return 0; }
  const lin = segBase(SEG_CS) + eip;
  const e = tlbR + (((lin >>> 12) & 1023) << 4);
  let add: u32;
  if (load<u32>(e) == lin >>> 12) add = load<u32>(e, 4);
  else {
    add = translateFetch(lin, cpl == 3);
    if (abort) return 0;
    if (mmioHit) { setEip(eip + 1); return 0xFF; } // no code runs from device memory: it reads as open bus
  }
  const off = lin & 0xFFF;
  let lo = eip - off;
  let len: u32 = 0x1000;
  // the whole page is usable only if its EIP range neither wraps nor passes the CS limit
  if (lo > eip || <u64>lo + 0xFFF > <u64>lim) {
    lo = eip;
    len = 0x1000 - off;
    if (<u64>eip + <u64>len - 1 > <u64>lim) len = lim - eip + 1;
  }
  setFetchWindow(lo, len, lin - (eip - lo) + add);
  const d = eip - fLo;
  setEip(eip + 1);
  return <u32>load<u8>(fHost + d);
}

// ---- operands (the ModRM fields and effective address come from the predecoded record: cpu.ts exec) ----
/** Segment for string sources and moffs forms: DS unless overridden. */
@inline export function dataSeg(): u32 { return segOvr >= 0 ? <u32>segOvr : SEG_DS; }

// ---- operand access by size (1, 2, 4); `size` is a constant after inlining ----
@inline export function osz(): u32 { return o16 ? 2 : 4; }
@inline export function regRd(size: u32, r: u32): u32 { return size == 1 ? r8(r) : size == 2 ? r16(r) : r32(r); }
@inline export function regWr(size: u32, r: u32, v: u32): void {
  if (size == 1) w8(r, v); else if (size == 2) w16(r, v); else w32(r, v);
}
@inline export function memRd(size: u32, s: u32, off: u32): u32 { return size == 1 ? rd8(s, off) : size == 2 ? rd16(s, off) : rd32(s, off); }
@inline export function memWr(size: u32, s: u32, off: u32, v: u32): void {
  if (size == 1) wr8(s, off, v); else if (size == 2) wr16(s, off, v); else wr32(s, off, v);
}
@inline export function rmRd(size: u32): u32 { return mrMod == 3 ? regRd(size, mrRm) : memRd(size, eaSeg, ea); }
@inline export function rmWr(size: u32, v: u32): void { if (mrMod == 3) regWr(size, mrRm, v); else memWr(size, eaSeg, ea, v); }
/** Read the r/m operand of a read-modify-write; for memory the later rmWr cannot fault. */
@inline export function rmRmw(size: u32): u32 { return mrMod == 3 ? regRd(size, mrRm) : rdRmw(eaSeg, ea, size); }
@inline export function mask(size: u32): u32 { return size == 4 ? 0xFFFFFFFF : size == 2 ? 0xFFFF : 0xFF; }
@inline export function sext(size: u32, v: u32): u32 { return size == 1 ? <u32>(<i32><i8>v) : size == 2 ? <u32>(<i32><i16>v) : v; }

// ---- stack (SS:ESP, or SS:SP for a 16-bit stack segment) ----
@inline export function stack32(): bool { return (segOk(SEG_SS) & 8) != 0; }
@inline export function spGet(): u32 { return stack32() ? r32(ESP) : r16(ESP); }
@inline export function spSet(v: u32): void { if (stack32()) w32(ESP, v); else w16(ESP, v); }
@inline export function spMask(v: u32): u32 { return stack32() ? v : v & 0xFFFF; }

/** push of `size` bytes; ESP changes only if the write succeeds. */
@inline export function push(size: u32, v: u32): void {
  const sp = spMask(spGet() - size);
  memWr(size, SEG_SS, sp, v);
  if (abort) return;
  spSet(sp);
}
/** Read the value `pop` would return, without moving ESP (commit with popCommit). */
@inline export function popPeek(size: u32): u32 { return memRd(size, SEG_SS, spGet()); }
@inline export function popCommit(size: u32): void { spSet(spMask(spGet() + size)); }
@inline export function pop(size: u32): u32 {
  const v = popPeek(size);
  if (abort) return 0;
  popCommit(size);
  return v;
}
