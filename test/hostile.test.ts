// hostile.test.ts — hostile guest states end in guest faults or a `shutdown` exit, never a host error or a hang,
// and never touch wasm memory outside guest RAM: broken IDT/GDT/TSS, page tables and pages past the end of RAM,
// fault loops, a one-instruction infinite loop, code in MMIO space, tiny RAM with code at its top.
// Each machine is prepared by the trap lab (host/traps.ts: GDT, IDT with `hlt` stubs, TSS, page tables) and driven
// here exit by exit, completing IN/MMIO reads with all-ones as an empty bus would.
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import "./matchers.ts";
import { Machine, type Exit } from "../host/machine.ts";
import * as A from "../host/abi.generated.ts";
import { trapLab, LAB, type TrapLabOptions } from "../host/traps.ts";
import { guardedRegions } from "./diff/fuzz.ts";

const HAVE_CPU = existsSync(new URL("../build/cpu.wasm", import.meta.url));
const d = HAVE_CPU ? describe : describe.skip;

/** Every byte of wasm memory the guest must never reach: the CPU's guards plus the slack after RAM. */
function guards(m: Machine): [number, number][] {
  return [...guardedRegions(m.ramSize), [A.RAM_BASE + m.ramSize, m.memory.buffer.byteLength]];
}
function sums(m: Machine): number[] {
  const u32 = new Uint32Array(m.memory.buffer);
  return guards(m).map(([a, b]) => {
    let h = 0x811c9dc5 | 0;
    for (let i = a >>> 2; i < b >>> 2; i++) h = Math.imul(h ^ u32[i], 0x01000193);
    return h >>> 0;
  });
}

interface Driven { exits: Exit[]; last: Exit; ms: number; retired: number; vector?: number }
/** Run to a final exit (not IN/OUT/MMIO), completing reads with all-ones; checks the guards around it. */
function drive(m: Machine, budget = 1_000_000, maxExits = 1000): Driven {
  const before = sums(m);
  const i0 = m.instructions;
  const t0 = performance.now();
  const exits: Exit[] = [];
  let last: Exit = m.exit();
  for (let n = 0; n < maxExits; n++) {
    last = m.run(budget - (m.instructions - i0));
    exits.push(last);
    if (last.reason === "io-in" || last.reason === "mmio-read") { m.completeIo(0xffffffff); continue; }
    if (last.reason === "io-out" || last.reason === "mmio-write") continue;
    break;
  }
  const ms = performance.now() - t0;
  expect(sums(m), "wasm memory outside guest RAM changed").toEqual(before);
  expect(["io-in", "io-out", "mmio-read", "mmio-write"], `still exiting after ${maxExits} exits`).not.toContain(last.reason);
  const off = last.eip - LAB.STUBS;
  const vector = last.reason === "hlt" && off >= 0 && off < 256 * LAB.STUB_SIZE && off % LAB.STUB_SIZE === 0 ? off / LAB.STUB_SIZE : undefined;
  return { exits, last, ms, retired: m.instructions - i0, vector };
}
/** The outcome a hostile state may have: a guest fault reaching a handler stub, a shutdown, the budget, or completion. */
function expectContained(r: Driven, allowed: ("fault" | "shutdown" | "budget" | "completed")[]) {
  const kind = r.vector !== undefined ? "fault" : r.last.reason === "shutdown" ? "shutdown" : r.last.reason === "budget" ? "budget"
    : r.last.reason === "hypercall" ? "completed" : r.last.reason;
  expect(allowed, `ended with ${JSON.stringify(r.last)}`).toContain(kind);
  expect(r.ms).toBeLessThan(10_000);
}
const lab = trapLab({ memSize: 1 << 20 });
const prep = (code: string | number[], o: TrapLabOptions = {}) => lab.prepare(code, o, "idt");
const mmio = (r: Driven, kind: "mmio-read" | "mmio-write") => r.exits.flatMap((e) => (e.reason === kind ? [e.port] : []));

d("broken descriptor tables", () => {
  it("IDT limit 0: an exception triple-faults", () => {
    const r = drive(prep("0f 0b", { idtLimit: 0 })); // ud2
    expectContained(r, ["shutdown"]);
  });
  it("IDT limit 0: an external interrupt triple-faults", () => {
    const m = prep("90 90 90", { idtLimit: 0 });
    m.setIntr(true, 0x20);
    expectContained(drive(m), ["shutdown"]);
  });
  it("IDT limit 0 at CPL 3: int 0x80 triple-faults", () => {
    expectContained(drive(prep("cd 80", { cpl: 3, idtLimit: 0 })), ["shutdown"]);
  });
  it("IDT base outside RAM: gates read as all-ones (invalid) → shutdown", () => {
    expectContained(drive(prep("0f 0b", { idtBase: 0xf0000000 })), ["shutdown"]);
    expectContained(drive(prep("cd 80", { cpl: 3, idtBase: 0xfffff800 })), ["shutdown"]);
  });
  it("IDT straddling the end of RAM", () => {
    expectContained(drive(prep("0f 0b", { idtBase: (1 << 20) - 0x34 })), ["shutdown", "fault"]);
  });
  it("TSS outside RAM on a ring switch → shutdown (SS0 from an empty bus is not usable)", () => {
    const o: TrapLabOptions = { cpl: 3, gates: { 0x80: { dpl: 3 } }, gdt: { 0x28: { base: 0xf0000000, limit: 0x2068, access: 0x89 } } };
    expectContained(drive(prep("cd 80", o)), ["shutdown"]);
    // the same TSS is never read without a ring switch
    expectContained(drive(prep("cd 80", { ...o, cpl: 0 })), ["fault"]);
  });
  it("TSS straddling the end of RAM on a ring switch", () => {
    const o: TrapLabOptions = { cpl: 3, gates: { 0x80: { dpl: 3 } }, gdt: { 0x28: { base: (1 << 20) - 6, limit: 0x67, access: 0x89 } } };
    expectContained(drive(prep("cd 80", o)), ["shutdown", "fault"]);
  });
  it("TSS limit too small for ESP0/SS0 on a ring switch: #TS cannot be delivered either → shutdown", () => {
    const r = trapLab({ cpl: 3 }).run("cd 80", { gates: { 0x80: { dpl: 3 } }, tss: { limit: 0x7 } });
    expect(r).toShutdown();
    expectContained(drive(prep("0f 0b", { cpl: 3, tss: { limit: 0x7 } })), ["shutdown"]);
  });
  it("GDT base outside RAM: descriptors read as all-ones", () => {
    expectContained(drive(prep("8e d8", { regs: { eax: 0x10 }, gdtBase: 0xf0000000 })), ["completed", "fault", "shutdown"]); // mov ds, ax
    // int 0x80: delivery reads the CS descriptor from the bus as all-ones (a present conforming code segment
    // based at 0xffffffff), so the handler may even run — anywhere but the host's memory
    expectContained(drive(prep("cd 80", { gdtBase: 0xf0000000 })), ["fault", "shutdown", "budget"]);
    expectContained(drive(prep("cd 80", { cpl: 3, gates: { 0x80: { dpl: 3 } }, gdtBase: 0xfffffff0, gdtLimit: 0xffff })), ["fault", "shutdown", "budget"]);
  });
  it("GDT limit 0: every selector load faults; delivery cannot load CS → shutdown", () => {
    expectContained(drive(prep("0f 0b", { gdtLimit: 0 })), ["shutdown"]);
  });
});

d("paging structures and pages past the end of RAM", () => {
  it("CR3 past the end of RAM: every entry reads all-ones, nothing is written", () => {
    const m = prep("a1 00 00 40 00", { paging: true, setup: (mm) => mm.setCr("cr3", 0xfffff000) });
    expectContained(drive(m), ["shutdown", "fault"]);
  });
  it("CR3 just below the end of RAM (the page directory straddles it)", () => {
    const m = prep("a1 00 00 c0 ff", { paging: true, setup: (mm) => { mm.fillMem(0xff000, 0x1000, 0); mm.setCr("cr3", 0xff000); } });
    expectContained(drive(m), ["shutdown", "fault"]);
  });
  it("a PDE pointing past RAM: its page table reads all-ones, so the access reaches MMIO at 0xfffff000", () => {
    const m = prep("a1 00 00 40 00", { paging: true, setup: (mm) => mm.write32(LAB.PAGE_DIR + 4, 0xf0000007) }); // mov eax, [0x400000]
    const r = drive(m);
    expectContained(r, ["completed"]);
    expect(mmio(r, "mmio-read")).toEqual([0xfffff000]);
    expect(m.eax).toBe(0xffffffff);
  });
  it("a PTE pointing past RAM: the write exits as MMIO at that address", () => {
    const m = prep("a3 10 00 40 00", { paging: { pages: [{ va: 0x400000, pa: 0xf0000000 }] }, regs: { eax: 0x1234 } }); // mov [0x400010], eax
    const r = drive(m);
    expectContained(r, ["completed"]);
    expect(r.exits.find((e) => e.reason === "mmio-write")).toMatchObject({ port: 0xf0000010, size: 4, value: 0x1234 });
  });
  it("a 4 MiB page mapping past RAM exits as MMIO and never touches host memory", () => {
    const o: TrapLabOptions = { paging: { pages: [{ va: 0x400000, pa: 0xf0000000, large: true }] }, regs: { eax: 0x55aa } };
    const w = drive(prep("a3 23 01 40 00", o)); // mov [0x400123], eax
    expect(w.exits.find((e) => e.reason === "mmio-write")).toMatchObject({ port: 0xf0000123, value: 0x55aa });
    const r = drive(prep("8b 1d fc ff 7f 00", o)); // mov ebx, [0x7ffffc]
    expect(mmio(r, "mmio-read")).toEqual([0xf03ffffc]);
  });
  it("a 4 MiB page straddling the end of RAM: RAM below the end, MMIO above", () => {
    const m = prep("a1 fc ff 4f 00 8b 1d 00 00 50 00", { // mov eax, [0x4ffffc]; mov ebx, [0x500000]
      paging: { pages: [{ va: 0x400000, pa: 0, large: true }] }, setup: (mm) => mm.write32(0xffffc, 0x11223344),
    });
    const r = drive(m);
    expectContained(r, ["completed"]);
    expect(m.eax).toBe(0x11223344);
    expect(mmio(r, "mmio-read")).toEqual([0x100000]);
    expect(m.ebx).toBe(0xffffffff);
  });
  it("a 4 MiB page past RAM used as the stack during delivery", () => {
    const m = prep("0f 0b", { paging: { pages: [{ va: 0x800000, pa: 0xf0000000, large: true }] }, regs: { esp: 0x800100 } });
    expectContained(drive(m), ["fault", "shutdown"]);
  });
});

d("loops", () => {
  it("an infinite #PF loop whose handler returns to the fault (add esp, 4; iret) stops exactly at the budget", () => {
    const m = prep("a1 00 00 40 00", { // mov eax, [0x400000] — never mapped
      paging: true, gates: { 14: { offset: LAB.DATA } },
      setup: (mm) => mm.writeMem(LAB.DATA, [0x83, 0xc4, 0x04, 0xcf]), // add esp, 4; iret
    });
    const r = drive(m, 100_000);
    expectContained(r, ["budget"]);
    // a delivery retires nothing and is only counted while nothing retires (assembly/cpu.ts run()), so the budget
    // is exactly the instructions retired
    expect(r.retired).toBe(100_000);
    expect(m.esp).toBe(LAB.KSTACK_TOP); // the frames are popped each time
  });
  it("the same loop at CPL 3 (ring switch every time)", () => {
    const m = prep("a1 00 00 40 00", {
      cpl: 3, paging: true, gates: { 14: { offset: LAB.DATA + 0x100 } },
      setup: (mm) => mm.writeMem(LAB.DATA + 0x100, [0x83, 0xc4, 0x04, 0xcf]),
    });
    const r = drive(m, 50_001);
    expectContained(r, ["budget"]);
    expect(r.retired).toBe(50_001);
  });
  it("a #PF handler that is itself not mapped: the delivery loop retires nothing and ends in shutdown when the stack runs out", () => {
    const r = drive(prep("a1 00 00 40 00", { paging: true, gates: { 14: { offset: 0x500000 } } }));
    expectContained(r, ["shutdown"]);
    expect(r.retired).toBe(0);
  });
  it("a #UD handler that is ud2 (a benign fault loop) with paging off: ends when the stack leaves RAM", () => {
    const m = prep("0f 0b", { gates: { 6: { offset: LAB.DATA } }, setup: (mm) => mm.writeMem(LAB.DATA, [0x0f, 0x0b]) });
    expectContained(drive(m, 1_000_000, 100_000), ["fault", "shutdown", "budget"]);
  });
  for (const budget of [1, 2, 1000, 1_000_003]) {
    it(`jmp $ stops at the budget (${budget})`, () => {
      const m = prep("eb fe"); // jmp $
      const r = drive(m, budget);
      expectContained(r, ["budget"]);
      expect(r.retired).toBe(budget);
      expect(m.eip).toBe(LAB.CODE);
    });
  }
  it("jmp $ at CPL 3 with paging, run again after the budget", () => {
    const m = prep("eb fe", { cpl: 3, paging: true });
    for (let i = 0; i < 3; i++) expect(drive(m, 300_000).retired).toBe(300_000);
  });
  it("a loop with an interrupt shadow (mov ss; jmp $) stops at the budget", () => {
    const m = prep("8e d0 eb fc", { regs: { eax: 0x10 } }); // mov ss, ax; jmp -4
    expect(drive(m, 10_001).retired).toBe(10_001);
  });
});

d("code in MMIO space and RAM edges", () => {
  it("executing from MMIO space (paging off): open-bus bytes 0xff 0xff raise #UD", () => {
    const r = drive(prep([0xe9, ...le32(0xf0000000 - (LAB.CODE + 5))])); // jmp 0xf0000000
    expectContained(r, ["fault"]);
    expect(r.vector).toBe(6);
  });
  it("executing from a page mapped to MMIO (paging on) at CPL 3", () => {
    const r = drive(prep([0xe9, ...le32(0x400000 - (LAB.CODE + 5))], { cpl: 3, paging: { pages: [{ va: 0x400000, pa: 0xf0000000 }] } }));
    expectContained(r, ["fault"]);
    expect(r.vector).toBe(6);
  });
  it("1 MiB RAM: code at the top runs off the end into open bus → #UD at 0x100000", () => {
    const r = trapLab({ memSize: 1 << 20 }).run([0xe9, ...le32(0xffff8 - (LAB.CODE + 5))], { // jmp 0xffff8
      setup: (m) => m.writeMem(0xffff8, [0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40]), // inc eax ×8
    });
    expect(r).toTrap("#UD");
    expect(r.trap!.eip).toBe(0x100000);
    expect(r.state.eax).toBe(8);
  });
  it("1 MiB RAM: an instruction straddling the end of RAM takes open-bus bytes for its tail", () => {
    const r = trapLab({ memSize: 1 << 20 }).run([0xe9, ...le32(0xffffe - (LAB.CODE + 5))], {
      setup: (m) => m.writeMem(0xffffe, [0xb8, 0x34]), // mov eax, 0xffffff34 (3 bytes from the bus)
    });
    expect(r.state.eax).toBe(0xffffff34);
    expect(r).toTrap("#UD");
    expect(r.trap!.eip).toBe(0x100003);
  });
  it("1 MiB RAM: a store straddling the end of RAM writes the RAM part and exits for the rest", () => {
    const m = prep("a3 fe ff 0f 00", { regs: { eax: 0xaabbccdd } }); // mov [0xffffe], eax
    const r = drive(m);
    expectContained(r, ["completed"]);
    expect(m.read16(0xffffe)).toBe(0xccdd);
    expect(mmio(r, "mmio-write").length).toBeGreaterThan(0);
  });
  it("1 MiB RAM: the stack pointer past the end of RAM when an exception is delivered", () => {
    expectContained(drive(prep("0f 0b", { regs: { esp: 0x100100 } })), ["fault", "shutdown"]);
    expectContained(drive(prep("0f 0b", { regs: { esp: 0x100004 } })), ["fault", "shutdown"]);
  });
  it("4 KiB RAM: code at the top runs off the end into open bus; no IDT → shutdown", () => {
    const m = new Machine({ memSize: 4096 });
    m.setFlatProtectedMode();
    m.writeMem(0xff8, [0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40]); // inc eax ×8
    m.eip = 0xff8; m.esp = 0x800;
    const r = drive(m);
    expectContained(r, ["shutdown"]);
    expect(m.eax).toBe(8);
  });
  it("4 KiB RAM: loads and stores straddling the end of RAM never reach the wasm memory after it", () => {
    const m = new Machine({ memSize: 4096 });
    m.setFlatProtectedMode();
    // mov [0xffe], eax; mov ebx, [0xffd]; mov [0xfff], ax; hlt
    m.writeMem(0x100, [0xa3, 0xfe, 0x0f, 0, 0, 0x8b, 0x1d, 0xfd, 0x0f, 0, 0, 0x66, 0xa3, 0xff, 0x0f, 0, 0, 0xf4]);
    m.eip = 0x100; m.esp = 0x800; m.eax = 0x11223344;
    const r = drive(m);
    expect(r.last.reason).toBe("hlt");
    expect(m.read16(0xffe)).toBe(0x4444);
    expect(m.ebx).toBe(0xff334400); // the byte past RAM reads as open bus
  });
});

function le32(v: number): number[] {
  v >>>= 0;
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
}
