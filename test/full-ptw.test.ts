// full-ptw.test.ts — shadow paging's own faults resolved inside the CPU (abi.ts CTRL_FAST_PT, assembly/fullpt.ts,
// host/full/ptmirror.ts): hidden fills and stores to write-protected guest page tables without an exit. Each made-up
// kernel (test/full-minivm.ts) runs natively at CPL 0, deprivileged with the fast path, and deprivileged with it off
// (the monitor's path): registers, the vector taken, and the page tables with their A/D bits must agree; the fast
// run must take fewer exits and count its in-CPU events; hostile entries must never reach machine memory outside
// guest RAM; the mirror must stay the monitor's reverse map.
import { describe, it, expect } from "vitest";
import { miniVm, nativeVm, go, d32, identityPaging, PAGING_ON, RAM, VEC_SEEN, TO_USER } from "./full-minivm.ts";
import { VMM_SIZE } from "../host/full/monitor.ts";
import * as A from "../host/abi.generated.ts";

const HLT = 0xf4;
const PD = 0x10000, PT0 = 0x11000, PT1 = 0x12000, PT1B = 0x13000, X = 0x14000;
const movMI = (a: number, v: number) => [0xc7, 0x05, ...d32(a), ...d32(v)]; // mov dword [a], v
const addEax = (a: number) => [0x03, 0x05, ...d32(a)];                      // add eax, [a]
const movEbx = (a: number) => [0x8b, 0x1d, ...d32(a)];                      // mov ebx, [a]
const movEcx = (a: number) => [0x8b, 0x0d, ...d32(a)];                      // mov ecx, [a]
const movEdx = (a: number) => [0x8b, 0x15, ...d32(a)];                      // mov edx, [a]
const movEsi = (a: number) => [0x8b, 0x35, ...d32(a)];                      // mov esi, [a]
const invlpg = (a: number) => [0x0f, 0x01, 0x3d, ...d32(a)];                // invlpg [a]
const movEdiImm = (v: number) => [0xbf, ...d32(v)];                         // mov edi, v
const movEaxImm = (v: number) => [0xb8, ...d32(v)];                         // mov eax, v
const stosd = [0xab];                                                       // stosd (es:[edi] ← eax, edi += 4)

type Vm = { m: { eax: number; ebx: number; ecx: number; edx: number; esi: number; edi: number }; seen(): number; rd32(a: number): number };
/** what the guest can see: registers, the vector taken, the page tables and pages it used (A/D bits included) */
function view(x: Vm, tables: number[]) {
  const words: number[] = [];
  for (const a of tables) words.push(x.rd32(a));
  return { eax: x.m.eax >>> 0, ebx: x.m.ebx >>> 0, ecx: x.m.ecx >>> 0, edx: x.m.edx >>> 0, esi: x.m.esi >>> 0, edi: x.m.edi >>> 0, vector: x.seen(), words };
}
const range = (a: number, n: number) => Array.from({ length: n }, (_, i) => a + 4 * i);
const TABLES = [...range(PD, 4), ...range(PT0 + 0x200 * 4, 24), ...range(PT0 + 0x300 * 4, 8), ...range(PT1, 10), ...range(PT1B, 4), ...range(X, 4), 0x201000, 0x204000];

function setup(g: (a: number, b: number[]) => void) {
  identityPaging(g);
  for (let i = 0; i < 24; i++) g(0x200000 + i * 0x1000, d32(0x1000 + i));
  for (let i = 0; i < 8; i++) g(0x300000 + i * 0x1000, d32(0x3000 + i));
}
const exitsOf = (mo: { stats: { exits: Record<string, number> } }) => Object.values(mo.stats.exits).reduce((a, b) => a + b, 0);
const inCpu = (mo: { inCpuCounts(): Record<string, number> }) => mo.inCpuCounts();

/** the kernel body natively, deprivileged with CTRL_FAST_PT and without it */
function run3(body: number[], tables = TABLES, user?: number[]) {
  const fast = miniVm(body, { user }); setup(fast.g);
  const fr = go(fast.mo);
  const slow = miniVm(body, { user }); slow.mo.fastPaths &= ~A.CTRL_FAST_PT; setup(slow.g);
  const sr = go(slow.mo);
  const n = nativeVm(body, { user }); setup(n.g); n.m.run(2_000_000);
  return { fast, slow, fr, sr, f: view(fast, tables), s: view(slow, tables), n: view(n, tables) };
}

/** every shadow PTE of every linked shadow PT maps guest RAM or machine memory past it (MMIO), never the VMM's */
function shadowContained(f: ReturnType<typeof miniVm>): number {
  const mi = f.mo.shadow.mirror!;
  let present = 0;
  for (let page = 0; page < mi.nPages; page++) {
    const src = f.m.read32(mi.pages + page * 8) >>> 0;
    const kind = ((f.m.read32(mi.pages + page * 8 + 4) >>> 0) >>> A.FPT_KIND_SHIFT) & 3;
    if (!src || kind !== A.FPT_KIND_PT) continue;
    for (let i = 0; i < 1024; i++) {
      const e = f.m.read32(page * 4096 + i * 4) >>> 0;
      if (!(e & 1)) continue;
      present++;
      expect((e & ~0xfff) >>> 0).toBeGreaterThanOrEqual(VMM_SIZE);
    }
  }
  return present;
}

/** the mirror is the monitor's reverse map: every shadow PT/PD linked from its source frame, nothing else */
function mirrorConsistent(f: ReturnType<typeof miniVm>): void {
  const sh = f.mo.shadow as unknown as { shadows: Map<string, { pd: number; gpdFrame: number; user: boolean; pts: Map<number, number>; ptSrc: Map<number, number> }> };
  const mi = f.mo.shadow.mirror!;
  const want = new Map<number, string>();
  for (const s of sh.shadows.values()) {
    if (s.gpdFrame >= 0) want.set(s.pd / 4096, `${s.gpdFrame}:${s.user ? A.FPT_KIND_PD_U : A.FPT_KIND_PD_K}:0`);
    for (const [pdi, pt] of s.pts) { const src = s.ptSrc.get(pdi)!; if (src >= 0) want.set(pt / 4096, `${src}:${A.FPT_KIND_PT}:${pdi}`); }
  }
  const got = new Map<number, string>();
  for (let frame = 0; frame < mi.nFrames; frame++) {
    let q = (f.m.read32(mi.frames + frame * 4) >>> 0) & A.FPT_HEAD_MASK;
    for (let k = 0; q && k < mi.nPages; k++) {
      const page = q - 1;
      const link = f.m.read32(mi.pages + page * 8 + 4) >>> 0;
      expect(f.m.read32(mi.pages + page * 8) >>> 0).toBe(frame + 1);
      got.set(page, `${frame}:${(link >>> A.FPT_KIND_SHIFT) & 3}:${(link >>> 16) & 0x3ff}`);
      q = link & A.FPT_HEAD_MASK;
    }
  }
  expect(got).toEqual(want);
}

describe("page-table writes and hidden fills in the CPU (CTRL_FAST_PT)", () => {
  // PDE 1 → PT1 (a PD store the CPU does: no shadow PT at pdi 1 yet), PT1's entries written while it is no table
  // of any shadow (plain stores), the first touch through it (the monitor builds the shadow PT), then fills, a
  // write fill (D), PTE stores to the now protected PT1 (zapped, invlpg, refilled), a PDE change whose shadow has a
  // PT (the exit: the monitor frees it), and a true fault at the end (vector 14)
  const body = [
    ...PAGING_ON,
    ...addEax(0x200000),
    ...movMI(PD + 4, PT1 | 7),
    ...Array.from({ length: 8 }, (_, i) => movMI(PT1 + 4 * i, (0x200000 + 0x1000 * i) | 7)).flat(),
    ...Array.from({ length: 8 }, (_, i) => addEax(0x400000 + 0x1000 * i)).flat(),
    ...movMI(0x401000, 0xabcd1234),
    ...movMI(PT1 + 8, 0x300007), ...invlpg(0x402000), ...movEbx(0x402000),
    ...movMI(PT1 + 12, 0x300005), ...invlpg(0x403000), ...movEcx(0x403000),
    ...movEdiImm(PT1 + 16), ...movEaxImm(0x305007), ...stosd, ...invlpg(0x404000), ...addEax(0x404000),
    ...movMI(PD + 4, PT1B | 7),
    ...movMI(PT1B, 0x201007), ...invlpg(0x400000), ...movEdx(0x400000),
    ...movEsi(0x401000),
    HLT,
  ];

  it("a kernel building and rewriting page tables: same memory, A/D bits, registers and fault as native and the monitor", () => {
    const r = run3(body);
    expect(r.fr).toMatchObject({ stop: "halted" });
    expect(r.sr).toMatchObject({ stop: "halted" });
    expect(r.n.vector).toBe(14);
    expect(r.n.edx).toBe(0xabcd1234);
    expect(r.n.ebx).toBe(0x3000);
    expect(r.f).toEqual(r.n);
    expect(r.s).toEqual(r.n);
    const c = inCpu(r.fast.mo);
    expect(c["shadow fill"]).toBeGreaterThanOrEqual(8);
    expect(c["pt write"]).toBeGreaterThanOrEqual(3);
    expect(c["invlpg"]).toBe(4);
    expect(r.fast.mo.stats.exits["invlpg"]).toBeUndefined();
    expect(r.slow.mo.stats.exits["invlpg"]).toBe(4);
    expect(inCpu(r.slow.mo)["shadow fill"] ?? 0).toBe(0);
    // the exits the CPU took over: fewer by at least its fills, stores and invlpgs
    expect(exitsOf(r.fast.mo)).toBeLessThanOrEqual(exitsOf(r.slow.mo) - c["shadow fill"] - c["pt write"] - c["invlpg"] + 2);
    expect(shadowContained(r.fast)).toBeGreaterThan(0);
    mirrorConsistent(r.fast);
    mirrorConsistent(r.slow);
  });

  it("byte, word and word-straddling stores into page-table entries: the 1–2 entries they change are zapped", () => {
    const b = [
      ...PAGING_ON,
      ...movMI(PD + 4, PT1 | 7),
      ...Array.from({ length: 4 }, (_, i) => movMI(PT1 + 4 * i, (0x200000 + 0x1000 * i) | 7)).flat(),
      ...Array.from({ length: 4 }, (_, i) => addEax(0x400000 + 0x1000 * i)).flat(),
      0xc6, 0x05, ...d32(PT1 + 6), 0x30,               // mov byte [PT1+6], 0x30: PTE 1 → 0x301000
      0x66, 0xc7, 0x05, ...d32(PT1 + 10), 0x30, 0x00,  // mov word [PT1+10], 0x0030: PTE 2 → 0x302000
      0xc7, 0x05, ...d32(PT1 + 14), 0x30, 0x00, 0x07, 0x30, // mov dword [PT1+14], 0x30070030: PTE 3 → 0x303000, PTE 4 ← 0x3007
      ...invlpg(0x401000), ...invlpg(0x402000), ...invlpg(0x403000),
      ...movEbx(0x401000), ...movEcx(0x402000), ...movEdx(0x403000),
      HLT,
    ];
    const r = run3(b);
    expect(r.fr).toMatchObject({ stop: "halted" });
    expect(r.n.ebx).toBe(0x3001);
    expect(r.n.ecx).toBe(0x3002);
    expect(r.n.edx).toBe(0x3003);
    expect(r.f).toEqual(r.n);
    expect(r.s).toEqual(r.n);
    expect(inCpu(r.fast.mo)["pt write"]).toBe(4); // the PDE and the three stores
    mirrorConsistent(r.fast);
  });

  it("a writable entry the CPU made is found when its frame becomes a page table (the log joins the reverse map)", () => {
    // X mapped writable at 0x405000 and written (the CPU's write fill: logged); then X becomes PT of PDE 2 and
    // 0x800000 is touched (the monitor builds a shadow PT from X: it must revoke 0x405000's write access); then a
    // store through 0x405000 changes X's entry 0 — without invlpg, full mode sees it at once (README "PTE write
    // without invlpg"), with or without the fast path: only if the store traps
    const b = [
      ...PAGING_ON,
      ...movMI(PD + 4, PT1 | 7), ...movMI(PT1, 0x200007), ...movMI(PT1 + 5 * 4, X | 7),
      ...movEbx(0x400000),                   // the shadow PT of pdi 1 (the monitor builds it)
      ...movMI(0x405000, 0x300007),          // X[0] → 0x300000: the CPU's write fill of 0x405000 (logged)
      ...movMI(PD + 8, X | 7),               // PDE 2 → X
      ...movEbx(0x800000),                   // through X[0]: 0x3000
      ...movMI(0x405000, 0x301007),          // X[0] → 0x301000: must trap
      ...movEcx(0x800000),                   // full mode: 0x3001 (the derived entry was zapped)
      HLT,
    ];
    const r = run3(b);
    expect(r.fr).toMatchObject({ stop: "halted" });
    expect(r.f.ebx).toBe(0x3000);
    expect(r.s.ecx).toBe(0x3001);
    expect(r.f).toEqual(r.s);
    expect(inCpu(r.fast.mo)["pt write"]).toBe(3); // PDE 1, PDE 2, and X[0] once it is a page table
    expect(inCpu(r.fast.mo)["shadow fill"]).toBeGreaterThanOrEqual(1);
    mirrorConsistent(r.fast);
  });

  it("hostile entries: outside RAM, at the top of the physical space, a PT outside RAM — the monitor's, never outside guest RAM", () => {
    // each touch is left to the monitor (the same stop, at the same instruction, with the same state as without the
    // fast path: the made-up monitor has no bus, so a device access ends its run); no shadow entry maps the VMM
    const pre = [...PAGING_ON, ...movMI(PD + 4, PT1 | 7), ...movMI(PT1, 0x200007), ...movEaxImm(0), ...addEax(0x400000)];
    for (const hostile of [
      [...movMI(PT1 + 4, RAM | 7), ...movEbx(0x401000)],                          // just past guest RAM: a device page
      [...movMI(PT1 + 4, 0x7ff000 | 7), ...movEbx(0x401000)],                     // guest-physical 8 MiB - 4 KiB
      [...movMI(PT1 + 4, ((0x100000000 - VMM_SIZE) | 7) >>> 0), ...movEbx(0x401000)], // + the RAM offset wraps onto the VMM
      [...movMI(PT1 + 4, 0xfffff007), ...movMI(0x401000, 1)],                     // a write at the top of the space
      [...movMI(PD + 12, 0x7ffff007), ...movEbx(0xc00000)],                       // PDE 3 → a PT far outside RAM
      [...movMI(PD + 12, 0x7ffff007), ...movMI(0xc00000, 1)],
    ]) {
      const r = run3([...pre, ...hostile, HLT]);
      expect(r.fr).toEqual(r.sr);
      expect(r.f).toEqual(r.s);
      for (const lin of [0x401000, 0xc00000]) {
        const a = r.fast.mo.shadow.spteAddr(lin);
        const e = a < 0 ? 0 : r.fast.m.read32(a) >>> 0;
        if (e & 1) expect((e & ~0xfff) >>> 0).toBeGreaterThanOrEqual(VMM_SIZE + RAM); // device memory past machine RAM
      }
      shadowContained(r.fast);
      mirrorConsistent(r.fast);
    }
  });

  it("a PT rewritten many times without use is unshadowed as by the monitor (the CPU's stores count)", () => {
    const b = [
      ...PAGING_ON,
      ...movMI(PD + 4, PT1 | 7), ...movMI(PT1, 0x200007), ...movEbx(0x400000),
      ...Array.from({ length: 30 }, (_, i) => movMI(PT1 + 4 + 4 * (i % 8), (0x300000 + 0x1000 * (i % 8)) | 7)).flat(),
      ...invlpg(0x400000), ...movEcx(0x400000), ...movEdx(0x401000),
      HLT,
    ];
    const r = run3(b);
    expect(r.fr).toMatchObject({ stop: "halted" });
    expect(r.f).toEqual(r.n);
    expect(r.s).toEqual(r.n);
    expect(r.fast.mo.shadow.stats.unshadowed).toBe(r.slow.mo.shadow.stats.unshadowed);
    expect(r.fast.mo.shadow.stats.unshadowed).toBeGreaterThanOrEqual(1);
    // the PDE store, then 23 PTE stores: the 24th would reach the unshadow count (FLOOD), the monitor's
    expect(inCpu(r.fast.mo)["pt write"]).toBe(24);
    mirrorConsistent(r.fast);
  });

  it("user mode: fills in the user shadow, a user write to a read-only page is the guest's fault", () => {
    // (virtual CPL 3: the walk is a user walk; the kernel's page 0x300000 mapped supervisor-only faults)
    const r = run3([...PAGING_ON, ...movMI(PT0 + 0x300 * 4, 0x300003), HLT]);
    expect(r.f).toEqual(r.n);
  });

  it("invlpg from user mode is the guest's #GP, as natively (not done in the CPU)", () => {
    const r = run3([...PAGING_ON, ...TO_USER], TABLES, invlpg(0x200000));
    expect(r.n.vector).toBe(13);
    expect(r.f).toEqual(r.n);
    expect(r.s).toEqual(r.n);
    expect(inCpu(r.fast.mo)["invlpg"]).toBeUndefined();
  });

  it("off with fastPaths: false (no in-CPU counts)", () => {
    const f = miniVm(body, { fastPaths: false }); setup(f.g);
    expect(go(f.mo)).toMatchObject({ stop: "halted" });
    expect(inCpu(f.mo)["shadow fill"]).toBeUndefined();
    expect(inCpu(f.mo)["pt write"]).toBeUndefined();
    expect(f.m.read32(VMM_SIZE + VEC_SEEN)).toBe(14);
  });
});
