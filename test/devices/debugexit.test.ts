import { describe, expect, it } from "vitest";
import { Bus } from "../../host/bus.ts";
import { DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, DebugExit } from "../../host/devices/debugexit.ts";

function make() {
  const exits: number[] = [];
  const dev = new DebugExit((s) => exits.push(s));
  const bus = new Bus();
  bus.addPorts(DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, dev, "debug-exit");
  return { dev, bus, exits };
}

describe("isa-debug-exit", () => {
  it("a write of v requests exit with status (v << 1) | 1", () => {
    const { bus, exits, dev } = make();
    bus.ioWrite(0xf4, 1, 0);
    bus.ioWrite(0xf4, 1, 0x10);
    expect(exits).toEqual([1, 0x21]);
    expect(dev.lastStatus).toBe(0x21);
  });

  it("16- and 32-bit writes use the whole value, kept unsigned", () => {
    const { bus, exits } = make();
    bus.ioWrite(0xf4, 2, 0x1234);
    bus.ioWrite(0xf4, 4, 0x80000000);
    expect(exits).toEqual([0x2469, 1]); // bit 31 shifts out, as in QEMU's 32-bit computation
    bus.ioWrite(0xf4, 4, 0x7fffffff);
    expect(exits[2]).toBe(0xffffffff);
  });

  it("reads return 0", () => {
    const { bus } = make();
    expect(bus.ioRead(0xf4, 1)).toBe(0);
    expect(bus.ioRead(0xf4, 4)).toBe(0);
  });
});
