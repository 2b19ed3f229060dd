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
import { STATE_BASE, OFF_SEGS, OFF_VMX_ON, OFF_EXIT_FROM_REC, OFF_EXIT_REDECODED, OFF_ENTRY_SEGS } from "./abi";
import { st, setSt } from "./state";

// (the copy lives in globals, not memory: the module's data and every byte outside guest RAM but the STATE block
// stay constant — the fuzzers check that)
let copyValid = false;
let g0: u64 = 0, g1: u64 = 0, g2: u64 = 0, g3: u64 = 0, g4: u64 = 0, g5: u64 = 0;
let g6: u64 = 0, g7: u64 = 0, g8: u64 = 0, g9: u64 = 0, g10: u64 = 0, g11: u64 = 0;
const SEGS: u32 = STATE_BASE + OFF_SEGS; // 6 x SEG_STRIDE (16) bytes: selector, base, limit, attributes

/** run() entry: are the segment registers (selector and hidden cache) what they were at the last leave()? */
export function segsUnchanged(): bool {
  if (!copyValid || st(OFF_VMX_ON) != 0) return false;
  return load<u64>(SEGS) == g0 && load<u64>(SEGS, 8) == g1 && load<u64>(SEGS, 16) == g2 && load<u64>(SEGS, 24) == g3 &&
    load<u64>(SEGS, 32) == g4 && load<u64>(SEGS, 40) == g5 && load<u64>(SEGS, 48) == g6 && load<u64>(SEGS, 56) == g7 &&
    load<u64>(SEGS, 64) == g8 && load<u64>(SEGS, 72) == g9 && load<u64>(SEGS, 80) == g10 && load<u64>(SEGS, 88) == g11;
}
/** enter() recomputed the caches from the segments */
export function segsRecomputed(): void { setSt(OFF_ENTRY_SEGS, st(OFF_ENTRY_SEGS) + 1); }
/** leave(): remember the segments the caches were computed from (the CPU recomputes on every load it makes) */
export function keepSegs(): void {
  if (st(OFF_VMX_ON) != 0) { copyValid = false; return; }
  g0 = load<u64>(SEGS); g1 = load<u64>(SEGS, 8); g2 = load<u64>(SEGS, 16); g3 = load<u64>(SEGS, 24);
  g4 = load<u64>(SEGS, 32); g5 = load<u64>(SEGS, 40); g6 = load<u64>(SEGS, 48); g7 = load<u64>(SEGS, 56);
  g8 = load<u64>(SEGS, 64); g9 = load<u64>(SEGS, 72); g10 = load<u64>(SEGS, 80); g11 = load<u64>(SEGS, 88);
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
