// ops/io.ts — in/out/ins/outs. Port I/O always exits to the host (kvm_run style):
// OUT completes the instruction and exits with the value; IN exits first, the host stores the value in
// the exit record and sets OFF_IO_COMPLETE, and the restarted IN consumes it.
// At CPL > IOPL, access needs the TSS I/O permission bitmap to allow every byte of the port range.
import {
  FLAG_DF, FLAG_IOPL, VEC_GP, SEG_ES, OFF_TR, SEG_BASE, SEG_LIMIT, SEG_ATTR, OFF_IO_COMPLETE, OFF_EXIT_VALUE,
  OFF_EXIT_REASON, OFF_EXIT_PORT, OFF_EXIT_SIZE, EXIT_IO_IN, EXIT_IO_OUT,
  OFF_IO_BATCH_CTRL, OFF_IO_BATCH_COUNT, OFF_IO_BATCH_DATA, IO_BUF_BASE, REP_UNIT_ITERATIONS, OFF_CR2, FLAG_TF, RAM_BASE,
} from "../abi";
import {
  abort, setPending, cpl, st, setSt, r32, w32, setEip, ip0, repPrefix, ECX, ESI, EDI, EAX, setAbort, ABORT_EXIT,
  setExitAfter, a16,
} from "../state";
import { aRd, aWr } from "../state";
import { regRd, regWr, memRd, memWr, dataSeg } from "../decode";
import { flagsReg } from "../flags";
import { hostRead, logValue, KIND_IO, replaying } from "../iolog";
import { sysRd16, segAddr, checkWritable, segOk, translate, mmioHit } from "../mmu";
import { segLimit } from "../state";
import { watchArmed } from "../debug";
import { setRepIncomplete } from "../cpu";
import { ioMapBaseSlot, ioBitmapSlot, ioBitsAllow } from "./rules";

/** SDM Vol. 1 §19.5: I/O permission bit map, checked only when CPL > IOPL. */
export function ioAllowed(port: u32, size: u32): bool {
  if (cpl <= ((flagsReg & FLAG_IOPL) >> 12)) return true;
  // the bitmap rules are shared with the full-mode monitor (rules.ts); this function does the reads
  const base = st(OFF_TR + SEG_BASE);
  const limit = st(OFF_TR + SEG_LIMIT);
  const mb = ioMapBaseSlot(st(OFF_TR + SEG_ATTR), limit); // a present 32-bit TSS covering the map base
  if (mb < 0) return false;
  const mapBase = sysRd16(base + <u32>mb);
  if (abort) return false;
  const slot = ioBitmapSlot(mapBase, port, limit);
  if (slot < 0) return false;
  const bits = sysRd16(base + <u32>slot);
  if (abort) return false;
  return ioBitsAllow(bits, port, size);
}
@inline function checkIo(port: u32, size: u32): bool {
  if (ioAllowed(port, size)) return true;
  if (!abort) setPending(VEC_GP, 0, true);
  return false;
}
@inline function sizeMask(size: u32): u32 { return size == 4 ? 0xFFFFFFFF : (<u32>1 << (size * 8)) - 1; }

/** Returns the value read if the host has completed this IN; otherwise requests an exit (abort) and returns 0. */
function portRead(port: u32, size: u32): u32 {
  return hostRead(KIND_IO, EXIT_IO_IN, port, size) ? logValue : 0;
}
function portWrite(port: u32, size: u32, v: u32): void {
  setSt(OFF_EXIT_REASON, EXIT_IO_OUT);
  setSt(OFF_EXIT_PORT, port);
  setSt(OFF_EXIT_SIZE, size);
  setSt(OFF_EXIT_VALUE, v & sizeMask(size));
  setExitAfter(EXIT_IO_OUT);
}

export function op_in(size: u32, port: u32): void {
  setSt(OFF_IO_BATCH_COUNT, 0);
  if (!checkIo(port, size)) return;
  const v = portRead(port, size);
  if (abort) return;
  regWr(size, EAX, v);
}
export function op_out(size: u32, port: u32): void {
  setSt(OFF_IO_BATCH_COUNT, 0);
  if (!checkIo(port, size)) return;
  portWrite(port, size, regRd(size, EAX));
}
@inline function delta(size: u32): u32 { return (flagsReg & FLAG_DF) ? 0 - size : size; }

// ---- REP INS/OUTS in batches (abi.ts OFF_IO_BATCH_*): one exit per run of elements, retired as one REP unit ----
@inline function batching(): bool {
  return repPrefix != 0 && st(OFF_IO_BATCH_CTRL) != 0 && !watchArmed && !(flagsReg & FLAG_TF); // (TF: a trap per element)
}
@inline function unitOf(c: u32): u32 { return c < REP_UNIT_ITERATIONS ? c : REP_UNIT_ITERATIONS; }
/** The unit is done: ECX counted down, EIP left on the instruction if elements remain, the exit after it. */
function batchExit(reason: u32, port: u32, size: u32, k: u32, data: u32): void {
  const c = aRd(ECX) - k;
  aWr(ECX, c);
  setSt(OFF_EXIT_REASON, reason);
  setSt(OFF_EXIT_PORT, port);
  setSt(OFF_EXIT_SIZE, size);
  setSt(OFF_EXIT_VALUE, size == 4 ? load<u32>(data) : size == 2 ? <u32>load<u16>(data) : <u32>load<u8>(data));
  setSt(OFF_IO_BATCH_COUNT, k);
  setSt(OFF_IO_BATCH_DATA, data);
  setExitAfter(reason);
  if (c != 0) { setEip(ip0); setRepIncomplete(true); }
}
/** rep outs: read up to a unit of elements into IO_BUF_BASE, stopping before one that faults or needs the host. */
function outsBatch(size: u32, port: u32): void {
  const n = unitOf(aRd(ECX));
  const d = delta(size), seg = dataSeg(), cr2 = st(OFF_CR2);
  let k: u32 = 0;
  while (k < n) {
    const v = memRd(size, seg, aRd(ESI));
    if (abort) {
      if (k == 0) return; // the first element's fault or host read: as for a single OUTS
      setAbort(0); // this element starts the next unit, which takes its fault (or exit) then; CR2 unchanged till then
      setSt(OFF_CR2, cr2);
      break;
    }
    const b = IO_BUF_BASE + k * size;
    if (size == 4) store<u32>(b, v); else if (size == 2) store<u16>(b, <u16>v); else store<u8>(b, <u8>v);
    aWr(ESI, aRd(ESI) + d);
    k++;
  }
  batchExit(EXIT_IO_OUT, port, size, k, IO_BUF_BASE);
}
/**
 * rep ins, DF=0, 32-bit addressing: the elements that fit in the destination's page (and segment) go to the host
 * in one exit, which stores them straight into that RAM. False when it does not apply (the element loop runs).
 */
function insBatch(size: u32, port: u32): bool {
  if (a16 || (flagsReg & FLAG_DF)) return false;
  const ok = segOk(SEG_ES);
  if ((ok & 6) != 2) return false; // writable, expand-up
  const off = aRd(EDI), lim = segLimit(SEG_ES);
  if (off > lim) return false;
  const lin = segAddr(SEG_ES, off, size, true);
  if (abort) return true;
  let n = unitOf(aRd(ECX));
  const byLimit: u64 = (<u64>lim - <u64>off + 1) / <u64>size;
  if (<u64>n > byLimit) n = <u32>byLimit;
  const room: u32 = (<u32>0x1000 - (lin & 0xFFF)) / size;
  if (room == 0) return false; // the first element straddles a page end
  if (n > room) n = room;
  const add = translate(lin, true, cpl == 3); // the destination is writable before the port is read (drops code there)
  if (abort) return true;
  if (mmioHit) return false;
  aWr(EDI, off + n * size);
  batchExit(EXIT_IO_IN, port, size, n, lin + add);
  return true;
}

/** ins: one element per host exit; REP leaves EIP on the instruction until ECX reaches 0. */
export function op_ins(size: u32): void {
  setSt(OFF_IO_BATCH_COUNT, 0);
  if (repPrefix && aRd(ECX) == 0) return;
  const port = regRd(2, 2);
  if (!checkIo(port, size)) return;
  if (batching() && !replaying && insBatch(size, port)) return;
  // the destination must be writable before the port is read (the read may have side effects)
  const lin = segAddr(SEG_ES, aRd(EDI), size, true);
  if (abort) return;
  checkWritable(lin, size, cpl == 3);
  if (abort) return;
  const v = portRead(port, size);
  if (abort) return;
  memWr(size, SEG_ES, aRd(EDI), v);
  if (abort) return;
  aWr(EDI, aRd(EDI) + delta(size));
  if (repPrefix) {
    const c = aRd(ECX) - 1;
    aWr(ECX, c);
    if (c != 0) { setEip(ip0); setRepIncomplete(true); }
  }
}
export function op_outs(size: u32): void {
  setSt(OFF_IO_BATCH_COUNT, 0);
  if (repPrefix && aRd(ECX) == 0) return;
  const port = regRd(2, 2);
  if (!checkIo(port, size)) return;
  if (batching()) { outsBatch(size, port); return; }
  const v = memRd(size, dataSeg(), aRd(ESI));
  if (abort) return;
  portWrite(port, size, v);
  aWr(ESI, aRd(ESI) + delta(size));
  if (repPrefix) {
    const c = aRd(ECX) - 1;
    aWr(ECX, c);
    if (c != 0) { setEip(ip0); setRepIncomplete(true); }
  }
}
