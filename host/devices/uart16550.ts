// uart16550.ts — NS16550A UART (PC COM port: COM1 = 0x3f8, IRQ 4), a pure state machine.
// Register map and behaviour follow the National Semiconductor PC16550D datasheet (§8 "Registers", Table II/IV).
//
// Modelling choices (all deterministic, no clock of its own):
//  * Transmission is instantaneous: a THR write reaches `onTransmit` (or, in loopback, the RX FIFO) at once, so
//    THRE/TEMT are set again immediately and the THRE interrupt re-arms — what a guest sees from an infinitely
//    fast line. The TX FIFO therefore never holds data; FCR "clear TX FIFO" is accepted and has nothing to clear.
//  * The character-timeout interrupt (IIR=0xCC, FIFO mode) needs "4 character times without FIFO activity".
//    Without a line clock the line is treated as idle as soon as the host's `receive()` burst has been pushed,
//    so the timeout indication is pending whenever 0 < RX level < trigger level. Guests drain on either source.
//  * The IRQ pin is gated by MCR.OUT2 as on the PC (the INTRPT output drives IRQ4 through a buffer enabled by
//    -OUT2; in loopback the outputs are forced inactive, §8.6), so a guest must set OUT2 to get interrupts.
//    `gateIrqWithOut2: false` drops the gate for guests written against emulators that ignore it.
//  * Parity/framing/break errors cannot happen on a virtual line; only overrun (OE) is produced.
import type { AccessSize, IoDevice } from "../bus.ts";
import { GuestErrors, type IrqLine, type LogFn, noIrq } from "./guestlog.ts";
import { saveState, loadState, type Saved } from "../persist.ts";

export const COM1_BASE = 0x3f8;
export const COM1_IRQ = 4;
/** UART input clock / 16 — divisor 1 = 115200 baud (1.8432 MHz crystal). */
export const UART_BASE_BAUD = 115200;

// LSR bits (§8.4)
export const LSR_DR = 0x01, LSR_OE = 0x02, LSR_PE = 0x04, LSR_FE = 0x08, LSR_BI = 0x10, LSR_THRE = 0x20, LSR_TEMT = 0x40, LSR_FIFOERR = 0x80;
// IER bits
export const IER_ERBFI = 0x01, IER_ETBEI = 0x02, IER_ELSI = 0x04, IER_EDSSI = 0x08;
// IIR values (Table IV): bit 0 = 0 when an interrupt is pending
export const IIR_NONE = 0x01, IIR_MSI = 0x00, IIR_THRI = 0x02, IIR_RDI = 0x04, IIR_RLSI = 0x06, IIR_CTI = 0x0c, IIR_FIFO = 0xc0;
// MCR bits
export const MCR_DTR = 0x01, MCR_RTS = 0x02, MCR_OUT1 = 0x04, MCR_OUT2 = 0x08, MCR_LOOP = 0x10;
// MSR bits
export const MSR_DCTS = 0x01, MSR_DDSR = 0x02, MSR_TERI = 0x04, MSR_DDCD = 0x08, MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_RI = 0x40, MSR_DCD = 0x80;

const FIFO_SIZE = 16;
const TRIGGER_LEVELS = [1, 4, 8, 14] as const;

export interface ModemLines { cts: boolean; dsr: boolean; ri: boolean; dcd: boolean }

export interface Uart16550Options {
  irq?: IrqLine;
  /** console output: one byte per THR write outside loopback */
  onTransmit?: (byte: number) => void;
  log?: LogFn;
  /** default true: IRQ output only reaches the pin while MCR.OUT2=1 and not in loopback (PC wiring) */
  gateIrqWithOut2?: boolean;
  /** modem inputs from the "cable"; default a connected terminal: CTS, DSR, DCD asserted, RI not */
  modemLines?: Partial<ModemLines>;
}

export interface UartStats {
  transmitted: number;
  received: number;
  /** characters lost to overrun (host pushed into a full FIFO / RBR) */
  overruns: number;
}

export class Uart16550 implements IoDevice {
  /** Device state for a snapshot (host/persist.ts): every field but the wiring the constructor makes. */
  save(): Saved { return saveState(this); }
  /** Puts saved state back into a Uart16550 built with the same options. */
  restore(s: Saved): void { loadState(this, s); }

  // RX FIFO as a ring; in 16450 mode (FIFOs off) its capacity is 1, i.e. the RBR
  private readonly rx = new Uint8Array(FIFO_SIZE);
  private rxHead = 0;
  private rxCount = 0;
  private rbr = 0; // last byte handed to the guest; re-read when the FIFO is empty

  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private lsrErrors = 0; // OE|PE|FE|BI, cleared by reading LSR
  private msrDelta = 0; // low nibble of MSR, cleared by reading MSR
  private modemIn: ModemLines;
  private scr = 0;
  private dll = 0x0c; // 9600 baud until the guest programs it (a common firmware default)
  private dlm = 0;
  private fifoEnabled = false;
  private fcrBits = 0; // FCR bits 3, 6, 7 as last written (DMA mode, trigger)
  private threPending = false; // THR-empty interrupt latch (§8.5: cleared by IIR read / THR write)
  private irqLevel = false;

  private readonly irq: IrqLine;
  private readonly gate: boolean;
  onTransmit: (byte: number) => void;
  readonly errors: GuestErrors;
  readonly stats: UartStats = { transmitted: 0, received: 0, overruns: 0 };

  constructor(opts: Uart16550Options = {}) {
    this.irq = opts.irq ?? noIrq;
    this.onTransmit = opts.onTransmit ?? (() => {});
    this.gate = opts.gateIrqWithOut2 ?? true;
    this.errors = new GuestErrors("uart16550", opts.log);
    this.modemIn = { cts: true, dsr: true, ri: false, dcd: true, ...opts.modemLines };
  }

  // ---------------------------------------------------------------- host side

  /** Push received characters into the RX FIFO. Returns how many were accepted; the rest are overruns (LSR.OE). */
  receive(bytes: Uint8Array | readonly number[]): number {
    let accepted = 0;
    for (let i = 0; i < bytes.length; i++) if (this.rxPush(bytes[i] & 0xff)) accepted++;
    this.update();
    return accepted;
  }

  /** Received characters the guest has not read yet. */
  get rxPending(): number { return this.rxCount; }
  /** The guest enabled the received-data interrupt (IER bit 0): an interrupt-driven driver is listening. */
  get rxInterruptEnabled(): boolean { return (this.ier & 1) !== 0; }
  /** LSR reads so far: a polling driver reads LSR while it waits for data. */
  lsrReads = 0;

  /** Free space in the RX FIFO, so a host console can hold input back instead of overrunning. */
  rxFree(): number {
    return this.rxCapacity() - this.rxCount;
  }

  /** Drive the modem-status inputs (CTS/DSR/RI/DCD); deltas set MSR bits 0-3 as the datasheet says. */
  setModemLines(lines: Partial<ModemLines>): void {
    const before = this.msrLines();
    this.modemIn = { ...this.modemIn, ...lines };
    this.noteMsrChange(before);
    this.update();
  }

  /** Current baud rate from the divisor latch (0 when the divisor is 0, which the datasheet leaves undefined). */
  get baud(): number {
    const d = this.dll | (this.dlm << 8);
    return d === 0 ? 0 : UART_BASE_BAUD / d;
  }

  /** Current level of the IRQ pin. */
  get irqAsserted(): boolean {
    return this.irqLevel;
  }

  // ---------------------------------------------------------------- guest side

  read(offset: number, size: AccessSize): number {
    if (size !== 1) {
      // 8-bit part: a wider cycle becomes consecutive byte cycles
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.read(offset + i, 1) << (8 * i);
      return v >>> 0;
    }
    const dlab = (this.lcr & 0x80) !== 0;
    switch (offset) {
      case 0: return dlab ? this.dll : this.readRbr();
      case 1: return dlab ? this.dlm : this.ier;
      case 2: return this.readIir();
      case 3: return this.lcr;
      case 4: return this.mcr;
      case 5: this.lsrReads++; return this.readLsr();
      case 6: return this.readMsr();
      case 7: return this.scr;
      default:
        this.errors.report("bad-offset", `read at offset ${offset}`);
        return 0xff;
    }
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (size !== 1) {
      for (let i = 0; i < size; i++) this.write(offset + i, 1, (value >>> (8 * i)) & 0xff);
      return;
    }
    value &= 0xff;
    const dlab = (this.lcr & 0x80) !== 0;
    switch (offset) {
      case 0:
        if (dlab) this.dll = value; else this.writeThr(value);
        break;
      case 1:
        if (dlab) { this.dlm = value; break; }
        {
          const was = this.ier;
          this.ier = value & 0x0f; // bits 4-7 are always 0 on the 16550A
          // Enabling ETBEI while THR is empty raises the THRE interrupt at once (as real 16550s and guests' probes expect)
          if (!(was & IER_ETBEI) && (this.ier & IER_ETBEI)) this.threPending = true;
        }
        break;
      case 2: this.writeFcr(value); break;
      case 3: this.lcr = value; break;
      case 4: this.writeMcr(value); break;
      case 5: case 6:
        // LSR/MSR are read-only (writes are "for factory test" on the 16550); ignore but count
        this.errors.report("write-status", `write ${value} to read-only ${offset === 5 ? "LSR" : "MSR"}`);
        break;
      case 7: this.scr = value; break;
      default:
        this.errors.report("bad-offset", `write at offset ${offset}`);
    }
    this.update();
  }

  // ---------------------------------------------------------------- registers

  private rxCapacity(): number {
    return this.fifoEnabled ? FIFO_SIZE : 1;
  }

  private triggerLevel(): number {
    return this.fifoEnabled ? TRIGGER_LEVELS[this.fcrBits >> 6] : 1;
  }

  private rxPush(b: number): boolean {
    this.stats.received++;
    if (this.rxCount >= this.rxCapacity()) {
      // §8.4 LSR bit 1: in FIFO mode the FIFO keeps its contents and the new character is lost;
      // in 16450 mode the new character overwrites RBR.
      this.lsrErrors |= LSR_OE;
      this.stats.overruns++;
      if (!this.fifoEnabled) this.rx[this.rxHead] = b;
      return false;
    }
    this.rx[(this.rxHead + this.rxCount) % FIFO_SIZE] = b;
    this.rxCount++;
    return true;
  }

  private readRbr(): number {
    if (this.rxCount > 0) {
      this.rbr = this.rx[this.rxHead];
      this.rxHead = (this.rxHead + 1) % FIFO_SIZE;
      this.rxCount--;
      this.update();
    }
    return this.rbr;
  }

  private writeThr(b: number): void {
    this.threPending = false; // §8.5: writing THR clears the THRE interrupt …
    if (this.mcr & MCR_LOOP) {
      this.rxPush(b); // loopback: the serializer output feeds the receiver (§8.6)
    } else {
      this.stats.transmitted++;
      this.onTransmit(b);
    }
    // … and the (instant) transmission empties THR again, re-arming it when enabled
    if (this.ier & IER_ETBEI) this.threPending = true;
  }

  private writeFcr(v: number): void {
    const enable = (v & 0x01) !== 0;
    if (enable !== this.fifoEnabled) {
      // changing FCR0 clears both FIFOs (§8.3)
      this.fifoEnabled = enable;
      this.rxHead = 0;
      this.rxCount = 0;
    }
    if (!enable) return; // other FCR bits are only programmed while FCR0 = 1
    if (v & 0x02) { this.rxHead = 0; this.rxCount = 0; } // clear RX FIFO (self-clearing bit)
    // bit 2 (clear TX FIFO): TX is never queued, nothing to clear
    this.fcrBits = v & 0xc8;
  }

  private writeMcr(v: number): void {
    const before = this.msrLines();
    this.mcr = v & 0x1f; // bits 5-7 are always 0
    this.noteMsrChange(before);
  }

  /** MSR bits 4-7 as currently seen: the cable, or the MCR outputs in loopback (§8.6: DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD). */
  private msrLines(): number {
    if (this.mcr & MCR_LOOP) {
      const m = this.mcr;
      return ((m & MCR_RTS) ? MSR_CTS : 0) | ((m & MCR_DTR) ? MSR_DSR : 0) | ((m & MCR_OUT1) ? MSR_RI : 0) | ((m & MCR_OUT2) ? MSR_DCD : 0);
    }
    const l = this.modemIn;
    return (l.cts ? MSR_CTS : 0) | (l.dsr ? MSR_DSR : 0) | (l.ri ? MSR_RI : 0) | (l.dcd ? MSR_DCD : 0);
  }

  private noteMsrChange(before: number): void {
    const after = this.msrLines();
    const changed = before ^ after;
    if (changed & MSR_CTS) this.msrDelta |= MSR_DCTS;
    if (changed & MSR_DSR) this.msrDelta |= MSR_DDSR;
    if (changed & MSR_DCD) this.msrDelta |= MSR_DDCD;
    // TERI: trailing edge of RI only, i.e. RI going from on to off
    if ((changed & MSR_RI) && (before & MSR_RI)) this.msrDelta |= MSR_TERI;
  }

  private readLsr(): number {
    let v = this.lsrErrors | LSR_THRE | LSR_TEMT; // transmitter always empty (instant TX)
    if (this.rxCount > 0) v |= LSR_DR;
    // bit 7 (error in RX FIFO) only tracks PE/FE/BI, which a virtual line never produces
    this.lsrErrors = 0; // reading LSR clears OE/PE/FE/BI and the line-status interrupt
    this.update();
    return v;
  }

  private readMsr(): number {
    const v = this.msrLines() | this.msrDelta;
    this.msrDelta = 0;
    this.update();
    return v;
  }

  /** Highest-priority pending source (Table IV): line status > RX data / timeout > THR empty > modem status. */
  private pendingId(): number {
    const ier = this.ier;
    if ((ier & IER_ELSI) && this.lsrErrors) return IIR_RLSI;
    if (ier & IER_ERBFI) {
      if (this.rxCount >= this.triggerLevel()) return IIR_RDI;
      if (this.fifoEnabled && this.rxCount > 0) return IIR_CTI;
    }
    if ((ier & IER_ETBEI) && this.threPending) return IIR_THRI;
    if ((ier & IER_EDSSI) && this.msrDelta) return IIR_MSI;
    return IIR_NONE;
  }

  private readIir(): number {
    const id = this.pendingId();
    // §8.5: reading IIR clears the THRE interrupt when it is the one being reported
    if (id === IIR_THRI) { this.threPending = false; this.update(); }
    return id | (this.fifoEnabled ? IIR_FIFO : 0);
  }

  private update(): void {
    let level = this.pendingId() !== IIR_NONE;
    if (this.gate) level = level && (this.mcr & MCR_OUT2) !== 0 && (this.mcr & MCR_LOOP) === 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq(level);
    }
  }
}
