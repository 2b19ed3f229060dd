// ops/string.ts — movs cmps scas lods stos with REP/REPE/REPNE and DF.
// A REP instruction runs at most REP_CHUNK iterations per step, then leaves EIP on itself so that
// interrupts, the instruction budget and host exits are honoured between chunks, as hardware allows.
import { FLAG_DF, SEG_ES } from "../abi";
import { abort, r32, w32, setEip, ip0, repPrefix, ECX, ESI, EDI, EAX } from "../state";
import { aRd, aWr } from "../state";
import { memRd, memWr, regRd, regWr, dataSeg } from "../decode";
import { flagsReg, getZF } from "../flags";
import { alu } from "./alu";
import { setRepIncomplete } from "../cpu";

const REP_CHUNK: u32 = 4096;

@inline function delta(size: u32): u32 { return (flagsReg & FLAG_DF) ? 0 - size : size; }

/** After an iteration: decrement ECX; returns true when the REP loop must stop. */
@inline function repStep(n: u32): bool {
  const c = aRd(ECX) - 1;
  aWr(ECX, c);
  if (c == 0) return true;
  if (n >= REP_CHUNK) { setEip(ip0); setRepIncomplete(true); return true; }
  return false;
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
  for (let n: u32 = 1; ; n++) {
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
  for (let n: u32 = 1; ; n++) {
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
    if (n >= REP_CHUNK) { setEip(ip0); setRepIncomplete(true); return; }
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
    if (n >= REP_CHUNK) { setEip(ip0); setRepIncomplete(true); return; }
  }
}
