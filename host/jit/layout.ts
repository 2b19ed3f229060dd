// jit/layout.ts — what every emitter of a compiled block shares: the imported helpers (their indices and types) and
// the wasm locals of the block function.
import * as A from "../abi.generated.ts";
import { I32 } from "./wasm.ts";

// imported helpers, in import order (function indices)
export const H = { rd32: 0, rd8: 1, wr32: 2, cf: 3, cond: 4, flags: 5, shift: 6, gp: 7, exec: 8, wr8: 9, shadow: 10 } as const;
export const HELPERS = ["jitRd32", "jitRd8", "jitWr32", "jitCF", "jitCond", "jitFlags", "jitShift", "jitGP", "jitExec", "jitWr8", "jitShadow"] as const;
export const TYPES = [
  { params: [], results: [I32] },                                  // 0: the block
  { params: [I32, I32], results: [I32] },                          // 1: rd32, rd8
  { params: [I32, I32, I32], results: [] },                        // 2: wr32
  { params: [I32, I32, I32, I32, I32, I32], results: [I32] },      // 3: cf, flags
  { params: [I32, I32, I32, I32, I32, I32, I32], results: [I32] }, // 4: cond
  { params: [I32, I32, I32, I32], results: [I32] },                // 5: shift
  { params: [], results: [] },                                     // 6: gp
];
export const HELPER_TYPES = [1, 1, 2, 3, 4, 3, 5, 6, 5, 2, 6];

// locals: 0..7 registers, then the rest
export const L = {
  E0: 8, fl: 9, lop: 10, la: 11, lb: 12, lr: 13, ltop: 14, count: 15, budget: 16, t0: 17, t1: 18, cs: 19, t2: 20,
  tlbR: 21, tlbW: 22, addr: 23,
  /** the last STI run inline set the interrupt shadow (emit-sys.ts) */
  sh: 24,
  /** an exit's status, EIP and instructions retired, for the shared tail (compiler.ts exit) */
  xs: 25, xe: 26, xd: 27,
} as const;
export const NLOCALS = 28;
export const SEGOK = A.STATE_BASE + A.OFF_SEGOK;
export const CTX = A.STATE_BASE + A.JIT_CTX;
/** Kinds of the lazy state known at compile time; UNKNOWN = whatever the block was entered with. */
export const UNKNOWN = -1;
