// debug-unit.test.ts — the CPU's debug unit (assembly/debug.ts): the guest's DR0-DR7 armed for real (#DB with
// DR6/DR7 semantics) and the host's guest-invisible breakpoints, watchpoints and single-step (host/gdb/unit.ts).
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine } from "../host/machine.ts";
import { DebugUnit } from "../host/gdb/unit.ts";

const haveCpu = existsSync(join(dirname(fileURLToPath(import.meta.url)), "../build/cpu.wasm"));

function flat(opts: ConstructorParameters<typeof Machine>[0] = {}) {
  const m = new Machine({ memSize: 1 << 20, exitOnHlt: true, ...opts });
  m.setFlatProtectedMode();
  m.esp = 0x8000;
  return m;
}
const CODE = [
  0xb8, 0x01, 0x00, 0x00, 0x00, // 0x1000 mov eax, 1
  0xbb, 0x02, 0x00, 0x00, 0x00, // 0x1005 mov ebx, 2
  0xa3, 0x00, 0x20, 0x00, 0x00, // 0x100a mov [0x2000], eax
  0x8b, 0x0d, 0x00, 0x20, 0x00, 0x00, // 0x100f mov ecx, [0x2000]
  0xf4,                         // 0x1015 hlt
];
const DR7_L0 = 1, DR7_GD = 0x2000;
const rw0 = (rw: number, len: number) => (rw << 16) | (len << 18);

describe.skipIf(!haveCpu)("debug unit: the host's breakpoints (invisible to the guest)", () => {
  it("a software breakpoint stops before the instruction and leaves guest memory untouched", () => {
    const m = flat(); m.writeMem(0x1000, CODE); m.eip = 0x1000;
    const u = new DebugUnit(m);
    u.addBreakpoint(0x1005);
    const e = m.run(1000);
    expect(e.reason).toBe("debug");
    expect(u.lastStop()).toEqual({ cause: "breakpoint", hardware: false });
    expect([m.eip, m.eax, m.ebx]).toEqual([0x1005, 1, 0]);
    expect([...m.readMem(0x1000, CODE.length)]).toEqual(CODE);
    // resuming at the breakpoint runs past it; removing it lets the guest finish
    u.resume(false);
    expect(m.run(1000).reason).toBe("hlt");
    expect(m.ebx).toBe(2);
  });

  it("a hardware (slot) breakpoint stops like a software one and reports itself as hardware", () => {
    const m = flat(); m.writeMem(0x1000, CODE); m.eip = 0x1000;
    const u = new DebugUnit(m);
    expect(u.addWatch(0x100a, 1, "exec")).toBe(true);
    expect(m.run(1000).reason).toBe("debug");
    expect(u.lastStop()).toEqual({ cause: "breakpoint", hardware: true });
    expect(m.eip).toBe(0x100a);
    // four slots, then the table is full (gdb falls back to software watchpoints)
    expect(u.addWatch(0x2000, 4, "write") && u.addWatch(0x2004, 4, "read") && u.addWatch(0x2008, 4, "access")).toBe(true);
    expect(u.addWatch(0x3000, 4, "write")).toBe(false);
    expect(u.addWatch(0x3000, 0, "write")).toBe(false);
  });

  it("a breakpoint in a hot loop is hit every iteration, also once the loop is compiled", () => {
    const m = flat({ jitThreshold: 2 });
    m.writeMem(0x1000, [0x41, 0x4a, 0x75, 0xfc, 0xf4]); // inc ecx; dec edx; jnz -4; hlt
    m.eip = 0x1000; m.edx = 100;
    expect(m.run(150).reason).toBe("budget"); // hot: compiled
    const u = new DebugUnit(m);
    u.addBreakpoint(0x1001);
    const ecx0 = m.ecx;
    for (let i = 1; i <= 3; i++) {
      expect(m.run(1000).reason).toBe("debug");
      expect(m.eip).toBe(0x1001);
      expect(m.ecx).toBe(ecx0 + i);
      u.resume(false);
    }
  });

  it("single-step stops after exactly one instruction, without interrupts", () => {
    const m = flat(); m.writeMem(0x1000, CODE); m.eip = 0x1000;
    const u = new DebugUnit(m);
    m.setIntr(true, 0x20); // would be taken with IF=1, but a step masks it
    m.eflags = 0x202;
    const eips: number[] = [];
    for (let i = 0; i < 3; i++) { u.resume(true); expect(m.run(1000).reason).toBe("debug"); eips.push(m.eip); }
    expect(eips).toEqual([0x1005, 0x100a, 0x100f]);
    expect(u.lastStop()).toEqual({ cause: "step" });
    expect(m.instructions).toBe(3);
  });

  it("a write watchpoint stops after the store; a read watchpoint after the load; pages seen before are rechecked", () => {
    const m = flat(); m.writeMem(0x1000, CODE); m.eip = 0x1000;
    m.run(3); // the store ran once: its page is in the TLB
    m.eip = 0x1000;
    const u = new DebugUnit(m);
    u.addWatch(0x2000, 4, "write");
    expect(m.run(1000).reason).toBe("debug");
    expect(u.lastStop()).toEqual({ cause: "watch", kind: "write", addr: 0x2000 });
    expect(m.eip).toBe(0x100f);
    u.removeWatch(0x2000, 4, "write");
    u.addWatch(0x2002, 1, "read");
    u.resume(false);
    expect(m.run(1000).reason).toBe("debug");
    expect(u.lastStop()).toEqual({ cause: "watch", kind: "read", addr: 0x2002 });
    expect([m.eip, m.ecx]).toEqual([0x1015, 1]);
  });

  it("a watchpoint sees REP string stores", () => {
    const m = flat();
    m.writeMem(0x1000, [0xf3, 0xab, 0xf4]); // rep stosd ; hlt
    m.eip = 0x1000; m.edi = 0x3000; m.ecx = 64; m.eax = 7;
    const u = new DebugUnit(m);
    u.addWatch(0x3080, 4, "write");
    expect(m.run(1000).reason).toBe("debug");
    expect(m.read32(0x3080)).toBe(7);
  });
});

describe.skipIf(!haveCpu)("debug unit: the guest's DR0-DR7", () => {
  const db = () => flat({ exceptionBitmap: 1 << 1 }); // #DB exits, so the frame-free outcome is visible

  it("an instruction breakpoint is a fault before the instruction; RF suppresses it once", () => {
    const m = db(); m.writeMem(0x1000, CODE); m.eip = 0x1000;
    m.setDr(0, 0x1005); m.setDr(7, DR7_L0); m.setDr(6, 0xffff0ff0);
    const e = m.run(1000);
    expect(e).toMatchObject({ reason: "exception", vector: 1, eip: 0x1005 });
    expect(m.getDr(6) & 0xf).toBe(1);
    expect(m.ebx).toBe(0);
    m.eflags = m.eflags | 0x10000; // RF, as the handler's IRET would restore it
    expect(m.run(1000).reason).toBe("hlt");
    expect(m.ebx).toBe(2);
    expect(m.eflags & 0x10000).toBe(0); // cleared after the instruction
  });

  it("a disabled breakpoint (no L/G bit) does not fire", () => {
    const m = db(); m.writeMem(0x1000, CODE); m.eip = 0x1000;
    m.setDr(0, 0x1005); m.setDr(7, rw0(0, 0));
    expect(m.run(1000).reason).toBe("hlt");
  });

  it("a write breakpoint is a trap after the store, with DR6.B1, matching any overlapping byte", () => {
    const m = db(); m.writeMem(0x1000, CODE); m.eip = 0x1000;
    m.setDr(1, 0x2002); m.setDr(7, (1 << 2) | (1 << 20)); // L1, R/W1=01 (write), LEN1=00 (1 byte)
    const e = m.run(1000);
    expect(e).toMatchObject({ reason: "exception", vector: 1, eip: 0x100f });
    expect(m.getDr(6) & 0xf).toBe(2);
    expect(m.read32(0x2000)).toBe(1);
  });

  it("a write breakpoint ignores reads; a read/write one (R/W=11) takes the load", () => {
    const m = db(); m.writeMem(0x1000, CODE); m.eip = 0x1000;
    m.setDr(0, 0x2000); m.setDr(7, DR7_L0 | rw0(3, 3));
    expect(m.run(1000)).toMatchObject({ reason: "exception", vector: 1, eip: 0x100f });
    expect(m.run(1000)).toMatchObject({ reason: "exception", vector: 1, eip: 0x1015 });
    m.setDr(7, DR7_L0 | rw0(1, 3)); m.eip = 0x100f;
    expect(m.run(1000).reason).toBe("hlt");
  });

  it("DR7.GD: a MOV from a debug register faults with DR6.BD and clears GD", () => {
    const m = db();
    m.writeMem(0x1000, [0x0f, 0x21, 0xf8, 0xf4]); // mov eax, dr7 ; hlt
    m.eip = 0x1000; m.setDr(7, DR7_GD | 0x400);
    expect(m.run(100)).toMatchObject({ reason: "exception", vector: 1, eip: 0x1000 });
    expect(m.getDr(6) & 0x2000).toBe(0x2000);
    expect(m.getDr(7) & DR7_GD).toBe(0);
    expect(m.run(100).reason).toBe("hlt");
    expect(m.eax).toBe(0x400);
  });

  it("guest breakpoints and the host's are separate: a guest write breakpoint is not a host stop", () => {
    const m = db(); m.writeMem(0x1000, CODE); m.eip = 0x1000;
    const u = new DebugUnit(m);
    u.addWatch(0x2000, 4, "write");
    m.setDr(0, 0x2000); m.setDr(7, DR7_L0 | rw0(1, 3));
    // the guest's #DB wins (here intercepted by the VMM); the guest cannot see or change the host's slot
    expect(m.run(1000)).toMatchObject({ reason: "exception", vector: 1, eip: 0x100f });
    expect(m.getDr(0)).toBe(0x2000);
    expect(u.watches).toHaveLength(1);
  });
});
