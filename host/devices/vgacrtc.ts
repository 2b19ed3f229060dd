// vgacrtc.ts — the VGA CRT controller's index/data register pair (0x3D4/0x3D5, colour; 0x3B4/0x3B5 mono alias)
// and the Miscellaneous Output register (write 0x3C2, read 0x3CC). There is no display: text written to
// 0xB8000 is just RAM. Kernels that drive a CGA text console (xv6's cgaputc, many tutorials) read and write the
// cursor location (registers 0x0E/0x0F) through this pair and panic if it reads back as open bus (0xFF), so the
// 25 registers are kept as a plain register file. Register numbers above 0x18 read as 0xFF and ignore writes
// (counted).
import type { AccessSize, IoDevice } from "../bus.ts";
import { saveState, loadState, type Saved } from "../persist.ts";

export const VGA_CRTC_COLOR = 0x3d4;
export const VGA_CRTC_MONO = 0x3b4;
export const VGA_MISC_WRITE = 0x3c2;
export const VGA_MISC_READ = 0x3cc;
const NREGS = 0x19;

export class VgaCrtc {
  /** Device state for a snapshot (host/persist.ts): every field but the wiring the constructor makes. */
  save(): Saved { return saveState(this); }
  /** Puts saved state back into a VgaCrtc built with the same options. */
  restore(s: Saved): void { loadState(this, s); }

  private index = 0;
  private readonly regs = new Uint8Array(NREGS);
  private misc = 0x67; // colour addressing (bit 0 = 1: CRTC at 0x3D4), as the BIOS leaves text mode
  readonly errors = { badIndex: 0 };

  constructor() {
    // an 80x25 text mode's start values: cursor shape lines 13-14, start address and cursor at 0
    this.regs[0x0a] = 0x0d;
    this.regs[0x0b] = 0x0e;
  }

  /** the index/data pair, to register at 0x3D4 (and 0x3B4) with 2 ports */
  readonly pair: IoDevice = {
    read: (offset: number, size: AccessSize) => {
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.readByte(offset + i) << (8 * i);
      return v >>> 0;
    },
    write: (offset: number, size: AccessSize, value: number) => {
      // a 16-bit write to the index port sets the index and writes the data port, as on real VGA
      for (let i = 0; i < size; i++) this.writeByte(offset + i, (value >>> (8 * i)) & 0xff);
    },
  };
  /** 0x3C2 (write) / 0x3CC (read) */
  readonly miscWrite: IoDevice = { read: () => 0xff, write: (_o, _s, v) => { this.misc = v & 0xff; } };
  readonly miscRead: IoDevice = { read: () => this.misc, write: () => {} };

  /** the cursor position (character cell) the guest programmed */
  get cursor(): number { return (this.regs[0x0e] << 8) | this.regs[0x0f]; }

  private readByte(offset: number): number {
    if (offset === 0) return this.index;
    if (offset !== 1) return 0xff;
    if (this.index >= NREGS) { this.errors.badIndex++; return 0xff; }
    return this.regs[this.index];
  }
  private writeByte(offset: number, v: number): void {
    if (offset === 0) { this.index = v; return; }
    if (offset !== 1) return;
    if (this.index >= NREGS) { this.errors.badIndex++; return; }
    this.regs[this.index] = v;
  }
}
