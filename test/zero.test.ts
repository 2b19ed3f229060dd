// zero.test.ts — host/memory/zero.ts: zeroing a RAM range fills the pages something wrote and leaves the pages known
// to be zero alone (unwritten: a recycled machine's release() need not clear them again).
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { Machine } from "../host/machine.ts";
import { zeroRam } from "../host/memory/zero.ts";

const HAVE_CPU = existsSync(new URL("../build/cpu.wasm", import.meta.url));
const written = (m: Machine, page: number) => ((m.writtenPages()![page >>> 3] >> (page & 7)) & 1) === 1;

describe.skipIf(!HAVE_CPU)("zeroRam", () => {
  it("clears the written pages of the range, and marks no other page written", () => {
    const m = new Machine({ memSize: 16 << 20 });
    m.writeMem(0x100ff0, Array(32).fill(0xaa)); // straddles pages 0x100 and 0x101
    m.writeMem(0x105000, [1, 2, 3]);
    m.writeMem(0x200000, [9]); // outside the range: kept
    zeroRam(m, 0x100000, 0x8000);
    expect(m.readMem(0x100000, 0x8000).every((b) => b === 0)).toBe(true);
    expect(m.read8(0x200000)).toBe(9);
    for (const p of [0x102, 0x103, 0x104, 0x106, 0x107]) expect(written(m, p), `page ${p.toString(16)}`).toBe(false);
    expect(m.ramBacked).toBeLessThan(16 << 20); // nothing past what the writes backed
    m.release();
  });

  it("fills all of the range when the machine cannot tell (raw views handed out)", () => {
    const m = new Machine({ memSize: 4 << 20 });
    const raw = m.ramBytes();
    raw[0x3000] = 7; // behind the machine's back: not in its written pages
    zeroRam(m, 0x2000, 0x4000);
    expect(m.read8(0x3000)).toBe(0);
    m.release();
  });
});
