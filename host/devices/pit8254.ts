// pit8254.ts — Intel 8254 programmable interval timer (PC: ports 0x40-0x43, counter 0 → IRQ 0, counter 2 gate/output
// via port 0x61), a pure state machine driven by `advance(ticks)` in PIT input-clock pulses (1.193182 MHz).
// References: Intel 8254 datasheet (order 231164): "Control Word Format", "Read Operations" (counter latch,
// read-back command, status byte), "Mode Definitions" (modes 0-5, GATE table).
//
// Time is counted in whole CLK pulses; the VM derives them from retired instructions (see InstructionClock) so that
// runs are deterministic. Long advances are O(1) per counter: whole periods of modes 2/3 and the free-running wrap
// after terminal count are skipped arithmetically; an output listener then sees only the last edges of a skipped
// stretch (which is all an edge-latching interrupt controller can observe). `nextEventTicks()` tells the VM how far
// it may run before counter 0's OUT changes, so it can stop exactly at each edge.
//
// Counts: a written 0 means 2^16 (binary) or 10^4 (BCD). BCD counting is supported (values decoded on load, encoded
// on read); non-decimal BCD digits are counted as guest errors and taken at face value. A count of 1 is illegal in
// mode 2 (datasheet): here OUT then stays high; in mode 3 a count of 1 likewise keeps OUT high.
import type { AccessSize, IoDevice } from "../bus.ts";
import { GuestErrors, hex, type IrqLine, type LogFn, noIrq } from "./guestlog.ts";
import { saveState, loadState, type Saved } from "../persist.ts";

export const PIT_BASE = 0x40;
export const PIT_IRQ = 0;
export const PIT_PORT61 = 0x61;
/** PIT input clock in Hz (14.31818 MHz / 12). */
export const PIT_HZ = 1_193_182;

/** What the counters of a PC are wired to: OUT0 → IRQ0, OUT2 → speaker and port 0x61 bit 5. */
export interface Pit8254Options {
  irq?: IrqLine;
  /** called on every OUT change of any counter (after the IRQ wiring for counter 0) */
  onOut?: (counter: number, level: boolean) => void;
  log?: LogFn;
}

const RW_LATCH = 0, RW_LSB = 1, RW_MSB = 2, RW_WORD = 3;

function toBcd(v: number): number {
  return (v % 10) | (Math.floor(v / 10) % 10) << 4 | (Math.floor(v / 100) % 10) << 8 | (Math.floor(v / 1000) % 10) << 12;
}

class Counter {
  mode = 0;
  bcd = false;
  rw = RW_WORD;
  /** count register as written (raw 16-bit, BCD-coded when bcd) */
  cr = 0;
  /** a complete count has been written since the control word */
  crValid = false;
  /** NULL COUNT of the status byte: CR written but not yet loaded into CE */
  nullCount = true;
  /** CE is loaded from CR on the next CLK pulse */
  loadPending = false;
  /** CE holds a count and decrements */
  counting = false;
  /** counting element, numeric (1..modulus while counting towards terminal count) */
  ce = 0;
  /** modes 0,1,4,5: terminal count reached, now free-running (wraps) without further OUT changes */
  tc = false;
  /** modes 4,5: OUT is in its one-pulse low strobe */
  strobe = false;
  /** mode 3: pulses left in the current half cycle */
  remaining = 0;
  /** mode 3: length in pulses of the period in progress */
  period = 0;
  out = true;
  gate = true;
  // access state
  writeMsbNext = false;
  readMsbNext = false;
  latched: number | null = null;
  latchedMsbNext = false;
  /** bytes still to read from a latched count: 1 or 2 */
  latchedBytes = 0;
  status: number | null = null;
  /** rising OUT edges so far (including skipped periods) */
  risingEdges = 0;

  constructor(readonly index: number) {}

  get modulus(): number {
    return this.bcd ? 10000 : 0x10000;
  }
}

export interface PitStats {
  /** rising edges of each counter's OUT, including periods skipped in long advances */
  risingEdges: [number, number, number];
}

export class Pit8254 implements IoDevice {
  /** Device state for a snapshot (host/persist.ts): every field but the wiring the constructor makes. */
  save(): Saved { return saveState(this); }
  /** Puts saved state back into a Pit8254 built with the same options. */
  restore(s: Saved): void { loadState(this, s); }

  private readonly c: [Counter, Counter, Counter] = [new Counter(0), new Counter(1), new Counter(2)];
  private readonly irq: IrqLine;
  private readonly onOut?: (counter: number, level: boolean) => void;
  readonly errors: GuestErrors;
  /** PIT clock pulses since creation */
  now = 0;
  /** system control port B (0x61), sharing counter 2's gate and output */
  readonly port61: SystemControlPortB;

  constructor(opts: Pit8254Options = {}) {
    this.irq = opts.irq ?? noIrq;
    this.onOut = opts.onOut;
    this.errors = new GuestErrors("pit8254", opts.log);
    this.port61 = new SystemControlPortB(this);
    // power-on: counters unprogrammed, OUT undefined by the datasheet; we start low (no IRQ0 edge until programmed)
    for (const c of this.c) c.out = false;
    // counter 2's GATE comes from port 0x61 bit 0, which resets to 0; counters 0 and 1 have GATE tied high
    this.c[2].gate = false;
  }

  get stats(): PitStats {
    return { risingEdges: [this.c[0].risingEdges, this.c[1].risingEdges, this.c[2].risingEdges] };
  }

  /** OUT pin of counter n. */
  out(n: number): boolean {
    return this.counter(n).out;
  }

  gate(n: number): boolean {
    return this.counter(n).gate;
  }

  /** Drive GATE of counter n (on the PC only counter 2's gate is wired, via port 0x61 bit 0). */
  setGate(n: number, level: boolean): void {
    const c = this.counter(n);
    if (c.gate === level) return;
    c.gate = level;
    const rising = level;
    switch (c.mode) {
      case 2: case 3:
        if (!rising) this.setOut(c, true); // GATE low forces OUT high at once
        else if (c.crValid) c.loadPending = true; // trigger: reload on the next CLK pulse
        break;
      case 1: case 5:
        if (rising && c.crValid) c.loadPending = true; // trigger (retriggerable)
        break;
      // modes 0 and 4: GATE only enables/disables counting
    }
  }

  private counter(n: number): Counter {
    if (!Number.isInteger(n) || n < 0 || n > 2) throw new RangeError(`wasmvisor pit: bad counter ${n}`);
    return this.c[n];
  }

  // ---------------------------------------------------------------- time

  /** Run the clock for `ticks` CLK pulses. */
  advance(ticks: number): void {
    if (!Number.isInteger(ticks) || ticks < 0) throw new RangeError(`wasmvisor pit: bad tick count ${ticks}`);
    if (ticks === 0) return;
    this.now += ticks;
    for (const c of this.c) this.clock(c, ticks);
  }

  /** CLK pulses until counter 0's OUT next changes (Infinity when it never will without guest action). */
  nextEventTicks(): number {
    return this.pulsesToOutChange(this.c[0]);
  }

  private pulsesToOutChange(c: Counter): number {
    if (c.loadPending) {
      if ((c.mode === 2 || c.mode === 3) && !c.gate) return Infinity; // the trigger waits for GATE
      return 1; // the load pulse may change OUT (modes 1-5); re-ask after it
    }
    if (!c.counting || !this.gateEnables(c)) return Infinity;
    switch (c.mode) {
      case 0: case 1:
        return c.tc ? Infinity : c.ce;
      case 4: case 5:
        return c.strobe ? 1 : c.tc ? Infinity : c.ce;
      case 2:
        if (c.ce === 1) return this.effective(c) === 1 ? Infinity : 1;
        return c.ce - 1;
      case 3:
        return c.period === 1 ? Infinity : c.remaining;
    }
    return Infinity;
  }

  private gateEnables(c: Counter): boolean {
    return c.mode === 1 || c.mode === 5 || c.gate;
  }

  /** CR as a pulse count: 0 → modulus, BCD decoded (non-decimal digits taken at face value). */
  private effective(c: Counter): number {
    let v = c.cr;
    if (c.bcd) v = (v & 0xf) + ((v >> 4) & 0xf) * 10 + ((v >> 8) & 0xf) * 100 + ((v >> 12) & 0xf) * 1000;
    return v === 0 ? c.modulus : v;
  }

  private setOut(c: Counter, level: boolean): void {
    if (c.out === level) return;
    c.out = level;
    if (level) c.risingEdges++;
    if (c.index === 0) this.irq(level);
    this.onOut?.(c.index, level);
  }

  /** The pulse that transfers CR into CE (it does not decrement). */
  private load(c: Counter): void {
    c.loadPending = false;
    c.nullCount = false;
    c.counting = true;
    c.tc = false;
    c.strobe = false;
    const n = this.effective(c);
    c.ce = n;
    switch (c.mode) {
      case 1: this.setOut(c, false); break; // one-shot starts: OUT low until terminal count
      case 2: this.setOut(c, true); break;
      case 3:
        c.period = n;
        c.remaining = Math.ceil(n / 2); // high half: (N+1)/2 for odd N
        this.setOut(c, true);
        break;
      case 4: case 5: this.setOut(c, true); break; // high until the strobe (a reload ends a strobe in progress)
      // mode 0: OUT already low since the count write
    }
  }

  private clock(c: Counter, n: number): void {
    while (n > 0) {
      if (c.loadPending && (c.gate || (c.mode !== 2 && c.mode !== 3))) {
        this.load(c);
        n--;
        continue;
      }
      if (!c.counting || !this.gateEnables(c)) return;
      const M = c.modulus;
      switch (c.mode) {
        case 0: case 1:
          if (c.tc) { c.ce = ((c.ce - n) % M + M) % M; return; }
          if (n < c.ce) { c.ce -= n; return; }
          n -= c.ce;
          c.ce = 0;
          c.tc = true;
          this.setOut(c, true); // terminal count
          break;
        case 4: case 5:
          if (c.strobe) { // OUT was low for exactly one pulse
            c.strobe = false;
            c.ce = (c.ce - 1 + M) % M;
            this.setOut(c, true);
            n--;
            break;
          }
          if (c.tc) { c.ce = ((c.ce - n) % M + M) % M; return; }
          if (n < c.ce) { c.ce -= n; return; }
          n -= c.ce;
          c.ce = 0;
          c.tc = true;
          c.strobe = true;
          this.setOut(c, false);
          break;
        case 2:
          if (c.ce === 1) {
            // the pulse after reaching 1: reload (a new CR takes effect here) and OUT high again
            c.nullCount = false;
            c.ce = this.effective(c);
            this.setOut(c, true);
            n--;
            n = this.skipPeriods(c, n, c.ce);
            break;
          }
          if (n < c.ce - 1) { c.ce -= n; return; }
          n -= c.ce - 1;
          c.ce = 1;
          this.setOut(c, false); // one CLK low
          break;
        case 3:
          if (c.period === 1) return; // illegal count 1: OUT stays high
          if (n < c.remaining) { c.remaining -= n; return; }
          n -= c.remaining;
          if (c.out) {
            c.remaining = Math.floor(c.period / 2);
            this.setOut(c, false);
          } else {
            // end of the low half = end of the period: a new CR takes effect here
            c.nullCount = false;
            c.period = this.effective(c);
            c.ce = c.period;
            c.remaining = Math.ceil(c.period / 2);
            this.setOut(c, true);
            n = this.skipPeriods(c, n, c.period);
          }
          break;
        default:
          return;
      }
    }
  }

  /** At the start of a period of length p with n pulses to go: skip whole periods, keeping at least one to simulate. */
  private skipPeriods(c: Counter, n: number, p: number): number {
    if (n <= 2 * p) return n;
    const m = Math.floor(n / p) - 1;
    c.risingEdges += m;
    return n - m * p;
  }

  /** CE as the guest reads it. */
  private currentCount(c: Counter): number {
    let v: number;
    if (c.mode === 3 && c.counting) {
      // CE counts down by two; for odd N the high half starts at N-1 and holds 0 one extra pulse (datasheet mode 3)
      v = c.period & 1 && c.out ? 2 * (c.remaining - 1) : 2 * c.remaining;
    } else {
      v = c.ce;
    }
    v %= c.modulus;
    return c.bcd ? toBcd(v) : v;
  }

  // ---------------------------------------------------------------- guest side

  read(offset: number, size: AccessSize): number {
    if (size !== 1) {
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.read(offset + i, 1) << (8 * i);
      return v >>> 0;
    }
    if (offset === 3) {
      this.errors.report("read-control", "read of the write-only control word register");
      return 0xff;
    }
    if (offset < 0 || offset > 3) {
      this.errors.report("bad-offset", `read at offset ${offset}`);
      return 0xff;
    }
    const c = this.c[offset];
    if (c.status !== null) { // a latched status byte is read first (read-back command)
      const s = c.status;
      c.status = null;
      return s;
    }
    if (c.latched !== null) {
      const v = c.latched;
      let b: number;
      if (c.rw === RW_MSB) b = v >> 8;
      else if (c.rw === RW_LSB) b = v & 0xff;
      else b = c.latchedMsbNext ? v >> 8 : v & 0xff;
      c.latchedMsbNext = !c.latchedMsbNext;
      if (--c.latchedBytes === 0) c.latched = null; // latch released once fully read
      return b & 0xff;
    }
    const v = this.currentCount(c);
    switch (c.rw) {
      case RW_LSB: return v & 0xff;
      case RW_MSB: return (v >> 8) & 0xff;
      default: {
        const b = c.readMsbNext ? v >> 8 : v & 0xff;
        c.readMsbNext = !c.readMsbNext;
        return b & 0xff;
      }
    }
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (size !== 1) {
      for (let i = 0; i < size; i++) this.write(offset + i, 1, (value >>> (8 * i)) & 0xff);
      return;
    }
    value &= 0xff;
    if (offset === 3) return this.controlWord(value);
    if (offset < 0 || offset > 3) {
      this.errors.report("bad-offset", `write at offset ${offset}`);
      return;
    }
    const c = this.c[offset];
    switch (c.rw) {
      case RW_LSB: c.cr = value; break;
      case RW_MSB: c.cr = value << 8; break;
      default:
        if (!c.writeMsbNext) {
          c.cr = (c.cr & 0xff00) | value;
          c.writeMsbNext = true;
          // mode 0: writing the first byte stops counting and sets OUT low (datasheet mode 0)
          if (c.mode === 0) { c.counting = false; c.loadPending = false; this.setOut(c, false); }
          return;
        }
        c.cr = (c.cr & 0xff) | (value << 8);
        c.writeMsbNext = false;
    }
    this.countWritten(c);
  }

  private countWritten(c: Counter): void {
    c.crValid = true;
    c.nullCount = true;
    if (c.bcd && /[a-f]/.test(c.cr.toString(16))) this.errors.report("bcd-digit", `counter ${c.index}: non-decimal BCD count ${hex(c.cr, 4)}`);
    const n = this.effective(c);
    if (n === 1 && (c.mode === 2 || c.mode === 3)) this.errors.report("count-1", `counter ${c.index}: illegal count 1 in mode ${c.mode}`);
    switch (c.mode) {
      case 0:
        this.setOut(c, false);
        c.counting = false;
        c.loadPending = true;
        break;
      case 4:
        c.loadPending = true; // (re)loaded on the next pulse
        break;
      case 2: case 3:
        if (!c.counting) c.loadPending = true; // else: taken at the end of the current period / half cycle
        break;
      // modes 1, 5: wait for a GATE trigger
    }
  }

  private controlWord(v: number): void {
    const sc = v >> 6;
    if (sc === 3) return this.readBack(v);
    const c = this.c[sc];
    const rw = (v >> 4) & 3;
    if (rw === RW_LATCH) {
      // counter latch command: ignored while a previous latch is unread (datasheet "Counter Latch Command")
      if (c.latched === null) {
        c.latched = this.currentCount(c);
        c.latchedBytes = c.rw === RW_WORD ? 2 : 1;
        c.latchedMsbNext = false;
      }
      return;
    }
    let mode = (v >> 1) & 7;
    if (mode > 5) mode -= 4; // 110 → 2, 111 → 3 (don't-care high bit)
    c.mode = mode;
    c.rw = rw;
    c.bcd = (v & 1) !== 0;
    // "all control logic is immediately reset and OUT goes to a known initial state"
    c.counting = false;
    c.loadPending = false;
    c.crValid = false;
    c.nullCount = true;
    c.tc = false;
    c.strobe = false;
    c.writeMsbNext = false;
    c.readMsbNext = false;
    c.latched = null;
    c.status = null;
    this.setOut(c, mode !== 0);
  }

  /** Read-back command (8254 only): bit 5 = 0 latches counts, bit 4 = 0 latches status, bits 3-1 select counters 2-0. */
  private readBack(v: number): void {
    if (v & 1) this.errors.report("readback-reserved", `read-back command ${hex(v)} with reserved bit 0 set`);
    for (let i = 0; i < 3; i++) {
      if (!(v & (2 << i))) continue;
      const c = this.c[i];
      if (!(v & 0x20) && c.latched === null) {
        c.latched = this.currentCount(c);
        c.latchedBytes = c.rw === RW_WORD ? 2 : 1;
        c.latchedMsbNext = false;
      }
      if (!(v & 0x10) && c.status === null) {
        c.status = (c.out ? 0x80 : 0) | (c.nullCount ? 0x40 : 0) | (c.rw << 4) | (c.mode << 1) | (c.bcd ? 1 : 0);
      }
    }
  }
}

/**
 * Port 0x61, "system control port B" of the PC/AT: bit 0 = counter 2 GATE, bit 1 = speaker data enable,
 * bits 2-3 = parity/channel-check disables (stored), bit 4 = refresh toggle (flips every 18 PIT pulses, i.e. the
 * 15 µs DRAM refresh period the BIOS programs into counter 1), bit 5 = counter 2 OUT. Bits 6-7 (error latches) read 0.
 */
export class SystemControlPortB implements IoDevice {
  private bits = 0;

  constructor(private readonly pit: Pit8254) {}

  read(_offset: number, size: AccessSize): number {
    const v = (this.bits & 0x0f) | (Math.floor(this.pit.now / 18) & 1 ? 0x10 : 0) | (this.pit.out(2) ? 0x20 : 0);
    // a wider read reaches the (unclaimed) following ports
    return size === 1 ? v : size === 2 ? v | 0xff00 : (v | 0xffffff00) >>> 0;
  }

  write(_offset: number, _size: AccessSize, value: number): void {
    this.bits = value & 0x0f;
    this.pit.setGate(2, (value & 1) !== 0);
  }

  /** speaker data enabled (bit 1) and gate on: OUT2 is audible */
  get speakerOn(): boolean {
    return (this.bits & 3) === 3;
  }
}

/**
 * Converts retired guest instructions into PIT pulses at a fixed instructions-per-second rate, carrying the remainder
 * so no time is lost or invented over many calls (exact integer arithmetic, deterministic).
 */
export class InstructionClock {
  private acc = 0; // instructions × PIT_HZ not yet turned into a whole pulse (< ips)

  constructor(readonly instructionsPerSecond = 100_000_000) {
    if (!Number.isSafeInteger(instructionsPerSecond) || instructionsPerSecond < 1 || instructionsPerSecond > 1e12) {
      throw new RangeError(`wasmvisor pit: bad instructions-per-second ${instructionsPerSecond}`);
    }
  }

  /** PIT pulses elapsed while `instructions` more instructions retired. */
  ticksFor(instructions: number): number {
    if (!Number.isSafeInteger(instructions) || instructions < 0 || instructions > 1e9) {
      throw new RangeError(`wasmvisor pit: bad instruction count ${instructions} (0..1e9 per call)`);
    }
    this.acc += instructions * PIT_HZ; // ≤ 1.2e15 + 1e12: exact in a double
    const ticks = Math.floor(this.acc / this.instructionsPerSecond);
    this.acc -= ticks * this.instructionsPerSecond;
    return ticks;
  }

  /** Fewest instructions after which at least `ticks` pulses will have elapsed (Infinity stays Infinity). */
  instructionsFor(ticks: number): number {
    if (ticks === Infinity) return Infinity;
    if (!Number.isSafeInteger(ticks) || ticks < 0) throw new RangeError(`wasmvisor pit: bad tick count ${ticks}`);
    const need = ticks * this.instructionsPerSecond - this.acc;
    return need <= 0 ? 0 : Math.ceil(need / PIT_HZ);
  }
}
