// persist.test.ts — host/persist.ts: object state as plain data and back (what every device's save()/restore()
// and the modes' snapshot state use).
import { describe, it, expect } from "vitest";
import { saveState, loadState } from "../host/persist.ts";
import { Pit8254, Pic8259Pair, Uart16550, Rtc } from "../host/devices/index.ts";

describe("saveState / loadState", () => {
  it("keeps numbers (Infinity, NaN, -0), bigints, typed arrays, Maps, Sets, nested objects; drops functions and wiring", () => {
    class Thing {
      a = Infinity; b = NaN; c = -0; big = 1n << 70n; bytes = new Uint8Array([1, 2, 3]); u32 = new Uint32Array([0xdeadbeef]);
      map = new Map<number, { x: number }>([[4, { x: 5 }]]); set = new Set(["q"]); nested = { deep: [1, { y: 2 }] };
      none: number | null = null; undef: number | undefined = undefined;
      cb = () => 1; log = (m: string) => m;
    }
    const t = new Thing();
    t.bytes[1] = 9;
    const s = JSON.parse(JSON.stringify(saveState(t))); // through JSON, as in a snapshot
    expect(JSON.stringify(s)).not.toMatch(/cb|log/);
    const u = new Thing();
    const keep = u.bytes;
    u.a = 0; u.b = 0; u.c = 1; u.big = 0n; u.bytes.fill(0); u.map.clear(); u.set.clear(); u.nested.deep = []; u.none = 3; u.undef = 4;
    loadState(u, s);
    expect(u.a).toBe(Infinity);
    expect(u.b).toBeNaN();
    expect(Object.is(u.c, -0)).toBe(true);
    expect(u.big).toBe(1n << 70n);
    expect(u.bytes).toBe(keep); // filled in place: readonly arrays and views held elsewhere stay valid
    expect([...u.bytes]).toEqual([1, 9, 3]);
    expect(u.u32[0]).toBe(0xdeadbeef);
    expect(u.map.get(4)).toEqual({ x: 5 });
    expect([...u.set]).toEqual(["q"]);
    expect(u.nested).toEqual({ deep: [1, { y: 2 }] });
    expect(u.none).toBeNull();
    expect(u.undef).toBeUndefined();
    expect(u.cb()).toBe(1);
  });

  it("an object referenced twice is one object again after restore (a current entry that is also in a cache)", () => {
    const mk = () => { const cache = new Map<string, { n: number }>(); return { cache, current: null as { n: number } | null }; };
    const a = mk();
    a.cache.set("k", { n: 1 });
    a.current = a.cache.get("k")!;
    const b = mk();
    loadState(b, JSON.parse(JSON.stringify(saveState(a))));
    expect(b.current).not.toBeNull();
    expect(b.current).toBe(b.cache.get("k"));
    b.current!.n = 7;
    expect(b.cache.get("k")!.n).toBe(7);
  });

  it("devices: a programmed PIT, PIC, UART and RTC restored into fresh ones behave the same", () => {
    const build = () => {
      const pic = new Pic8259Pair();
      const pit = new Pit8254({ irq: pic.line(0) });
      const uart = new Uart16550({ irq: pic.line(4) });
      const rtc = new Rtc({ irq: pic.line(8), ticksPerSecond: 1000 });
      return { pic, pit, uart, rtc };
    };
    const a = build();
    // ICW1..ICW4 (vector base 0x20, single... cascade as a PC), then OCW1 unmasking IRQ 0
    for (const [off, v] of [[0, 0x11], [1, 0x20], [1, 0x04], [1, 0x01], [1, 0xfe]]) a.pic.master.write(off, 1, v);
    a.pit.write(3, 1, 0x34); a.pit.write(0, 1, 0x9c); a.pit.write(0, 1, 0x2e); // channel 0, rate generator, 11932
    a.pit.advance(5000);
    a.uart.write(3, 1, 0x03); a.uart.write(1, 1, 0x01); a.uart.receive([0x41, 0x42]);
    a.rtc.write(0, 1, 0x0b); a.rtc.write(1, 1, 0x42); a.rtc.advance(1234);
    const b = build();
    b.pic.restore(JSON.parse(JSON.stringify(a.pic.save())));
    b.pit.restore(JSON.parse(JSON.stringify(a.pit.save())));
    b.uart.restore(JSON.parse(JSON.stringify(a.uart.save())));
    b.rtc.restore(JSON.parse(JSON.stringify(a.rtc.save())));
    expect(b.pit.nextEventTicks()).toBe(a.pit.nextEventTicks());
    expect(b.rtc.nextEventTicks()).toBe(a.rtc.nextEventTicks());
    for (const d of ["pic", "pit", "uart", "rtc"] as const) expect(JSON.stringify(b[d].save()), d).toBe(JSON.stringify(a[d].save()));
    // and they go on the same way
    a.pit.advance(70_000); b.pit.advance(70_000);
    expect(b.pit.stats).toEqual(a.pit.stats);
    expect(b.pic.peekVector()).toBe(a.pic.peekVector());
    expect(b.pic.peekVector()).toBeGreaterThanOrEqual(0x20); // the PIT's edge reached the restored PIC
    expect([b.uart.read(5, 1), b.uart.read(0, 1), b.uart.read(5, 1), b.uart.read(0, 1)]).toEqual([a.uart.read(5, 1), a.uart.read(0, 1), a.uart.read(5, 1), a.uart.read(0, 1)]);
  });
});
