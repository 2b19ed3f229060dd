// iolog.ts — completions of host reads (IN, MMIO read) for the instruction being restarted.
//
// A read that needs the host exits before the instruction completes; the host stores the value and sets
// OFF_IO_COMPLETE, and the next run() re-executes the instruction. One instruction can need several reads
// (a page-crossing MMIO access, RMW on MMIO, INS), so completions accumulate in this log while the same
// instruction restarts, and every read first looks here. The log is cleared as soon as that instruction
// completes or faults, so a later read of the same address (a polling loop) exits again.
import {
  STATE_BASE, OFF_IO_COMPLETE, OFF_EXIT_VALUE, OFF_EXIT_REASON, OFF_EXIT_PORT, OFF_EXIT_SIZE, EXIT_IO_IN,
  AREA_IOLOG, IOLOG_MAX, IOLOG_HDR, IOLOG_ENTRY,
} from "./abi";
import { st, setSt, setAbort, ABORT_EXIT } from "./state";

const LOG: u32 = STATE_BASE + AREA_IOLOG; // count, then MAX entries of {kind, addr, size, value} (abi.ts)
const MAX: u32 = IOLOG_MAX;
export const KIND_IO: u32 = 1;
export const KIND_MMIO: u32 = 2;

/** true while the restarted instruction runs (the run loop runs it alone, before any interrupt) */
export let replaying: bool = false;

/** At run() entry: take the host's completion into the log, or start a fresh log. */
export function ioLogEnter(): void {
  if (st(OFF_IO_COMPLETE)) {
    setSt(OFF_IO_COMPLETE, 0);
    const n = load<u32>(LOG);
    if (n < MAX) {
      const e = LOG + IOLOG_HDR + n * IOLOG_ENTRY;
      store<u32>(e, st(OFF_EXIT_REASON) == EXIT_IO_IN ? KIND_IO : KIND_MMIO);
      store<u32>(e, st(OFF_EXIT_PORT), 4);
      store<u32>(e, st(OFF_EXIT_SIZE), 8);
      store<u32>(e, st(OFF_EXIT_VALUE), 12);
      store<u32>(LOG, n + 1);
    }
    replaying = true;
  } else ioLogClear();
}
export function ioLogClear(): void { store<u32>(LOG, 0); replaying = false; }

export let logValue: u32 = 0;
/** A completed read of `addr` in the log (value in logValue)? Never exits. */
export function logLookup(kind: u32, addr: u32, size: u32): bool {
  const n = load<u32>(LOG);
  for (let i: u32 = 0; i < n; i++) {
    const e = LOG + IOLOG_HDR + i * IOLOG_ENTRY;
    if (load<u32>(e) == kind && load<u32>(e, 4) == addr && load<u32>(e, 8) == size) { logValue = load<u32>(e, 12); return true; }
  }
  return false;
}
/** A read the CPU completed itself (apic.ts): logged as a host completion would be, for the restart to take. */
export function logAppend(kind: u32, addr: u32, size: u32, value: u32): void {
  const n = load<u32>(LOG);
  if (n < MAX) {
    const e = LOG + IOLOG_HDR + n * IOLOG_ENTRY;
    store<u32>(e, kind); store<u32>(e, addr, 4); store<u32>(e, size, 8); store<u32>(e, value, 12);
    store<u32>(LOG, n + 1);
  }
  replaying = true;
}
/**
 * A host read of `size` bytes at `addr`: true with the value in logValue if the host already answered it;
 * otherwise records the exit (reason/port/size) and aborts the instruction for a restart, returning false.
 * With a full log the read floats high (all-ones) instead of exiting forever.
 */
export function hostRead(kind: u32, reason: u32, addr: u32, size: u32): bool {
  const n = load<u32>(LOG);
  for (let i: u32 = 0; i < n; i++) {
    const e = LOG + IOLOG_HDR + i * IOLOG_ENTRY;
    if (load<u32>(e) == kind && load<u32>(e, 4) == addr && load<u32>(e, 8) == size) {
      const v = load<u32>(e, 12);
      logValue = size == 4 ? v : v & ((<u32>1 << (size * 8)) - 1);
      return true;
    }
  }
  if (n >= MAX) { logValue = size == 4 ? 0xFFFFFFFF : (<u32>1 << (size * 8)) - 1; return true; }
  setSt(OFF_EXIT_REASON, reason);
  setSt(OFF_EXIT_PORT, addr);
  setSt(OFF_EXIT_SIZE, size);
  setAbort(ABORT_EXIT);
  return false;
}
