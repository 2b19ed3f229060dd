// hw-ept-large.test.ts — large (4 MiB) EPT pages: EPT_PS in a directory entry (assembly/ept.ts, host/hw/ept.ts).
// A 12 MiB guest: guest-physical 0..12 MiB is three large pages at host-physical HW_HOST_SIZE + gpa. Translation at
// both ends of a large page, the walk's references, A/D on the large entry, violations and misconfigurations of a
// large entry, INVEPT and splitting, the 4 KiB-granular TLB, holes and the `eptLarge: false` control, hostile
// guests, and hw mode's option through a snapshot. Raw instruction bytes with their disassembly.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { hwGuest, as, vmexit, A, CODE, PD, PT, HW_HOST_SIZE } from "./hw-guest.ts";
import { EPT_DIR, EPT_TABLES } from "../host/hw/ept.ts";
import { Vm, runImage } from "../host/vm.ts";
import type { HwMode } from "../host/hw/mode.ts";

const ROOT = join(import.meta.dirname, "..");
const HLT = 0xf4;
const RWX = A.EPT_R | A.EPT_W | A.EPT_X;
const MiB = 1 << 20;
const RAM = 12 * MiB;
const le = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const load = (a: number) => [0x8b, 0x05, ...le(a)]; // mov eax, [a]
const loadEbx = (a: number) => [0x8b, 0x1d, ...le(a)]; // mov ebx, [a]
const store = (a: number) => [0x89, 0x05, ...le(a)]; // mov [a], eax
const qual = (acc: number, perms: number) => acc | (perms << A.QEPT_PERM_SHIFT) | A.QEPT_LIN_VALID | A.QEPT_FINAL;
/** a guest with 12 MiB of RAM, large EPT pages unless told otherwise */
const big = (code: number[], o: Parameters<typeof hwGuest>[1] = {}) => hwGuest(code, { ram: RAM, ...o });

describe("the host's EPT: large pages where guest RAM allows", () => {
  it("every 4 MiB all-RAM slot is one PS directory entry at HW_HOST_SIZE + gpa; eptLarge: false keeps 4 KiB tables", () => {
    const g = big([HLT]);
    for (let t = 0; t < 3; t++) expect(g.ept.dirEntry(t << 22)).toBe((HW_HOST_SIZE + (t << 22) + RWX + A.EPT_PS) >>> 0);
    expect(g.ept.dirEntry(12 * MiB)).toBe(0);
    expect(g.ept.entry(0x7ff000)).toMatchObject({ hpa: HW_HOST_SIZE + 0x7ff000, perms: RWX, large: true });
    const off = big([HLT], { eptLarge: false });
    for (let t = 0; t < 3; t++) expect(off.ept.dirEntry(t << 22)).toBe((EPT_TABLES + t * 4096 + RWX) >>> 0);
    expect(off.ept.entry(0x7ff000)).toMatchObject({ hpa: HW_HOST_SIZE + 0x7ff000, perms: RWX, large: false });
  });
  it("a partial last slot and a slot with a hole keep 4 KiB entries (the hole's page itself still mapped as RAM)", () => {
    const g = hwGuest([HLT], { ram: 10 * MiB, holes: [[0x5ff000, 0x600000]] });
    expect(g.ept.dirEntry(0) & A.EPT_PS).toBe(A.EPT_PS);
    expect(g.ept.dirEntry(4 * MiB) & A.EPT_PS).toBe(0);
    expect(g.ept.dirEntry(8 * MiB) & A.EPT_PS).toBe(0);
    expect(g.ept.entry(0x5ff000)).toMatchObject({ hpa: HW_HOST_SIZE + 0x5ff000, large: false });
    expect(g.ept.entry(9 * MiB + 0xff000)).toMatchObject({ hpa: HW_HOST_SIZE + 9 * MiB + 0xff000, large: false });
  });
});

describe("translation through a large page", () => {
  it("the first and last dword of a large page read host-physical HW_HOST_SIZE + gpa", () => {
    const g = big([...load(0x400000), ...loadEbx(0x7ffffc), HLT]);
    g.gs32(0x400000, 0x1111);
    g.gs32(0x7ffffc, 0x2222);
    g.m.write32(0x400000, 0xbad); // (the identity, which an EPT that ignored the frame would read)
    expect(g.m.run().reason).toBe("hlt");
    expect([g.m.eax, g.m.ebx]).toEqual([0x1111, 0x2222]);
  });
  it("a stored dword lands in the right host page at both ends, with guest paging on", () => {
    // mov [0x400000], eax ; mov [0x7ffffc], eax ; hlt  (guest PDE 1 and 2 map 4..8 MiB with a guest page table)
    const g = big([...store(0x400000), ...store(0x7ffffc), HLT], { paging: true });
    const PT1 = 0x12000;
    g.gs32(PD + 4, PT1 | 0x3);
    for (let i = 0; i < 1024; i++) g.gs32(PT1 + i * 4, (0x400000 + (i << 12)) | 0x3);
    g.m.eax = 0xc0ffee;
    expect(g.m.run().reason).toBe("hlt");
    expect([g.g32(0x400000), g.g32(0x7ffffc), g.m.read32(HW_HOST_SIZE + 0x3ffffc)]).toEqual([0xc0ffee, 0xc0ffee, 0]);
  });
  it("a TLB miss makes 5 references instead of 8 (1 EPT reference per guest entry and for the final address)", () => {
    const refs = (eptLarge: boolean) => {
      const g = big([...load(0x6000), HLT], { paging: true, eptLarge });
      g.m.run();
      return g.v.counters.walkRefs / g.v.counters.walks;
    };
    expect([refs(true), refs(false)]).toEqual([5, 8]);
  });
  it("with the nested TLB warm, 3 references per miss (4 with 4 KiB EPT pages)", () => {
    // mov eax,[0x6000] ; mov eax,[0x7000] ; mov eax,[0x8000] ; hlt : the PD/PT pages are in the nested TLB after the first miss
    const perMiss = (eptLarge: boolean) => {
      const g = big([...load(0x6000), ...load(0x7000), ...load(0x8000), HLT], { paging: true, eptLarge, pwc: true });
      g.m.run();
      const c = g.v.counters; // the code page's miss fills the nested TLB (2 + 2 + final); the 3 data misses hit it
      return (c.walkRefs - (eptLarge ? 5 : 8)) / (c.walks - 1);
    };
    expect([perMiss(true), perMiss(false)]).toEqual([3, 4]);
  });
  it("the TLB keeps the combined translation per 4 KiB page: the next page of the same large page is a new miss", () => {
    const g = big([...load(0x400000), ...load(0x400ffc), ...load(0x401000), HLT], { paging: false });
    g.m.run();
    const w = g.v.counters.walks;
    const h = big([...load(0x400000), ...load(0x400ffc), HLT], { paging: false });
    h.m.run();
    expect(w - h.v.counters.walks).toBe(1);
  });
});

describe("accessed and dirty flags on the large entry", () => {
  it("a store sets A and D on its large directory entry, a load only A, an untouched one neither", () => {
    const g = big([...store(0x400010), ...load(0x800020), HLT]);
    g.ept.clearAccessed();
    g.m.run();
    expect(g.ept.dirEntry(0x400000) & (A.EPT_A | A.EPT_D)).toBe(A.EPT_A | A.EPT_D);
    expect(g.ept.dirEntry(0x800000) & (A.EPT_A | A.EPT_D)).toBe(A.EPT_A);
    expect(g.ept.entry(0x400000)).toMatchObject({ accessed: true, dirty: true, large: true });
    const h = big([...load(0x800020), HLT]);
    h.ept.clearAccessed();
    h.m.run();
    expect(h.ept.dirEntry(0x400000) & (A.EPT_A | A.EPT_D)).toBe(0);
  });
  it("A/D off in the EPT pointer: the large entry stays as the host wrote it", () => {
    const g = big([...store(0x400010), HLT]);
    g.ept.clearAccessed();
    g.v.set(A.OFF_VMX_EPTP, EPT_DIR);
    g.m.run();
    expect(g.ept.dirEntry(0x400000) & (A.EPT_A | A.EPT_D)).toBe(0);
    expect(g.g32(0x400010)).toBe(g.m.eax);
  });
});

describe("violations and misconfigurations of a large entry", () => {
  it("a write to a read/execute large page: reason 48, write + R X in the qualification, the exact guest-physical address", () => {
    const g = big([...store(0x5abcd0), HLT], { paging: false });
    g.m.eax = 9;
    g.ept.protectLarge(0x400000, A.EPT_R | A.EPT_X);
    const e = vmexit(g.m.run(), A.VMX_EXIT_EPT_VIOLATION);
    expect([e.eip, e.qualification, g.v.guestPhysical, g.v.guestLinear]).toEqual([CODE, qual(A.QEPT_WRITE, A.EPT_R | A.EPT_X), 0x5abcd0, 0x5abcd0]);
    expect(g.g32(0x5abcd0)).toBe(0);
    g.ept.protectLarge(0x400000, RWX);
    expect(g.m.run().reason).toBe("hlt");
    expect(g.g32(0x5abcd0)).toBe(9);
  });
  it("a PS entry whose frame has bits 21:12 set (not 4 MiB-aligned) is misconfigured (reason 49)", () => {
    const g = big([...load(0x400000), HLT]);
    g.ept.setDirRaw(0x400000, (HW_HOST_SIZE + 0x400000 + 0x1000 + RWX + A.EPT_PS) >>> 0);
    vmexit(g.m.run(), A.VMX_EXIT_EPT_MISCONFIG);
    expect(g.v.guestPhysical).toBe(0x400000);
  });
  it("a PS entry with a reserved bit (memory type bits 3..6) or write without read is misconfigured", () => {
    for (const bad of [0x08, 0x40, -1]) {
      const g = big([...load(0x400000), HLT]);
      const perms = bad < 0 ? A.EPT_W : RWX | bad;
      g.ept.setDirRaw(0x400000, (HW_HOST_SIZE + 0x400000 + perms + A.EPT_PS) >>> 0);
      vmexit(g.m.run(), A.VMX_EXIT_EPT_MISCONFIG);
    }
  });
  it("a PS entry whose frame lies beyond host-physical memory is misconfigured, not a device access", () => {
    const g = big([...load(0x400000), ...store(0x400000), HLT], { mmio: true });
    g.ept.setDirRaw(0x400000, (0xffc00000 + RWX + A.EPT_PS) >>> 0);
    vmexit(g.m.run(), A.VMX_EXIT_EPT_MISCONFIG);
    expect(g.v.guestPhysical).toBe(0x400000);
  });
});

describe("INVEPT and splitting", () => {
  it("a remapped large entry is seen after INVEPT (Machine.flushTlb), not before", () => {
    const g = big([...load(0x400000), 0x0f, 0xa2, ...load(0x400000), HLT], { vpid: 1 }); // mov eax,[..] ; cpuid ; mov eax,[..] ; hlt
    g.gs32(0x400000, 1);
    g.gs32(0x800000, 2);
    vmexit(g.m.run(), A.VMX_EXIT_CPUID);
    expect(g.m.eax).toBe(1);
    g.m.write32(EPT_DIR + 4, (HW_HOST_SIZE + 0x800000 + RWX + A.EPT_PS) >>> 0); // (no INVEPT yet)
    g.m.eip += 2;
    expect(g.m.run().reason).toBe("hlt");
    expect(g.m.eax).toBe(1); // the combined translation cached before the edit
    g.m.flushTlb();
    g.again(CODE + 6 + 2);
    expect(g.m.run().reason).toBe("hlt");
    expect(g.m.eax).toBe(2);
  });
  it("protecting one 4 KiB page splits its large page: that page violates, its neighbours keep their mapping and A/D", () => {
    const g = big([...store(0x400000), ...load(0x401000), HLT]);
    g.m.run();
    g.again(CODE);
    g.ept.protect(0x401000, 0);
    expect(g.ept.dirEntry(0x400000) & A.EPT_PS).toBe(0);
    expect(g.ept.entry(0x400000)).toMatchObject({ hpa: HW_HOST_SIZE + 0x400000, perms: RWX, accessed: true, dirty: true, large: false });
    expect(g.ept.entry(0x7ff000)).toMatchObject({ hpa: HW_HOST_SIZE + 0x7ff000, perms: RWX, large: false });
    const e = vmexit(g.m.run(), A.VMX_EXIT_EPT_VIOLATION);
    expect([e.eip, g.v.guestPhysical]).toEqual([CODE + 6, 0x401000]);
    expect(g.ept.entry(0x402000).large).toBe(false);
  });
});

// (each twice: without and with the nested TLB and VPID)
for (const F of [{}, { pwc: true, vpid: 1 }]) describe(`hostile guests with large EPT pages${F.pwc ? " (nested TLB, VPID)" : ""}`, () => {
  it("the last dword of guest RAM is the guest's; the first past it is device space; the hypervisor's memory is untouched", () => {
    const g = big([...store(RAM - 4), ...store(RAM), HLT], { mmio: true, ...F });
    g.m.eax = 0xdead;
    const before = hostImage(g.m);
    expect(as(g.m.run(), "mmio-write").address).toBe(RAM);
    expect(g.g32(RAM - 4)).toBe(0xdead);
    expect(hostImage(g.m).equals(before)).toBe(true);
  });
  it("guest page tables aimed at every large page and beyond reach guest RAM or devices, never host memory", () => {
    // mov [0x6000], eax ; hlt, with the guest PTE of 0x6000 pointing at gpa X
    for (const gpa of [0, 0x3ff000, 0x400000, 0xbff000, 0xc00000, 0xfff000, 0xfec00000]) {
      const g = big([...store(0x6000), HLT], { paging: true, mmio: true, ...F });
      g.gs32(PT + 6 * 4, gpa | 0x3);
      g.m.eax = 0x5a5a5a5a;
      const before = hostImage(g.m);
      const e = g.m.run();
      if (gpa < RAM) { expect(e.reason).toBe("hlt"); expect(g.g32(gpa)).toBe(0x5a5a5a5a); } else expect(as(e, "mmio-write").address).toBe(gpa);
      expect(hostImage(g.m).equals(before)).toBe(true);
    }
  });
});

describe("hw mode: eptLarge on by default, off on request, kept across a snapshot", () => {
  it("a 64 MiB guest's EPT has 16 large pages; with eptLarge: false none, and so after restoring its snapshot", () => {
    const ps = (vm: Vm) => Array.from({ length: 16 }, (_, t) => (vm.mode as HwMode).ept.dirEntry(t << 22) & A.EPT_PS ? 1 : 0).reduce((a: number, b) => a + b, 0);
    expect(ps(new Vm({ mode: "hw", memSize: 64 * MiB }))).toBe(16);
    const off = new Vm({ mode: "hw", memSize: 64 * MiB, eptLarge: false });
    expect(ps(off)).toBe(0);
    const back = Vm.restore(off.snapshot());
    expect(ps(back)).toBe(0);
    expect((back.mode as HwMode).ept.large).toBe(false);
  });
  it("tlb_miss: the same console and instructions with large pages on and off; fewer references per miss with them", async () => {
    const image = new Uint8Array(readFileSync(join(ROOT, "build/guests/workloads/tlb_miss.elf")));
    const run = (eptLarge: boolean) => runImage({ image, mode: "hw", memSize: 64 * MiB, maxInstructions: 400_000_000, cmdline: "iters=4", eptLarge });
    const on = await run(true), off = await run(false);
    expect(on.console).toBe(off.console);
    expect(on.stats.instructions).toBe(off.stats.instructions);
    const a = (on.stats.devices as any).hw, b = (off.stats.devices as any).hw;
    expect([a.eptLarge, b.eptLarge]).toEqual([true, false]);
    expect(a.walkRefsPerMiss).toBeLessThan(b.walkRefsPerMiss);
    expect(a.walkRefsPerMiss).toBeGreaterThanOrEqual(2); // (the kernel's 4 MiB guest pages: 1 guest entry + 1 EPT reference)
  }, 120_000);
});

/** The hypervisor's memory, with the EPT's accessed/dirty flags (the CPU's to set) masked out. */
function hostImage(m: import("../host/machine.ts").Machine): Buffer {
  const b = Buffer.from(m.readMem(0, HW_HOST_SIZE));
  const mask = (from: number, len: number) => { for (let i = from + 1; i < from + len; i += 4) b[i] &= ~3; };
  mask(EPT_DIR, 4096);
  mask(EPT_TABLES, 3 * 4096);
  return b;
}
