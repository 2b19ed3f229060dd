// full-patcher.test.ts — host/full/patcher.ts: the sweep (lengths from the CPU's own decoder, Machine.decode),
// the sensitive-instruction classification and the side table.
import { describe, it, expect } from "vitest";
import { Machine } from "../host/machine.ts";
import { Patcher, sensitiveKind, type InsnDecoder } from "../host/full/patcher.ts";

const machine = new Machine({ memSize: 4096 });
const dec: InsnDecoder = (b, a) => machine.decode(b, a);
const decodeBytes = (b: number[]) => dec(b, 0);

describe("decoder", () => {
  it.each([
    [[0x90], 1], [[0x8b, 0x44, 0x24, 0x08], 4], [[0xc7, 0x05, 1, 2, 3, 4, 5, 6, 7, 8], 10], [[0x66, 0xb8, 1, 2], 4],
    [[0x0f, 0x01, 0x15, 0, 0, 0, 0], 7], [[0xea, 1, 2, 3, 4, 8, 0], 7], [[0xf6, 0x05, 1, 2, 3, 4, 9], 7],
    [[0x0f, 0x84, 1, 2, 3, 4], 6], [[0x67, 0x8b, 0x46, 0x02], 4], [[0xc8, 1, 2, 3], 4],
  ])("%j is %i bytes", (bytes, len) => {
    expect(decodeBytes(bytes as number[]).len).toBe(len);
  });
  it("classifies the sensitive-but-unprivileged instructions", () => {
    const k = (b: number[]) => sensitiveKind(decodeBytes(b));
    expect(k([0x9c])).toBe("pushf");
    expect(k([0x9d])).toBe("popf");
    expect(k([0xcf])).toBe("iret");
    expect(k([0x0f, 0x01, 0x05, 0, 0, 0, 0])).toBe("sgdt");
    expect(k([0x0f, 0x01, 0xe0])).toBe("smsw");
    expect(k([0x0f, 0x00, 0xc8])).toBe("str");
    expect(k([0x8c, 0xc8])).toBe("mov-from-cs-ss");
    expect(k([0x8c, 0xd8])).toBe(null); // mov eax, ds is harmless
    expect(k([0x0f, 0x02, 0xc1])).toBe("lar");
    expect(k([0xfa])).toBe(null); // cli traps by itself
  });
});

describe("patcher", () => {
  const mem = () => {
    const b = new Uint8Array(0x3000);
    return { b, m: { read8: (a: number) => b[a], write8: (a: number, v: number) => { b[a] = v; } } };
  };
  it("replaces sensitive instructions by int3 with the original in a side table", () => {
    const { b, m } = mem();
    b.set([0x55, 0x9c, 0x58, 0x9d, 0xcf], 0x1000);
    const p = new Patcher(m, true, dec);
    p.addRegion(0x1000, 0x1005, [0x1000]);
    expect([...b.subarray(0x1000, 0x1005)]).toEqual([0x55, 0xcc, 0x58, 0xcc, 0xcc]);
    expect(p.origByte(0x1001)).toBe(0x9c);
    expect(p.patches.get(0x1004)?.kind).toBe("iret");
  });
  it("with the hole open, only privilege-dependent control transfers are patched", () => {
    const { b, m } = mem();
    b.set([0x9c, 0x9d, 0xcf], 0x1000);
    new Patcher(m, false, dec).addRegion(0x1000, 0x1003, [0x1000]);
    expect([...b.subarray(0x1000, 0x1003)]).toEqual([0x9c, 0x9d, 0xcc]);
  });
  it("re-translates after a self-modifying write", () => {
    const { b, m } = mem();
    b.set([0x90, 0x90, 0x90], 0x1000);
    const p = new Patcher(m, true, dec);
    p.addRegion(0x1000, 0x1003, [0x1000]);
    const before = b.slice(0x1000, 0x2000);
    b[0x1001] = 0x9d; // the guest writes a popf
    p.onWrite(1, before);
    expect(b[0x1001]).toBe(0xcc);
    expect(p.origByte(0x1001)).toBe(0x9d);
  });
  it("does not sweep the bytes before the first symbol (a multiboot header)", () => {
    const { b, m } = mem();
    b.set([0x9c, 0x9c, 0x90, 0x9d], 0x1000);
    new Patcher(m, true, dec).addRegion(0x1000, 0x1004, [0x1002]);
    expect([...b.subarray(0x1000, 0x1004)]).toEqual([0x9c, 0x9c, 0x90, 0xcc]);
  });
});
