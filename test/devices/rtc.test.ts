import { describe, expect, it } from "vitest";
import { Rtc } from "../../host/devices/rtc.ts";

const TPS = 1000_000; // 1 MHz virtual clock for the tests
const T0 = Date.UTC(2024, 1, 29, 23, 59, 58) / 1000; // a leap day, two seconds before midnight

function make(opts = {}) {
  const irq: boolean[] = [];
  const rtc = new Rtc({ irq: (l) => irq.push(l), startTime: T0, ticksPerSecond: TPS, ...opts });
  const rd = (r: number) => { rtc.write(0, 1, r); return rtc.read(1, 1); };
  const wr = (r: number, v: number) => { rtc.write(0, 1, r); rtc.write(1, 1, v); };
  return { rtc, rd, wr, irq };
}

describe("MC146818 RTC", () => {
  it("time registers in BCD, 24-hour (register B = 02h), century in 32h, register D VRT", () => {
    const t = make();
    expect([t.rd(0), t.rd(2), t.rd(4), t.rd(6), t.rd(7), t.rd(8), t.rd(9), t.rd(0x32)]).toEqual([0x58, 0x59, 0x23, 0x05, 0x29, 0x02, 0x24, 0x20]);
    expect(t.rd(0x0b)).toBe(0x02);
    expect(t.rd(0x0a)).toBe(0x26);
    expect(t.rd(0x0d)).toBe(0x80);
  });

  it("advances with virtual time across midnight and the leap day", () => {
    const t = make();
    t.rtc.advance(2 * TPS);
    expect([t.rd(0), t.rd(2), t.rd(4), t.rd(7), t.rd(8)]).toEqual([0x00, 0x00, 0x00, 0x01, 0x03]);
  });

  it("binary and 12-hour modes", () => {
    const t = make();
    t.wr(0x0b, 0x04); // binary, 12-hour
    expect(t.rd(0)).toBe(58);
    expect(t.rd(4)).toBe(0x80 | 11); // 11 PM
  });

  it("UIP is set only in the 244 µs before an update", () => {
    const t = make();
    expect(t.rd(0x0a) & 0x80).toBe(0);
    t.rtc.advance(TPS - 200);
    expect(t.rd(0x0a) & 0x80).toBe(0x80);
    t.rtc.advance(200);
    expect(t.rd(0x0a) & 0x80).toBe(0);
  });

  it("SET stops updates and lets the guest write the time; clearing it resumes", () => {
    const t = make();
    t.wr(0x0b, 0x82);
    t.wr(0, 0x30); t.wr(2, 0x15); t.wr(4, 0x10); t.wr(7, 0x04); t.wr(8, 0x07); t.wr(9, 0x99);
    t.rtc.advance(5 * TPS);
    expect([t.rd(0), t.rd(2), t.rd(4), t.rd(7), t.rd(8), t.rd(9)]).toEqual([0x30, 0x15, 0x10, 0x04, 0x07, 0x99]);
    t.wr(0x0b, 0x02);
    t.rtc.advance(TPS);
    expect(t.rd(0)).toBe(0x31);
    t.wr(0, 0x75); // not BCD-valid: counted, ignored
    expect(t.rtc.errors.get("bad-time")).toBe(1);
  });

  it("periodic interrupt: PF at the RS rate, IRQ 8 while PIE, register C read clears", () => {
    const t = make();
    t.wr(0x0a, 0x2f); // RS = 15: 500 ms
    t.wr(0x0b, 0x42); // PIE
    expect(t.rtc.nextEventTicks()).toBe(TPS / 2);
    t.rtc.advance(TPS / 2);
    expect(t.irq).toEqual([true]);
    expect(t.rd(0x0c)).toBe(0xc0);
    expect(t.irq).toEqual([true, false]);
    expect(t.rd(0x0c)).toBe(0x00);
  });

  it("update-ended and alarm interrupts", () => {
    const t = make();
    t.wr(1, 0x00); t.wr(3, 0xc0); t.wr(5, 0xc0); // alarm at second 00, any minute/hour
    t.wr(0x0b, 0x32); // AIE | UIE
    expect(t.rtc.nextEventTicks()).toBe(TPS);
    t.rtc.advance(TPS); // 23:59:59
    expect(t.rd(0x0c) & 0xb0).toBe(0x90); // IRQF | UF (PF runs too, at the default 1024 Hz)
    t.rtc.advance(TPS); // 00:00:00
    expect(t.rd(0x0c) & 0xb0).toBe(0xb0);
  });

  it("NVRAM bytes are kept; memory size bytes are filled; C/D are read-only", () => {
    const t = make({ memSize: 64 << 20 });
    t.wr(0x40, 0xab);
    expect(t.rd(0x40)).toBe(0xab);
    expect(t.rd(0x15) | (t.rd(0x16) << 8)).toBe(640);
    expect(t.rd(0x30) | (t.rd(0x31) << 8)).toBe(63 * 1024);
    expect(t.rd(0x34) | (t.rd(0x35) << 8)).toBe(768);
    t.wr(0x0d, 0);
    expect(t.rtc.errors.get("read-only")).toBe(1);
    t.rtc.write(0, 1, 0x8f);
    expect(t.rtc.nmiDisabled).toBe(true);
  });
});

describe("MC146818 RTC: century and start range", () => {
  it("the year register combines with the century byte (32h), even century 00", () => {
    const t = make();
    t.wr(0x32, 0x00);
    t.wr(9, 0x05);
    expect(new Date(t.rtc.time * 1000).getUTCFullYear()).toBe(5);
    t.wr(0x32, 0x21);
    t.wr(9, 0x07);
    expect(new Date(t.rtc.time * 1000).getUTCFullYear()).toBe(2107);
  });

  it("a start time outside 1970..9999 is a host error", () => {
    expect(() => new Rtc({ startTime: -1 })).toThrow(RangeError);
    expect(() => new Rtc({ startTime: 1e15 })).toThrow(RangeError);
  });
});
