// fuzz-modes.test.ts — random guest kernels in every mode (test/fuzz/: guest.ts generates them, modes.ts runs and
// checks them, driver.ts isolates a campaign in a worker under a watchdog), at a small size, plus one regression
// test per containment bug the campaign found (each minimized program kept as raw bytes with its disassembly).
// Large runs: npm run fuzz:modes -- --instructions 1e7 --seed S [--mode native|full|para]
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Machine } from "../host/machine.ts";
import { ROOT } from "./diff/oracle.ts";
import { runIsolated } from "./fuzz/driver.ts";
import { fullInvariants, paraInvariants, paraHolePt, hwInvariants, hypervisorImage } from "./fuzz/modes.ts";
import type { HwMode } from "../host/hw/mode.ts";
import { IO_BITMAP_A } from "../host/hw/ept.ts";
import { VMM_GDT } from "../host/para/abi.ts";
import { MODES, flatImage } from "./fuzz/guest.ts";
import { Vm } from "../host/vm.ts";
import { FullVm } from "../host/full/fullvm.ts";
import { ParaVm } from "../host/para/vm.ts";

const haveCpu = existsSync(join(ROOT, "build/cpu.wasm"));
if (!haveCpu) console.log("fuzz-modes: skipped: build/cpu.wasm not built (npm run build:wasm)");
const SEED = Number(process.env.FUZZ_SEED ?? 2026);

describe.skipIf(!haveCpu)("random guest kernels in every mode", () => {
  for (const mode of MODES) {
    it(`${mode}: no host exception, no hang, no stray write, invariants hold (seed ${SEED})`, async () => {
      const r = await runIsolated({ mode, seed: SEED, instructions: mode === "full" ? 60_000 : 150_000, budget: 20_000, hangMs: 15_000, slowMs: 8000 });
      console.log(`fuzz-modes ${mode}: ${r.programs} programs, ${r.instructions} instructions in ${r.ms} ms; outcomes ${JSON.stringify(r.outcomes)}; exits ${JSON.stringify(r.exits)}`);
      expect(r.problems.slice(0, 5)).toEqual([]);
      expect(r.instructions).toBeGreaterThan(0);
    }, 60_000);
  }
});

describe.skipIf(!haveCpu)("random guest kernels in hw mode (the native programs: an unmodified kernel)", () => {
  it(`hw: no host exception, no hang, no internal error, hypervisor memory, EPT and VMCS untouched (seed ${SEED})`, async () => {
    const r = await runIsolated({ mode: "hw", seed: SEED, instructions: 150_000, budget: 20_000, hangMs: 15_000, slowMs: 8000 });
    console.log(`fuzz-modes hw: ${r.programs} programs, ${r.instructions} instructions in ${r.ms} ms; outcomes ${JSON.stringify(r.outcomes)}; exits ${JSON.stringify(r.exits)}`);
    expect(r.problems.slice(0, 5)).toEqual([]);
    expect(r.instructions).toBeGreaterThan(0);
  }, 60_000);
  it("the hw invariant check sees a guest-visible EPT change and a write to the hypervisor's memory", () => {
    const vm = new Vm({ mode: "hw", memSize: 4 << 20, captureConsole: false });
    vm.loadMultiboot(flatImage([0xeb, 0xfe])); // jmp $
    const before = hypervisorImage(vm);
    vm.run({ maxInstructions: 100 });
    expect(hwInvariants(vm, before)).toEqual([]);
    (vm.mode as HwMode).ept.protect(0x5000, 1);
    expect(hwInvariants(vm, before).join()).toMatch(/EPT entry of guest-physical 0x5000 changed/);
    const split = hypervisorImage(vm); // (protect split the large EPT page into a table: the host's own edit)
    vm.machine.write32(IO_BITMAP_A, 1);
    expect(hwInvariants(vm, split).join()).toMatch(/hypervisor memory changed at host-physical 0x2000/);
  });
});

describe.skipIf(!haveCpu)("the campaign's invariant checks see a violation", () => {
  const loop = flatImage([0xeb, 0xfe]); // jmp $
  it("full: a shadow PTE giving the guest a writable mapping of a VMM frame", () => {
    const vm = new FullVm({ memSize: 4 << 20, captureConsole: false });
    vm.loadMultiboot(loop);
    vm.run({ maxInstructions: 100 });
    expect(fullInvariants(vm)).toEqual([]);
    const sh = (vm.monitor.shadow as unknown as { shadows: Map<string, { pts: Map<number, number> }> }).shadows;
    const pt = [...sh.values()].flatMap((s) => [...s.pts.values()])[0];
    vm.machine.write32(pt, 0x7); // frame 0 (the VMM's), present, writable, user
    expect(fullInvariants(vm).join()).toMatch(/VMM/);
  });
  it("para: a DPL-0 code descriptor in the VMM's GDT", () => {
    const vm = new ParaVm({ memSize: 8 << 20, captureConsole: false });
    vm.loadMultiboot(loop);
    const hole = paraHolePt(vm);
    vm.run({ maxInstructions: 100 });
    expect(paraInvariants(vm, hole)).toEqual([]);
    vm.machine.write32(vm.vmmBase + VMM_GDT + 8 * 7, 0xffff);
    vm.machine.write32(vm.vmmBase + VMM_GDT + 8 * 7 + 4, 0x00cf9b00);
    expect(paraInvariants(vm, hole).join()).toMatch(/DPL-0 code/);
  });
});

describe.skipIf(!haveCpu)("containment regressions found by the campaign", () => {
  it("an instruction with 8 MMIO reads does not corrupt the MMIO write queue (phantom writes, size 0)", () => {
    // Found in native mode: the 8th read-log entry (assembly/iolog.ts, STATE+0x600 + 16 + 7*16 = 0x680) overlaid
    // the MMIO write queue (assembly/mmu.ts, STATE+0x680): the next run() handed the host a "write" of size 0,
    // and Bus.mmioWrite threw a RangeError out of Vm.run().
    const m = new Machine({ memSize: 1 << 20, exceptionBitmap: 0xffffffff });
    m.setFlatProtectedMode();
    m.writeMem(0x1000, [
      0xbe, 0xfe, 0x0f, 0xe0, 0xfe, // mov esi, 0xfee00ffe   (crosses into the next MMIO page: byte reads)
      0xbf, 0xfe, 0x0f, 0xc0, 0xfe, // mov edi, 0xfec00ffe
      0xa7,                         // cmpsd                 (4 + 4 byte-wise MMIO reads)
      0xf4,                         // hlt
    ]);
    m.eip = 0x1000;
    const seen: string[] = [];
    for (let i = 0; i < 40; i++) {
      const e = m.run(100);
      seen.push(e.reason);
      if (e.reason === "mmio-read") { m.completeIo(0x11); continue; }
      if (e.reason !== "budget") break;
    }
    expect(seen.filter((r) => r === "mmio-read")).toHaveLength(8);
    expect(seen).not.toContain("mmio-write");
    expect(m.eip).toBe(0x100b + 1);
  });

  it("a fault whose handler faults again costs budget: run(n) returns instead of looping until the stack wraps", () => {
    // Found in native mode: a #GP handler that faults again was delivered over and over inside one run() call
    // without retiring an instruction, so neither run(n) nor --max-instructions bounded it.
    const m = new Machine({ memSize: 1 << 20 });
    m.setFlatProtectedMode();
    m.writeMem(0x4000, [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0]);
    m.setGdtr(0x4000, 23);                                  // null, flat code 0x08, flat data 0x10
    m.writeMem(0x2000, [0x0f, 0x0b]);                       // handler: ud2 (raises #UD: itself again)
    const gate = [0x00, 0x20, 0x08, 0x00, 0x00, 0x8e, 0x00, 0x00]; // interrupt gate 0x08:0x2000, DPL 0
    for (let v = 0; v < 32; v++) m.writeMem(0x3000 + 8 * v, gate);
    m.setIdtr(0x3000, 32 * 8 - 1);
    m.writeMem(0x1000, [0x0f, 0x0b]);                       // ud2
    m.eip = 0x1000;
    m.setReg("esp", 0x80000);
    const e = m.run(100);
    expect(e.reason).toBe("budget");
    expect(m.instructions).toBe(0);
    expect(m.getReg("esp")).toBe(0x80000 - 12 * 100);      // 100 deliveries of 12 bytes, then back to the host
  });

  // Found in native mode (seed 3 program 29): rep insd with ECX = 0x7fffd8fe into memory above RAM: every
  // iteration is an I/O exit plus an MMIO-write exit and the instruction never retires, so maxInstructions
  // never stopped it (hours of exits). Full mode emulates REP INS/OUTS in the monitor, all 4G elements in one
  // exit; para mode reads virtio MMIO once per element of a rep movsd.
  const REP_RUNAWAY: Record<string, number[]> = {
    native: [
      0xba, 0xf3, 0x01, 0x00, 0x00, // mov edx, 0x1f3        (ATA sector number register)
      0xb9, 0xa0, 0x86, 0x01, 0x00, // mov ecx, 100000
      0xbf, 0x00, 0x00, 0x00, 0xf0, // mov edi, 0xf0000000   (no RAM there: each store is an MMIO write)
      0xf3, 0x6d,                   // rep insd
      0xf4,                         // hlt
    ],
    full: [
      0xba, 0xf3, 0x01, 0x00, 0x00, // mov edx, 0x1f3
      0xb9, 0xff, 0xff, 0xff, 0xff, // mov ecx, 0xffffffff
      0xbf, 0x00, 0x00, 0x20, 0x00, // mov edi, 0x200000     (guest RAM: the monitor stores 512 Ki elements)
      0xf3, 0x6d,                   // rep insd
      0xf4,                         // hlt
    ],
    para: [
      0xbe, 0x00, 0x00, 0xe0, 0xff, // mov esi, 0xffe00000   (the virtio-mmio window in the hole: a read exit each)
      0xbf, 0x00, 0x00, 0x20, 0x00, // mov edi, 0x200000
      0xb9, 0xe8, 0x03, 0x00, 0x00, // mov ecx, 1000          (inside the window's page)
      0xf3, 0xa5,                   // rep movsd
      0xf4,                         // hlt
    ],
  };
  for (const mode of MODES) {
    it(`${mode}: a REP string instruction that exits (or is emulated) element by element is bounded by maxInstructions`, () => {
      const vm = mode === "native" ? new Vm({ memSize: 4 << 20, captureConsole: false })
        : mode === "full" ? new FullVm({ memSize: 4 << 20, captureConsole: false }) : new ParaVm({ memSize: 8 << 20, captureConsole: false });
      vm.loadMultiboot(flatImage(REP_RUNAWAY[mode]));
      const r = vm.run({ maxInstructions: 10 });
      const exits = Object.values(vm.stats.exits).reduce((a, b) => a + b, 0);
      expect(r.stopReason, r.message).toBe("max-instructions");
      expect(exits).toBeLessThan(30);
      if (mode === "full") expect(vm.machine.ecx).toBeGreaterThan(0xffffffff - 10 * 4096);
    });
  }
});
