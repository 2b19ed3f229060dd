// pic8259.ts — Intel 8259A programmable interrupt controller, the PC/AT cascaded pair
// (master 0x20/0x21, slave 0xa0/0xa1 on master IR2). Pure state machine; the CPU side is
// setIrq()/hasInterrupt()/acknowledge() plus the `intr` callback that follows the master's INT pin.
// References: Intel 8259A datasheet (order 231468): "Interrupt Sequence", ICW1-4, OCW1-3, "Edge and Level
// Triggered Modes", "Special Fully Nested Mode", "Automatic Rotation", "Poll Command".
//
// Request latching (datasheet, "Edge and Level Triggered Modes" / Fig. 9 priority cell): in edge mode IRR is set
// by a low→high transition and stays set only while the IR input is still high; a request that goes away before
// INTA is answered with the default IR7 vector (a spurious interrupt) without setting ISR. So a device must hold
// its line until acknowledged, exactly as on hardware; the VM should stop the CPU at PIT edges (nextEventTicks).
// 8080/8085 mode (ICW4.uPM=0) and buffered mode have no meaning here: they are counted and otherwise ignored
// (behaving as 8086 mode), as are ICW1.ADI/A7-A5 (8080-only).
import type { AccessSize, IoDevice } from "../bus.ts";
import { GuestErrors, hex, type IrqLine, type LogFn, noIrq } from "./guestlog.ts";
import { saveState, loadState, type Saved } from "../persist.ts";

export const PIC_MASTER_BASE = 0x20;
export const PIC_SLAVE_BASE = 0xa0;
/** The slave's INT output is wired to master IR2 on the PC/AT. */
export const PIC_CASCADE_IRQ = 2;

/** One 8259A. Its two ports (A0 = 0/1) are the IoDevice offsets 0 and 1. */
export class Pic8259 implements IoDevice {
  irr = 0;
  isr = 0;
  imr = 0;
  /** current level of each IR input pin */
  private lines = 0;
  /** edge-sense latches: set on a rising edge, cleared at INTA/ICW1 (edge mode) */
  private edge = 0;
  vectorBase = 0;
  /** IR with the lowest priority (7 after ICW1); priority rotation moves this */
  lowestPriority = 7;
  levelTriggered = false;
  autoEoi = false;
  rotateOnAutoEoi = false;
  specialFullyNested = false;
  specialMask = false;
  /** ICW3: master — bitmap of IRs with a slave; slave — its ID */
  icw3 = 0;
  single = false;
  private readIsrSelected = false;
  private pollPending = false;
  /** 0 = operational; 2/3/4 = waiting for that ICW */
  private initStep = 0;
  private icw4Expected = false;
  private intOut = false;

  constructor(
    readonly name: "master" | "slave",
    private readonly onInt: (level: boolean) => void,
    private readonly errors: GuestErrors,
    /** master only: supplies the vector for a cascaded IR during INTA (the slave's response) */
    private readonly cascadeAck?: (ir: number) => number | null,
  ) {}

  /** Drive IR input `n` (0..7) to `level`. */
  setInput(n: number, level: boolean): void {
    const bit = 1 << n;
    const was = (this.lines & bit) !== 0;
    if (level === was) return;
    if (level) {
      this.lines |= bit;
      this.edge |= bit;
    } else {
      this.lines &= ~bit;
    }
    this.recompute();
  }

  /** INT output pin. */
  get int(): boolean {
    return this.intOut;
  }

  /** IRR as the register reads: edge latch AND line in edge mode, the line level in level mode. */
  private requests(): number {
    return this.levelTriggered ? this.lines : this.edge & this.lines;
  }

  /** Priority position of IR n: 0 = highest. */
  private prio(n: number): number {
    return (n - this.lowestPriority - 1) & 7;
  }

  /** Highest-priority bit of mask, or -1. */
  private highest(mask: number): number {
    if (mask === 0) return -1;
    for (let p = 0; p < 8; p++) {
      const n = (p + this.lowestPriority + 1) & 7;
      if (mask & (1 << n)) return n;
    }
    return -1;
  }

  /** The IR that would be acknowledged now, or -1 (datasheet "Fully Nested Mode", "Special Mask Mode", SFNM). */
  resolve(): number {
    const req = this.irr & ~this.imr;
    if (req === 0) return -1;
    const n = this.highest(req);
    let inService = this.isr;
    // special mask mode: masked in-service levels do not inhibit lower ones
    if (this.specialMask) inService &= ~this.imr;
    // master in SFNM: a further request from an in-service slave is allowed through (same level)
    if (this.specialFullyNested && this.name === "master") inService &= ~this.icw3;
    if (this.specialMask) {
      // only the same level is blocked
      const req2 = req & ~inService;
      return req2 === 0 ? -1 : this.highest(req2);
    }
    const s = this.highest(inService);
    if (s >= 0 && this.prio(s) <= this.prio(n)) return -1;
    return n;
  }

  /** Re-evaluate IRR and the INT pin after any state change. */
  recompute(): void {
    this.irr = this.requests();
    const level = this.resolve() >= 0;
    if (level !== this.intOut) {
      this.intOut = level;
      this.onInt(level);
    }
  }

  /**
   * INTA sequence: returns the vector; moves the request into ISR (unless AEOI).
   * Returns null for a cascaded IR without a vector supplier (not expected on the PC pair).
   */
  acknowledge(): number {
    const n = this.resolve();
    if (n < 0) {
      // nothing pending at INTA (request withdrawn): default IR7, no ISR bit set (datasheet, "Interrupt Sequence")
      this.errors.report("spurious", `${this.name}: spurious interrupt (IR7 default)`);
      return (this.vectorBase | 7) & 0xff;
    }
    const bit = 1 << n;
    this.edge &= ~bit; // edge mode: the line must drop and rise again for another request
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.lowestPriority = n;
    } else {
      this.isr |= bit;
    }
    let vector = (this.vectorBase | n) & 0xff;
    if (this.name === "master" && !this.single && (this.icw3 & bit) && this.cascadeAck) {
      const v = this.cascadeAck(n);
      if (v !== null) vector = v;
    }
    // INT is released during the INTA sequence and re-evaluated after it, so a still-pending (higher) request
    // shows up as a fresh edge on the cascade input of the master
    if (this.intOut) { this.intOut = false; this.onInt(false); }
    this.recompute();
    return vector;
  }

  // ---------------------------------------------------------------- guest side

  read(offset: number, size: AccessSize): number {
    if (size !== 1) {
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.read(offset + i, 1) << (8 * i);
      return v >>> 0;
    }
    if (this.pollPending) {
      // poll command: this read is the acknowledge; bit 7 = interrupt present, bits 2-0 = highest level
      this.pollPending = false;
      const n = this.resolve();
      if (n < 0) return 0;
      this.acknowledge();
      return 0x80 | n;
    }
    if (offset === 1) return this.imr;
    if (offset === 0) return this.readIsrSelected ? this.isr : this.irr;
    this.errors.report("bad-offset", `${this.name}: read at offset ${offset}`);
    return 0xff;
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (size !== 1) {
      for (let i = 0; i < size; i++) this.write(offset + i, 1, (value >>> (8 * i)) & 0xff);
      return;
    }
    value &= 0xff;
    if (offset === 0) {
      if (value & 0x10) this.icw1(value);
      else if (value & 0x08) this.ocw3(value);
      else this.ocw2(value);
    } else if (offset === 1) {
      switch (this.initStep) {
        case 2:
          this.vectorBase = value & 0xf8; // T7-T3; low bits come from the IR number in 8086 mode
          this.initStep = this.single ? (this.icw4Expected ? 4 : 0) : 3;
          break;
        case 3:
          this.icw3 = value;
          if (this.name === "slave" && (value & 0xf8)) this.errors.report("icw3", `slave ICW3 ${hex(value)} has bits above the ID`);
          this.initStep = this.icw4Expected ? 4 : 0;
          break;
        case 4:
          if (!(value & 0x01)) this.errors.report("icw4-8080", `${this.name}: ICW4 selects MCS-80/85 mode (${hex(value)}); running in 8086 mode`);
          this.autoEoi = (value & 0x02) !== 0;
          this.specialFullyNested = (value & 0x10) !== 0;
          this.initStep = 0;
          break;
        default:
          this.imr = value; // OCW1
      }
      this.recompute();
    } else {
      this.errors.report("bad-offset", `${this.name}: write at offset ${offset}`);
    }
  }

  private icw1(v: number): void {
    // datasheet "Initialization Command Words": edge sense reset, IMR cleared, IR7 lowest priority,
    // special mask off, status read = IRR; without IC4 all ICW4 functions are zero
    this.icw4Expected = (v & 0x01) !== 0;
    this.single = (v & 0x02) !== 0;
    this.levelTriggered = (v & 0x08) !== 0;
    this.edge = 0;
    this.isr = 0;
    this.imr = 0;
    this.lowestPriority = 7;
    this.specialMask = false;
    this.readIsrSelected = false;
    this.pollPending = false;
    this.rotateOnAutoEoi = false;
    if (!this.icw4Expected) { this.autoEoi = false; this.specialFullyNested = false; }
    this.initStep = 2;
    this.recompute();
  }

  private ocw2(v: number): void {
    const level = v & 7;
    switch (v >> 5) {
      case 0b001: // non-specific EOI
      case 0b101: { // rotate on non-specific EOI
        const n = this.highest(this.isr);
        if (n < 0) { this.errors.report("eoi-idle", `${this.name}: non-specific EOI with ISR empty`); break; }
        this.isr &= ~(1 << n);
        if (v >> 5 === 0b101) this.lowestPriority = n;
        break;
      }
      case 0b011: // specific EOI
      case 0b111: // rotate on specific EOI
        if (!(this.isr & (1 << level))) this.errors.report("eoi-idle", `${this.name}: specific EOI for IR${level} not in service`);
        this.isr &= ~(1 << level);
        if (v >> 5 === 0b111) this.lowestPriority = level;
        break;
      case 0b110: this.lowestPriority = level; break; // set priority
      case 0b100: this.rotateOnAutoEoi = true; break;
      case 0b000: this.rotateOnAutoEoi = false; break;
      case 0b010: break; // no operation
    }
    this.recompute();
  }

  private ocw3(v: number): void {
    if (v & 0x40) this.specialMask = (v & 0x20) !== 0; // ESMM/SMM
    if (v & 0x04) this.pollPending = true;
    if (v & 0x02) this.readIsrSelected = (v & 0x01) !== 0; // RR/RIS
    this.recompute();
  }
}

export interface Pic8259PairOptions {
  /** the master's INT pin → the CPU's INTR input */
  intr?: IrqLine;
  log?: LogFn;
}

/** The PC/AT pair: IRQ 0-7 on the master, 8-15 on the slave, slave INT on master IR2. */
export class Pic8259Pair {
  /** Device state for a snapshot (host/persist.ts): every field but the wiring the constructor makes. */
  save(): Saved { return saveState(this); }
  /** Puts saved state back into a Pic8259Pair built with the same options. */
  restore(s: Saved): void { loadState(this, s); }

  readonly master: Pic8259;
  readonly slave: Pic8259;
  readonly errors: GuestErrors;
  private readonly intr: IrqLine;

  constructor(opts: Pic8259PairOptions = {}) {
    this.intr = opts.intr ?? noIrq;
    this.errors = new GuestErrors("pic8259", opts.log);
    this.slave = new Pic8259("slave", (level) => this.master.setInput(PIC_CASCADE_IRQ, level), this.errors);
    this.master = new Pic8259("master", (level) => this.intr(level), this.errors, (ir) => {
      // cascade: the slave whose ID matches drives the vector onto the bus in the second INTA cycle
      if ((this.slave.icw3 & 7) !== ir) this.errors.report("cascade-id", `master IR${ir} cascaded but slave ID is ${this.slave.icw3}`);
      return this.slave.acknowledge();
    });
  }

  /**
   * Drive IRQ line n (0..15). IRQ 2 is the cascade input and is not a device line: on the AT, the ISA bus
   * "IRQ2" pin is wired to slave IR1, so setIrq(2) drives IRQ 9.
   */
  setIrq(n: number, level: boolean): void {
    if (!Number.isInteger(n) || n < 0 || n > 15) throw new RangeError(`wasmvisor pic: bad IRQ ${n}`);
    if (n === PIC_CASCADE_IRQ) n = 9;
    if (n < 8) this.master.setInput(n, level);
    else this.slave.setInput(n - 8, level);
  }

  /** An IrqLine bound to IRQ n, for wiring devices. */
  line(n: number): IrqLine {
    if (!Number.isInteger(n) || n < 0 || n > 15) throw new RangeError(`wasmvisor pic: bad IRQ ${n}`);
    return (level) => this.setIrq(n, level);
  }

  /** The master's INT output (the CPU's INTR input). */
  hasInterrupt(): boolean {
    return this.master.int;
  }

  /**
   * The vector acknowledge() would return now, without acknowledging (-1 when INT is low): lets a VM present
   * "INTR + vector" to the CPU and run the INTA side effects only when the CPU really takes the interrupt.
   * For a cascaded IR this is the slave's vector, or its IR7 vector if the slave has nothing deliverable.
   */
  peekVector(): number {
    const m = this.master;
    const n = m.resolve();
    if (n < 0) return -1;
    if (!m.single && (m.icw3 & (1 << n))) {
      const s = this.slave.resolve();
      return (this.slave.vectorBase | (s < 0 ? 7 : s)) & 0xff;
    }
    return (m.vectorBase | n) & 0xff;
  }

  /**
   * The CPU's interrupt-acknowledge cycle: returns the vector, moves IRR→ISR on the chip(s) involved.
   * With nothing pending it returns the master's IR7 vector (spurious IRQ 7, no ISR bit); a withdrawn slave request
   * gives the slave's IR7 vector (spurious IRQ 15) with master ISR bit 2 set, so the guest must EOI the master.
   */
  acknowledge(): number {
    return this.master.acknowledge();
  }
}
