// ops/rules.ts — protection rules as pure functions of descriptor words, selectors and privilege levels, with
// no memory access and no CPU state: the CPU (system.ts, interrupt.ts) applies them to its own state, and the
// full-mode monitor calls the same exports (index.ts) for its virtual CPU, so each rule exists once.
// Fault results are encoded as (vector << 16) | error code, 0 = allowed.
import { VEC_GP, VEC_NP, VEC_SS, VEC_TS, SEG_SS } from "../abi";

@inline function fault(vec: u32, err: u32): u32 { return (vec << 16) | (err & 0xFFFF); }

/**
 * Where the stack pointer for privilege `n` sits in a TSS (SDM Vol. 3A 7.2.1 / 7.6): a 32-bit TSS (attr bit 3)
 * keeps ESPn at 4 + 8n and SSn at 8 + 8n, a 16-bit TSS SPn at 2 + 4n and SSn at 4 + 4n. Returns the offset of
 * ESPn/SPn, or -1 when TR is not present or the slot is not inside the TSS limit (#TS(TR selector)).
 */
export function tssStackSlot(attr: u32, limit: u32, n: u32): i32 {
  if (!(attr & 0x80)) return -1;
  if (attr & 8) {
    const off = 4 + 8 * n;
    return <u64>off + 5 > <u64>limit ? -1 : <i32>off;
  }
  const off = 2 + 4 * n;
  return <u64>off + 3 > <u64>limit ? -1 : <i32>off;
}

/** The new-SS checks of an inward CALL / interrupt (descriptor high word `hi`): 0, or #TS / #SS(sel). */
export function newSsCheck(sel: u32, hi: u32, newCpl: u32, ext: u32): u32 {
  if ((sel & 0xFFFC) == 0) return fault(VEC_TS, ext);
  const attr = (hi >> 8) & 0xF0FF;
  const err = (sel & 0xFFFC) | ext;
  if ((sel & 3) != newCpl || ((hi >> 13) & 3) != newCpl || (attr & 0x1A) != 0x12) return fault(VEC_TS, err);
  if (!(attr & 0x80)) return fault(VEC_SS, err);
  return 0;
}

/** MOV/POP/LDS-family checks for loading segment register `s` with non-null `sel` (descriptor word `hi`) at `cpl`. */
export function dataSegCheck(s: u32, sel: u32, hi: u32, cpl: u32): u32 {
  const attr = (hi >> 8) & 0xF0FF;
  const dpl = (hi >> 13) & 3;
  const rpl = sel & 3;
  const err = sel & 0xFFFC;
  if (s == SEG_SS) {
    if (rpl != cpl || !(attr & 0x10) || (attr & 0x8) || !(attr & 2) || dpl != cpl) return fault(VEC_GP, err);
    if (!(attr & 0x80)) return fault(VEC_SS, err);
    return 0;
  }
  if (!(attr & 0x10) || ((attr & 0xA) == 0x8)) return fault(VEC_GP, err); // system or execute-only code
  if (!(attr & 0x8) || !(attr & 4)) { // data and non-conforming code need DPL >= max(CPL, RPL)
    if (dpl < cpl || dpl < rpl) return fault(VEC_GP, err);
  }
  if (!(attr & 0x80)) return fault(VEC_NP, err);
  return 0;
}

/** LAR (isLsl = false) / LSL: may a program at `cpl` read this descriptor's rights/limit through `sel`? */
export function larLslOk(sel: u32, hi: u32, cpl: u32, isLsl: bool): bool {
  const attr = (hi >> 8) & 0xF0FF;
  const dpl = (hi >> 13) & 3;
  const conformingCode = (attr & 0x1C) == 0x1C;
  let typeOk: bool;
  if (attr & 0x10) typeOk = true;
  else {
    const t = attr & 0xF;
    typeOk = isLsl ? (t == 1 || t == 2 || t == 3 || t == 9 || t == 11)
                   : (t == 1 || t == 2 || t == 3 || t == 4 || t == 5 || t == 9 || t == 11 || t == 12);
  }
  return typeOk && (conformingCode || (dpl >= cpl && dpl >= (sel & 3)));
}

/** VERR (write = false) / VERW: is the segment readable / writable at `cpl` through `sel`? */
export function verOk(sel: u32, hi: u32, cpl: u32, write: bool): bool {
  const attr = (hi >> 8) & 0xF0FF;
  const dpl = (hi >> 13) & 3;
  if (!(attr & 0x10)) return false;
  const code = (attr & 8) != 0;
  const conforming = code && (attr & 4) != 0;
  const privOk = conforming || (dpl >= cpl && dpl >= (sel & 3));
  return write ? !code && (attr & 2) != 0 && privOk : (!code || (attr & 2) != 0) && privOk;
}

/** Contributory exceptions (SDM Vol. 3A table 6-4): #DE, #TS, #NP, #SS, #GP. */
@inline function contributory(v: u32): bool { return v == 0 || (v >= 10 && v <= 13); }
/** Does exception `second`, raised while delivering `first`, become a double fault (SDM Vol. 3A table 6-5)? */
export function isDoubleFault(first: u32, second: u32): bool {
  return (contributory(first) && contributory(second)) || (first == 14 && (second == 14 || contributory(second)));
}
/** Fault-class exceptions: the frame's EFLAGS has RF=1 (SDM 17.3.1.1) and EIP points at the instruction. */
export function isFaultVector(v: u32): bool {
  return v == 0 || v == 5 || v == 6 || v == 7 || (v >= 10 && v <= 14) || v == 16 || v == 17;
}
