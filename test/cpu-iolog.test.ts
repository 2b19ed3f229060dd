// cpu-iolog.test.ts — instructions that need many host reads (assembly/iolog.ts): every MMIO byte of an
// access split across device pages is one read exit, the instruction restarts until the host answered all of
// them, then completes with exactly those values and no device write the guest did not make.
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine } from "../host/machine.ts";
import { hwGuest, IDT } from "./hw-guest.ts";

const haveCpu = existsSync(join(dirname(fileURLToPath(import.meta.url)), "../build/cpu.wasm"));
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
/** RAM ends at 1 MiB: everything above is device memory. */
const RAM = 1 << 20;
/** The device: byte at physical address a reads as (a * 7 + 3) & 0xff. */
const devByte = (a: number) => (a * 7 + 3) & 0xff;
const devRead = (a: number, size: number) => {
  let v = 0;
  for (let i = 0; i < size; i++) v |= devByte(a + i) << (8 * i);
  return v >>> 0;
};

function flat() {
  const m = new Machine({ memSize: RAM, exitOnHlt: true });
  m.setFlatProtectedMode();
  m.esp = 0x8000;
  return m;
}
/** Run to HLT answering reads from the device; returns the reads and writes the guest made. */
function drive(m: Machine, maxExits = 500) {
  const reads: [number, number][] = [], writes: [number, number, number][] = [];
  for (let i = 0; i < maxExits; i++) {
    const e = m.run(10_000);
    if (e.reason === "hlt") return { reads, writes };
    if (e.reason === "mmio-read") { reads.push([e.port!, e.size!]); m.completeIo(devRead(e.port!, e.size!)); continue; }
    if (e.reason === "mmio-write") { writes.push([e.port!, e.size!, e.value!]); continue; }
    throw new Error(`unexpected exit ${e.reason} at 0x${e.eip.toString(16)}`);
  }
  throw new Error(`no HLT after ${maxExits} exits (restarting forever?)`);
}

describe.skipIf(!haveCpu)("instructions with many host reads", () => {
  it("cmpsd with both operands split across device pages: 8 reads, correct flags, no phantom writes", () => {
    const m = flat();
    m.writeMem(0x1000, [0xa7, 0x9c, 0x58, 0xf4]); // cmpsd ; pushfd ; pop eax ; hlt
    m.eip = 0x1000; m.esi = 0x100ffe; m.edi = 0x102ffd;
    const { reads, writes } = drive(m);
    expect(writes).toEqual([]);
    expect(reads).toEqual([0x100ffe, 0x100fff, 0x101000, 0x101001, 0x102ffd, 0x102ffe, 0x102fff, 0x103000].map((a) => [a, 1]));
    const a = devRead(0x100ffe, 4), b = devRead(0x102ffd, 4);
    const r = (a - b) >>> 0;
    expect(m.eax & 0x8c1).toBe((a < b ? 1 : 0) | (r === 0 ? 0x40 : 0) | (r & 0x80000000 ? 0x80 : 0) | ((((a ^ b) & (a ^ r)) >>> 31) ? 0x800 : 0));
    expect([m.esi, m.edi]).toEqual([0x101002, 0x103001]);
  });

  it("movsd from a split device dword to a split device dword: 4 reads, then the 4 byte writes in order", () => {
    const m = flat();
    m.writeMem(0x1000, [0xa5, 0xf4]); // movsd ; hlt
    m.eip = 0x1000; m.esi = 0x100ffe; m.edi = 0x102ffd;
    const { reads, writes } = drive(m);
    expect(reads.length).toBe(4);
    const v = devRead(0x100ffe, 4);
    expect(writes).toEqual([0, 1, 2, 3].map((i) => [0x102ffd + i, 1, (v >>> (8 * i)) & 0xff]));
  });

  it("popad with the stack split across device pages: 10 reads, every register loaded", () => {
    const m = flat();
    m.writeMem(0x1000, [0x61, 0xf4]); // popad ; hlt
    m.eip = 0x1000; m.esp = 0x100ff6;  // the third dword (EBP: EDI ESI EBP ESP ...) straddles 0x101000
    const { reads, writes } = drive(m);
    expect(writes).toEqual([]);
    expect(reads.length).toBe(6 + 4); // (the ESP slot is skipped)
    const at = (i: number) => devRead(0x100ff6 + 4 * i, 4);
    expect([m.edi, m.esi, m.ebp, m.ebx, m.edx, m.ecx, m.eax]).toEqual([at(0), at(1), at(2), at(4), at(5), at(6), at(7)]);
    expect(m.esp).toBe(0x101016);
  });

  it("rep lodsd / rep movsd from device memory read every element (more than the log holds at once)", () => {
    const m = flat();
    m.writeMem(0x1000, [0xf3, 0xa5, 0xf4]); // rep movsd ; hlt
    m.eip = 0x1000; m.esi = 0x100000; m.edi = 0x20000; m.ecx = 100;
    const { reads, writes } = drive(m);
    expect(writes).toEqual([]);
    expect(reads.length).toBe(100);
    for (let i = 0; i < 100; i++) expect(m.read32(0x20000 + 4 * i), `element ${i}`).toBe(devRead(0x100000 + 4 * i, 4));
  });

  it("repe cmpsd over two device ranges with split elements compares every pair", () => {
    const m = flat();
    m.writeMem(0x1000, [0xf3, 0xa7, 0xf4]); // repe cmpsd ; hlt
    // devByte repeats every 256 bytes: ranges 0x10000 apart read the same, and split at the same element
    m.eip = 0x1000; m.esi = 0x100ff2; m.edi = 0x110ff2; m.ecx = 12;
    const { reads, writes } = drive(m);
    expect(writes).toEqual([]);
    expect(m.ecx).toBe(0);                       // all 12 pairs equal
    expect(m.eflags & 0x40).toBe(0x40);
    expect(reads.length).toBe(11 * 2 + 8);       // one pair split on both sides: 4 + 4 byte reads
  });
});

describe.skipIf(!haveCpu)("an instruction that writes device memory between two host reads", () => {
  // fuzz-modes seed 7 hw program 12 (ENTER level 25 with EBP and ESP in device memory): the push before the second
  // read was queued, left as a device write before the restart, and overwrote the read's answer: restarted forever
  it("enter 0,3 with the stack and the frame in device memory: 2 reads, then the 4 pushes once, in order", () => {
    const m = flat();
    m.writeMem(0x1000, [0xc8, 0x00, 0x00, 0x03, 0xf4]); // enter 0,3 ; hlt
    m.eip = 0x1000; m.esp = 0x100ff0; m.ebp = 0x100ff8;
    const { reads, writes } = drive(m);
    expect(reads).toEqual([[0x100ff4, 4], [0x100ff0, 4]]);
    expect(writes).toEqual([[0x100fec, 4, 0x100ff8], [0x100fe8, 4, devRead(0x100ff4, 4)], [0x100fe4, 4, devRead(0x100ff0, 4)], [0x100fe0, 4, 0x100fec]]);
    expect([m.ebp >>> 0, m.esp >>> 0, m.instructions]).toEqual([0x100fec, 0x100fe0, 2]);
  });
});

/**
 * A fault loop whose every round exits for a device read (fuzz-modes seed 7 hw program 28): RETF pops EIP and CS
 * from device memory (ESP near 4 GiB), the CS the device answers is no valid selector, #GP's handler is that RETF,
 * and each round's delivery pushes 16 bytes lower. Every run() call ends at the next round's first read, so the
 * CPU's count of deliveries that retire nothing must carry over calls, or the loop never ends (run(N) never
 * returns "budget" and the host's instruction limit is never reached).
 */
function retfFaultLoop(m: Machine, gate: (vec: number, off: number) => void, setCode: (a: number, b: number[]) => void) {
  setCode(0x1000, [0xcb]); // retf
  gate(13, 0x1000);        // #GP -> the retf
  m.eip = 0x1000; m.esp = 0xfffffff0;
  let reads = 0;
  for (let exits = 0; exits < 20_000; exits++) {
    const e = m.run(1000);
    if (e.reason === "mmio-read") { reads++; m.completeIo(devRead(e.port!, e.size!)); continue; }
    if (e.reason === "mmio-write") continue;
    return { reason: e.reason, reads, exits, instructions: m.instructions, esp: m.esp >>> 0 };
  }
  return { reason: "none", reads, exits: 20_000, instructions: m.instructions, esp: m.esp >>> 0 };
}

describe.skipIf(!haveCpu)("a fault loop that exits for a device read every round", () => {
  const check = (r: ReturnType<typeof retfFaultLoop>) => {
    expect(r.reason).toBe("budget");       // the CPU bounded it: 1000 deliveries for run(1000)
    expect(r.instructions).toBe(0);        // no RETF ever retired
    expect(r.reads).toBe(2000);            // 1000 rounds, EIP and CS each
    expect(r.esp).toBe((0xfffffff0 - 1000 * 16) >>> 0); // 1000 deliveries pushed, the next round not begun
  };
  it("native: run(1000) returns budget after 1000 deliveries", () => {
    const m = new Machine({ memSize: RAM, exitOnHlt: true });
    m.setFlatProtectedMode();
    m.writeMem(0x2000, [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0]);
    m.setGdtr(0x2000, 23);
    m.setIdtr(0x3000, 256 * 8 - 1);
    check(retfFaultLoop(m, (vec, off) => { m.write32(0x3000 + vec * 8, (0x08 << 16) | off); m.write32(0x3000 + vec * 8 + 4, 0x8e00); }, (a, b) => m.writeMem(a, b)));
  });
  it("hw guest mode: the same (device reads are no VM exits)", () => {
    const g = hwGuest([0xcb], { mmio: true }); // PROC2_EPT_MMIO, as HwMode: device pages are device exits
    check(retfFaultLoop(g.m, (vec, off) => { g.gs32(IDT + vec * 8, (0x08 << 16) | off); g.gs32(IDT + vec * 8 + 4, 0x8e00); }, (a, b) => g.gw(a, b)));
  });
});
