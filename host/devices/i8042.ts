// i8042.ts — the PC/AT keyboard controller (Intel 8042 / "KBC") at ports 0x60 (data) and 0x64 (status/command),
// with a PS/2 keyboard (IRQ 1) and a minimal PS/2 auxiliary device (mouse, IRQ 12) behind it.
// References: IBM PC/AT Technical Reference (keyboard controller commands and status), the 8042 controller command
// set as PCs implement it: 20h read / 60h write command byte, A7h/A8h aux disable/enable, A9h aux interface test,
// AAh self test (55h), ABh keyboard interface test, ADh/AEh keyboard disable/enable, C0h read input port, D0h/D1h
// read/write output port, D2h/D3h write keyboard/aux output buffer, D4h write to aux device, Fxh pulse output lines.
//
// Status register (0x64 read): bit 0 OBF (output buffer full), 1 IBF (always 0: input is consumed at once), 2 system
// flag, 3 command/data (last write was to 0x64), 4 keyboard not inhibited, 5 aux output buffer full.
// Command byte: bit 0 keyboard interrupt, 1 aux interrupt, 2 system flag, 4 keyboard disabled, 5 aux disabled,
// 6 translation (set 2 → set 1). State after the firmware: 45h (keyboard interrupt on, system flag, translation),
// keyboard scanning enabled, so an OS can read keys without initialising anything.
//
// Pure state machine. Keys are injected as the byte stream the guest must see (scan code set 1, i.e. already
// translated) with sendKeyboard(); IRQ 1 follows "OBF holds a keyboard byte and command byte bit 0", IRQ 12 "OBF holds
// an aux byte and bit 1". Pulsing the reset line (command FEh, or output port bit 0 = 0) calls onReset; gating A20
// off is not supported (counted; A20 stays on). Guest mistakes are counted in `errors`.
import type { AccessSize, IoDevice } from "../bus.ts";
import { GuestErrors, hex, type IrqLine, type LogFn, noIrq } from "./guestlog.ts";
import { saveState, loadState, type Saved } from "../persist.ts";

export const I8042_DATA_PORT = 0x60;
export const I8042_STATUS_PORT = 0x64;
export const KBD_IRQ = 1;
export const AUX_IRQ = 12;

export const KBC_ST_OBF = 0x01, KBC_ST_SYS = 0x04, KBC_ST_CMD = 0x08, KBC_ST_UNLOCKED = 0x10, KBC_ST_AUXOBF = 0x20;
export const KBC_CB_KBDINT = 0x01, KBC_CB_AUXINT = 0x02, KBC_CB_SYS = 0x04, KBC_CB_KBDDIS = 0x10, KBC_CB_AUXDIS = 0x20, KBC_CB_XLATE = 0x40;

export interface I8042Options {
  irq1?: IrqLine;
  irq12?: IrqLine;
  /** the guest pulsed the CPU reset line */
  onReset?: () => void;
  log?: LogFn;
}

/** Where a queued byte comes from: the controller (replies; D2h data), the controller writing the output buffer as
 * aux data (D3h), the keyboard, the aux device. The controller's own bytes are delivered whatever the interface
 * disable bits say (they inhibit the devices' clock lines, not the controller), as on PCs and in QEMU. */
type Source = "ctrl" | "ctrlAux" | "kbd" | "aux";

/** Bytes queued per source at most (a guest that never reads cannot grow host memory). */
const QUEUE_LIMIT = 256;

export class I8042 {
  /** Device state for a snapshot (host/persist.ts): every field but the wiring the constructor makes. */
  save(): Saved { return saveState(this); }
  /** Puts saved state back into a I8042 built with the same options. */
  restore(s: Saved): void {
    loadState(this, s);
    this.queues.ctrlAux ??= []; // (a snapshot from before D3h had a queue of its own)
  }

  readonly errors: GuestErrors;
  readonly stats = { keyBytes: 0, dropped: 0, resets: 0 };
  /** IoDevice for port 0x60 */
  readonly data: IoDevice;
  /** IoDevice for port 0x64 */
  readonly command: IoDevice;

  commandByte = 0x45;
  outputPort = 0x03; // bit 0: reset line inactive, bit 1: A20 on
  private obf = -1;
  private obfSource: Source = "ctrl";
  private lastWasCommand = false;
  private pendingCmd = -1;
  private readonly queues: Record<Source, number[]> = { ctrl: [], ctrlAux: [], kbd: [], aux: [] };
  // keyboard device
  private kbdScanning = true;
  private kbdParamFor = -1;
  private scanSet = 2;
  // aux device
  private auxParamFor = -1;
  private auxReporting = false;
  private irq1Level = false;
  private irq12Level = false;
  private readonly irq1: IrqLine;
  private readonly irq12: IrqLine;
  private readonly onReset: () => void;

  constructor(opts: I8042Options = {}) {
    this.irq1 = opts.irq1 ?? noIrq;
    this.irq12 = opts.irq12 ?? noIrq;
    this.onReset = opts.onReset ?? (() => {});
    this.errors = new GuestErrors("i8042", opts.log);
    this.data = {
      read: (_o, size) => this.widen(this.readData(), size),
      write: (_o, size, v) => { if (size !== 1) this.errors.report("access-width", `${size}-byte write to port 0x60`); this.writeData(v & 0xff); },
    };
    this.command = {
      read: (_o, size) => this.widen(this.status(), size),
      write: (_o, size, v) => { if (size !== 1) this.errors.report("access-width", `${size}-byte write to port 0x64`); this.writeCommand(v & 0xff); },
    };
  }

  private widen(v: number, size: AccessSize): number {
    if (size !== 1) this.errors.report("access-width", `${size}-byte read of an 8-bit port`);
    return size === 1 ? v : size === 2 ? v | 0xff00 : (v | 0xffffff00) >>> 0;
  }

  /** Host side: bytes from the keyboard as the guest reads them (set 1 scan codes with translation on). */
  sendKeyboard(bytes: Iterable<number>): void {
    for (const b of bytes) {
      if (!this.kbdScanning) { this.stats.dropped++; continue; }
      this.stats.keyBytes++;
      this.enqueue("kbd", b & 0xff);
    }
  }

  status(): number {
    let s = 0;
    if (this.obf >= 0) s |= KBC_ST_OBF | (this.obfSource === "aux" ? KBC_ST_AUXOBF : 0);
    if (this.commandByte & KBC_CB_SYS) s |= KBC_ST_SYS;
    if (this.lastWasCommand) s |= KBC_ST_CMD;
    s |= KBC_ST_UNLOCKED;
    return s;
  }

  private enqueue(src: Source, b: number): void {
    const q = this.queues[src];
    if (q.length >= QUEUE_LIMIT) { this.stats.dropped++; return; }
    q.push(b);
    this.refill();
  }

  /** Move the next byte into the output buffer: controller replies first, then keyboard, then aux (if enabled). */
  private refill(): void {
    if (this.obf < 0) {
      const order: Source[] = ["ctrl", "ctrlAux", "kbd", "aux"];
      for (const src of order) {
        if (src === "kbd" && (this.commandByte & KBC_CB_KBDDIS)) continue;
        if (src === "aux" && (this.commandByte & KBC_CB_AUXDIS)) continue;
        const q = this.queues[src];
        if (q.length) {
          this.obf = q.shift()!;
          this.obfSource = src === "ctrlAux" ? "aux" : src;
          break;
        }
      }
    }
    this.updateIrq();
  }

  private updateIrq(): void {
    const full = this.obf >= 0;
    const aux = this.obfSource === "aux";
    const l1 = full && !aux && (this.commandByte & KBC_CB_KBDINT) !== 0;
    const l12 = full && aux && (this.commandByte & KBC_CB_AUXINT) !== 0;
    if (l1 !== this.irq1Level) { this.irq1Level = l1; this.irq1(l1); }
    if (l12 !== this.irq12Level) { this.irq12Level = l12; this.irq12(l12); }
  }

  private readData(): number {
    if (this.obf < 0) {
      this.errors.report("read-empty", "read of port 0x60 with the output buffer empty");
      return 0x00;
    }
    const v = this.obf;
    this.obf = -1;
    // the line drops when the buffer empties, then rises again for the next byte: an edge per byte
    this.updateIrq();
    this.refill();
    return v;
  }

  private reply(...bytes: number[]): void {
    for (const b of bytes) this.enqueue("ctrl", b);
  }

  private writeCommand(cmd: number): void {
    this.lastWasCommand = true;
    this.pendingCmd = -1;
    if (cmd === 0x20) return this.reply(this.commandByte);
    if (cmd > 0x20 && cmd < 0x40) return this.reply(0);
    if (cmd >= 0x60 && cmd < 0x80) { this.pendingCmd = cmd; return; }
    switch (cmd) {
      case 0xa7: this.commandByte |= KBC_CB_AUXDIS; return this.refill();
      case 0xa8: this.commandByte &= ~KBC_CB_AUXDIS; return this.refill();
      case 0xa9: return this.reply(0x00);
      case 0xaa: this.commandByte |= KBC_CB_SYS; return this.reply(0x55);
      case 0xab: return this.reply(0x00);
      case 0xad: this.commandByte |= KBC_CB_KBDDIS; return this.refill();
      case 0xae: this.commandByte &= ~KBC_CB_KBDDIS; return this.refill();
      case 0xc0: return this.reply(0x80); // input port: keyboard not inhibited
      case 0xd0: return this.reply(this.outputPort);
      case 0xd1: case 0xd2: case 0xd3: case 0xd4: this.pendingCmd = cmd; return;
      case 0xe0: return this.reply(0x00);
    }
    if (cmd >= 0xf0) {
      if ((cmd & 1) === 0) this.reset(); // pulse output port bit 0 (CPU reset)
      return;
    }
    this.errors.report("bad-command", `unknown controller command ${hex(cmd)}`);
  }

  private reset(): void {
    this.stats.resets++;
    this.onReset();
  }

  private writeData(v: number): void {
    this.lastWasCommand = false;
    const cmd = this.pendingCmd;
    this.pendingCmd = -1;
    if (cmd >= 0x60 && cmd < 0x80) {
      if (cmd === 0x60) { this.commandByte = v & 0x77; this.refill(); }
      return;
    }
    switch (cmd) {
      case 0xd1:
        if (!(v & 0x02)) this.errors.report("a20", "A20 gate switched off: not supported (A20 stays on)");
        this.outputPort = v | 0x02;
        if (!(v & 0x01)) this.reset();
        return;
      // written by the controller itself: delivered even with the interface disabled (Linux's i8042_check_aux and
      // MUX probe loop bytes back through D3h with the aux port disabled and would wait 0.5 s for each otherwise)
      case 0xd2: return this.enqueue("ctrl", v);
      case 0xd3: return this.enqueue("ctrlAux", v);
      case 0xd4: return this.auxWrite(v);
    }
    this.keyboardWrite(v);
  }

  /** A byte for the keyboard itself (PS/2 keyboard command set). */
  private keyboardWrite(v: number): void {
    // writing to the keyboard re-enables its interface (as real controllers do)
    this.commandByte &= ~KBC_CB_KBDDIS;
    const k = (b: number[]) => { for (const x of b) this.enqueue("kbd", x); };
    const param = this.kbdParamFor;
    if (param >= 0) {
      this.kbdParamFor = -1;
      if (param === 0xf0) {
        if (v === 0) return k([0xfa, this.scanSet]);
        if (v >= 1 && v <= 3) { this.scanSet = v; return k([0xfa]); }
        return k([0xfe]);
      }
      return k([0xfa]); // LEDs (EDh), typematic (F3h)
    }
    switch (v) {
      case 0xed: case 0xf0: case 0xf3: this.kbdParamFor = v; return k([0xfa]);
      case 0xee: return k([0xee]);
      case 0xf2: return k([0xfa, 0xab, 0x83]);
      case 0xf4: this.kbdScanning = true; return k([0xfa]);
      case 0xf5: this.kbdScanning = false; return k([0xfa]);
      case 0xf6: this.scanSet = 2; return k([0xfa]);
      case 0xff: this.kbdScanning = true; this.scanSet = 2; return k([0xfa, 0xaa]);
    }
    if (v >= 0xf7 && v <= 0xfe) return k([0xfa]);
    this.errors.report("kbd-command", `unknown keyboard command ${hex(v)}`);
    k([0xfe]);
  }

  /** A byte for the aux device (minimal PS/2 mouse: acknowledges, identifies as ID 00h, never moves). */
  private auxWrite(v: number): void {
    const a = (b: number[]) => { for (const x of b) this.enqueue("aux", x); };
    if (this.auxParamFor >= 0) { this.auxParamFor = -1; return a([0xfa]); }
    switch (v) {
      case 0xe8: case 0xf3: this.auxParamFor = v; return a([0xfa]);
      case 0xe9: return a([0xfa, this.auxReporting ? 0x20 : 0x00, 0x02, 0x64]);
      case 0xf2: return a([0xfa, 0x00]);
      case 0xf4: this.auxReporting = true; return a([0xfa]);
      case 0xf5: this.auxReporting = false; return a([0xfa]);
      case 0xff: this.auxReporting = false; return a([0xfa, 0xaa, 0x00]);
    }
    if (v === 0xe6 || v === 0xe7 || v === 0xea || v === 0xf0 || v === 0xf6) return a([0xfa]);
    this.errors.report("aux-command", `unknown aux command ${hex(v)}`);
    a([0xfe]);
  }
}
