// exitpath.ts — the exit round trip's CPU side (issue 11, branch exit-rt): what run() entry and the exit record
// can skip when nothing changed.
//
// Segment caches: enter() derived the per-segment rights (mmu.ts computeSegOk), the TLB set for the CPL and a new
// block-link epoch from the six segment registers at every run() — but a monitor's round trip changes none of them
// most of the time. leave() keeps a copy of the segment words; enter() recomputes only when the host changed one
// (translation changes bump the epoch themselves: flushTlb, invlpg). Guest mode (VMX) always recomputes.
//
// The exit's instruction: the record the instruction ran from (a predecoded block's, or TMP_REC for one run
// without a block) is the decoder's output for it, so fillExitInfo (decodeat.ts) copies it instead of fetching
// and decoding the bytes again. Set where an instruction aborts (cpu.ts runBlock / jitExec / an uncached
// instruction), cleared when the abort did not end run() (a fault delivered to the guest) and at every entry.
import { STATE_BASE, OFF_SEGS, SEG_STRIDE, OFF_VMX_ON, OFF_EXIT_FROM_REC, OFF_EXIT_REDECODED, OFF_ENTRY_SEGS } from "./abi";
import { st, setSt } from "./state";

const SEG_BYTES: u32 = 6 * SEG_STRIDE;
const COPY: usize = memory.data(96, 16);
let copyValid = false;

/** run() entry: are the segment registers (selector and hidden cache) what they were at the last leave()? */
export function segsUnchanged(): bool {
  if (!copyValid || st(OFF_VMX_ON) != 0) return false;
  const a = STATE_BASE + OFF_SEGS;
  for (let i: u32 = 0; i < SEG_BYTES; i += 8) if (load<u64>(a + i) != load<u64>(COPY + i)) return false;
  return true;
}
/** enter() recomputed the caches from the segments */
export function segsRecomputed(): void { setSt(OFF_ENTRY_SEGS, st(OFF_ENTRY_SEGS) + 1); }
/** leave(): remember the segments the caches were computed from (the CPU recomputes on every load it makes) */
export function keepSegs(): void {
  if (st(OFF_VMX_ON) != 0) { copyValid = false; return; }
  memory.copy(COPY, STATE_BASE + OFF_SEGS, SEG_BYTES);
  copyValid = true;
}

/** the record of the instruction that aborted last (0: none) and its EIP */
export let exitRec: u32 = 0;
export let exitRecAt: u32 = 0;
@inline export function setExitRec(r: u32, at: u32): void { exitRec = r; exitRecAt = at; }
export function clearExitRec(): void { exitRec = 0; }
export function countExitRec(fromRecord: bool): void {
  const off = fromRecord ? OFF_EXIT_FROM_REC : OFF_EXIT_REDECODED;
  setSt(off, st(off) + 1);
}

/** reset() / stateLoaded(): nothing is known about the segments; reset() also zeroes the counters */
export function exitPathReset(counters: bool): void {
  copyValid = false;
  exitRec = 0;
  if (counters) { setSt(OFF_EXIT_FROM_REC, 0); setSt(OFF_EXIT_REDECODED, 0); setSt(OFF_ENTRY_SEGS, 0); }
}
