// paging.test.ts — the one side-effect-free page walker (host/memory/paging.ts) against the CPU's own walk
// (assembly/mmu.ts): random page tables, random linear addresses, privileges, access kinds, CR0.WP and CR4.PSE;
// the walker must predict exactly what the CPU does (the physical address it reaches, or #PF with its error code
// and CR2), must write nothing, and markAccessed must set exactly the accessed/dirty bits the CPU sets.
import { describe, it, expect } from "vitest";
import { trapLab, LAB } from "../host/traps.ts";
import { GuestPhysMemory } from "../host/memory/guest-memory.ts";
import {
  walk, markAccessed, access, pagingRegs, permits, READ, WRITE, USER_READ, USER_WRITE,
  PTE_P, PTE_W, PTE_U, PTE_A, PTE_D, PTE_PS, PDE_LARGE_RSVD, PF_P, PF_W, PF_U, PF_RSVD, type TableMemory,
} from "../host/memory/paging.ts";
import * as A from "../host/abi.generated.ts";

function rng(seed: number) {
  let s = seed >>> 0;
  const next = () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return (t ^ (t >>> 14)) >>> 0; };
  return { u32: next, int: (n: number) => next() % n, chance: (p: number) => next() / 2 ** 32 < p };
}

const RAM = 16 << 20;
const PDI0 = 0x100, PDIS = 8;           // the random region: linear 0x40000000 + 32 MiB
const TABLES = 0x800000, DATA = 0xa00000; // page tables (8 frames) and data frames (512), all in RAM, far from the lab
const inRam = (pa: number) => pa >= 0 && pa + 4 <= RAM;

function randomTables(r: ReturnType<typeof rng>) {
  const flags = () => (r.u32() & 0xe7e) | (r.chance(0.85) ? PTE_P : 0); // random W/U/PWT/PCD/A/D/G/AVL, mostly present
  const pdes: number[] = [];
  for (let i = 0; i < PDIS; i++) {
    const k = r.int(100);
    let v: number;
    if (k < 50) v = (TABLES + r.int(PDIS) * 0x1000) | flags() | (r.chance(0.15) ? PTE_PS : 0); // PS on a table pointer
    else if (k < 80) v = ([0x800000, 0xc00000, 0x40000000][r.int(3)] | flags() | PTE_PS | (r.chance(0.1) ? r.u32() & PDE_LARGE_RSVD : 0)) >>> 0;
    else if (k < 90) v = r.u32() & ~PTE_P;
    else v = (r.u32() | 0x800000) >>> 0; // garbage, but never a frame under 8 MiB (the lab's own)
    pdes.push(v >>> 0);
  }
  const tables = new Uint8Array(PDIS * 0x1000), dv = new DataView(tables.buffer);
  for (let i = 0; i < tables.length; i += 4) {
    const k = r.int(100);
    let v: number;
    if (k < 80) v = (DATA + r.int(512) * 0x1000) | flags();
    else if (k < 88) v = (TABLES + r.int(PDIS) * 0x1000) | flags(); // maps a page table
    else if (k < 94) v = (0x20000000 + r.int(0x1000) * 0x1000) | flags(); // beyond RAM: MMIO
    else v = (r.u32() | 0x800000) >>> 0;
    dv.setUint32(i, v >>> 0, true);
  }
  return { pdes, tables };
}

interface Case { va: number; acc: number; cpl: 0 | 3; wp: boolean; pse: boolean; seed: number }

/** Runs `mov eax, [va]` or `mov [va], eax` on the CPU and checks the walker's prediction. Returns the walk. */
function check(c: Case) {
  const r = rng(c.seed);
  const { pdes, tables } = randomTables(r);
  const write = (c.acc & PF_W) !== 0;
  const imm = [c.va & 0xff, (c.va >>> 8) & 0xff, (c.va >>> 16) & 0xff, c.va >>> 24];
  const code = [write ? 0xa3 : 0xa1, ...imm]; // mov [moffs32], eax / mov eax, [moffs32]
  const marker = 0x5a000000 | r.int(0x1000000);
  let w!: ReturnType<typeof walk>;
  let before = 0, expectPde: number | undefined, expectPte: number | undefined;
  const res = trapLab({
    cpl: c.cpl, paging: true, cr0wp: c.wp, mode: "intercept", memSize: RAM, regs: { eax: marker },
    setup: (m) => {
      m.writeMem(TABLES, tables);
      for (let i = 0; i < PDIS; i++) m.write32(LAB.PAGE_DIR + 4 * (PDI0 + i), pdes[i]);
      m.setCr("cr4", c.pse ? A.CR4_PSE : 0);
      const gm = new GuestPhysMemory(m);
      const pd = m.readMem(LAB.PAGE_DIR, 0x1000), pts = m.readMem(TABLES, PDIS * 0x1000);
      w = gm.walk(c.va, c.acc);
      // side-effect free: no table byte changed
      expect(Buffer.compare(m.readMem(LAB.PAGE_DIR, 0x1000), pd)).toBe(0);
      expect(Buffer.compare(m.readMem(TABLES, PDIS * 0x1000), pts)).toBe(0);
      if (w.ok && w.phys >= 0 && inRam(w.phys)) before = m.read32(w.phys);
      // the A/D update the CPU should make, applied to an overlay
      const overlay = new Map<number, number>();
      const o: TableMemory = { peek32: (a) => overlay.get(a) ?? gm.peek32(a), poke32: (a, v) => { if (inRam(a)) overlay.set(a, v >>> 0); } };
      markAccessed(o, w, write);
      if (w.pdeAddr >= 0 && inRam(w.pdeAddr)) expectPde = o.peek32(w.pdeAddr);
      if (w.pteAddr >= 0 && inRam(w.pteAddr)) expectPte = o.peek32(w.pteAddr);
    },
  }).run(code);
  const pf = res.intercepted && res.intercepted.vector === A.VEC_PF ? res.intercepted : null;
  const what = `va 0x${c.va.toString(16)} acc ${c.acc} cpl ${c.cpl} wp ${c.wp} pse ${c.pse} seed ${c.seed}: ${res.describe()}`;
  if (!w.ok) {
    expect(pf, what).not.toBeNull();
    expect(pf!.errorCode, what).toBe(w.errorCode);
    expect(pf!.cr2 >>> 0, what).toBe(c.va);
  } else {
    expect(pf, what).toBeNull();
    expect(res.outcome, what).toBe("completed");
    const overlaps = (a: number) => a >= 0 && Math.abs(a - w.phys) < 4;
    if (!inRam(w.phys)) {
      const ev = res.io.find((e) => e.kind === (write ? "mmio-write" : "mmio-read"));
      expect(ev?.port, what).toBe(w.phys);
    } else if (write) {
      expect(res.machine.read32(w.phys) >>> 0, what).toBe(marker >>> 0);
    } else if (!overlaps(w.pdeAddr) && !overlaps(w.pteAddr)) {
      expect(res.state.eax >>> 0, what).toBe(before >>> 0);
    }
  }
  // the CPU set exactly the accessed/dirty bits markAccessed predicts (unless the store itself hit the entry)
  const hit = (a: number) => write && w.ok && a >= 0 && Math.abs(a - w.phys) < 4;
  if (expectPde !== undefined && !hit(w.pdeAddr)) expect(res.machine.read32(w.pdeAddr) >>> 0, `PDE ${what}`).toBe(expectPde);
  if (expectPte !== undefined && !hit(w.pteAddr)) expect(res.machine.read32(w.pteAddr) >>> 0, `PTE ${what}`).toBe(expectPte);
  return w;
}

describe("the one page walker agrees with the CPU's", () => {
  it("random page tables × addresses × access kinds × CPL × CR0.WP × CR4.PSE: fault, error code, CR2, address, A/D", () => {
    const seen = { ok: 0, notPresent: 0, protection: 0, reserved: 0, large: 0, mmio: 0, openBus: 0 };
    const r = rng(0x5eed);
    for (let i = 0; i < 400; i++) {
      const va = (0x40000000 + r.int(PDIS) * 0x400000 + r.int(1024) * 0x1000 + r.int(1024) * 4) >>> 0;
      const cpl: 0 | 3 = r.chance(0.5) ? 3 : 0;
      const w = check({ va, acc: access(r.chance(0.5), cpl === 3), cpl, wp: r.chance(0.7), pse: r.chance(0.7), seed: r.u32() });
      if (w.ok) seen.ok++;
      else if (!(w.errorCode & PF_P)) seen.notPresent++;
      else if (w.errorCode & PF_RSVD) seen.reserved++;
      else seen.protection++;
      if (w.large) seen.large++;
      if (w.ok && w.phys >= RAM) seen.mmio++;
      if (w.outside >= 0) seen.openBus++;
    }
    // the campaign reached every outcome
    for (const [k, n] of Object.entries(seen)) expect(n, k).toBeGreaterThan(3);
    if (process.env.PAGING_SEEN) console.log(seen);
  });
});

describe("walk (unit)", () => {
  const mem = (words: Record<number, number>): TableMemory & { writes: number } => ({
    writes: 0,
    peek32(a) { return a < 0x100000 ? (words[a] ?? 0) >>> 0 : undefined; },
    poke32(a, v) { this.writes++; words[a] = v; },
  });
  const regs = { cr0: (A.CR0_PG | A.CR0_WP) >>> 0, cr3: 0x1000, cr4: A.CR4_PSE };

  it("4 KiB page: address, level, entries; a not-present PTE gives P=0 with the access bits", () => {
    const m = mem({ [0x1000 + 4]: 0x2000 | PTE_P | PTE_W | PTE_U, [0x2000 + 5 * 4]: 0x7000 | PTE_P | PTE_U });
    const w = walk(m, regs, 0x405123, USER_READ);
    expect(w).toMatchObject({ ok: true, phys: 0x7123, level: 2, large: false, pdeAddr: 0x1004, pteAddr: 0x2014, writable: false, outside: -1 });
    expect(walk(m, regs, 0x406000, USER_WRITE)).toMatchObject({ ok: false, errorCode: PF_W | PF_U, level: 2, phys: -1 });
    expect(walk(m, regs, 0x405000, USER_WRITE)).toMatchObject({ ok: false, errorCode: PF_P | PF_W | PF_U, phys: 0x7000 });
    expect(m.writes).toBe(0);
  });

  it("CR0.WP decides supervisor writes to read-only pages; U/S needs both levels", () => {
    const m = mem({ [0x1000]: 0x2000 | PTE_P | PTE_U, [0x2000]: 0x3000 | PTE_P | PTE_W | PTE_U });
    expect(walk(m, regs, 0x10, WRITE)).toMatchObject({ ok: false, errorCode: PF_P | PF_W });
    expect(walk(m, { ...regs, cr0: A.CR0_PG }, 0x10, WRITE).ok).toBe(true);
    expect(walk(m, { ...regs, cr0: A.CR0_PG }, 0x10, USER_WRITE)).toMatchObject({ ok: false, errorCode: 7 });
    expect(permits(PTE_P, true, false, 0)).toBe(true);
    expect(permits(PTE_P | PTE_W, false, true, A.CR0_WP)).toBe(false);
  });

  it("4 MiB pages only with CR4.PSE; reserved bits 13..21 fault with RSVD before permissions", () => {
    const m = mem({ [0x1000 + 2 * 4]: 0x00c00000 | PTE_P | PTE_PS, [0x1000 + 3 * 4]: 0x00c02000 | PTE_P | PTE_PS });
    expect(walk(m, regs, 0x812345, READ)).toMatchObject({ ok: true, phys: 0xc12345, level: 1, large: true, pteAddr: -1 });
    expect(walk(m, { ...regs, cr4: 0 }, 0x812345, READ)).toMatchObject({ large: false, level: 2, pteAddr: 0xc00000 + 0x12 * 4 });
    expect(walk(m, regs, 0xc00000, USER_READ)).toMatchObject({ ok: false, errorCode: PF_P | PF_RSVD | PF_U });
  });

  it("tables past RAM read as an open bus (all ones), as the CPU's do, and say where", () => {
    const m = mem({ [0x1000]: 0x40000000 | PTE_P | PTE_W | PTE_U });
    expect(walk(m, regs, 0x123, USER_WRITE)).toMatchObject({ ok: true, phys: 0xfffff123, outside: 0x40000000 });
  });

  it("paging off: identity, level 0; markAccessed does nothing", () => {
    const m = mem({});
    const w = walk(m, { cr0: 0, cr3: 0, cr4: 0 }, 0xdeadbeef, WRITE);
    expect(w).toMatchObject({ ok: true, phys: 0xdeadbeef, level: 0 });
    expect(markAccessed(m, w, true)).toBe(false);
    expect(m.writes).toBe(0);
  });

  it("markAccessed: PDE.A even when the PTE faults; leaf A, and D only for writes", () => {
    const words: Record<number, number> = { [0x1000]: 0x2000 | PTE_P | PTE_W, [0x2000]: 0x3000 | PTE_P | PTE_W, [0x1004]: 0x00400000 | PTE_P | PTE_PS | PTE_W };
    const m = mem(words);
    markAccessed(m, walk(m, regs, 0x1000, READ), false); // PTE 1 not present
    expect(words[0x1000]).toBe(0x2000 | PTE_P | PTE_W | PTE_A);
    expect(words[0x2000]).toBe(0x3000 | PTE_P | PTE_W);
    markAccessed(m, walk(m, regs, 0x0, READ), false);
    expect(words[0x2000]).toBe(0x3000 | PTE_P | PTE_W | PTE_A);
    markAccessed(m, walk(m, regs, 0x0, WRITE), true);
    expect(words[0x2000]).toBe(0x3000 | PTE_P | PTE_W | PTE_A | PTE_D);
    markAccessed(m, walk(m, regs, 0x400000, WRITE), true);
    expect(words[0x1004]).toBe(0x00400000 | PTE_P | PTE_PS | PTE_W | PTE_A | PTE_D);
    expect(markAccessed(m, walk(m, regs, 0x400000, WRITE), true)).toBe(false); // nothing left to set
  });

  it("pagingRegs reads a machine's CR0/CR3/CR4", () => {
    const fake = { getCr: (n: string) => ({ cr0: 0x80000011, cr3: 0x5000, cr4: 0x10 } as Record<string, number>)[n] };
    expect(pagingRegs(fake)).toEqual({ cr0: 0x80000011, cr3: 0x5000, cr4: 0x10 });
  });
});
