// elf.test.ts — the ELF reader on hand-built images, well-formed and malformed.
import { describe, it, expect } from "vitest";
import {
  parseElf, buildElf, loadElfSegments, checkElfFitsRam, elfVirtToPhys, isElf, ElfError, type GuestMemory,
} from "../host/elf.ts";

/** A GuestMemory over a plain byte array. */
class ArrayMemory implements GuestMemory {
  readonly bytes: Uint8Array;
  constructor(readonly ramSize: number) { this.bytes = new Uint8Array(ramSize); }
  writeMem(p: number, d: ArrayLike<number>) {
    if (p < 0 || p + d.length > this.ramSize) throw new RangeError("outside RAM");
    this.bytes.set(d, p);
  }
  fillMem(p: number, len: number, v = 0) {
    if (p < 0 || p + len > this.ramSize) throw new RangeError("outside RAM");
    this.bytes.fill(v, p, p + len);
  }
}

const code = [0xf4, 0xeb, 0xfd]; // hlt; jmp $-1
const tiny = () => buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: code, memsz: 0x1000 }] });
const patch32 = (b: Uint8Array, off: number, v: number) => { new DataView(b.buffer).setUint32(off, v >>> 0, true); return b; };
const patch16 = (b: Uint8Array, off: number, v: number) => { new DataView(b.buffer).setUint16(off, v, true); return b; };
const errorOf = (f: () => unknown): string => {
  try { f(); } catch (e) { expect(e).toBeInstanceOf(ElfError); return (e as Error).message; }
  throw new Error("expected an ElfError");
};

describe("parseElf", () => {
  it("reads a minimal ET_EXEC EM_386 image", () => {
    const elf = parseElf(tiny());
    expect(elf.entry).toBe(0x100000);
    expect(elf.loads).toHaveLength(1);
    expect(elf.loads[0]).toMatchObject({ paddr: 0x100000, vaddr: 0x100000, filesz: 3, memsz: 0x1000 });
  });

  it("loads segments at p_paddr and zeroes the bss tail", () => {
    const mem = new ArrayMemory(2 << 20);
    mem.bytes.fill(0xcc);
    const img = tiny();
    loadElfSegments(parseElf(img), img, mem);
    expect([...mem.bytes.subarray(0x100000, 0x100003)]).toEqual(code);
    expect(mem.bytes.subarray(0x100003, 0x101000).every((b) => b === 0)).toBe(true);
    expect(mem.bytes[0x101000]).toBe(0xcc);
  });

  it("translates a virtual entry through its segment", () => {
    const img = buildElf({ entry: 0xc0100010, segments: [{ paddr: 0x100000, vaddr: 0xc0100000, data: new Uint8Array(32) }] });
    const elf = parseElf(img);
    expect(elfVirtToPhys(elf, elf.entry)).toBe(0x100010);
    expect(elfVirtToPhys(elf, 0x1234)).toBe(0x1234);
  });

  it("skips non-LOAD headers and zero-sized loads", () => {
    const img = buildElf({ entry: 0x100000, segments: [{ paddr: 0x200000, data: [] }, { paddr: 0x100000, data: code }] });
    patch32(img, 52, 4); // first header -> PT_NOTE
    const elf = parseElf(img);
    expect(elf.segments).toHaveLength(2);
    expect(elf.loads.map((s) => s.index)).toEqual([1]);
  });

  it("parses the shared peers guest if it has been built", async () => {
    const { existsSync, readFileSync } = await import("node:fs");
    const p = new URL("../build/guests/peers/guest-1.elf", import.meta.url);
    if (!existsSync(p)) return;
    const elf = parseElf(readFileSync(p));
    expect(elf.loads.length).toBeGreaterThan(0);
    expect(elf.loads[0].paddr).toBe(0x100000);
  });

  it("rejects malformed files with one-line messages", () => {
    expect(errorOf(() => parseElf(new Uint8Array(0)))).toMatch(/not an ELF file/);
    expect(errorOf(() => parseElf(new TextEncoder().encode("#!/bin/sh\necho hi\n")))).toMatch(/not an ELF file/);
    expect(errorOf(() => parseElf(Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 1)))).toMatch(/truncated/);
    const c64 = tiny(); c64[4] = 2;
    expect(errorOf(() => parseElf(c64))).toMatch(/not a 32-bit ELF \(ELFCLASS64\)/);
    const be = tiny(); be[5] = 2;
    expect(errorOf(() => parseElf(be))).toMatch(/little-endian/);
    expect(errorOf(() => parseElf(patch16(tiny(), 0x12, 62)))).toMatch(/not an x86 ELF \(e_machine=62, x86-64/);
    expect(errorOf(() => parseElf(patch16(tiny(), 0x12, 40)))).toMatch(/not an x86 ELF.*ARM/);
    expect(errorOf(() => parseElf(patch16(tiny(), 0x10, 3)))).toMatch(/ET_DYN/);
    expect(errorOf(() => parseElf(patch16(tiny(), 0x10, 1)))).toMatch(/relocatable/);
    expect(errorOf(() => parseElf(tiny().subarray(0, 40)))).toMatch(/truncated ELF: 40 bytes/);
    expect(errorOf(() => parseElf(tiny().subarray(0, 60)))).toMatch(/truncated ELF: program header table/);
    expect(errorOf(() => parseElf(tiny().subarray(0, 86)))).toMatch(/truncated ELF: segment 0 data/);
    expect(errorOf(() => parseElf(patch16(tiny(), 0x2c, 0)))).toMatch(/no program headers/);
    expect(errorOf(() => parseElf(patch16(tiny(), 0x2c, 60000)))).toMatch(/too many program headers/);
    expect(errorOf(() => parseElf(patch16(tiny(), 0x2a, 8)))).toMatch(/e_phentsize/);
    expect(errorOf(() => parseElf(patch32(tiny(), 52, 4)))).toMatch(/no PT_LOAD/);
    expect(errorOf(() => parseElf(patch32(tiny(), 52 + 20, 1)))).toMatch(/p_filesz 0x3 > p_memsz 0x1/);
    expect(errorOf(() => parseElf(patch32(tiny(), 52 + 4, 0xffffffff)))).toMatch(/overflows 32 bits|past the end/);
    expect(errorOf(() => parseElf(patch32(tiny(), 52 + 12, 0xfffff800)))).toMatch(/physical range .* overflows 32 bits/);
    expect(errorOf(() => parseElf(patch32(tiny(), 0x1c, 0xfffffff0)))).toMatch(/program header table .* past the end/);
  });

  it("checks segments against the RAM size", () => {
    const elf = parseElf(tiny());
    expect(() => checkElfFitsRam(elf, 2 << 20)).not.toThrow();
    expect(errorOf(() => checkElfFitsRam(elf, 1 << 20))).toMatch(/segment 0 \[0x100000, 0x101000\) is outside guest RAM \(1 MiB\)/);
    expect(errorOf(() => loadElfSegments(elf, tiny(), new ArrayMemory(0x100800)))).toMatch(/outside guest RAM/);
  });

  it("isElf looks only at the magic", () => {
    expect(isElf(tiny())).toBe(true);
    expect(isElf(Uint8Array.of(0x7f, 0x45, 0x4c))).toBe(false);
  });
});
