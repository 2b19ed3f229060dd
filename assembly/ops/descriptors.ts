// ops/descriptors.ts — reading and decoding segment descriptors (SDM Vol. 3A §3.4.5).
//
//  63      56 55 54 53 52 51   48 47 46 45 44 43   40 39       32
// +----------+--+--+--+--+-------+--+-----+--+-------+-----------+
// |base 31:24|G |DB|L |AV|lim19:16|P | DPL |S | type  |base 23:16 |   high dword
// +----------+--+--+--+--+-------+--+-----+--+-------+-----------+
// |         base 15:0            |          limit 15:0           |   low dword
// +------------------------------+-------------------------------+
import { OFF_GDTR_BASE, OFF_GDTR_LIMIT, OFF_LDTR, SEG_BASE, SEG_LIMIT, SEG_ATTR } from "../abi";
import { st, setPending, abort } from "../state";
import { sysRd32, sysWr32 } from "../mmu";

export let dLo: u32 = 0;
export let dHi: u32 = 0;
export let dAddr: u32 = 0;

export function setDescRegs(lo: u32, hi: u32, addr: u32): void { dLo = lo; dHi = hi; dAddr = addr; }

/** Read the descriptor `sel` names into dLo/dHi; outside its table raises `vec`(sel & ~3 | ext). */
export function readDesc(sel: u32, vec: u32, ext: u32): bool {
  const idx = sel & 0xFFF8;
  let base: u32, limit: u32;
  if (sel & 4) {
    if (!(st(OFF_LDTR + SEG_ATTR) & 0x80)) { setPending(vec, (sel & 0xFFFC) | ext, true); return false; }
    base = st(OFF_LDTR + SEG_BASE);
    limit = st(OFF_LDTR + SEG_LIMIT);
  } else {
    base = st(OFF_GDTR_BASE);
    limit = st(OFF_GDTR_LIMIT);
  }
  if (<u64>idx + 7 > <u64>limit) { setPending(vec, (sel & 0xFFFC) | ext, true); return false; }
  dAddr = base + idx;
  dLo = sysRd32(dAddr);
  if (abort) return false;
  dHi = sysRd32(dAddr + 4);
  return !abort;
}
/** Attribute word as kept in the segment cache: type|S|DPL|P in bits 0..7, AVL|L|DB|G in bits 12..15. */
@inline export function descAttr(hi: u32): u32 { return (hi >> 8) & 0xF0FF; }
@inline export function descBase(lo: u32, hi: u32): u32 { return (lo >>> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000); }
@inline export function descLimit(lo: u32, hi: u32): u32 {
  const l = (lo & 0xFFFF) | (hi & 0xF0000);
  return (hi & 0x800000) ? (l << 12) | 0xFFF : l;
}
@inline export function descDpl(hi: u32): u32 { return (hi >> 13) & 3; }
/** Set the accessed bit of a code/data descriptor, as the processor does on a segment load. */
export function setAccessed(): void {
  if ((dHi & 0x1000) && !(dHi & 0x100)) { dHi |= 0x100; sysWr32(dAddr + 4, dHi); }
}
