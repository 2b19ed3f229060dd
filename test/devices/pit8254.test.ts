import { describe, expect, it } from "vitest";
import { InstructionClock, PIT_HZ, Pit8254 } from "../../host/devices/pit8254.ts";

const CTRL = 3;

function make() {
  const edges: Array<[number, boolean]> = [];
  const pit: Pit8254 = new Pit8254({ irq: (l) => edges.push([pit.now, l]) });
  const w = (o: number, v: number) => pit.write(o, 1, v);
  const r = (o: number) => pit.read(o, 1);
  /** advance one pulse at a time, so edges are timestamped exactly */
  const step = (n: number) => { for (let i = 0; i < n; i++) pit.advance(1); };
  return { pit, edges, w, r, step };
}

describe("8254 control word and count access", () => {
  it("LSB-then-MSB write and read of a counter", () => {
    const { w, r, step } = make();
    w(CTRL, 0x30); // counter 0, LSB/MSB, mode 0
    w(0, 0x34); w(0, 0x12);
    step(1); // load pulse
    expect(r(0)).toBe(0x34);
    expect(r(0)).toBe(0x12);
    step(0x10);
    expect(r(0) | (r(0) << 8)).toBe(0x1224);
  });

  it("LSB-only and MSB-only access modes", () => {
    const { pit, w, r, step } = make();
    w(CTRL, 0x50); // counter 1, LSB only, mode 0
    w(1, 0x80);
    step(1);
    expect(r(1)).toBe(0x80);
    expect(r(1)).toBe(0x80); // no flip-flop in LSB-only mode
    pit.setGate(2, true);
    w(CTRL, 0xa0); // counter 2, MSB only, mode 0
    w(2, 0x02);
    step(1);
    expect(r(2)).toBe(0x02);
    step(1);
    expect(r(2)).toBe(0x01); // 0x01ff
  });

  it("counter latch command freezes the value until both bytes are read", () => {
    const { w, r, step } = make();
    w(CTRL, 0x34); w(0, 0x00); w(0, 0x10); // mode 2, 0x1000
    step(1 + 0x10);
    w(CTRL, 0x00); // latch counter 0
    step(0x100);
    w(CTRL, 0x00); // ignored: previous latch unread
    expect(r(0)).toBe(0xf0);
    expect(r(0)).toBe(0x0f);
    expect(r(0) | (r(0) << 8)).toBe(0x0ef0); // live again
  });

  it("read-back command latches status (OUT, NULL COUNT, RW, mode, BCD) before the count", () => {
    const { pit, w, r, step } = make();
    w(CTRL, 0xb6); // counter 2, LSB/MSB, mode 3, binary
    pit.setGate(2, true);
    w(CTRL, 0xe8); // read-back: latch status of counter 2
    expect(r(2)).toBe(0xf6); // OUT high, NULL COUNT (no count written), RW=3, mode 3
    w(2, 0x00); w(2, 0x01); // 256
    w(CTRL, 0xe8); // status only
    expect(r(2)).toBe(0xf6); // count written but not loaded: still NULL COUNT
    step(1);
    w(CTRL, 0xe8);
    expect(r(2)).toBe(0xb6);
    step(1);
    w(CTRL, 0xd8); // count only
    expect(r(2) | (r(2) << 8)).toBe(254);
    w(CTRL, 0xc8); // count and status: status byte first, then the count
    expect(r(2)).toBe(0xb6);
    expect(r(2) | (r(2) << 8)).toBe(254);
  });

  it("a latched count blocks later latch commands until it is read", () => {
    const { pit, w, r, step } = make();
    pit.setGate(2, true);
    w(CTRL, 0xb6); w(2, 0); w(2, 1);
    step(2);
    w(CTRL, 0xd8);
    step(10);
    w(CTRL, 0xd8);
    expect(r(2) | (r(2) << 8)).toBe(254);
    expect(r(2) | (r(2) << 8)).toBe(234);
  });

  it("control word with mode bits 11x maps to modes 2/3", () => {
    const { w, r } = make();
    w(CTRL, 0x3c); // M=110 → mode 2
    w(CTRL, 0xe2);
    expect(r(0) & 0x0e).toBe(0x04);
  });

  it("reading the control register is counted, returns 0xff", () => {
    const { pit, r } = make();
    expect(r(CTRL)).toBe(0xff);
    expect(pit.errors.get("read-control")).toBe(1);
  });
});

describe("8254 modes", () => {
  it("mode 0: OUT low on count write, high N+1 pulses later, stays high while counting wraps", () => {
    const { pit, w, r, step, edges } = make();
    w(CTRL, 0x30);
    expect(pit.out(0)).toBe(false);
    w(0, 5); w(0, 0);
    step(5);
    expect(pit.out(0)).toBe(false);
    step(1);
    expect(edges).toEqual([[6, true]]);
    step(3);
    expect(pit.out(0)).toBe(true);
    expect(r(0) | (r(0) << 8)).toBe(0xfffd);
  });

  it("mode 0: writing the first byte of a new count stops counting and drops OUT", () => {
    const { pit, w, r, step } = make();
    w(CTRL, 0x30); w(0, 3); w(0, 0);
    step(10);
    expect(pit.out(0)).toBe(true);
    w(0, 0x20);
    expect(pit.out(0)).toBe(false);
    const before = r(0) | (r(0) << 8);
    step(5);
    expect(r(0) | (r(0) << 8)).toBe(before);
    w(0, 0);
    step(0x21);
    expect(pit.out(0)).toBe(true);
  });

  it("mode 2 rate generator period: OUT low for one pulse every N pulses", () => {
    const { w, step, edges } = make();
    w(CTRL, 0x34); w(0, 100); w(0, 0);
    step(301);
    expect(edges).toEqual([[0, true], [100, false], [101, true], [200, false], [201, true], [300, false], [301, true]]);
  });

  it("mode 2: a new count takes effect at the end of the current period", () => {
    const { w, step, edges } = make();
    w(CTRL, 0x34); w(0, 10); w(0, 0);
    step(5);
    w(0, 4); w(0, 0);
    step(20);
    expect(edges.filter(([, l]) => !l).map(([t]) => t)).toEqual([10, 14, 18, 22]);
  });

  it("mode 3 square wave: even N is N/2 high, N/2 low", () => {
    const { w, step, edges } = make();
    w(CTRL, 0x36); w(0, 10); w(0, 0);
    step(31);
    expect(edges).toEqual([[0, true], [6, false], [11, true], [16, false], [21, true], [26, false], [31, true]]);
  });

  it("mode 3 square wave: odd N is (N+1)/2 high, (N-1)/2 low", () => {
    const { w, step, edges } = make();
    w(CTRL, 0x36); w(0, 11); w(0, 0);
    step(34);
    expect(edges).toEqual([[0, true], [7, false], [12, true], [18, false], [23, true], [29, false], [34, true]]);
  });

  it("mode 3 count read decrements by two", () => {
    const { w, r, step } = make();
    w(CTRL, 0x36); w(0, 10); w(0, 0);
    step(1);
    expect(r(0)).toBe(10); r(0);
    step(1);
    expect(r(0)).toBe(8); r(0);
  });

  it("mode 3 with count 0 is a 65536-pulse period (the PC's 18.2 Hz tick)", () => {
    const { pit, w } = make();
    w(CTRL, 0x36); w(0, 0); w(0, 0);
    pit.advance(1);
    expect(pit.nextEventTicks()).toBe(32768);
    pit.advance(32768);
    expect(pit.out(0)).toBe(false);
    expect(pit.nextEventTicks()).toBe(32768);
  });

  it("mode 4 software strobe: OUT low for exactly one pulse N+1 pulses after the write, once", () => {
    const { w, step, edges } = make();
    w(CTRL, 0x38); w(0, 4); w(0, 0);
    step(20);
    expect(edges).toEqual([[0, true], [5, false], [6, true]]); // [0]: control word sets OUT high
  });

  it("mode 1 one-shot triggered by GATE (counter 2 via port 0x61)", () => {
    const outs: Array<[number, boolean]> = [];
    const pit2 = new Pit8254({ onOut: (c, l) => { if (c === 2) outs.push([pit2.now, l]); } });
    pit2.write(CTRL, 1, 0xb2); // counter 2, LSB/MSB, mode 1
    pit2.write(2, 1, 3); pit2.write(2, 1, 0);
    for (let i = 0; i < 5; i++) pit2.advance(1);
    expect(outs).toEqual([[0, true]]); // control word: OUT high; no trigger yet (gate low after reset of port 0x61)
    pit2.port61.write(0, 1, 0x01); // gate rising edge
    for (let i = 0; i < 6; i++) pit2.advance(1);
    expect(outs).toEqual([[0, true], [6, false], [9, true]]);
    expect(pit2.port61.read(0, 1) & 0x20).toBe(0x20);
  });

  it("mode 5 hardware strobe: GATE trigger, strobe N+1 pulses later", () => {
    const pit = new Pit8254();
    pit.setGate(2, false);
    pit.write(CTRL, 1, 0xba); pit.write(2, 1, 2); pit.write(2, 1, 0);
    pit.advance(10);
    expect(pit.out(2)).toBe(true);
    pit.setGate(2, true);
    pit.advance(3);
    expect(pit.out(2)).toBe(false);
    pit.advance(1);
    expect(pit.out(2)).toBe(true);
  });

  it("GATE low in mode 2 forces OUT high and stops counting; rising GATE reloads", () => {
    const pit = new Pit8254();
    pit.setGate(2, true);
    pit.write(CTRL, 1, 0xb4); pit.write(2, 1, 10); pit.write(2, 1, 0);
    pit.advance(9); // ce = 2
    pit.setGate(2, false);
    pit.advance(100);
    expect(pit.out(2)).toBe(true);
    pit.setGate(2, true);
    pit.advance(1); // reload
    pit.advance(8);
    expect(pit.out(2)).toBe(true);
    pit.advance(1);
    expect(pit.out(2)).toBe(false);
  });

  it("GATE low in mode 0 pauses counting", () => {
    const pit = new Pit8254();
    pit.setGate(2, true);
    pit.write(CTRL, 1, 0xb0); pit.write(2, 1, 5); pit.write(2, 1, 0);
    pit.advance(3);
    pit.setGate(2, false);
    pit.advance(50);
    expect(pit.out(2)).toBe(false);
    pit.setGate(2, true);
    pit.advance(2);
    expect(pit.out(2)).toBe(false);
    pit.advance(1);
    expect(pit.out(2)).toBe(true);
  });

  it("BCD counting: 0x0100 means 100 pulses; reads are BCD", () => {
    const { w, r, step, edges } = make();
    w(CTRL, 0x35); w(0, 0x00); w(0, 0x01); // mode 2, BCD
    step(3);
    expect(r(0)).toBe(0x98); expect(r(0)).toBe(0x00);
    step(98);
    expect(edges).toEqual([[0, true], [100, false], [101, true]]);
  });

  it("illegal count 1 in mode 2 keeps OUT high and is counted", () => {
    const { pit, w, step, edges } = make();
    w(CTRL, 0x34); w(0, 1); w(0, 0);
    step(10);
    expect(edges).toEqual([[0, true]]); // the control word's initial OUT high only
    expect(pit.errors.get("count-1")).toBe(1);
    expect(pit.nextEventTicks()).toBe(Infinity);
  });
});

describe("8254 time base", () => {
  it("nextEventTicks is the exact distance to the next OUT0 edge", () => {
    const { pit, w, edges } = make();
    w(CTRL, 0x34); w(0, 0x9c); w(0, 0x2e); // 11932 → ~100 Hz
    expect(edges).toEqual([[0, true]]);
    expect(pit.nextEventTicks()).toBe(1); // the load pulse
    pit.advance(1);
    let t = 1;
    for (let i = 0; i < 6; i++) {
      const d = pit.nextEventTicks();
      pit.advance(d);
      t += d;
      expect(edges.at(-1)![0]).toBe(t); // every stop lands on an edge
    }
    expect(edges.map(([t]) => t)).toEqual([0, 11932, 11933, 23864, 23865, 35796, 35797]);
  });

  it("a long advance is O(1) per counter and keeps phase; skipped edges are counted", () => {
    const a = new Pit8254(), b = new Pit8254();
    for (const p of [a, b]) { p.write(CTRL, 1, 0x34); p.write(0, 1, 3); p.write(0, 1, 0); }
    a.advance(1_000_000_000); // 1e9 pulses of a period-3 generator
    for (let i = 0; i < 1000; i++) b.advance(1_000_000);
    expect(a.stats.risingEdges[0]).toBe(b.stats.risingEdges[0]);
    // the control word's edge at t=0, then one per period after the load pulse
    expect(a.stats.risingEdges[0]).toBe(1 + Math.floor((1_000_000_000 - 1) / 3));
    expect(a.read(0, 1)).toBe(b.read(0, 1));
    expect(a.out(0)).toBe(b.out(0));
  });

  it("port 0x61: bit 0 gate, bit 5 OUT2, bit 4 refresh toggle every 18 pulses", () => {
    const pit = new Pit8254();
    pit.write(CTRL, 1, 0xb0); pit.write(2, 1, 2); pit.write(2, 1, 0);
    pit.port61.write(0, 1, 0x03);
    expect(pit.port61.read(0, 1)).toBe(0x03);
    pit.advance(3);
    expect(pit.port61.read(0, 1)).toBe(0x23);
    pit.advance(15);
    expect(pit.port61.read(0, 1)).toBe(0x33);
    expect(pit.port61.speakerOn).toBe(true);
  });

  it("InstructionClock: 1 s of instructions is exactly PIT_HZ pulses, however it is chunked", () => {
    const a = new InstructionClock(100_000_000), b = new InstructionClock(100_000_000);
    let ta = 0, tb = 0;
    for (let i = 0; i < 1000; i++) ta += a.ticksFor(100_000);
    for (let i = 0; i < 100_000; i++) tb += b.ticksFor(1000);
    expect(ta).toBe(PIT_HZ);
    expect(tb).toBe(PIT_HZ);
  });

  it("InstructionClock.instructionsFor gives the fewest instructions reaching a tick count", () => {
    const c = new InstructionClock(100_000_000);
    const n = c.instructionsFor(10);
    expect(n).toBe(839); // ceil(10 * 1e8 / 1193182)
    expect(new InstructionClock(100_000_000).ticksFor(n)).toBe(10);
    expect(new InstructionClock(100_000_000).ticksFor(n - 1)).toBe(9);
    expect(c.instructionsFor(Infinity)).toBe(Infinity);
    expect(() => new InstructionClock(0)).toThrow(RangeError);
  });

  it("bad tick counts are host errors", () => {
    expect(() => new Pit8254().advance(-1)).toThrow(RangeError);
    expect(() => new Pit8254().advance(1.5)).toThrow(RangeError);
  });
});
