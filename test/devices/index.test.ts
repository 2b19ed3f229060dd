import { describe, expect, it } from "vitest";
import { createPcDevices, MemoryBackend } from "../../host/devices/index.ts";

/** Program both PICs as a PC OS does (vectors 0x20/0x28) and unmask everything. */
function initPics(io: { out: (p: number, v: number) => void }) {
  for (const [base, vec, icw3] of [[0x20, 0x20, 0x04], [0xa0, 0x28, 0x02]]) {
    io.out(base, 0x11); io.out(base + 1, vec); io.out(base + 1, icw3); io.out(base + 1, 0x01); io.out(base + 1, 0x00);
  }
}

function make(withDisk = true) {
  const intr: boolean[] = [];
  const serial: number[] = [];
  const exits: number[] = [];
  const d = createPcDevices({
    intr: (l) => intr.push(l),
    onSerialTransmit: (b) => serial.push(b),
    onDebugExit: (s) => exits.push(s),
    disk: withDisk ? new MemoryBackend(512 * 16) : undefined,
  });
  const out = (p: number, v: number) => d.bus.ioWrite(p, 1, v);
  const inb = (p: number) => d.bus.ioRead(p, 1);
  initPics({ out });
  return { d, intr, serial, exits, out, inb };
}

describe("createPcDevices", () => {
  it("registers the standard ports", () => {
    const { d } = make();
    const owners = [0x20, 0x21, 0xa0, 0xa1, 0x40, 0x43, 0x61, 0x3f8, 0x3ff, 0x1f0, 0x1f7, 0x3f6, 0x80, 0xe9, 0xf4, 0xf7].map((p) => d.bus.portOwner(p));
    expect(owners).toEqual(["pic-master", "pic-master", "pic-slave", "pic-slave", "pit", "pit", "port61", "com1", "com1",
      "ata0", "ata0", "ata0-ctl", "post", "debugcon", "debug-exit", "debug-exit"]);
  });

  it("without a disk the ATA ports float (0xff)", () => {
    const { d, inb } = make(false);
    expect(d.ata).toBeNull();
    expect(inb(0x1f7)).toBe(0xff);
  });

  it("PIT counter 0 → IRQ0 → INTR, vector 0x20", () => {
    const { d, intr, out } = make();
    out(0x43, 0x34); out(0x40, 100); out(0x40, 0);
    // the control word raised OUT0 (power-on low): IRQ0 requested at once
    expect(d.pic.acknowledge()).toBe(0x20);
    out(0x20, 0x20);
    expect(d.pic.hasInterrupt()).toBe(false);
    d.pit.advance(d.pit.nextEventTicks()); // load pulse
    d.pit.advance(d.pit.nextEventTicks()); // OUT low
    expect(d.pic.hasInterrupt()).toBe(false);
    d.pit.advance(d.pit.nextEventTicks()); // OUT high: new edge
    expect(d.pit.now).toBe(101);
    expect(d.pic.hasInterrupt()).toBe(true);
    expect(d.pic.acknowledge()).toBe(0x20);
    expect(intr.at(-1)).toBe(false);
  });

  it("COM1 → IRQ4 (vector 0x24) and console output", () => {
    const { d, serial, out, inb } = make();
    out(0x3f8, 0x68);
    expect(serial).toEqual([0x68]);
    out(0x3fc, 0x08); out(0x3f9, 0x01);
    d.uart.receive([0x0d]);
    expect(d.pic.hasInterrupt()).toBe(true);
    expect(d.pic.acknowledge()).toBe(0x24);
    expect(inb(0x3f8)).toBe(0x0d);
  });

  it("ATA → IRQ14 through the slave PIC (vector 0x2e)", () => {
    const { d, out } = make();
    out(0x1f6, 0xe0); out(0x1f2, 1); out(0x1f3, 0); out(0x1f4, 0); out(0x1f5, 0); out(0x1f7, 0x20);
    expect(d.pic.hasInterrupt()).toBe(true);
    expect(d.pic.acknowledge()).toBe(0x2e);
  });

  it("debug exit and debugcon are wired", () => {
    const { exits, out, inb } = make();
    expect(inb(0xe9)).toBe(0xe9);
    out(0xf4, 3);
    expect(exits).toEqual([7]);
  });

  it("guest errors from any device go to the shared log", () => {
    const lines: string[] = [];
    const d = createPcDevices({ log: (m) => lines.push(m) });
    d.bus.ioWrite(0x20, 1, 0x20); // EOI with nothing in service
    d.bus.ioRead(0x300, 1); // unclaimed
    expect(lines).toEqual(["pic8259: master: non-specific EOI with ISR empty", "bus: unclaimed in 0x0300 size 1"]);
  });
});
