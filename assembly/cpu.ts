// cpu.ts — the run loop and the opcode table.
//
// run(budget) executes up to `budget` instructions and returns an exit reason (abi.ts), like KVM_RUN.
// The opcode table is the `switch` in step(): one row per opcode byte, each row a call to a small handler
// named op_<mnemonic>_<form> (ops/*.ts) over the shared ALU helpers. Faults are values: a handler that
// faults sets `abort` and returns; the loop restores EIP to the start of the instruction and delivers.
import {
  STATE_BASE, OFF_EIP, OFF_EFLAGS, OFF_INSTR_LO, OFF_INSTR_HI, OFF_EXIT_REASON, OFF_EXIT_EIP, OFF_EXIT_INSN_LEN,
  OFF_INTR_LEVEL, OFF_INTR_VECTOR, OFF_RAM_SIZE, OFF_INTR_TAKEN_COUNT, OFF_CTRL, CTRL_EXIT_HLT, EXIT_BUDGET, EXIT_HLT,
  FLAG_IF, FLAG_TF, FLAG_RF, VEC_UD, VEC_GP, VEC_DB, SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS,
} from "./abi";
import {
  eip, setEip, ip0, setIp0, abort, setAbort, ABORT_NONE, ABORT_FAULT, ABORT_EXIT, setPending, pendVector, pendError,
  pendHasError, setPrefixState, setO16, setSegOvr, setRep, setLock, lockPrefix, o16, mrMod, mrReg, exitAfter,
  setExitAfter, intShadow, setIntShadow, halted, setHalted, st, setSt, setCplValue, segSel, cpl,
} from "./state";
import { flagsReg, getFlags, setFlags } from "./flags";
import { fetch8 } from "./decode";
import { loadRamSize, selectTlb, tlbFlushAll, computeSegOk } from "./mmu";
import { raiseException, deliverExternal, pendingDebugTrap, setPendingDebugTrap } from "./ops/interrupt";
import * as H from "./ops/handlers";

export let icount: u64 = 0;       // instructions retired
export let repIncomplete: bool = false; // a REP string instruction stopped early and will resume
export function setRepIncomplete(b: bool): void { repIncomplete = b; }
let intrLine: bool = false;

/** Sync the hot state from the STATE block (the host may have changed anything between runs). */
function enter(): void {
  setEip(st(OFF_EIP));
  setFlags(st(OFF_EFLAGS));
  icount = (<u64>st(OFF_INSTR_HI) << 32) | <u64>st(OFF_INSTR_LO);
  loadRamSize();
  setCplValue(segSel(SEG_CS) & 3 | 0);
  for (let s: u32 = 0; s < 6; s++) computeSegOk(s);
  selectTlb(cpl == 3);
  intrLine = st(OFF_INTR_LEVEL) != 0;
  setExitAfter(0xFFFFFFFF);
}
function leave(): void {
  setSt(OFF_EIP, eip);
  setSt(OFF_EFLAGS, getFlags());
  setSt(OFF_INSTR_LO, <u32>icount);
  setSt(OFF_INSTR_HI, <u32>(icount >> 32));
}

export function reset(): void {
  const ram = st(OFF_RAM_SIZE); // configuration survives a reset
  memory.fill(STATE_BASE, 0, 0x1000 - 0x100);
  setSt(OFF_RAM_SIZE, ram);
  setSt(OFF_EFLAGS, 2);
  setSt(0xD0 /* CR0 */, 0x10); // ET: as on every processor since the 486
  tlbFlushAll();
  setHalted(false);
  setIntShadow(false);
}
export function flushTlb(): void { tlbFlushAll(); }

export function run(budget: u32): u32 {
  enter();
  let n: u32 = 0;
  let reason: u32 = EXIT_BUDGET;
  while (n < budget) {
    // ---- between instructions: external interrupts, single-step, HLT ----
    if (intrLine) {
      if ((flagsReg & FLAG_IF) && !intShadow) {
        intrLine = false;
        setSt(OFF_INTR_LEVEL, 0);
        setSt(OFF_INTR_TAKEN_COUNT, st(OFF_INTR_TAKEN_COUNT) + 1);
        setHalted(false);
        deliverExternal(st(OFF_INTR_VECTOR));
        if (exitAfter != 0xFFFFFFFF) { reason = exitAfter; break; }
        continue;
      }
    }
    if (halted) {
      // nothing can wake the CPU inside this run: hand the host the HLT so it can advance time
      reason = EXIT_HLT;
      setSt(OFF_EXIT_EIP, eip);
      break;
    }
    setIntShadow(false);
    const tf = flagsReg & FLAG_TF;
    setIp0(eip);
    step();
    if (abort) {
      if (abort == ABORT_EXIT) {
        // the host must act (IN, MMIO read) before the instruction can complete; it restarts afterwards
        setAbort(ABORT_NONE);
        setSt(OFF_EXIT_EIP, ip0);
        setEip(ip0);
        reason = st(OFF_EXIT_REASON);
        break;
      }
      setAbort(ABORT_NONE);
      setEip(ip0);
      raiseException(pendVector, pendError, pendHasError);
      if (exitAfter != 0xFFFFFFFF) { reason = exitAfter; break; }
      continue;
    }
    if (!repIncomplete) { icount++; n++; } else setRepIncomplete(false);
    if (tf | pendingDebugTrap) {
      // single-step trap after an instruction that began with TF=1 (or int1/icebp)
      setPendingDebugTrap(false);
      raiseException(VEC_DB, 0, false);
    }
    if (exitAfter != 0xFFFFFFFF) {
      reason = exitAfter;
      setSt(OFF_EXIT_EIP, ip0);
      setSt(OFF_EXIT_INSN_LEN, eip - ip0);
      break;
    }
  }
  if (reason != EXIT_BUDGET) setSt(OFF_EXIT_REASON, reason);
  else setSt(OFF_EXIT_REASON, EXIT_BUDGET);
  leave();
  return reason;
}

function ud(): void { setPending(VEC_UD, 0, false); }

/** Decode prefixes and execute one instruction. */
function step(): void {
  let op = fetch8();
  setPrefixState(false, -1, 0, false);
  // ---- prefixes ----
  for (;;) {
    switch (op) {
      case 0x66: setO16(true); break;
      case 0x26: setSegOvr(<i32>SEG_ES); break;
      case 0x2E: setSegOvr(<i32>SEG_CS); break;
      case 0x36: setSegOvr(<i32>SEG_SS); break;
      case 0x3E: setSegOvr(<i32>SEG_DS); break;
      case 0x64: setSegOvr(<i32>SEG_FS); break;
      case 0x65: setSegOvr(<i32>SEG_GS); break;
      case 0xF0: setLock(true); break;
      case 0xF2: case 0xF3: setRep(op); break;
      case 0x67: ud(); return; // 16-bit addressing is not supported
      default:
        if (lockPrefix && !H.lockAllowed(op)) { if (!abort) ud(); return; }
        H.dispatch(op);
        return;
    }
    if (eip - ip0 >= 15) { setPending(VEC_GP, 0, true); return; } // an instruction is at most 15 bytes
    op = fetch8();
    if (abort) return;
  }
}
