// full-highhalf.test.ts — full mode with a higher-half kernel, the shape Linux has (branch full-linux, issue 14): its
// GDT, IDT and stacks above 0x80000000. Each guest runs in full mode and natively and must observe the same,
// page-table accessed bits included; the counters say where the work was done.
import { describe, it, expect } from "vitest";
import {
  miniVm, nativeVm, go, d32, d16, TO_USER, GDT, KDATA, KCODE, KCODE_AT, PROLOGUE, PAGING_ON, identityPaging, type MiniOpts,
} from "./full-minivm.ts";

const OUT = 0x3200;
const HIGH = 0xc0000000;
const PD = 0x10000, PT = 0x11000;
/** the identity map of the first 4 MiB, aliased at 0xC0000000 (PDE 0x300 → the same PT), as Linux's early tables */
function highPaging(g: (a: number, b: number[]) => void) {
  identityPaging(g);
  g(PD + (HIGH >>> 22) * 4, d32(PT | 7));
}
/** the guest's page tables as it can read them: both PDEs and every PTE (accessed/dirty bits included) */
function tables(rd32: (a: number) => number) {
  return { pde: [rd32(PD), rd32(PD + (HIGH >>> 22) * 4)], pte: Array.from({ length: 1024 }, (_, i) => rd32(PT + 4 * i)) };
}

describe("INT n from user mode into a kernel whose GDT lives above 0x80000000 (the monitor's fast-INT prefill)", () => {
  // Kernel: paging on ; lgdt [0x3020] (the same GDT, at its alias 0xC0004000) ; jmp over H ; H: add dword [ss:OUT], 1 ;
  // iret ; to user. User: mov ecx, 50 ; L: int 0x80 ; loop L ; int 3.
  // After reflecting the first INT from user mode the monitor fills the K-shadow entries the CPU's fast INT reads
  // (mode.ts prefillFastInt), with the guest's walk and A/D update. Its loop over the GDT's pages started at
  // `base & ~0xfff`, a negative number for a base ≥ 2 GiB, and so walked the whole 4 GiB linear space: every mapped
  // page got its accessed bit set (natively: only those touched), and each reflected INT cost a million walks
  // (Linux: 68 s of a 120 s boot, in ~20 system calls of /init).
  const HERE = KCODE_AT + PROLOGUE.length;
  const LGDT = [0x0f, 0x01, 0x15, ...d32(0x3020)];
  const pre = [...PAGING_ON, ...LGDT];
  const hOff = HERE + pre.length + 2;
  const handler = [0x36, 0x83, 0x05, ...d32(OUT), 0x01, 0xcf]; // add dword [ss:OUT], 1 ; iret
  const body = [...pre, 0xeb, handler.length, ...handler, ...TO_USER];
  const gate = [hOff & 0xff, (hOff >>> 8) & 0xff, KCODE, 0, 0, 0xee, 0, 0];
  const user = [0xb9, ...d32(50), 0xcd, 0x80, 0xe2, 0xfc, 0xcd, 0x03];
  const o: MiniOpts = { gates: { 0x80: gate }, user };
  const gdtPtr = [...d16(8 * 8 - 1), ...d32(HIGH + 0x4000)];

  it("full = native (page tables with their accessed bits, the counter), and the later INTs run in the CPU", () => {
    const f = miniVm(body, o);
    highPaging(f.g);
    f.g(0x3020, gdtPtr);
    expect(go(f.mo, 20000)).toMatchObject({ stop: "halted" });
    const n = nativeVm(body, o);
    highPaging(n.g);
    n.g(0x3020, gdtPtr);
    expect(n.m.run(10_000_000).reason).toBe("hlt");
    expect(n.rd32(OUT)).toBe(50);
    expect(f.rd32(OUT)).toBe(50);
    expect(f.mo.v.gdtr.base >>> 0).toBe(HIGH + 0x4000);
    const nt = tables(n.rd32), ft = tables(f.rd32);
    // natively only the pages the guest touched are accessed (a handful, not the whole 4 MiB)
    expect(nt.pte.filter((e) => e & 0x20).length).toBeLessThan(32);
    expect(ft).toEqual(nt);
    expect(f.mo.inCpuCounts().int).toBeGreaterThanOrEqual(48);
    expect(f.mo.shadow.stats.hiddenFaults).toBeLessThan(100);
  });
});

describe("a kernel that rewrites a data descriptor in its GDT without lgdt, then loads it (CTRL_FAST_SEG)", () => {
  // GDT entry 2 (KDATA, DPL 0) already accessed (0x93), so the CPU's fast load would take it from the real copy.
  // Kernel: mov byte [ss:GDT+0x14], 0x10 (base[23:16]: base 0x100000) ; mov ax, KDATA ; mov es, ax ;
  // mov eax, [es:0] ; mov bx, KDATA ; mov fs, bx ; hlt. Natively ES has base 0x100000 and eax is the marker there; over a stale kernel-view copy
  // ES kept base 0.
  const body = [
    0x36, 0xc6, 0x05, ...d32(GDT + 0x14), 0x10,   // mov byte [ss:GDT+0x14], 0x10
    0x66, 0xb8, ...d16(KDATA), 0x8e, 0xc0,        // mov ax, KDATA ; mov es, ax
    0x26, 0xa1, ...d32(0),                        // mov eax, [es:0]
    0x66, 0xbb, ...d16(KDATA), 0x8e, 0xe3,        // mov bx, KDATA ; mov fs, bx   (the copy is current again)
    0xf4,                                         // hlt
  ];
  const setup = (g: (a: number, b: number[]) => void) => { g(GDT + 0x15, [0x93]); g(0x100000, d32(0x600df00d)); };
  it("the load sees the rewritten descriptor: full (fast paths on and off) = native", () => {
    const n = nativeVm(body);
    setup(n.g);
    expect(n.m.run(1_000_000).reason).toBe("hlt");
    expect(n.m.eax >>> 0).toBe(0x600df00d);
    expect(n.m.getSegment("es").base >>> 0).toBe(0x100000);
    for (const fastPaths of [true, false]) {
      const f = miniVm(body, { fastPaths });
      setup(f.g);
      expect(go(f.mo)).toMatchObject({ stop: "halted" });
      expect(f.m.eax >>> 0).toBe(0x600df00d);
      expect(f.m.getSegment("es").base >>> 0).toBe(0x100000);
      expect(f.m.getSegment("fs").base >>> 0).toBe(0x100000);
      if (fastPaths) expect(f.mo.inCpuCounts()["mov sreg"]).toBeGreaterThanOrEqual(3); // (the prologue's, and fs)
    }
  });
});

describe("the kernel's CS/SS reads and its IRETs to itself, in the CPU (CTRL_FAST_SREG)", () => {
  // Linux's interrupt entry reads CS/SS, its sync_core() is `pushf ; push cs ; push $1f ; iret`, and every
  // interrupt taken in the kernel returns there by IRET: at virtual CPL 0 each was an exit (the real CS/SS have RPL 3).
  const L = KCODE_AT + PROLOGUE.length;
  const body: number[] = [
    0x0e, 0x58,                                   // push cs ; pop eax          (KCODE, not KCODE|3)
    0x8c, 0xd3,                                   // mov ebx, ss                (KDATA, zero-extended)
    0x16, 0x59,                                   // push ss ; pop ecx
    0xbd, ...d32(100),                            // mov ebp, 100
  ];
  // S: pushf ; push cs ; push N ; iret ; N: dec ebp ; jnz S          (100 IRETs to itself, IF stays 0)
  const s = L + body.length;
  body.push(0x9c, 0x0e, 0x68, ...d32(s + 8), 0xcf, 0x4d, 0x75, 0xf5);
  // IRET that sets IF (no interrupt waits): push 0x202 ; push cs ; push M ; iret ; M: pushf ; pop esi ; cli ;
  // mov dx, cs ; hlt
  const m = L + body.length + 12;
  body.push(0x68, ...d32(0x202), 0x0e, 0x68, ...d32(m), 0xcf, 0x9c, 0x5e, 0xfa, 0x66, 0x8c, 0xca, 0xf4);
  it("fast on = fast off = native; on: no exit for them but the first IRET", () => {
    const n = nativeVm(body);
    expect(n.m.run(1_000_000).reason).toBe("hlt");
    const regs = (x: { eax: number; ebx: number; ecx: number; edx: number; esi: number; ebp: number; esp: number }) =>
      [x.eax, x.ebx, x.ecx, x.edx & 0xffff, x.esi & 0x3ff, x.ebp, x.esp].map((v) => v >>> 0);
    const nat = regs(n.m);
    expect(nat).toEqual([KCODE, 0x10, 0x10, KCODE, 0x202, 0, 0x8000]);
    for (const fastPaths of [true, false]) {
      const f = miniVm(body, { fastPaths });
      expect(go(f.mo, 2000)).toMatchObject({ stop: "halted" });
      expect(regs(f.m)).toEqual(nat);
      const c = f.mo.inCpuCounts(), x = f.mo.stats.exits;
      if (fastPaths) {
        // (the first IRET exits: KCODE's descriptor is not accessed yet, and the monitor's IRET sets the bit in the
        // guest's GDT, as the CPU's CS load does natively)
        expect(c["iret to kernel"]).toBe(100);
        expect(c["mov/push cs|ss"]).toBe(105);
        expect(x["sensitive iret"]).toBe(1);
        expect(x["sensitive push-cs"] ?? 0).toBe(0);
      } else {
        expect(x["sensitive iret"]).toBe(101);
        expect(x["sensitive push-cs"]).toBe(102);
      }
    }
  });
  it("an IRET that sets IF while an interrupt waits still exits, so the monitor injects after it", () => {
    const f = miniVm(body);
    f.mo.interruptPending = true; // (no controller here: the CPU only sees the flag; the monitor has nothing to inject)
    go(f.mo, 2000);
    expect(f.mo.inCpuCounts()["iret to kernel"]).toBe(99);
    expect(f.mo.stats.exits["sensitive iret"]).toBe(2); // (the first: the accessed bit; the last: the window)
    expect(f.m.esi & 0x200).toBe(0x200);
  });
});
