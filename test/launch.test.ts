// launch.test.ts — the machine pool (Machine.release, assembly/recycle.ts) and the lazily cleared CPU tables: a
// machine built from a recycled memory and instance must be indistinguishable from a fresh one, byte for byte,
// whatever the guest before it did (paging, A/D bits, REP STOS, compiled blocks, the FPU, host writes). Speed is
// measured by scripts/bench/launch.mjs, not here.
import { describe, it, expect, beforeEach } from "vitest";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Machine, drainMachinePool, type MachineOptions } from "../host/machine.ts";
import { leaseStats } from "../host/cpu-instances.ts";
import { trapLab, LAB } from "../host/traps.ts";
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

// ---- branch launch: RAM backed on first touch, machines dropped without release(), trapLab results ----
const MiB = 1 << 20;
/** flat 32-bit, paging off, code at 0x1000, stack at 0x7000 */
function boot(m: Machine, code: number[]): void {
  m.setFlatProtectedMode();
  m.writeMem(0x1000, code);
  m.esp = 0x7000;
  m.eip = 0x1000;
}
// OR of the first and last dword of every 4 KiB page of RAM from 64 KiB to `end` (exclusive) into EAX, then hlt
const readEveryPage = (end: number) => [
  0x31, 0xc0, //                         xor eax, eax
  0xbe, 0x00, 0x00, 0x01, 0x00, //       mov esi, 0x10000 (above the code and stack)
  0x0b, 0x86, 0x00, 0x00, 0x00, 0x00, // L: or eax, [esi+0]
  0x0b, 0x86, 0xfc, 0x0f, 0x00, 0x00, //    or eax, [esi+0xffc]
  0x81, 0xc6, 0x00, 0x10, 0x00, 0x00, //    add esi, 0x1000
  0x81, 0xfe, ...le32(end), //              cmp esi, end
  0x72, 0xe6, //                            jb L
  0xf4, //                                  hlt
];
function le32(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]; }

describe.skipIf(!haveCpu)("RAM backed on first touch", () => {
  beforeEach(() => { drainMachinePool(); });

  it("a fresh machine covers 1 MiB of RAM; guest reads past it see zeros, writes land, the host sees both", () => {
    const m = new Machine({ memSize: 64 * MiB, exitOnHlt: true, jitThreshold: 2 });
    expect(m.ramBacked).toBe(MiB);
    boot(m, [
      0xb8, 0x78, 0x56, 0x34, 0x12, //       mov eax, 0x12345678
      0xa3, ...le32(40 * MiB), //            mov [40 MiB], eax
      0x8b, 0x1d, ...le32(60 * MiB), //      mov ebx, [60 MiB]      (never touched: zero, not open bus)
      0x8b, 0x0d, ...le32(64 * MiB - 4), //  mov ecx, [64 MiB - 4]  (the last dword of RAM)
      0xf4, //                               hlt
    ]);
    m.ebx = 0xdead; m.ecx = 0xdead;
    expect(m.run(100).reason).toBe("hlt");
    expect(m.ebx).toBe(0);
    expect(m.ecx).toBe(0);
    expect(m.read32(40 * MiB)).toBe(0x12345678); // the host's views follow the memory the CPU grew
    expect(m.ramBacked).toBe(64 * MiB);
  });

  it("a guest sees the same on a lazily backed machine as on a fully backed one, past the end of RAM too", () => {
    const guest = [
      0x8b, 0x1d, ...le32(30 * MiB), //      mov ebx, [30 MiB]
      0x8b, 0x0d, ...le32(32 * MiB - 2), //  mov ecx, [32 MiB - 2]  (straddles the end of RAM)
      0x8b, 0x15, ...le32(32 * MiB), //      mov edx, [32 MiB]      (past RAM)
      0xc7, 0x05, ...le32(32 * MiB + 8), 1, 0, 0, 0, // mov dword [32 MiB + 8], 1
      0xf4, //                               hlt
    ];
    const run = (full: boolean) => {
      const m = new Machine({ memSize: 32 * MiB, exitOnHlt: true });
      if (full) m.ramBytes();
      boot(m, guest);
      const exits: string[] = [];
      for (let e = m.run(100); e.reason !== "hlt" && exits.length < 10; e = m.run(100)) {
        exits.push(`${e.reason}@${e.eip.toString(16)}`);
        if (e.reason === "mmio-read") m.completeIo(0x5a5a5a5a);
      }
      return { exits, regs: [m.ebx, m.ecx, m.edx, m.eip], backed: m.ramBacked };
    };
    const lazy = run(false), full = run(true);
    expect(lazy.backed).toBe(32 * MiB);
    expect({ ...lazy, backed: 0 }).toEqual({ ...full, backed: 0 });
  });

  it("page tables in RAM no one touched read as zero entries (#PF), not as open bus", () => {
    const m = new Machine({ memSize: 32 * MiB, exitOnHlt: true, exceptionBitmap: 1 << 14 });
    boot(m, [0x8b, 0x05, ...le32(0x400000), 0xf4]); // mov eax, [0x400000]; hlt
    m.setCr("cr3", 24 * MiB); // a page directory in RAM never written: every PDE is 0 (not present)
    m.setCr("cr0", (m.getCr("cr0") | A.CR0_PG) >>> 0);
    const e = m.run(10);
    expect(e).toMatchObject({ reason: "exception", vector: 14 });
    expect(m.getCr("cr2")).toBe(0x1000); // the fetch of the first instruction faulted: the PDE read 0
  });

  it("grows geometrically under REP STOS and a compiled loop that walk up through RAM", () => {
    const m = new Machine({ memSize: 48 * MiB, exitOnHlt: true, jitThreshold: 2 });
    boot(m, [
      0xbf, ...le32(MiB - 64), //            mov edi, 1 MiB - 64   (across the first boundary)
      0xb9, ...le32(0x40000), //             mov ecx, 0x40000      (1 MiB of dwords)
      0xb8, 0xef, 0xbe, 0xad, 0xde, //       mov eax, 0xdeadbeef
      0xf3, 0xab, //                         rep stosd
      0xbe, ...le32(4 * MiB), //             mov esi, 4 MiB
      0x89, 0x36, //                         L: mov [esi], esi
      0x81, 0xc6, 0x00, 0x00, 0x01, 0x00, // add esi, 0x10000
      0x81, 0xfe, ...le32(48 * MiB), //      cmp esi, 48 MiB
      0x72, 0xf0, //                         jb L
      0xf4, //                               hlt
    ]);
    expect(m.run(1_000_000).reason).toBe("hlt");
    expect(m.jitStats.compiled).toBeGreaterThan(0);
    expect(m.read32(MiB - 64)).toBe(0xdeadbeef);
    expect(m.read32(2 * MiB - 68)).toBe(0xdeadbeef);
    expect(m.read32(2 * MiB - 64)).toBe(0);
    for (let a = 4 * MiB; a < 48 * MiB; a += 0x10000) if (m.read32(a) !== a) throw new Error(`0x${a.toString(16)}: ${m.read32(a)}`);
    expect(m.read32(48 * MiB - 4)).toBe(0);
  });

  it("the host backs what it touches: reads, writes, and all of RAM for ramBytes() and the Memory", () => {
    const m = new Machine({ memSize: 32 * MiB });
    expect(m.read32(20 * MiB)).toBe(0);
    expect(m.ramBacked).toBeGreaterThanOrEqual(20 * MiB + 4);
    m.write32(31 * MiB, 5);
    expect(m.read32(31 * MiB)).toBe(5);
    const n = new Machine({ memSize: 32 * MiB });
    expect(n.ramBytes().length).toBe(32 * MiB);
    expect(n.ramBacked).toBe(32 * MiB);
    const k = new Machine({ memSize: 32 * MiB });
    expect(k.memory.buffer.byteLength).toBe(A.RAM_BASE + 32 * MiB);
  });

  it("a recycled grown memory: a guest reads every page of RAM and sees zeros", () => {
    const size = 24 * MiB;
    const a = new Machine({ memSize: size, exitOnHlt: true });
    boot(a, [
      0xbf, 0x00, 0x00, 0x01, 0x00, //       mov edi, 0x10000
      0xb9, ...le32((size - 0x10000) / 4), //mov ecx, (all RAM above 64 KiB)
      0xb8, 0xff, 0xff, 0xff, 0xff, //       mov eax, -1
      0xf3, 0xab, //                         rep stosd
      0xf4,
    ]);
    expect(a.run(1_000_000).reason).toBe("hlt");
    expect(a.read32(size - 4)).toBe(0xffffffff);
    a.release();
    const r = new Machine({ memSize: size, exitOnHlt: true });
    expect(r.ramBacked).toBe(size); // the pooled memory (grown by the last guest)
    boot(r, readEveryPage(size));
    expect(r.run(10_000_000).reason).toBe("hlt");
    expect(r.eax).toBe(0);
  });
});

describe.skipIf(!haveCpu)("machines dropped without release()", () => {
  it("go back to the pool when collected, and the next machine is a fresh one", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    drainMachinePool();
    const size = 12 * MiB; // a size no other test pools
    const before = leaseStats.collected;
    const [mem, bmem] = (() => {
      const a = new Machine({ ...OPTS, memSize: size });
      runA(a);
      const b = new Machine({ ...OPTS, memSize: size });
      b.ramBytes(); // handed a raw view: never recycled behind the caller's back
      return [new WeakRef(Reflect.get(a, "mem") as WebAssembly.Memory), new WeakRef(Reflect.get(b, "mem") as WebAssembly.Memory)];
    })();
    for (let i = 0; i < 20 && leaseStats.collected === before; i++) { gc(); await new Promise((r) => setTimeout(r, 5)); }
    expect(leaseStats.collected).toBeGreaterThan(before); // (machines of earlier tests may be collected too)
    const r = new Machine({ ...OPTS, memSize: size });
    expect(Reflect.get(r, "mem")).toBe(mem.deref()); // it came from the pool
    expect(Reflect.get(new Machine({ ...OPTS, memSize: size }), "mem")).not.toBe(bmem.deref()); // b's was not pooled
    const recycledAtStart = image(r);
    drainMachinePool();
    expect(firstDifference(recycledAtStart, image(new Machine({ ...OPTS, memSize: size })))).toBe("none");
  });
});

describe.skipIf(!haveCpu)("trapLab results", () => {
  it("a result's machine, rebuilt on first use, is the machine after the run; results do not share memory", () => {
    const lab = trapLab({ cpl: 0 });
    // mov dword [DATA], 0x11111111; mov ebx, 7; ud2
    const store = (v: number) => [0xc7, 0x05, ...le32(LAB.DATA), ...le32(v), 0xbb, 0x07, 0x00, 0x00, 0x00, 0x0f, 0x0b];
    const r1 = lab.run(store(0x11111111));
    const r2 = lab.run(store(0x22222222));
    expect(r1.trap?.vector).toBe(6);
    const m1 = r1.machine, m2 = r2.machine;
    expect(r1.machine).toBe(m1); // built once
    expect(m1).not.toBe(m2);
    expect(m1.read32(LAB.DATA)).toBe(0x11111111);
    expect(m2.read32(LAB.DATA)).toBe(0x22222222);
    expect(r1.read32(LAB.DATA)).toBe(0x11111111);
    expect(m1.ebx).toBe(7);
    expect(m1.eip).toBe(LAB.STUBS + 6 * LAB.STUB_SIZE + 1); // past the #UD stub's hlt
    expect(m1.esp).toBe(r1.trap!.frame!.handlerEsp);
    expect(m1.instructions).toBe(m2.instructions);
    expect(m1.exit()).toEqual(r1.exit);
    // the frame on the handler's stack, as the result reported it
    expect(m1.read32(m1.esp)).toBe(r1.trap!.frame!.words[0]);
    expect(m1.halted).toBe(true); // on the stub's hlt
    r1.release();
    r2.release();
    expect(() => r1.machine).toThrow(/released/);
  });
});
