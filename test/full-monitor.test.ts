// full-monitor.test.ts — host/full/monitor.ts with made-up guests: each privileged instruction trapped and
// emulated against the virtual CPU, reflection through the guest IDT, and the x86-hole switch.
import { describe, it, expect } from "vitest";
import { Machine } from "../host/machine.ts";
import { Monitor, VMM_SIZE, type HandleResult } from "../host/full/monitor.ts";

const RAM = 4 << 20;
function setup(code: number[], opts: { closeHole?: boolean; translate?: "runtime" | "static"; fastPaths?: boolean } = {}) {
  const m = new Machine({ memSize: RAM + VMM_SIZE, exceptionBitmap: 0xffffffff, exitOnSoftInt: true, exitOnHlt: true });
  const io: { port: number; size: number; value: number }[] = [];
  const mo = new Monitor(m, {
    guestRam: RAM, closeHole: opts.closeHole, translate: opts.translate, fastPaths: opts.fastPaths,
    io: { ioRead: (port) => (port === 0x60 ? 0x5a : 0xff), ioWrite: (port, size, value) => { io.push({ port, size, value }); } },
  });
  m.writeMem(VMM_SIZE + 0x1000, code);
  if (opts.translate === "static") mo.patcher.addRegion(0x1000, 0x1000 + code.length, [0x1000]);
  m.setFlatProtectedMode();
  m.eip = 0x1000; m.esp = 0x8000; m.eflags = 0x2;
  mo.start();
  return { m, mo, io };
}
/** runs until the monitor reports something (hlt / stop) or `max` exits */
function go(mo: Monitor, max = 50): HandleResult {
  for (let i = 0; i < max; i++) {
    const r = mo.handle(mo.m.run(10_000));
    if (r) return r;
  }
  return null;
}

describe("deprivileging", () => {
  it("runs the guest kernel at CPL 3 with a virtual CPL 0 and guest RAM at an offset", () => {
    const { m, mo } = setup([0xf4]);
    expect(m.cpl).toBe(3);
    expect(mo.v.cpl).toBe(0);
    expect(m.getSegment("cs").selector).toBe(0x0b);
    expect(mo.vsel("cs")).toBe(0x08);
    expect(m.getCr("cr0") & 0x80000000).not.toBe(0); // the CPU always walks shadow tables
    expect(m.getCr("cr3")).toBeLessThan(VMM_SIZE);
  });
});

describe("trap and emulate", () => {
  it("cli / sti change only the virtual IF; hlt with IF=0 stops", () => {
    // (the monitor's emulation: the CPU's fast path off; test/full-fast.test.ts runs both)
    const { m, mo } = setup([0xfb, 0x90, 0xfa, 0xf4], { fastPaths: false });
    expect(go(mo)).toMatchObject({ stop: "halted" });
    expect(mo.stats.emulated).toMatchObject({ sti: 1, cli: 1, hlt: 1 });
    expect(m.eflags & 0x200).toBe(0x200); // the real IF never changes
    expect(m.eflags & 0x3000).toBe(0);
  });
  it("hlt with IF=1 asks the VM to wait", () => {
    const { m, mo } = setup([0xfb, 0xf4]);
    expect(go(mo)).toEqual({ hlt: true });
    expect(m.eip).toBe(0x1002);
  });
  it("in / out go to the device models", () => {
    // in al,0x60 ; mov dx,0x3f8 ; out dx,al ; hlt
    const { m, mo, io } = setup([0xe4, 0x60, 0x66, 0xba, 0xf8, 0x03, 0xee, 0xf4]);
    go(mo);
    expect(m.eax & 0xff).toBe(0x5a);
    expect(io).toEqual([{ port: 0x3f8, size: 1, value: 0x5a }]);
  });
  it("rep outsb is emulated as a whole", () => {
    // mov esi,0x2000 ; mov ecx,3 ; mov dx,0xe9 ; rep outsb ; hlt
    const { m, mo, io } = setup([0xbe, 0, 0x20, 0, 0, 0xb9, 3, 0, 0, 0, 0x66, 0xba, 0xe9, 0, 0xf3, 0x6e, 0xf4]);
    m.writeMem(VMM_SIZE + 0x2000, [0x41, 0x42, 0x43]);
    go(mo);
    expect(io.map((x) => x.value)).toEqual([0x41, 0x42, 0x43]);
    expect(m.ecx).toBe(0);
  });
  it("mov to/from CR0/CR2/CR3/CR4, clts, lmsw and DRn act on the virtual CPU", () => {
    // mov eax,0x1234 ; mov cr2,eax ; mov ebx,cr2 ; mov eax,0x10 ; mov cr4,eax ; mov ecx,cr0 ; clts ; mov dr0,eax ; mov edx,dr0 ; hlt
    const { m, mo } = setup([0xb8, 0x34, 0x12, 0, 0, 0x0f, 0x22, 0xd0, 0x0f, 0x20, 0xd3, 0xb8, 0x10, 0, 0, 0, 0x0f, 0x22, 0xe0,
      0x0f, 0x20, 0xc1, 0x0f, 0x06, 0x0f, 0x23, 0xc0, 0x0f, 0x21, 0xc2, 0xf4]);
    go(mo);
    expect(mo.v.cr2).toBe(0x1234);
    expect(m.ebx).toBe(0x1234);
    expect(mo.v.cr4).toBe(0x10);
    expect(m.ecx & 1).toBe(1);
    expect(m.edx).toBe(0x10);
  });
  it("lgdt / lidt / sgdt / sidt see the guest's tables, not the VMM's", () => {
    // lgdt [0x3000] ; lidt [0x3010] ; sgdt [0x3020] ; sidt [0x3030] ; hlt
    const { m, mo } = setup([0x0f, 0x01, 0x15, 0, 0x30, 0, 0, 0x0f, 0x01, 0x1d, 0x10, 0x30, 0, 0,
      0x0f, 0x01, 0x05, 0x20, 0x30, 0, 0, 0x0f, 0x01, 0x0d, 0x30, 0x30, 0, 0, 0xf4]);
    m.writeMem(VMM_SIZE + 0x3000, [0x17, 0, 0, 0x40, 0, 0]);
    m.writeMem(VMM_SIZE + 0x3010, [0xff, 7, 0, 0x50, 0, 0]);
    go(mo);
    expect(mo.v.gdtr).toEqual({ base: 0x4000, limit: 0x17 });
    expect(mo.v.idtr).toEqual({ base: 0x5000, limit: 0x7ff });
    expect([...m.readMem(VMM_SIZE + 0x3020, 6)]).toEqual([0x17, 0, 0, 0x40, 0, 0]);
    expect([...m.readMem(VMM_SIZE + 0x3030, 6)]).toEqual([0xff, 7, 0, 0x50, 0, 0]);
    expect(m.getGdtr().base >>> 0).toBeGreaterThanOrEqual(0xffc00000); // the real GDT is in the VMM region
  });
  it("mov from cs / smsw show virtual values", () => {
    // mov eax,cs ; smsw ebx ; hlt
    const { m, mo } = setup([0x8c, 0xc8, 0x0f, 0x01, 0xe3, 0xf4]);
    go(mo);
    expect(m.eax & 0xffff).toBe(0x08);
    expect(m.ebx).toBe(mo.v.cr0);
    expect(m.ebx & 0x80000000).toBe(0);
  });
});

describe("reflection through the guest IDT", () => {
  it("#DE from the kernel goes to the guest's handler with the guest frame", () => {
    // IDT at 0x5000: vector 0 → 0x08:0x1100 (interrupt gate); GDT at 0x4000: null, code 0x08, data 0x10
    const { m, mo } = setup([0x0f, 0x01, 0x15, 0, 0x30, 0, 0, 0x0f, 0x01, 0x1d, 0x10, 0x30, 0, 0, 0xfb, 0x31, 0xc9, 0xf7, 0xf1]);
    m.writeMem(VMM_SIZE + 0x3000, [0x17, 0, 0, 0x40, 0, 0]);
    m.writeMem(VMM_SIZE + 0x3010, [0xff, 7, 0, 0x50, 0, 0]);
    m.writeMem(VMM_SIZE + 0x4008, [0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0]);
    m.writeMem(VMM_SIZE + 0x4010, [0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0]);
    m.writeMem(VMM_SIZE + 0x5000, [0x00, 0x11, 0x08, 0, 0, 0x8e, 0, 0]);
    m.writeMem(VMM_SIZE + 0x1100, [0xf4]);
    go(mo);
    expect(mo.stats.reflected["0"]).toBe(1);
    expect(m.esp).toBe(0x8000 - 12);
    expect(m.read32(VMM_SIZE + 0x8000 - 12)).toBe(0x1011); // EIP of the div
    expect(m.read32(VMM_SIZE + 0x8000 - 8)).toBe(0x08); // virtual CS
    expect(m.read32(VMM_SIZE + 0x8000 - 4) & 0x10200).toBe(0x10200); // virtual IF=1, RF=1 (fault)
    expect(mo.v.vif).toBe(false); // interrupt gate
  });
});

describe("the x86 hole switch", () => {
  // cli ; pushf ; pop eax ; push 0x202 ; popf ; pushf ; pop ebx ; hlt
  const code = [0xfa, 0x9c, 0x58, 0x68, 0x02, 0x02, 0, 0, 0x9d, 0x9c, 0x5b, 0xf4];
  it("closed (patched): pushf shows the virtual IF, popf sets it", () => {
    const { m, mo } = setup(code, { fastPaths: false });
    expect(go(mo)).toEqual({ hlt: true });
    expect(m.eax & 0x200).toBe(0);
    expect(m.ebx & 0x200).toBe(0x200);
    expect(mo.v.vif).toBe(true);
    expect(mo.stats.emulated).toMatchObject({ pushf: 2, popf: 1 });
  });
  it("open: pushf leaks the real IF=1 inside cli, popf silently leaves IF clear, the guest halts for good", () => {
    const { m, mo } = setup(code, { closeHole: false });
    const r = go(mo);
    expect(m.eax & 0x200).toBe(0x200); // wrong: interrupts look enabled inside the critical section
    expect(mo.v.vif).toBe(false);      // wrong: popf at CPL 3 did not re-enable them
    expect(r).toMatchObject({ stop: "halted" });
  });
});
