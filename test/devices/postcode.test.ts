import { describe, expect, it } from "vitest";
import { PostCodePort } from "../../host/devices/postcode.ts";

describe("POST code port 0x80", () => {
  it("latches the last code, reports it, reads 0xff", () => {
    const codes: number[] = [];
    const p = new PostCodePort((c) => codes.push(c));
    p.write(0, 1, 0x55);
    p.write(0, 1, 0xaa);
    expect(p.lastCode).toBe(0xaa);
    expect(codes).toEqual([0x55, 0xaa]);
    expect(p.writes).toBe(2);
    expect(p.read(0, 1)).toBe(0xff);
  });
});
