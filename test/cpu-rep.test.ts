// cpu-rep.test.ts — REP string instructions are interruptible at iteration boundaries (ops/string.ts):
// a unit of at most 4096 iterations retires as one instruction, so budgets, interrupts and time slices apply
// inside a long REP; faults leave the registers at the faulting iteration; interpreter and JIT count alike.
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine } from "../host/machine.ts";
import type { Exit } from "../host/machine.ts";
import { descriptor, gate, trapLab } from "../host/traps.ts";
import { buildElf } from "../host/elf.ts";
import { runImage } from "../host/vm.ts";
import { deviceExit, enableStringIoBatches } from "../host/core/device-exits.ts";
import { VmStats } from "../host/stats.ts";
import type { Bus } from "../host/bus.ts";
import { OFF_IO_BATCH_COUNT, STATE_BASE } from "../host/abi.generated.ts";
import { runOracle, oracleAvailable } from "./diff/oracle.ts";
import { checkCases } from "./diff/harness.ts";
import { SCRATCH_BASE } from "./diff/gen.ts";
import type { Case } from "./diff/gen.ts";

const haveCpu = existsSync(join(dirname(fileURLToPath(import.meta.url)), "../build/cpu.wasm"));
const UNIT = 4096;
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

function flat(opts: ConstructorParameters<typeof Machine>[0] = {}) {
  const m = new Machine({ memSize: 1 << 20, exitOnHlt: true, ...opts });
  m.setFlatProtectedMode();
  m.esp = 0x8000;
  return m;
}
/** A VMM loop as host/vm.ts runs it: devices answer reads with all-ones, writes are dropped; stops at the budget. */
function runBudget(m: Machine, budget: number): { exits: number; last: Exit } {
  const i0 = m.instructions;
  let exits = 0;
  for (;;) {
    const left = budget - (m.instructions - i0);
    if (left <= 0) return { exits, last: m.exit() };
    const e = m.run(left);
    if (e.reason === "io-in" || e.reason === "mmio-read") m.completeIo(0xffffffff);
    else if (e.reason !== "io-out" && e.reason !== "mmio-write") return { exits, last: e };
    exits++;
  }
}

describe.skipIf(!haveCpu)("REP: bounded by the instruction budget", () => {
  it("rep stosd with ECX=0xFFFFFFFF into device memory stops promptly under a 1k budget", () => {
    const m = flat();
    m.writeMem(0x1000, [0xf3, 0xab, 0xf4]); // rep stosd ; hlt
    m.eip = 0x1000; m.edi = 0x100000; m.ecx = 0xffffffff; // RAM ends at 1 MiB: every element is an MMIO write
    const t = performance.now();
    const r = runBudget(m, 1000);
    expect(performance.now() - t).toBeLessThan(2000);
    expect(r.exits).toBe(1000);
    expect(m.instructions).toBe(1000); // one unit per device write: the host sees each before the next
    expect(m.eip).toBe(0x1000);        // still on the REP, which resumes next run
    expect(m.ecx).toBe(0xffffffff - 1000);
    expect(m.edi).toBe(0x100000 + 4000);
  });

  it("rep stosd with ECX=0xFFFFFFFF over RAM retires one instruction per 4096 iterations", () => {
    const m = flat({ memSize: 64 << 20 });
    m.writeMem(0x1000, [0xf3, 0xab, 0xf4]); // rep stosd ; hlt
    m.eip = 0x1000; m.edi = 0x10000; m.ecx = 0xffffffff; m.eax = 0x5a5a5a5a;
    const r = runBudget(m, 1000);
    expect(r.last.reason).toBe("budget");
    expect(m.instructions).toBe(1000);
    expect(m.ecx).toBe(0xffffffff - 1000 * UNIT);
    expect(m.edi).toBe(0x10000 + 1000 * UNIT * 4);
    expect(m.read32(0x10000 + 1000 * UNIT * 4 - 4)).toBe(0x5a5a5a5a);
    expect(m.read32(0x10000 + 1000 * UNIT * 4)).toBe(0);
  });

  it("a 48M-iteration rep insb is 48M instructions, not one: 1k budget = 1k port reads", () => {
    const m = flat();
    m.writeMem(0x1000, [0xf3, 0x6c, 0xf4]); // rep insb ; hlt
    m.eip = 0x1000; m.edi = 0x10000; m.ecx = 48_000_000; m.edx = 0x60;
    const r = runBudget(m, 1000);
    expect(r.last.reason).toBe("budget");
    expect(r.exits).toBe(1000);
    expect(m.ecx).toBe(48_000_000 - 1000);
    expect(m.eip).toBe(0x1000);
  });

  it("rep outsd to a port: each element is one exit and one instruction", () => {
    const m = flat();
    m.writeMem(0x1000, [0xf3, 0x6f, 0xf4]); // rep outsd ; hlt
    m.eip = 0x1000; m.esi = 0x10000; m.ecx = 0x10000000; m.edx = 0x80;
    const r = runBudget(m, 500);
    expect(r.exits).toBe(500);
    expect(m.ecx).toBe(0x10000000 - 500);
  });

  it.each([
    [0, 1], [1, 1], [UNIT, 1], [UNIT + 1, 2], [10000, 3], [3 * UNIT, 3],
  ])("rep movsd of %i elements in RAM retires %i", (n, retired) => {
    const m = flat();
    m.writeMem(0x1000, [0xf3, 0xa5, 0xf4]); // rep movsd ; hlt
    m.eip = 0x1000; m.esi = 0x10000; m.edi = 0x40000; m.ecx = n;
    for (let i = 0; i < n; i++) m.write32(0x10000 + 4 * i, i * 7 + 1);
    expect(m.run(100).reason).toBe("hlt");
    expect(m.instructions).toBe(retired + 1);
    expect(m.ecx).toBe(0);
    expect(Buffer.compare(m.readMem(0x40000, 4 * n), m.readMem(0x10000, 4 * n))).toBe(0);
  });

  it("unit boundaries do not depend on the fast path: unaligned, backward (DF=1) and byte forms count alike", () => {
    for (const [code, setup] of [
      [[0xf3, 0xab], (m: Machine) => { m.edi = 0x10002; }],                       // rep stosd, unaligned
      [[0xfd, 0xf3, 0xab], (m: Machine) => { m.edi = 0x80000; }],                 // std ; rep stosd (element loop)
      [[0xf3, 0xaa], (m: Machine) => { m.edi = 0x10000; }],                       // rep stosb
      [[0xf3, 0xad], (m: Machine) => { m.esi = 0x10000; }],                       // rep lodsd
      [[0xf3, 0xaf], (m: Machine) => { m.edi = 0x10000; }],                       // repe scasd (EAX=0 = memory)
      [[0xf3, 0xa7], (m: Machine) => { m.esi = 0x10000; m.edi = 0x40000; }],      // repe cmpsd (equal zeros)
    ] as const) {
      const m = flat();
      m.writeMem(0x1000, [...code, 0xf4]);
      m.eip = 0x1000; m.ecx = 2 * UNIT + 5; m.eax = 0;
      setup(m);
      expect(m.run(100).reason, code.join(" ")).toBe("hlt");
      expect(m.instructions, code.join(" ")).toBe(code.length === 3 ? 4 + 1 : 3 + 1);
      expect(m.ecx).toBe(0);
    }
  });
});

/** A multiboot kernel: the header, then `code` (entered at 0x10000c in flat ring-0 protected mode). */
function kernel(code: number[]): Uint8Array {
  const mb = [...le32(0x1badb002), ...le32(0), ...le32(-0x1badb002 >>> 0)];
  return buildElf({ entry: 0x10000c, segments: [{ paddr: 0x100000, data: [...mb, ...code] }] });
}

describe.skipIf(!haveCpu)("REP: --max-instructions stops a runaway REP in a whole VM", () => {
  // (native mode: full mode ends this minimal kernel in "shutdown" before and after this change — left to host/full/)
  it.each(["native"])("rep stosd with ECX=0xFFFFFFFF over device memory (%s mode)", async (mode) => {
    const image = kernel([
      0xbf, ...le32(0x08000000),  // mov edi, 0x8000000   (past the 16 MiB of RAM)
      0xb9, ...le32(0xffffffff),  // mov ecx, 0xffffffff
      0xf3, 0xab,                 // rep stosd
      0xf4,                       // hlt
    ]);
    const t = performance.now();
    const r = await runImage({ image, mode, memSize: 16 << 20, maxInstructions: 1000 });
    expect(performance.now() - t).toBeLessThan(10_000);
    expect(r.stopReason).toBe("max-instructions");
  });

  it("a 48M-iteration rep insb stops after 1000 instructions", async () => {
    const image = kernel([
      0xbf, ...le32(0x200000),    // mov edi, 0x200000
      0xb9, ...le32(48_000_000),  // mov ecx, 48000000
      0x66, 0xba, 0xf0, 0x02,     // mov dx, 0x2f0   (no device: reads float high)
      0xf3, 0x6c,                 // rep insb
      0xf4,                       // hlt
    ]);
    const t = performance.now();
    const r = await runImage({ image, memSize: 64 << 20, maxInstructions: 1000 });
    expect(performance.now() - t).toBeLessThan(10_000);
    expect(r.stopReason).toBe("max-instructions");
  });
});

describe.skipIf(!haveCpu)("REP: interrupts and faults at iteration boundaries", () => {
  it("an interrupt is taken in the middle of a long rep movsd and the copy resumes correctly", () => {
    const m = flat();
    const N = 50_000;
    // GDT (flat code 0x08) and an IDT with vector 0x20 -> handler
    m.write32(0x808, descriptor({ base: 0, limit: 0xffffffff, access: 0x9b, flags: 0xc })[0]);
    m.write32(0x80c, descriptor({ base: 0, limit: 0xffffffff, access: 0x9b, flags: 0xc })[1]);
    m.setGdtr(0x800, 0x17);
    const [lo, hi] = gate(0x08, 0x3000, 0xe, 0);
    m.write32(0x900 + 8 * 0x20, lo); m.write32(0x904 + 8 * 0x20, hi);
    m.setIdtr(0x900, 0x7ff);
    m.writeMem(0x3000, [
      0x89, 0x0d, ...le32(0x5000),   // mov [0x5000], ecx
      0x89, 0x35, ...le32(0x5004),   // mov [0x5004], esi
      0xff, 0x05, ...le32(0x5008),   // inc dword [0x5008]
      0xcf,                          // iret
    ]);
    m.writeMem(0x1000, [0xf3, 0xa5, 0xf4]); // rep movsd ; hlt
    for (let i = 0; i < N; i++) m.write32(0x10000 + 4 * i, (i * 0x9e3779b1) >>> 0);
    m.eip = 0x1000; m.esi = 0x10000; m.edi = 0x60000; m.ecx = N;
    m.eflags = 0x202; // IF=1
    expect(m.run(3).reason).toBe("budget"); // three units
    expect([m.eip, m.ecx]).toEqual([0x1000, N - 3 * UNIT]);
    m.setIntr(true, 0x20);
    expect(m.run(1_000_000).reason).toBe("hlt");
    expect(m.read32(0x5008)).toBe(1);
    expect(m.read32(0x5000)).toBe(N - 3 * UNIT);           // interrupted with ECX between units
    expect(m.read32(0x5004)).toBe(0x10000 + 4 * 3 * UNIT);
    expect(m.ecx).toBe(0);
    expect(Buffer.compare(m.readMem(0x60000, 4 * N), m.readMem(0x10000, 4 * N))).toBe(0);
  });

  it("a #GP on iteration k (segment limit) leaves ESI/EDI/ECX at iteration k and EIP on the instruction", () => {
    const m = flat({ exceptionBitmap: 1 << 13 });
    m.setSegment("es", { selector: 0x10, base: 0, limit: 0x11fff, attr: 0x4093 });
    m.writeMem(0x1000, [0xf3, 0xab, 0xf4]); // rep stosd ; hlt
    m.eip = 0x1000; m.edi = 0x2000; m.ecx = 0x10000; m.eax = 0x11223344;
    const e = m.run(100);
    expect(e).toMatchObject({ reason: "exception", vector: 13, errorCode: 0, eip: 0x1000 });
    expect(m.eip).toBe(0x1000);
    expect(m.edi).toBe(0x12000);                 // the first element past the limit
    expect(m.ecx).toBe(0x10000 - 0x4000);        // 0x4000 elements stored: four units
    expect(m.instructions).toBe(4);              // the four complete units retired, the faulting one did not
    expect(m.read32(0x11ffc)).toBe(0x11223344);
    expect(m.read32(0x12000)).toBe(0);
  });

  it.each([
    // the lab maps its own pages (data ends at 0x30000); backward: 0x400000 -> 0x200000 with 0x3ff000 unmapped
    ["forward, fast path", 0, 0x2fff0, 0x30000, 100 - 4],
    ["backward (DF=1), element loop", 0x400, 0x400010, 0x3ffffc, 100 - 5],
  ])("a #PF on iteration k (%s) reports CR2 and leaves the registers at iteration k", (_n, df, edi, fault, ecx) => {
    const lab = trapLab({
      paging: { pages: [{ va: 0x400000, pa: 0x200000 }] }, mode: "intercept", eflags: 0x2 | df, regs: { edi, ecx: 100, eax: 0x77 },
    });
    const r = lab.run([0xf3, 0xab]); // rep stosd
    expect(r.trap?.vector).toBe(14);
    expect(r.trap?.cr2).toBe(fault);
    expect(r.trap?.offset).toBe(0);   // EIP on the rep stosd
    expect(r.state.edi).toBe(fault);
    expect(r.state.ecx).toBe(ecx);
    expect(r.read32(df ? fault + 4 : fault - 4)).toBe(0x77); // the iteration before it was stored
  });
});

describe.skipIf(!haveCpu)("REP: interpreter and compiled blocks retire the same", () => {
  it("a hot loop around rep movsb/stosd reads the same RDTSC values with and without the JIT", () => {
    // 0x1000: mov ebx, 40 ; loop: mov esi, 0x10000 ; mov edi, 0x20000 ; mov ecx, 5000 ; rep movsb ;
    //         mov ecx, 3 ; rep stosd ; rdtsc ; mov [0x30000 + ebx*4], eax ; dec ebx ; jnz loop ; hlt
    const code = [
      0xbb, ...le32(40),                  // mov ebx, 40
      0xbe, ...le32(0x10000),             // loop: mov esi, 0x10000
      0xbf, ...le32(0x20000),             // mov edi, 0x20000
      0xb9, ...le32(5000),                // mov ecx, 5000
      0xf3, 0xa4,                         // rep movsb (2 units)
      0xb9, ...le32(3),                   // mov ecx, 3
      0xf3, 0xab,                         // rep stosd
      0x0f, 0x31,                         // rdtsc
      0x89, 0x04, 0x9d, ...le32(0x30000), // mov [0x30000 + ebx*4], eax
      0x4b,                               // dec ebx
      0x75, 0x100 - 36,                   // jnz loop
      0xf4,                               // hlt
    ];
    const out: number[][] = [];
    for (const jitThreshold of [0, 1]) {
      const m = flat({ jitThreshold });
      m.writeMem(0x1000, code);
      m.eip = 0x1000;
      expect(m.run(1_000_000).reason).toBe("hlt");
      if (jitThreshold) expect(m.jitStats.compiled).toBeGreaterThan(0);
      out.push([m.instructions, ...Array.from({ length: 41 }, (_, i) => m.read32(0x30000 + 4 * i))]);
    }
    expect(out[1]).toEqual(out[0]);
    expect(out[0][0]).toBe(1 + 40 * 11 + 1); // per pass: 10 instructions, rep movsb counting 2
  });
});

// Long REP forms (more than one 4096-iteration unit) against the real CPU through tools/oracle: the unit
// boundaries must not show in the architectural result. The oracle's scratch area is 8 KiB.
const oracle = oracleAvailable();
describe.skipIf(!haveCpu || !oracle.ok)("REP over unit boundaries vs the real CPU", () => {
  it("rep stos/movs/lods/scas/cmps of 4097..6000 iterations match", () => {
    const S = SCRATCH_BASE;
    const noise = Array.from({ length: 6100 }, (_, i) => (i * 37 + (i >> 7)) & 0xff);
    const mk = (desc: string, code: number[], r: Partial<Record<"eax" | "ecx" | "esi" | "edi", number>>, eflags = 0x202,
      patches = [{ off: 0, data: noise }]): Case => ({
      form: desc, desc, seed: 0, codeOff: 0, code, eflags, undef: 0, undefRegs: 0, patches,
      regs: [r.eax ?? 0x12345678, r.ecx ?? 0, 0, 0, 0x1000, 0, r.esi ?? 0, r.edi ?? 0].map((v) => v >>> 0),
    });
    const zeros = (hole: number) => [{ off: 0, data: Array.from({ length: 6100 }, (_, i) => (i === hole ? 0x55 : 0)) }];
    const cases: Case[] = [
      mk("rep stosb 5000", [0xf3, 0xaa], { ecx: 5000, edi: S + 100 }),
      mk("rep stosb 4097 unaligned", [0xf3, 0xaa], { ecx: 4097, edi: S + 3 }),
      mk("std; rep stosb 6000 (DF=1)", [0xf3, 0xaa], { ecx: 6000, edi: S + 6050 }, 0x602),
      mk("rep movsb 5000 overlapping (edi = esi + 1)", [0xf3, 0xa4], { ecx: 5000, esi: S + 10, edi: S + 11 }),
      mk("rep movsb 4097 overlapping backward", [0xf3, 0xa4], { ecx: 4097, esi: S + 5000, edi: S + 5003 }, 0x602),
      mk("rep lodsb 5000", [0xf3, 0xac], { ecx: 5000, esi: S + 7 }),
      mk("repe scasb 6000, stops at 5000", [0xf3, 0xae], { ecx: 6000, edi: S + 50, eax: 0 }, 0x202, zeros(5050)),
      mk("repne scasb 5000, finds at 4500", [0xf2, 0xae], { ecx: 5000, edi: S, eax: 0x55 }, 0x202, zeros(4500)),
      mk("repe cmpsb 5000 (esi/edi overlap, equal)", [0xf3, 0xa6], { ecx: 5000, esi: S + 20, edi: S + 21 }, 0x202, zeros(6000)),
    ];
    const st = checkCases(cases, runOracle(cases));
    if (st.bad) console.log(st.mismatchReport(10));
    expect(st.total).toBe(cases.length);
    expect(st.bad).toBe(0);
  });
});

// ---- string I/O in batches (abi.ts OFF_IO_BATCH_*): one exit per run of elements, as KVM_EXIT_IO with a count ----
describe.skipIf(!haveCpu)("REP INS/OUTS in batches", () => {
  const A = { STATE_BASE: STATE_BASE };
  function batched(opts: ConstructorParameters<typeof Machine>[0] = {}) {
    const m = flat(opts);
    enableStringIoBatches(m);
    return m;
  }
  /** runs to HLT: a batched OUT's elements from the CPU's buffer, a batched IN filled through deviceExit's path */
  function drive(m: Machine, port: { next: number }) {
    const log: string[] = [], out: number[] = [];
    const st = new VmStats();
    const bus = {
      ioWrite: (_p: number, _s: number, v: number) => { out.push(v); },
      ioRead: () => port.next++,
      mmioRead: () => 0xa0a0a0a0, mmioWrite: () => {},
    } as unknown as Bus;
    for (let i = 0; i < 1000; i++) {
      const e = m.run(100_000);
      if (e.reason === "hlt" || e.reason === "exception") return { log, out, last: e };
      if (e.reason === "io-in" || e.reason === "io-out") log.push(`${e.reason}:${e.string ? batchOf(m) : 0}`);
      else log.push(e.reason);
      if (!deviceExit(e, m, bus, st)) throw new Error(`unexpected ${e.reason}`);
    }
    throw new Error("no HLT");
  }
  const batchOf = (m: Machine) => new DataView(m.memory.buffer).getUint32(A.STATE_BASE + OFF_IO_BATCH_COUNT, true);

  it("rep outsd of 10000 dwords: 3 exits (4096 + 4096 + 1808), every element in order, 3 instructions", () => {
    const m = batched();
    m.writeMem(0x1000, [0xf3, 0x6f, 0xf4]); // rep outsd ; hlt
    for (let i = 0; i < 10000; i++) m.write32(0x20000 + 4 * i, (i * 0x9e3779b1) >>> 0);
    m.eip = 0x1000; m.esi = 0x20000; m.ecx = 10000; m.edx = 0x1f0;
    const r = drive(m, { next: 0 });
    expect(r.log).toEqual(["io-out:4096", "io-out:4096", "io-out:1808"]);
    expect(r.out).toEqual(Array.from({ length: 10000 }, (_, i) => (i * 0x9e3779b1) >>> 0));
    expect([m.ecx, m.esi, m.instructions]).toEqual([0, 0x20000 + 40000, 3 + 1]);
  });

  it("rep insw into RAM: one exit per page run, the data where the guest asked, EDI/ECX exact", () => {
    const m = batched();
    m.writeMem(0x1000, [0x66, 0xf3, 0x6d, 0xf4]); // rep insw ; hlt
    m.eip = 0x1000; m.edi = 0x10f00; m.ecx = 300; m.edx = 0x1f0;
    const r = drive(m, { next: 1 });
    expect(r.log).toEqual(["io-in:128", "io-in:172"]); // 0x10f00..0x11000 holds 128 words
    expect(Array.from({ length: 300 }, (_, i) => m.readMem(0x10f00 + 2 * i, 2)[0] | (m.readMem(0x10f00 + 2 * i, 2)[1] << 8))).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect([m.ecx, m.edi]).toEqual([0, 0x10f00 + 600]);
  });

  it("runs that meet device memory stop before it: outsd from RAM into MMIO, insd from RAM into MMIO", () => {
    let m = batched();
    m.writeMem(0x1000, [0xf3, 0x6f, 0xf4]); // rep outsd ; hlt  (RAM ends at 1 MiB)
    m.write32(0xffff8, 0x11111111); m.write32(0xffffc, 0x22222222);
    m.eip = 0x1000; m.esi = 0xffff8; m.ecx = 4; m.edx = 0x80;
    let r = drive(m, { next: 0 });
    expect(r.log).toEqual(["io-out:2", "mmio-read", "io-out:1", "mmio-read", "io-out:1"]);
    expect(r.out).toEqual([0x11111111, 0x22222222, 0xa0a0a0a0, 0xa0a0a0a0]);
    m = batched();
    m.writeMem(0x1000, [0xf3, 0x6d, 0xf4]); // rep insd ; hlt
    m.eip = 0x1000; m.edi = 0xffff8; m.ecx = 3; m.edx = 0x80;
    r = drive(m, { next: 7 });
    expect(r.log).toEqual(["io-in:2", "io-in:0", "mmio-write"]); // the MMIO element: the element path, as before
    expect([m.read32(0xffff8), m.read32(0xffffc), m.ecx]).toEqual([7, 8, 0]);
  });

  it("a page fault mid-run: the elements before it go out in one exit, the next unit faults with CR2 at the element", () => {
    const m = batched({ exceptionBitmap: 1 << 14 });
    // identity-mapped first MiB, page 0x21000 not present
    for (let i = 0; i < 256; i++) m.write32(0x81000 + 4 * i, i === 0x21 ? 0 : (i << 12) | 3);
    m.write32(0x80000, 0x81003);
    m.setCr("cr3", 0x80000);
    m.setCr("cr0", (m.getCr("cr0") | 0x80000000) >>> 0);
    m.writeMem(0x1000, [0xf3, 0x6f, 0xf4]); // rep outsd ; hlt
    for (let i = 0; i < 16; i++) m.write32(0x20fe0 + 4 * i, 0x100 + i);
    m.eip = 0x1000; m.esi = 0x20fe0; m.ecx = 16; m.edx = 0x80;
    const r = drive(m, { next: 0 });
    expect(r.log).toEqual(["io-out:8"]);
    expect(r.out).toEqual([0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106, 0x107]);
    expect(r.last).toMatchObject({ reason: "exception", vector: 14, eip: 0x1000 });
    expect([m.esi, m.ecx, m.getCr("cr2")]).toEqual([0x21000, 8, 0x21000]);
  });

  it("a page fault on the destination of a rep insd reads nothing from the port", () => {
    const m = batched({ exceptionBitmap: 1 << 14 });
    for (let i = 0; i < 256; i++) m.write32(0x81000 + 4 * i, i === 0x21 ? 5 : (i << 12) | 3); // 0x21000 read-only
    m.write32(0x80000, 0x81003);
    m.setCr("cr3", 0x80000);
    m.setCr("cr0", (m.getCr("cr0") | 0x80010000) >>> 0); // PG, WP
    m.writeMem(0x1000, [0xf3, 0x6d, 0xf4]); // rep insd ; hlt
    m.eip = 0x1000; m.edi = 0x20ff8; m.ecx = 5; m.edx = 0x80;
    const port = { next: 1 };
    const r = drive(m, port);
    expect(r.log).toEqual(["io-in:2"]);
    expect(r.last).toMatchObject({ reason: "exception", vector: 14, errorCode: 3, eip: 0x1000 });
    expect(port.next).toBe(3); // two elements read, none for the faulting one
    expect([m.read32(0x20ff8), m.read32(0x20ffc), m.edi, m.ecx]).toEqual([1, 2, 0x21000, 3]);
  });
});

describe.skipIf(!haveCpu)("bulk REP STOS over RAM (memory.fill / doubling copies per page run)", () => {
  it.each([
    [2, 0x1234, 5001, 0x10003], [4, 0x12345678, 3333, 0x20ffe], [4, 0x01010101, 9000, 0x30000], [2, 0x7f7f, 17, 0x40001],
  ])("rep stos (size %i) of %s x %i at %s: every element, nothing past the end", (size, v, n, at) => {
    const m = flat({ memSize: 4 << 20 });
    m.writeMem(0x1000, [...(size === 2 ? [0x66] : []), 0xf3, 0xab, 0xf4]); // rep stosw/stosd ; hlt
    m.writeMem(at + n * size, [0xee, 0xee]);
    m.eip = 0x1000; m.edi = at; m.ecx = n; m.eax = v;
    expect(m.run(100).reason).toBe("hlt");
    const got = m.readMem(at, n * size);
    const want = new Uint8Array(n * size);
    for (let i = 0; i < n * size; i++) want[i] = (v >>> (8 * (i % size))) & 0xff;
    expect(Buffer.compare(got, want)).toBe(0);
    expect(Array.from(m.readMem(at + n * size, 2))).toEqual([0xee, 0xee]);
    expect([m.ecx, m.edi, m.instructions]).toEqual([0, at + n * size, Math.ceil(n / UNIT) + 1]);
  });
});
