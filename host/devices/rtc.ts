// rtc.ts — Motorola MC146818A real-time clock + CMOS RAM as the PC/AT wires it: index port 0x70 (bit 7 = NMI
// disable, bits 6:0 = register), data port 0x71, IRQ 8.
// Reference: MC146818A datasheet — address map (registers 0-9 time/alarm/calendar, A-D control, 14-127 user RAM),
// register A (UIP bit 7, DV2-0 bits 6:4, RS3-0 bits 3:0), register B (SET 7, PIE 6, AIE 5, UIE 4, SQWE 3, DM 2
// (1 = binary, 0 = BCD), 24/12 1, DSE 0), register C (IRQF 7, PF 6, AF 5, UF 4; read-only, cleared by reading),
// register D (VRT bit 7), the update cycle (UIP is 1 from 244 µs before an update until it ends), alarm "don't care"
// codes (C0h-FFh), the periodic rates of Table 3 for a 32.768 kHz time base. PC convention: register 32h = century
// (BCD); 10h-3Fh hold the usual PC CMOS configuration bytes (memory sizes) when memSize is given.
//
// Pure state machine on a virtual clock: advance(ticks) at `ticksPerSecond` (the VM's instruction-equivalents), so
// time is deterministic. The wall-clock start is an option (default 2000-01-01 00:00:00 UTC; the VM passes the host
// time or a fixed one). Simplifications (documented): the update itself is instantaneous (the 1984 µs update window
// is folded into the 244 µs UIP window before it); the day-of-week register is derived from the date (writes to it
// are ignored); daylight saving (DSE) is not applied; after SET is cleared (or the divider leaves reset) the next
// update comes one second later (the datasheet says 500 ms after a divider reset). Guest mistakes are counted.
import type { AccessSize, IoDevice } from "../bus.ts";
import { GuestErrors, hex, type IrqLine, type LogFn, noIrq } from "./guestlog.ts";
import { saveState, loadState, type Saved } from "../persist.ts";

export const RTC_INDEX_PORT = 0x70;
export const RTC_DATA_PORT = 0x71;
export const RTC_IRQ = 8;

export const RTC_REG = { SEC: 0, SEC_ALARM: 1, MIN: 2, MIN_ALARM: 3, HOUR: 4, HOUR_ALARM: 5, DOW: 6, DAY: 7, MONTH: 8, YEAR: 9, A: 0x0a, B: 0x0b, C: 0x0c, D: 0x0d, CENTURY: 0x32 } as const;
export const RTC_A_UIP = 0x80;
export const RTC_B_SET = 0x80, RTC_B_PIE = 0x40, RTC_B_AIE = 0x20, RTC_B_UIE = 0x10, RTC_B_DM = 0x04, RTC_B_24H = 0x02;
export const RTC_C_IRQF = 0x80, RTC_C_PF = 0x40, RTC_C_AF = 0x20, RTC_C_UF = 0x10;

const OSC_HZ = 32768;
/** UIP is set this long before each update (t_BUC, 244 µs) */
const UIP_WINDOW_S = 244e-6;

export interface RtcOptions {
  irq?: IrqLine;
  /** the clock at virtual time 0, in seconds since 1970-01-01 UTC (default 946684800 = 2000-01-01) */
  startTime?: number;
  /** virtual-clock ticks per second (default 100 000 000, the VM's instruction-equivalents) */
  ticksPerSecond?: number;
  /** guest RAM in bytes: fills the PC CMOS memory-size bytes (15h-18h, 30h-31h, 34h-35h) */
  memSize?: number;
  log?: LogFn;
}

/** latest start time: 9999-12-31 23:59:59 UTC (the century byte holds two BCD digits) */
export const RTC_MAX_START = 253402300799;

const toBcd = (v: number) => ((Math.floor(v / 10) % 10) << 4) | (v % 10);
const fromBcd = (v: number) => (v >> 4) * 10 + (v & 0x0f);

export class Rtc implements IoDevice {
  /** Device state for a snapshot (host/persist.ts): every field but the wiring the constructor makes. */
  save(): Saved { return saveState(this); }
  /** Puts saved state back into a Rtc built with the same options. */
  restore(s: Saved): void { loadState(this, s); }

  readonly errors: GuestErrors;
  readonly stats = { updates: 0, periodic: 0, alarms: 0, interrupts: 0 };
  index = 0;
  nmiDisabled = false;
  regA = 0x26; // DV = 010 (32.768 kHz time base running), RS = 0110 (1024 Hz)
  regB = RTC_B_24H; // 24-hour, BCD, no interrupts
  regC = 0;
  readonly ram = new Uint8Array(128);

  /** seconds since 1970 shown by the time registers */
  private epoch: number;
  /** virtual tick at which the current second began */
  private secondStart = 0;
  /** virtual ticks elapsed */
  private now = 0;
  /** 32.768 kHz cycles elapsed, and the tick remainder (exact integer conversion) */
  private osc = 0;
  private oscRem = 0;
  private alarm = [0, 0, 0]; // sec, min, hour registers as written (raw)
  private irqLevel = false;
  private readonly tps: number;
  private readonly irq: IrqLine;

  constructor(opts: RtcOptions = {}) {
    this.irq = opts.irq ?? noIrq;
    this.tps = opts.ticksPerSecond ?? 100_000_000;
    this.epoch = Math.floor(opts.startTime ?? 946684800);
    if (!(this.epoch >= 0 && this.epoch <= RTC_MAX_START)) throw new RangeError(`wasmvisor rtc: start time ${opts.startTime} outside 1970..9999`);
    this.errors = new GuestErrors("rtc", opts.log);
    if (opts.memSize !== undefined) this.fillMemorySize(opts.memSize);
    this.ram[RTC_REG.CENTURY] = toBcd(Math.floor(new Date(this.epoch * 1000).getUTCFullYear() / 100));
  }

  private fillMemorySize(bytes: number): void {
    const kib = Math.floor(bytes / 1024);
    const base = Math.min(640, kib);
    this.ram[0x15] = base & 0xff; this.ram[0x16] = base >> 8;
    const ext = Math.min(0xffff, Math.max(0, kib - 1024)); // KiB above 1 MiB (up to 64 MiB)
    this.ram[0x17] = ext & 0xff; this.ram[0x18] = ext >> 8;
    this.ram[0x30] = ext & 0xff; this.ram[0x31] = ext >> 8;
    const above16 = Math.min(0xffff, Math.max(0, Math.floor((bytes - 16 * 1024 * 1024) / 65536))); // 64 KiB units
    this.ram[0x34] = above16 & 0xff; this.ram[0x35] = above16 >> 8;
  }

  private get running(): boolean {
    return !(this.regB & RTC_B_SET) && ((this.regA >> 4) & 7) !== 6 && ((this.regA >> 4) & 7) !== 7;
  }

  /** Current date as UTC fields. */
  private fields(): Date {
    return new Date(this.epoch * 1000);
  }

  // ---------------------------------------------------------------- time

  /** Seconds since 1970 the clock shows now. */
  get time(): number {
    return this.epoch;
  }

  private periodCycles(): number {
    const rs = this.regA & 0x0f;
    if (rs === 0) return 0;
    const r = rs === 1 ? 8 : rs === 2 ? 9 : rs;
    return 1 << (r - 1); // (a shift: `2 **` is a float pow call, and this runs on every slice)
  }

  /** Virtual ticks until the next event that could raise IRQ 8, or Infinity. */
  nextEventTicks(): number {
    let next = Infinity;
    // while IRQF is set the line is already high: further flag changes are computed on the next access
    if (!this.running || (this.regC & RTC_C_IRQF)) return next;
    if (this.regB & (RTC_B_UIE | RTC_B_AIE)) next = Math.max(0, this.secondStart + this.tps - this.now);
    const p = this.periodCycles();
    if ((this.regB & RTC_B_PIE) && p) {
      const cycles = (Math.floor(this.osc / p) + 1) * p - this.osc;
      next = Math.min(next, Math.max(1, Math.ceil((cycles * this.tps - this.oscRem) / OSC_HZ)));
    }
    return next;
  }

  advance(ticks: number): void {
    if (!Number.isFinite(ticks) || ticks < 0) throw new RangeError(`wasmvisor rtc: bad tick count ${ticks}`);
    this.now += ticks;
    if (!this.running) {
      this.secondStart = this.now;
      return;
    }
    // periodic flag (the divider chain runs with DV = 010)
    const total = this.oscRem + ticks * OSC_HZ;
    if (total < this.tps) this.oscRem = total; // (the common short slice: no oscillator cycle, no division)
    else {
      const p = this.periodCycles();
      const before = this.osc;
      this.osc += Math.floor(total / this.tps);
      this.oscRem = total % this.tps;
      if (p && Math.floor(this.osc / p) !== Math.floor(before / p)) {
        this.stats.periodic++;
        this.regC |= RTC_C_PF;
      }
    }
    // update cycles
    const secs = this.now - this.secondStart < this.tps ? 0 : Math.floor((this.now - this.secondStart) / this.tps);
    if (secs > 0) {
      const check = Math.min(secs, 86400);
      for (let i = secs - check + 1; i <= secs; i++) if (this.alarmMatches(this.epoch + i)) { this.regC |= RTC_C_AF; this.stats.alarms++; }
      this.epoch += secs;
      this.secondStart += secs * this.tps;
      this.stats.updates += secs;
      this.regC |= RTC_C_UF;
    }
    this.updateIrq();
  }

  private alarmMatches(t: number): boolean {
    const d = new Date(t * 1000);
    const vals = [d.getUTCSeconds(), d.getUTCMinutes(), d.getUTCHours()];
    for (let i = 0; i < 3; i++) {
      const a = this.alarm[i];
      if ((a & 0xc0) === 0xc0) continue; // don't care
      const want = i === 2 ? this.decodeHour(a) : this.decode(a);
      if (want !== vals[i]) return false;
    }
    return true;
  }

  private updateIrq(): void {
    const b = this.regB;
    const irqf = ((this.regC & RTC_C_PF) && (b & RTC_B_PIE)) || ((this.regC & RTC_C_AF) && (b & RTC_B_AIE)) || ((this.regC & RTC_C_UF) && (b & RTC_B_UIE));
    if (irqf) this.regC |= RTC_C_IRQF; else this.regC &= ~RTC_C_IRQF;
    const level = !!irqf;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      if (level) this.stats.interrupts++;
      this.irq(level);
    }
  }

  // ---------------------------------------------------------------- encoding

  private encode(v: number): number {
    return this.regB & RTC_B_DM ? v : toBcd(v);
  }

  private decode(v: number): number {
    return this.regB & RTC_B_DM ? v : fromBcd(v);
  }

  private encodeHour(h: number): number {
    if (this.regB & RTC_B_24H) return this.encode(h);
    const pm = h >= 12, h12 = h % 12 === 0 ? 12 : h % 12;
    return this.encode(h12) | (pm ? 0x80 : 0);
  }

  private decodeHour(v: number): number {
    if (this.regB & RTC_B_24H) return this.decode(v);
    const h12 = this.decode(v & 0x7f) % 12;
    return (v & 0x80) ? h12 + 12 : h12;
  }

  private readTimeReg(r: number): number {
    const d = this.fields();
    switch (r) {
      case RTC_REG.SEC: return this.encode(d.getUTCSeconds());
      case RTC_REG.MIN: return this.encode(d.getUTCMinutes());
      case RTC_REG.HOUR: return this.encodeHour(d.getUTCHours());
      case RTC_REG.DOW: return this.encode(d.getUTCDay() + 1);
      case RTC_REG.DAY: return this.encode(d.getUTCDate());
      case RTC_REG.MONTH: return this.encode(d.getUTCMonth() + 1);
      case RTC_REG.YEAR: return this.encode(d.getUTCFullYear() % 100);
    }
    return 0;
  }

  private writeTimeReg(r: number, raw: number): void {
    const d = this.fields();
    let [Y, M, D, h, m, s] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()];
    const v = r === RTC_REG.HOUR ? this.decodeHour(raw) : this.decode(raw);
    const bad = (lo: number, hi: number) => {
      if (v < lo || v > hi) { this.errors.report("bad-time", `register ${r} written with out-of-range ${hex(raw)}`); return true; }
      return false;
    };
    switch (r) {
      case RTC_REG.SEC: if (bad(0, 59)) return; s = v; break;
      case RTC_REG.MIN: if (bad(0, 59)) return; m = v; break;
      case RTC_REG.HOUR: if (bad(0, 23)) return; h = v; break;
      case RTC_REG.DOW: return; // derived from the date
      case RTC_REG.DAY: if (bad(1, 31)) return; D = v; break;
      case RTC_REG.MONTH: if (bad(1, 12)) return; M = v - 1; break;
      case RTC_REG.YEAR: if (bad(0, 99)) return; Y = this.century() * 100 + v; break;
    }
    const t = new Date(0);
    t.setUTCFullYear(Y, M, D); // (Date.UTC would map years 0-99 to 1900-1999)
    t.setUTCHours(h, m, s, 0);
    this.epoch = Math.floor(t.getTime() / 1000);
  }

  private century(): number {
    const c = this.ram[RTC_REG.CENTURY];
    return fromBcd(c);
  }

  // ---------------------------------------------------------------- ports

  read(offset: number, size: AccessSize): number {
    if (size !== 1) this.errors.report("access-width", `${size}-byte read at ${hex(0x70 + offset)}`);
    let v: number;
    if (offset === 0) v = 0xff; // the index register is write-only
    else v = this.readReg(this.index);
    return size === 1 ? v : size === 2 ? (v | 0xff00) : (v | 0xffffff00) >>> 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (size !== 1) this.errors.report("access-width", `${size}-byte write at ${hex(0x70 + offset)}`);
    value &= 0xff;
    if (offset === 0) {
      this.index = value & 0x7f;
      this.nmiDisabled = (value & 0x80) !== 0;
      return;
    }
    this.writeReg(this.index, value);
  }

  readReg(r: number): number {
    switch (r) {
      case RTC_REG.SEC: case RTC_REG.MIN: case RTC_REG.HOUR: case RTC_REG.DOW: case RTC_REG.DAY: case RTC_REG.MONTH: case RTC_REG.YEAR:
        return this.readTimeReg(r);
      case RTC_REG.SEC_ALARM: return this.alarm[0];
      case RTC_REG.MIN_ALARM: return this.alarm[1];
      case RTC_REG.HOUR_ALARM: return this.alarm[2];
      case RTC_REG.A: {
        const uip = this.running && (this.secondStart + this.tps - this.now) <= UIP_WINDOW_S * this.tps;
        return (this.regA & 0x7f) | (uip ? RTC_A_UIP : 0);
      }
      case RTC_REG.B: return this.regB;
      case RTC_REG.C: {
        const v = this.regC;
        this.regC = 0;
        this.updateIrq();
        return v;
      }
      case RTC_REG.D: return 0x80; // valid RAM and time
    }
    if (r === RTC_REG.CENTURY) return this.ram[r];
    return this.ram[r & 0x7f];
  }

  writeReg(r: number, v: number): void {
    switch (r) {
      case RTC_REG.SEC: case RTC_REG.MIN: case RTC_REG.HOUR: case RTC_REG.DOW: case RTC_REG.DAY: case RTC_REG.MONTH: case RTC_REG.YEAR:
        this.writeTimeReg(r, v);
        return;
      case RTC_REG.SEC_ALARM: this.alarm[0] = v; return;
      case RTC_REG.MIN_ALARM: this.alarm[1] = v; return;
      case RTC_REG.HOUR_ALARM: this.alarm[2] = v; return;
      case RTC_REG.A: {
        const wasRunning = this.running;
        const dv = (v >> 4) & 7;
        if (dv !== 2 && dv !== 6 && dv !== 7) this.errors.report("divider", `divider ${dv} selects a time base other than 32.768 kHz (runs as 32.768 kHz)`);
        this.regA = v & 0x7f;
        if (!wasRunning && this.running) this.secondStart = this.now;
        this.updateIrq();
        return;
      }
      case RTC_REG.B: {
        const wasRunning = this.running;
        if (v & RTC_B_SET) v &= ~RTC_B_UIE; // SET clears UIE
        if ((v ^ this.regB) & (RTC_B_DM | RTC_B_24H)) {
          // the data mode only changes how registers are read; the alarm bytes keep their raw contents
        }
        this.regB = v;
        if (!wasRunning && this.running) this.secondStart = this.now;
        this.updateIrq();
        return;
      }
      case RTC_REG.C: case RTC_REG.D:
        this.errors.report("read-only", `write ${hex(v)} to read-only register ${hex(r)}`);
        return;
    }
    this.ram[r & 0x7f] = v;
  }
}
