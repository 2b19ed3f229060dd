// ops/string.ts — movs cmps scas lods stos with REP/REPE/REPNE and DF.
//
// REP is interruptible at iteration boundaries, as on hardware (SDM Vol. 1 §7.3.9.2 / Vol. 2 "REP"): one
// execution runs a *unit* of at most REP_CHUNK iterations, then, if iterations are left, leaves EIP on the
// instruction with ESI/EDI/ECX updated (setRepIncomplete), so interrupts, the instruction budget, time slices
// and host exits are honoured between units, and the next run resumes it. Accounting (cpu.ts): every unit counts
// as one retired instruction — the last one included — so a REP over N elements in RAM retires ceil(N / 4096)
// (1 when N = 0), `--max-instructions` bounds the work, and RDTSC (the retired count) stays deterministic: the
// interpreter and compiled blocks (which run REP through jitExec) cut units at the same iterations. A unit also
// ends early after an iteration that wrote to MMIO or port I/O (the host sees each device access before the
// next) or consumed a completed host read (the read log then holds only that iteration's reads).
import { watchArmed, dbgHitPending } from "../debug";
import { FLAG_DF, SEG_ES, REP_UNIT_ITERATIONS } from "../abi";
import { abort, r32, w32, setEip, ip0, repPrefix, ECX, ESI, EDI, EAX, exitAfter } from "../state";
import { aRd, aWr } from "../state";
import { memRd, memWr, regRd, regWr, dataSeg } from "../decode";
import { flagsReg, getZF } from "../flags";
import { alu } from "./alu";
import { setRepIncomplete } from "../cpu";
import { cpl, a16, segBase, segLimit } from "../state";
import { replaying } from "../iolog";
import { segOk, tlbR, tlbW, translate, checkWritable, mmioHit } from "../mmu";

// ---- bulk REP STOS / MOVS: a page at a time straight in guest RAM ----
// Valid when DF=0 with 32-bit addressing on an expand-up segment: the elements that fit in the current page
// (and the segment limit) are done at once after one translation; the first element's fault, MMIO, page
// crossings and overlapping copies fall back to the element-by-element loop, so the results are the same.
let bulkHost: u32 = 0;
function bulkSpan(seg: u32, off: u32, size: u32, count: u32, write: bool): u32 {
  const ok = segOk(seg);
  if ((ok & (write ? 6 : 5)) != (write ? 2 : 1)) return 0;
  const lim = segLimit(seg);
  if (off > lim) return 0;
  let n = count;
  const byLimit: u64 = (<u64>lim - <u64>off + 1) / <u64>size;
  if (<u64>n > byLimit) n = <u32>byLimit;
  const lin = segBase(seg) + off;
  const room: u32 = (<u32>0x1000 - (lin & 0xFFF)) / size;
  if (n > room) n = room;
  if (n == 0) return 0;
  const e = (write ? tlbW : tlbR) + (((lin >>> 12) & 1023) << 4);
  let add: u32;
  if (load<u32>(e) == lin >>> 12) add = load<u32>(e, 4);
  else {
    const user = cpl == 3;
    if (write) { checkWritable(lin, n * size, user); if (abort) return 0; }
    add = translate(lin, write, user);
    if (abort || mmioHit) { if (abort) return 0; return 0; }
  }
  bulkHost = lin + add;
  return n;
}
// (not while a data breakpoint is armed: the element loop reports each access to the debug unit)
@inline function bulkOk(): bool { return !a16 && !(flagsReg & FLAG_DF) && !watchArmed; }

// iterations the bulk path completed in this unit (the element loop goes on counting from there)
let bulkDone: u32 = 0;
@inline function unitLeft(c: u32, done: u32): u32 { const l = REP_CHUNK - done; return c < l ? c : l; }
/** `bytes` bytes at host address h filled with the `size`-byte element v, at memory speed (memory.fill/copy). */
function fillPattern(h: u32, v: u32, size: u32, bytes: u32): void {
  const b = v & 0xFF;
  if (size == 1 || v == b * (size == 4 ? 0x01010101 : 0x0101)) { memory.fill(h, <u8>b, bytes); return; }
  if (size == 2) store<u16>(h, <u16>v); else store<u32>(h, v);
  let done = size; // then doubling copies of what is already there
  while (done < bytes) {
    const c = bytes - done < done ? bytes - done : done;
    memory.copy(h + done, h, c);
    done += c;
  }
}
function stosBulk(size: u32): bool {
  let done: u32 = 0;
  bulkDone = 0;
  const v = regRd(size, EAX);
  while (aRd(ECX) != 0) {
    const n = bulkSpan(SEG_ES, aRd(EDI), size, unitLeft(aRd(ECX), done), true);
    if (abort) return true;
    if (n == 0) { bulkDone = done; return false; } // the element-by-element loop takes it from here
    const h = bulkHost;
    fillPattern(h, v, size, n * size);
    aWr(EDI, aRd(EDI) + n * size);
    aWr(ECX, aRd(ECX) - n);
    done += n;
    if (done >= REP_CHUNK && aRd(ECX) != 0) { setEip(ip0); setRepIncomplete(true); return true; }
  }
  return true;
}
function movsBulk(size: u32): bool {
  let done: u32 = 0;
  bulkDone = 0;
  const src = dataSeg();
  while (aRd(ECX) != 0) {
    const ns = bulkSpan(src, aRd(ESI), size, unitLeft(aRd(ECX), done), false);
    if (abort) return true;
    if (ns == 0) { bulkDone = done; return false; }
    const hs = bulkHost;
    const nd = bulkSpan(SEG_ES, aRd(EDI), size, ns, true);
    if (abort) return true;
    if (nd == 0) { bulkDone = done; return false; }
    const hd = bulkHost;
    const bytes = nd * size;
    if (hd > hs && hd - hs < bytes) { bulkDone = done; return false; } // a forward copy onto itself repeats bytes: element by element
    memory.copy(hd, hs, bytes);
    aWr(ESI, aRd(ESI) + bytes);
    aWr(EDI, aRd(EDI) + bytes);
    aWr(ECX, aRd(ECX) - nd);
    done += nd;
    if (done >= REP_CHUNK && aRd(ECX) != 0) { setEip(ip0); setRepIncomplete(true); return true; }
  }
  return true;
}

const REP_CHUNK: u32 = REP_UNIT_ITERATIONS;

@inline function delta(size: u32): u32 { return (flagsReg & FLAG_DF) ? 0 - size : size; }

/** After iteration n of this unit (ECX already decremented to c): true when the unit must end here. */
@inline function unitEnds(n: u32): bool {
  // the unit is full, an element went to the host (it sees each device access before the next one), or this
  // iteration consumed completed host reads (the next iteration's reads must not find them in the log), or an
  // element hit a data breakpoint: its #DB is taken between iterations (EIP on the REP, SDM 17.3.1.2)
  if (n >= REP_CHUNK || exitAfter != 0xFFFFFFFF || replaying || (watchArmed && dbgHitPending())) { setEip(ip0); setRepIncomplete(true); return true; }
  return false;
}
/** After an iteration: decrement ECX; returns true when the REP loop must stop. */
@inline function repStep(n: u32): bool {
  const c = aRd(ECX) - 1;
  aWr(ECX, c);
  if (c == 0) return true;
  return unitEnds(n);
}

export function op_movs(size: u32): void {
  const d = delta(size);
  const src = dataSeg();
  if (!repPrefix) {
    const v = memRd(size, src, aRd(ESI)); if (abort) return;
    memWr(size, SEG_ES, aRd(EDI), v); if (abort) return;
    aWr(ESI, aRd(ESI) + d); aWr(EDI, aRd(EDI) + d);
    return;
  }
  if (aRd(ECX) == 0) return;
  bulkDone = 0;
  if (bulkOk() && movsBulk(size)) return;
  if (abort || aRd(ECX) == 0) return;
  for (let n: u32 = bulkDone + 1; ; n++) {
    const v = memRd(size, src, aRd(ESI)); if (abort) return;
    memWr(size, SEG_ES, aRd(EDI), v); if (abort) return;
    aWr(ESI, aRd(ESI) + d); aWr(EDI, aRd(EDI) + d);
    if (repStep(n)) return;
  }
}
export function op_stos(size: u32): void {
  const d = delta(size);
  const v = regRd(size, EAX);
  if (!repPrefix) { memWr(size, SEG_ES, aRd(EDI), v); if (abort) return; aWr(EDI, aRd(EDI) + d); return; }
  if (aRd(ECX) == 0) return;
  bulkDone = 0;
  if (bulkOk() && stosBulk(size)) return;
  if (abort || aRd(ECX) == 0) return;
  for (let n: u32 = bulkDone + 1; ; n++) {
    memWr(size, SEG_ES, aRd(EDI), v); if (abort) return;
    aWr(EDI, aRd(EDI) + d);
    if (repStep(n)) return;
  }
}
export function op_lods(size: u32): void {
  const d = delta(size);
  const src = dataSeg();
  if (!repPrefix) { const v = memRd(size, src, aRd(ESI)); if (abort) return; regWr(size, EAX, v); aWr(ESI, aRd(ESI) + d); return; }
  if (aRd(ECX) == 0) return;
  for (let n: u32 = 1; ; n++) {
    const v = memRd(size, src, aRd(ESI)); if (abort) return;
    regWr(size, EAX, v);
    aWr(ESI, aRd(ESI) + d);
    if (repStep(n)) return;
  }
}
/** cmps: compares [ESI] with ES:[EDI] (flags of src - dst); REPE stops on ZF=0, REPNE on ZF=1. */
export function op_cmps(size: u32): void {
  const d = delta(size);
  const src = dataSeg();
  if (!repPrefix) {
    const a = memRd(size, src, aRd(ESI)); if (abort) return;
    const b = memRd(size, SEG_ES, aRd(EDI)); if (abort) return;
    alu(7, size, a, b);
    aWr(ESI, aRd(ESI) + d); aWr(EDI, aRd(EDI) + d);
    return;
  }
  if (aRd(ECX) == 0) return;
  const wantZ: bool = repPrefix == 0xF3;
  for (let n: u32 = 1; ; n++) {
    const a = memRd(size, src, aRd(ESI)); if (abort) return;
    const b = memRd(size, SEG_ES, aRd(EDI)); if (abort) return;
    alu(7, size, a, b);
    aWr(ESI, aRd(ESI) + d); aWr(EDI, aRd(EDI) + d);
    const c = aRd(ECX) - 1;
    aWr(ECX, c);
    if (c == 0 || (getZF() != 0) != wantZ) return;
    if (unitEnds(n)) return;
  }
}
export function op_scas(size: u32): void {
  const d = delta(size);
  const a = regRd(size, EAX);
  if (!repPrefix) {
    const b = memRd(size, SEG_ES, aRd(EDI)); if (abort) return;
    alu(7, size, a, b);
    aWr(EDI, aRd(EDI) + d);
    return;
  }
  if (aRd(ECX) == 0) return;
  const wantZ: bool = repPrefix == 0xF3;
  for (let n: u32 = 1; ; n++) {
    const b = memRd(size, SEG_ES, aRd(EDI)); if (abort) return;
    alu(7, size, a, b);
    aWr(EDI, aRd(EDI) + d);
    const c = aRd(ECX) - 1;
    aWr(ECX, c);
    if (c == 0 || (getZF() != 0) != wantZ) return;
    if (unitEnds(n)) return;
  }
}
