// launch.test.ts — the machine pool (Machine.release, assembly/recycle.ts) and the lazily cleared CPU tables: a
// machine built from a recycled memory and instance must be indistinguishable from a fresh one, byte for byte,
// whatever the guest before it did (paging, A/D bits, REP STOS, compiled blocks, the FPU, host writes). Speed is
// measured by scripts/bench/launch.mjs, not here.
import { describe, it, expect, beforeEach } from "vitest";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine, drainMachinePool, type MachineOptions } from "../host/machine.ts";
import * as A from "../host/abi.generated.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const haveCpu = existsSync(join(root, "build/cpu.wasm"));
const OPTS: MachineOptions = { memSize: 8 << 20, jitThreshold: 2, exitOnHlt: true };

// guest A, paging on (two 4 MiB pages, identity): fills 1 MiB, a hot loop (compiled) adds into memory, the FPU
// stores, a push, then hlt
const GUEST_A = [
  0xbf, 0x00, 0x00, 0x10, 0x00, //       mov edi, 0x100000
  0xb9, 0x00, 0x00, 0x04, 0x00, //       mov ecx, 0x40000
  0xb8, 0xef, 0xbe, 0xad, 0xde, //       mov eax, 0xdeadbeef
  0xf3, 0xab, //                         rep stosd
  0xb9, 0xe8, 0x03, 0x00, 0x00, //       mov ecx, 1000
  0x01, 0x0d, 0x00, 0x00, 0x30, 0x00, // L: add [0x300000], ecx
  0x49, //                               dec ecx
  0x75, 0xf7, //                         jnz L
  0xdb, 0xe3, //                         fninit
  0xd9, 0xe8, //                         fld1
  0xd9, 0x1d, 0x00, 0x10, 0x30, 0x00, // fstp dword [0x301000]
  0xd9, 0xe8, //                         fld1 (left on the FPU stack)
  0x6a, 0x2a, //                         push 0x2a
  0xf4, //                               hlt
];
// guest B, paging off: ORs every dword of 0x100000..0x400000 and the stack word into EAX, stores the FPU
// status word, then hlt
const GUEST_B = [
  0x31, 0xc0, //                         xor eax, eax
  0xbe, 0x00, 0x00, 0x10, 0x00, //       mov esi, 0x100000
  0xb9, 0x00, 0x00, 0x0c, 0x00, //       mov ecx, 0xc0000
  0x0b, 0x06, //                         L: or eax, [esi]
  0x83, 0xc6, 0x04, //                   add esi, 4
  0xe2, 0xf9, //                         loop L
  0x0b, 0x05, 0xfc, 0x6f, 0x00, 0x00, // or eax, [0x6ffc]
  0xdd, 0x3d, 0x00, 0x00, 0x50, 0x00, // fnstsw [0x500000]
  0xf4, //                               hlt
];

function runA(m: Machine): void {
  m.setFlatProtectedMode();
  m.write32(0x80000, 0x00000087); // PDE 0: 4 MiB page at 0, P W U PS
  m.write32(0x80004, 0x00400087); // PDE 1: 4 MiB page at 4 MiB
  m.writeMem(0x1000, GUEST_A);
  m.writeMem(0x6000, [1, 2, 3, 4]); // a host write
  m.setCr("cr4", A.CR4_PSE);
  m.setCr("cr3", 0x80000);
  m.setCr("cr0", (m.getCr("cr0") | A.CR0_PG) >>> 0);
  m.esp = 0x7000;
  m.eip = 0x1000;
  expect(m.run(100_000).reason).toBe("hlt");
  expect(m.read32(0x1ffffc)).toBe(0xdeadbeef);
  expect(m.read32(0x300000)).toBe(500500);
  expect(m.read32(0x301000)).toBe(0x3f800000);
  expect(m.read32(0x6ffc)).toBe(0x2a);
  expect(m.read32(0x80000) & A.PTE_A).toBe(A.PTE_A);
  expect(m.jitStats.compiled).toBeGreaterThan(0);
}
function runB(m: Machine): number {
  m.setFlatProtectedMode();
  m.writeMem(0x1000, GUEST_B);
  m.esp = 0x7000;
  m.eip = 0x1000;
  expect(m.run(10_000_000).reason).toBe("hlt");
  return m.eax;
}
/** the whole wasm memory (state, module data, TLB, page info, block hash and arena, dirty bitmap, RAM) */
const image = (m: Machine) => new Uint8Array(m.memory.buffer).slice();
function firstDifference(a: Uint8Array, b: Uint8Array): string {
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `0x${i.toString(16)}: ${a[i]} vs ${b[i]}`;
  return "none";
}

describe.skipIf(!haveCpu)("machine pool", () => {
  beforeEach(() => { drainMachinePool(); });

  it("a recycled machine is byte for byte a fresh one, when created and after running a guest", () => {
    const a = new Machine(OPTS);
    runA(a);
    a.release();
    const used = a.memory;
    const r = new Machine(OPTS);
    expect(r.memory).toBe(used); // it did come from the pool
    const recycledAtStart = image(r);
    drainMachinePool();
    const f = new Machine(OPTS);
    expect(f.memory).not.toBe(used);
    expect(firstDifference(recycledAtStart, image(f))).toBe("none");
    // guest B sees zeroed RAM on both, and both end in identical memory (caches and compiled-block slots included)
    expect(runB(r)).toBe(0);
    expect(runB(f)).toBe(0);
    expect(r.jitStats).toEqual(f.jitStats);
    expect(r.instructions).toBe(f.instructions);
    expect(firstDifference(image(r), image(f))).toBe("none");
  });

  it("RAM the host wrote through a raw view is zeroed too", () => {
    const a = new Machine(OPTS);
    const ram = a.ramBytes();
    ram[0x5ff000] = 7; // behind the CPU's back (no notifyHostWrite)
    ram[ram.length - 1] = 9;
    a.release();
    expect(ram.length).toBe(0); // the old view is detached
    const r = new Machine(OPTS);
    expect(r.read8(0x5ff000)).toBe(0);
    expect(r.read8(OPTS.memSize! - 1)).toBe(0);
  });

  it("a machine whose Memory object was handed out is not reused, and a released machine cannot be used", () => {
    const a = new Machine(OPTS);
    const mem = a.memory;
    a.release();
    expect(a.released).toBe(true);
    expect(new Machine(OPTS).memory).not.toBe(mem);
    expect(() => a.run(1)).toThrow(/released/);
    expect(() => a.read32(0)).toThrow(/released/);
    expect(() => a.writeMem(0, [1])).toThrow(/released/);
    a.release(); // twice is harmless
  });

  it("a machine of another size does not take a pooled memory", () => {
    const a = new Machine({ memSize: 1 << 20 });
    const mem = (a.release(), a.memory);
    expect(new Machine({ memSize: 2 << 20 }).memory).not.toBe(mem);
    expect(new Machine({ memSize: 1 << 20 }).memory).toBe(mem);
  });

  it("compiled blocks are shared by content across machines and run against each machine's own memory", () => {
    // the hot loop of guest A compiles the same in both machines; the second must add into its own RAM
    const m1 = new Machine(OPTS), m2 = new Machine(OPTS);
    runA(m1);
    m2.write32(0x300000, 1_000_000);
    m2.setFlatProtectedMode();
    m2.writeMem(0x1000, GUEST_A);
    m2.esp = 0x7000;
    m2.eip = 0x1000;
    expect(m2.run(100_000).reason).toBe("hlt");
    expect(m2.read32(0x300000)).toBe(1_500_500);
    expect(m1.read32(0x300000)).toBe(500500);
    expect(m2.jitStats.compiled).toBe(m1.jitStats.compiled);
  });
});

describe.skipIf(!haveCpu)("lazy tables", () => {
  it("a fresh machine's block hash and page-info table stay untouched until code runs, and a flush clears what was used", () => {
    const m = new Machine({ memSize: 1 << 20, exitOnHlt: true });
    const u32 = () => new Uint32Array(m.memory.buffer);
    const nonzero = (from: number, to: number) => u32().subarray(from >>> 2, to >>> 2).some((x) => x !== 0);
    expect(nonzero(A.PAGEINFO_BASE, A.BLOCK_ARENA_BASE)).toBe(false);
    m.setFlatProtectedMode();
    m.writeMem(0x3000, [0x90, 0xf4]); // nop; hlt
    m.eip = 0x3000;
    expect(m.run(10).reason).toBe("hlt");
    expect(nonzero(A.PAGEINFO_BASE, A.PAGEINFO_BASE + 0x1000)).toBe(true); // the code page is marked
    expect(nonzero(A.BLOCK_HASH_BASE, A.BLOCK_ARENA_BASE)).toBe(true);
    m.loadState(m.saveState()); // drops every cache
    expect(nonzero(A.PAGEINFO_BASE, A.DIRTY_BASE)).toBe(false);
    expect(nonzero(A.BLOCK_HASH_BASE, A.BLOCK_ARENA_BASE)).toBe(false);
    m.eip = 0x3000;
    expect(m.run(10).reason).toBe("hlt"); // and the code runs again from a rebuilt block
  });
});
