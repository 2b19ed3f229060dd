// apic.ts — the local APIC's hot registers answered inside the CPU, as hardware (and KVM's in-kernel APIC) does.
//
// The host's model (host/devices/lapic.ts) keeps all of its registers in AREA_APIC (abi.ts), so this file reads
// the one copy in place. An access to the APIC page is handled here, with no exit, when it is side-effect-free
// or its effects are exactly reproducible here; anything else exits to the host model as before:
//   reads: ID, version, TPR, APR, PPR, EOI/RRD (0), LDR, DFR, SVR, ISR, TMR, IRR, ESR, ICR, the LVT, the timer's
//     initial count and divide configuration, and the current count — computed from the bus clock the host left
//     in the area plus the instructions retired since run() entry, exactly the host's formula at that instruction;
//   writes: EOI of an edge-triggered vector when nothing else becomes deliverable by it (else the host must
//     broadcast it to the I/O APIC or raise INTR anew).
// Aligned 32-bit accesses only (the host counts partial ones as guest errors). Not after the CPU took an external
// interrupt in this run(): the host acknowledges it (IRR -> ISR) only when run() returns, so until then the
// area is behind and the access exits (the host's acknowledge happens first, as without this file).
import {
  STATE_BASE, OFF_APIC_CTRL, APIC_CTRL_INCPU, OFF_APIC_PAGE, OFF_APIC_ID, OFF_APIC_VER, OFF_APIC_TPR, OFF_APIC_LDR,
  OFF_APIC_DFR, OFF_APIC_SVR, OFF_APIC_ESR, OFF_APIC_ICR_LO, OFF_APIC_ICR_HI, OFF_APIC_LVT, OFF_APIC_TIMER_ICR,
  OFF_APIC_TIMER_DCR, OFF_APIC_TIMER_DIV, OFF_APIC_TIMER_ARMED, OFF_APIC_TIMER_BASE, OFF_APIC_NOW,
  OFF_APIC_BUS_PER_INSN, OFF_APIC_INCPU_READS, OFF_APIC_INCPU_EOIS, OFF_APIC_ISR, OFF_APIC_TMR, OFF_APIC_IRR,
  OFF_INTR_TAKEN_COUNT,
} from "./abi";
import { st, setSt, setAbort, ABORT_APIC } from "./state";
import { logLookup, logValue, logAppend, KIND_MMIO } from "./iolog";
import { icount } from "./cpu";
import { vmxOn, vmxApicPage } from "./vmx";

const SVR_ENABLE: u32 = 0x100;

let icEntry: u64 = 0;      // instructions retired at run() entry, when the host left OFF_APIC_NOW current
let takenEntry: u32 = 0;   // interrupts taken at run() entry
let ccrAddr: u32 = 0;      // the current-count read waiting for apicCompleteRead()
export let apicValue: u32 = 0;

/** run() entry. */
export function apicEnter(icNow: u64): void {
  icEntry = icNow;
  takenEntry = st(OFF_INTR_TAKEN_COUNT);
}

// In guest mode (vmx.ts) the page is the VMCS's APIC-access page, and only with "virtualize APIC accesses"
// (PROC2_VIRT_APIC): without it every access to the APIC leaves as a VM exit.
@inline function owns(phys: u32, size: u32): bool {
  return (st(OFF_APIC_CTRL) & APIC_CTRL_INCPU) != 0 && (phys & 0xFFFFF000) == (vmxOn ? vmxApicPage : st(OFF_APIC_PAGE)) && size == 4 &&
    (phys & 0xF) == 0 && st(OFF_INTR_TAKEN_COUNT) == takenEntry;
}

/** highest set bit of an 8-word vector bitmap, or -1 */
function highest(off: u32): i32 {
  for (let i: i32 = 7; i >= 0; i--) {
    const w = st(off + (<u32>i << 2));
    if (w) return (i << 5) + 31 - <i32>clz(w);
  }
  return -1;
}
function ppr(): u32 {
  const tpr = st(OFF_APIC_TPR);
  let isrv = highest(OFF_APIC_ISR);
  if (isrv < 0) isrv = 0;
  return (tpr >> 4) >= (<u32>isrv >> 4) ? tpr & 0xFF : <u32>isrv & 0xF0;
}

/** The timer's current count at the instruction now executing (the host's LocalApic.currentCount). */
function currentCount(): u32 {
  if (!st(OFF_APIC_TIMER_ARMED)) return 0;
  const now = load<u64>(STATE_BASE + OFF_APIC_NOW) + (icount - icEntry) * <u64>st(OFF_APIC_BUS_PER_INSN);
  const elapsed = (now - load<u64>(STATE_BASE + OFF_APIC_TIMER_BASE)) / <u64>st(OFF_APIC_TIMER_DIV);
  const initial = <u64>st(OFF_APIC_TIMER_ICR);
  if (((st(OFF_APIC_LVT) >> 17) & 3) == 1) return <u32>(initial - elapsed % initial); // periodic
  return elapsed >= initial ? 0 : <u32>(initial - elapsed);
}

/**
 * An MMIO read at `phys`: true if it was answered here (value in apicValue, or abort set for a restart that
 * apicCompleteRead() finishes without leaving the CPU); false to exit to the host.
 */
export function apicRead(phys: u32, size: u32): bool {
  if (!owns(phys, size)) return false;
  const reg = phys & 0xFF0;
  let v: u32 = 0;
  if (reg >= 0x100 && reg < 0x280) {
    v = st((reg < 0x180 ? OFF_APIC_ISR : reg < 0x200 ? OFF_APIC_TMR : OFF_APIC_IRR) + (((reg - 0x100) >> 4) & 7) * 4);
  } else if (reg >= 0x320 && reg <= 0x370) {
    v = st(OFF_APIC_LVT + ((reg - 0x320) >> 2));
  } else {
    switch (reg) {
      case 0x020: v = st(OFF_APIC_ID); break;
      case 0x030: v = st(OFF_APIC_VER); break;
      case 0x080: v = st(OFF_APIC_TPR); break;
      case 0x090: case 0x0B0: case 0x0C0: v = 0; break; // APR, EOI (write-only), RRD
      case 0x0A0: v = ppr(); break;
      case 0x0D0: v = st(OFF_APIC_LDR); break;
      case 0x0E0: v = st(OFF_APIC_DFR); break;
      case 0x0F0: v = st(OFF_APIC_SVR); break;
      case 0x280: v = st(OFF_APIC_ESR); break;
      case 0x300: v = st(OFF_APIC_ICR_LO) & ~(<u32>1 << 12); break; // delivery status: idle
      case 0x310: v = st(OFF_APIC_ICR_HI); break;
      case 0x380: v = st(OFF_APIC_TIMER_ICR); break;
      case 0x3E0: v = st(OFF_APIC_TIMER_DCR); break;
      case 0x390: {
        // the count depends on the exact instruction count, which the block executor keeps in locals: stop the
        // instruction (abort) and let apicCompleteRead() answer it with the count current there, as a host read
        if (logLookup(KIND_MMIO, phys, 4)) { v = logValue; break; }
        ccrAddr = phys;
        setAbort(ABORT_APIC);
        return true;
      }
      default: return false; // reserved registers: the host sets ESR and counts the error
    }
  }
  setSt(OFF_APIC_INCPU_READS, st(OFF_APIC_INCPU_READS) + 1);
  apicValue = v;
  return true;
}

/** fault() with ABORT_APIC: log the current count as a completed read; the instruction restarts and takes it. */
export function apicCompleteRead(): void {
  logAppend(KIND_MMIO, ccrAddr, 4, currentCount());
  setSt(OFF_APIC_INCPU_READS, st(OFF_APIC_INCPU_READS) + 1);
}

/** An MMIO write at `phys`: true if it was performed here; false to hand it to the host. */
export function apicWrite(phys: u32, size: u32, v: u32): bool {
  if (!owns(phys, size) || (phys & 0xFF0) != 0x0B0 || v != 0) return false;
  // EOI: the highest in-service vector leaves ISR; exact here only for an edge-triggered one (a level-triggered EOI
  // goes to the I/O APIC) and when no request becomes deliverable by it (the host would raise INTR after the exit)
  const top = highest(OFF_APIC_ISR);
  if (top < 0) return false;
  const w = OFF_APIC_ISR + ((<u32>top >> 5) << 2), bit = <u32>1 << (<u32>top & 31);
  if (st(OFF_APIC_TMR + ((<u32>top >> 5) << 2)) & bit) return false;
  setSt(w, st(w) & ~bit);
  if (st(OFF_APIC_SVR) & SVR_ENABLE) {
    const req = highest(OFF_APIC_IRR);
    if (req >= 0 && (<u32>req & 0xF0) > (ppr() & 0xF0)) { setSt(w, st(w) | bit); return false; }
  }
  setSt(OFF_APIC_INCPU_EOIS, st(OFF_APIC_INCPU_EOIS) + 1);
  return true;
}
