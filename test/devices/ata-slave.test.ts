// ATA device 1 (primary slave) and the secondary channel: xv6-style use (fs.img on the slave).
import { describe, expect, it } from "vitest";
import { Bus } from "../../host/bus.ts";
import { AtaChannel } from "../../host/devices/ata.ts";
import { MemoryBackend } from "../../host/devices/block.ts";
import { createPcDevices } from "../../host/devices/index.ts";

const DATA = 0x1f0, ERROR = 0x1f1, COUNT = 0x1f2, LBA0 = 0x1f3, LBA1 = 0x1f4, LBA2 = 0x1f5, DEVICE = 0x1f6, STATUS = 0x1f7, ALT = 0x3f6;

function disk(sectors: number, tag: number): MemoryBackend {
  const d = new Uint8Array(sectors * 512);
  for (let s = 0; s < sectors; s++) for (let i = 0; i < 512; i++) d[s * 512 + i] = (tag + s * 3 + i) & 0xff;
  return new MemoryBackend(d);
}

function make(master: MemoryBackend | null, slave: MemoryBackend | null) {
  const bus = new Bus();
  const levels: boolean[] = [];
  const ata = new AtaChannel(master, { slave, irq: (l) => levels.push(l) });
  bus.addPorts(0x1f0, 8, ata.command, "ata");
  bus.addPorts(0x3f6, 1, ata.control, "ata-ctl");
  const inb = (p: number) => bus.ioRead(p, 1);
  const outb = (p: number, v: number) => bus.ioWrite(p, 1, v);
  const readBlock = () => { const b = new Uint8Array(512); for (let i = 0; i < 256; i++) { const w = bus.ioRead(DATA, 2); b[2 * i] = w & 0xff; b[2 * i + 1] = w >> 8; } return b; };
  const read = (dev: 0 | 1, lba: number) => {
    outb(DEVICE, 0xe0 | (dev << 4) | ((lba >>> 24) & 0xf));
    outb(COUNT, 1); outb(LBA0, lba & 0xff); outb(LBA1, (lba >> 8) & 0xff); outb(LBA2, (lba >> 16) & 0xff);
    outb(STATUS, 0x20);
  };
  return { ata, bus, inb, outb, readBlock, read, levels };
}

describe("ATA primary slave (device 1)", () => {
  it("xv6's probe: status non-zero with DEV=1 when a slave exists, 00h when not", () => {
    const withSlave = make(disk(8, 0), disk(8, 100));
    withSlave.outb(DEVICE, 0xe0 | 0x10);
    expect(withSlave.inb(STATUS)).toBe(0x50);
    const noSlave = make(disk(8, 0), null);
    noSlave.outb(DEVICE, 0xe0 | 0x10);
    expect(noSlave.inb(STATUS)).toBe(0x00);
  });

  it("reads go to the selected device's disk; each device keeps its own status and interrupt", () => {
    const t = make(disk(8, 0), disk(8, 100));
    t.read(1, 2);
    expect(t.ata.irqAsserted).toBe(true);
    expect(t.inb(ALT)).toBe(0x58);
    expect(t.readBlock()).toEqual(disk(8, 100).data.slice(2 * 512, 3 * 512));
    // selecting device 0: its INTRQ is not pending, so the line drops; its status is idle
    t.outb(DEVICE, 0xe0);
    expect(t.ata.irqAsserted).toBe(false);
    t.outb(DEVICE, 0xf0);
    expect(t.ata.irqAsserted).toBe(true);
    expect(t.inb(STATUS)).toBe(0x50); // acknowledges device 1's interrupt
    expect(t.ata.irqAsserted).toBe(false);
    t.read(0, 2);
    expect(t.readBlock()).toEqual(disk(8, 0).data.slice(2 * 512, 3 * 512));
  });

  it("writes land on the slave's disk only", () => {
    const m = disk(8, 0), s = disk(8, 100);
    const t = make(m, s);
    t.outb(DEVICE, 0xf0); t.outb(COUNT, 1); t.outb(LBA0, 5); t.outb(LBA1, 0); t.outb(LBA2, 0); t.outb(STATUS, 0x30);
    for (let i = 0; i < 256; i++) t.bus.ioWrite(DATA, 2, 0xbeef);
    expect(t.inb(STATUS)).toBe(0x50);
    expect(s.data[5 * 512]).toBe(0xef);
    expect(m.data[5 * 512]).toBe(disk(8, 0).data[5 * 512]);
  });

  it("IDENTIFY on device 1: its own capacity, word 93 reports device 1", () => {
    const t = make(disk(8, 0), disk(20, 100));
    t.outb(DEVICE, 0xb0);
    t.outb(STATUS, 0xec);
    const id = new DataView(t.readBlock().buffer);
    expect(id.getUint16(120, true)).toBe(20);
    expect(id.getUint16(93 * 2, true)).toBe(0x4b00);
    expect(t.ata.identify(0)[93 * 2 + 0] & 0x30).toBe(0x30); // device 0 saw device 1 (PDIAG-/DASP-)
  });

  it("slave only: device 0 reads 50h (so DRDY polling works) and aborts commands; device 1 works", () => {
    const t = make(null, disk(8, 100));
    expect(t.inb(STATUS)).toBe(0x50);
    t.read(0, 0);
    expect(t.inb(STATUS)).toBe(0x51);
    expect(t.inb(ERROR)).toBe(0x04);
    expect(t.ata.errors.get("absent-master")).toBe(1);
    t.read(1, 1);
    expect(t.readBlock()).toEqual(disk(8, 100).data.slice(512, 1024));
  });

  it("software reset and EXECUTE DEVICE DIAGNOSTIC reset both devices", () => {
    const t = make(disk(8, 0), disk(8, 100));
    t.read(1, 0);
    t.outb(ALT, 0x04);
    expect(t.inb(ALT)).toBe(0x80);
    t.outb(ALT, 0x00);
    t.outb(DEVICE, 0xb0);
    expect([t.inb(STATUS), t.inb(ERROR)]).toEqual([0x50, 0x01]);
    t.outb(STATUS, 0x90);
    expect(t.inb(DEVICE) & 0x10).toBe(0); // device 0 selected after diagnostics
    expect(t.inb(ERROR)).toBe(0x01);
  });

  it("a channel needs a disk", () => {
    expect(() => new AtaChannel(null, {})).toThrow(RangeError);
  });
});

describe("createPcDevices: slave and secondary channel wiring", () => {
  it("disk2 alone claims the primary ports; the secondary channel sits at 0x170/0x376 on IRQ 15", () => {
    const d = createPcDevices({ disk2: disk(8, 1), secondary: { slave: disk(8, 2) }, platform: "pc" });
    expect([d.bus.portOwner(0x1f0), d.bus.portOwner(0x3f6), d.bus.portOwner(0x170), d.bus.portOwner(0x376)]).toEqual(["ata0", "ata0-ctl", "ata1", "ata1-ctl"]);
    for (const [base, vec, icw3] of [[0x20, 0x20, 0x04], [0xa0, 0x28, 0x02]]) {
      d.bus.ioWrite(base, 1, 0x11); d.bus.ioWrite(base + 1, 1, vec); d.bus.ioWrite(base + 1, 1, icw3); d.bus.ioWrite(base + 1, 1, 1); d.bus.ioWrite(base + 1, 1, 0);
    }
    d.bus.ioWrite(0x176, 1, 0xf0); d.bus.ioWrite(0x172, 1, 1); d.bus.ioWrite(0x173, 1, 0); d.bus.ioWrite(0x174, 1, 0); d.bus.ioWrite(0x175, 1, 0);
    d.bus.ioWrite(0x177, 1, 0x20);
    expect(d.pic.acknowledge()).toBe(0x2f);
    d.bus.ioWrite(0xa0, 1, 0x20); d.bus.ioWrite(0x20, 1, 0x20); // EOI slave, master
    d.bus.ioWrite(0x1f6, 1, 0xf0); d.bus.ioWrite(0x1f7, 1, 0x20);
    expect(d.pic.acknowledge()).toBe(0x2e);
  });
});
