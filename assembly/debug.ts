// debug.ts — the debug unit: the guest's DR0-DR7 armed for real (#DB, SDM Vol. 3B §17.2-17.3), and a second,
// guest-invisible unit for the host's debugger (gdb): software and hardware breakpoints, watchpoints and
// single-step, which stop run() with EXIT_DEBUG.
//
// Cost when nothing is armed: one flag in the run loop's between-blocks test. When something is armed,
// cpu.ts runs instructions one at a time through dbgBefore/dbgAfter wherever they are needed: on a linear
// page holding an instruction breakpoint (blocks never cross a page), everywhere while a data breakpoint or
// a host step is armed. Data breakpoints keep their pages out of the TLB, so every access to them takes the
// slow path (mmu.ts rdAs/wrAs), which reports it here.
//
// DR7: L0/G0..L3/G3 in bits 0..7, GD bit 13, R/W n in bits 16+4n (00 execute, 01 write, 11 read/write,
// 10 I/O: not supported, CR4.DE), LEN n in bits 18+4n (00 1 byte, 01 2, 11 4, 10 8). DR6: B0-B3 bits 0..3,
// BD bit 13, BS bit 14.
import {
  OFF_DR0, OFF_DBG_CTRL, DBG_STEP, OFF_DBG_STEPPED, OFF_DBG_CAUSE, OFF_DBG_ADDR, OFF_DBG_SKIP, OFF_DBG_SW_COUNT,
  OFF_DBG_HW, DBG_HW_SLOTS, DBG_HW_STRIDE, OFF_DBG_SW, DBG_SW_MAX, DBG_KIND_EXEC, DBG_KIND_WRITE, DBG_KIND_READ,
  DBG_KIND_ACCESS, DBG_KIND_NONE, DBG_CAUSE_STEP, DBG_CAUSE_SWBP, DBG_CAUSE_HWBP, DBG_CAUSE_WATCH,
  OFF_DBG_KIND_HIT, OFF_DBG_DECODED, STATE_BASE, OFF_EXIT_REASON, OFF_EXIT_EIP, EXIT_DEBUG, FLAG_RF, SEG_CS, VEC_DB,
} from "./abi";
import { st, setSt, eip, segBase, setExitAfter } from "./state";
import { flagsReg } from "./flags";

const DR6: u32 = OFF_DR0 + 24;
const DR7: u32 = OFF_DR0 + 28;

/** Anything armed at all: the run loop consults dbgNeedSingle/dbgBefore/dbgAfter. */
export let dbgArmed: bool = false;
/** A data breakpoint or watchpoint is armed: mmu.ts reports accesses and keeps watched pages out of the TLB. */
export let watchArmed: bool = false;
let stepArmed: bool = false;
let execArmed: bool = false;
// decoded breakpoints, in the STATE block (not module data, which must never change): slots 0..3 the guest's
// DR0-3, 4..7 the host's hardware slots
const DEC: u32 = STATE_BASE + OFF_DBG_DECODED;
@inline function bpLin(i: u32): u32 { return load<u32>(DEC + i * 12); }
@inline function bpLen(i: u32): u32 { return load<u32>(DEC + i * 12, 4); }
@inline function bpKind(i: u32): u32 { return load<u32>(DEC + i * 12, 8); } // DBG_KIND_*
let swCount: u32 = 0;
/** Data breakpoints hit by the current instruction: bits 0..3 guest DRn, 4..7 host slots. */
let hits: u32 = 0;
let hitAddr: u32 = 0;
let skipLin: u32 = 1;
let pageCache: u32 = 0xFFFFFFFF; // the linear page last found free of instruction breakpoints

/** Re-read DR7/DR0-3 and the host unit (run() entry, MOV DRn, host changes). Returns true if the set of
 * watched pages may have changed (the caller flushes the TLB). */
export function dbgRecompute(): bool {
  if (nothingArmed()) { // (every run() entry: a monitor's exit round trip pays this; the common case is quick)
    execArmed = false; stepArmed = false; dbgArmed = false; swCount = 0;
    skipLin = st(OFF_DBG_SKIP);
    pageCache = 0xFFFFFFFF;
    const changed = watchSig != 0 || watchArmed;
    watchArmed = false; watchSig = 0;
    return changed;
  }
  const oldWatch = watchArmed;
  let sig: u32 = 0;
  const dr7 = st(DR7);
  execArmed = false; watchArmed = false;
  for (let n: u32 = 0; n < 4; n++) {
    let kind = DBG_KIND_NONE, len: u32 = 1;
    if ((dr7 >> (n * 2)) & 3) {
      const rw = (dr7 >> (16 + n * 4)) & 3;
      const l = (dr7 >> (18 + n * 4)) & 3;
      len = l == 0 ? 1 : l == 1 ? 2 : l == 3 ? 4 : 8;
      kind = rw == 0 ? DBG_KIND_EXEC : rw == 1 ? DBG_KIND_WRITE : rw == 3 ? DBG_KIND_ACCESS : DBG_KIND_NONE;
      if (kind == DBG_KIND_EXEC) len = 1;
    }
    setBp(n, st(OFF_DR0 + n * 4) & ~(len - 1), len, kind);
  }
  for (let i: u32 = 0; i < DBG_HW_SLOTS; i++) {
    const p = OFF_DBG_HW + i * DBG_HW_STRIDE;
    let len = st(p + 4), kind = st(p + 8);
    if (kind > DBG_KIND_ACCESS || len == 0 || len > 4096) kind = DBG_KIND_NONE; // host input is checked too
    setBp(4 + i, st(p), len, kind);
  }
  for (let i: u32 = 0; i < 8; i++) if (bpKind(i) >= DBG_KIND_WRITE) sig = sig * 31 + bpLin(i) * 7 + bpLen(i);
  swCount = st(OFF_DBG_SW_COUNT);
  if (swCount > DBG_SW_MAX) swCount = DBG_SW_MAX;
  if (swCount) execArmed = true;
  stepArmed = (st(OFF_DBG_CTRL) & DBG_STEP) != 0;
  skipLin = st(OFF_DBG_SKIP);
  dbgArmed = execArmed || watchArmed || stepArmed;
  pageCache = 0xFFFFFFFF;
  const changed = sig != watchSig || oldWatch != watchArmed;
  watchSig = sig;
  return changed;
}
let watchSig: u32 = 0;
/** No guest DR enabled, no host breakpoint, watchpoint or step, and every decoded slot already empty: what the
 * full recompute would find, without rewriting the slots. */
function nothingArmed(): bool {
  if ((st(DR7) & 0xFF) != 0 || st(OFF_DBG_SW_COUNT) != 0 || (st(OFF_DBG_CTRL) & DBG_STEP) != 0) return false;
  for (let i: u32 = 0; i < DBG_HW_SLOTS; i++) if (st(OFF_DBG_HW + i * DBG_HW_STRIDE + 8) != DBG_KIND_NONE) return false;
  for (let i: u32 = 0; i < 8; i++) if (bpKind(i) != DBG_KIND_NONE) return false;
  return true;
}
function setBp(i: u32, lin: u32, len: u32, kind: u32): void {
  store<u32>(DEC + i * 12, lin); store<u32>(DEC + i * 12, len, 4); store<u32>(DEC + i * 12, kind, 8);
  if (kind == DBG_KIND_EXEC) execArmed = true;
  else if (kind != DBG_KIND_NONE) watchArmed = true;
}

/** A host single-step is armed. */
export function dbgSteps(): bool { return stepArmed; }

/** Must the instruction at linear `lin` (and its block) run alone, checked before and after? */
export function dbgNeedSingle(lin: u32): bool {
  if (watchArmed || stepArmed) return true;
  const page = lin >>> 12;
  if (page == pageCache) return false;
  for (let i: u32 = 0; i < 8; i++) if (bpKind(i) == DBG_KIND_EXEC && bpLin(i) >>> 12 == page) return true;
  for (let i: u32 = 0; i < swCount; i++) if (st(OFF_DBG_SW + i * 4) >>> 12 == page) return true;
  pageCache = page;
  return false;
}

function hostStop(cause: u32): void {
  setSt(OFF_DBG_CAUSE, cause);
  setSt(OFF_EXIT_REASON, EXIT_DEBUG);
  setSt(OFF_EXIT_EIP, eip);
  setExitAfter(EXIT_DEBUG);
}

/**
 * Before an instruction: the host's step boundary and breakpoints (exit), then the guest's instruction
 * breakpoints (a fault-class #DB unless EFLAGS.RF). Returns 0 to run it, 1 if the host must get control
 * (exitAfter set), 2 if a #DB must be delivered instead (DR6 already updated; raise it with EIP unchanged).
 */
export function dbgBefore(): u32 {
  hits = 0;
  const lin = segBase(SEG_CS) + eip;
  if (stepArmed) {
    if (st(OFF_DBG_STEPPED)) { hostStop(DBG_CAUSE_STEP); return 1; }
    setSt(OFF_DBG_STEPPED, 1);
  }
  if (execArmed) {
    const skip = lin == skipLin;
    if (skipLin != 1) { skipLin = 1; setSt(OFF_DBG_SKIP, 1); } // only the first instruction after a resume
    if (!skip) {
      for (let i: u32 = 0; i < swCount; i++) if (st(OFF_DBG_SW + i * 4) == lin) { hostStop(DBG_CAUSE_SWBP); return 1; }
      for (let i: u32 = 4; i < 8; i++) if (bpKind(i) == DBG_KIND_EXEC && bpLin(i) == lin) { hostStop(DBG_CAUSE_HWBP); return 1; }
    }
    if (!(flagsReg & FLAG_RF)) {
      let b: u32 = 0;
      for (let i: u32 = 0; i < 4; i++) if (bpKind(i) == DBG_KIND_EXEC && bpLin(i) == lin) b |= <u32>1 << i;
      if (b) { setSt(DR6, (st(DR6) & ~0xF) | b); return 2; }
    }
  }
  return 0;
}

/** A data access of `size` bytes at linear `lin` (mmu.ts slow path, only while watchArmed). */
export function dbgAccess(lin: u32, size: u32, write: bool): void {
  const end = <u64>lin + <u64>size;
  for (let i: u32 = 0; i < 8; i++) {
    const k = bpKind(i);
    if (k < DBG_KIND_WRITE) continue;
    if (k == DBG_KIND_WRITE && !write) continue;
    if (k == DBG_KIND_READ && write) continue;
    const a = bpLin(i);
    if (end > <u64>a && <u64>lin < <u64>a + <u64>bpLen(i)) {
      if (i >= 4 && !(hits & 0xF0)) hitAddr = a;
      hits |= <u32>1 << i;
    }
  }
}
/** Does the linear page hold a watched range (then it must not enter the TLB)? */
export function dbgPageWatched(pageLin: u32): bool {
  for (let i: u32 = 0; i < 8; i++) {
    if (bpKind(i) < DBG_KIND_WRITE) continue;
    const a = bpLin(i), last = bpLin(i) + bpLen(i) - 1;
    if (a >>> 12 == pageLin >>> 12 || last >>> 12 == pageLin >>> 12) return true;
  }
  return false;
}

/** After an instruction completed: the guest's data breakpoints become a pending #DB trap (DR6 Bn). */
export function dbgGuestTrap(): bool {
  const g = hits & 0xF;
  if (!g) return false;
  setSt(DR6, (st(DR6) & ~0xF) | g);
  return true;
}
/** After an instruction completed (and any #DB it caused was delivered): a host watchpoint stops the run. */
export function dbgHostStop(): bool {
  const h = hits & 0xF0;
  hits = 0;
  if (!h) return false;
  let kind: u32 = 0;
  for (let i: u32 = 4; i < 8; i++) if (h & (<u32>1 << i)) { kind = bpKind(i); break; }
  setSt(OFF_DBG_ADDR, hitAddr);
  setSt(OFF_DBG_KIND_HIT, kind);
  hostStop(DBG_CAUSE_WATCH);
  return true;
}
/** The current instruction hit a data breakpoint (a REP loop stops after this element). */
export function dbgHitPending(): bool { return hits != 0; }
/** A fault discards the data breakpoints its instruction hit. */
export function dbgClearHits(): void { hits = 0; }

/** MOV to or from a debug register with DR7.GD set: #DB (fault) with DR6.BD, and GD cleared so the handler
 * can use the debug registers. Returns true if the access must not happen. */
export function dbgGeneralDetect(): bool {
  const dr7 = st(DR7);
  if (!(dr7 & 0x2000)) return false;
  setSt(DR7, dr7 & ~0x2000);
  setSt(DR6, st(DR6) | 0x2000);
  return true;
}
