// jit/region.ts — which predecoded blocks one compiled function covers. A hot block's function goes on into the
// blocks that follow it (the target of its final jmp or call, the fall-through of its final backward jcc or of a
// cli/sti/popf that ended it (emit-sys.ts), the next block when it ended at the record cap, the return address of a
// call it followed when it ends with that callee's ret, guarded by a compare with the popped EIP) while they are
// already predecoded, so a loop spread over several blocks is one wasm loop and a chain of blocks is one call instead
// of a return to the CPU's chain loop at every block end (docs/RESULTS.md, branches jit-chain and jit-sys).
//
// Exactness: a block of the same page has the same page generation, so it is valid exactly when the first one is
// (a write to the page drops both, and a store to a code page inside the region leaves right after it); a block of
// another page is entered only after a run-time check that the TLB still maps its linear page to the physical page
// it was compiled from and that this page's generation is the one its block had (pageCheck: what findBlock checks);
// compiled code makes the chain loop's checks at every block boundary inside the region (the helpers' stop status,
// the instruction budget for the whole next block, the CS limit over it); and a region has no record that runs
// through the CPU's own handler as its only path (those may change IF, TF, the interrupt shadow, paging or the CPL,
// which the chain loop checks between blocks): such a block compiles alone.
// Debug: the CPU runs blocks unchained when a breakpoint is in EIP's page or a watchpoint is armed (cpu.ts run), and
// a region leaves its first page only while nothing is armed (abi.ts OFF_JIT_ONE_PAGE).
import * as A from "../abi.generated.ts";
import { type Rec, inlineOp, rmwAluOp, extForm, sysOp } from "./records.ts";
import { Op, type Code } from "./wasm.ts";
import { L } from "./layout.ts";

/** most blocks and records one compiled function covers */
export const MAX_SEGMENTS = 8;
const MAX_RECORDS = 256;

/** a block of the region in another page than the block before it: the page it was found in, and its generation */
export interface PageEntry { phys: number; gen: number }
export interface Region {
  recs: Rec[];
  /** index in recs of each block's first record (segs[0] = 0) */
  segs: number[];
  /** per block: entered from another page (checked at run time: pageCheck), else null */
  pages: (PageEntry | null)[];
}

/** a record only the CPU's handler runs (no inline form with the handler as its slow path) */
export function viaHandler(r: Rec): boolean {
  return r.fast === 0 && inlineOp(r) < 0 && rmwAluOp(r) < 0 && !extForm(r) && !sysOp(r);
}

/**
 * The region starting at block b0. `read(b, off)` gives block b's records with their EIP offsets starting at `off`
 * (from b0's EIP) and their addresses relative to b0. `eip`: b0's EIP when the CPU asked for it (a queued block is
 * compiled later: jit/batch.ts keeps it), else the one the CPU stored for this compile.
 */
export function gatherRegion(dv: DataView, b0: number, read: (b: number, off: number) => Rec[], eip?: number): Region {
  const recs = read(b0, 0);
  const segs = [0];
  const pages: (PageEntry | null)[] = [null];
  if (recs.length === 0 || recs.some(viaHandler)) return { recs, segs, pages };
  const phys0 = dv.getUint32(b0, true);
  const gen0 = dv.getUint32(b0 + 4, true);
  const st = (off: number) => dv.getUint32(A.STATE_BASE + off, true);
  // the linear address of b0 and the TLB read set of the CPL (mmu.ts selectTlb): other pages are found as findBlock
  // finds them (cpu.ts)
  const lin0 = (st(A.OFF_SEGS + A.SEG_CS * A.SEG_STRIDE + A.SEG_BASE) + (eip ?? st(A.OFF_JIT_COMPILE_EIP))) >>> 0;
  const tlbR = A.TLB_BASE + (st(A.OFF_CPL) === 3 ? 2 : 0) * TLB_SET;
  const translate = (lin: number) => {
    const e = tlbR + ((lin >>> 12) & 1023) * 16;
    return dv.getUint32(e, true) === lin >>> 12 ? (lin + dv.getUint32(e + 4, true) - A.RAM_BASE) >>> 0 : -1; // (an MMIO tag never matches)
  };
  // (only when that EIP is b0's: the TLB maps it there; the code checks every page it enters anyway)
  const otherPages = translate(lin0) === phys0;
  let page = phys0 >>> 12;
  const ranges: [number, number][] = [[0, dv.getUint16(b0 + A.BLK_COUNT + 2, true)]];
  /** return addresses (EIP offsets) of the calls the region followed into their callee, innermost last */
  const calls: number[] = [];
  while (segs.length < MAX_SEGMENTS) {
    const last = recs[recs.length - 1];
    const end = last.off + last.len;
    let next: number;
    if (last.fast === A.F_JMP || last.fast === A.F_CALL) next = (end + last.fimm) | 0;
    else if (last.fast === A.F_JCC || recs.length - segs[segs.length - 1] === A.BLK_MAX_RECORDS) next = end; // (at the cap: on at its end)
    else if (last.fast === A.F_RET && calls.length) next = calls[calls.length - 1]; // (a guard compares the popped EIP)
    else if (sysOp(last)) next = end; // cli/sti/popf end their block: on after them (emit-sys.ts)
    else break;
    if (next === 0) break; // back to the start: the loop (compiler.ts)
    const po = (phys0 & 0xfff) + next;
    let phys: number, gen = gen0;
    if (po >= 0 && po < 0x1000) phys = ((phys0 & ~0xfff) >>> 0) + po;
    else {
      phys = otherPages ? translate((lin0 + next) >>> 0) : -1;
      if (phys < 0) break;
      if (A.PAGEINFO_BASE + (phys >>> 12) * 4 + 4 > A.BLOCK_HASH_BASE) break;
      gen = dv.getUint32(A.PAGEINFO_BASE + (phys >>> 12) * 4, true) & 0x7fffffff;
    }
    const slot = A.BLOCK_HASH_BASE + ((((phys >>> 16) ^ phys) & 0xffff) << 3);
    if (dv.getUint32(slot, true) !== ((phys + 1) >>> 0)) break;
    const b = dv.getUint32(slot + 4, true);
    if (b <= 1 || dv.getUint32(b, true) !== phys || dv.getUint32(b + 4, true) !== gen) break; // (valid: the page's generation)
    const bytes = dv.getUint16(b + A.BLK_COUNT + 2, true);
    if (ranges.some(([s, n]) => next < s + n && s < next + bytes)) break; // overlapping code: not laid out twice
    const more = read(b, next);
    if (more.length === 0 || recs.length + more.length > MAX_RECORDS || more.some(viaHandler)) break;
    if (last.fast === A.F_CALL) calls.push(end);
    else if (last.fast === A.F_RET) calls.pop();
    ranges.push([next, bytes]);
    segs.push(recs.length);
    pages.push(phys >>> 12 !== page ? { phys, gen } : null);
    page = phys >>> 12;
    recs.push(...more);
  }
  return { recs, segs, pages };
}

const TLB_SET = 1024 * 16;
/**
 * Push whether compiled code may enter the region's block at EIP offset `off` from another page: the debugger is not
 * armed, the TLB read set maps its linear page to the physical page it was compiled from, and that page's generation
 * is the one its block had (a write to the page since, or a block cache flush, changes it). As findBlock (cpu.ts).
 */
export function pageCheck(c: Code, tlbEntry: (set: number) => void, p: PageEntry, off: number) {
  c.i32(A.STATE_BASE + A.OFF_JIT_ONE_PAGE).load(0).op(Op.i32_eqz);
  c.i32(A.STATE_BASE + A.OFF_SEGS + A.SEG_CS * A.SEG_STRIDE + A.SEG_BASE).load(0).get(L.E0).op(Op.i32_add).i32(off | 0).op(Op.i32_add)
    .set(L.addr);
  tlbEntry(L.tlbR); c.op(Op.i32_and);
  c.get(L.addr).get(L.t1).load(4).op(Op.i32_add).i32((A.RAM_BASE + p.phys) | 0).op(Op.i32_eq).op(Op.i32_and);
  c.i32(A.PAGEINFO_BASE + (p.phys >>> 12) * 4).load(0).i32(0x7fffffff).op(Op.i32_and).i32(p.gen | 0).op(Op.i32_eq).op(Op.i32_and);
}
