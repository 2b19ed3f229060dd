// debugcon.ts — the Bochs/QEMU debug console at port 0xe9: each byte written is console output; a read returns 0xe9
// so a guest can detect the port (Bochs "port e9 hack" convention, also what QEMU's debugcon answers).
// Wider writes carry one character in their low byte (QEMU behaves the same); the other bytes are dropped.
import type { AccessSize, IoDevice } from "../bus.ts";
import { saveState, loadState, type Saved } from "../persist.ts";

export const DEBUGCON_PORT = 0xe9;

export class DebugCon implements IoDevice {
  /** Device state for a snapshot (host/persist.ts): every field but the wiring the constructor makes. */
  save(): Saved { return saveState(this); }
  /** Puts saved state back into a DebugCon built with the same options. */
  restore(s: Saved): void { loadState(this, s); }

  bytesWritten = 0;

  constructor(public onWrite: (byte: number) => void = () => {}) {}

  read(_offset: number, size: AccessSize): number {
    // the byte lanes beyond port 0xe9 belong to nobody and float high
    return size === 1 ? 0xe9 : size === 2 ? 0xffe9 : 0xffffffe9;
  }

  write(_offset: number, _size: AccessSize, value: number): void {
    this.bytesWritten++;
    this.onWrite(value & 0xff);
  }
}
