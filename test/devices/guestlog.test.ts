import { describe, expect, it } from "vitest";
import { GuestErrors } from "../../host/devices/guestlog.ts";

describe("GuestErrors", () => {
  it("counts every report and logs the first 8, then powers of two", () => {
    const lines: string[] = [];
    const e = new GuestErrors("dev", (m) => lines.push(m));
    for (let i = 0; i < 100; i++) e.report("kind", "bad");
    e.report("other", "worse");
    expect(e.get("kind")).toBe(100);
    expect(e.get("other")).toBe(1);
    expect(e.total).toBe(101);
    expect(lines.length).toBe(8 + 3 + 1); // 1..8, 16, 32, 64, and "other"
    expect(lines[0]).toBe("dev: bad");
    expect(lines[8]).toBe("dev: bad (16 times)");
  });
});
