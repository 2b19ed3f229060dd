import { describe, expect, it } from "vitest";
import { Bus, type AccessSize, type IoDevice, MMIO_TRACK_LIMIT, readBytewise } from "../host/bus.ts";

/** Records accesses; reads return a value derived from offset and size. */
class Probe implements IoDevice {
  log: string[] = [];
  read(offset: number, size: AccessSize): number {
    this.log.push(`r${offset}/${size}`);
    return size === 1 ? 0x10 + offset : size === 2 ? 0x2000 + offset : 0x40000000 + offset;
  }
  write(offset: number, size: AccessSize, value: number): void {
    this.log.push(`w${offset}/${size}=${value.toString(16)}`);
  }
}

describe("Bus: port I/O", () => {
  it("routes to the device with the offset relative to the range base", () => {
    const bus = new Bus(), d = new Probe();
    bus.addPorts(0x3f8, 8, d, "com1");
    expect(bus.ioRead(0x3fd, 1)).toBe(0x15);
    bus.ioWrite(0x3f8, 1, 0x41);
    expect(d.log).toEqual(["r5/1", "w0/1=41"]);
    expect(bus.portOwner(0x3ff)).toBe("com1");
    expect(bus.portOwner(0x400)).toBeUndefined();
  });

  it("passes 16- and 32-bit accesses whole when they fit the range", () => {
    const bus = new Bus(), d = new Probe();
    bus.addPorts(0x1f0, 8, d, "ata");
    expect(bus.ioRead(0x1f0, 2)).toBe(0x2000);
    expect(bus.ioRead(0x1f0, 4)).toBe(0x40000000);
    bus.ioWrite(0x1f0, 4, 0xdeadbeef);
    expect(d.log).toEqual(["r0/2", "r0/4", "w0/4=deadbeef"]);
  });

  it("overlap rejected (port ranges)", () => {
    const bus = new Bus();
    bus.addPorts(0x20, 2, new Probe(), "pic");
    expect(() => bus.addPorts(0x21, 2, new Probe(), "other")).toThrow(/overlap pic at 0x0021/);
    expect(() => bus.addPorts(0x1f, 2, new Probe(), "other")).toThrow(/overlap/);
    bus.addPorts(0x22, 1, new Probe(), "adjacent"); // touching is fine
    expect(bus.portOwner(0x22)).toBe("adjacent");
    // a failed registration claims nothing
    expect(bus.portOwner(0x1f)).toBeUndefined();
  });

  it("rejects malformed ranges and sizes (host bugs)", () => {
    const bus = new Bus();
    expect(() => bus.addPorts(0xffff, 2, new Probe(), "x")).toThrow(RangeError);
    expect(() => bus.addPorts(0, 0, new Probe(), "x")).toThrow(RangeError);
    expect(() => bus.ioRead(0x10000, 1)).toThrow(RangeError);
    expect(() => bus.ioRead(0, 3 as AccessSize)).toThrow(RangeError);
    expect(() => bus.addPorts(0, 1, {} as IoDevice, "x")).toThrow(TypeError);
  });

  it("unclaimed read = all-ones and counted", () => {
    const lines: string[] = [];
    const bus = new Bus({ log: (m) => lines.push(m) });
    expect(bus.ioRead(0x2f8, 1)).toBe(0xff);
    expect(bus.ioRead(0x2f8, 2)).toBe(0xffff);
    expect(bus.ioRead(0x2f8, 4)).toBe(0xffffffff);
    bus.ioWrite(0x2f9, 1, 5);
    expect(bus.stats.unclaimedReads).toBe(3);
    expect(bus.stats.unclaimedWrites).toBe(1);
    expect(bus.stats.perPort.get(0x2f8)).toEqual({ reads: 3, writes: 0 });
    expect(bus.stats.perPort.get(0x2f9)).toEqual({ reads: 0, writes: 1 });
    // one log line per new location
    expect(lines).toEqual(["bus: unclaimed in 0x02f8 size 1", "bus: unclaimed out 0x02f9 size 1 value 0x05"]);
  });

  it("an access straddling a range end is split into bytes; the unclaimed byte reads 0xff", () => {
    const bus = new Bus(), d = new Probe();
    bus.addPorts(0x61, 1, d, "p61");
    expect(bus.ioRead(0x61, 2)).toBe(0xff10);
    expect(bus.ioRead(0x60, 2)).toBe(0x10ff);
    bus.ioWrite(0x60, 2, 0xabcd);
    expect(d.log).toEqual(["r0/1", "r0/1", "w0/1=ab"]);
    expect(bus.stats.perPort.get(0x62)).toEqual({ reads: 1, writes: 0 });
    expect(bus.stats.perPort.get(0x60)).toEqual({ reads: 1, writes: 1 });
  });

  it("port numbers wrap at 0xffff", () => {
    const bus = new Bus(), d = new Probe();
    bus.addPorts(0, 1, d, "zero");
    expect(bus.ioRead(0xffff, 2)).toBe(0x10ff);
  });

  it("counts routed accesses per range", () => {
    const bus = new Bus(), d = new Probe();
    bus.addPorts(0x40, 4, d, "pit");
    bus.ioRead(0x40, 1); bus.ioWrite(0x43, 1, 0x34); bus.ioWrite(0x40, 1, 0);
    const r = bus.ranges().find((x) => x.name === "pit")!;
    expect([r.reads, r.writes]).toEqual([1, 2]);
  });

  it("masks values to the access size both ways", () => {
    const bus = new Bus();
    let got = -1;
    bus.addPorts(0x80, 1, { read: () => 0x1234, write: (_o, _s, v) => { got = v; } }, "x");
    expect(bus.ioRead(0x80, 1)).toBe(0x34);
    bus.ioWrite(0x80, 1, 0x1ff);
    expect(got).toBe(0xff);
  });
});

describe("Bus: MMIO", () => {
  it("routes by address with offsets relative to the base", () => {
    const bus = new Bus(), a = new Probe(), b = new Probe();
    bus.addMmio(0xfec00000, 0x1000, a, "ioapic");
    bus.addMmio(0xfee00000, 0x1000, b, "lapic");
    expect(bus.mmioRead(0xfee00020, 4)).toBe(0x40000020);
    expect(bus.mmioRead(0xfec00010, 4)).toBe(0x40000010);
    bus.mmioWrite(0xfee000b0, 4, 0);
    expect(b.log).toEqual(["r32/4", "w176/4=0"]);
    expect(a.log).toEqual(["r16/4"]);
    expect(bus.mmioOwner(0xfee00fff)).toBe("lapic");
    expect(bus.mmioOwner(0xfee01000)).toBeUndefined();
  });

  it("overlap rejected (MMIO ranges)", () => {
    const bus = new Bus();
    bus.addMmio(0xa0000, 0x20000, new Probe(), "vga");
    expect(() => bus.addMmio(0xbffff, 2, new Probe(), "x")).toThrow(/overlaps vga/);
    expect(() => bus.addMmio(0x90000, 0x20000, new Probe(), "x")).toThrow(/overlaps vga/);
    bus.addMmio(0xc0000, 0x1000, new Probe(), "rom");
    bus.addMmio(0x9f000, 0x1000, new Probe(), "ebda");
    expect(bus.mmioOwner(0x9ffff)).toBe("ebda");
    expect(bus.mmioOwner(0xc0000)).toBe("rom");
    expect(() => bus.addMmio(0xfffff000, 0x2000, new Probe(), "x")).toThrow(RangeError);
  });

  it("unclaimed MMIO read = all-ones, counted per address, tracking bounded", () => {
    const bus = new Bus();
    expect(bus.mmioRead(0xe0000000, 4)).toBe(0xffffffff);
    expect(bus.mmioRead(0xe0000000, 2)).toBe(0xffff);
    bus.mmioWrite(0xe0000004, 1, 1);
    expect(bus.stats.unclaimedMmioReads).toBe(2);
    expect(bus.stats.unclaimedMmioWrites).toBe(1);
    expect(bus.stats.perMmio.get(0xe0000000)).toEqual({ reads: 2, writes: 0 });
    for (let i = 0; i < MMIO_TRACK_LIMIT + 10; i++) bus.mmioRead(0x1000 + i * 4, 4);
    expect(bus.stats.perMmio.size).toBe(MMIO_TRACK_LIMIT);
    expect(bus.stats.mmioUntracked).toBe(12);
  });

  it("an MMIO access straddling a range end is split into bytes", () => {
    const bus = new Bus(), d = new Probe();
    bus.addMmio(0x1000, 2, d, "tiny");
    expect(bus.mmioRead(0x1000, 4)).toBe(0xffff1110);
    expect(bus.stats.unclaimedMmioReads).toBe(2);
  });
});

describe("readBytewise", () => {
  it("composes little-endian", () => {
    expect(readBytewise((o) => o + 1, 0, 4)).toBe(0x04030201);
  });
});
