// full-fast.test.ts — full mode's hot traps handled inside the CPU (assembly/fullfast.ts, abi.ts "full-fast";
// host/full/README.md "Fast paths"): cli/sti/pushf/popf of the deprivileged guest run on the virtual flags the
// monitor shares with the CPU, without an exit. Every guest runs three ways — full mode with the fast paths on,
// full mode with them off (every one exits to the monitor, as before), and natively — and must observe the same;
// the counters say where each instruction was handled. The fallbacks (a CPL above IOPL, an sti/popf that would
// open the interrupt window while an interrupt waits) must still reach the monitor.
import { describe, it, expect } from "vitest";
import {
  miniVm, nativeVm, go, d32, d16, TO_USER, VEC_SEEN, GDT, KDATA, KCODE, KCODE_AT, PROLOGUE, PAGING_ON, identityPaging, type MiniOpts,
} from "./full-minivm.ts";

const OUT = 0x3200;
const IF = 0x200;

/** what the guest can observe at its end: registers, the OUT area and the vector its handler recorded */
function observe(m: { eax: number; ebx: number; ecx: number; edx: number; esi: number; edi: number }, rd32: (a: number) => number) {
  return {
    eax: m.eax >>> 0, ebx: m.ebx >>> 0, ecx: m.ecx >>> 0, edx: m.edx >>> 0, esi: m.esi >>> 0, edi: m.edi >>> 0,
    out: [rd32(OUT), rd32(OUT + 4)], seen: rd32(VEC_SEEN),
    gdt: Array.from({ length: 16 }, (_, i) => rd32(GDT + 4 * i)), // (accessed bits included)
  };
}
/** runs `body` in full mode (fast paths on and off) and natively; returns the three observations and both VMs */
function three(body: number[], o: MiniOpts = {}) {
  const run = (fastPaths: boolean) => {
    const f = miniVm(body, { ...o, fastPaths });
    const r = go(f.mo, 20000);
    expect(r).not.toBeNull();
    expect(r && "stop" in r ? r.stop : "hlt").not.toBe("shutdown");
    return f;
  };
  const on = run(true), off = run(false);
  const n = nativeVm(body, o);
  expect(n.m.run(10_000_000).reason).toBe("hlt");
  const obs = { on: observe(on.m, on.rd32), off: observe(off.m, off.rd32), nat: observe(n.m, n.rd32), fOn: on, fOff: off };
  // the guest's GDT (accessed bits): fast on = off. (Not vs native as a whole: full mode's emulated transfers
  // mark the code descriptor accessed where the native run never loaded CS from the table — not the fast paths'.)
  expect(obs.on.gdt).toEqual(obs.off.gdt);
  const dataOnly = (g: number[]) => g.filter((_, i) => i !== 3);
  expect(dataOnly(obs.on.gdt)).toEqual(dataOnly(obs.nat.gdt));
  for (const o of [obs.on, obs.off, obs.nat]) o.gdt = [];
  return obs;
}

// at virtual CPL 0 (the prologue leaves IF=0, IOPL=0)
const FLAGS_BODY = [
  0xfb,                         // sti
  0x9c, 0x58,                   // pushf ; pop eax          (IF=1)
  0xfa,                         // cli
  0x9c, 0x5b,                   // pushf ; pop ebx          (IF=0)
  0x68, ...d32(0x3202),         // push 0x3202
  0x9d,                         // popf                     (CPL 0: IOPL := 3, IF := 1)
  0x9c, 0x59,                   // pushf ; pop ecx
  0xbd, ...d32(0xffffffff),     // mov ebp, 0xffffffff
  0x83, 0xc5, 0x01,             // add ebp, 1               (ZF CF PF AF set: pushf shows them)
  0x9c, 0x8f, 0x05, ...d32(OUT), // pushf ; pop dword [OUT]
  0x6a, 0x02,                   // push 2
  0x9d,                         // popf                     (everything clear: IF := 0, IOPL := 0)
  0x9c, 0x5a,                   // pushf ; pop edx
  0x66, 0x9c, 0x66, 0x5e,       // pushf (16-bit) ; pop si
  0x66, 0x68, 0x02, 0x02,       // push word 0x202
  0x66, 0x9d,                   // popf (16-bit)            (IF := 1)
  0x9c, 0x5f,                   // pushf ; pop edi
  0xfa,                         // cli
  0xf4,                         // hlt (IF=0: the full-mode run stops "halted")
];

describe("cli / sti / pushf / popf on the virtual flags, in the CPU", () => {
  it("at virtual CPL 0: fast on = fast off = native, and no exit for any of them", () => {
    const r = three(FLAGS_BODY);
    expect(r.nat.eax & IF).toBe(IF);
    expect(r.nat.ebx & IF).toBe(0);
    expect(r.nat.ecx & (IF | 0x3000)).toBe(IF | 0x3000);
    expect(r.nat.edx & (IF | 0x3000)).toBe(0);
    expect(r.nat.edi & IF).toBe(IF);
    expect(r.on).toEqual(r.nat);
    expect(r.off).toEqual(r.nat);
    const fast = r.fOn.mo;
    expect(r.nat.out[0] & 0x55).toBe(0x55); // CF PF AF ZF
    expect(fast.inCpuCounts()).toEqual({ cli: 2, sti: 1, pushf: 7, popf: 3 });
    for (const k of ["sensitive pushf", "sensitive popf", "#GP"]) expect(fast.stats.exits[k], k).toBeUndefined();
    expect(fast.stats.emulated.cli ?? 0).toBe(0);
    // the monitor's view is the CPU's: one copy of the virtual IF/IOPL
    expect(fast.v.vif).toBe(false);
    expect(fast.v.iopl).toBe(0);
    // with the fast paths off they all exit, as before
    expect(r.fOff.mo.inCpuCounts()).toEqual({});
    expect(r.fOff.mo.stats.exits["sensitive pushf"]).toBeGreaterThan(0);
  });

  it("a JIT-compiled loop of them runs on the virtual flags too (1000 rounds)", () => {
    const body = [
      0xfa, 0xb9, ...d32(1000), 0x31, 0xf6, // cli ; mov ecx, 1000 ; xor esi, esi
      0xfb, 0x9c, 0x58, 0xfa,               // L: sti ; pushf ; pop eax ; cli
      0x9c, 0x5b, 0x09, 0xde,               // pushf ; pop ebx ; or esi, ebx
      0x50, 0x9d,                           // push eax ; popf    (IF := 1)
      0xe2, 0xf4,                           // loop L
      0xfa, 0xf4,                           // cli ; hlt
    ];
    const r = three(body);
    expect(r.nat.esi & IF).toBe(0);
    expect(r.on).toEqual(r.nat);
    expect(r.off).toEqual(r.nat);
    expect(r.fOn.mo.inCpuCounts()).toEqual({ cli: 1002, sti: 1000, pushf: 2000, popf: 1000 });
    expect(r.fOn.m.jitStats.compiled).toBeGreaterThan(0);
  });

  it("a snapshot of the CPU state carries the shared virtual CPL / IF / IOPL", () => {
    const f = miniVm([0xfb, 0x68, ...d32(0x1202), 0x9d, 0xf4], { fastPaths: true }); // sti ; push 0x1202 ; popf ; hlt
    expect(go(f.mo, 100)).toEqual({ hlt: true });
    expect([f.mo.v.vif, f.mo.v.iopl, f.mo.v.cpl]).toEqual([true, 1, 0]);
    const s = f.m.saveState();
    f.mo.v.vif = false; f.mo.v.iopl = 0; f.mo.v.cpl = 3;
    f.m.loadState(s);
    expect([f.mo.v.vif, f.mo.v.iopl, f.mo.v.cpl]).toEqual([true, 1, 0]);
  });
});

describe("the kernel's data-segment loads at virtual CPL 0, in the CPU (CTRL_FAST_SEG)", () => {
  // KDATA (DPL 0) loads fail the real CPU's check at CPL 3 only because of the deprivileging
  const body = [
    0x66, 0xb8, ...d16(0), 0x8e, 0xe0,            // mov ax, 0 ; mov fs, ax
    0x66, 0xb8, ...d16(KDATA), 0x8e, 0xe0,        // mov ax, KDATA ; mov fs, ax
    0x8e, 0xe8, 0x8e, 0xd8, 0x8e, 0xc0,           // mov gs, ax ; mov ds, ax ; mov es, ax
    0x6a, KDATA, 0x07,                            // push KDATA ; pop es
    0x66, 0xb8, ...d16(KDATA | 3), 0x8e, 0xc0,    // mov ax, KDATA|3 ; mov es, ax  (RPL 3 > DPL 0: #GP(0x10) at CPL 0)
    0xf4,
  ];
  it("load in the CPU with the checks at the virtual CPL; an RPL fault is still the guest's #GP; fast on = off = native", () => {
    const r = three(body);
    expect(r.nat.seen).toBe(13);
    expect(r.on).toEqual(r.nat);
    expect(r.off).toEqual(r.nat);
    const segs = (m: { getSegment(s: string): { selector: number } }) => ["ds", "es", "fs", "gs"].map((s) => m.getSegment(s).selector & 0xffff);
    expect(segs(r.fOn.m)).toEqual([KDATA, KDATA, KDATA, KDATA]);
    expect(r.fOn.mo.inCpuCounts()["mov sreg"]).toBeGreaterThanOrEqual(4);
    expect(r.fOn.mo.stats.reflected["13"]).toBe(1);
    expect(r.fOff.mo.inCpuCounts()["mov sreg"]).toBeUndefined();
  });
  it("a descriptor whose accessed bit is clear takes the exit, so the bit is set in the guest's GDT, not in the copy", () => {
    // GDT entry 4 (0x20) made a DPL 0 data segment, accessed bit clear; mov ax, 0x20 ; mov ds, ax ; hlt
    const f = miniVm([0x66, 0xb8, ...d16(0x20), 0x8e, 0xd8, 0xf4]);
    f.g(GDT + 0x20, [0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0]);
    f.mo.syncTables();
    go(f.mo);
    expect(f.m.getSegment("ds").selector).toBe(0x20);
    expect(f.rd32(GDT + 0x24) & 0x100).toBe(0x100); // the guest's descriptor got its accessed bit
    expect(f.mo.inCpuCounts()["mov sreg"]).toBeUndefined();
  });
});

describe("INT n from user mode into the guest kernel and IRET back, in the CPU (CTRL_FAST_INT)", () => {
  const HERE = KCODE_AT + PROLOGUE.length;
  /** an IDT gate (KCODE:off, type byte) */
  const gate = (off: number, type: number) => [off & 0xff, (off >>> 8) & 0xff, KCODE, 0, 0, type, (off >>> 16) & 0xff, off >>> 24];
  /** kernel: [paging on] ; jmp over the handler ; H: add dword [ss:OUT], 1 ; iret ; then to user. User: `user`. */
  function syscallGuest(paging: boolean, handlerType = 0xee) {
    const pre = paging ? PAGING_ON : [];
    const hOff = HERE + pre.length + 2;
    const handler = [0x36, 0x83, 0x05, ...d32(OUT), 0x01, 0xcf]; // add dword [ss:OUT], 1 ; iret
    const body = [...pre, 0xeb, handler.length, ...handler, ...TO_USER];
    const o: MiniOpts = { gates: { 0x80: gate(hOff, handlerType) } };
    return { body, o };
  }
  // user: mov ecx, 200 ; L: int 0x80 ; loop L ; int 3 (its default DPL 3 handler records 3 and halts)
  const USER = [0xb9, ...d32(200), 0xcd, 0x80, 0xe2, 0xfc, 0xcd, 0x03];

  for (const paging of [false, true]) {
    for (const type of [0xee, 0xef]) {
      it(`200 system calls (${type === 0xee ? "interrupt" : "trap"} gate, paging ${paging ? "on" : "off"}): fast on = off = native, and (after the first) no exit`, () => {
        const { body, o } = syscallGuest(paging, type);
        const setup = paging ? { ...o, user: USER } : { ...o, user: USER };
        const run = (fastPaths: boolean) => {
          const f = miniVm(body, { ...setup, fastPaths });
          if (paging) identityPaging(f.g);
          const r = go(f.mo, 20000);
          expect(r).toMatchObject({ stop: "halted" });
          return f;
        };
        const on = run(true), off = run(false);
        const n = nativeVm(body, setup);
        if (paging) identityPaging(n.g);
        expect(n.m.run(10_000_000).reason).toBe("hlt");
        const obs = (f: { m: typeof n.m; rd32: (a: number) => number }) =>
          ({ ...observe(f.m, f.rd32), esp: f.m.esp >>> 0, eip: f.m.eip >>> 0, segs: ["cs", "ss", "ds", "es", "fs", "gs"].map((x) => f.m.getSegment(x as "cs").selector & 0xfffc), gdt: [] });
        const nat = obs(n);
        expect(nat.out[0]).toBe(200);
        expect(nat.seen).toBe(3);
        expect({ ...obs(off), eip: 0 }).toEqual({ ...nat, eip: 0 });
        expect({ ...obs(on), eip: 0 }).toEqual({ ...nat, eip: 0 });
        const c = on.mo.inCpuCounts();
        expect(c.int).toBeGreaterThanOrEqual(198);
        expect(c.iret).toBeGreaterThanOrEqual(198);
        expect(on.mo.stats.exits["int 0x80"] ?? 0).toBeLessThanOrEqual(2);
        expect(off.mo.stats.exits["int 0x80"]).toBe(200);
        expect(on.mo.v.cpl).toBe(0); // (in the int 3 handler)
      });
    }
  }
});

describe("a kernel that rewrites its GDT in memory, then IRETs to user mode (the fast IRET's GDT check)", () => {
  // Linux rewrites its TLS descriptors in the GDT without lgdt and returns to user mode, which loads GS from it.
  // The int 0x80 handler sets UDATA's base[23:16] to 0x10 (base 0x100000) ; iret. User: int 0x80 twice (the second
  // pair runs in the CPU) ; mov ax, 0x23 ; mov gs, ax ; mov eax, gs:[0] ; int 3. Over a stale real GDT copy GS
  // kept base 0 and eax read linear 0 instead of the marker at 0x100000.
  it("user code sees the descriptor the kernel wrote: fast on = off = native", () => {
    const hOff = KCODE_AT + PROLOGUE.length + 2;
    const handler = [0x36, 0xc6, 0x05, ...d32(0x4000 + 0x24), 0x10, 0xcf]; // mov byte [ss:GDT+0x24], 0x10 ; iret
    const body = [0xeb, handler.length, ...handler, ...TO_USER];
    const user = [0xcd, 0x80, 0xcd, 0x80, 0x66, 0xb8, 0x23, 0x00, 0x8e, 0xe8, 0x65, 0xa1, ...d32(0), 0xcd, 0x03];
    const gateAt = [hOff & 0xff, (hOff >>> 8) & 0xff, KCODE, 0, 0, 0xee, (hOff >>> 16) & 0xff, hOff >>> 24];
    const o: MiniOpts = { gates: { 0x80: gateAt }, user };
    const run = (fastPaths: boolean) => {
      const f = miniVm(body, { ...o, fastPaths });
      f.g(0x100000, d32(0x600df00d));
      expect(go(f.mo, 20000)).toMatchObject({ stop: "halted" });
      return f;
    };
    const on = run(true), off = run(false);
    const n = nativeVm(body, o);
    n.g(0x100000, d32(0x600df00d));
    expect(n.m.run(10_000_000).reason).toBe("hlt");
    expect(n.m.eax >>> 0).toBe(0x600df00d);
    expect(off.m.eax >>> 0).toBe(0x600df00d);
    expect(on.m.eax >>> 0).toBe(0x600df00d);
    expect(on.mo.inCpuCounts().iret).toBeGreaterThanOrEqual(1); // the second return ran in the CPU, over a current copy
  });
});

describe("mov from CR0/CR2/CR3/CR4 at virtual CPL 0 reads the shared virtual registers (CTRL_FAST_CR)", () => {
  it("fast on = off = native; from user mode still the guest's #GP", () => {
    const body = [
      0xb8, ...d32(0x12345000), 0x0f, 0x22, 0xd0, // mov eax, 0x12345000 ; mov cr2, eax (a write: the exit)
      0x0f, 0x20, 0xc0, 0x0f, 0x20, 0xd3,          // mov eax, cr0 ; mov ebx, cr2
      0x0f, 0x20, 0xd9, 0x0f, 0x20, 0xe2,          // mov ecx, cr3 ; mov edx, cr4
      0xf4,
    ];
    const r = three(body);
    expect(r.nat.ebx).toBe(0x12345000);
    expect(r.on).toEqual(r.nat);
    expect(r.off).toEqual(r.nat);
    expect(r.fOn.mo.inCpuCounts()["mov from cr"]).toBe(4);
    expect(r.fOn.mo.stats.exits["#GP"] ?? 0).toBeLessThanOrEqual(1); // (only the mov to cr2, if counted so)
    const u = three(TO_USER, { user: [0x0f, 0x20, 0xd0] }); // user: mov eax, cr2 → #GP
    expect(u.nat.seen).toBe(13);
    expect(u.on).toEqual(u.nat);
    expect(u.fOn.mo.inCpuCounts()["mov from cr"]).toBeUndefined();
  });
});

describe("what the fast paths leave to the monitor", () => {
  it("INT n through a DPL 0 gate from user mode (#GP), and user mode with IF=0: the exit, as natively", () => {
    // user: int 0x80 (DPL 3, the handler records 0x80) after an iret with IF=0 ; / int 0x81 (DPL 0 gate: #GP)
    const if0 = [...TO_USER];
    if0.splice(8, 4, ...d32(0x2));
    for (const [body, user, vec] of [[if0, [0xcd, 0x80], 0x80], [TO_USER, [0xcd, 0x81], 13]] as const) {
      const r = three([...body], { user: [...user] });
      expect(r.nat.seen).toBe(vec);
      expect(r.on).toEqual(r.nat);
      expect(r.off).toEqual(r.nat);
      expect(r.fOn.mo.inCpuCounts().int).toBeUndefined();
    }
  });

  it("user-mode cli at IOPL 0: #GP, reflected by the monitor as natively", () => {
    const r = three(TO_USER, { user: [0xfa, 0xf4] });
    expect(r.nat.seen).toBe(13);
    expect(r.on).toEqual(r.nat);
    expect(r.off).toEqual(r.nat);
    expect(r.fOn.mo.inCpuCounts().cli).toBeUndefined();
  });

  it("user mode at IOPL 3: cli/sti/pushf are allowed and run on the virtual flags (IF=0, IOPL=3 shown as natively)", () => {
    // iret to user with EFLAGS 0x3202, then: cli ; pushf ; pop eax ; sti ; pushf ; pop ebx ; hlt (#GP at CPL 3)
    const toUser = [...TO_USER];
    toUser.splice(8, 4, ...d32(0x3202)); // (its push imm32 of EFLAGS)
    const r = three(toUser, { user: [0xfa, 0x9c, 0x58, 0xfb, 0x9c, 0x5b, 0xf4] });
    expect(r.nat.eax & (IF | 0x3000)).toBe(0x3000);
    expect(r.nat.ebx & (IF | 0x3000)).toBe(IF | 0x3000);
    expect(r.nat.seen).toBe(13);
    expect(r.on).toEqual(r.nat);
    expect(r.off).toEqual(r.nat);
    expect(r.fOn.mo.inCpuCounts()).toMatchObject({ cli: 1, sti: 1, pushf: 2 });
  });

  it("sti opening the window while an interrupt waits exits, so the monitor runs its shadow and injects", () => {
    for (const pending of [false, true]) {
      const f = miniVm([0xfb, 0x90, 0xf4], { fastPaths: true }); // sti ; nop ; hlt
      f.mo.interruptPending = pending;
      expect(go(f.mo, 100)).toEqual({ hlt: true });
      expect(f.mo.v.vif).toBe(true);
      // pending: handed to the monitor (its sti emulation arms the one-instruction shadow); else done in the CPU
      expect(f.mo.stats.emulated.sti ?? 0).toBe(pending ? 1 : 0);
      expect(f.mo.inCpuCounts().sti ?? 0).toBe(pending ? 0 : 1);
      expect(f.mo.stiShadow).toBe(pending);
    }
  });

  it("popf setting IF while an interrupt waits exits before executing (the monitor emulates it); clearing IF does not", () => {
    // push 0x202 ; popf ; push 2 ; popf ; hlt
    const body = [0x68, ...d32(0x202), 0x9d, 0x6a, 0x02, 0x9d, 0xf4];
    const f = miniVm(body, { fastPaths: true });
    f.mo.interruptPending = true;
    expect(go(f.mo, 100)).toMatchObject({ stop: "halted" });
    expect(f.mo.stats.exits["sensitive popf"]).toBe(1);
    expect(f.mo.inCpuCounts().popf).toBe(1);
    const n = nativeVm(body);
    expect(n.m.run(1000).reason).toBe("hlt");
    expect(f.m.esp).toBe(n.m.esp);
  });
});
