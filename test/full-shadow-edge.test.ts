// full-shadow-edge.test.ts — shadow paging edge cases, end to end: the same made-up guest runs deprivileged under
// the full-mode monitor and natively on a plain Machine at CPL 0 (test/full-minivm.ts), and what the guest can
// observe (registers, its page-table entries with their accessed/dirty bits, the vector it took) must agree.
// Each test would fail without the behaviour it names.
import { describe, it, expect } from "vitest";
import { miniVm, nativeVm, go, d32, identityPaging, PAGING_ON, KCODE_AT, type MiniOpts } from "./full-minivm.ts";

const HLT = 0xf4;
const PT0 = 0x11000, PD = 0x10000;
const pte = (page: number) => PT0 + page * 4;
/** mov dword [addr], imm */
const movImm = (addr: number, v: number) => [0xc7, 0x05, ...d32(addr), ...d32(v)];
/** mov eax/ebx/ecx/edx/esi/edi, [addr] */
const load = (reg: "eax" | "ebx" | "ecx" | "edx" | "esi" | "edi", addr: number) =>
  reg === "eax" ? [0xa1, ...d32(addr)] : [0x8b, { ebx: 0x1d, ecx: 0x0d, edx: 0x15, esi: 0x35, edi: 0x3d }[reg], ...d32(addr)];
const invlpg = (addr: number) => [0x0f, 0x01, 0x3d, ...d32(addr)];
const PAGING_ON_NOWP = PAGING_ON.map((b, i) => (i === 11 ? 0x00 : b)); // CR0 = 0x80000011
const CR4_PSE = [0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x10, 0x0f, 0x22, 0xe0]; // mov eax,cr4 ; or eax,0x10 ; mov cr4,eax

type Setup = (g: (a: number, b: number[]) => void) => void;
/** runs `body` (after the prologue) in full mode and natively; returns what each guest can see */
function both(body: number[], setup: Setup, o: MiniOpts = {}, peek: number[] = []) {
  const f = miniVm(body, o);
  setup(f.g);
  const fr = go(f.mo);
  const n = nativeVm(body, o);
  setup(n.g);
  const ne = n.m.run(1_000_000);
  const view = (x: { m: { eax: number; ebx: number; ecx: number; edx: number; esi: number; edi: number }; seen(): number; rd32(a: number): number }) => ({
    regs: [x.m.eax, x.m.ebx, x.m.ecx, x.m.edx, x.m.esi, x.m.edi].map((r) => r >>> 0),
    vector: x.seen(),
    mem: peek.map((a) => x.rd32(a)),
  });
  return { full: view(f), native: view(n), fr, ne, f, n };
}
const identity = (flags?: (p: number) => number): Setup => (g) => {
  identityPaging(g, flags);
  g(0x200000, d32(0x11111111)); g(0x201000, d32(0x33333333)); g(0x300000, d32(0x22222222));
};

describe("PTE write without invlpg", () => {
  it("a guest that invalidates sees the same as native; without invlpg full mode shows the new mapping at once", () => {
    // read 0x200000 (cached) ; PTE 0x200 → 0x300000 ; read again (no invlpg) ; invlpg ; read again
    const body = [...PAGING_ON, ...load("eax", 0x200000), ...movImm(pte(0x200), 0x300007), ...load("ebx", 0x200000),
      ...invlpg(0x200000), ...load("ecx", 0x200000), HLT];
    const { full, native } = both(body, identity());
    expect(full.regs[0]).toBe(0x11111111);
    expect(full.regs[2]).toBe(0x22222222);
    expect(native.regs[2]).toBe(full.regs[2]);  // the rule-following read: identical
    // Without invlpg the SDM allows either value (a stale TLB entry MAY be used). Full mode traps the PTE write
    // (page tables are write-protected in the shadow) and drops the derived shadow entry and its TLB entry, so
    // it always shows the new mapping; the native CPU's TLB keeps the stale one.
    expect(full.regs[1]).toBe(0x22222222);
    expect([0x11111111, 0x22222222]).toContain(native.regs[1]);
  });
});

describe("aliases, page-table pages reused", () => {
  it("the same page mapped at two addresses: a write through one is visible through the other", () => {
    // PTE 0x250 and 0x251 → 0x300000 ; read both (shadow entries exist) ; write via 0x250000, read via 0x251000 and back
    const body = [...PAGING_ON, ...movImm(pte(0x250), 0x300007), ...movImm(pte(0x251), 0x300007),
      ...load("eax", 0x250000), ...load("ebx", 0x251000),
      ...movImm(0x250004, 0xaaaa5555), ...load("ecx", 0x251004), ...movImm(0x251008, 0x5555aaaa), ...load("edx", 0x250008), HLT];
    const { full, native } = both(body, identity());
    expect(full.regs.slice(0, 4)).toEqual([0x22222222, 0x22222222, 0xaaaa5555, 0x5555aaaa]);
    expect(full.regs).toEqual(native.regs);
  });
  it("a page-table page freed (unlinked) and reused as data: its writes stop trapping at once, the data reads back", () => {
    // PDE 1 → PT 0x12000 (0x400000 → 0x200000) ; read 0x400000 ; unlink PDE 1 ; invlpg ; 64 stores into 0x12000
    const fill = [0xbf, ...d32(0x12000), 0xb9, ...d32(64), 0xb8, ...d32(0xdeadbeef), 0xf3, 0xab]; // rep stosd
    const body = [...PAGING_ON, ...load("esi", 0x400000), ...movImm(PD + 4, 0), ...invlpg(0x400000), ...fill, ...load("edx", 0x120fc), HLT];
    const setup: Setup = (g) => { identity()(g); g(PD + 4, d32(0x12000 | 7)); g(0x12000, d32(0x200007)); };
    const { full, native, f } = both(body, setup);
    expect(full.regs[4]).toBe(0x11111111);
    expect(full.regs[3]).toBe(0xdeadbeef);
    expect(full.regs).toEqual(native.regs);
    expect(f.mo.shadow.isProtected(0x12)).toBe(false);
    expect(f.mo.stats.exits["protected write"] ?? 0).toBeLessThanOrEqual(2); // the PDE write (+ the kernel PT, none)
  });
  it("a page table still linked but flooded with writes is unshadowed, then re-shadowed from its new contents", () => {
    // PDE 1 → PT 0x12000 ; read 0x400000 ; 200 stores of 0x201007 into the PT (each entry → page 0x201000) ; read 0x400000
    // (a loop of single stores: a rep stosd is single-stepped as one instruction, one trap and one diff)
    const fill = [0xbf, ...d32(0x12000), 0xb9, ...d32(200), 0xb8, ...d32(0x201007), 0x89, 0x07, 0x83, 0xc7, 0x04, 0xe2, 0xf9];
    const body = [...PAGING_ON, ...load("esi", 0x400000), ...fill, ...invlpg(0x400000), ...load("edi", 0x400000), ...load("edx", 0x4c7000), HLT];
    const setup: Setup = (g) => { identity()(g); g(PD + 4, d32(0x12000 | 7)); g(0x12000, d32(0x200007)); };
    const { full, native, f } = both(body, setup);
    expect(full.regs[4]).toBe(0x11111111);
    expect(full.regs[5]).toBe(0x33333333);
    expect(full.regs[3]).toBe(0x33333333); // entry 199, written after the unshadow: seen on the next fill
    expect(full.regs).toEqual(native.regs);
    expect(f.mo.shadow.stats.unshadowed).toBeGreaterThanOrEqual(1);
    expect(f.mo.stats.exits["protected write"]).toBeLessThan(40); // not one exit per store
  });
  it("a page-table page freed and reused as the page table of another region", () => {
    // PDE 1 → PT 0x12000 ; read 0x400000 ; unlink ; rewrite the PT (entry 0 → 0x300000) ; PDE 2 → PT 0x12000 ; read 0x800000 ; read 0x400000 (#PF)
    const body = [...PAGING_ON, ...load("esi", 0x400000), ...movImm(PD + 4, 0), ...invlpg(0x400000),
      ...movImm(0x12000, 0x300007), ...movImm(PD + 8, 0x12007), ...load("edi", 0x800000), ...load("eax", 0x400000), HLT];
    const setup: Setup = (g) => { identity()(g); g(PD + 4, d32(0x12000 | 7)); g(0x12000, d32(0x200007)); };
    const { full, native, f } = both(body, setup);
    expect(full.regs[4]).toBe(0x11111111);
    expect(full.regs[5]).toBe(0x22222222);
    expect(full.vector).toBe(14);
    expect(f.mo.v.cr2).toBe(0x400000);
    expect(full.regs).toEqual(native.regs);
    expect(native.vector).toBe(14);
  });
});

describe("4 MiB pages and CR0.WP", () => {
  it("4 MiB pages (CR4.PSE): reads, writes, A/D in the PDE, read-only and reserved-bit faults", () => {
    // PDE 1: 4 MiB at 0 (rw) ; PDE 2: 4 MiB at 0 read-only
    const body = [...CR4_PSE, ...PAGING_ON, ...load("eax", 0x700000), ...movImm(0x700004, 0x12345678), ...load("ebx", 0x300004),
      ...load("ecx", 0xb00000), ...movImm(0xb00000, 1), HLT];
    const setup: Setup = (g) => { identity()(g); g(PD + 4, d32(0x87)); g(PD + 8, d32(0x85)); };
    const { full, native, f } = both(body, setup, {}, [PD + 4, PD + 8]);
    expect(full.regs.slice(0, 3)).toEqual([0x22222222, 0x12345678, 0x22222222]);
    expect(full.vector).toBe(14);
    expect(f.mo.v.cr2).toBe(0xb00000);
    expect(f.stack(0)).toBe(3); // supervisor write, protection
    expect(full.mem[0] & 0x60).toBe(0x60); // A and D in the rw PDE
    expect(full.mem[1] & 0x60).toBe(0x20); // only A in the read-only one
    expect(full).toEqual(native);
    // a 4 MiB PDE with reserved bits 13-21 set: #PF with RSVD
    const r = both([...CR4_PSE, ...PAGING_ON, ...load("eax", 0x400000), HLT], (g) => { identity()(g); g(PD + 4, d32(0x2087)); });
    expect(r.full.vector).toBe(14);
    expect(r.f.stack(0) & 8).toBe(8);
    expect(r.full.vector).toBe(r.native.vector);
    expect(r.f.stack(0)).toBe(r.n.stack(0));
  });
  it("CR0.WP=0: supervisor writes to read-only pages succeed; WP=1: #PF(3) and memory unchanged", () => {
    const ro = (p: number) => (p === 0x300 ? 5 : 7);
    const off = both([...PAGING_ON_NOWP, ...movImm(0x300000, 0x77777777), ...load("eax", 0x300000), HLT], identity(ro), {}, [pte(0x300)]);
    expect(off.full.regs[0]).toBe(0x77777777);
    expect(off.full.vector).toBe(-1);
    expect(off.full).toEqual(off.native);
    const on = both([...PAGING_ON, ...movImm(0x300000, 0x77777777), HLT], identity(ro), {}, [0x300000]);
    expect(on.full.vector).toBe(14);
    expect(on.f.stack(0)).toBe(3);
    expect(on.full.mem[0]).toBe(0x22222222);
    expect(on.full).toEqual(on.native);
  });
});

describe("the guest mapping its own page directory", () => {
  it("recursive PDE 1022: the guest reads and edits its PTEs through the window", () => {
    const WIN = 0xff800000;
    // PDE 1022 → PD ; read PTE 0x200 through the window ; rewrite it (→ 0x300000) through the window ; invlpg ; read 0x200000 ; read PDE 1022 through the window
    const body = [...PAGING_ON, ...load("eax", WIN + 0x200 * 4), ...movImm(WIN + 0x200 * 4, 0x300007), ...invlpg(0x200000),
      ...load("ebx", 0x200000), ...load("ecx", WIN + 1022 * 0x1000 + 1022 * 4), HLT];
    const { full, native } = both(body, (g) => { identity()(g); g(PD + 1022 * 4, d32(PD | 3)); });
    expect(full.regs[0] & ~0x60).toBe(0x200007);
    expect(full.regs[1]).toBe(0x22222222);
    expect(full.regs[2] & 0xfffff01f).toBe(PD | 3);
    expect(full.regs).toEqual(native.regs);
  });
  it("recursive PDE 1023 collides with the VMM region: mapping it is harmless, touching it stops the VM clearly", () => {
    // PDE 1023 → PD ; read 0x200000 ; read 0xfffff000 (the PD through the window, natively)
    const body = [...PAGING_ON, ...load("eax", 0x200000), ...load("ebx", 0xfffff000 + 4), HLT];
    const { full, native, fr } = both(body, (g) => { identity()(g); g(PD + 1023 * 4, d32(PD | 3)); });
    expect(full.regs[0]).toBe(0x11111111);
    expect(fr).toMatchObject({ stop: "shutdown", message: expect.stringMatching(/0xfffff004, inside the VMM-reserved linear region/) });
    expect(native.regs[1]).toBe(0); // natively the guest reads PDE 1 of its PD (empty) through the window
  });
  it("unmapped, the VMM region is the guest's own #PF (as native)", () => {
    const { full, native, f } = both([...PAGING_ON, ...load("eax", 0xffc00010), HLT], identity());
    expect(full.vector).toBe(14);
    expect(f.mo.v.cr2).toBe(0xffc00010);
    expect(f.stack(0)).toBe(0);
    expect(full).toEqual(native);
  });
});

describe("accessed and dirty bits", () => {
  it("appear in the guest's PDE/PTEs exactly where native hardware sets them", () => {
    // read page 0x200, write page 0x201, read then write page 0x202, leave 0x203 alone; pushf (emulated) writes the stack
    const body = [...PAGING_ON, ...load("eax", 0x200000), ...movImm(0x201000, 5), ...load("ebx", 0x202000), ...movImm(0x202000, 6), 0x9c, 0x58, HLT];
    const peek = [PD, pte(0x200), pte(0x201), pte(0x202), pte(0x203), pte((0x8000 - 4) >>> 12), pte(KCODE_AT >>> 12)];
    const { full, native } = both(body, identity(), {}, peek);
    const ad = (v: number) => v & 0x60;
    expect(full.mem.map(ad)).toEqual([0x20, 0x20, 0x60, 0x60, 0, 0x60, 0x20]);
    expect(full.mem).toEqual(native.mem);
    expect(full.regs).toEqual(native.regs);
  });
  it("a page first read (mapped read-only in the shadow) gets D on its first write", () => {
    const body = [...PAGING_ON, ...load("eax", 0x200000), ...movImm(0x200000 + 8, 1), HLT];
    const { full, native, f } = both(body, identity(), {}, [pte(0x200)]);
    expect(full.mem[0] & 0x60).toBe(0x60);
    expect(full.mem).toEqual(native.mem);
    expect(f.mo.shadow.stats.hiddenFaults).toBeGreaterThan(0);
  });
});
