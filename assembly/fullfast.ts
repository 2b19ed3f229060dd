// fullfast.ts — full mode's hot traps handled inside the CPU (abi.ts "full-fast" block; host/full/README.md
// "Fast paths"), the way KVM handles the common exits in the kernel instead of in user space.
//
// A full-mode monitor runs the guest kernel at real CPL 3 with virtual CPL 0 and keeps the virtual IF and IOPL
// itself; cli/sti trap (#GP: real IOPL 0) and pushf/popf exit (CTRL_EXIT_SENSITIVE). With CTRL_FAST_VIF set the
// monitor shares its virtual flags and CPL here (OFF_FF_VFLAGS, OFF_FF_VCPL: one copy, the monitor reads them in
// place), and those four instructions run on them without an exit, with the monitor's own rules (guest EFLAGS =
// the real flags with the virtual IF/IOPL; popf by rules.ts popFlags at the virtual CPL). Only the handlers of
// these four instructions call in here, after one test of the control word: nothing else pays, and with the
// control clear they behave exactly as before. Whatever the fast path cannot decide falls back to the old exit:
//   - cli/sti at a virtual CPL above the virtual IOPL (the #GP is the monitor's to reflect);
//   - an sti or popf that would set the virtual IF while a virtual interrupt waits (OFF_FF_PENDING): the
//     interrupt window opens, so the monitor must see it to inject at the right boundary (after sti's shadow);
//   - popf from virtual CPL 3 (its exits depend on IF/IOPL: mode.ts applySensitiveExits).
// And (CTRL_FAST_SEG) the kernel's loads of its own data segments, which trap only because the real CPL is 3.
// The instruction retires normally, so the virtual clock counts it once, as the monitor's emulation does.
import {
  FLAG_IF, FLAG_IOPL, FLAG_VM, FLAG_RF, OFF_CTRL, CTRL_FAST_VIF, CTRL_EXIT_SENSITIVE, OFF_FF_VFLAGS, OFF_FF_VCPL,
  OFF_FF_PENDING, OFF_FF_N_CLI, OFF_FF_N_STI, OFF_FF_N_PUSHF, OFF_FF_N_POPF, OFF_EXIT_REASON, EXIT_SENSITIVE,
  CTRL_FAST_SEG, OFF_FF_N_SEG, OFF_FF_TABLES_OK, SEG_SS,
} from "./abi";
import { st, setSt, abort, setAbort, ABORT_EXIT } from "./state";
import { getFlags, setFlags } from "./flags";
import { push, popPeek, osz, spGet, spSet, spMask } from "./decode";
import { popFlags, dataSegCheck } from "./ops/rules";

const VBITS: u32 = FLAG_IF | FLAG_IOPL;

@inline function bump(off: u32): void { setSt(off, st(off) + 1); }
/** EFLAGS as the guest sees them: the real flags with the virtual IF and IOPL (host/full/mode.ts guestFlags) */
@inline function guestFlags(): u32 { return (getFlags() & ~VBITS) | (st(OFF_FF_VFLAGS) & VBITS); }
/** the monitor's setGuestFlags: virtual IF/IOPL kept here, the real IF stays 1 and the real IOPL 0 */
@inline function setGuestFlags(f: u32): void {
  setSt(OFF_FF_VFLAGS, f & VBITS);
  setFlags((f & ~(FLAG_IOPL | FLAG_VM)) | FLAG_IF);
}
/** the instruction exits to the host unexecuted, EIP on it, as a sensitive exit (the monitor emulates it) */
@inline function exitUnexecuted(): void {
  setSt(OFF_EXIT_REASON, EXIT_SENSITIVE);
  setAbort(ABORT_EXIT);
}

/** cli/sti: true when done on the virtual IF (the caller returns), false to take the old path (#GP → monitor). */
export function fastCliSti(set: bool): bool {
  if (!(st(OFF_CTRL) & CTRL_FAST_VIF)) return false;
  const vf = st(OFF_FF_VFLAGS);
  if (st(OFF_FF_VCPL) > ((vf & FLAG_IOPL) >> 12)) return false;
  if (set) {
    // opening the window with an interrupt waiting: the monitor emulates this sti, runs its shadow, then injects
    if (!(vf & FLAG_IF) && st(OFF_FF_PENDING)) return false;
    setSt(OFF_FF_VFLAGS, vf | FLAG_IF);
    bump(OFF_FF_N_STI);
  } else {
    setSt(OFF_FF_VFLAGS, vf & ~FLAG_IF);
    bump(OFF_FF_N_CLI);
  }
  return true;
}

/** pushf/popf while the CPU would hand them over (CTRL_EXIT_SENSITIVE): true when the fast path took it. */
export function fastFlags(pop: bool): bool {
  const c = st(OFF_CTRL);
  if ((c & (CTRL_FAST_VIF | CTRL_EXIT_SENSITIVE)) != (CTRL_FAST_VIF | CTRL_EXIT_SENSITIVE)) return false;
  const size = osz();
  if (!pop) {
    // VM and RF are never pushed as set (SDM: PUSHF), as the monitor's emulation
    push(size, guestFlags() & ~(FLAG_VM | FLAG_RF));
    if (!abort) bump(OFF_FF_N_PUSHF);
    return true;
  }
  const vcpl = st(OFF_FF_VCPL);
  if (vcpl >= 3) return false;
  const v = popPeek(size); if (abort) return true; // its fault, as the CPU's own popf
  const old = guestFlags();
  const nf = popFlags(old, v, size, vcpl, false);
  if (!(old & FLAG_IF) && (nf & FLAG_IF) && st(OFF_FF_PENDING)) { exitUnexecuted(); return true; }
  spSet(spMask(spGet() + size));
  setGuestFlags(nf);
  bump(OFF_FF_N_POPF);
  return true;
}

/**
 * A DS/ES/FS/GS load whose descriptor check (rules.ts dataSegCheck) failed at the real CPL 3 (ops/system.ts
 * loadDataSeg calls this on that failure path only): with CTRL_FAST_SEG at a virtual CPL below 3 the same rule
 * is applied at the virtual CPL, as the monitor's emulation does; true = the load may go on (the caller commits it).
 * The descriptor was read from the real GDT/LDT, whose code/data descriptors are the guest's, copied exactly
 * (host/full/mode.ts syncTables); only while the monitor's last sync of that copy succeeded (OFF_FF_TABLES_OK: a
 * table it could not read leaves a stale copy, and the CPU natively faults on the descriptor read). One whose
 * accessed bit is clear takes the old exit, so that the bit is set in the guest's table, not in the copy. SS loads
 * always exit (CTRL_EXIT_PRIV_XFER).
 */
export function fastDataSeg(s: u32, sel: u32, hi: u32): bool {
  if (!(st(OFF_CTRL) & CTRL_FAST_SEG) || s == SEG_SS || !st(OFF_FF_TABLES_OK)) return false;
  const vcpl = st(OFF_FF_VCPL);
  if (vcpl >= 3 || !(hi & 0x100) || dataSegCheck(s, sel, hi, vcpl) != 0) return false;
  bump(OFF_FF_N_SEG);
  return true;
}
