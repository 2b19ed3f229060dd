// full-pf.test.ts — true page faults from guest user mode delivered through the guest's IDT inside the CPU
// (abi.ts "full-pf", CTRL_FAST_PF; assembly/fullfast.ts fastPageFault; host/full/README.md "Fast paths"). Each guest
// runs natively, in full mode with the fast paths on, with only CTRL_FAST_PF off, and with every fast path off (the
// monitor reflects each #PF, host/full/reflect.ts): the #PF handler's log (error code, CR2, the frame, the kernel ESP),
// the registers and the guest's page tables with their A/D bits must be identical; the counters say where each fault
// was delivered. What the CPU cannot decide (a fault during delivery, a hostile IDT or TSS) must end as before.
import { describe, it, expect } from "vitest";
import * as A from "../host/abi.generated.ts";
import { FAST_CTRLS } from "../host/full/vcpu.ts";
import {
  miniVm, nativeVm, go, d32, gate, KCODE, TO_USER, VEC_SEEN, PROLOGUE, PAGING_ON, KCODE_AT, TSS, type MiniOpts,
} from "./full-minivm.ts";

const LOGP = 0x3200, LOG = 0x20000, REC = 32;
const PD = 0x10000, PT0 = 0x11000, PT1 = 0x12000;
const NP = 0x200000, RO = 0x201000, SUP = 0x202000, NOPT = 0x400000, NOPDE = 0x800000;
const HERE = KCODE_AT + PROLOGUE.length;

/**
 * The #PF handler (at H): logs one 32-byte record at [LOGP] — error code, CR2, the frame's EIP CS EFLAGS ESP SS and
 * the kernel ESP after popping the error code — then steps over the faulting 5-byte `mov` and returns.
 */
const HANDLER = [
  0x36, 0x8b, 0x3d, ...d32(LOGP),       // mov edi, [ss:LOGP]
  0x58,                                 // pop eax                  (the error code)
  0x36, 0x89, 0x07,                     // mov [ss:edi], eax
  0x0f, 0x20, 0xd0,                     // mov eax, cr2
  0x36, 0x89, 0x47, 0x04,               // mov [ss:edi+4], eax
  0x8b, 0x04, 0x24,                     // mov eax, [esp]           (EIP)
  0x36, 0x89, 0x47, 0x08,               // mov [ss:edi+8], eax
  0x8b, 0x44, 0x24, 0x04,               // mov eax, [esp+4]         (CS)
  0x36, 0x89, 0x47, 0x0c,               // mov [ss:edi+12], eax
  0x8b, 0x44, 0x24, 0x08,               // mov eax, [esp+8]         (EFLAGS)
  0x36, 0x89, 0x47, 0x10,               // mov [ss:edi+16], eax
  0x8b, 0x44, 0x24, 0x0c,               // mov eax, [esp+12]        (ESP)
  0x36, 0x89, 0x47, 0x14,               // mov [ss:edi+20], eax
  0x8b, 0x44, 0x24, 0x10,               // mov eax, [esp+16]        (SS)
  0x36, 0x89, 0x47, 0x18,               // mov [ss:edi+24], eax
  0x36, 0x89, 0x67, 0x1c,               // mov [ss:edi+28], esp
  0x36, 0x83, 0x05, ...d32(LOGP), REC,  // add dword [ss:LOGP], 32
  0x83, 0x04, 0x24, 0x05,               // add dword [esp], 5       (past the faulting mov)
  0xcf,                                 // iret
];
/** kernel: paging on ; [LOGP] := LOG ; jmp over the handler ; H: … ; to user mode */
function kernel(pre: number[] = []) {
  const head = [...PAGING_ON, ...pre, 0xc7, 0x05, ...d32(LOGP), ...d32(LOG)];
  const hOff = HERE + head.length + 2;
  return { body: [...head, 0xeb, HANDLER.length, ...HANDLER, ...TO_USER], hOff };
}
/** user: n times the faulting accesses, then int 3 (its handler records 3 and halts) */
function user(n: number): number[] {
  const faults = [
    0xa1, ...d32(NP),     // mov eax, [NP]      not present, read          → 4
    0xa3, ...d32(NP),     // mov [NP], eax      not present, write         → 6
    0xa1, ...d32(RO),     // mov eax, [RO]      (allowed: a fill)
    0xa3, ...d32(RO),     // mov [RO], eax      user write, read-only      → 7
    0xa1, ...d32(SUP),    // mov eax, [SUP]     user read, supervisor page → 5
    0xa3, ...d32(SUP),    // mov [SUP], eax     user write, supervisor     → 7
    0xa1, ...d32(NOPT),   // mov eax, [NOPT]    PTE not present (PDE 1: its A bit set by the walk) → 4
    0xa3, ...d32(NOPDE),  // mov [NOPDE], eax   PDE not present, write     → 6
  ];
  // push 0x23 ; pop ds (the outward IRET nulled DS) ; mov ecx, n ; L: … ; loop L ; int 3
  return [0x6a, 0x23, 0x1f, 0xb9, ...d32(n), ...faults, 0xe2, (-(faults.length + 2)) & 0xff, 0xcd, 0x03];
}
const EXPECT_ERR = [4, 6, 7, 5, 7, 4, 6];

/** identity map of the first 4 MiB (user, writable) but NP not present, RO user read-only, SUP supervisor; PDE 1 → an empty PT1 (A clear) */
function tables(g: (a: number, b: number[]) => void) {
  g(PD, [...d32(PT0 | 0x27), ...d32(PT1 | 7)]);
  const pt: number[] = [];
  for (let i = 0; i < 1024; i++) {
    const a = i << 12;
    pt.push(...d32(a === NP ? 0 : a | (a === RO ? 5 : a === SUP ? 3 : 7)));
  }
  g(PT0, pt);
  g(PT1, new Array(4096).fill(0));
}

type Run = { m: { eax: number; ebx: number; ecx: number; edx: number; esi: number; edi: number; esp: number; eip: number }; rd32: (a: number) => number };
function observe(r: Run) {
  const n = (r.rd32(LOGP) - LOG) / 4;
  return {
    log: Array.from({ length: Math.max(0, Math.min(n, 1 << 15)) }, (_, i) => r.rd32(LOG + 4 * i)),
    seen: r.rd32(VEC_SEEN), esp: r.m.esp >>> 0, ecx: r.m.ecx >>> 0, eax: r.m.eax >>> 0, edi: r.m.edi >>> 0,
    pd: [r.rd32(PD), r.rd32(PD + 4), r.rd32(PD + 8)],
    ptes: [NP, RO, SUP, 0x203000].map((a) => r.rd32(PT0 + (a >>> 12) * 4)), pt1: r.rd32(PT1),
    kstack: Array.from({ length: 8 }, (_, i) => r.rd32(0x8000 - 32 + 4 * i)),
  };
}
/** native, full (all fast paths), full without CTRL_FAST_PF, full with none */
function run4(body: number[], o: MiniOpts, max = 20000) {
  const full = (mode: "on" | "nopf" | "off") => {
    const f = miniVm(body, { ...o, fastPaths: mode !== "off" });
    tables(f.g);
    if (mode === "nopf") f.mo.fastPaths = FAST_CTRLS & ~A.CTRL_FAST_PF;
    const res = go(f.mo, max);
    return { f, res, obs: observe(f) };
  };
  const on = full("on"), nopf = full("nopf"), off = full("off");
  const n = nativeVm(body, o);
  tables(n.g);
  const nr = n.m.run(10_000_000);
  return { on, nopf, off, nat: { reason: nr.reason, obs: observe(n) } };
}
const pfExits = (mo: { stats: { exits: Record<string, number> } }) => mo.stats.exits["#PF"] ?? 0;

describe("true #PF from user mode delivered through the guest's IDT in the CPU (CTRL_FAST_PF)", () => {
  for (const type of [0x8e, 0x8f]) {
    it(`not present, read-only, supervisor, no PT, no PDE ×40 (${type === 0x8e ? "interrupt" : "trap"} gate): error codes, CR2, frames, A bits as native and the monitor; no exit after the first`, () => {
      const { body, hOff } = kernel();
      const r = run4(body, { user: user(40), gates: { 14: gate(KCODE, hOff, type) } });
      expect(r.nat.reason).toBe("hlt");
      for (const x of [r.on, r.nopf, r.off]) expect(x.res).toMatchObject({ stop: "halted" });
      const nat = r.nat.obs;
      expect(nat.seen).toBe(3);
      expect(nat.log.length).toBe(40 * 7 * 8);
      // the first round as the CPU computes it natively: error code, CR2, EIP, CS, EFLAGS (RF, IF), ESP, SS, kernel ESP
      const addrs = [NP, NP, RO, SUP, SUP, NOPT, NOPDE];
      for (let k = 0; k < 7; k++) {
        const rec = nat.log.slice(8 * k, 8 * k + 8);
        expect(rec[0]).toBe(EXPECT_ERR[k]);
        expect(rec[1]).toBe(addrs[k]);
        expect(rec[3]).toBe(0x1b);
        expect(rec[4] & 0x10200).toBe(0x10200); // RF and IF in the frame
        expect(rec[5]).toBe(0x9000);
        expect(rec[6]).toBe(0x23);
        expect(rec[7]).toBe(0x8000 - 20);
      }
      expect(nat.pd[1] & 0x20).toBe(0x20); // PDE 1's A bit: set by the faulting walks through it
      expect(r.on.obs).toEqual(nat);
      expect(r.nopf.obs).toEqual(nat);
      expect(r.off.obs).toEqual(nat);
      // where they were delivered: the CPU, after the first of each kind (the monitor's reflection prefills the K shadow)
      const c = r.on.f.mo.inCpuCounts();
      expect(c["page fault"]).toBeGreaterThanOrEqual(40 * 7 - 7);
      expect(pfExits(r.on.f.mo)).toBeLessThanOrEqual(pfExits(r.nopf.f.mo) - c["page fault"]);
      expect(pfExits(r.nopf.f.mo)).toBeGreaterThanOrEqual(40 * 7);
      expect(r.nopf.f.mo.inCpuCounts()["page fault"]).toBeUndefined();
      expect(pfExits(r.on.f.mo)).toBeLessThanOrEqual(12);
      expect(r.on.f.mo.v.cr2 >>> 0).toBe(NOPDE);
    });
  }

  it("from a JIT-compiled user loop (400 rounds, past the JIT threshold): as native and the monitor, in the CPU", () => {
    const { body, hOff } = kernel();
    const r = run4(body, { user: user(400), gates: { 14: gate(KCODE, hOff, 0x8e) } }, 100000);
    expect(r.nat.reason).toBe("hlt");
    expect(r.nat.obs.log.length).toBe(400 * 7 * 8);
    for (const x of [r.on, r.nopf, r.off]) { expect(x.res).toMatchObject({ stop: "halted" }); expect(x.obs).toEqual(r.nat.obs); }
    expect(r.on.f.mo.inCpuCounts()["page fault"]).toBeGreaterThanOrEqual(400 * 7 - 7);
    expect(r.on.f.m.jitStats.compiled).toBeGreaterThan(0);
    expect(r.on.f.m.jitStats.retired).toBeGreaterThan(0);
  });

  it("a fault during delivery (an invalid #PF gate: #GP, then #DF): the exit, the same #DF frame as native", () => {
    const { body } = kernel();
    const bad = [0, 0, KCODE, 0, 0, 0x80, 0, 0]; // present, type 0: invalid
    const r = run4(body, { user: user(3), gates: { 14: bad } });
    expect(r.nat.reason).toBe("hlt");
    expect(r.nat.obs.seen).toBe(8);
    for (const x of [r.on, r.nopf, r.off]) { expect(x.res).toMatchObject({ stop: "halted" }); expect(x.obs).toEqual(r.nat.obs); }
    expect(r.on.f.mo.inCpuCounts()["page fault"]).toBeUndefined();
  });

  it("the kernel stack not mapped (TSS ESP0 in a not-present page): #PF while delivering, #DF, triple fault — as native", () => {
    const { body, hOff } = kernel([0xc7, 0x05, ...d32(TSS + 4), ...d32(NP + 0x800)]); // mov dword [TSS.esp0], NP+0x800
    const r = run4(body, { user: user(3), gates: { 14: gate(KCODE, hOff, 0x8e) } });
    expect(r.nat.reason).toBe("shutdown");
    for (const x of [r.on, r.nopf, r.off]) { expect(x.res).toMatchObject({ stop: "shutdown" }); expect(x.obs).toEqual(r.nat.obs); }
    expect(r.on.f.mo.inCpuCounts()["page fault"]).toBeUndefined();
  });

  it("hostile IDT (in the VMM's linear region) and TSS (ESP0 there, or a stack that wraps): never delivered by the CPU, ends as with the monitor", () => {
    // lidt [0x3020] with base 0xffc00000 (unmapped for the guest: the VMM's PDE 1023 in the shadows) — after the tables
    const idtPre = [0xc7, 0x05, ...d32(0x3020), ...d32(0x7ff), 0x66, 0xc7, 0x05, ...d32(0x3024), 0xc0, 0xff, 0x0f, 0x01, 0x1d, ...d32(0x3020)]; // mov dword [0x3020], 0x7ff ; mov word [0x3024], 0xffc0 ; lidt [0x3020]
    for (const pre of [
      idtPre,
      [0xc7, 0x05, ...d32(TSS + 4), ...d32(0xffc01000)],     // ESP0 in the VMM region
      [0xc7, 0x05, ...d32(TSS + 4), ...d32(0x10)],           // ESP0 = 0x10: the frame wraps below 0
    ]) {
      const { body, hOff } = kernel(pre);
      const r = run4(body, { user: user(2), gates: { 14: gate(KCODE, hOff, 0x8e) } });
      for (const x of [r.on, r.nopf]) {
        expect(x.res).toEqual(r.off.res);
        expect(x.obs).toEqual(r.off.obs);
        expect(x.f.m.eip >>> 0).toBe(r.off.f.m.eip >>> 0);
      }
      expect(r.on.f.mo.inCpuCounts()["page fault"]).toBeUndefined();
      expect(r.off.obs).toEqual(r.nat.obs);
      expect(r.off.res).toMatchObject({ stop: r.nat.reason === "hlt" ? "halted" : "shutdown" });
    }
  });
});
