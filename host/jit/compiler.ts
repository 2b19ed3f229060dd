// jit/compiler.ts — compiles hot predecoded blocks (assembly/cpu.ts) to WebAssembly functions.
//
// The fast forms (abi.ts F_*: 32-bit, prefix-free ALU/MOV/memory/stack/branch shapes) are compiled inline;
// any other record calls the CPU's own handler through jitExec, with the registers and lazy flags written
// back around the call. The function keeps the eight registers and the lazy flags in wasm locals, reads them
// at entry and writes them back at every exit; memory goes through the CPU's jit* helpers (TLB, segment
// checks, faults as values, code-write detection); flag rules that are not specialised here call the CPU's
// own (jitCF/jitCond/jitFlags/jitShift), so each rule has one definition. A block that jumps to its own
// start becomes a wasm loop that runs until the branch falls through or the budget is spent.
// Flags are tracked statically: a writer whose flags are overwritten before any reader in the block computes
// nothing, and a jcc after a known writer tests the operands directly (e.g. `cmp; jb` is one unsigned compare).
//
// Exit protocol (abi.ts JIT_CTX): JC_E next EIP, JC_COUNT instructions retired, lazy flags; return JIT_OK,
// JIT_ABORT (an access faulted: JC_I0 = its EIP, the CPU's pending exception is set) or JIT_STOP.
import * as A from "../abi.generated.ts";
import { Code, Op, I32, VOID, assemble, type ModuleSpec } from "./wasm.ts";
import { ARITH, CF, type Rec, rmwAluOp, inlineOp, flagEffects, normalize, mayLeave, sysOp } from "./records.ts";
import { H, HELPERS, TYPES, HELPER_TYPES, L, NLOCALS, SEGOK, CTX, UNKNOWN } from "./layout.ts";
import { extForm, emitExt, shiftFlagsInline, imulFlags } from "./emit-ext.ts";
import { gatherRegion, viaHandler, pageCheck, type PageEntry } from "./region.ts";
import { emitSys, shadowBeforeExit } from "./emit-sys.ts";

export const JIT_HELPERS = HELPERS;
// jitExec results (assembly/cpu.ts)
const JX = { OK: 0, ABORT: 1, STOP: 2, JUMP: 4 } as const;

export class BlockCompiler {
  compiled = 0;
  declined = 0;
  /** records of the compiled blocks that run through the CPU's handler (jitExec), not inline */
  viaCpu = 0;
  constructor(private readonly mem: () => DataView) {}

  /** blocks compiled together with the block before them (region.ts) */
  chained = 0;
  /** Read block b's records, their EIP offsets from `off0` and their addresses relative to block b0. */
  private readBlock(b: number, off0 = 0, b0 = b): Rec[] {
    const dv = this.mem();
    const n = dv.getUint16(b + A.BLK_COUNT, true);
    const recs: Rec[] = [];
    let off = off0;
    for (let i = 0; i < n; i++) {
      const r = b + A.BLK_HDR + i * A.REC_SIZE;
      const fast = dv.getUint8(r + A.REC_FAST); // 0: run through the CPU's handler (jitExec)
      const len = dv.getUint8(r + A.REC_LEN);
      const sc = dv.getUint8(r + A.REC_SC);
      recs.push(normalize({
        addr: r, rel: r - b0, off, len, fast, fop: dv.getUint8(r + A.REC_FOP), dst: dv.getUint8(r + A.REC_FDST), src: dv.getUint8(r + A.REC_FSRC),
        fimm: dv.getUint32(r + A.REC_FIMM, true), base: dv.getUint8(r + A.REC_BASE), index: dv.getUint8(r + A.REC_INDEX),
        scale: sc & 3, seg: sc >> 4, disp: dv.getUint32(r + A.REC_DISP, true),
        op: dv.getUint16(r + A.REC_OP, true), pfx: dv.getUint8(r + A.REC_PFX), modrm: dv.getUint8(r + A.REC_MODRM),
        mem: dv.getUint8(r + A.REC_MEM), imm: dv.getUint32(r + A.REC_IMM1, true),
      }));
      off += len;
    }
    return recs;
  }

  /** Compile block `b` into module bytes exporting "f", or null when it cannot be compiled. */
  compile(b: number): Uint8Array<ArrayBuffer> | null {
    const body = this.body(b);
    if (!body) return null;
    const spec: ModuleSpec = {
      types: TYPES,
      importFuncs: HELPERS.map((name, i) => ({ name, type: HELPER_TYPES[i] })),
      funcs: [{ type: 0, locals: NLOCALS, body, export: "f" }],
    };
    return assemble(spec);
  }

  /** The function body (type 0, NLOCALS locals) of block `b`'s region, or null when it cannot be compiled. */
  body(b: number, eip?: number): Code | null {
    const { recs, segs, pages } = gatherRegion(this.mem(), b, (nb, off) => this.readBlock(nb, off, b), eip);
    if (recs.length === 0) { this.declined++; return null; }
    for (const r of recs) if (viaHandler(r)) this.viaCpu++;
    this.chained += segs.length - 1;
    this.compiled++;
    return new Gen(recs, segs, pages).emit();
  }
}

class Gen {
  readonly c = new Code(16384); // (a block's function is a few KB to tens of KB)
  private liveOut: number[] = [];
  /** forward jcc/jmp at record i whose target is record inner[i] of this block: a wasm br instead of an exit */
  private readonly inner: number[] = [];
  /** per target record: the depth just inside the wasm block that ends there (br target), while it is open */
  private readonly targetDepth = new Map<number, number>();
  /** EIP offset after the last record (where a block without a terminator goes on) */
  private readonly endOff: number;
  /** some jump goes back to the start: the whole function is a wasm loop */
  private readonly selfLoop: boolean;
  /** segment (block of the region) of each record, and at record i > 0 starting one: its segment */
  private readonly segOf: number[] = [];
  private readonly segAt = new Map<number, number>();
  /** the last record of a segment whose jmp/call target is the next segment: it goes on instead of leaving */
  private readonly linked = new Set<number>();
  /** registers the block touches (bit per register): only those are loaded at entry and stored at exits */
  private readonly used: number;
  /** statically known lazy-flag kind at the current point */
  kind = UNKNOWN;
  /** nesting depth of wasm blocks/loops around the current instruction (for br targets) */
  depth = 0;

  constructor(private readonly recs: Rec[], private readonly segs: number[] = [0], private readonly pages: (PageEntry | null)[] = []) {
    const last = recs[recs.length - 1];
    this.endOff = last.off + last.len;
    const target = (r: Rec) => (r.off + r.len + r.fimm) | 0;
    this.selfLoop = recs.some((r) => (r.fast === A.F_JCC || r.fast === A.F_JMP) && target(r) === 0);
    segs.forEach((s, k) => {
      const end = k + 1 < segs.length ? segs[k + 1] : recs.length;
      for (let i = s; i < end; i++) this.segOf[i] = k;
      if (k > 0) {
        this.segAt.set(s, k);
        const prev = recs[s - 1];
        if ((prev.fast === A.F_JMP || prev.fast === A.F_CALL) && target(prev) === recs[s].off) this.linked.add(s - 1);
        if (prev.fast === A.F_RET) this.linked.add(s - 1); // (region.ts: the block at its call's return address)
      }
    });
    let used = 0;
    for (const r of recs) {
      if (r.fast === 0) {
        const s = sysOp(r);
        if (s) { if (s === 0x9c || s === 0x9d) used |= 1 << 4; continue; } // (their handlers use ESP alone)
        const u = inlineOp(r);
        if (u < 0) { used = 0xff; break; } // a handler may read or write any register
        used |= u;
        continue;
      }
      used |= (1 << (r.dst & 7)) | (1 << (r.dst & 3)) | (1 << (r.src & 7)) | (1 << (r.src & 3)) | (1 << 4);
      if (r.base < 8) used |= 1 << r.base;
      if (r.index < 8) used |= 1 << r.index;
    }
    this.used = used;
    // forward branches to a later record of the block (an if without else, a skipped statement) stay inside
    const at = new Map<number, number>();
    recs.forEach((r, i) => at.set(r.off, i));
    recs.forEach((r, i) => {
      if (r.fast !== A.F_JCC && r.fast !== A.F_JMP) return;
      const j = at.get((r.off + r.len + r.fimm) | 0);
      if (j !== undefined && j > i + 1 && this.segOf[j] === this.segOf[i]) this.inner[i] = j; // (a block boundary checks)
    });
    // liveness of the status flags after each record (everything is live when the block ends); a branch inside
    // the block also needs what its target needs
    let live = ARITH;
    const liveIn: number[] = [];
    for (let i = recs.length - 1; i >= 0; i--) {
      if (this.inner[i] !== undefined) live |= liveIn[this.inner[i]];
      this.liveOut[i] = live;
      const e = flagEffects(recs[i]);
      // a record that may leave the block before it completes (a fault, a host exit) leaves with the flags as they
      // are before it: a #PF handler sees them in the EFLAGS it is given, so they are live there
      live = (live & ~e.writes) | e.reads | (mayLeave(recs[i]) ? ARITH : 0);
      if (i > 0 && this.segAt.has(i)) live |= ARITH; // the boundary may leave
      liveIn[i] = live;
    }
  }

  emit(): Code {
    const c = this.c;
    for (let r = 0; r < 8; r++) if (this.used & (1 << r)) c.i32(A.STATE_BASE + A.OFF_EAX + r * 4).load(0).set(r);
    c.i32(CTX).load(A.JC_E).set(L.E0);
    c.i32(CTX).load(A.JC_FL).set(L.fl);
    c.i32(CTX).load(A.JC_LOP).set(L.lop);
    c.i32(CTX).load(A.JC_LA).set(L.la);
    c.i32(CTX).load(A.JC_LB).set(L.lb);
    c.i32(CTX).load(A.JC_LR).set(L.lr);
    c.i32(CTX).load(A.JC_LTOP).set(L.ltop);
    c.i32(CTX).load(A.JC_BUDGET).set(L.budget);
    c.i32(CTX).load(A.JC_CSLIMIT).set(L.cs);
    c.i32(CTX).load(A.JC_TLBR).set(L.tlbR);
    c.i32(CTX).load(A.JC_TLBW).set(L.tlbW);
    c.i32(0).set(L.count);
    // every exit branches out of this block to one shared tail (exit): a copy of the tail per exit made modules of long
    // regions several times bigger, and V8's compile time grows with the size
    c.op(Op.block).byte(VOID); this.depth++;
    if (this.selfLoop) { c.op(Op.loop).byte(VOID); this.depth++; }
    // one wasm block per inner target, all opened here, the one ending last outermost (so any set of them nests)
    const targets = [...new Set(this.inner.filter((j) => j !== undefined))].sort((a, b) => b - a);
    for (const j of targets) { c.op(Op.block).byte(VOID); this.depth++; this.targetDepth.set(j, this.depth); }
    this.recs.forEach((r, i) => {
      if (this.targetDepth.has(i)) { // a join: the lazy-flag kind is whatever the paths left
        c.op(Op.end); this.depth--; this.targetDepth.delete(i);
        this.kind = UNKNOWN;
      }
      if (i > 0 && this.segAt.has(i)) this.boundary(i);
      this.insn(r, i);
    });
    if (this.selfLoop) { c.op(Op.end); this.depth--; }
    // (falls through only when the block has no terminator: continue after its last byte)
    shadowBeforeExit(this, this.recs[this.recs.length - 1]);
    this.exit(this.endOff, this.recs.length, A.JIT_OK);
    c.op(Op.end); this.depth--;
    // the tail: store everything back and return the status; EIP = xe, xd instructions retired
    // (every register: in a loop, one written later in the block may have changed in an earlier pass)
    this.storeBack();
    c.i32(CTX).get(L.xd).store(A.JC_COUNT);
    c.i32(CTX).get(L.xe).store(A.JC_E);
    c.get(L.xs);
    return c;
  }

  /** Entering the region's block that starts at record i: the chain loop's checks between blocks (cpu.ts runBlock),
   *  else leave with EIP on it: a helper's stop (a store to code, MMIO), the budget for the whole block, the CS limit;
   *  and for a block of another page, that page's mapping and generation (region.ts pageCheck). */
  private boundary(i: number) {
    const c = this.c, k = this.segAt.get(i)!;
    const n = (k + 1 < this.segs.length ? this.segs[k + 1] : this.recs.length) - i;
    const lastRec = this.recs[i + n - 1], start = this.recs[i].off;
    c.i32(CTX).load(A.JC_STATUS);
    c.get(L.budget).get(L.count).op(Op.i32_sub).i32(i + n).op(Op.i32_lt_s).op(Op.i32_or);
    c.get(L.E0).i32((lastRec.off + lastRec.len - 1) | 0).op(Op.i32_add).get(L.cs).op(Op.i32_gt_u).op(Op.i32_or);
    const page = this.pages[k];
    if (page) { pageCheck(c, (set) => this.tlbEntry(set), page, start); c.op(Op.i32_eqz).op(Op.i32_or); }
    c.op(Op.if_).byte(VOID); this.depth++;
    shadowBeforeExit(this, this.recs[i - 1]);
    this.exit(start, i, A.JIT_OK);
    c.op(Op.end); this.depth--;
  }

  // ---- helpers over the code buffer ----
  private reg(r: number) { this.c.get(r); }
  private setReg(r: number) { this.c.set(r); }
  /** push the effective address of a memory record */
  ea(r: Rec) {
    const c = this.c;
    c.i32(r.disp | 0);
    if (r.base < 8) c.get(r.base).op(Op.i32_add);
    if (r.index < 8) { c.get(r.index); if (r.scale) c.i32(r.scale).op(Op.i32_shl); c.op(Op.i32_add); }
  }
  /**
   * Push the value at seg:ea (size 4 or 1). Flat segment and a TLB hit: inline; otherwise the CPU's helper
   * (segment checks, page walk, MMIO, faults). `ea` pushes the offset.
   */
  private load(r: Rec, i: number, size: 4 | 1, ea: () => void) {
    const c = this.c;
    ea(); c.set(L.addr);
    const slow = () => { c.i32(r.seg).get(L.addr).call(size === 4 ? H.rd32 : H.rd8); this.checkAbort(i); };
    c.i32(SEGOK + r.seg).load8u(0).i32(A.SEGOK_FLAT | 1).op(Op.i32_and).i32(A.SEGOK_FLAT | 1).op(Op.i32_eq);
    if (size === 4) c.get(L.addr).i32(0xfff).op(Op.i32_and).i32(0xffc).op(Op.i32_le_u).op(Op.i32_and);
    c.op(Op.if_).byte(I32); this.depth++;
    this.tlbEntry(L.tlbR);
    c.op(Op.if_).byte(I32); this.depth++;
    c.get(L.addr).get(L.t1).load(4).op(Op.i32_add);
    if (size === 4) c.load(0); else c.load8u(0);
    c.op(Op.else_); slow(); c.op(Op.end); this.depth--;
    c.op(Op.else_); slow(); c.op(Op.end); this.depth--;
  }
  /** t1 = the TLB entry for addr in `set`; pushes (tag matches) */
  tlbEntry(set: number) {
    const c = this.c;
    c.get(L.addr).i32(12).op(Op.i32_shr_u).i32(1023).op(Op.i32_and).i32(4).op(Op.i32_shl).get(set).op(Op.i32_add).tee(L.t1)
      .load(0).get(L.addr).i32(12).op(Op.i32_shr_u).op(Op.i32_eq);
  }
  /** store the value in t2 at seg:ea (4 or 1 bytes); inline on a flat segment with a TLB write hit */
  private store32(r: Rec, i: number, ea: () => void, after: () => void, size: 4 | 1 = 4, stop = true) {
    const c = this.c;
    ea(); c.set(L.addr);
    c.i32(SEGOK + r.seg).load8u(0).i32(A.SEGOK_FLAT | 2).op(Op.i32_and).i32(A.SEGOK_FLAT | 2).op(Op.i32_eq);
    if (size === 4) c.get(L.addr).i32(0xfff).op(Op.i32_and).i32(0xffc).op(Op.i32_le_u).op(Op.i32_and);
    c.op(Op.if_).byte(I32); this.depth++;
    this.tlbEntry(L.tlbW);
    c.op(Op.else_).i32(0); c.op(Op.end); this.depth--;
    c.op(Op.if_).byte(VOID); this.depth++;
    c.get(L.addr).get(L.t1).load(4).op(Op.i32_add).get(L.t2);
    if (size === 4) c.store(0); else c.store8(0);
    after();
    c.op(Op.else_);
    c.i32(r.seg).get(L.addr).get(L.t2).call(size === 4 ? H.wr32 : H.wr8);
    this.checkAbort(i);
    after();
    if (stop) this.checkStop(i);
    c.op(Op.end); this.depth--;
  }

  /** leave with `status` through the shared tail (emit); EIP = E0 + eipOff (null: the EIP in JC_E), `done`
   *  instructions retired in this pass */
  exit(eipOff: number | null, done: number, status: number) {
    const c = this.c;
    if (eipOff !== null) c.get(L.E0).i32(eipOff | 0).op(Op.i32_add).set(L.xe);
    else c.i32(CTX).load(A.JC_E).set(L.xe);
    c.get(L.count); if (done) c.i32(done).op(Op.i32_add); c.set(L.xd);
    c.i32(status).set(L.xs);
    c.op(Op.br).u32(this.depth - 1); // (the outermost block)
  }
  /** after a helper call: if the access faulted, leave with JIT_ABORT (EIP = record i's) */
  private checkAbort(i: number) {
    const c = this.c, r = this.recs[i];
    c.i32(CTX).load(A.JC_STATUS).i32(A.JIT_ABORT).op(Op.i32_eq).op(Op.if_).byte(VOID); this.depth++;
    c.i32(CTX).get(L.E0).i32(r.off).op(Op.i32_add).store(A.JC_I0);
    this.exit(r.off, i, A.JIT_ABORT);
    c.op(Op.end); this.depth--;
  }
  /** after a completed store: if it hit code or MMIO (JIT_STOP), leave after record i */
  private checkStop(i: number) {
    const c = this.c, r = this.recs[i];
    c.i32(CTX).load(A.JC_STATUS).op(Op.if_).byte(VOID); this.depth++;
    this.exit(r.off + r.len, i + 1, A.JIT_STOP);
    c.op(Op.end); this.depth--;
  }
  private gpExit(i: number) {
    const c = this.c, r = this.recs[i];
    c.call(H.gp);
    c.i32(CTX).get(L.E0).i32(r.off).op(Op.i32_add).store(A.JC_I0);
    this.exit(r.off, i, A.JIT_ABORT);
  }
  /** set the lazy state after a writer of kind `k` whose a/b/result are in t0/t1/stack... */
  lazy(k: number, a: () => void, b: () => void, res: () => void, top = 31) {
    const c = this.c;
    c.i32(k).set(L.lop); a(); c.set(L.la); b(); c.set(L.lb); res(); c.set(L.lr); c.i32(top).set(L.ltop);
    this.kind = top === 31 ? k : UNKNOWN; // the static rules below are 32-bit ones: narrower writers decide at run time
  }
  /** push 8-bit register n (4..7 = AH CH DH BH) */
  reg8(n: number) {
    const c = this.c;
    if (n < 4) c.get(n).i32(0xff).op(Op.i32_and);
    else c.get(n - 4).i32(8).op(Op.i32_shr_u).i32(0xff).op(Op.i32_and);
  }
  /** push CF of the current lazy state (0/1) */
  carry() {
    const c = this.c;
    switch (this.kind) {
      case A.LF_ADD: // ((a & b) | ((a | b) & ~r)) >>> 31
        c.get(L.la).get(L.lb).op(Op.i32_and).get(L.la).get(L.lb).op(Op.i32_or).get(L.lr).i32(-1).op(Op.i32_xor)
          .op(Op.i32_and).op(Op.i32_or).i32(31).op(Op.i32_shr_u);
        return;
      case A.LF_SUB: c.get(L.la).get(L.lb).op(Op.i32_lt_u); return;
      case A.LF_LOGIC: c.i32(0); return;
      case A.LF_INC: case A.LF_DEC: case A.LF_NONE: c.get(L.fl).i32(1).op(Op.i32_and); return;
      default: {
        // the lazy state the block was entered with, decided at run time (any width: shift by ltop)
        const shiftTop = () => c.get(L.ltop).op(Op.i32_shr_u).i32(1).op(Op.i32_and);
        c.get(L.la).get(L.lb).op(Op.i32_and).get(L.la).get(L.lb).op(Op.i32_or).get(L.lr).i32(-1).op(Op.i32_xor)
          .op(Op.i32_and).op(Op.i32_or); shiftTop();                                         // ADD
        c.get(L.la).i32(-1).op(Op.i32_xor).get(L.lb).op(Op.i32_and).get(L.la).get(L.lb).op(Op.i32_xor).i32(-1)
          .op(Op.i32_xor).get(L.lr).op(Op.i32_and).op(Op.i32_or); shiftTop();                // SUB
        c.i32(0).get(L.fl).i32(1).op(Op.i32_and).get(L.lop).i32(A.LF_LOGIC).op(Op.i32_eq).op(Op.select);
        c.get(L.lop).i32(A.LF_SUB).op(Op.i32_eq).op(Op.select);
        c.get(L.lop).i32(A.LF_ADD).op(Op.i32_eq).op(Op.select);
      }
    }
  }
  /** push condition `cc` (0/1) */
  cond(cc: number) {
    const c = this.c, k = this.kind, t = cc >> 1;
    const viaCpu = () => c.i32(cc).get(L.lop).get(L.la).get(L.lb).get(L.lr).get(L.ltop).get(L.fl).call(H.cond);
    if (k === UNKNOWN || k === A.LF_NONE || t === 5) { viaCpu(); return; } // parity and concrete flags: the CPU's rule
    if (k === A.LF_SUB) {
      // r = a - b on 32 bits: the conditions are comparisons of a and b
      const cmp = [null, Op.i32_lt_u, Op.i32_eq, Op.i32_le_u, null, null, Op.i32_lt_s, Op.i32_le_s][t];
      if (cmp !== null) {
        c.get(L.la).get(L.lb).op(cmp);
        if (cc & 1) c.op(Op.i32_eqz);
        return;
      }
    }
    const zf = () => c.get(L.lr).op(Op.i32_eqz);
    const sf = () => c.get(L.lr).i32(31).op(Op.i32_shr_u);
    const of = () => {
      switch (k) {
        case A.LF_ADD: c.get(L.la).get(L.lr).op(Op.i32_xor).get(L.lb).get(L.lr).op(Op.i32_xor).op(Op.i32_and).i32(31).op(Op.i32_shr_u); break;
        case A.LF_SUB: c.get(L.la).get(L.lb).op(Op.i32_xor).get(L.la).get(L.lr).op(Op.i32_xor).op(Op.i32_and).i32(31).op(Op.i32_shr_u); break;
        case A.LF_INC: c.get(L.lr).i32(0x80000000 | 0).op(Op.i32_eq); break;
        case A.LF_DEC: c.get(L.lr).i32(0x7fffffff).op(Op.i32_eq); break;
        default: c.i32(0);
      }
    };
    switch (t) {
      case 0: of(); break;
      case 1: this.carry(); break;
      case 2: zf(); break;
      case 3: this.carry(); zf(); c.op(Op.i32_or); break;
      case 4: sf(); break;
      case 6: sf(); of(); c.op(Op.i32_ne); break;
      default: zf(); sf(); of(); c.op(Op.i32_ne); c.op(Op.i32_or); break;
    }
    if (cc & 1) c.op(Op.i32_eqz);
  }

  private insn(r: Rec, i: number) {
    const c = this.c;
    const live = (this.liveOut[i] & flagEffects(r).writes) !== 0;
    const end = r.off + r.len; // EIP offset of the next instruction
    switch (r.fast) {
      case A.F_ALU_RR: case A.F_ALU_RI: case A.F_ALU_RM: {
        const aop = r.fop;
        const op = [Op.i32_add, Op.i32_or, 0, 0, Op.i32_and, Op.i32_sub, Op.i32_xor, Op.i32_sub][aop] as Op;
        // b -> t0
        if (r.fast === A.F_ALU_RR) c.get(r.src).set(L.t0);
        else if (r.fast === A.F_ALU_RI) c.i32(r.fimm | 0).set(L.t0);
        else { this.load(r, i, 4, () => this.ea(r)); c.set(L.t0); }
        if (live) {
          const k = aop === 0 ? A.LF_ADD : aop === 5 || aop === 7 ? A.LF_SUB : A.LF_LOGIC;
          this.lazy(k, () => c.get(r.dst), () => c.get(L.t0), () => c.get(r.dst).get(L.t0).op(op));
          if (aop !== 7) { c.get(L.lr); this.setReg(r.dst); }
        } else if (aop !== 7) { c.get(r.dst).get(L.t0).op(op); this.setReg(r.dst); }
        break;
      }
      case A.F_TEST_RR:
        if (live) this.lazy(A.LF_LOGIC, () => c.i32(0), () => c.i32(0), () => c.get(r.dst).get(r.src).op(Op.i32_and));
        break;
      case A.F_MOV_RR: c.get(r.src); this.setReg(r.dst); break;
      case A.F_MOV_RI: c.i32(r.fimm | 0); this.setReg(r.dst); break;
      case A.F_LEA: this.ea(r); this.setReg(r.dst); break;
      case A.F_LOAD: case A.F_MOVZX_BM:
        this.load(r, i, r.fast === A.F_LOAD ? 4 : 1, () => this.ea(r));
        this.setReg(r.dst);
        break;
      case A.F_STORE:
        c.get(r.src).set(L.t2);
        this.store32(r, i, () => this.ea(r), () => {});
        break;
      case A.F_INC: case A.F_DEC: {
        const op = r.fast === A.F_INC ? Op.i32_add : Op.i32_sub;
        if (this.liveOut[i] & ARITH) {
          // CF survives INC/DEC: make it concrete in fl first
          c.get(L.fl).i32(~CF).op(Op.i32_and); this.carry(); c.op(Op.i32_or).set(L.fl);
          this.lazy(r.fast === A.F_INC ? A.LF_INC : A.LF_DEC, () => c.get(r.dst), () => c.i32(1), () => c.get(r.dst).i32(1).op(op));
          c.get(L.lr); this.setReg(r.dst);
        } else { c.get(r.dst).i32(1).op(op); this.setReg(r.dst); }
        break;
      }
      case A.F_SHIFT_RI: {
        const n = r.fimm & 31;
        if (n === 0) break; // a zero count changes nothing, not even flags
        if (!live) {
          const op = [Op.i32_rotl, Op.i32_rotr, 0, 0, Op.i32_shl, Op.i32_shr_u, Op.i32_shl, Op.i32_shr_s][r.fop] as Op;
          c.get(r.dst).i32(n).op(op); this.setReg(r.dst);
          break;
        }
        if (r.fop >= 4) { shiftFlagsInline(this, r.dst, 4, r.fop, n); break; } // shl/shr/sar: flags inline
        // flags needed (rotates): the CPU's shift rule on concrete flags
        c.get(L.lop).get(L.la).get(L.lb).get(L.lr).get(L.ltop).get(L.fl).call(H.flags).set(L.fl);
        c.i32(r.fop).get(r.dst).i32(n).get(L.fl).call(H.shift); this.setReg(r.dst);
        c.i32(CTX).load(A.JC_FLOUT).set(L.fl);
        c.i32(A.LF_NONE).set(L.lop);
        this.kind = A.LF_NONE;
        break;
      }
      case A.F_PUSH: case A.F_CALL: {
        if (r.fast === A.F_CALL) { // target within the CS limit, else #GP at the call
          c.get(L.E0).i32((end + r.fimm) | 0).op(Op.i32_add).get(L.cs).op(Op.i32_gt_u).op(Op.if_).byte(VOID); this.depth++;
          this.gpExit(i);
          c.op(Op.end); this.depth--;
        }
        // the stack write inline on a flat SS with a TLB write hit (a hit is never a code page), else the CPU's helper
        if (r.fast === A.F_PUSH) c.get(r.src); else c.get(L.E0).i32(end).op(Op.i32_add);
        c.set(L.t2);
        const ss = { ...r, seg: A.SEG_SS };
        this.store32(ss, i, () => c.get(4).i32(4).op(Op.i32_sub), () => { c.get(4).i32(4).op(Op.i32_sub); this.setReg(4); }, 4,
          r.fast === A.F_PUSH); // ESP moves only once the write succeeded
        if (r.fast === A.F_CALL && !this.linked.has(i)) this.exit((end + r.fimm) | 0, i + 1, A.JIT_OK); // (a stop is seen by the CPU)
        break;
      }
      case A.F_POP: case A.F_RET: {
        this.load({ ...r, seg: A.SEG_SS }, i, 4, () => c.get(4)); // inline on a flat SS with a TLB hit
        c.set(L.t0);
        if (r.fast === A.F_RET) {
          c.get(L.t0).get(L.cs).op(Op.i32_gt_u).op(Op.if_).byte(VOID); this.depth++;
          this.gpExit(i);
          c.op(Op.end); this.depth--;
        }
        c.get(4).i32(4).op(Op.i32_add); this.setReg(4);
        if (r.fast === A.F_POP) { c.get(L.t0); this.setReg(r.dst); break; } // pop esp: the popped value wins
        // ret: EIP = the popped value (absolute); in a region, to the return site of its call goes on into that block
        if (this.linked.has(i)) {
          c.get(L.t0).get(L.E0).i32(this.recs[i + 1].off).op(Op.i32_add).op(Op.i32_ne).op(Op.if_).byte(VOID); this.depth++;
          c.i32(CTX).get(L.t0).store(A.JC_E);
          this.exit(null, i + 1, A.JIT_OK);
          c.op(Op.end); this.depth--;
          break;
        }
        c.i32(CTX).get(L.t0).store(A.JC_E);
        this.exit(null, i + 1, A.JIT_OK);
        break;
      }
      case A.F_JMP: case A.F_JCC: {
        const target = (end + r.fimm) | 0;
        const taken = () => {
          const j = this.inner[i];
          if (j !== undefined) {
            // to record j of this block: the records between did not run (the exits count records by position)
            c.get(L.count).i32(j - i - 1).op(Op.i32_sub).set(L.count);
            c.op(Op.br).u32(this.depth - this.targetDepth.get(j)!);
          } else if (target === 0 && this.selfLoop) {
            // back to the start: another pass if the budget allows the first block (the others check at their start)
            const n0 = this.segs.length > 1 ? this.segs[1] : this.recs.length;
            c.get(L.count).i32(i + 1).op(Op.i32_add).set(L.count);
            c.get(L.budget).get(L.count).op(Op.i32_sub).i32(n0).op(Op.i32_ge_u).op(Op.br_if).u32(this.depth - 1 - this.loopDepthOffset());
            this.exit(0, 0, A.JIT_OK);
          } else {
            c.get(L.E0).i32(target).op(Op.i32_add).get(L.cs).op(Op.i32_gt_u).op(Op.if_).byte(VOID); this.depth++;
            this.gpExit(i);
            c.op(Op.end); this.depth--;
            if (!this.linked.has(i)) this.exit(target, i + 1, A.JIT_OK); // (linked: on into the next block)
          }
        };
        if (r.fast === A.F_JMP) { taken(); break; }
        this.cond(r.fop);
        c.op(Op.if_).byte(VOID); this.depth++;
        taken();
        c.op(Op.end); this.depth--;
        // not taken: on with the block's next record (the last record falls into the block's final exit)
        break;
      }
      case A.F_NEG:
        if (live) {
          this.lazy(A.LF_SUB, () => c.i32(0), () => c.get(r.dst), () => c.i32(0).get(r.dst).op(Op.i32_sub));
          c.get(L.lr); this.setReg(r.dst);
        } else { c.i32(0).get(r.dst).op(Op.i32_sub); this.setReg(r.dst); }
        break;
      case A.F_TEST8_RI:
        if (live) this.lazy(A.LF_LOGIC, () => c.i32(0), () => c.i32(0), () => { this.reg8(r.dst); c.i32(r.fimm & 0xff).op(Op.i32_and); }, 7);
        break;
      case A.F_TEST8_MI:
        this.load(r, i, 1, () => this.ea(r)); c.set(L.t0);
        if (live) this.lazy(A.LF_LOGIC, () => c.i32(0), () => c.i32(0), () => c.get(L.t0).i32(r.fimm & 0xff).op(Op.i32_and), 7);
        break;
      case A.F_CMP8_MI:
        this.load(r, i, 1, () => this.ea(r)); c.set(L.t0);
        if (live) {
          this.lazy(A.LF_SUB, () => c.get(L.t0), () => c.i32(r.fimm & 0xff),
            () => c.get(L.t0).i32(r.fimm & 0xff).op(Op.i32_sub).i32(0xff).op(Op.i32_and), 7);
        }
        break;
      case A.F_CMP_MI: case A.F_CMP_MR: {
        this.load(r, i, 4, () => this.ea(r)); c.set(L.t0);
        const b = () => { if (r.fast === A.F_CMP_MI) c.i32(r.fimm | 0); else c.get(r.src); };
        if (live) this.lazy(A.LF_SUB, () => c.get(L.t0), b, () => { c.get(L.t0); b(); c.op(Op.i32_sub); });
        break;
      }
      case A.F_STORE8_I: case A.F_STORE8_R:
        if (r.fast === A.F_STORE8_I) c.i32(r.fimm & 0xff); else this.reg8(r.src);
        c.set(L.t2);
        this.store32(r, i, () => this.ea(r), () => {}, 1);
        break;
      case 0:
        if (sysOp(r)) emitSys(this, r, i);
        else if (inlineOp(r) >= 0) this.inlineHandler(r, i, live);
        else if (rmwAluOp(r) >= 0) this.rmwAlu(r, i, live);
        else if (extForm(r)) emitExt(this, r, i, live);
        else this.generic(r, i);
        break;
      default: break; // F_NOP
    }
  }

  /** The handler records inlineOp accepts, with the handlers' semantics (ops/handlers.ts) on a 32-bit stack. */
  private inlineHandler(r: Rec, i: number, live: boolean) {
    const c = this.c;
    switch (r.op) {
      case 0x69: case 0x6b: { // imul r32, r/m32, imm: CF = OF = the product does not fit; the other flags stay
        const b = r.op === 0x69 ? r.imm | 0 : (r.imm << 24) >> 24;
        if (r.mem) this.load(r, i, 4, () => this.ea(r)); else c.get(r.modrm & 7);
        c.set(L.t0);
        if (live) { imulFlags(c, () => c.i32(b)); this.kind = A.LF_NONE; }
        c.get(L.t0).i32(b).op(Op.i32_mul); this.setReg((r.modrm >> 3) & 7);
        return;
      }
      case 0xc9: // leave: EBP = [SS:EBP], ESP = old EBP + 4 (nothing changes if the read faults)
        this.load({ ...r, seg: A.SEG_SS }, i, 4, () => c.get(5)); c.set(L.t0);
        c.get(5).i32(4).op(Op.i32_add); this.setReg(4);
        c.get(L.t0); this.setReg(5);
        return;
      case 0x68: case 0x6a: // push imm32 / push imm8 sign-extended
        c.i32(r.op === 0x68 ? r.imm | 0 : (r.imm << 24) >> 24).set(L.t2);
        this.store32({ ...r, seg: A.SEG_SS }, i, () => c.get(4).i32(4).op(Op.i32_sub), () => { c.get(4).i32(4).op(Op.i32_sub); this.setReg(4); });
        return;
      case 0xc7: // mov dword [mem], imm32
        c.i32(r.imm | 0).set(L.t2);
        this.store32(r, i, () => this.ea(r), () => {});
        return;
    }
  }

  /** `op dword [mem], imm` (rmwAluOp): inline on a flat, writable segment with a TLB write hit (never a code page);
   *  otherwise the CPU's handler runs the whole instruction (segment rules, page walk, faults, MMIO, code writes). */
  private rmwAlu(r: Rec, i: number, live: boolean) {
    const c = this.c, aop = rmwAluOp(r);
    const b = r.op === 0x81 ? r.imm | 0 : (r.imm << 24) >> 24;
    this.ea(r); c.set(L.addr);
    c.i32(SEGOK + r.seg).load8u(0).i32(A.SEGOK_FLAT | 2).op(Op.i32_and).i32(A.SEGOK_FLAT | 2).op(Op.i32_eq);
    c.get(L.addr).i32(0xfff).op(Op.i32_and).i32(0xffc).op(Op.i32_le_u).op(Op.i32_and);
    c.op(Op.if_).byte(I32); this.depth++;
    this.tlbEntry(L.tlbW);
    c.op(Op.else_).i32(0); c.op(Op.end); this.depth--;
    c.op(Op.if_).byte(VOID); this.depth++;
    c.get(L.addr).get(L.t1).load(4).op(Op.i32_add).tee(L.t2).load(0).set(L.t0);
    const op = [Op.i32_add, Op.i32_or, 0, 0, Op.i32_and, Op.i32_sub, Op.i32_xor, Op.i32_sub][aop] as Op;
    const res = () => c.get(L.t0).i32(b).op(op);
    if (aop !== 7) { c.get(L.t2); res(); c.store(0); }
    if (live) {
      const k = aop === 0 ? A.LF_ADD : aop === 5 || aop === 7 ? A.LF_SUB : A.LF_LOGIC;
      this.lazy(k, () => c.get(L.t0), () => c.i32(b), res);
    }
    c.op(Op.else_);
    this.generic(r, i);
    c.op(Op.end); this.depth--;
    this.kind = UNKNOWN;
  }

  /** The registers the function keeps and the lazy flags, written back to the state block (the exit tail and the
   *  handler calls: one definition of what compiled code owes the CPU). */
  storeBack() {
    const c = this.c;
    for (let k = 0; k < 8; k++) if (this.used & (1 << k)) c.i32(A.STATE_BASE + A.OFF_EAX + k * 4).get(k).store(0);
    c.i32(CTX).get(L.fl).store(A.JC_FL);
    c.i32(CTX).get(L.lop).store(A.JC_LOP);
    c.i32(CTX).get(L.la).store(A.JC_LA);
    c.i32(CTX).get(L.lb).store(A.JC_LB);
    c.i32(CTX).get(L.lr).store(A.JC_LR);
    c.i32(CTX).get(L.ltop).store(A.JC_LTOP);
  }

  /** A record the compiler does not inline: the CPU's handler runs it on the state written back to memory (the
   *  registers the function keeps: all of them unless its only handler records are sysOp's, which use ESP alone). */
  generic(r: Rec, i: number) {
    const c = this.c;
    this.storeBack();
    // the record's address relative to the block the CPU entered (abi.ts OFF_JIT_BLOCK): the bytes do not depend on
    // where the block arena put the block
    c.i32(0).load(A.STATE_BASE + A.OFF_JIT_BLOCK).i32(r.rel).op(Op.i32_add).get(L.E0).i32(r.off).op(Op.i32_add).get(L.E0).i32(r.off + r.len).op(Op.i32_add)
      .get(L.count).i32(i).op(Op.i32_add).call(H.exec).set(L.t0);
    for (let k = 0; k < 8; k++) if (this.used & (1 << k)) c.i32(A.STATE_BASE + A.OFF_EAX + k * 4).load(0).set(k);
    c.i32(CTX).load(A.JC_FL).set(L.fl);
    c.i32(CTX).load(A.JC_LOP).set(L.lop);
    c.i32(CTX).load(A.JC_LA).set(L.la);
    c.i32(CTX).load(A.JC_LB).set(L.lb);
    c.i32(CTX).load(A.JC_LR).set(L.lr);
    c.i32(CTX).load(A.JC_LTOP).set(L.ltop);
    this.kind = UNKNOWN;
    // anything but "carry on": leave (EIP from the context; a REP unit that stops early is retired, EIP on it)
    c.get(L.t0).i32(JX.OK).op(Op.i32_ne).op(Op.if_).byte(VOID); this.depth++;
    c.get(L.t0).i32(JX.ABORT).op(Op.i32_eq).op(Op.if_).byte(VOID); this.depth++;
    this.exit(r.off, i, A.JIT_ABORT);
    c.op(Op.end); this.depth--;
    c.get(L.t0).i32(JX.JUMP).op(Op.i32_eq).op(Op.if_).byte(VOID); this.depth++;
    this.exit(null, i + 1, A.JIT_OK);
    c.op(Op.end); this.depth--;
    this.exit(null, i + 1, A.JIT_STOP);
    c.op(Op.end); this.depth--;
  }
  /** the loop is the outermost construct but the exit block: br depth to it = current depth - 2 */
  private loopDepthOffset(): number { return 1; }
}
