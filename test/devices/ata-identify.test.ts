// ata-identify.test.ts — the IDENTIFY DEVICE block as a pure function (ATA-6 §8.15): word layout, strings,
// capacities at the LBA28/CHS limits, the integrity word.
import { describe, it, expect } from "vitest";
import { defaultGeometry, identifyBlock, type IdentifyArgs } from "../../host/devices/ata-identify.ts";

const args = (sectors: number, over: Partial<IdentifyArgs> = {}): IdentifyArgs => {
  const geom = defaultGeometry(sectors);
  return { sectors, geom, curHeads: geom.heads, curSpt: geom.sectorsPerTrack, writeCache: true, dev: 0, otherPresent: false,
    serial: "SER", firmware: "FW", model: "MODEL X", ...over };
};
const word = (b: Uint8Array, i: number) => b[2 * i] | (b[2 * i + 1] << 8);
const str = (b: Uint8Array, first: number, count: number) => {
  let s = ""; for (let i = 0; i < count; i++) { const w = word(b, first + i); s += String.fromCharCode(w >> 8, w & 0xff); } return s;
};

describe("IDENTIFY DEVICE block", () => {
  it("strings are big-endian within each word and space padded", () => {
    const b = identifyBlock(new Uint8Array(512), args(2048));
    expect(str(b, 27, 20)).toBe("MODEL X".padEnd(40, " "));
    expect(str(b, 10, 10)).toBe("SER".padEnd(20, " "));
    expect(str(b, 23, 4)).toBe("FW".padEnd(8, " "));
  });

  it("capacity words: LBA28 saturates at 0x0FFFFFFF, LBA48 carries the whole size, CHS caps at 16383 cylinders", () => {
    const n = 0x1_2345_6789; // > LBA28
    const b = identifyBlock(new Uint8Array(512), args(n));
    expect(word(b, 60) | (word(b, 61) << 16)).toBe(0x0fffffff);
    expect(word(b, 100) + word(b, 101) * 0x10000 + word(b, 102) * 0x100000000).toBe(n);
    expect(word(b, 1)).toBe(16383);
    expect(word(b, 54) * word(b, 55) * word(b, 56)).toBe(word(b, 57) | (word(b, 58) << 16));
  });

  it("word 85 follows the write cache, word 93 the device and the other device's presence", () => {
    expect(word(identifyBlock(new Uint8Array(512), args(64, { writeCache: false })), 85) & 0x20).toBe(0);
    expect(word(identifyBlock(new Uint8Array(512), args(64)), 85) & 0x20).toBe(0x20);
    expect(word(identifyBlock(new Uint8Array(512), args(64, { otherPresent: true })), 93)).toBe(0x403b);
    expect(word(identifyBlock(new Uint8Array(512), args(64, { dev: 1 })), 93)).toBe(0x4b00);
  });

  it("integrity word: signature A5h and a byte sum of 0 mod 256", () => {
    for (const n of [1, 2048, 123457, 0x1_0000_0000]) {
      const b = identifyBlock(new Uint8Array(512), args(n));
      expect(b[510]).toBe(0xa5);
      expect(b.reduce((s, x) => s + x, 0) & 0xff).toBe(0);
    }
  });
});
