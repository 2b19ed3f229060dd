// postcode.ts — port 0x80, the PC "manufacturing test"/POST code port. Firmware writes progress codes here and
// operating systems (Linux's outb_p/inb_p, many DOS programs) write to it purely as an I/O delay, so it is claimed to
// keep those frequent writes out of the unclaimed-port log. It latches the last code (for a POST-card style display);
// reads return 0xff like an empty ISA decode, which is what a PC without a POST card returns.
import type { AccessSize, IoDevice } from "../bus.ts";
import { saveState, loadState, type Saved } from "../persist.ts";

export const POST_CODE_PORT = 0x80;

export class PostCodePort implements IoDevice {
  /** Device state for a snapshot (host/persist.ts): every field but the wiring the constructor makes. */
  save(): Saved { return saveState(this); }
  /** Puts saved state back into a PostCodePort built with the same options. */
  restore(s: Saved): void { loadState(this, s); }

  lastCode: number | null = null;
  writes = 0;

  constructor(public onCode?: (code: number) => void) {}

  read(_offset: number, size: AccessSize): number {
    return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  }

  write(_offset: number, _size: AccessSize, value: number): void {
    this.lastCode = value & 0xff;
    this.writes++;
    this.onCode?.(this.lastCode);
  }
}
