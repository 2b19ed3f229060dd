// full-trap.test.ts — every trap path of host/full/monitor.ts with made-up guest states (test/full-minivm.ts):
// each privileged instruction trapped at real CPL 3 and emulated against the virtual CPU, the checks it makes
// at the virtual CPL, and each reflected exception with the frame the guest expects (virtual CS/SS privilege
// bits, error codes, virtual CR2, stack switch from the guest TSS).
import { describe, it, expect } from "vitest";
import { VMM_SIZE } from "../host/full/monitor.ts";
import * as A from "../host/abi.generated.ts";
import {
  miniVm, nativeVm, go, type MiniOpts, d32, d16, gate, identityPaging, PAGING_ON, TO_USER, KCODE, KDATA, UCODE, UDATA, TSS_SEL, LDT_SEL, KCODE_DPL1,
  GDT, LDT, KSTACK, USTACK, UCODE_AT, KCODE_AT, PROLOGUE,
} from "./full-minivm.ts";

const HLT = 0xf4;
/** guest address of the body's byte i (after the prologue) */
const at = (i: number) => KCODE_AT + PROLOGUE.length + i;

describe("descriptor-table instructions", () => {
  it("lgdt / lidt / ltr load the virtual registers; ltr marks the guest's TSS busy; the real tables are the VMM's", () => {
    const { m, mo, rd32 } = miniVm([HLT]);
    expect(go(mo)).toMatchObject({ stop: "halted" });
    expect(mo.v.gdtr).toEqual({ base: GDT, limit: 63 });
    expect(mo.v.idtr.limit).toBe(2047);
    expect(mo.v.tr).toMatchObject({ sel: TSS_SEL, base: 0x6000 });
    expect((rd32(GDT + TSS_SEL + 4) >>> 8) & 0xf).toBe(0xb); // busy TSS in the guest's own GDT
    expect(mo.stats.emulated).toMatchObject({ lgdt: 1, lidt: 1, ltr: 1 });
    expect(m.getGdtr().base >>> 0).toBeGreaterThanOrEqual(0xffc00000);
    expect(m.getIdtr().limit).toBe(0); // nothing is ever delivered through the real IDT
  });
  it("lldt loads the virtual LDTR, the real LDTR points at the VMM's copy; sldt / str read the virtual ones", () => {
    // mov ax,0x30 ; lldt ax ; mov ax,0x07 ; mov fs,ax ; sldt ebx ; str ecx ; hlt
    const { m, mo } = miniVm([0x66, 0xb8, ...d16(LDT_SEL), 0x0f, 0x00, 0xd0, 0x66, 0xb8, 7, 0, 0x8e, 0xe0, 0x0f, 0x00, 0xc3, 0x0f, 0x00, 0xc9, HLT]);
    go(mo);
    expect(mo.v.ldtr).toMatchObject({ sel: LDT_SEL, base: LDT, limit: 0xf });
    expect(m.getLdtr().base >>> 0).toBeGreaterThanOrEqual(0xffc00000);
    expect(m.getSegment("fs").selector).toBe(7);
    expect(m.ebx & 0xffff).toBe(LDT_SEL);
    expect(m.ecx & 0xffff).toBe(TSS_SEL);
    expect(mo.stats.emulated).toMatchObject({ lldt: 1, sldt: 1, str: 1 });
  });
  it("lldt of a TSS selector is the guest's #GP(selector)", () => {
    const { mo, seen, stack } = miniVm([0x66, 0xb8, ...d16(TSS_SEL), 0x0f, 0x00, 0xd0, HLT]);
    go(mo);
    expect(seen()).toBe(13);
    expect(stack(0)).toBe(TSS_SEL);            // error code
    expect(stack(1)).toBe(at(4));              // EIP of the lldt
    expect(stack(2)).toBe(KCODE);              // virtual CS: RPL 0, not the real 3
  });
  it("ltr of a busy TSS is #GP(selector)", () => {
    const { mo, seen, stack } = miniVm([0x66, 0xb8, ...d16(TSS_SEL), 0x0f, 0x00, 0xd8, HLT]);
    go(mo);
    expect(seen()).toBe(13);
    expect(stack(0)).toBe(TSS_SEL);
  });
});

describe("control and debug registers, caches, MSRs", () => {
  it("mov to CR3 switches shadows; invlpg drops exactly the stale translation", () => {
    // paging on ; mov eax,[0x200000] ; mov dword [0x11800],0x300007 ; invlpg [0x200000] ; mov ebx,[0x200000] ; mov ecx,cr3 ; hlt
    const body = [...PAGING_ON, 0xa1, ...d32(0x200000), 0xc7, 0x05, ...d32(0x11000 + 0x200 * 4), ...d32(0x300007),
      0x0f, 0x01, 0x3d, ...d32(0x200000), 0x8b, 0x1d, ...d32(0x200000), 0x0f, 0x20, 0xd9, HLT];
    // invlpg by the monitor (CTRL_FAST_PT off) and in the CPU (abi.ts CTRL_FAST_PT: the same shadow entries dropped)
    for (const inCpu of [false, true]) {
      const { m, mo, g } = miniVm(body);
      if (!inCpu) mo.fastPaths &= ~A.CTRL_FAST_PT;
      identityPaging(g);
      g(0x200000, d32(0x11111111)); g(0x300000, d32(0x22222222));
      expect(go(mo)).toMatchObject({ stop: "halted" });
      expect(m.eax).toBe(0x11111111);
      expect(m.ebx).toBe(0x22222222);
      expect(m.ecx).toBe(0x10000);                      // the guest sees its own CR3 ...
      expect(m.getCr("cr3")).toBeLessThan(VMM_SIZE);    // ... the CPU walks a shadow in VMM memory
      expect(mo.stats.emulated).toMatchObject({ "mov to cr3": 1, "mov to cr0": 1, ...(inCpu ? {} : { invlpg: 1 }) });
      expect(mo.inCpuCounts()["mov from cr"]).toBe(1); // (read in the CPU: CTRL_FAST_CR)
      expect(mo.shadow.stats.invlpg).toBe(inCpu ? 0 : 1);
      expect(mo.inCpuCounts()["invlpg"]).toBe(inCpu ? 1 : undefined);
    }
  });
  it("lmsw sets MP/EM/TS but never clears PE; the real CR0 follows TS (x87 #NM)", () => {
    // mov ax,0x000e ; lmsw ax ; smsw ebx ; clts ; smsw ecx ; hlt
    const { m, mo } = miniVm([0x66, 0xb8, 0x0e, 0, 0x0f, 0x01, 0xf0, 0x0f, 0x01, 0xe3, 0x0f, 0x06, 0x0f, 0x01, 0xe1, HLT]);
    go(mo);
    expect(m.ebx & 0xf).toBe(0xf);
    expect(m.ecx & 0xf).toBe(0x7);
    expect(m.getCr("cr0") & 8).toBe(0);
    expect(mo.stats.emulated).toMatchObject({ lmsw: 1, clts: 1, smsw: 2 });
  });
  it("mov DR7 / DR6 (and the DR4/DR5 aliases)", () => {
    // mov eax,0x400 ; mov dr7,eax ; mov ebx,dr5 ; mov eax,0x55 ; mov dr4,eax ; mov ecx,dr6 ; hlt
    const { m, mo } = miniVm([0xb8, ...d32(0x400), 0x0f, 0x23, 0xf8, 0x0f, 0x21, 0xeb, 0xb8, ...d32(0x55), 0x0f, 0x23, 0xe0, 0x0f, 0x21, 0xf1, HLT]);
    go(mo);
    expect(m.ebx).toBe(0x400);
    expect(m.ecx).toBe(0xffff0ff5); // DR6's fixed bits, as the CPU's own MOV DR6 (native mode) gives
    expect(mo.stats.emulated).toMatchObject({ "mov to dr": 2, "mov from dr": 2 });
  });
  it("wbinvd and invd complete", () => {
    const { m, mo } = miniVm([0x0f, 0x09, 0x0f, 0x08, HLT]);
    go(mo);
    expect(mo.stats.emulated).toMatchObject({ wbinvd: 2 });
    expect(m.eip).toBe(at(5));
  });
  it("rdmsr reads the TSC MSR; an unknown MSR and wrmsr are #GP(0)", () => {
    // mov ecx,0x10 ; rdmsr ; mov esi,eax ; mov ecx,0x1b ; rdmsr
    const { m, mo, seen, stack } = miniVm([0xb9, ...d32(0x10), 0x0f, 0x32, 0x89, 0xc6, 0xb9, ...d32(0x1b), 0x0f, 0x32]);
    go(mo);
    expect(m.esi).toBeGreaterThan(0);
    expect(seen()).toBe(13);
    expect(stack(0)).toBe(0);
    expect(stack(1)).toBe(at(14));
    const w = miniVm([0x31, 0xc9, 0x0f, 0x30]);
    go(w.mo);
    expect(w.seen()).toBe(13);
    expect(w.stack(1)).toBe(at(2));
  });
  it("CR4.TSD makes rdtsc a #GP in guest user mode, and the frame carries the user CS/SS", () => {
    // mov eax,4 ; mov cr4,eax ; rdtsc (kernel: fine) ; -> user: rdtsc
    const { mo, seen, stack, m } = miniVm([0xb8, ...d32(4), 0x0f, 0x22, 0xe0, 0x0f, 0x31, ...TO_USER], { user: [0x90, 0x0f, 0x31] });
    go(mo);
    expect(seen()).toBe(13);
    expect(m.esp).toBe(KSTACK - 24);                      // stack switched from the guest TSS
    expect([stack(0), stack(1), stack(2), stack(4), stack(5)]).toEqual([0, UCODE_AT + 1, UCODE, USTACK, UDATA]);
    expect(stack(3) & 0x200).toBe(0x200);                 // the user's virtual IF
    expect(mo.stats.emulated.rdtsc).toBe(1);
  });
});

describe("interrupt flag, hlt and I/O at the virtual privilege", () => {
  it("cli / hlt in guest user mode (IOPL 0) are the guest's #GP(0)", () => {
    for (const op of [0xfa, 0xf4]) {
      const { mo, seen, stack } = miniVm(TO_USER, { user: [op] });
      go(mo);
      expect(seen()).toBe(13);
      expect([stack(0), stack(1), stack(2)]).toEqual([0, UCODE_AT, UCODE]);
      expect(mo.v.cpl).toBe(0);
    }
  });
  it("with IOPL 3 guest user code may cli (only the virtual IF changes)", () => {
    const toUserIopl3 = TO_USER.map((b, i) => (i === 9 ? 0x32 : b)); // flags 0x3202
    expect(toUserIopl3.slice(8, 12)).toEqual([0x02, 0x32, 0, 0]);
    const { mo, m } = miniVm(toUserIopl3, { user: [0xfa, 0xeb, 0xfe] });
    go(mo, 30);
    expect(mo.v.cpl).toBe(3);
    expect(mo.v.iopl).toBe(3);
    expect(mo.v.vif).toBe(false);
    expect(m.eflags & 0x3200).toBe(0x200); // real IOPL 0, IF 1
  });
  it("user-mode I/O goes through the guest TSS I/O bitmap", () => {
    // bitmap: ports 0x60 allowed, 0x61 denied (bit 1 of byte 0x0c)
    const bitmap = new Array(0x10).fill(0xff);
    bitmap[0x0c] = 0xfe;
    const { m, mo, seen, stack } = miniVm(TO_USER, { user: [0xe4, 0x60, 0x88, 0xc3, 0xe4, 0x61], ioBitmap: bitmap });
    go(mo);
    expect(m.ebx & 0xff).toBe(0x5a);
    expect(seen()).toBe(13);
    expect([stack(0), stack(1)]).toEqual([0, UCODE_AT + 4]);
  });
  it("rep insb and a dword out", () => {
    // mov edi,0x3200 ; mov ecx,3 ; mov dx,0x60 ; rep insb ; mov eax,0x11223344 ; mov dx,0x80 ; out dx,eax ; hlt
    const { m, mo, io, rd32 } = miniVm([0xbf, ...d32(0x3200), 0xb9, ...d32(3), 0x66, 0xba, 0x60, 0, 0xf3, 0x6c,
      0xb8, ...d32(0x11223344), 0x66, 0xba, 0x80, 0, 0xef, HLT]);
    go(mo);
    expect(rd32(0x3200) & 0xffffff).toBe(0x5a5a5a);
    expect(m.edi).toBe(0x3203);
    expect(m.ecx).toBe(0);
    expect(io).toEqual([{ port: 0x80, size: 4, value: 0x11223344 }]);
    expect(mo.stats.emulated).toMatchObject({ ins: 1, out: 1 });
  });
});

describe("far transfers and segment loads at the virtual CPL", () => {
  it("iret to user mode: CPL 3, user CS/SS, and data segments the user may not use become null", () => {
    const { m, mo } = miniVm(TO_USER, { user: [0xeb, 0xfe] });
    go(mo, 30);
    expect(mo.v.cpl).toBe(3);
    expect(m.getSegment("cs").selector).toBe(UCODE);
    expect(m.getSegment("ss").selector).toBe(UDATA);
    expect(m.getSegment("ds").selector).toBe(0);   // DPL 0 data: nulled on the outward return
    expect(m.esp).toBe(USTACK);
    expect(mo.v.vif).toBe(true);
    expect(mo.stats.emulated.iret).toBe(1);
  });
  it("same-level iret restores the virtual IF from the popped flags", () => {
    // pushfd(0x202) ; push 0x08 ; push target ; iret ; target: hlt
    const tgt = at(13);
    const { mo, m } = miniVm([0x68, ...d32(0x202), 0x6a, KCODE, 0x68, ...d32(tgt), 0xcf, HLT]);
    expect(go(mo)).toEqual({ hlt: true }); // IF=1: the VM would wait for an interrupt
    expect(m.eip).toBe(tgt + 1);
    expect(mo.vsel("cs")).toBe(KCODE);
  });
  it("far jmp to the kernel code segment is emulated; to a DPL 1 non-conforming segment it is #GP(sel)", () => {
    const tgt = at(7);
    const { m, mo } = miniVm([0xea, ...d32(tgt), ...d16(KCODE), HLT]);
    go(mo);
    expect(mo.stats.emulated.ljmp).toBe(1);
    expect(m.eip).toBe(tgt + 1);
    expect(m.getSegment("cs").selector).toBe(KCODE | 3);
    const b = miniVm([0xea, ...d32(tgt), ...d16(KCODE_DPL1), HLT]);
    go(b.mo);
    expect(b.seen()).toBe(13);
    expect(b.stack(0)).toBe(KCODE_DPL1);
  });
  it("lcall / retf (both patched) push and pop the virtual CS", () => {
    // call 0x08:sub ; hlt ; sub: mov eax,[esp+4] ; retf
    const sub = at(8);
    const { m, mo } = miniVm([0x9a, ...d32(sub), ...d16(KCODE), HLT, 0x8b, 0x44, 0x24, 0x04, 0xcb]);
    go(mo);
    expect(m.eax).toBe(KCODE); // the pushed CS has RPL 0 (the virtual one)
    expect(m.eip).toBe(at(8));
    expect(m.esp).toBe(KSTACK);
    expect(mo.stats.emulated).toMatchObject({ lcall: 1, retf: 1 });
  });
  it("mov ss of a DPL 3 selector in the kernel is #GP(sel) (it would load at the real CPL 3)", () => {
    const { mo, seen, stack } = miniVm([0x66, 0xb8, ...d16(UDATA), 0x8e, 0xd0, HLT]);
    go(mo);
    expect(seen()).toBe(13);
    expect(stack(0)).toBe(UDATA & ~3);
  });
  it("mov ds past the GDT limit is #GP(sel); pop ds of a kernel segment is emulated", () => {
    const { mo, seen, stack } = miniVm([0x66, 0xb8, ...d16(0x48), 0x8e, 0xd8, HLT]);
    go(mo);
    expect(seen()).toBe(13);
    expect(stack(0)).toBe(0x48);
    // push 0x10 ; pop ds ; hlt  (a DPL 0 selector traps at the real CPL 3 and is checked at the virtual CPL 0)
    const b = miniVm([0x66, 0xb8, 0, 0, 0x8e, 0xd8, 0x6a, KDATA, 0x1f, HLT]);
    go(b.mo);
    expect(b.m.getSegment("ds").selector).toBe(KDATA);
    // emulated by the monitor, or (its accessed bit set) loaded in the CPU at the virtual CPL: CTRL_FAST_SEG
    expect((b.mo.stats.emulated["pop ds"] ?? 0) + (b.mo.inCpuCounts()["mov sreg"] ?? 0)).toBe(1);
  });
  it("a user memory access through the nulled DS is #GP(0); a user load of a kernel data segment is #GP(sel)", () => {
    const n = miniVm(TO_USER, { user: [0xa1, ...d32(0x3000)] });
    go(n.mo);
    expect([n.seen(), n.stack(0), n.stack(1)]).toEqual([13, 0, UCODE_AT]);
    const { mo, seen, stack } = miniVm(TO_USER, { user: [0x66, 0xb8, ...d16(KDATA), 0x8e, 0xd8] });
    go(mo);
    expect(seen()).toBe(13);
    expect([stack(0), stack(1), stack(2)]).toEqual([KDATA, UCODE_AT + 4, UCODE]);
  });
});

describe("reflected exceptions", () => {
  const pagingUser = (user: number[], flags?: (p: number) => number) => {
    const r = miniVm([...PAGING_ON, ...TO_USER], { user });
    identityPaging(r.g, flags);
    return r;
  };
  // the outward iret nulled DS (DPL 0): user code loads its own first (push 0x23 ; pop ds)
  const DS = [0x6a, UDATA, 0x1f];
  it("#PF from user mode: error code, virtual CR2, user frame on the TSS stack", () => {
    // page 0x300 not present: mov eax,[0x300010]
    const { mo, seen, stack, m } = pagingUser([...DS, 0xa1, ...d32(0x300010)], (p) => (p === 0x300 ? 0 : 7));
    go(mo);
    expect(seen()).toBe(14);
    expect(mo.v.cr2).toBe(0x300010);
    expect([stack(0), stack(1), stack(2), stack(4), stack(5)]).toEqual([4, UCODE_AT + 3, UCODE, USTACK, UDATA]);
    expect(stack(3) & 0x10000).toBe(0x10000); // RF in a fault frame
    expect(m.esp).toBe(KSTACK - 24);
    expect(mo.shadow.stats.trueFaults).toBe(1);
  });
  it("#PF error codes: user write to a read-only page (7), user read of a supervisor page (5)", () => {
    const a = pagingUser([...DS, 0xa3, ...d32(0x300000)], (p) => (p === 0x300 ? 5 : 7));
    go(a.mo);
    expect([a.seen(), a.stack(0), a.mo.v.cr2]).toEqual([14, 7, 0x300000]);
    const b = pagingUser([...DS, 0xa1, ...d32(0x300004)], (p) => (p === 0x300 ? 3 : 7));
    go(b.mo);
    expect([b.seen(), b.stack(0), b.mo.v.cr2]).toEqual([14, 5, 0x300004]);
  });
  it("#PF from the kernel: no stack switch, virtual CS 0x08, write error code 2", () => {
    const { mo, seen, stack, m } = miniVm([...PAGING_ON, 0xa3, ...d32(0x300000)]);
    identityPaging(miniVmG(mo), (p) => (p === 0x300 ? 0 : 7));
    go(mo);
    expect(seen()).toBe(14);
    expect([stack(0), stack(1), stack(2)]).toEqual([2, at(PAGING_ON.length), KCODE]);
    expect(m.esp).toBe(KSTACK - 16);
  });
  it("int 0x80 from user mode through a DPL 3 gate; int 0x81 (DPL 0 gate) is #GP(0x81*8+2)", () => {
    const a = miniVm(TO_USER, { user: [0xcd, 0x80] });
    go(a.mo);
    expect(a.seen()).toBe(0x80);
    expect([a.stack(0), a.stack(1), a.stack(3), a.stack(4)]).toEqual([UCODE_AT + 2, UCODE, USTACK, UDATA]);
    const b = miniVm(TO_USER, { user: [0xcd, 0x81] });
    go(b.mo);
    expect(b.seen()).toBe(13);
    expect([b.stack(0), b.stack(1)]).toEqual([0x81 * 8 + 2, UCODE_AT]);
  });
  it("the guest's own int3 (not a patch) is reflected as #BP with EIP after it", () => {
    const { mo, seen, stack } = miniVm(TO_USER, { user: [0x90, 0xcc] });
    go(mo);
    expect(seen()).toBe(3);
    expect(stack(0)).toBe(UCODE_AT + 2);
  });
  it("#UD from the kernel: no error code, RF set", () => {
    const { mo, seen, stack } = miniVm([0x0f, 0x0b]);
    go(mo);
    expect(seen()).toBe(6);
    expect([stack(0), stack(1)]).toEqual([at(0), KCODE]);
    expect(stack(2) & 0x10000).toBe(0x10000);
  });
  it("a not-present gate is #NP(vector*8+2); a fault delivering #PF escalates to #DF(0)", () => {
    const a = miniVm([0xcd, 0x41], { gates: { 0x41: gate(KCODE, 0x1800, 0x0e) } });
    go(a.mo);
    expect(a.seen()).toBe(11);
    expect(a.stack(0)).toBe(0x41 * 8 + 2);
    // #PF whose gate is not present: #NP while delivering #PF → #DF
    const b = miniVm([...PAGING_ON, 0xa1, ...d32(0x300000)], { gates: { 14: gate(KCODE, 0x1800, 0x0e) } });
    identityPaging(b.g, (p) => (p === 0x300 ? 0 : 7));
    go(b.mo);
    expect(b.seen()).toBe(8);
    expect(b.stack(0)).toBe(0);
    expect(b.mo.v.cr2).toBe(0x300000);
  });
  it("no usable IDT: #GP → #DF → triple fault stops the VM", () => {
    // lidt [0x3020] (limit 0) ; ud2
    const { mo, g } = miniVm([0x0f, 0x01, 0x1d, ...d32(0x3020), 0x0f, 0x0b]);
    g(0x3020, [0, 0, 0, 0, 0, 0]);
    expect(go(mo)).toMatchObject({ stop: "shutdown", message: expect.stringMatching(/triple fault/) });
  });
  it("an external interrupt is delivered with the virtual frame and clears the virtual IF (interrupt gate)", () => {
    const { mo, m, seen, stack } = miniVm(TO_USER, { user: [0xeb, 0xfe] });
    go(mo, 30);
    expect(mo.interruptible).toBe(true);
    mo.injectInterrupt(0x20);
    expect(mo.v.cpl).toBe(0);
    expect(mo.vsel("cs")).toBe(KCODE);
    expect([stack(0), stack(1), stack(3), stack(4)]).toEqual([UCODE_AT, UCODE, USTACK, UDATA]);
    expect(stack(2) & 0x10200).toBe(0x200); // IF as the user had it, no RF for an interrupt
    expect(mo.v.vif).toBe(false);
    go(mo);
    expect(seen()).toBe(0x20);
    expect(m.cpl).toBe(3); // real CPL stays 3 throughout
  });
});

/** the guest-physical writer for a miniVm (when only the monitor is at hand) */
function miniVmG(mo: { m: { writeMem(a: number, d: number[]): void } }) {
  return (a: number, b: number[]) => mo.m.writeMem(VMM_SIZE + a, b);
}

// The monitor applies the CPU's own rules (assembly/ops/rules.ts, exported from wasm) to its virtual CPU; these
// cases drifted while it had copies of them: each runs the same guest deprivileged and natively.
describe("one implementation of each rule: full mode vs native", () => {
  const INT80 = [0xcd, 0x80]; // int 0x80 (DPL 3 gate) from user mode: an inward transfer through the TSS stack
  const both = (o: MiniOpts) => {
    const full = miniVm(TO_USER, { user: INT80, ...o });
    const fr = go(full.mo);
    const nat = nativeVm(TO_USER, { user: INT80, ...o });
    const ne = nat.m.run(100_000);
    return { full, fr, nat, ne };
  };
  it("a TSS whose limit ends before ESP0 is #TS(TR) (here escalating to a triple fault), as on the CPU", () => {
    const { full, fr, nat, ne } = both({ tssLimit: 8 });
    expect(ne.reason).toBe("shutdown");
    expect(nat.seen()).toBe(-1);
    expect(fr).toMatchObject({ stop: "shutdown" });
    expect(full.seen()).toBe(-1); // before: the monitor read ESP0 past the limit and delivered int 0x80
    expect(full.mo.stats.reflected[String(A.VEC_TS)]).toBe(1);
  });
  it("the TSS limit just covering SS0 is enough", () => {
    const { full, nat } = both({ tssLimit: 11 });
    expect(nat.seen()).toBe(0x80);
    expect(full.seen()).toBe(0x80);
    expect(full.m.esp).toBe(nat.m.esp);
  });
  it("a 16-bit TSS: SP0/SS0 come from offsets 2/4 (before: read as a 32-bit TSS)", () => {
    const { full, nat } = both({ tss16: true, tssLimit: 0x2b });
    expect(nat.seen()).toBe(0x80);
    expect(full.seen()).toBe(0x80);
    expect(nat.m.esp).toBe(KSTACK - 20);
    expect(full.m.esp).toBe(nat.m.esp);
  });
  it("lar / lsl / verr / verw give the CPU's answers for every descriptor type at every selector RPL", () => {
    // for each GDT entry 1..7 and RPL 0..3, run in the kernel: lar eax,cx ; setz [..] ... collected natively and deprivileged
    const sels: number[] = [];
    for (let i = 1; i < 8; i++) for (let rpl = 0; rpl < 4; rpl++) sels.push(i * 8 + rpl);
    const OUT = 0x3200;
    const body: number[] = [];
    sels.forEach((sel, k) => {
      body.push(0x66, 0xb9, ...d16(sel)); // mov cx, sel
      // lar eax,ecx ; setz [OUT+4k] ; lsl eax,ecx ; setz [OUT+4k+1] ; verr cx ; setz [+2] ; verw cx ; setz [+3]
      body.push(0x0f, 0x02, 0xc1, 0x0f, 0x94, 0x05, ...d32(OUT + 4 * k));
      body.push(0x0f, 0x03, 0xc1, 0x0f, 0x94, 0x05, ...d32(OUT + 4 * k + 1));
      body.push(0x0f, 0x00, 0xe1, 0x0f, 0x94, 0x05, ...d32(OUT + 4 * k + 2));
      body.push(0x0f, 0x00, 0xe9, 0x0f, 0x94, 0x05, ...d32(OUT + 4 * k + 3));
    });
    body.push(0xf4);
    const full = miniVm(body);
    go(full.mo);
    const nat = nativeVm(body);
    expect(nat.m.run(100_000).reason).toBe("hlt");
    const fullRes = sels.map((_, k) => full.rd32(OUT + 4 * k));
    const natRes = sels.map((_, k) => nat.rd32(OUT + 4 * k));
    expect(fullRes).toEqual(natRes);
    expect(new Set(natRes).size).toBeGreaterThan(2); // the table has both visible and invisible entries
    expect(full.mo.stats.emulated["lar"]).toBe(sels.length);
  });
});
