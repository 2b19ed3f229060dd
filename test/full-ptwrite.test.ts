// full-ptwrite.test.ts — guest page-table writes emulated by the monitor (decoded from the faulting store, no
// single-step, no frame diff): every decoded form (mov, and/or/xor, xchg, cmpxchg, bt[src], rep stos; 8/16/32-bit)
// writes a PTE of a mapping the shadow already holds, then the guest reads through it. The same guest runs
// deprivileged and natively at CPL 0 (test/full-minivm.ts); registers, flags, the PTE (with its A/D bits) and the
// vector taken must agree, and the write must have been emulated, not single-stepped.
import { describe, it, expect } from "vitest";
import { miniVm, nativeVm, go, d32, identityPaging, PAGING_ON } from "./full-minivm.ts";
import * as A from "../host/abi.generated.ts";

/** the monitor's emulator is what these test: the CPU's own page-table stores (CTRL_FAST_PT, test/full-ptw.test.ts) off */
const monitorOnly = <T extends { mo: { fastPaths: number } }>(f: T): T => { f.mo.fastPaths &= ~A.CTRL_FAST_PT; return f; };

const HLT = 0xf4;
const PT0 = 0x11000;
const PTE = PT0 + 0x200 * 4; // the PTE of linear 0x200000 (identity: → 0x200000, user|rw|present)
const movEbx = (v: number) => [0xbb, ...d32(v)];
const movEax = (v: number) => [0xb8, ...d32(v)];
const loadEcx = (a: number) => [0x8b, 0x0d, ...d32(a)];   // mov ecx, [a]
const loadEdx = (a: number) => [0x8b, 0x15, ...d32(a)];   // mov edx, [a]
const invlpg = (a: number) => [0x0f, 0x01, 0x3d, ...d32(a)];
const PUSHF_POP_ESI = [0x9c, 0x5e];
const setup = (g: (a: number, b: number[]) => void) => {
  identityPaging(g);
  g(0x200000, d32(0x11111111)); g(0x300000, d32(0x22222222)); g(0x201000, d32(0x33333333));
};

/** prologue: paging on, read 0x200000 (the shadow entry and the TLB now hold it); then `store`; then use the page */
function run(store: number[], pre: number[] = [], flagsMask = 0) {
  const body = [...PAGING_ON, ...loadEdx(0x200000), ...pre, ...store, ...(flagsMask ? PUSHF_POP_ESI : []),
    ...invlpg(0x200000), ...loadEcx(0x200000), HLT];
  const f = monitorOnly(miniVm(body));
  setup(f.g);
  const fr = go(f.mo);
  const n = nativeVm(body);
  setup(n.g);
  n.m.run(1_000_000);
  const view = (x: { m: { eax: number; ebx: number; ecx: number; edx: number; esi: number; edi: number }; seen(): number; rd32(a: number): number }) => ({
    eax: x.m.eax >>> 0, ebx: x.m.ebx >>> 0, ecx: x.m.ecx >>> 0, edx: x.m.edx >>> 0, edi: x.m.edi >>> 0,
    flags: flagsMask ? (x.m.esi & flagsMask) >>> 0 : 0, vector: x.seen(), pte: x.rd32(PTE), pte2: x.rd32(PTE + 4),
  });
  return { full: view(f), native: view(n), fr, st: f.mo.shadow.stats, em: f.mo.stats.emulated };
}
const ARITH = 0x8d5; // CF PF AF ZF SF OF
const LOGIC = 0x8c5; // AF is undefined after and/or/xor

describe("PT writes decoded and emulated (no single-step)", () => {
  const cases: [string, number[], number[], number, (r: ReturnType<typeof run>["full"]) => void][] = [
    ["mov r/m32, r32", [0x89, 0x1d, ...d32(PTE)], movEbx(0x300007), 0, (r) => expect(r.ecx).toBe(0x22222222)],
    ["mov r/m32, imm32", [0xc7, 0x05, ...d32(PTE), ...d32(0x300007)], [], 0, (r) => expect(r.ecx).toBe(0x22222222)],
    ["mov moffs32, eax", [0xa3, ...d32(PTE)], movEax(0x300007), 0, (r) => expect(r.ecx).toBe(0x22222222)],
    ["mov r/m8, imm8 (frame byte)", [0xc6, 0x05, ...d32(PTE + 2), 0x30], [], 0, (r) => expect(r.ecx).toBe(0x22222222)],
    ["mov r/m8, r8 (bh)", [0x88, 0x3d, ...d32(PTE + 2)], movEbx(0x3000), 0, (r) => expect(r.ecx).toBe(0x22222222)],
    ["mov r/m16, imm16", [0x66, 0xc7, 0x05, ...d32(PTE + 2), 0x30, 0x00], [], 0, (r) => expect(r.ecx).toBe(0x22222222)],
    ["mov r/m16, r16", [0x66, 0x89, 0x1d, ...d32(PTE + 2)], movEbx(0x30), 0, (r) => expect(r.ecx).toBe(0x22222222)],
    ["or r/m32, imm32", [0x81, 0x0d, ...d32(PTE), ...d32(0x100000)], [], LOGIC, (r) => expect(r.ecx).toBe(0x22222222)],
    ["or r/m32, r32", [0x09, 0x1d, ...d32(PTE)], movEbx(0x100000), LOGIC, (r) => expect(r.ecx).toBe(0x22222222)],
    ["and r/m32, imm8 (clear P)", [0x83, 0x25, ...d32(PTE), 0xfe], [], LOGIC, (r) => expect(r.vector).toBe(14)],
    ["and r/m8, r8 (clear P)", [0x20, 0x1d, ...d32(PTE)], movEbx(0xfe), LOGIC, (r) => expect(r.vector).toBe(14)],
    ["xor r/m32, r32", [0x31, 0x1d, ...d32(PTE)], movEbx(0x1000), LOGIC, (r) => expect(r.ecx).toBe(0x33333333)],
    ["xchg r/m32, r32", [0x87, 0x1d, ...d32(PTE)], movEbx(0x300007), 0, (r) => { expect(r.ecx).toBe(0x22222222); expect(r.ebx).toBe(0x200027); }],
    ["lock cmpxchg (equal)", [0xf0, 0x0f, 0xb1, 0x1d, ...d32(PTE)], [0xa1, ...d32(PTE), ...movEbx(0x300007)], ARITH,
      (r) => { expect(r.ecx).toBe(0x22222222); expect(r.flags & 0x40).toBe(0x40); }],
    ["lock cmpxchg (not equal)", [0xf0, 0x0f, 0xb1, 0x1d, ...d32(PTE)], [...movEax(0x12345678), ...movEbx(0x300007)], ARITH,
      (r) => { expect(r.ecx).toBe(0x11111111); expect(r.eax).toBe(0x200027); expect(r.flags & 0x40).toBe(0); }],
    ["btr r/m32, imm8 (clear P)", [0x0f, 0xba, 0x35, ...d32(PTE), 0], [], 0x1, (r) => { expect(r.vector).toBe(14); expect(r.flags).toBe(1); }],
    ["bts r/m32, imm8", [0x0f, 0xba, 0x2d, ...d32(PTE), 20], [], 0x1, (r) => { expect(r.ecx).toBe(0x22222222); expect(r.flags).toBe(0); }],
    ["bts r/m32, r32 (bit string: next dword)", [0x0f, 0xab, 0x1d, ...d32(PTE - 4)], movEbx(32 + 20), 0x1, (r) => expect(r.ecx).toBe(0x22222222)],
    ["btc r/m32, r32", [0x0f, 0xbb, 0x1d, ...d32(PTE)], movEbx(12), 0x1, (r) => expect(r.ecx).toBe(0x33333333)],
    ["rep stosd (two PTEs)", [0xf3, 0xab], [...movEax(0x300007), 0xbf, ...d32(PTE), 0xb9, ...d32(2)], 0,
      (r) => { expect(r.ecx).toBe(0x22222222); expect(r.pte2).toBe(0x300007); expect(r.edi).toBe(PTE + 8); }],
    ["stosw", [0x66, 0xab], [...movEax(0x30), 0xbf, ...d32(PTE + 2)], 0, (r) => expect(r.ecx).toBe(0x22222222)],
  ];
  for (const [name, store, pre, mask, check] of cases) {
    it(name, () => {
      const r = run(store, pre, mask);
      expect(r.fr).toMatchObject({ stop: "halted" }); // the final hlt (IF=0)
      check(r.full);
      expect(r.full).toEqual(r.native);
      expect(r.st.ptWritesEmulated).toBeGreaterThanOrEqual(1);
      expect(r.st.ptWritesStepped).toBe(0);
      expect(r.em["pt-write emulated"]).toBeGreaterThanOrEqual(1);
    });
  }

  it("a store the emulator does not decode (add) is single-stepped and still exact", () => {
    const r = run([0x81, 0x05, ...d32(PTE), ...d32(0x100000)], [], ARITH); // add dword [pte], 0x100000
    expect(r.fr).toMatchObject({ stop: "halted" }); // the final hlt (IF=0)
    expect(r.full.ecx).toBe(0x22222222);
    expect(r.full).toEqual(r.native);
    expect(r.st.ptWritesStepped).toBe(1);
    expect(r.em["pt-write single-stepped"]).toBe(1);
  });

  it("rep stosd across a whole page table: one exit per protected page, not per element", () => {
    // zero PT0 from entry 0x300 on (0x100 entries), then read 0x300000: now unmapped → #PF
    const store = [0xf3, 0xab];
    const pre = [...movEax(0), 0xbf, ...d32(PT0 + 0x300 * 4), 0xb9, ...d32(0x100)];
    const body = [...PAGING_ON, ...loadEdx(0x300000), ...pre, ...store, ...invlpg(0x300000), ...loadEcx(0x300000), HLT];
    const f = monitorOnly(miniVm(body)); setup(f.g);
    expect(go(f.mo)).toMatchObject({ stop: "halted" });
    const n = nativeVm(body); setup(n.g); n.m.run(1_000_000);
    expect(f.seen()).toBe(14);
    expect(n.seen()).toBe(14);
    expect(f.m.edi >>> 0).toBe(PT0 + 0x1000);
    expect(f.m.ecx >>> 0).toBe(n.m.ecx >>> 0);
    expect(f.mo.stats.exits["protected write"]).toBe(1);
    expect(f.mo.shadow.stats.ptWritesEmulated).toBe(1);
  });
});
