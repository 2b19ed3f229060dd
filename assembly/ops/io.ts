// ops/io.ts — in/out/ins/outs. Port I/O always exits to the host (kvm_run style):
// OUT completes the instruction and exits with the value; IN exits first, the host stores the value in
// the exit record and sets OFF_IO_COMPLETE, and the restarted IN consumes it.
// At CPL > IOPL, access needs the TSS I/O permission bitmap to allow every byte of the port range.
import {
  FLAG_DF, FLAG_IOPL, VEC_GP, SEG_ES, OFF_TR, SEG_BASE, SEG_LIMIT, SEG_ATTR, OFF_IO_COMPLETE, OFF_EXIT_VALUE,
  OFF_EXIT_REASON, OFF_EXIT_PORT, OFF_EXIT_SIZE, EXIT_IO_IN, EXIT_IO_OUT,
} from "../abi";
import {
  abort, setPending, cpl, st, setSt, r32, w32, setEip, ip0, repPrefix, ECX, ESI, EDI, EAX, setAbort, ABORT_EXIT,
  setExitAfter,
} from "../state";
import { aRd, aWr } from "../state";
import { regRd, regWr, memRd, memWr, dataSeg } from "../decode";
import { flagsReg } from "../flags";
import { hostRead, logValue, KIND_IO } from "../iolog";
import { sysRd16, segAddr, checkWritable } from "../mmu";
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
  if (!checkIo(port, size)) return;
  const v = portRead(port, size);
  if (abort) return;
  regWr(size, EAX, v);
}
export function op_out(size: u32, port: u32): void {
  if (!checkIo(port, size)) return;
  portWrite(port, size, regRd(size, EAX));
}
@inline function delta(size: u32): u32 { return (flagsReg & FLAG_DF) ? 0 - size : size; }

/** ins: one element per host exit; REP leaves EIP on the instruction until ECX reaches 0. */
export function op_ins(size: u32): void {
  if (repPrefix && aRd(ECX) == 0) return;
  const port = regRd(2, 2);
  if (!checkIo(port, size)) return;
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
  if (repPrefix && aRd(ECX) == 0) return;
  const port = regRd(2, 2);
  if (!checkIo(port, size)) return;
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
