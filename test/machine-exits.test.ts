// machine-exits.test.ts — host/machine.ts's typed exits: the discriminated union run() returns, the VT-x-style
// qualification the CPU fills (I/O, control- and debug-register accesses), the faulting instruction the CPU
// decoded, and Machine.decode (the CPU's decoder for monitors). Raw instruction bytes with their disassembly.
import { describe, it, expect } from "vitest";
import { Machine, type Exit } from "../host/machine.ts";

const CODE = 0x1000;
function machine(code: number[], o: { user?: boolean; exceptionBitmap?: number; memSize?: number } = {}) {
  const m = new Machine({ memSize: o.memSize ?? 1 << 20, exceptionBitmap: o.exceptionBitmap ?? 0xffffffff, exitOnHlt: true });
  m.setFlatProtectedMode();
  if (o.user) {
    m.setSegment("cs", { selector: 0x1b, base: 0, limit: 0xffffffff, attr: 0xc0fb });
    m.setSegment("ss", { selector: 0x23, base: 0, limit: 0xffffffff, attr: 0xc0f3 });
  }
  m.writeMem(CODE, code);
  m.eip = CODE; m.esp = 0x8000;
  return m;
}
/** narrows an exit to one reason (the test fails otherwise) */
function as<R extends Exit["reason"]>(e: Exit, reason: R): Extract<Exit, { reason: R }> {
  expect(e.reason).toBe(reason);
  return e as Extract<Exit, { reason: R }>;
}

describe("I/O exits carry the I/O qualification", () => {
  it("out 0x80, al: immediate port, size 1, the value, the length", () => {
    const m = machine([0xb0, 0x5a, 0xe6, 0x80]); // mov al, 0x5a ; out 0x80, al
    const e = as(m.run(), "io-out");
    expect(e).toMatchObject({ port: 0x80, size: 1, in: false, string: false, rep: false, count: 1, immediate: true, value: 0x5a, insnLength: 2, eip: CODE + 2 });
  });
  it("in ax, dx: port from DX, size 2", () => {
    const m = machine([0x66, 0xba, 0xf8, 0x03, 0x66, 0xed]); // mov dx, 0x3f8 ; in ax, dx
    const e = as(m.run(), "io-in");
    expect(e).toMatchObject({ port: 0x3f8, size: 2, in: true, string: false, immediate: false, insnLength: 2 });
  });
  it("rep outsw: string, REP, and the count still to move (this element included)", () => {
    const m = machine([0xf3, 0x66, 0x6f]); // rep outsw
    m.edx = 0x80; m.ecx = 5; m.esi = 0x2000;
    const e = as(m.run(), "io-out");
    expect(e).toMatchObject({ port: 0x80, size: 2, in: false, string: true, rep: true, count: 5, insnLength: 3 });
  });
});

describe("exception exits carry the instruction the CPU decoded and its qualification", () => {
  it("mov cr3, eax at CPL 3: #GP(0) with a CR access (mov-to, CR3, EAX)", () => {
    const e = as(machine([0x0f, 0x22, 0xd8], { user: true }).run(), "exception"); // mov cr3, eax
    expect([e.vector, e.errorCode, e.eip, e.insnLength]).toEqual([13, 0, CODE, 3]);
    expect(e.cr).toEqual({ cr: 3, access: "mov-to", gpr: 0 });
    expect(e.insn).toMatchObject({ op: 0x0f22, len: 3, reg: 3, rm: 0, mod: 3 });
  });
  it("mov esi, cr0 / clts / lmsw cx / mov dr7, ebx at CPL 3", () => {
    const q = (code: number[]) => as(machine(code, { user: true }).run(), "exception");
    expect(q([0x0f, 0x20, 0xc6]).cr).toEqual({ cr: 0, access: "mov-from", gpr: 6 }); // mov esi, cr0
    expect(q([0x0f, 0x06]).cr).toEqual({ cr: 0, access: "clts", gpr: -1 }); // clts
    const m = machine([0x0f, 0x01, 0xf1], { user: true }); // lmsw cx
    m.ecx = 0xabcd0009;
    expect(as(m.run(), "exception").cr).toEqual({ cr: 0, access: "lmsw", gpr: 1, lmswData: 0x0009 });
    expect(q([0x0f, 0x01, 0x35, 0, 0x20, 0, 0]).cr).toEqual({ cr: 0, access: "lmsw", gpr: -1 }); // lmsw [0x2000]
    expect(q([0x0f, 0x23, 0xfb]).dr).toEqual({ dr: 7, access: "mov-to", gpr: 3 }); // mov dr7, ebx
    expect(q([0x0f, 0x21, 0xc2]).dr).toEqual({ dr: 0, access: "mov-from", gpr: 2 }); // mov edx, dr0
  });
  it("in al, 0x60 at CPL 3 with IOPL 0: #GP with the I/O qualification", () => {
    const e = as(machine([0xe4, 0x60], { user: true }).run(), "exception"); // in al, 0x60
    expect(e.vector).toBe(13);
    expect(e.io).toMatchObject({ port: 0x60, size: 1, in: true, immediate: true, string: false });
  });
  it("a fault's instruction has its memory operand decoded (base, index, scale, disp, segment)", () => {
    // a write past the DS limit: mov [ebx+esi*4+0x10], eax
    const m = machine([0x89, 0x44, 0xb3, 0x10]);
    m.setSegment("ds", { selector: 0x10, base: 0, limit: 0xfff, attr: 0x4093 });
    m.ebx = 0x2000;
    const e = as(m.run(), "exception");
    expect(e.vector).toBe(13);
    expect(e.insn).toMatchObject({ op: 0x89, mem: true, base: 3, index: 6, scale: 4, disp: 0x10, segment: 3, seg: -1, len: 4 });
  });
  it("a trap-class exception (#DB after a single step) carries no instruction; #UD does", () => {
    const m = machine([0x90, 0x90]);
    m.eflags = 0x102; // TF
    const e = as(m.run(), "exception");
    expect(e.vector).toBe(1);
    expect(e.insn).toBeUndefined();
    const u = as(machine([0x0f, 0x0b]).run(), "exception"); // ud2
    expect(u.vector).toBe(6);
    expect(u.insn).toMatchObject({ op: 0x0f0b, len: 2 });
  });
  it("a fault on the instruction fetch itself carries no instruction", () => {
    const m = machine([0x90]);
    m.setSegment("cs", { selector: 0x08, base: 0, limit: 0x1fff, attr: 0x409b });
    m.eip = 0x2000; // past the CS limit: #GP(0) on the fetch
    const e = as(m.run(), "exception");
    expect([e.vector, e.errorCode, e.eip]).toEqual([13, 0, 0x2000]);
    expect(e.insn).toBeUndefined();
  });
  it("softint exits: vector and length; the INT instruction through exitInsn()", () => {
    const m = new Machine({ memSize: 1 << 20, exitOnSoftInt: true });
    m.setFlatProtectedMode();
    m.writeMem(CODE, [0xcd, 0x80]); // int 0x80
    m.eip = CODE;
    const e = as(m.run(), "softint");
    expect([e.vector, e.insnLength, e.eip]).toEqual([0x80, 2, CODE]);
    expect(m.exitInsn()).toMatchObject({ op: 0xcd, imm: 0x80 });
  });
  it("MMIO exits: address, size, direction, value", () => {
    const m = machine([0xa3, ...[0, 0, 0, 0xf0], 0xa1, ...[4, 0, 0, 0xf0]]); // mov [0xf0000000], eax ; mov eax, [0xf0000004]
    m.eax = 0x12345678;
    const w = as(m.run(), "mmio-write");
    expect(w).toMatchObject({ address: 0xf0000000, port: 0xf0000000, size: 4, write: true, value: 0x12345678, insnLength: 5, eip: CODE });
    const r = as(m.run(), "mmio-read");
    expect(r).toMatchObject({ address: 0xf0000004, size: 4, write: false, insnLength: 5, eip: CODE + 5 });
  });
  it("TypeScript narrows on reason (compile-time check: the fields exist without assertions)", () => {
    const e = machine([0xe6, 0x80]).run();
    let port = -1;
    switch (e.reason) {
      case "io-out": port = e.port + e.count - 1; break; // typed: no `!`
      case "exception": port = e.vector; break;
      default: break;
    }
    expect(port).toBe(0x80);
  });
});

describe("Machine.decode: the CPU's decoder for monitors", () => {
  const m = new Machine({ memSize: 4096 });
  it.each([
    [[0x90], { op: 0x90, len: 1 }], // nop
    [[0x8b, 0x44, 0x24, 0x08], { op: 0x8b, len: 4, base: 4, index: -1, disp: 8, segment: 2 }], // mov eax, [esp+8]
    [[0xc7, 0x05, 1, 2, 3, 4, 5, 6, 7, 8], { op: 0xc7, len: 10, disp: 0x04030201, imm: 0x08070605, base: -1 }], // mov dword [0x04030201], 0x08070605
    [[0x66, 0xb8, 1, 2], { op: 0xb8, len: 4, opsize16: true, imm: 0x201 }], // mov ax, 0x201
    [[0xea, 1, 2, 3, 4, 8, 0], { op: 0xea, len: 7, imm: 0x04030201, imm2: 8 }], // jmp 0x8:0x04030201
    [[0x67, 0x8b, 0x46, 0x02], { len: 4, addrsize16: true, base: 5, disp: 2, segment: 2 }], // mov eax, [bp+2]
    [[0x26, 0xf3, 0xab], { op: 0xab, len: 3, seg: 0, rep: 0xf3 }], // rep stos dword es:[edi] (override decoded)
    [[0xa1, 0x10, 0, 0, 0], { op: 0xa1, len: 5, disp: 0x10, imm: 0x10 }], // mov eax, [0x10]
    [[0x0f, 0x22, 0xd8], { op: 0x0f22, len: 3, reg: 3, rm: 0, hasModrm: true }], // mov cr3, eax
    [[0xf0, 0x90], { op: -1, len: 2, lock: true }], // lock nop: #UD
    [[0x83, 0x6c, 0x24, 0xfc, 0x01], { disp: -4, imm: 1 }], // sub dword [esp-4], 1
  ])("%j", (bytes, want) => {
    expect(m.decode(bytes as number[], 0x1000)).toMatchObject({ addr: 0x1000, ...want });
  });
  it("reports a length past the bytes given: the caller fetches more", () => {
    expect(m.decode([0xb8, 1, 2]).len).toBe(5);
    expect(m.decode([0xb8, 1, 2, 3, 4]).len).toBe(5);
  });
  it("decoding changes nothing in the CPU", () => {
    const n = machine([0x40, 0x40, 0xf4]); // inc eax ; inc eax ; hlt
    n.decode([0x0f, 0x22, 0xd8], 0x5555);
    expect(n.run().reason).toBe("hlt");
    expect([n.eax, n.eip]).toEqual([2, CODE + 3]);
  });
});

describe("Machine.rules: the CPU's protection and exception rules as pure functions", () => {
  const { rules } = new Machine({ memSize: 4096 });
  it("TSS stack slot: 32-bit and 16-bit layouts, the limit check, TR not present", () => {
    expect(rules.tssStackSlot(0x8b, 0x67, 0)).toBe(4);   // busy 32-bit TSS: ESP0 at 4
    expect(rules.tssStackSlot(0x8b, 0x67, 2)).toBe(20);  // ESP2 at 20
    expect(rules.tssStackSlot(0x8b, 9, 0)).toBe(4);      // ESP0 and the SS0 selector's two bytes end at 9
    expect(rules.tssStackSlot(0x8b, 8, 0)).toBe(-1);     // one byte short: #TS
    expect(rules.tssStackSlot(0x83, 0x2b, 1)).toBe(6);   // 16-bit TSS: SP1 at 6
    expect(rules.tssStackSlot(0x0b, 0x67, 0)).toBe(-1);  // not present
  });
  it("new-SS, segment-load, lar/lsl, verr/verw checks", () => {
    const hi = (access: number) => (access << 8) | 0x00cf0000; // flat, 4 KiB granular
    expect(rules.newSsCheck(0x10, hi(0x92), 0, 0)).toBeNull();
    expect(rules.newSsCheck(0x10, hi(0x9a), 0, 1)).toEqual({ vector: 10, error: 0x11 }); // code: #TS(sel|EXT)
    expect(rules.newSsCheck(0x10, hi(0x12), 0, 0)).toEqual({ vector: 12, error: 0x10 }); // not present: #SS
    expect(rules.dataSegCheck(3, 0x13, hi(0x92), 0)).toEqual({ vector: 13, error: 0x10 }); // RPL 3 > DPL 0
    expect(rules.dataSegCheck(3, 0x10, hi(0x92), 0)).toBeNull();
    expect(rules.dataSegCheck(3, 0x10, hi(0x12), 0)).toEqual({ vector: 11, error: 0x10 }); // #NP
    expect(rules.larLslOk(0x28, hi(0x89), 0, false)).toBe(true);  // an available TSS: lar ok
    expect(rules.larLslOk(0x28, hi(0x8e), 0, true)).toBe(false);  // an interrupt gate has no limit
    expect(rules.verOk(0x08, hi(0x9a), 0, true)).toBe(false);     // code is never writable
    expect(rules.verOk(0x08, hi(0x9a), 0, false)).toBe(true);     // readable code
  });
  it("double-fault classes and fault-class vectors", () => {
    expect(rules.isDoubleFault(14, 13)).toBe(true);  // #GP while delivering #PF
    expect(rules.isDoubleFault(13, 14)).toBe(false); // #PF while delivering #GP: delivered serially
    expect(rules.isDoubleFault(1, 13)).toBe(false);  // benign first
    expect(rules.isDoubleFault(0, 11)).toBe(true);
    expect([0, 1, 3, 6, 13, 14, 17, 19].map((v) => rules.isFaultVector(v))).toEqual([true, false, false, true, true, true, true, false]);
  });
});
