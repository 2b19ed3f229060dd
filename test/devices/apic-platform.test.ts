// The "mp" platform (local APIC + I/O APIC in front of the 8259s, MP tables) against the 8259-only "pc" one:
// wiring through createPcDevices, and whole PIC-only guests behaving identically on both.
import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createPcDevices, LAPIC_REG as R, MemoryBackend } from "../../host/devices/index.ts";
import { runImage } from "../../host/vm.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

function initPics(out: (p: number, v: number) => void) {
  for (const [base, vec, icw3] of [[0x20, 0x20, 0x04], [0xa0, 0x28, 0x02]]) {
    out(base, 0x11); out(base + 1, vec); out(base + 1, icw3); out(base + 1, 0x01); out(base + 1, 0x00);
  }
}

describe("createPcDevices platform mp", () => {
  it("claims the APIC windows and the 8042/RTC ports", () => {
    const d = createPcDevices({});
    expect([d.bus.mmioOwner(0xfee00000), d.bus.mmioOwner(0xfee00ff0), d.bus.mmioOwner(0xfec00000), d.bus.mmioOwner(0xfec00010)]).toEqual(["lapic", "lapic", "ioapic", "ioapic"]);
    expect([0x60, 0x64, 0x70, 0x71].map((p) => d.bus.portOwner(p))).toEqual(["i8042-data", "i8042-cmd", "rtc", "rtc"]);
    expect(d.mpConfig).toEqual({ lapicId: 0, ioapicId: 1, cpuSignature: 0x600, cpuFeatures: 0xa338 });
    const pc = createPcDevices({ platform: "pc" });
    expect(pc.lapic).toBeNull();
    expect(pc.bus.mmioOwner(0xfee00000)).toBeUndefined();
    expect(pc.mpConfig).toBeNull();
  });

  it("virtual wire: the CPU sees the 8259's vectors through LINT0 until the OS masks LINT0", () => {
    const d = createPcDevices({});
    const out = (p: number, v: number) => d.bus.ioWrite(p, 1, v);
    initPics(out);
    out(0x3fc, 0x08); out(0x3f9, 0x02); // COM1 THRE interrupt: IRQ 4
    expect(d.cpu.peek()).toBe(0x24);
    expect(d.cpu.acknowledge()).toBe(0x24);
    out(0x20, 0x20);
    d.bus.mmioWrite(0xfee00000 + R.LVT_LINT0, 4, 0x10000);
    out(0x3f9, 0); out(0x3f9, 0x02);
    expect(d.pic.peekVector()).toBe(0x24);
    expect(d.cpu.peek()).toBe(-1);
  });

  it("I/O APIC routing: IRQ 4 → pin 4, IRQ 0 (PIT) → pin 2, IRQ 14 → pin 14; EOI through the local APIC", () => {
    const d = createPcDevices({ disk2: new MemoryBackend(512 * 4) });
    const out = (p: number, v: number) => d.bus.ioWrite(p, 1, v);
    const io = (idx: number, v: number) => { d.bus.mmioWrite(0xfec00000, 4, idx); d.bus.mmioWrite(0xfec00010, 4, v); };
    out(0x21, 0xff); out(0xa1, 0xff);
    d.bus.mmioWrite(0xfee00000 + R.LVT_LINT0, 4, 0x10000);
    io(0x10 + 2 * 4, 0x34); io(0x10 + 2 * 2, 0x30); io(0x10 + 2 * 14, 0x3e);
    out(0x3fc, 0x08); out(0x3f9, 0x02);
    expect(d.cpu.acknowledge()).toBe(0x34);
    d.bus.mmioWrite(0xfee000b0, 4, 0);
    out(0x43, 0x34); out(0x40, 10); out(0x40, 0); // the control word raises OUT0
    expect(d.cpu.acknowledge()).toBe(0x30);
    d.bus.mmioWrite(0xfee000b0, 4, 0);
    out(0x1f6, 0xf0); out(0x1f2, 1); out(0x1f3, 0); out(0x1f4, 0); out(0x1f5, 0); out(0x1f7, 0x20);
    expect(d.cpu.acknowledge()).toBe(0x3e);
    expect(d.cpu.peek()).toBe(-1);
  });
});

const WORKLOADS = ["ctxsw", "disk", "fork"];
describe("PIC-only guests run identically on platforms pc and mp", () => {
  for (const w of WORKLOADS) {
    const elf = join(root, "build/guests/workloads", `${w}.elf`);
    it.skipIf(!existsSync(elf))(w, async () => {
      const image = new Uint8Array(readFileSync(elf));
      const cmdline = readFileSync(join(root, "fixtures/workloads", `${w}.args`), "utf8").trim();
      const go = (platformKind: "pc" | "mp") => runImage({
        image, mode: "native", memSize: 64 << 20, maxInstructions: 400_000_000, cmdline, platformKind,
        ...(w === "disk" ? { disk: new Uint8Array(1 << 20) } : {}),
      });
      const pc = await go("pc"), mp = await go("mp");
      expect(mp.console).toBe(pc.console);
      expect(mp.exitStatus).toBe(pc.exitStatus);
      expect(mp.stats.instructions).toBe(pc.stats.instructions);
      expect(mp.stats.virtualNs).toBe(pc.stats.virtualNs);
      expect(mp.stats.interruptsByVector).toEqual(pc.stats.interruptsByVector);
      expect(mp.stats.interruptsDelivered).toBeGreaterThan(0);
    });
  }
});

describe("COM1 receive interrupts as xv6 programs them (MCR = 0)", () => {
  it("platform mp: IRQ 4 reaches the I/O APIC without OUT2 (QEMU wiring); platform pc keeps the OUT2 gate", () => {
    const mp = createPcDevices({});
    const io = (idx: number, v: number) => { mp.bus.mmioWrite(0xfec00000, 4, idx); mp.bus.mmioWrite(0xfec00010, 4, v); };
    mp.bus.mmioWrite(0xfee00000 + R.LVT_LINT0, 4, 0x10000);
    io(0x10 + 8, 0x24);
    mp.bus.ioWrite(0x3fc, 1, 0x00); mp.bus.ioWrite(0x3f9, 1, 0x01);
    mp.uart.receive([0x6c]);
    expect(mp.cpu.acknowledge()).toBe(0x24);
    const pc = createPcDevices({ platform: "pc" });
    initPics((p, v) => pc.bus.ioWrite(p, 1, v));
    pc.bus.ioWrite(0x3fc, 1, 0x00); pc.bus.ioWrite(0x3f9, 1, 0x01);
    pc.uart.receive([0x6c]);
    expect(pc.cpu.peek()).toBe(-1);
  });
});
