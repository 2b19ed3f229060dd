// device-exits.ts — the exits every mode with devices answers the same way: port I/O and MMIO go to the
// platform's bus (IN and MMIO reads complete the restarted instruction), counted in the VM's stats.
import type { Exit, Machine } from "../machine.ts";
import type { AccessSize, Bus } from "../bus.ts";
import type { VmStats } from "../stats.ts";

/** Handles an I/O or MMIO exit through the bus; false for any other exit (the mode's business). */
export function deviceExit(exit: Exit, m: Machine, bus: Bus, st: VmStats): boolean {
  switch (exit.reason) {
    case "io-out": st.countPort(exit.port, true); bus.ioWrite(exit.port, exit.size as AccessSize, exit.value); return true;
    case "io-in": st.countPort(exit.port, false); m.completeIo(bus.ioRead(exit.port, exit.size as AccessSize)); return true;
    case "mmio-write": st.countMmio(exit.port, true); bus.mmioWrite(exit.port, exit.size as AccessSize, exit.value); return true;
    case "mmio-read": st.countMmio(exit.port, false); m.completeIo(bus.mmioRead(exit.port, exit.size as AccessSize)); return true;
    default: return false;
  }
}
