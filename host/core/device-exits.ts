// device-exits.ts — the exits every mode with devices answers the same way: port I/O and MMIO go to the
// platform's bus (IN and MMIO reads complete the restarted instruction), counted in the VM's stats.
// A REP INS/OUTS run arrives as one exit carrying many elements (abi.ts OFF_IO_BATCH_*, KVM_EXIT_IO with a
// count): the whole run goes to the device here, in order, element by element as the guest made them.
import type { Exit, Machine } from "../machine.ts";
import type { AccessSize, Bus } from "../bus.ts";
import type { VmStats } from "../stats.ts";
import * as A from "../abi.generated.ts";

// the STATE block and the I/O buffer, without backing guest RAM (Machine.memory would back all of it); remade by
// the machine when its memory grows
const view = (m: Machine): DataView => m.stateView;

/** Lets the CPU hand over REP INS/OUTS runs in one exit each (native mode; every exit then goes through deviceExit). */
export function enableStringIoBatches(m: Machine): void {
  view(m).setUint32(A.STATE_BASE + A.OFF_IO_BATCH_CTRL, 1, true);
}

/** Handles an I/O or MMIO exit through the bus; false for any other exit (the mode's business). */
export function deviceExit(exit: Exit, m: Machine, bus: Bus, st: VmStats): boolean {
  switch (exit.reason) {
    case "io-out": {
      st.countPort(exit.port, true);
      const n = exit.string ? batchCount(m) : 0;
      if (n) stringOut(m, bus, exit.port!, exit.size as AccessSize, n);
      else bus.ioWrite(exit.port, exit.size as AccessSize, exit.value);
      return true;
    }
    case "io-in": {
      st.countPort(exit.port, false);
      const n = exit.string ? batchCount(m) : 0;
      if (n) stringIn(m, bus, exit.port!, exit.size as AccessSize, n);
      else m.completeIo(bus.ioRead(exit.port, exit.size as AccessSize));
      return true;
    }
    case "mmio-write": st.countMmio(exit.port, true); bus.mmioWrite(exit.port, exit.size as AccessSize, exit.value); return true;
    case "mmio-read": st.countMmio(exit.port, false); m.completeIo(bus.mmioRead(exit.port, exit.size as AccessSize)); return true;
    default: return false;
  }
}

function batchCount(m: Machine): number {
  const n = view(m).getUint32(A.STATE_BASE + A.OFF_IO_BATCH_COUNT, true);
  return n <= A.REP_UNIT_ITERATIONS ? n : 0;
}
/** the elements the guest wrote, in order, from the CPU's buffer */
function stringOut(m: Machine, bus: Bus, port: number, size: AccessSize, n: number): void {
  const dv = view(m);
  for (let i = 0, a = A.IO_BUF_BASE; i < n; i++, a += size) {
    bus.ioWrite(port, size, size === 4 ? dv.getUint32(a, true) : size === 2 ? dv.getUint16(a, true) : dv.getUint8(a));
  }
}
/** the elements the guest reads, stored straight into the guest RAM the CPU checked (one page at most) */
function stringIn(m: Machine, bus: Bus, port: number, size: AccessSize, n: number): void {
  const dv = view(m);
  const at = dv.getUint32(A.STATE_BASE + A.OFF_IO_BATCH_DATA, true);
  if (at < A.RAM_BASE || at + n * size > A.RAM_BASE + m.ramSize) throw new Error(`wasmvisor: CPU abort: string-in batch outside RAM at ${at}`);
  for (let i = 0, a = at; i < n; i++, a += size) {
    const v = bus.ioRead(port, size);
    if (size === 4) dv.setUint32(a, v, true); else if (size === 2) dv.setUint16(a, v, true); else dv.setUint8(a, v);
  }
}
