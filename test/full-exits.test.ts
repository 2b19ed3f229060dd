// full-exits.test.ts — each exit handler of host/full/monitor.ts driven with made-up exits: the guest is brought
// to a known kernel state (test/full-minivm.ts: tables loaded, virtual CPL 0, EIP at a `hlt`), then an Exit
// object is written by hand and given to Monitor.handle. The exit carries the instruction as the CPU decoded it
// (Machine.decode here); where memory holds something else, what the monitor does shows it used the exit's
// record and did not decode a second time.
import { describe, it, expect } from "vitest";
import type { Exit, DecodedInsn } from "../host/machine.ts";
import { miniVm, go, d32, KCODE_AT, PROLOGUE, HANDLER, KSTACK, KCODE } from "./full-minivm.ts";
import { VMM_SIZE } from "../host/full/monitor.ts";

const HERE = KCODE_AT + PROLOGUE.length; // the body: a pushf, then nops
function setup(translate: "runtime" | "static" = "runtime") {
  // (the CPU's fast paths off: these are the monitor's exit handlers; test/full-fast.test.ts covers the CPU's)
  const r = miniVm([0x9c, 0x90, 0x90, 0x90, 0x90, 0xf4], { translate, fastPaths: false }); // pushf (static: patched to int3) ; nop x4 ; hlt
  expect(go(r.mo)).toMatchObject({ stop: "halted" }); // prologue, pushf, nops, hlt (IF is clear)
  expect(r.mo.v.idtr.limit).toBe(256 * 8 - 1);
  r.m.eip = HERE + 1; // at the nops again: the made-up exits point here
  r.m.esp = KSTACK;
  return r;
}
const gp = (insn: DecodedInsn | undefined, errorCode = 0): Exit =>
  ({ reason: "exception", code: 6, eip: HERE + 1, vector: 13, errorCode, insn, insnLength: insn?.len });

describe("#GP exits: privileged instructions emulated from the CPU's decoding", () => {
  it("cli carried by the exit is emulated although memory holds a nop (no second decode)", () => {
    const { m, mo } = setup();
    mo.v.vif = true;
    expect(mo.handle(gp(m.decode([0xfa], HERE + 1)))).toBeNull(); // cli
    expect(mo.v.vif).toBe(false);
    expect(m.eip).toBe(HERE + 2);
    expect(mo.stats.emulated["cli"]).toBe(1);
  });
  it("mov cr3, eax from the exit's record: the virtual CR3 changes, EIP moves past its 3 bytes", () => {
    const { m, mo } = setup();
    m.eax = 0x20000;
    mo.handle(gp(m.decode([0x0f, 0x22, 0xd8], HERE + 1))); // mov cr3, eax
    expect(mo.v.cr3).toBe(0x20000);
    expect(m.eip).toBe(HERE + 4);
  });
  it("out dx, al: the port write reaches the I/O callback", () => {
    const { m, mo, io } = setup();
    m.edx = 0x3f8; m.eax = 0x41;
    mo.handle(gp(m.decode([0xee], HERE + 1))); // out dx, al
    expect(io).toEqual([{ port: 0x3f8, size: 1, value: 0x41 }]);
  });
  it("hlt with the virtual IF set asks the run loop to wait; with IF clear it stops the VM", () => {
    const a = setup();
    a.mo.v.vif = true;
    expect(a.mo.handle(gp(a.m.decode([0xf4], HERE + 1)))).toEqual({ hlt: true });
    const b = setup();
    b.mo.v.vif = false;
    expect(b.mo.handle(gp(b.m.decode([0xf4], HERE + 1)))).toMatchObject({ stop: "halted" });
  });
  it("without a record (a made-up exit from a CPU that gave none) the monitor fetches the instruction itself", () => {
    const { m, mo, g } = setup();
    g(HERE + 1, [0xfb]); // sti in memory
    mo.v.vif = false;
    mo.handle(gp(undefined));
    expect(mo.v.vif).toBe(true);
    expect(mo.stiShadow).toBe(true);
  });
  it("an instruction that is not privileged: the #GP is reflected through the guest IDT with its error code", () => {
    const { m, mo, rd32 } = setup();
    mo.handle(gp(m.decode([0x90], HERE + 1), 0x28));
    expect(m.eip).toBe(HANDLER + 13 * 16);
    expect(rd32(m.esp)).toBe(0x28); // error code on top of the frame
    expect(rd32(m.esp + 4)).toBe(HERE + 1);
    expect(mo.stats.reflected["13"]).toBe(1);
  });
});

describe("other exits", () => {
  it("#PF with paging off: a hidden fault filled into the shadow, nothing reflected", () => {
    const { m, mo } = setup();
    const before = mo.shadow.stats.hiddenFaults;
    m.setCr("cr2", 0x200123);
    expect(mo.handle({ reason: "exception", code: 6, eip: HERE + 1, vector: 14, errorCode: 2 })).toBeNull();
    expect(mo.shadow.stats.hiddenFaults).toBe(before + 1);
    expect(mo.stats.reflected["14"]).toBeUndefined();
  });
  it("#PF in the VMM-reserved linear region the guest maps (paging off: everything is mapped) stops the VM", () => {
    const { m, mo } = setup();
    m.setCr("cr2", 0xffc00010);
    expect(mo.handle({ reason: "exception", code: 6, eip: HERE + 1, vector: 14, errorCode: 0 })).toMatchObject({ stop: "shutdown" });
  });
  it("another exception (#DE) is reflected: handler 0, frame with RF, no error code", () => {
    const { m, mo, rd32 } = setup();
    mo.handle({ reason: "exception", code: 6, eip: HERE + 1, vector: 0 });
    expect(m.eip).toBe(HANDLER);
    expect(m.esp).toBe(KSTACK - 12);
    expect(rd32(m.esp)).toBe(HERE + 1);
    expect(rd32(m.esp + 4)).toBe(KCODE);
    expect(rd32(m.esp + 8) & 0x10000).toBe(0x10000);
  });
  it("a sensitive exit: the instruction it carries (pushf) is emulated, not what memory holds (a nop)", () => {
    const { m, mo, rd32 } = setup();
    m.eip = HERE + 1;
    mo.v.vif = true;
    expect(m.read8(VMM_SIZE + HERE)).toBe(0x9c); // guest memory is never modified
    expect(mo.handle({ reason: "sensitive", code: 12, eip: HERE + 1, insn: m.decode([0x9c], HERE + 1), insnLength: 1 })).toBeNull();
    expect(m.eip).toBe(HERE + 2);
    expect(m.esp).toBe(KSTACK - 4);
    expect(rd32(m.esp) & 0x200).toBe(0x200); // the virtual IF, not the real one
    expect(mo.stats.emulated["pushf"]).toBe(2); // (once in setup)
    expect(mo.stats.exits["sensitive pushf"]).toBe(2);
  });
  it("static translation: softint 3 at a patched address: the original instruction (pushf) is emulated", () => {
    const { m, mo, rd32 } = setup("static");
    m.eip = HERE + 1;
    mo.v.vif = true;
    expect(m.read8(VMM_SIZE + HERE)).toBe(0xcc);
    mo.handle({ reason: "softint", code: 7, eip: HERE, vector: 3, insnLength: 1 });
    expect(m.eip).toBe(HERE + 1);
    expect(m.esp).toBe(KSTACK - 4);
    expect(rd32(m.esp) & 0x200).toBe(0x200); // the virtual IF, not the real one
    expect(mo.stats.emulated["pushf"]).toBe(2); // (once in setup)
  });
  it("softint 0x80 (the guest's own INT): delivered through its gate, returning after the INT", () => {
    const { m, mo, rd32 } = setup();
    m.eip = HERE + 3;
    mo.handle({ reason: "softint", code: 7, eip: HERE + 1, vector: 0x80, insnLength: 2 });
    expect(m.eip).toBe(HANDLER + 0x80 * 16);
    expect(rd32(m.esp)).toBe(HERE + 3);
  });
  it("shutdown, an unexpected I/O exit and a budget exit", () => {
    const { mo } = setup();
    expect(mo.handle({ reason: "shutdown", code: 8, eip: 0x1234 })).toMatchObject({ stop: "shutdown" });
    expect(mo.handle({ reason: "io-in", code: 2, eip: 0x1234, port: 0x60, size: 1, in: true, string: false, rep: false, count: 1, immediate: true, insnLength: 2 }))
      .toMatchObject({ stop: "internal-error" });
    expect(mo.handle({ reason: "budget", code: 0, eip: 0x1234 })).toBeNull();
  });
  it("a #GP whose emulation faults (lgdt from an address past guest RAM) is delivered, never thrown", () => {
    const { m, mo } = setup();
    const insn = m.decode([0x0f, 0x01, 0x15, ...d32(0x7ffffff0)], HERE + 1); // lgdt [0x7ffffff0]
    expect(() => mo.handle(gp(insn))).not.toThrow();
  });
});
