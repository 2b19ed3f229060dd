// traps.test.ts — trap semantics through the public trap lab (host/traps.ts) and its matchers (test/matchers.ts):
// one test per behaviour, each a few raw instruction bytes with their disassembly. By default the lab delivers
// events through a real IDT and reports the frame the CPU pushed; `mode: "intercept"` reports exception-bitmap exits.
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import "./matchers.ts";
import { trapLab, LAB, type TrapLabOptions } from "../host/traps.ts";

const HAVE_CPU = existsSync(new URL("../build/cpu.wasm", import.meta.url));
const d = HAVE_CPU ? describe : describe.skip;

const IF = 0x200, TF = 0x100, RF = 0x10000, ZF = 0x40, IOPL = 0x3000;
const user = trapLab({ cpl: 3 });
const kernel = trapLab({ cpl: 0 });
/** rel32 of a 5-byte jmp/call at `at` (offset in the snippet) to the absolute `to` */
const rel32 = (at: number, to: number) => {
  const r = (to - (LAB.CODE + at + 5)) >>> 0;
  return [r & 0xff, (r >>> 8) & 0xff, (r >>> 16) & 0xff, r >>> 24];
};
const run = (o: TrapLabOptions, code: number[] | string) => trapLab(o).run(code);

d("the lab itself", () => {
  it("runs a snippet to its end and returns the registers", () => {
    const r = kernel.run([0xb8, 0x2a, 0, 0, 0, 0x40]); // mov eax, 42; inc eax
    expect(r).toComplete();
    expect(r).not.toTrap();
    expect(r.state.eax).toBe(43);
    expect(r.state.eip).toBe(LAB.CODE + 6);
    expect(r.instructions).toBe(2);
  });
  it("accepts hex strings and sets up CPL 3 with ring-3 selectors", () => {
    const r = user.run("8c c8 8c d3"); // mov eax, cs; mov ebx, ss
    expect(r).toComplete();
    expect(r.state).toMatchObject({ eax: 0x1b, ebx: 0x23, cpl: 3, esp: LAB.USTACK_TOP });
  });
  it("reports a failed expectation with the trap that happened, its error code decoded", () => {
    const r = run({ cpl: 3, paging: { pages: [{ va: 0x400000, pa: 0x200000, write: false }] } }, "c7 05 00 00 40 00 2a 00 00 00");
    expect(() => expect(r).toTrap("#GP", 0)).toThrow(/expected #GP\(0x0\), but the snippet raised #PF\(0x7: present, write, user\) at eip 0x10000 \(offset 0\), cr2=0x400000/);
    expect(() => expect(r).not.toTrap()).toThrow(/expected no trap, but the snippet raised #PF/);
    expect(() => expect(kernel.run("90")).toTrap(13)).toThrow(/expected #GP, but the snippet completed without a trap/);
    expect(() => expect(r).toPageFault({ user: false })).toThrow(/expected supervisor, got user/);
  });
  it("mode 'intercept' reports exception-bitmap exits: vector, error code, EIP, CR2, no frame", () => {
    const r = run({ cpl: 3, mode: "intercept", paging: true }, "a1 00 00 40 00"); // mov eax, [0x400000]
    expect(r).toPageFault({ present: false, write: false, user: true, addr: 0x400000 });
    expect(r.trap).toMatchObject({ via: "intercept", eip: LAB.CODE, errorCode: 4 });
    expect(r.trap!.frame).toBeUndefined();
  });
  it("the IDT and intercepted views agree on vector, error code, EIP and CR2", () => {
    const o: TrapLabOptions = { cpl: 3, paging: { pages: [{ va: 0x400000, user: false }] } };
    const a = run(o, "a3 00 00 40 00"), b = run({ ...o, mode: "intercept" }, "a3 00 00 40 00"); // mov [0x400000], eax
    for (const k of ["vector", "errorCode", "eip", "cr2"] as const) expect(a.trap![k]).toBe(b.trap![k]);
    expect(a.intercepted).toMatchObject({ vector: 14, errorCode: 7 });
  });
});

d("custom handlers", () => {
  it("a gate may point at handler code of the test's own; the trap reported is the one that reaches a stub", () => {
    // #GP handler at DATA: pop the error code, int 0x41 (reaches stub 0x41 with a 3-word frame)
    const r = user.run("fa", { gates: { 13: { offset: LAB.DATA } }, setup: (m) => m.writeMem(LAB.DATA, [0x58, 0xcd, 0x41]) }); // cli
    expect(r).toTrap(0x41, null);
    expect(r.intercepted).toMatchObject({ vector: 13, errorCode: 0 });
    expect(r.trap!.frame).toMatchObject({ words: [LAB.DATA + 3, 0x08, 0x2], privilegeChange: false }); // IF, RF cleared by the #GP gate
    expect(r.machine.eax).toBe(0); // the popped error code
  });
  it("a handler that irets resumes the snippet, which then completes", () => {
    const r = kernel.run("cd 41 40", { gates: { 0x41: { offset: LAB.DATA } }, setup: (m) => m.writeMem(LAB.DATA, [0x43, 0xcf]) }); // int 0x41; inc eax — handler: inc ebx; iret
    expect(r).toComplete();
    expect(r.state).toMatchObject({ eax: 1, ebx: 1 });
    expect(r.instructions).toBe(4);
  });
});

d("#DE", () => {
  it("div ecx with ecx = 0", () => {
    expect(kernel.run("f7 f1", { regs: { eax: 1 } })).toTrap("#DE", null); // div ecx
  });
  it("div ecx overflow (EDX:EAX / 1 ≥ 2^32)", () => {
    const r = kernel.run("f7 f1", { regs: { edx: 2, ecx: 1 } }); // div ecx
    expect(r).toTrap("#DE");
    expect(r.trap!.eip).toBe(LAB.CODE); // a fault: the pushed EIP is the div
    expect(r.trap!.frame!.words).toHaveLength(3);
  });
  it("idiv ecx overflow (INT_MIN / -1)", () => {
    expect(kernel.run("f7 f9", { regs: { edx: 0xffffffff, eax: 0x80000000, ecx: 0xffffffff } })).toTrap("#DE"); // idiv ecx
  });
  it("div cl overflow (AX / CL ≥ 256)", () => {
    expect(kernel.run("f6 f1", { regs: { eax: 0x100, ecx: 1 } })).toTrap(0); // div cl
  });
  it("aam 0", () => {
    expect(user.run("90 d4 00")).toTrap("#DE"); // nop; aam 0
    expect(user.run("90 d4 00").trap!.offset).toBe(1);
  });
});

d("#UD", () => {
  it("ud2", () => { expect(user.run("0f 0b")).toTrap("#UD", null); }); // ud2
  it("lock on a register form", () => { expect(kernel.run("f0 01 d8")).toTrap("#UD"); }); // lock add eax, ebx
  it("lock nop", () => { expect(kernel.run("f0 90")).toTrap("#UD"); }); // lock nop
});

d("#GP(0) for privileged instructions at CPL 3", () => {
  const cases: [string, string][] = [
    ["hlt", "f4"],
    ["cli (IOPL 0)", "fa"],
    ["sti (IOPL 0)", "fb"],
    ["lgdt [0x20000]", "0f 01 15 00 00 02 00"],
    ["lidt [0x20000]", "0f 01 1d 00 00 02 00"],
    ["lldt ax", "0f 00 d0"],
    ["ltr ax", "0f 00 d8"],
    ["mov cr0, eax", "0f 22 c0"],
    ["mov eax, cr0", "0f 20 c0"],
    ["mov cr3, eax", "0f 22 d8"],
    ["mov dr7, eax", "0f 23 f8"],
    ["mov eax, dr7", "0f 21 f8"],
    ["invlpg [0x20000]", "0f 01 3d 00 00 02 00"],
    ["clts", "0f 06"],
    ["lmsw ax", "0f 01 f0"],
    ["wbinvd", "0f 09"],
    ["invd", "0f 08"],
    ["rdmsr", "0f 32"],
    ["wrmsr", "0f 30"],
    ["rdpmc (CR4.PCE = 0)", "0f 33"],
    ["in al, 0x60", "e4 60"],
    ["out 0x80, al", "e6 80"],
    ["in al, dx", "ec"],
    ["out dx, al", "ee"],
    ["insb", "6c"],
    ["outsb", "6e"],
  ];
  for (const [asm, bytes] of cases) {
    it(asm, () => {
      const r = user.run(`90 ${bytes}`, { regs: { edi: LAB.DATA, esi: LAB.DATA, edx: 0x80 } }); // nop; <insn>
      expect(r).toTrap("#GP", 0);
      expect(r.trap!.offset).toBe(1);
      expect(r.trap!.frame).toMatchObject({ cs: 0x1b, ss: 0x23, esp: LAB.USTACK_TOP, privilegeChange: true });
    });
  }
  it("the same instructions are allowed at CPL 0 (cli, mov eax, cr0, clts, wbinvd, rdmsr of the TSC)", () => {
    const r = kernel.run("fa 0f 20 c0 0f 06 0f 09 0f 32", { regs: { ecx: 0x10 } });
    expect(r).toComplete();
    expect(r.state.eflags & IF).toBe(0);
    expect(r.state.eax & 1).toBe(1); // CR0.PE
  });
  it("cli and sti are allowed at CPL 3 when IOPL = 3", () => {
    const r = user.run("fa", { iopl: 3 }); // cli
    expect(r).toComplete();
    expect(r.state.eflags & IF).toBe(0);
  });
});

d("I/O at CPL 3 and the TSS I/O permission bitmap", () => {
  it("a port allowed by the bitmap: out 0x80, al completes (an io-out exit)", () => {
    const r = user.run("b0 2a e6 80", { ioPorts: [0x80] }); // mov al, 42; out 0x80, al
    expect(r).toComplete();
    expect(r.io).toEqual([{ kind: "out", port: 0x80, size: 1, value: 42, eip: LAB.CODE + 2 }]);
  });
  it("in al, dx from an allowed port gets the host's value", () => {
    const r = user.run("ec", { ioPorts: [0x3f8], regs: { edx: 0x3f8 }, ioIn: () => 0x5a }); // in al, dx
    expect(r).toComplete();
    expect(r.state.eax & 0xff).toBe(0x5a);
  });
  it("the next port is denied: out 0x81, al → #GP(0)", () => {
    expect(user.run("e6 81", { ioPorts: [0x80] })).toTrap("#GP", 0); // out 0x81, al
  });
  it("a word access needs every byte's bit: out 0x80, ax with only 0x80 allowed → #GP(0)", () => {
    expect(user.run("66 e7 80", { ioPorts: [0x80] })).toTrap("#GP", 0); // out 0x80, ax
    expect(user.run("66 e7 80", { ioPorts: [0x80, 0x81] })).toComplete();
  });
  it("an I/O map base beyond the TSS limit denies everything", () => {
    expect(user.run("e6 80", { ioPorts: [0x80], tss: { ioMapBase: 0x3000 } })).toTrap("#GP", 0);
  });
  it("IOPL = 3 allows every port without looking at the bitmap", () => {
    expect(user.run("e6 81", { iopl: 3 })).toComplete();
  });
});

d("#PF error codes", () => {
  const pg = (pages: object[], extra: TrapLabOptions = {}): TrapLabOptions => ({ paging: { pages: pages as never }, ...extra });
  const READ = "a1 00 00 40 00", WRITE = "a3 00 00 40 00"; // mov eax, [0x400000] / mov [0x400000], eax
  it("user read, not present → 4", () => {
    expect(run(pg([], { cpl: 3 }), READ)).toPageFault({ present: false, write: false, user: true, addr: 0x400000, offset: 0 });
  });
  it("user write, not present → 6", () => {
    const r = run(pg([], { cpl: 3 }), WRITE);
    expect(r).toPageFault({ present: false, write: true, user: true, addr: 0x400000 });
    expect(r).toTrap("#PF", 6);
  });
  it("user read of a supervisor page → 5", () => {
    expect(run(pg([{ va: 0x400000, user: false }], { cpl: 3 }), READ)).toTrap("#PF", 5);
  });
  it("user write to a read-only user page → 7", () => {
    expect(run(pg([{ va: 0x400000, pa: 0x200000, write: false }], { cpl: 3 }), WRITE)).toTrap("#PF", 7);
  });
  it("user write to a supervisor page → 7", () => {
    expect(run(pg([{ va: 0x400000, user: false }], { cpl: 3 }), WRITE)).toTrap("#PF", 7);
  });
  it("supervisor read, not present → 0", () => {
    expect(run(pg([]), READ)).toPageFault({ present: false, write: false, user: false, addr: 0x400000 });
  });
  it("supervisor write, not present → 2", () => {
    expect(run(pg([]), WRITE)).toTrap("#PF", 2);
  });
  it("supervisor write to a read-only page with CR0.WP = 1 → 3", () => {
    expect(run(pg([{ va: 0x400000, write: false }], { cr0wp: true }), WRITE)).toTrap("#PF", 3);
  });
  it("supervisor write to a read-only page with CR0.WP = 0 succeeds", () => {
    const r = run(pg([{ va: 0x400000, pa: 0x200000, write: false }], { cr0wp: false, regs: { eax: 0x1234 } }), WRITE);
    expect(r).toComplete();
    expect(r.machine.read32(0x200000)).toBe(0x1234);
  });
  it("CR0.WP does not matter for user writes: still 7", () => {
    expect(run(pg([{ va: 0x400000, write: false }], { cpl: 3, cr0wp: false }), WRITE)).toTrap("#PF", 7);
  });
  it("a reserved bit in a 4 MiB PDE → present | rsvd (9 for a supervisor read)", () => {
    expect(run(pg([{ va: 0x400000, large: true, bits: 0x2000 }]), READ)).toPageFault({ present: true, rsvd: true, user: false, write: false });
  });
  it("a user instruction fetch from a supervisor page → 5, CR2 = the target, EIP = the target", () => {
    const r = run(pg([], { cpl: 3 }), [0xe9, ...rel32(0, 0x7000)]); // jmp 0x7000 (the kernel stack page)
    expect(r).toPageFault({ present: true, user: true, write: false, fetch: false, addr: 0x7000 });
    expect(r.trap!.eip).toBe(0x7000);
  });
  it("a write that straddles into an unmapped page faults on the second page, with nothing written", () => {
    const r = run(pg([{ va: 0x400000, pa: 0x200000 }], { regs: { eax: 0xdeadbeef } }), "a3 fe 0f 40 00"); // mov [0x400ffe], eax
    expect(r).toPageFault({ present: false, write: true, addr: 0x401000 });
    expect(r.machine.read16(0x200ffe)).toBe(0);
  });
  it("the PDE's U/S bit restricts the whole table", () => {
    expect(run(pg([{ va: 0x400000, pdeBits: 3 }], { cpl: 3 }), READ)).toPageFault({ present: true, user: true, write: false, addr: 0x400000 });
  });
});

d("4 MiB pages", () => {
  const READ8 = "a1 08 00 80 00"; // mov eax, [0x800008]
  it("a 4 MiB page maps va 0x800000 to pa 0x400000", () => {
    const r = run({ paging: { pages: [{ va: 0x800000, pa: 0x400000, large: true }] }, setup: (m) => m.write32(0x400008, 0xcafe) }, READ8);
    expect(r).toComplete();
    expect(r.state.eax).toBe(0xcafe);
    expect(r.state.cr4 & 0x10).toBe(0x10);
    expect(r.pte(0x800008)).toMatchObject({ large: true, pa: 0x400008, accessed: true, dirty: false });
  });
  it("a read-only 4 MiB user page: user write → #PF 7", () => {
    expect(run({ cpl: 3, paging: { pages: [{ va: 0x800000, pa: 0x400000, large: true, write: false }] } }, "a3 08 00 80 00")).toTrap("#PF", 7);
  });
  it("with CR4.PSE = 0 the PS bit is ignored: the PDE points at a (zeroed) page table → not present", () => {
    expect(run({ paging: { pages: [{ va: 0x800000, pa: 0x400000, large: true }], pse: false } }, READ8)).toPageFault({ present: false, addr: 0x800008 });
  });
});

d("software interrupts and gate DPL", () => {
  it("int 0x80 at CPL 3 through a DPL 0 gate → #GP(0x80*8 + 2)", () => {
    const r = user.run("cd 80"); // int 0x80
    expect(r).toTrap("#GP", 0x80 * 8 + 2);
    expect(r.trap!.eip).toBe(LAB.CODE); // the fault points at the int
    expect(r.intercepted).toMatchObject({ vector: 0x80, kind: "softint" });
  });
  it("int3 at CPL 3 through a DPL 0 gate → #GP(3*8 + 2)", () => {
    expect(user.run("cc")).toTrap("#GP", 0x1a); // int3
  });
  it("int 0x80 at CPL 3 through a DPL 3 gate: stack switch to SS0:ESP0, 5-word frame with SS:ESP", () => {
    const r = user.run("cd 80", { gates: { 0x80: { dpl: 3 } }, regs: { esp: 0x8ff0 } }); // int 0x80
    expect(r).toTrap(0x80, null);
    expect(r.trap!.frame).toEqual({
      words: [LAB.CODE + 2, 0x1b, 0x202, 0x8ff0, 0x23], errorCode: undefined, eip: LAB.CODE + 2, cs: 0x1b, eflags: 0x202,
      esp: 0x8ff0, ss: 0x23, privilegeChange: true, handlerEsp: LAB.KSTACK_TOP - 20,
    });
    expect(r.machine.getSegment("ss").selector).toBe(0x10);
  });
  it("int 0x80 at CPL 0: 3-word frame on the same stack, no RF", () => {
    const r = kernel.run("cd 80");
    expect(r.trap!.frame).toMatchObject({ words: [LAB.CODE + 2, 0x08, 0x202], privilegeChange: false, handlerEsp: LAB.KSTACK_TOP - 12 });
  });
  it("an interrupt gate clears IF in the handler, a trap gate keeps it", () => {
    expect(kernel.run("cd 40").machine.eflags & IF).toBe(0);
    expect(kernel.run("cd 40", { gates: { 0x40: { type: "trap" } } }).machine.eflags & IF).toBe(IF);
  });
  it("a not-present gate → #NP(vector*8 + 2)", () => {
    expect(kernel.run("cd 40", { gates: { 0x40: { present: false } } })).toTrap("#NP", 0x40 * 8 + 2);
  });
  it("into with OF = 1 through a DPL 3 gate: #OF as a trap (EIP after into)", () => {
    const r = user.run("ce", { eflags: 0xa02, gates: { 4: { dpl: 3 } } }); // into
    expect(r).toTrap("#OF");
    expect(r.trap!.eip).toBe(LAB.CODE + 1);
  });
});

d("exception frames", () => {
  it("#GP at CPL 0: 4 words (error code, EIP, CS, EFLAGS with RF), no stack switch", () => {
    const r = kernel.run("8e d8", { regs: { eax: 0x28 } }); // mov ds, ax  (the TSS selector → #GP(0x28))
    expect(r).toTrap("#GP", 0x28);
    expect(r.trap!.frame).toMatchObject({ words: [0x28, LAB.CODE, 0x08, 0x202 | RF], privilegeChange: false });
  });
  it("#UD at CPL 3: 5 words (no error code) after the stack switch", () => {
    const r = user.run("0f 0b", { regs: { esp: 0x8f00 } });
    expect(r.trap!.frame).toMatchObject({ words: [LAB.CODE, 0x1b, 0x202 | RF, 0x8f00, 0x23], errorCode: undefined });
  });
  it("#PF at CPL 3: 6 words with the error code first", () => {
    const r = run({ cpl: 3, paging: true }, "a1 00 00 40 00");
    expect(r.trap!.frame!.words).toEqual([4, LAB.CODE, 0x1b, 0x202 | RF, LAB.USTACK_TOP, 0x23]);
    expect(r.machine.getCr("cr2")).toBe(0x400000);
  });
  it("the registers of the result are those at the fault, before delivery", () => {
    const r = user.run("b8 07 00 00 00 50 0f 0b"); // mov eax, 7; push eax; ud2
    expect(r.state).toMatchObject({ eax: 7, esp: LAB.USTACK_TOP - 4, eip: LAB.CODE + 6, cpl: 3 });
    expect(r.instructions).toBe(2);
  });
});

d("sensitive but unprivileged instructions at CPL 3", () => {
  it("popf leaves IF and IOPL unchanged (no fault)", () => {
    const r = user.run("68 00 30 00 00 9d 9c 58"); // push 0x3000; popf; pushf; pop eax
    expect(r).toComplete();
    expect(r.state.eax & (IF | IOPL)).toBe(IF);
    expect(r.state.eflags & (IF | IOPL)).toBe(IF);
  });
  it("pushf shows the real IF and IOPL", () => {
    expect(user.run("9c 58", { iopl: 3 }).state.eax & (IF | IOPL)).toBe(IF | IOPL); // pushf; pop eax
    expect(user.run("9c 58", { if: false }).state.eax & (IF | IOPL)).toBe(0);
  });
  it("popf at CPL 3 with IOPL = 3 may change IF but not IOPL", () => {
    const r = user.run("6a 00 9d 9c 58", { iopl: 3 }); // push 0; popf; pushf; pop eax
    expect(r.state.eax & (IF | IOPL)).toBe(IOPL);
  });
  it("sgdt stores the real GDTR", () => {
    const r = user.run("0f 01 05 00 00 02 00"); // sgdt [0x20000]
    expect(r).toComplete();
    expect(r.machine.read16(LAB.DATA)).toBe(0x7f);
    expect(r.machine.read32(LAB.DATA + 2)).toBe(LAB.GDT);
  });
  it("sidt stores the real IDTR", () => {
    const r = user.run("0f 01 0d 00 00 02 00"); // sidt [0x20000]
    expect(r.machine.read16(LAB.DATA)).toBe(0x7ff);
    expect(r.machine.read32(LAB.DATA + 2)).toBe(LAB.IDT);
  });
  it("sldt and str reveal LDTR and TR", () => {
    expect(user.run("0f 00 c0 0f 00 cb", { regs: { eax: 0xffff } }).state).toMatchObject({ eax: 0, ebx: 0x28 }); // sldt eax; str ebx
    expect(user.run("0f 00 c0", { ldt: { 0: [0, 0] } }).state.eax).toBe(0x30);
  });
  it("smsw reveals CR0's low word (PE, ET, and TS/EM/MP)", () => {
    expect(user.run("66 0f 01 e0", { regs: { eax: 0xabcd0000 } }).state.eax).toBe(0xabcd0011); // smsw ax
    expect(trapLab({ cpl: 3, paging: true }).run("0f 01 e0").state.eax & 0xffff).toBe(0x0011); // smsw eax
  });
  it("mov from cs and ss shows RPL 3", () => {
    expect(user.run("8c c8 8c d3").state).toMatchObject({ eax: 0x1b, ebx: 0x23 }); // mov eax, cs; mov ebx, ss
  });
  it("lar: ring-3 code gives its access rights; a DPL 0 segment sets ZF = 0", () => {
    const a = user.run("0f 02 c1", { regs: { ecx: 0x1b } }); // lar eax, ecx
    expect(a.state.eflags & ZF).toBe(ZF);
    expect(a.state.eax & 0x00f0ff00).toBe(0x00c0fb00); // bits 19:16 are undefined (SDM: masked by 00FxFF00H)
    const b = user.run("0f 02 c1", { regs: { ecx: 0x0b, eax: 0x1234 } });
    expect(b.state.eflags & ZF).toBe(0);
    expect(b.state.eax).toBe(0x1234);
  });
  it("lsl: the byte-granular limit of a ring-3 segment", () => {
    const r = user.run("0f 03 c1", { regs: { ecx: 0x23 } }); // lsl eax, ecx
    expect(r.state.eflags & ZF).toBe(ZF);
    expect(r.state.eax).toBe(0xffffffff);
    expect(user.run("0f 03 c1", { regs: { ecx: 0x2b } }).state.eflags & ZF).toBe(0); // the TSS: DPL 0
  });
  it("verr / verw", () => {
    const zf = (code: string, ecx: number) => user.run(code, { regs: { ecx } }).state.eflags & ZF;
    expect(zf("0f 00 e1", 0x1b)).toBe(ZF); // verr cx: readable ring-3 code
    expect(zf("0f 00 e9", 0x1b)).toBe(0);  // verw cx: code is never writable
    expect(zf("0f 00 e9", 0x23)).toBe(ZF); // verw cx: ring-3 data
    expect(zf("0f 00 e1", 0x13)).toBe(0);  // verr cx: DPL 0 data from CPL 3
    expect(zf("0f 00 e1", 0x400)).toBe(0); // beyond the GDT limit: no fault, ZF = 0
  });
});

d("double fault, triple fault", () => {
  it("#GP while delivering #GP → #DF(0), with a stack switch from CPL 3", () => {
    const r = user.run("90 fa", { gates: { 13: { selector: 0x10 } } }); // nop; cli — #GP's gate points at a data segment
    expect(r).toTrap("#DF", 0);
    expect(r.intercepted).toMatchObject({ vector: 13, errorCode: 0, offset: 1 });
    // the saved CS:EIP of an abort is undefined (SDM table 6-8 "#DF"); this CPU pushes the faulting instruction
    expect(r.trap!.frame).toMatchObject({ errorCode: 0, cs: 0x1b, esp: LAB.USTACK_TOP, ss: 0x23, privilegeChange: true });
    expect(r.trap!.frame!.words).toHaveLength(6);
  });
  it("#NP while delivering #PF → #DF", () => {
    expect(run({ paging: true, gates: { 14: { present: false } } }, "a1 00 00 40 00")).toTrap("#DF", 0);
  });
  it("a benign exception during delivery is delivered instead (#UD whose gate is not present → #NP)", () => {
    expect(kernel.run("0f 0b", { gates: { 6: { present: false } } })).toTrap("#NP", 6 * 8 + 2 + 1);
  });
  it("a fault while delivering #DF → shutdown exit", () => {
    const r = user.run("fa", { gates: { 13: { selector: 0x10 }, 8: { selector: 0x10 } } });
    expect(r).toShutdown();
    expect(r.trap).toBeNull();
    expect(r.exit.reason).toBe("shutdown");
    expect(r.machine.halted).toBe(true);
  });
  it("IDT limit 0: any exception triple-faults", () => {
    expect(kernel.run("0f 0b", { idtLimit: 0 })).toShutdown();
  });
  it("ring 3 with an unusable SS0 in the TSS: #TS → #DF → also needs SS0 → shutdown", () => {
    const r = user.run("0f 0b", { tss: { ss0: 0 } });
    expect(r).toShutdown();
    expect(r.intercepted).toMatchObject({ vector: 6 });
  });
});

d("#DB single-step", () => {
  it("TF = 1: #DB after the first instruction, EIP of the next, TF in the pushed EFLAGS, no RF", () => {
    const r = kernel.run("40 40 40", { tf: true }); // inc eax ×3
    expect(r).toTrap("#DB", null);
    expect(r.trap!.eip).toBe(LAB.CODE + 1);
    expect(r.state.eax).toBe(1);
    expect(r.trap!.frame!.eflags & (TF | RF)).toBe(TF);
    expect(r.machine.eflags & TF).toBe(0); // the handler runs without TF
  });
  it("at CPL 3 the trap is delivered with a stack switch", () => {
    const r = user.run("50 50", { tf: true }); // push eax ×2
    expect(r.trap!.frame).toMatchObject({ eip: LAB.CODE + 1, esp: LAB.USTACK_TOP - 4, privilegeChange: true });
  });
  it("int1 (icebp) is a trap with EIP after it", () => {
    const r = kernel.run("f1"); // int1
    expect(r).toTrap("#DB");
    expect(r.trap!.eip).toBe(LAB.CODE + 1);
  });
});

d("accessed and dirty bits", () => {
  const o: TrapLabOptions = { cpl: 3, paging: { pages: [{ va: 0x400000, pa: 0x200000 }] } };
  it("a read sets A in the PTE and the PDE, not D", () => {
    const r = run(o, "a1 00 00 40 00"); // mov eax, [0x400000]
    const p = r.pte(0x400000)!;
    expect(p).toMatchObject({ accessed: true, dirty: false, pa: 0x200000 });
    expect(p.pde & 0x20).toBe(0x20);
  });
  it("a write sets A and D", () => {
    expect(run(o, "a3 00 00 40 00").pte(0x400000)).toMatchObject({ accessed: true, dirty: true });
  });
  it("an untouched page keeps A = D = 0", () => {
    expect(run(o, "90").pte(0x400000)).toMatchObject({ accessed: false, dirty: false });
  });
  it("a write that faults on a read-only page does not set D", () => {
    const r = run({ cpl: 3, paging: { pages: [{ va: 0x400000, write: false }] } }, "a3 00 00 40 00");
    expect(r).toTrap("#PF", 7);
    expect(r.pte(0x400000)!.dirty).toBe(false);
  });
  it("a code fetch sets A on the code page", () => {
    expect(run({ cpl: 3, paging: true }, "90").pte(LAB.CODE)!.accessed).toBe(true);
  });
});
