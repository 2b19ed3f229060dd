// debugexit.ts — QEMU's isa-debug-exit (here at 0xf4, 4 ports wide so 8/16/32-bit `out` all work):
// writing value v asks the VMM to exit with status (v << 1) | 1, so a guest can report pass/fail without an emulated
// power-off; status 1 cannot be produced by the guest, which tells "guest exited" apart from a plain host exit of 0.
// The status is kept as a full 32-bit unsigned number; a process exit code is its low 8 bits (as with QEMU's exit()).
// Reads return 0 (QEMU's device has no readable register and answers 0).
import type { AccessSize, IoDevice } from "../bus.ts";
import { saveState, loadState, type Saved } from "../persist.ts";

export const DEBUG_EXIT_PORT = 0xf4;
export const DEBUG_EXIT_SIZE = 4;

export class DebugExit implements IoDevice {
  /** Device state for a snapshot (host/persist.ts): every field but the wiring the constructor makes. */
  save(): Saved { return saveState(this); }
  /** Puts saved state back into a DebugExit built with the same options. */
  restore(s: Saved): void { loadState(this, s); }

  /** status of the last exit request, or null */
  lastStatus: number | null = null;

  constructor(public onExit: (status: number) => void = () => {}) {}

  read(_offset: number, _size: AccessSize): number {
    return 0;
  }

  write(_offset: number, size: AccessSize, value: number): void {
    const v = size === 4 ? value >>> 0 : value & (size === 2 ? 0xffff : 0xff);
    const status = ((v << 1) | 1) >>> 0;
    this.lastStatus = status;
    this.onExit(status);
  }
}
