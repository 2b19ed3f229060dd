// cpu.ts — the run loop over predecoded blocks.
//
// run(budget) executes up to `budget` instructions and returns an exit reason (abi.ts), like KVM_RUN.
//
// Dispatch design: instructions are decoded once (decoder.ts, driven by the opcode table in opcodes.ts) into
// fixed-size records grouped in blocks — straight-line runs that end at a control transfer, a system
// instruction, a page end or MAX_BLOCK instructions. Blocks are found by the guest-physical address of their
// first byte through a direct-mapped hash table, so they survive paging changes and are shared by every
// mapping of the page. Pages holding blocks are write-protected in the TLB (mmu.ts): a write to one bumps the
// page's generation, which makes its blocks miss, and stops the running block (self-modifying code is exact).
// The executor runs a block's records through the opcode table's handlers (ops/handlers.ts). A later JIT can
// compile hot blocks to wasm with the same records and the same invalidation.
import {
  STATE_BASE, OFF_EIP, OFF_EFLAGS, OFF_INSTR_LO, OFF_INSTR_HI, OFF_EXIT_REASON, OFF_EXIT_EIP, OFF_EXIT_INSN_LEN,
  OFF_INTR_LEVEL, OFF_INTR_VECTOR, OFF_INTR_TAKEN_COUNT, OFF_RAM_SIZE, OFF_HALTED, OFF_CR0, OFF_DR0, EXIT_BUDGET, EXIT_HLT, EXIT_DEBUG, EXIT_EXCEPTION, EXIT_SHUTDOWN, EXIT_MMIO_WRITE,
  FLAG_IF, FLAG_TF, FLAG_CF, FLAG_RF, VEC_UD, VEC_GP, VEC_DB, SEG_CS, SEG_SS, RAM_BASE, BLOCK_HASH_BASE, BLOCK_ARENA_BASE,
  AREA_TMP_REC, AREA_RESET, AREA_RESET_SIZE, RESET_KEEP1, RESET_KEEP1_SIZE, RESET_KEEP2, RESET_KEEP2_SIZE, STATE_SIZE,
  OFF_INT_SHADOW, SHADOW_INT, SHADOW_MOV_SS, OFF_PENDING_DBG, OFF_APIC_BASE, AREA_APIC, BLK_MAX_RECORDS,
} from "./abi";
import {
  eip, setEip, ip0, setIp0, abort, setAbort, ABORT_EXIT, ABORT_APIC, setPending, pendVector, pendError, pendHasError,
  setPrefixState, setA16, setModrm, setEa, setEaBase, setImms, r32, exitAfter, setExitAfter, intShadow, setIntShadow, halted,
  setHalted, ssShadow, setSsShadow, st, setSt, setCplValue, segSel, segBase, segLimit, cpl, stopBlock, setStopBlock, segOvr, w32, ESP, r8,
} from "./state";
import {
  flagsReg, lfOp, lfA, lfB, lfR, lfTop, getFlags, setFlags, setLazyState, cfOf, condOf, flagsOf, LF_ADD, LF_SUB,
  LF_LOGIC, LF_INC, LF_DEC, LF_NONE,
} from "./flags";
import { rd8, rd32, wr8, wr32 } from "./mmu";
import { stack32 } from "./decode";
import { shiftCore, shiftFlags } from "./ops/alu";
import {
  loadRamSize, selectTlb, tlbFlushAll, tlbInvlpg, computeSegOk, tlbR, tlbW, translate, mmioHit, pageInfo, markCodePage,
  clearPageInfo, invalidatePhysRange, epoch, bumpEpoch, setFetchWindow, pendingMmioWrites, popMmioWrite, dropMmioWrites,
} from "./mmu";
import { decodeInsn, OP_GP } from "./decoder";
import {
  REC_SIZE, BLK_HDR, BLK_EXECS, BLK_JIT, BLK_JIT_STATE, OFF_JIT_BLOCK, OFF_JIT_THRESHOLD, OFF_JIT_ENTRIES, OFF_JIT_COMPILED, JIT_CTX,
  JC_E, JC_FL, JC_TLBR, JC_TLBW, JC_LOP, JC_LA, JC_LB, JC_LR, JC_LTOP, JC_STATUS, JC_I0, JC_COUNT, JC_BUDGET, JC_CSLIMIT, JIT_QUEUED, OFF_JIT_RETIRED, JIT_ABORT,
  F_ALU_RR, F_ALU_RI, F_ALU_RM, F_TEST_RR, F_MOV_RR, F_MOV_RI, F_LOAD, F_STORE, F_INC, F_DEC, F_PUSH, F_POP, F_JCC,
  F_JMP, F_CALL, F_RET, F_SHIFT_RI, F_LEA, F_MOVZX_BM, F_NEG, F_TEST8_RI, F_TEST8_MI, F_CMP8_MI, F_STORE8_I, F_STORE8_R,
  F_CMP_MI, F_CMP_MR, OFF_JIT_COMPILE_EIP, OFF_JIT_ONE_PAGE,
} from "./abi";
import { opFlags, OPF_E } from "./opcodes";
import { raiseException, deliverExternal, pendingDebugTrap, setPendingDebugTrap } from "./ops/interrupt";
import { dispatch, dispatch0F } from "./ops/handlers";
import { ioLogEnter, ioLogClear, replaying } from "./iolog";
import { apicEnter, apicCompleteRead } from "./apic";
import { fillExitInfo } from "./decodeat";
import { segsUnchanged, segsRecomputed, keepSegs, setExitRec, clearExitRec, exitRec, exitRecAt, exitPathReset } from "./exitpath";
import { vmxEnter, vmxWatch, vmxBoundary, vmxFinish, vmxOn } from "./vmx";
import { pwcFlush } from "./ept";
import { translateFetch } from "./ept";
import { EXIT_VMEXIT } from "./abi";
import { dbgArmed, dbgRecompute, dbgNeedSingle, dbgBefore, dbgGuestTrap, dbgHostStop, dbgClearHits, dbgSteps } from "./debug";

export let icount: u64 = 0;              // instructions retired
// A REP string instruction stopped at an iteration boundary with EIP still on it and will resume (a unit of
// ops/string.ts). It counts as retired like any instruction; the flag only lives within one instruction.
export let repIncomplete: bool = false;
export function setRepIncomplete(b: bool): void { repIncomplete = b; if (b) setStopBlock(true); }
let intrLine: bool = false;
let jitThreshold: u32 = 0;
let jitEntries: u32 = 0;
let jitRetired: u64 = 0;
/** The host's block compiler: returns the table index of the compiled function, 0 if it declines. */
@external("env", "jitCompile") declare function jitCompile(block: u32): u32;
let lastPfx: u32 = 0;

// ---- block cache ----
const MAX_BLOCK: u32 = BLK_MAX_RECORDS;
const HASH_BITS: u32 = 16;
// block header (BLK_HDR bytes): +0 phys, +4 page generation, +8 count (u16), +10 bytes (u16), +12 link epoch,
// +16/+20 link 0 (target EIP, block), +24/+28 link 1: the last two successors, valid while the epoch holds,
// +32 executions, +36 compiled function (table index), +40 compile state
const HDR: u32 = BLK_HDR;
const ARENA_END: u32 = RAM_BASE;
const TMP_REC: u32 = STATE_BASE + AREA_TMP_REC; // scratch record for instructions executed without a block
const UNCACHED: u32 = 1;
let arenaTop: u32 = BLOCK_ARENA_BASE;
let arenaMax: u32 = BLOCK_ARENA_BASE; // the arena is zero above it (recycle.ts)
export function arenaHigh(): u32 { return arenaMax; }
export function clearArenaHigh(): void { arenaMax = BLOCK_ARENA_BASE; }

@inline function hashSlot(phys: u32): u32 {
  return BLOCK_HASH_BASE + ((((phys >>> HASH_BITS) ^ phys) & ((<u32>1 << HASH_BITS) - 1)) << 3);
}
let arenaGen: u32 = 0;
// The hash is all zero in a fresh machine's memory and after a flush until buildBlock fills a slot: a flush of an
// empty cache writes nothing (creating a machine touches neither the hash nor the page info).
let hashUsed: bool = false;
/** The block cache's generation: it changes whenever every predecoded block is dropped (the host's JIT then knows no
 * block refers to a compiled function it made before, and reuses their table slots). */
export function blockGeneration(): u32 { return arenaGen; }
export function flushBlocks(): void {
  if (hashUsed) memory.fill(BLOCK_HASH_BASE, 0, (<u32>8) << HASH_BITS);
  hashUsed = false;
  arenaGen++;
  arenaTop = BLOCK_ARENA_BASE;
  clearPageInfo();
}

/** Decode a block starting at EIP (guest-physical `phys`). Returns the block, UNCACHED, or 0 with a fault pending. */
function buildBlock(phys: u32, lin: u32): u32 {
  if (arenaTop + HDR + MAX_BLOCK * REC_SIZE > ARENA_END) { flushBlocks(); tlbFlushAll(); }
  const b = arenaTop;
  if (b + HDR + MAX_BLOCK * REC_SIZE > arenaMax) arenaMax = b + HDR + MAX_BLOCK * REC_SIZE; // what decoding may write
  let r = b + HDR;
  const start = eip;
  let count: u32 = 0;
  let bytes: u32 = 0;
  for (;;) {
    const at = eip;
    decodeInsn(r);
    if (abort) {
      if (count == 0) { setEip(start); return 0; }
      setAbort(0); // the fault belongs to a later instruction: it is raised when that one runs first in a block
      break;
    }
    const len = <u32>load<u8>(r, 2);
    const l0 = lin + (at - start);
    if ((l0 & 0xFFF) + len > 0x1000) { // crosses into the next page: never cached
      if (count == 0) { setEip(start); return UNCACHED; }
      break;
    }
    count++;
    bytes += len;
    r += REC_SIZE;
    const op = <u32>load<u16>(r - REC_SIZE);
    // a conditional jump does not end the block: the block goes on along the not-taken path, and a taken
    // branch leaves it (a side exit), so hot paths through if/else chains compile as one piece
    if (op >= 0x200 || ((opFlags(op) & OPF_E) && !forwardJcc(r - REC_SIZE, op))) break;
    if (op == 0xFF) { const g = (<u32>load<u8>(r - REC_SIZE, 4) >> 3) & 7; if (g >= 2 && g <= 5) break; }
    if (count == MAX_BLOCK || ((l0 + len) & 0xFFF) == 0) break;
  }
  setEip(start);
  const page = phys >>> 12;
  markCodePage(page);
  store<u32>(b, phys);
  store<u32>(b, pageInfo(page) & 0x7FFFFFFF, 4);
  store<u16>(b, <u16>count, 8);
  store<u16>(b, <u16>bytes, 10);
  store<u32>(b, epoch - 1, 12); // no links yet
  store<u32>(b, 0, BLK_EXECS);
  store<u32>(b, 0, BLK_JIT);
  store<u32>(b, 0, BLK_JIT_STATE);
  const h = hashSlot(phys);
  hashUsed = true;
  store<u32>(h, phys + 1);
  store<u32>(h, b, 4);
  arenaTop = r;
  return b;
}

/** A conditional jump forward (an if, not a loop's back edge: loops keep ending their block, so a loop that
 * is one block can run as one, or as a wasm loop once compiled). */
@inline function forwardJcc(r: u32, op: u32): bool {
  if (!((op >= 0x70 && op <= 0x7F) || (op >= 0x180 && op <= 0x18F))) return false;
  return load<u8>(r, 21) != 0 && <i32>load<u32>(r, 24) > 0; // fast form (32-bit, no prefix), positive displacement
}

/** Find (or build) the block for EIP. Returns the block, UNCACHED, or 0 with a fault pending. */
@inline function findBlock(): u32 {
  const lin = segBase(SEG_CS) + eip;
  const e = tlbR + (((lin >>> 12) & 1023) << 4);
  let phys: u32;
  if (load<u32>(e) == lin >>> 12) phys = lin + load<u32>(e, 4) - RAM_BASE;
  else {
    if (eip > segLimit(SEG_CS)) return UNCACHED; // the fetch raises #GP
    const add = translateFetch(lin, cpl == 3);
    if (abort) return 0;
    if (mmioHit) return UNCACHED;
    phys = lin + add - RAM_BASE;
  }
  const h = hashSlot(phys);
  let b: u32 = 0;
  if (load<u32>(h) == phys + 1) {
    b = load<u32>(h, 4);
    if (load<u32>(b, 4) != (pageInfo(phys >>> 12) & 0x7FFFFFFF)) b = 0;
  }
  if (!b) b = buildBlock(phys, lin);
  if (b > UNCACHED && <u64>eip + <u64>load<u16>(b, 10) - 1 > <u64>segLimit(SEG_CS)) return UNCACHED;
  return b;
}

/** Load the record's decode state into the handler globals and run its handler. */
@inline function exec(r: u32): void {
  const op = <u32>load<u16>(r);
  const pfx = <u32>load<u8>(r, 3);
  if (pfx | lastPfx) {
    setPrefixState((pfx & 1) != 0, <i32>((pfx >> 4) & 7) - 1, (pfx & 4) ? 0xF2 : (pfx & 8) ? 0xF3 : 0, (pfx & 2) != 0);
    setA16((pfx & 0x80) != 0);
    lastPfx = pfx;
  }
  setModrm(<u32>load<u8>(r, 4));
  if (load<u8>(r, 20)) {
    let a = load<u32>(r, 8);
    const base = <u32>load<u8>(r, 5);
    const index = <u32>load<u8>(r, 6);
    const sc = <u32>load<u8>(r, 7);
    if (base < 8) a += r32(base);
    setEaBase(base);
    if (index < 8) a += r32(index) << (sc & 3);
    if (pfx & 0x80) a &= 0xFFFF; // 16-bit addressing wraps at 64 KiB
    setEa(segOvr >= 0 ? <u32>segOvr : sc >> 4, a);
  }
  setImms(load<u32>(r, 12), load<u32>(r, 16));
  if (op < 0x100) dispatch(op);
  else if (op < 0x200) dispatch0F(op & 0xFF);
  else if (op == OP_GP) setPending(VEC_GP, 0, true);
  else setPending(VEC_UD, 0, false);
}

/** Sync the hot state from the STATE block (the host may have changed anything between runs). */
function enter(): void {
  setEip(st(OFF_EIP));
  setFlags(st(OFF_EFLAGS));
  icount = (<u64>st(OFF_INSTR_HI) << 32) | <u64>st(OFF_INSTR_LO);
  loadRamSize();
  setCplValue(segSel(SEG_CS) & 3);
  clearExitRec();
  // the segment caches, the TLB set and the link epoch only when the host changed a segment (exitpath.ts)
  const segsSame = segsUnchanged();
  if (!segsSame) {
    for (let s: u32 = 0; s < 6; s++) computeSegOk(s);
    selectTlb(cpl == 3);
    segsRecomputed();
  }
  intrLine = st(OFF_INTR_LEVEL) != 0;
  vmxEnter(icount, intrLine); // guest mode's controls (vmx.ts)
  setHalted(st(OFF_HALTED) != 0);
  const sh = st(OFF_INT_SHADOW);
  setIntShadow((sh & SHADOW_INT) != 0);
  setSsShadow((sh & SHADOW_MOV_SS) != 0);
  setPendingDebugTrap(st(OFF_PENDING_DBG) != 0);
  jitThreshold = st(OFF_JIT_THRESHOLD);
  setExitAfter(0xFFFFFFFF);
  lastPfx = 0xFF; // force the prefix globals to be reloaded
  setFetchWindow(0, 0, 0); // the host may have moved CS
  ioLogEnter();
  apicEnter(icount);
  if (!segsSame) bumpEpoch(); // the host changed segments (paging changes bump it themselves: flushTlb, invlpg)
  if (dbgRecompute()) tlbFlushAll(); // the host may have changed its breakpoints (debug.ts)
}
function leave(): void {
  setSt(OFF_HALTED, halted ? 1 : 0);
  setSt(OFF_INT_SHADOW, (intShadow ? SHADOW_INT : 0) | (ssShadow ? SHADOW_MOV_SS : 0));
  setSt(OFF_PENDING_DBG, pendingDebugTrap ? 1 : 0);
  setSt(OFF_EIP, eip);
  setSt(OFF_EFLAGS, getFlags());
  setSt(OFF_INSTR_LO, <u32>icount);
  setSt(OFF_INSTR_HI, <u32>(icount >> 32));
  keepSegs();
}

export function reset(): void {
  // the VMM's configuration survives a reset: RAM size, intercepts, controls, hypervisor leaves, JIT
  const save = STATE_BASE + AREA_RESET;
  memory.copy(save, STATE_BASE + RESET_KEEP1, RESET_KEEP1_SIZE);
  memory.copy(save + RESET_KEEP1_SIZE, STATE_BASE + RESET_KEEP2, RESET_KEEP2_SIZE);
  memory.fill(STATE_BASE, 0, AREA_RESET);
  // (AREA_APIC and above is a device's: the host's local APIC model keeps its registers there)
  memory.fill(STATE_BASE + AREA_RESET + AREA_RESET_SIZE, 0, AREA_APIC - AREA_RESET - AREA_RESET_SIZE);
  memory.copy(STATE_BASE + RESET_KEEP1, save, RESET_KEEP1_SIZE);
  memory.copy(STATE_BASE + RESET_KEEP2, save + RESET_KEEP1_SIZE, RESET_KEEP2_SIZE);
  setSt(OFF_EFLAGS, 2);
  setSt(OFF_APIC_BASE, 0xFEE00900); // enabled, BSP, at the default base
  setSt(OFF_CR0, 0x10); // ET: as on every processor since the 486
  setSt(OFF_DR0 + 24, 0xFFFF0FF0); // DR6
  setSt(OFF_DR0 + 28, 0x400);      // DR7
  tlbFlushAll();
  pwcFlush();
  loadRamSize();
  flushBlocks();
  setHalted(false);
  setIntShadow(false);
  setSsShadow(false);
  setPendingDebugTrap(false);
  exitPathReset(true);
}
export function flushTlb(): void { tlbFlushAll(); pwcFlush(); } // (and INVEPT: the nested TLB, ept.ts)
/**
 * The host replaced the vCPU state (Machine.loadState) and possibly all of RAM: drop every cache built from the
 * old contents (TLB, predecoded and compiled blocks, code-page marks). run() re-reads everything else.
 */
export function stateLoaded(): void { loadRamSize(); tlbFlushAll(); pwcFlush(); flushBlocks(); stalls = 0; exitPathReset(false); }
/** The host's INVLPG: drop the translations of one linear page (all privilege sets). */
export function invlpg(lin: u32): void { tlbInvlpg(lin); }
export function notifyHostWrite(paddr: u32, len: u32): void { loadRamSize(); invalidatePhysRange(paddr, len); }

/** deliveries in a row without a retired instruction after which run() returns even under a tiny budget */
const STALL_MIN: u64 = 64;
/** deliveries since an instruction last retired, kept across run() calls: a fault loop whose every round makes a
 *  host read (a RETF popping from device memory, its #GP handler that RETF) exits before its round completes */
let stalls: u64 = 0;
let lastIc: u64 = 0;

export function run(budget: u32): u32 {
  enter();
  if (pendingMmioWrites()) { // writes of the last instruction still to hand over (mmu.ts)
    popMmioWrite();
    leave();
    return EXIT_MMIO_WRITE;
  }
  const limit = icount + <u64>budget;
  let reason: u32 = EXIT_BUDGET;
  // Work that retires nothing — an exception or interrupt delivered through the IDT — is counted while no
  // instruction retires, and run() returns (reason budget) after as many such events in a row as the budget (at
  // least STALL_MIN): a fault loop (a handler that faults again) cannot keep the host inside one call, while
  // run(1) still delivers an interrupt and retires its handler's first instruction. (A REP unit of up to 4096
  // iterations retires as an instruction: ops/string.ts.) The count carries over calls (a round that exits for a
  // host read still counts), so a loop that exits every round is bounded as well.
  const stallLimit: u64 = <u64>budget > STALL_MIN ? <u64>budget : STALL_MIN;
  while (icount < limit) {
    if (icount != lastIc) { lastIc = icount; stalls = 0; } else if (stalls >= stallLimit) { stalls = 0; break; }
    // ---- between blocks: external interrupts, HLT, interrupt shadow and single-step ----
    let single = replaying; // an instruction restarted after a host read runs alone, before any interrupt
    if (!single && (intrLine | halted | intShadow | ((flagsReg & (FLAG_TF | FLAG_RF)) != 0) | pendingDebugTrap | dbgArmed | vmxWatch)) {
      if (vmxWatch) { // guest mode: event injection and the boundary exits (vmx.ts)
        if (vmxBoundary(icount, intrLine)) { reason = EXIT_VMEXIT; break; }
        if (exitAfter != 0xFFFFFFFF) { reason = exitAfter; break; }
      }
      // (a host single-step takes no interrupt unless the CPU is halted, as QEMU's gdbstub)
      if (intrLine && (flagsReg & FLAG_IF) && !intShadow && (!dbgArmed || halted || !dbgSteps())) {
        intrLine = false;
        setSt(OFF_INTR_LEVEL, 0);
        setSt(OFF_INTR_TAKEN_COUNT, st(OFF_INTR_TAKEN_COUNT) + 1);
        setHalted(false);
        deliverExternal(st(OFF_INTR_VECTOR));
        if (exitAfter != 0xFFFFFFFF) { reason = exitAfter; break; }
        stalls++;
        continue;
      }
      if (halted) { reason = EXIT_HLT; setSt(OFF_EXIT_EIP, eip); break; }
      single = !dbgArmed || (intrLine | intShadow | ((flagsReg & (FLAG_TF | FLAG_RF)) != 0) | pendingDebugTrap | vmxWatch) ||
        dbgNeedSingle(segBase(SEG_CS) + eip);
      setIntShadow(false);
      if (single) {
        if (dbgArmed) {
          const d = dbgBefore();
          if (d == 1) { reason = EXIT_DEBUG; break; }
          if (d == 2) { // an instruction breakpoint of the guest: #DB, a fault (EIP stays on the instruction)
            raiseException(VEC_DB, 0, false);
            if (exitAfter != 0xFFFFFFFF) { reason = exitAfter; break; }
            stalls++; // a delivery that retires nothing, as an interrupt's
            continue;
          }
        }
        if (flagsReg & FLAG_RF) setFlags(getFlags() & ~FLAG_RF); // RF lasts one instruction (an IRET may set it again)
      }
    }
    const tf = flagsReg & FLAG_TF;
    setStopBlock(false);
    setSsShadow(false);
    let b = findBlock();
    if (abort) { setIp0(eip); if (fault()) { reason = exitAfter; break; } stalls++; continue; }
    const ic0 = icount;
    if (b == UNCACHED) {
      // page-crossing instruction, code outside RAM or near the CS limit: decode and run it without caching
      setIp0(eip);
      decodeInsn(TMP_REC);
      if (!abort) { exec(TMP_REC); if (abort) setExitRec(TMP_REC, ip0); }
      if (abort) { if (fault()) { reason = exitAfter; break; } stalls++; continue; }
      setRepIncomplete(false); // a REP unit that stopped early retires too (ops/string.ts)
      icount++;
    } else {
      runBlock(b, single, limit);
      if (abort) { if (fault()) { reason = exitAfter; break; } if (icount == ic0) stalls++; continue; }
    }
    if (icount == ic0) stalls++; // retired nothing: counted like a delivery, so run() always returns
    if (replaying) ioLogClear(); // it completed (or faulted): later reads of the same address exit again
    if (dbgArmed && dbgGuestTrap()) setPendingDebugTrap(true); // the guest's data breakpoints: a #DB trap
    if (pendingDebugTrap || (single && tf && !ssShadow)) {
      // #DB trap after an instruction that began with TF=1 (DR6.BS), or after INT1
      if (tf) setSt(OFF_DR0 + 24, st(OFF_DR0 + 24) | 0x4000);
      setPendingDebugTrap(false);
      raiseException(VEC_DB, 0, false);
    }
    if (dbgArmed && exitAfter == 0xFFFFFFFF && dbgHostStop()) { reason = EXIT_DEBUG; break; } // a host watchpoint
    if (exitAfter != 0xFFFFFFFF) {
      reason = exitAfter;
      if (reason != EXIT_EXCEPTION && reason != EXIT_SHUTDOWN) { // exception/shutdown exits record their own EIP
        setSt(OFF_EXIT_EIP, ip0);
        setSt(OFF_EXIT_INSN_LEN, eip - ip0);
      }
      break;
    }
  }
  setSt(OFF_EXIT_REASON, reason);
  fillExitInfo(reason); // once per exit: the exiting instruction and its qualification (decodeat.ts)
  if (vmxOn) reason = vmxFinish(reason); // guest mode: which VM exit this was (vmx.ts)
  leave();
  return reason;
}

/**
 * Execute `cnt` records of a block. The fast forms (decoder.ts F_*) run inline with EIP, the instruction
 * count and the lazy flags in locals; every other record goes through its handler with that state written
 * back to the globals first. On return the globals are current; `abort` is set if an instruction faulted.
 */
function runBlock(b0: u32, single: bool, limit: u64): void {
  let b = b0;
  let E = eip;
  let IC = icount;
  let fl = flagsReg, lop = lfOp, la = lfA, lb = lfB, lr = lfR, ltop = lfTop;
  const csLimit = segLimit(SEG_CS);
  const ss32 = stack32();
  let I0: u32 = E;
  let bEip = E, bEpoch = epoch;
  for (;;) {
  let cnt = <u32>load<u16>(b, 8);
  const full = cnt;
  if (single) cnt = 1;
  if (<u64>cnt > limit - IC) cnt = <u32>(limit - IC);
  let r = b + HDR;
  let i: u32 = 0;
  let taken = false;
  // ---- compiled block: run it instead of the records ----
  if (!single && ss32 && cnt == full) {
    let fn = load<u32>(b, BLK_JIT);
    if (!fn && jitThreshold && load<u32>(b, BLK_JIT_STATE) == 0) {
      const n = load<u32>(b, BLK_EXECS) + 1;
      store<u32>(b, n, BLK_EXECS);
      if (n >= jitThreshold) {
        store<u32>(STATE_BASE + OFF_JIT_COMPILE_EIP, E); // (regions into other pages: host/jit/region.ts)
        fn = jitCompile(b);
        if (fn == JIT_QUEUED) { fn = 0; store<u32>(b, 0, BLK_EXECS); } // (in a batch: asks again if still hot)
        else {
          store<u32>(b, fn, BLK_JIT);
          store<u32>(b, fn ? 1 : 2, BLK_JIT_STATE);
          if (fn) setSt(OFF_JIT_COMPILED, st(OFF_JIT_COMPILED) + 1);
        }
      }
    }
    if (fn) {
      const c = STATE_BASE + JIT_CTX;
      store<u32>(STATE_BASE + OFF_JIT_ONE_PAGE, dbgArmed ? 1 : 0);
      store<u32>(c, E, JC_E); store<u32>(c, fl, JC_FL); store<u32>(c, lop, JC_LOP); store<u32>(c, la, JC_LA);
      store<u32>(c, lb, JC_LB); store<u32>(c, lr, JC_LR); store<u32>(c, ltop, JC_LTOP); store<u32>(c, 0, JC_STATUS);
      store<u32>(c, 0, JC_COUNT); store<u32>(c, csLimit, JC_CSLIMIT);
      let status: u32 = 0;
      // compiled blocks chain here with the state kept in the context (they load and store it themselves),
      // making the checks the chain below makes between blocks; anything else leaves to that chain
      for (;;) {
        store<u32>(c, tlbR, JC_TLBR); store<u32>(c, tlbW, JC_TLBW);
        const left = limit - IC;
        store<u32>(c, left > 0x7FFFFFFF ? 0x7FFFFFFF : <u32>left, JC_BUDGET);
        jitIcBase = IC;
        setStopBlock(false);
        store<u32>(STATE_BASE + OFF_JIT_BLOCK, b); // (compiled code finds its records from here)
        status = call_indirect<u32>(fn);
        const done = <u64>load<u32>(c, JC_COUNT);
        IC += done;
        jitRetired += done;
        jitEntries++;
        if (status != 0 || stopBlock || IC >= limit || epoch != bEpoch) break;
        const nfl = load<u32>(c, JC_FL);
        if ((intrLine && (nfl & FLAG_IF)) || (nfl & FLAG_TF) || intShadow || halted || pendingDebugTrap || dbgArmed || vmxWatch) break;
        const nE = load<u32>(c, JC_E);
        let nb = b;
        if (nE != bEip) {
          nb = linkedBlock(b, nE); // (the common case without a call)
          if (!nb) nb = nextBlock(b, nE);
          if (nb <= UNCACHED) { if (abort) I0 = nE; break; } // (the fault is the next instruction's, as below)
          if (epoch != bEpoch) break;
        }
        const nfn = load<u32>(nb, BLK_JIT);
        if (!nfn || <u64>load<u16>(nb, 8) > limit - IC) break;
        b = nb; bEip = nE; fn = nfn;
        store<u32>(c, 0, JC_STATUS); store<u32>(c, 0, JC_COUNT);
      }
      E = load<u32>(c, JC_E); fl = load<u32>(c, JC_FL); lop = load<u32>(c, JC_LOP); la = load<u32>(c, JC_LA);
      lb = load<u32>(c, JC_LB); lr = load<u32>(c, JC_LR); ltop = load<u32>(c, JC_LTOP);
      if (status == JIT_ABORT) { I0 = load<u32>(c, JC_I0); break; }
      if (status != 0 || stopBlock) break;
      i = cnt;
      cnt = 0; // (the record loop below does nothing)
    }
  }
  for (; i < cnt; i++, r += REC_SIZE) {
    I0 = E;
    E += <u32>load<u8>(r, 2);
    let f = <u32>load<u8>(r, 21);
    if (!ss32 && (f == F_PUSH || f == F_POP || f == F_CALL || f == F_RET)) f = 0; // 16-bit stacks: the table path
    if (f == 0) {
      // through the opcode table
      setEip(E); setIp0(I0); icount = IC;
      setLazyState(lop, la, lb, lr, ltop, fl);
          exec(r);
      E = eip; IC = icount;
      fl = flagsReg; lop = lfOp; la = lfA; lb = lfB; lr = lfR; ltop = lfTop;
      if (abort) { setExitRec(r, I0); break; }
      if (stopBlock) { if (exitAfter != 0xFFFFFFFF) setExitRec(r, I0); setRepIncomplete(false); IC++; break; } // (a REP unit that stopped early retires too)
      IC++;
      continue;
    }
    const dst = <u32>load<u8>(r, 23);
    switch (f) {
      case F_ALU_RR: case F_ALU_RI: case F_ALU_RM: {
        let b: u32;
        if (f == F_ALU_RR) b = r32(<u32>load<u8>(r, 28));
        else if (f == F_ALU_RI) b = load<u32>(r, 24);
        else { b = rd32(fastSeg(r), fastEa(r)); if (abort) break; }
        const a = r32(dst);
        const aop = <u32>load<u8>(r, 22);
        let res: u32;
        if (aop == 0) { res = a + b; lop = LF_ADD; }
        else if (aop == 5 || aop == 7) { res = a - b; lop = LF_SUB; }
        else { res = aop == 6 ? a ^ b : aop == 4 ? a & b : a | b; lop = LF_LOGIC; }
        la = a; lb = b; lr = res; ltop = 31;
        if (aop != 7) w32(dst, res);
        break;
      }
      case F_TEST_RR: { lr = r32(dst) & r32(<u32>load<u8>(r, 28)); lop = LF_LOGIC; la = 0; lb = 0; ltop = 31; break; }
      case F_MOV_RR: w32(dst, r32(<u32>load<u8>(r, 28))); break;
      case F_MOV_RI: w32(dst, load<u32>(r, 24)); break;
      case F_LOAD: { const v = rd32(fastSeg(r), fastEa(r)); if (abort) break; w32(dst, v); break; }
      case F_STORE: { wr32(fastSeg(r), fastEa(r), r32(<u32>load<u8>(r, 28))); break; }
      case F_MOVZX_BM: { const v = rd8(fastSeg(r), fastEa(r)); if (abort) break; w32(dst, v); break; }
      case F_LEA: w32(dst, fastEa(r)); break;
      case F_INC: case F_DEC: {
        fl = (fl & ~FLAG_CF) | cfOf(lop, la, lb, lr, ltop, fl); // CF survives INC/DEC
        const a = r32(dst);
        lr = f == F_INC ? a + 1 : a - 1;
        lop = f == F_INC ? LF_INC : LF_DEC; la = a; lb = 1; ltop = 31;
        w32(dst, lr);
        break;
      }
      case F_SHIFT_RI: {
        const c = load<u32>(r, 24);
        if (c == 0) break;
        fl = flagsOf(lop, la, lb, lr, ltop, fl);
        lop = LF_NONE;
        w32(dst, shiftCore(<u32>load<u8>(r, 22), 4, r32(dst), c, fl));
        fl = shiftFlags;
        break;
      }
      case F_PUSH: case F_CALL: {
        let v: u32 = E;
        if (f == F_PUSH) v = r32(<u32>load<u8>(r, 28));
        else {
          const t = E + load<u32>(r, 24);
          if (t > csLimit) { setPending(VEC_GP, 0, true); break; }
        }
        const sp = r32(ESP) - 4;
        wr32(SEG_SS, sp, v);
        if (abort) break;
        w32(ESP, sp);
        if (f == F_CALL) E += load<u32>(r, 24);
        break;
      }
      case F_POP: case F_RET: {
        const sp = r32(ESP);
        const v = rd32(SEG_SS, sp);
        if (abort) break;
        if (f == F_RET) {
          if (v > csLimit) { setPending(VEC_GP, 0, true); break; }
          w32(ESP, sp + 4);
          E = v;
        } else {
          w32(ESP, sp + 4);
          w32(dst, v); // pop esp: the popped value wins
        }
        break;
      }
      case F_JCC: case F_JMP: {
        if (f == F_JMP || condOf(<u32>load<u8>(r, 22), lop, la, lb, lr, ltop, fl)) {
          const t = E + load<u32>(r, 24);
          if (t > csLimit) { setPending(VEC_GP, 0, true); break; }
          E = t;
          taken = true; // leaves the block here (a jcc may sit mid-block)
        }
        break;
      }
      case F_NEG: { const a = r32(dst); lr = 0 - a; lop = LF_SUB; la = 0; lb = a; ltop = 31; w32(dst, lr); break; }
      case F_TEST8_RI: { lr = r8(dst) & load<u32>(r, 24); lop = LF_LOGIC; la = 0; lb = 0; ltop = 7; break; }
      case F_TEST8_MI: {
        const v = rd8(fastSeg(r), fastEa(r)); if (abort) break;
        lr = v & load<u32>(r, 24); lop = LF_LOGIC; la = 0; lb = 0; ltop = 7;
        break;
      }
      case F_CMP8_MI: {
        const a = rd8(fastSeg(r), fastEa(r)); if (abort) break;
        const b = load<u32>(r, 24);
        lr = (a - b) & 0xFF; lop = LF_SUB; la = a; lb = b; ltop = 7;
        break;
      }
      case F_CMP_MI: case F_CMP_MR: {
        const a = rd32(fastSeg(r), fastEa(r)); if (abort) break;
        const b = f == F_CMP_MI ? load<u32>(r, 24) : r32(<u32>load<u8>(r, 28));
        lr = a - b; lop = LF_SUB; la = a; lb = b; ltop = 31;
        break;
      }
      case F_STORE8_I: wr8(fastSeg(r), fastEa(r), load<u32>(r, 24)); break;
      case F_STORE8_R: wr8(fastSeg(r), fastEa(r), r8(<u32>load<u8>(r, 28))); break;
      default: break; // F_NOP
    }
    if (abort) { setExitRec(r, I0); break; }
    IC++;
    if (stopBlock) { setIp0(I0); if (exitAfter != 0xFFFFFFFF) setExitRec(r, I0); break; } // a store hit code or MMIO (its exit reports this instruction)
    if (taken) { i = full; break; } // the rest of the block is the not-taken path
  }
  // ---- chain to the next block while nothing needs the outer loop ----
  if (abort || stopBlock || single || i < full || IC >= limit) break;
  if ((intrLine && (fl & FLAG_IF)) || (fl & FLAG_TF) || intShadow || halted || pendingDebugTrap || dbgArmed || vmxWatch) break;
  I0 = E;
  if (epoch != bEpoch) break; // CS, CPL or the TLB changed: the run loop starts over with fresh block-wide state
  if (E == bEip) continue; // a loop that is one block: no lookup (its code is unchanged, or stopBlock would be set)
  const nb = nextBlock(b, E);
  if (nb <= UNCACHED) break;
  b = nb;
  bEip = E;
  bEpoch = epoch;
  }
  if (abort) setIp0(I0);
  setEip(abort ? I0 : E);
  icount = IC;
  if (jitEntries) {
    setSt(OFF_JIT_ENTRIES, st(OFF_JIT_ENTRIES) + jitEntries); jitEntries = 0;
    store<u64>(STATE_BASE + OFF_JIT_RETIRED, load<u64>(STATE_BASE + OFF_JIT_RETIRED) + jitRetired); jitRetired = 0;
  }
  setLazyState(lop, la, lb, lr, ltop, fl);
}
// ---- compiled blocks run the records they do not inline through this (exported as jitExec) ----
let jitIcBase: u64 = 0;
export const JX_OK: u32 = 0;       // executed, EIP = next
export const JX_ABORT: u32 = 1;    // faulted (or needs the host): JC_I0 = its EIP
export const JX_STOP: u32 = 2;     // executed; the block must stop (code/MMIO write, exit requested)
export const JX_REPEAT: u32 = 3;   // (no longer returned: a REP unit that stops early is JX_STOP with EIP on it)
export const JX_JUMP: u32 = 4;     // executed and transferred control: JC_E = the target
/**
 * Run record `r` (instruction at `i0`, next at `next`) with the registers in the STATE block and the lazy
 * flags in the JIT context; `retired` = instructions the compiled block retired before it (for RDTSC).
 */
export function jitExec(r: u32, i0: u32, next: u32, retired: u32): u32 {
  const c = STATE_BASE + JIT_CTX;
  setLazyState(load<u32>(c, JC_LOP), load<u32>(c, JC_LA), load<u32>(c, JC_LB), load<u32>(c, JC_LR), load<u32>(c, JC_LTOP), load<u32>(c, JC_FL));
  setEip(next); setIp0(i0);
  icount = jitIcBase + <u64>retired;
  exec(r);
  store<u32>(c, flagsReg, JC_FL); store<u32>(c, lfOp, JC_LOP); store<u32>(c, lfA, JC_LA); store<u32>(c, lfB, JC_LB);
  store<u32>(c, lfR, JC_LR); store<u32>(c, lfTop, JC_LTOP);
  store<u32>(c, eip, JC_E);
  if (abort) { store<u32>(c, i0, JC_I0); setExitRec(r, i0); return JX_ABORT; }
  if (repIncomplete) setRepIncomplete(false); // retired as a unit; stopBlock is set, EIP (JC_E) stays on it
  if (stopBlock) { if (exitAfter != 0xFFFFFFFF) setExitRec(r, i0); return JX_STOP; }
  return eip == next ? JX_OK : JX_JUMP;
}

/** b's most recent successor when it is the block at E and still valid, else 0 (nextBlock's first check). */
@inline function linkedBlock(b: u32, E: u32): u32 {
  if (load<u32>(b, 12) != epoch || load<u32>(b, 16) != E) return 0;
  const c = load<u32>(b, 20);
  if (c && load<u32>(c, 4) == (pageInfo(load<u32>(c) >>> 12) & 0x7FFFFFFF)) return c;
  return 0;
}
/** The block at E after block `b`: through b's links when they hold, else looked up (and linked). */
function nextBlock(b: u32, E: u32): u32 {
  if (load<u32>(b, 12) == epoch) {
    let c: u32 = 0;
    if (load<u32>(b, 16) == E) c = load<u32>(b, 20);
    else if (load<u32>(b, 24) == E) c = load<u32>(b, 28);
    if (c && load<u32>(c, 4) == (pageInfo(load<u32>(c) >>> 12) & 0x7FFFFFFF)) return c;
  } else {
    store<u32>(b, epoch, 12);
    store<u32>(b, 0, 20); // no block (a target EIP alone cannot mark a slot empty: any value is a valid EIP)
    store<u32>(b, 0, 28);
  }
  setEip(E);
  const g = arenaGen;
  const nb = findBlock();
  if (nb > UNCACHED && g == arenaGen) {
    store<u32>(b, load<u32>(b, 16), 24); store<u32>(b, load<u32>(b, 20), 28);
    store<u32>(b, E, 16); store<u32>(b, nb, 20);
  }
  return nb;
}

@inline function fastEa(r: u32): u32 {
  let a = load<u32>(r, 8);
  const base = <u32>load<u8>(r, 5);
  const index = <u32>load<u8>(r, 6);
  if (base < 8) a += r32(base);
  if (index < 8) a += r32(index) << (<u32>load<u8>(r, 7) & 3);
  return a;
}
@inline function fastSeg(r: u32): u32 { return <u32>load<u8>(r, 7) >> 4; }

/** The current instruction stopped (abort). Returns true if run() must return to the host. */
function fault(): bool {
  const a = abort;
  setAbort(0);
  setEip(ip0);
  if (a == ABORT_EXIT) {
    // the host must act (IN, MMIO read) before the instruction can complete; it restarts afterwards
    setSt(OFF_EXIT_EIP, ip0);
    setExitAfter(st(OFF_EXIT_REASON));
    dropMmioWrites();
    return true;
  }
  const rec = exitRec, recAt = exitRecAt;
  clearExitRec(); // (unless the fault exits below, its record is not an exit's: exitpath.ts)
  if (a == ABORT_APIC) { apicCompleteRead(); return false; } // restarts at once with the value (apic.ts)
  if (replaying) ioLogClear();
  dbgClearHits();
  raiseException(pendVector, pendError, pendHasError);
  if (exitAfter == 0xFFFFFFFF) return false;
  setExitRec(rec, recAt); // an intercepted exception: its exit reports the faulting instruction
  return true;
}

