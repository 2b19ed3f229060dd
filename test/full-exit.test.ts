// full-exit.test.ts — the host side of a full-mode exit round trip (branch full-exit; docs/RESULTS.md): every
// shortcut taken to make an exit cheaper must leave what the guest and the stats see unchanged. The timers
// advanced in short slices (one per exit) against one long advance; the local APIC's 64-bit clock words past
// 2^32; the debug unit's "nothing armed" recompute at every run() entry, then arming a breakpoint; the monitor's
// counters (Maps, materialized into `stats` when read) through a run and a snapshot; publishFast's memo (what the
// CPU's fast INT/IRET read is republished when an input changes, after a reset of the state block, and when a
// shadow is dropped).
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { Rtc, RTC_B_PIE } from "../host/devices/rtc.ts";
import { LocalApic } from "../host/devices/lapic.ts";
import { Machine } from "../host/machine.ts";
import { Vm } from "../host/vm.ts";
import * as A from "../host/abi.generated.ts";
import { miniVm, go, KCODE_AT, GDT } from "./full-minivm.ts";
import { VMM_SIZE } from "../host/full/monitor.ts";

const TRAP_CLI = "build/guests/bench/trap-cli.elf";

describe("timers advanced one exit at a time", () => {
  it("the RTC's flags, oscillator and next event are the same in 3-tick slices as in one advance", () => {
    const mk = () => {
      const r = new Rtc();
      r.write(0, 1, 0x0b); r.write(1, 1, RTC_B_PIE | 0x02); // register B: periodic interrupt on, 24 h
      return r;
    };
    const a = mk(), b = mk();
    const total = 3 * 200_000; // 6 ms of virtual time: six periods at 1024 Hz
    for (let i = 0; i < total / 3; i++) a.advance(3);
    b.advance(total);
    expect(a.stats.periodic).toBe(6); // (one per slice that crosses a period: b's single advance counts one)
    expect(b.stats.periodic).toBe(1);
    expect(a.stats.interrupts).toBe(b.stats.interrupts);
    expect(a.nextEventTicks()).toBe(b.nextEventTicks());
    a.write(0, 1, 0x0c); b.write(0, 1, 0x0c);
    expect(a.read(1, 1)).toBe(b.read(1, 1)); // register C (PF | IRQF), read-to-clear
  });

  it("the local APIC's clock keeps its value past 2^32 bus ticks (two words, written without float division)", () => {
    const l = new LocalApic();
    for (const v of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, 3 * 2 ** 32 + 0xdeadbeef, 2 ** 52 + 3]) {
      l.now = v;
      expect(l.now).toBe(v);
    }
    l.now = 2 ** 32 - 2;
    l.advance(5);
    expect(l.now).toBe(2 ** 32 + 3);
  });
});

describe("the debug unit's recompute at every run() entry", () => {
  it("after runs with nothing armed, a guest DR0 execute breakpoint still fires, and stops once disarmed", () => {
    // ring 0, flat: nop ; nop ; nop ; hlt at 0x1000
    const m = new Machine({ memSize: 1 << 20, exceptionBitmap: 1 << A.VEC_DB, exitOnHlt: true });
    m.setFlatProtectedMode();
    m.writeMem(0x1000, [0x90, 0x90, 0x90, 0xf4]);
    const from = () => { m.eip = 0x1000; m.eflags = 0x2; m.halted = false; };
    for (let i = 0; i < 3; i++) { from(); expect(m.run(100).reason).toBe("hlt"); } // (the quick "nothing armed" path)
    m.setDr(0, 0x1002);
    m.setDr(7, 0x1); // L0, execute, 1 byte
    from();
    const e = m.run(100);
    expect(e.reason).toBe("exception");
    expect(e.reason === "exception" && e.vector).toBe(A.VEC_DB);
    expect(e.eip).toBe(0x1002);
    m.setDr(7, 0);
    from();
    expect(m.run(100).reason).toBe("hlt");
    expect(m.eip).toBe(0x1004);
  });
});

describe("the monitor's counters", () => {
  const image = readFileSync(TRAP_CLI);
  const exits = (vm: Vm) => (vm.stats.devices!() as { full: { exitsByCause: Record<string, number>; emulated: Record<string, number> } }).full;

  it("count every cli/sti exit (fast paths off), and carry over a snapshot exactly", () => {
    const run = (snapAt?: number) => {
      let vm = new Vm({ mode: "full", memSize: 16 << 20, fastPaths: false });
      vm.loadMultiboot(image, { cmdline: "n=1000" });
      if (snapAt !== undefined) {
        expect(vm.run({ maxInstructions: snapAt }).stopReason).toBe("max-instructions");
        vm = Vm.restore(vm.snapshot());
      }
      expect(vm.run().exitStatus).toBe(1);
      return exits(vm);
    };
    const whole = run(), split = run(2500);
    expect(whole.exitsByCause.cli).toBeGreaterThanOrEqual(1000);
    expect(whole.exitsByCause.sti).toBeGreaterThanOrEqual(1000);
    expect(whole.emulated.cli).toBe(whole.exitsByCause.cli);
    expect(split).toEqual(whole);
  });

  it("are read through `stats` as objects, as before (cli/sti emulated on made-up exits)", () => {
    // cli ; sti ; hlt at virtual CPL 0, fast paths off: two #GP exits, emulated
    const f = miniVm([0xfa, 0xfb, 0xf4], { fastPaths: false });
    go(f.mo, 50);
    expect(f.mo.stats.exits.cli).toBe(1);
    expect(f.mo.stats.exits.sti).toBe(1);
    expect(f.mo.stats.emulated).toMatchObject({ cli: 1, sti: 1 });
    expect(f.m.eip >>> 0).toBeGreaterThan(KCODE_AT);
  });
});

describe("publishFast's memo", () => {
  const at = (m: Machine, off: number) => new DataView(m.memory.buffer).getUint32(A.STATE_BASE + off, true);
  it("republishes when the IDTR or TR changes, after the state block was reset, and when a shadow is dropped", () => {
    const f = miniVm([0xf4], { fastPaths: true });
    go(f.mo, 50);
    f.mo.publishFast();
    expect(at(f.m, A.OFF_FF_IDT_BASE)).toBe(f.mo.v.idtr.base >>> 0);
    expect(at(f.m, A.OFF_FF_KCTRL)).not.toBe(0);
    f.mo.v.idtr = { base: 0x12345000, limit: 0x7ff };
    f.mo.publishFast();
    expect(at(f.m, A.OFF_FF_IDT_BASE)).toBe(0x12345000);
    expect(at(f.m, A.OFF_FF_IDT_LIMIT)).toBe(0x7ff);
    f.mo.v.tr = { ...f.mo.v.tr, base: 0x6100 };
    f.mo.publishFast();
    expect(at(f.m, A.OFF_FF_TR_BASE)).toBe(0x6100);
    // a reset clears the published words: the next publish writes them again
    new DataView(f.m.memory.buffer).setUint32(A.STATE_BASE + A.OFF_FF_KCTRL, 0, true);
    new DataView(f.m.memory.buffer).setUint32(A.STATE_BASE + A.OFF_FF_IDT_BASE, 0, true);
    f.mo.publishFast();
    expect(at(f.m, A.OFF_FF_KCTRL)).not.toBe(0);
    expect(at(f.m, A.OFF_FF_IDT_BASE)).toBe(0x12345000);
    // the current address space's K shadow is cached and published; dropping every shadow publishes 0 (the CPU exits)
    expect(at(f.m, A.OFF_FF_KPD)).not.toBe(0);
    f.mo.shadow.flushAll();
    f.mo.publishFast();
    expect(at(f.m, A.OFF_FF_KPD)).toBe(0);
  });
});

describe("the in-place GDT comparison of every adopted privilege switch", () => {
  it("finds a change in any byte, word-aligned or not, and in the tail", () => {
    const f = miniVm([0xf4], { fastPaths: true });
    go(f.mo, 50);
    const eq = (lin: number, len: number, b: Uint8Array) => (f.mo as unknown as { linEquals(l: number, n: number, b: Uint8Array): boolean }).linEquals(lin, len, b);
    const len = 8 * 8 - 1; // the GDT limit + 1 (63: not a multiple of 4)
    const copy = f.m.readMem(VMM_SIZE + GDT, len);
    expect(eq(GDT, len, copy)).toBe(true);
    expect(eq(GDT + 1, len - 1, copy.slice(1))).toBe(true); // unaligned on both sides
    for (const at of [0, 13, 40, len - 1]) {
      const old = f.m.read8(VMM_SIZE + GDT + at);
      f.m.write8(VMM_SIZE + GDT + at, old ^ 0x20);
      expect(eq(GDT, len, copy), `byte ${at}`).toBe(false);
      if (at > 0) expect(eq(GDT + 1, len - 1, copy.slice(1)), `byte ${at}, unaligned`).toBe(false);
      f.m.write8(VMM_SIZE + GDT + at, old);
    }
    expect(eq(GDT, len, copy)).toBe(true);
  });
});
