// hw-tlb.test.ts — the TLB in guest mode: the VPID tag (PROC2_VPID, OFF_VMX_VPID, INVVPID; assembly/vmx.ts), the
// 2-D walk's nested TLB for guest paging-structure pages (OFF_VMX_PWC; assembly/ept.ts), and system accesses
// (IDT, GDT, interrupt frames) served by the TLB instead of a walk each (assembly/mmu.ts). Bare Machine in guest
// mode (test/hw-guest.ts), raw instruction bytes with their disassembly; then hw mode end to end.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { hwGuest, vmexit, A, CODE, PD, PT, HANDLER } from "./hw-guest.ts";
import { runImage } from "../host/vm.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const HLT = 0xf4;
const CPUID = [0x0f, 0xa2];
const LOAD = [0x8b, 0x05, 0x00, 0x60, 0x00, 0x00]; // mov eax, [0x6000]
const LOAD7 = [0x8b, 0x05, 0x00, 0x70, 0x00, 0x00]; // mov eax, [0x7000]
const STORE7 = [0x89, 0x05, 0x00, 0x70, 0x00, 0x00]; // mov [0x7000], eax
const STORE6 = [0x89, 0x05, 0x00, 0x60, 0x00, 0x00]; // mov [0x6000], eax
const LOAD8 = [0x8b, 0x05, 0x00, 0x80, 0x00, 0x00]; // mov eax, [0x8000]
const MOV_CR3 = [0x0f, 0x20, 0xd9, 0x0f, 0x22, 0xd9]; // mov ecx, cr3 ; mov cr3, ecx

/** walks made by `code` after a CPUID exit that follows `mov eax,[0x6000]` (the host emulates CPUID: EIP += 2) */
function walksAfterExit(setup: (g: ReturnType<typeof hwGuest>) => void) {
  const g = hwGuest([...LOAD, ...CPUID, ...LOAD, HLT], { paging: true }); // mov eax,[0x6000] ; cpuid ; mov eax,[0x6000] ; hlt
  setup(g);
  vmexit(g.m.run(), A.VMX_EXIT_CPUID);
  const w = g.v.counters.walks;
  g.m.eip += 2;
  expect(g.m.run().reason).toBe("hlt");
  return { after: g.v.counters.walks - w, flushes: g.v.counters.tlbFlushes };
}

describe("enable VPID (secondary control bit 5)", () => {
  it("on: the guest's translations survive the VM exit and the entry (no walk after CPUID)", () => {
    expect(walksAfterExit((g) => { g.v.vpid = 1; })).toEqual({ after: 0, flushes: 1 }); // (1: the first entry's tag switch)
  });
  it("off: the VM exit flushes the TLB (VPID 0000H is the host's): the code and data pages are walked again", () => {
    const r = walksAfterExit(() => {});
    expect(r.after).toBe(2);
    expect(r.flushes).toBe(2); // the entry into untagged guest mode, the CPUID exit
  });
  it("the bit on with VPID 0 is no tag (VT-x refuses that entry; here it runs untagged): it flushes as off", () => {
    const r = walksAfterExit((g) => { g.v.set(A.OFF_VMX_VPID, 0); g.v.ctl(A.OFF_VMX_PROC2, A.PROC2_VPID, true); });
    expect(r.after).toBe(2);
  });
  it("an entry with another VPID does not see the first one's translations; the same VPID again does", () => {
    for (const [next, walks] of [[1, 0], [2, 2], [0x10001, 0]] as const) { // (0x10001: the field is 16 bits)
      const g = hwGuest([...LOAD, ...CPUID, ...LOAD, HLT], { paging: true });
      g.v.vpid = 1;
      vmexit(g.m.run(), A.VMX_EXIT_CPUID);
      const w = g.v.counters.walks;
      g.v.set(A.OFF_VMX_VPID, next);
      g.m.eip += 2;
      g.m.run();
      expect(g.v.counters.walks - w, `VPID ${next}`).toBe(walks);
    }
  });
  it("root mode does not see guest-mode translations (leaving guest mode switches the tag)", () => {
    const g = hwGuest([...LOAD, ...CPUID, ...LOAD, HLT], { paging: true });
    g.v.vpid = 1;
    vmexit(g.m.run(), A.VMX_EXIT_CPUID);
    g.root(); // the same bytes at host-physical 0 and no EPT: a stale combined entry would read HW_HOST_SIZE + 0x6000
    g.m.write32(0x6000, 0x1234);
    g.gs32(0x6000, 0xbad);
    g.m.eip += 2;
    expect(g.m.run().reason).toBe("hlt");
    expect(g.m.eax).toBe(0x1234);
  });
});

describe("INVVPID (Machine.invvpid)", () => {
  /** run `mov eax,[0x6000] ; mov eax,[0x7000] ; cpuid` under VPID 1 with 0x6000 global; INVVPID; then both loads again */
  function after(invvpid: (g: ReturnType<typeof hwGuest>) => void) {
    const g = hwGuest([...LOAD, ...LOAD7, ...CPUID, ...LOAD, ...LOAD7, HLT], { paging: true });
    g.gs32(PT + 6 * 4, g.g32(PT + 6 * 4) | A.PTE_G);
    g.m.setCr("cr4", A.CR4_PGE);
    g.v.vpid = 1;
    vmexit(g.m.run(), A.VMX_EXIT_CPUID);
    const w = g.v.counters.walks;
    invvpid(g);
    g.m.eip += 2;
    expect(g.m.run().reason).toBe("hlt");
    return g.v.counters.walks - w;
  }
  it("individual address: only that page of that VPID (the code page and 0x6000 stay)", () => {
    expect(after((g) => g.v.invvpid(A.INVVPID_ADDR, 1, 0x7000))).toBe(1);
  });
  it("single context: every translation of the VPID, global ones too", () => {
    expect(after((g) => g.v.invvpid(A.INVVPID_SINGLE, 1))).toBe(3);
  });
  it("single context retaining globals: the global page stays", () => {
    expect(after((g) => g.v.invvpid(A.INVVPID_SINGLE_KEEP_GLOBAL, 1))).toBe(2);
  });
  it("all contexts", () => {
    expect(after((g) => g.v.invvpid(A.INVVPID_ALL, 0))).toBe(3);
  });
  it("another VPID's context, VPID 0 or an invalid type: nothing of this VPID's goes", () => {
    expect(after((g) => { g.v.invvpid(A.INVVPID_SINGLE, 2); g.v.invvpid(A.INVVPID_ADDR, 2, 0x7000); g.v.invvpid(A.INVVPID_SINGLE, 0); g.v.invvpid(9, 1); })).toBe(0);
  });
});

describe("a guest MOV to CR3 under VPID: the VPID's non-global translations go, no exit", () => {
  for (const global of [false, true]) {
    it(`0x6000 ${global ? "global (CR4.PGE): kept" : "not global: walked again"}`, () => {
      // mov eax,[0x6000] ; mov ecx,cr3 ; mov cr3,ecx ; mov eax,[0x6000] ; hlt
      const g = hwGuest([...LOAD, ...MOV_CR3, ...LOAD, HLT], { paging: true });
      g.v.vpid = 1;
      g.m.setCr("cr4", A.CR4_PGE);
      if (global) g.gs32(PT + 6 * 4, g.g32(PT + 6 * 4) | A.PTE_G);
      expect(g.m.run().reason).toBe("hlt");
      expect(g.v.counters.exits).toBe(0);
      expect(g.v.counters.walks).toBe(global ? 3 : 4); // code, 0x6000; after the CR3 write: code (and 0x6000)
    });
  }
});

describe("system accesses hit the TLB (IDT/GDT reads, interrupt frames): an INT/IRET loop walks no more than once per page", () => {
  // mov ecx, n ; L: int 0x30 ; loop L ; hlt   — every vector's handler is IRET
  const loop = (n: number) => {
    const g = hwGuest([0xb9, n & 0xff, (n >> 8) & 0xff, 0, 0, 0xcd, 0x30, 0xe2, 0xfc, HLT], { paging: true });
    g.gw(HANDLER, [0xcf]); // iret
    expect(g.m.run().reason).toBe("hlt");
    return g.v.counters.walks;
  };
  it("10 and 1000 round trips make the same walks (before: about 10 walks per round trip, each of 8 references)", () => {
    const few = loop(10);
    expect(few).toBeLessThan(10);
    expect(loop(1000)).toBe(few);
  });
});

describe("the nested TLB (OFF_VMX_PWC): guest paging-structure pages translated without an EPT walk", () => {
  const CODE3 = [...LOAD, ...LOAD7, ...LOAD8, HLT]; // mov eax,[0x6000] ; mov eax,[0x7000] ; mov eax,[0x8000] ; hlt
  it("off: 8 references per miss; on: the first miss 8, the rest 4 (1 PDE + 1 PTE + 2 for the final address)", () => {
    const off = hwGuest(CODE3, { paging: true });
    off.m.run();
    expect(off.v.counters).toMatchObject({ walks: 4, walkRefs: 32, pwcHits: 0, pwcMisses: 0 });
    const on = hwGuest(CODE3, { paging: true });
    on.v.pwc = true;
    on.m.run();
    expect(on.v.counters).toMatchObject({ walks: 4, walkRefs: 8 + 3 * 4, pwcHits: 6, pwcMisses: 2 });
    expect(on.m.eax).toBe(off.m.eax);
  });
  it("A/D flags at both levels are the same with and without it (the guest's A/D writes still set EPT D)", () => {
    // mov eax,[0x6000] ; mov [0x7000],eax ; mov eax,[0x8000] ; mov [0x6000],eax ; hlt, with the guest's PTEs
    // already accessed (their pages read through the cache before the first write to them)
    const code = [...LOAD, ...STORE7, ...LOAD8, ...STORE6, HLT];
    const image = (pwc: boolean) => {
      const g = hwGuest(code, { paging: true });
      g.gs32(PD, g.g32(PD) | A.PTE_A);
      for (const p of [1, 6, 8]) g.gs32(PT + p * 4, g.g32(PT + p * 4) | A.PTE_A);
      g.ept.clearAccessed();
      g.v.pwc = pwc;
      g.m.run();
      const ept = [PD, PT, CODE, 0x6000, 0x7000, 0x8000, 0x9000].map((a) => g.ept.entry(a));
      return { ept, dir: g.ept.dirEntry(0), guest: [g.g32(PD), ...[1, 6, 7, 8].map((p) => g.g32(PT + p * 4))] };
    };
    const off = image(false), on = image(true);
    expect(on).toEqual(off);
    expect(on.ept[1]).toMatchObject({ accessed: true, dirty: true }); // the PT page: the guest's D/A updates were EPT writes
  });
  it("INVEPT (Machine.flushTlb) flushes it: a paging-structure page made not-present afterwards is an EPT violation", () => {
    const g = hwGuest([...LOAD, ...CPUID, ...LOAD7, HLT], { paging: true });
    g.v.pwc = true;
    g.v.vpid = 1;
    vmexit(g.m.run(), A.VMX_EXIT_CPUID);
    g.ept.protect(PT, 0); // (INVEPT)
    g.m.eip += 2;
    vmexit(g.m.run(), A.VMX_EXIT_EPT_VIOLATION);
    expect(g.v.guestPhysical).toBe(PT + 1 * 4); // the code page's PTE: the first walk after the flush
    expect(g.v.qualification & A.QEPT_FINAL).toBe(0); // a paging-structure access, not the final address
  });
  it("an EPTP change flushes it (it is tagged with the EPTP): the new EPT's missing PT page is a violation", () => {
    const g = hwGuest([...LOAD, ...CPUID, ...LOAD7, HLT], { paging: true });
    g.v.pwc = true;
    g.v.vpid = 1;
    vmexit(g.m.run(), A.VMX_EXIT_CPUID);
    // a second EPT: a copy of the directory and table with the PT page absent; no INVEPT (the host switches EPTP)
    const dir2 = 0x300000, table2 = 0x301000;
    g.m.writeMem(table2, g.m.readMem((g.ept.dirEntry(0) & 0xfffff000) >>> 0, 4096));
    g.m.write32(table2 + (PT >>> 12) * 4, 0);
    g.m.fillMem(dir2, 4096, 0);
    g.m.write32(dir2, (table2 | 7) >>> 0);
    g.v.set(A.OFF_VMX_EPTP, dir2 | A.EPTP_AD);
    g.v.invvpid(A.INVVPID_SINGLE, 1); // (the combined translations are the VPID's: flushed as a host changing EPTP does)
    g.m.eip += 2;
    vmexit(g.m.run(), A.VMX_EXIT_EPT_VIOLATION);
    expect(g.v.guestPhysical).toBe(PT + 1 * 4);
  });
});

describe("hw mode: VPID and the nested TLB on by default, same guest behaviour with each off", () => {
  const image = new Uint8Array(readFileSync(join(ROOT, "build/guests/workloads/ctxsw.elf")));
  const run = (o: Record<string, unknown>) => runImage({ image, mode: "hw", memSize: 64 << 20, maxInstructions: 400_000_000, cmdline: "iters=50", ...o });
  for (const npt of [true, false]) {
    it(`ctxsw, npt ${npt ? "on" : "off"}: the same console and instructions; without VPID one TLB flush per VM exit, with it none`, async () => {
      const on = await run({ npt }), off = await run({ npt, vpid: false, pwc: false });
      expect(off.console).toBe(on.console);
      expect(off.stats.instructions).toBe(on.stats.instructions);
      const a = (on.stats.devices as any).hw, b = (off.stats.devices as any).hw;
      expect([a.vpid, a.vpidTlbFlushes, b.vpid]).toEqual([1, 1, 0]); // (1: the first entry, from root mode)
      expect(b.vpidTlbFlushes).toBeGreaterThanOrEqual(b.vmExits - (b.shadowPaging?.mmioExits ?? 0));
      expect(b.tlbMisses).toBeGreaterThan(a.tlbMisses);
      if (npt) {
        expect(a.pwc.hits).toBeGreaterThan(a.pwc.misses);
        expect(b.pwc).toBe(null);
        expect(a.walkRefsPerMiss).toBeLessThan(b.walkRefsPerMiss);
      } else expect(a.pwc).toBe(null); // (no EPT, no nested walk)
    }, 120_000);
  }
});
