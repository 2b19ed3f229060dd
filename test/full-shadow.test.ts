// full-shadow.test.ts — host/full/shadow.ts: the guest walk and the shadow tables' edge cases.
import { describe, it, expect } from "vitest";
import { ShadowMmu, MMIO_WINDOW, type PhysMem } from "../host/full/shadow.ts";

const OFF = 0x100000, RAM = 0x400000;
function setup() {
  const buf = new Uint8Array(OFF + RAM);
  const dv = new DataView(buf.buffer);
  let flushes = 0;
  const invlpgs: number[] = [];
  const mem: PhysMem = {
    read32: (a) => dv.getUint32(a, true), write32: (a, v) => dv.setUint32(a, v >>> 0, true),
    fill: (a, l, v) => buf.fill(v, a, a + l), read: (a, l) => buf.slice(a, a + l), flushTlb: () => { flushes++; },
    write: (a, d) => buf.set(d, a), invlpg: (lin) => { invlpgs.push(lin); },
  };
  const s = new ShadowMmu({ mem, ramOffset: OFF, ramSize: RAM, poolStart: 0x1000, poolEnd: 0x20000, vmmPt: 0 });
  const g = { w: (gpa: number, v: number) => dv.setUint32(OFF + gpa, v >>> 0, true), r: (gpa: number) => dv.getUint32(OFF + gpa, true) };
  return { s, g, mem, flushes: () => flushes, invlpgs };
}
const PG = { pg: true, wp: true, pse: true, cr3: 0x10000 };

describe("shadow paging", () => {
  it("walks the guest tables, sets A/D, and maps guest-virtual to machine-physical at the offset", () => {
    const { s, g, mem } = setup();
    g.w(0x10000 + 1 * 4, 0x11000 | 7); // PDE 1 → PT 0x11000
    g.w(0x11000 + 5 * 4, 0x30000 | 7);
    s.activate(PG, false);
    const w = s.walk(PG, 0x405123, true, false, true);
    expect(w).toMatchObject({ ok: true, gpa: 0x30123 });
    expect(g.r(0x11000 + 5 * 4) & 0x60).toBe(0x60);
    expect(s.fill(0x405123, w, true)).toBe(true);
    const spte = mem.read32(s.spteAddr(0x405000));
    expect(spte & ~0xfff).toBe(0x30000 + OFF);
    expect(spte & 2).toBe(2);
  });
  it("reports true faults with the guest's error code", () => {
    const { s, g } = setup();
    g.w(0x10000, 0x11000 | 7);
    g.w(0x11000, 0x30000 | 1); // present, read-only, supervisor
    expect(s.walk(PG, 0x10, false, true, false)).toMatchObject({ ok: false, err: 5 });
    expect(s.walk(PG, 0x10, true, false, false)).toMatchObject({ ok: false, err: 3 });
    expect(s.walk(PG, 0x1000, false, false, false)).toMatchObject({ ok: false, err: 0 });
  });
  it("CR0.WP off lets the supervisor write a read-only page", () => {
    const { s, g } = setup();
    g.w(0x10000, 0x11000 | 7);
    g.w(0x11000, 0x30000 | 5);
    expect(s.walk({ ...PG, wp: false }, 0x10, true, false, false).ok).toBe(true);
    expect(s.walk(PG, 0x10, true, false, false).ok).toBe(false);
  });
  it("4 MiB pages", () => {
    const { s, g } = setup();
    g.w(0x10000 + 2 * 4, 0x0 | 0x87); // PDE 2: 4 MiB page at 0
    expect(s.walk(PG, 0x812345, false, true, true)).toMatchObject({ ok: true, gpa: 0x12345 });
    expect(s.walk({ ...PG, pse: false }, 0x812345, false, true, false).ok).toBe(false); // PS ignored without CR4.PSE: frame 0 read as a (empty) PT
  });
  it("write-protects page tables; a PTE write (no invlpg) drops exactly the derived entry", () => {
    const { s, g, mem } = setup();
    g.w(0x10000, 0x11000 | 7);
    g.w(0x11000 + 4, 0x30000 | 7);
    g.w(0x11000 + 8, 0x31000 | 7);
    s.activate(PG, false);
    for (const va of [0x1000, 0x2000]) s.fill(va, s.walk(PG, va, false, false, true), false);
    // the page table itself, mapped at 0x3000, is never writable in the shadow
    g.w(0x11000 + 12, 0x11000 | 7);
    const w = s.walk(PG, 0x3000, true, false, true);
    expect(s.fill(0x3000, w, true)).toBe(false); // the monitor must single-step this write
    const before = s.snapshot(0x11);
    g.w(0x11000 + 4, 0x32000 | 7);
    expect(s.commitWrite(0x11, before)).toBe(1);
    expect(mem.read32(s.spteAddr(0x1000))).toBe(0);
    expect(mem.read32(s.spteAddr(0x2000))).not.toBe(0);
  });
  it("the same page at two addresses, and a frame that becomes a page table loses its writable mappings", () => {
    const { s, g, mem } = setup();
    g.w(0x10000, 0x11000 | 7);
    g.w(0x11000 + 4, 0x40000 | 0x47);
    g.w(0x11000 + 8, 0x40000 | 0x47);
    s.activate(PG, false);
    for (const va of [0x1000, 0x2000]) s.fill(va, s.walk(PG, va, true, false, true), true);
    expect(mem.read32(s.spteAddr(0x1000)) & 2).toBe(2);
    g.w(0x10000 + 4, 0x40000 | 7); // frame 0x40 becomes the PT for 4..8 MiB
    s.fill(0x400000, s.walk(PG, 0x400000, false, false, true), false);
    expect(mem.read32(s.spteAddr(0x1000)) & 2).toBe(0);
    expect(mem.read32(s.spteAddr(0x2000)) & 2).toBe(0);
  });
  it("a page-table page freed and reused as data is unshadowed after a flood of writes", () => {
    const { s, g } = setup();
    g.w(0x10000, 0x11000 | 7);
    s.activate(PG, false);
    s.fill(0x0, s.walk(PG, 0x0, false, false, true), false);
    expect(s.isProtected(0x11)).toBe(true);
    for (let i = 0; i < 30 && s.isProtected(0x11); i++) {
      const b = s.snapshot(0x11);
      g.w(0x11000 + i * 4, i);
      s.commitWrite(0x11, b);
    }
    expect(s.isProtected(0x11)).toBe(false);
    expect(s.stats.unshadowed).toBe(1);
  });
  it("the guest mapping its own page directory", () => {
    const { s, g } = setup();
    g.w(0x10000 + 0x3ff * 4 - 4, 0x10000 | 7); // PDE 1022 → the PD itself
    const w = s.walk(PG, 0xff800000 + 0x10 * 0x1000, false, false, true);
    expect(w.ok).toBe(false); // PDE 0x10 is empty
    const w2 = s.walk(PG, 0xff800000 + 0x3fe * 0x1000 + 0x3fe * 4, false, false, true);
    expect(w2).toMatchObject({ ok: true, gpa: 0x10000 + 0x3fe * 4 });
  });
  it("caches a bounded number of address spaces", () => {
    const { s } = setup();
    for (let i = 0; i < 40; i++) s.activate({ ...PG, cr3: 0x10000 + i * 0x1000 }, false);
    expect(s.shadowCount).toBeLessThanOrEqual(16);
    expect(s.stats.shadowsEvicted).toBeGreaterThan(0);
  });
  it("maps guest-physical addresses past guest RAM as MMIO: past machine RAM, never onto machine RAM or the VMM", () => {
    const { s, g, mem } = setup();
    const machineRam = OFF + RAM;
    g.w(0x10000, 0x11000 | 7);
    // just past RAM (machine-physical at the same address would be guest RAM), the last page that would alias
    // machine RAM, a device page, the last mappable page, and the top page (its machine address would wrap to 0)
    const gpas = [RAM, RAM + OFF - 0x1000, 0xfee00000, 0xffffffff - OFF + 1 - 0x1000];
    gpas.forEach((gpa, i) => g.w(0x11000 + 4 * i, (gpa | 7) >>> 0));
    g.w(0x11000 + 4 * 9, (0xfffff000 | 7) >>> 0);
    s.activate(PG, false);
    gpas.forEach((gpa, i) => {
      expect(s.fill(i << 12, s.walk(PG, i << 12, true, false, true), true)).toBe(true);
      const spte = mem.read32(s.spteAddr(i << 12)) >>> 0;
      expect((spte & ~0xfff) >>> 0).toBe(gpa + OFF);
      expect((spte & ~0xfff) >>> 0).toBeGreaterThanOrEqual(machineRam);
      expect(spte & 7).toBe(7);
      expect(s.mmioGuestAddr((spte & ~0xfff) + 0x123)).toBe(gpa + 0x123);
    });
    expect(s.isProtected(RAM >>> 12)).toBe(false);
    // the top page has no machine address: fill refuses it; the monitor steps it through the window page instead
    const top = s.walk(PG, 9 << 12, false, false, true);
    expect(() => s.fill(9 << 12, top, false)).toThrow(/top 1 MiB of the physical address space have no machine address/);
    expect(s.mapWindow(9 << 12, top)).toBe(0);
    expect((mem.read32(s.spteAddr(9 << 12)) & ~0xfff) >>> 0).toBe(MMIO_WINDOW);
    s.restoreSpte(9 << 12, 0);
    expect(mem.read32(s.spteAddr(9 << 12))).toBe(0);
    expect(() => s.mmioGuestAddr(machineRam - 4)).toThrow(/inside machine RAM/);
  });
  it("paging off: one hidden fault fills the whole 4 MiB region (protected frames read-only; past RAM: MMIO)", () => {
    const { s, mem } = setup();
    const NOPG = { pg: false, wp: false, pse: false, cr3: 0 };
    s.isCodeFrame = (f) => f === 0x5;
    s.activate(NOPG, false);
    s.fill(0x1234, s.walk(NOPG, 0x1234, true, false, true), true);
    expect(mem.read32(s.spteAddr(0x0)) >>> 0).toBe((OFF | 7) >>> 0);
    expect(mem.read32(s.spteAddr(0x3ff000)) >>> 0).toBe((OFF + 0x3ff000) | 7);
    expect(mem.read32(s.spteAddr(0x5000)) & 2).toBe(0); // translated code stays write-protected
    // a region past RAM: device memory (MMIO), past machine RAM
    s.fill(0x400000, s.walk(NOPG, 0x400000, false, false, true), false);
    expect(mem.read32(s.spteAddr(0x401000)) >>> 0).toBe((OFF + 0x401000) | 7);
  });
  it("a guest 4 MiB page is filled whole, read-only until its PDE is dirty", () => {
    const { s, g, mem } = setup();
    g.w(0x10000 + 4, 0x000087); // PDE 1: 4 MiB at guest-physical 0, not yet accessed/dirty
    s.activate(PG, false);
    s.fill(0x400000, s.walk(PG, 0x400000, false, false, true), false);
    expect(g.r(0x10000 + 4) & 0x60).toBe(0x20);
    expect(mem.read32(s.spteAddr(0x7ff000)) >>> 0).toBe((OFF + 0x3ff000) | 5);
    s.fill(0x400000, s.walk(PG, 0x400000, true, false, true), true);
    expect(g.r(0x10000 + 4) & 0x60).toBe(0x60);
    expect(mem.read32(s.spteAddr(0x7ff000)) >>> 0).toBe((OFF + 0x3ff000) | 7);
  });
  it("a PTE change and invlpg drop one page from the TLB, a PDE change flushes it", () => {
    const { s, g, flushes, invlpgs } = setup();
    g.w(0x10000, 0x11000 | 7);
    g.w(0x11000 + 4, 0x30000 | 7);
    s.activate(PG, false);
    s.fill(0x1000, s.walk(PG, 0x1000, false, false, true), false);
    const f0 = flushes();
    const b = s.snapshot(0x11);
    g.w(0x11000 + 4, 0x31000 | 7);
    s.commitWrite(0x11, b);
    s.invlpg(0x2000);
    expect(invlpgs).toEqual([0x1000, 0x2000]);
    expect(flushes()).toBe(f0);
    const pb = s.snapshot(0x10);
    g.w(0x10000, 0x12000 | 7);
    s.commitWrite(0x10, pb);
    expect(flushes()).toBe(f0 + 1);
  });
});
