// exit-rt.test.ts — the exit round trip, second pass (issue 11, branch exit-rt; docs/RESULTS.md): what run()
// entry and the exit record skip (assembly/exitpath.ts), the exits the run loop reads into reused objects
// (host/exit-reuse.ts) and the RTC/PIT advanced lazily (host/core/lazy-timers.ts). Every shortcut must leave what
// the guest sees unchanged: the same exit fields, the same interrupts at the same instructions.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { Machine, type Exit } from "../host/machine.ts";
import { detachExit } from "../host/exit-reuse.ts";
import { Vm } from "../host/vm.ts";
import { timerPolicy } from "../host/core/lazy-timers.ts";
import * as A from "../host/abi.generated.ts";

const counter = (m: Machine, off: number) => m.stateView.getUint32(A.STATE_BASE + off, true);

/** a flat machine at CPL 3 (IOPL 0) running `code` at 0x1000 */
function user(code: number[], opts: ConstructorParameters<typeof Machine>[0] = {}): Machine {
  const m = new Machine({ memSize: 1 << 20, exceptionBitmap: 0xffffffff, ...opts });
  m.setFlatProtectedMode();
  m.writeMem(0x1000, code);
  m.setSegment("cs", { selector: 0x1b, base: 0, limit: 0xffffffff, attr: 0xc0fb });
  for (const s of ["ss", "ds", "es"] as const) m.setSegment(s, { selector: 0x23, base: 0, limit: 0xffffffff, attr: 0xc0f3 });
  m.eip = 0x1000; m.esp = 0x8000; m.eflags = 0x202;
  return m;
}

describe("the exit's instruction from its predecoded record", () => {
  it("a trapped cli, in and mov to cr0 are not decoded again: same fields and qualification as the CPU's decoder gives", () => {
    const code = [
      0xfa,             // 1000: cli              (#GP: CPL 3 > IOPL 0)
      0xe4, 0x80,       // 1001: in al, 0x80      (#GP, I/O qualification: port 0x80, byte, immediate)
      0x0f, 0x22, 0xc0, // 1003: mov cr0, eax     (#GP, CR qualification)
      0x66, 0xed,       // 1006: in ax, dx        (#GP, I/O qualification: port DX, word)
      0xeb, 0xf6,       // 1008: jmp 0x1000
    ];
    const m = user(code);
    m.edx = 0x1f0;
    const seen: string[] = [];
    for (let i = 0; i < 40; i++) {
      const e = m.run(1000);
      expect(e.reason).toBe("exception");
      if (e.reason !== "exception") return;
      expect(e.vector).toBe(A.VEC_GP);
      const at = e.eip - 0x1000;
      expect(e.insn).toEqual(m.decode(code.slice(at), e.eip)); // the one decoder's fields
      seen.push(e.io ? `io ${e.io.port} ${e.io.size} ${e.io.immediate}` : e.cr ? `cr ${e.cr.cr} ${e.cr.access} ${e.cr.gpr}` : "none");
      m.eip = e.eip + e.insn!.len;
    }
    expect(seen.slice(0, 4)).toEqual(["none", "io 128 1 true", "cr 0 mov-to 0", "io 496 2 false"]);
    expect(counter(m, A.OFF_EXIT_FROM_REC)).toBe(40);
    expect(counter(m, A.OFF_EXIT_REDECODED)).toBe(0);
  });

  it("native exits (IN, OUT) report the instruction the record holds; a delivered fault leaves no record behind", () => {
    // 1000: in al, 0x80 ; 1002: out dx, al ; 1003: jmp 0x1000 — ring 0, no intercepts: port I/O exits
    const m = new Machine({ memSize: 1 << 20 });
    m.setFlatProtectedMode();
    m.writeMem(0x1000, [0xe4, 0x80, 0xee, 0xeb, 0xfb]);
    m.eip = 0x1000; m.edx = 0x3f8;
    for (let i = 0; i < 10; i++) {
      const e = m.run(1000);
      if (e.reason === "io-in") { expect(e).toMatchObject({ port: 0x80, size: 1, immediate: true, insnLength: 2 }); m.completeIo(0x12); }
      else expect(e).toMatchObject({ reason: "io-out", port: 0x3f8, size: 1, value: 0x12, insnLength: 1 });
    }
    expect(counter(m, A.OFF_EXIT_FROM_REC)).toBe(10);
    expect(counter(m, A.OFF_EXIT_REDECODED)).toBe(0);
  });
});

describe("run() entry", () => {
  it("recomputes the segment caches only when the host changed a segment, and then obeys the new one", () => {
    // 1000: mov eax, [0x2000] ; 1005: cli (#GP exit) ; 1006: jmp 0x1000
    const m = user([0xa1, 0x00, 0x20, 0x00, 0x00, 0xfa, 0xeb, 0xf8]);
    for (let i = 0; i < 20; i++) { const e = m.run(1000); expect(e.eip).toBe(0x1005); m.eip = 0x1006; }
    const entries = counter(m, A.OFF_ENTRY_SEGS);
    expect(entries).toBe(1); // the first entry only: the host moved EIP, no segment
    m.setSegment("ds", { selector: 0x23, base: 0, limit: 0xfff, attr: 0x40f3 }); // DS now ends below 0x2000
    const e = m.run(1000);
    expect(counter(m, A.OFF_ENTRY_SEGS)).toBe(entries + 1);
    expect(e).toMatchObject({ reason: "exception", vector: A.VEC_GP, eip: 0x1000 }); // the load faults on the new limit
  });
});

describe("exits read into reused objects", () => {
  it("runReused returns one object per exit kind with the same fields as run()'s fresh one", () => {
    const m = user([0xfa, 0xe4, 0x80, 0x0f, 0x22, 0xc0, 0xeb, 0xf8]); // cli ; in al,0x80 ; mov cr0,eax ; jmp 0x1000
    const byKind = new Map<string, Exit>();
    let insn: unknown;
    for (let i = 0; i < 30; i++) {
      const e = m.runReused(1000);
      expect(detachExit(e)).toStrictEqual(m.exit()); // the fields a fresh Exit has, none more
      if (e.reason !== "exception") throw new Error(e.reason);
      const k = `${e.eip}`;
      if (byKind.has(k)) expect(e).toBe(byKind.get(k)); // no allocation per exit: the same object…
      byKind.set(k, e);
      if (insn) expect(e.insn).toBe(insn); // …and the same instruction object
      insn = e.insn;
      m.eip = e.eip + e.insnLength!;
    }
    // the other kinds a run loop sees
    const n = new Machine({ memSize: 1 << 20, exitOnHlt: true, exitOnSoftInt: true });
    n.setFlatProtectedMode();
    n.writeMem(0x1000, [0xe4, 0x80, 0xee, 0xcd, 0x21, 0xf4, 0x90, 0xeb, 0xfe]); // in al,0x80; out dx,al; int 0x21; hlt; nop; jmp $
    n.eip = 0x1000; n.edx = 0x3f8;
    const kinds: string[] = [];
    for (const stop of ["io-in", "io-out", "softint", "hlt", "budget"]) {
      const e = n.runReused(stop === "budget" ? 50 : 1000);
      kinds.push(e.reason);
      expect(detachExit(e)).toStrictEqual(n.exit());
      if (e.reason === "io-in") n.completeIo(1);
      if (e.reason === "softint") n.eip = e.eip + e.insnLength;
      if (e.reason === "hlt") n.halted = false;
    }
    expect(kinds).toEqual(["io-in", "io-out", "softint", "hlt", "budget"]);
  });

  it("a run result keeps its exit after the next run (detached from the reused object)", () => {
    const vm = new Vm({ mode: "full", memSize: 16 << 20, fastPaths: false });
    vm.loadMultiboot(new Uint8Array(readFileSync("build/guests/bench/trap-cli.elf")), { cmdline: "n=1000000000" });
    const r = vm.run({ maxInstructions: 10_000, pauseWhen: () => true });
    expect(r.stopReason).toBe("paused");
    const r2 = vm.run({ maxInstructions: 10_000 });
    vm.run({ maxInstructions: 10_000 });
    expect(r2.stopReason).toBe("max-instructions");
    vm.release();
  });
});

// ---- the RTC and PIT advanced lazily: every interrupt at the same instruction as advanced after every slice ----
interface Trace { acks: number[]; console: string; instructions: number; virtualNs: number; status: number }
function trace(lazy: boolean, mode: "native" | "full", elf: string, max: number, disk2?: Uint8Array): Trace {
  timerPolicy.lazy = lazy;
  let vm: Vm;
  try { vm = new Vm({ mode, memSize: 64 << 20, disk2 }); } finally { timerPolicy.lazy = true; }
  vm.loadMultiboot(new Uint8Array(readFileSync(elf)));
  const pic = vm.platform.pic, ack = pic.acknowledge.bind(pic), acks: number[] = [];
  pic.acknowledge = () => { const v = ack(); acks.push(vm.machine.instructions, vm.clock, v); return v; };
  const r = vm.run({ maxInstructions: max });
  const t = { acks, console: vm.console, instructions: vm.stats.instructions, virtualNs: vm.stats.virtualNs, status: r.exitStatus };
  vm.release();
  return t;
}

describe("lazy RTC and PIT", () => {
  const apic = "build/guests/apic/apic.elf", disk = new Uint8Array(readFileSync("build/guests/apic/disk.img"));
  for (const mode of ["native", "full"] as const) {
    it(`${mode}: the SMP guest (local APIC timer with in-CPU count reads, RTC periodic, PIT) takes every interrupt at the same instruction`, () => {
      const eager = trace(false, mode, apic, 100_000_000, disk), lazy = trace(true, mode, apic, 100_000_000, disk);
      expect(eager.status).toBe(1); // all checks passed
      expect(eager.acks.length).toBeGreaterThan(3 * 10);
      expect(lazy).toEqual(eager);
    });
  }
  it("native and full: a kit workload's 100 Hz PIT ticks come at the same instructions", () => {
    for (const mode of ["native", "full"] as const) {
      const eager = trace(false, mode, "build/guests/workloads/ctxsw.elf", 8_000_000), lazy = trace(true, mode, "build/guests/workloads/ctxsw.elf", 8_000_000);
      expect(eager.acks.length).toBeGreaterThanOrEqual(3 * 5);
      expect(lazy).toEqual(eager);
    }
  });
});

describe("lazy RTC and PIT: when they are advanced", () => {
  it("short slices with no event between are owed, not applied; a port access, the next event or settle applies them at once", async () => {
    const { Rtc, Pit8254, InstructionClock, RTC_B_PIE } = await import("../host/devices/index.ts");
    const { pcTimers } = await import("../host/core/lazy-timers.ts");
    const rtc = new Rtc({ ticksPerSecond: 100_000_000 }), pit = new Pit8254(), clock = new InstructionClock(100_000_000);
    pit.write(3, 1, 0x34); pit.write(0, 1, 0x9c); pit.write(0, 1, 0x2e); // counter 0, mode 2, 11932 pulses: 100 Hz
    rtc.write(0, 1, 0x0b); rtc.write(1, 1, RTC_B_PIE | 0x02); // periodic interrupt on (1024 Hz)
    const calls = { rtc: 0, pit: 0 };
    const ra = rtc.advance.bind(rtc), pa = pit.advance.bind(pit);
    rtc.advance = (n) => { calls.rtc++; ra(n); };
    pit.advance = (n) => { calls.pit++; pa(n); };
    const t = pcTimers(null, rtc, pit, clock, 10);
    for (let i = 0; i < 4 && t.untilNext() < 1000; i++) t.advance(t.untilNext()); // (past the PIT's load pulse)
    calls.rtc = calls.pit = 0;
    const first = t.untilNext();
    expect(first).toBeGreaterThan(1000);
    for (let i = 0; i < 100; i++) t.advance(7); // 700 instruction-equivalents, no event
    expect(calls).toEqual({ rtc: 0, pit: 0 });
    expect(t.untilNext()).toBe(first - 700); // the deadline the eager loop would compute
    rtc.read(0, 1); // an access to its ports: both brought to the clock first, in one advance each
    expect(calls).toEqual({ rtc: 1, pit: 1 });
    t.advance(t.untilNext()); // reaching the next event applies it there
    expect(calls).toEqual({ rtc: 2, pit: 2 });
    t.advance(3); t.settle();
    expect(calls).toEqual({ rtc: 3, pit: 3 });
  });
});
