// vgacrtc.test.ts — the CRTC index/data pair keeps the cursor registers a text console reads back.
import { describe, it, expect } from "vitest";
import { VgaCrtc } from "../../host/devices/vgacrtc.ts";

describe("VGA CRTC registers", () => {
  it("cursor location high/low (0x0E/0x0F) read back what was written", () => {
    const c = new VgaCrtc();
    c.pair.write(0, 1, 0x0e); c.pair.write(1, 1, 0x01);
    c.pair.write(0, 1, 0x0f); c.pair.write(1, 1, 0x40);
    expect(c.cursor).toBe(0x140);
    c.pair.write(0, 1, 0x0e); expect(c.pair.read(1, 1)).toBe(0x01);
    c.pair.write(0, 1, 0x0f); expect(c.pair.read(1, 1)).toBe(0x40);
  });
  it("a 16-bit write sets the index and the data at once", () => {
    const c = new VgaCrtc();
    c.pair.write(0, 2, 0x2a0f); // index 0x0F, data 0x2A
    expect(c.cursor & 0xff).toBe(0x2a);
    expect(c.pair.read(0, 1)).toBe(0x0f);
  });
  it("out-of-range register numbers read as 0xFF, ignore writes and are counted", () => {
    const c = new VgaCrtc();
    c.pair.write(0, 1, 0x40); c.pair.write(1, 1, 0x12);
    expect(c.pair.read(1, 1)).toBe(0xff);
    expect(c.errors.badIndex).toBe(2);
  });
  it("the misc output register reads back at 0x3CC", () => {
    const c = new VgaCrtc();
    expect(c.miscRead.read(0, 1) & 1).toBe(1); // colour addressing
    c.miscWrite.write(0, 1, 0x66);
    expect(c.miscRead.read(0, 1)).toBe(0x66);
  });
});
