import { describe, expect, it } from "vitest";
import { Bus } from "../../host/bus.ts";
import { DEBUGCON_PORT, DebugCon } from "../../host/devices/debugcon.ts";

describe("debugcon (port 0xe9)", () => {
  it("each byte written goes to the callback", () => {
    const out: number[] = [];
    const dev = new DebugCon((b) => out.push(b));
    const bus = new Bus();
    bus.addPorts(DEBUGCON_PORT, 1, dev, "debugcon");
    for (const c of "ok\n") bus.ioWrite(0xe9, 1, c.charCodeAt(0));
    expect(String.fromCharCode(...out)).toBe("ok\n");
    expect(dev.bytesWritten).toBe(3);
  });

  it("reads return 0xe9 (detection value)", () => {
    const bus = new Bus();
    bus.addPorts(DEBUGCON_PORT, 1, new DebugCon(), "debugcon");
    expect(bus.ioRead(0xe9, 1)).toBe(0xe9);
  });

  it("a wide write crossing the 1-port range sends the low byte only", () => {
    const out: number[] = [];
    const bus = new Bus();
    bus.addPorts(DEBUGCON_PORT, 1, new DebugCon((b) => out.push(b)), "debugcon");
    bus.ioWrite(0xe9, 2, 0x4241);
    expect(out).toEqual([0x41]);
    expect(bus.stats.unclaimedWrites).toBe(1); // the high byte went to port 0xea
  });
});
