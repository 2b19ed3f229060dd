// ops/sensitive.ts — run-time translation of the x86 hole (abi.ts CTRL_EXIT_SENSITIVE / _PRIV_XFER / _DESC_READ).
// A sensitive instruction's handler asks sensitiveExit(class) first (after its own #UD checks): with that control
// set the instruction does not execute, it exits to the host with EXIT_SENSITIVE, EIP on it, exactly like an IN
// that waits for the host (ABORT_EXIT: the run loop restores EIP and reports it; decodeat.ts hands the decoded
// instruction over). Only these handlers call it, so no other instruction pays for the check, compiled (the JIT
// runs these records through the same handlers, jitExec) or not; and since it is decided when the instruction
// executes, code generated, hidden or rewritten at run time is covered like any other.
import { OFF_CTRL, OFF_EXIT_REASON, EXIT_SENSITIVE } from "../abi";
import { st, setSt, setAbort, ABORT_EXIT } from "../state";

/** True (and the instruction exits to the host unexecuted) when control `ctl` is set. */
export function sensitiveExit(ctl: u32): bool {
  if (!(st(OFF_CTRL) & ctl)) return false;
  setSt(OFF_EXIT_REASON, EXIT_SENSITIVE);
  setAbort(ABORT_EXIT);
  return true;
}
