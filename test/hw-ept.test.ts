// hw-ept.test.ts — assembly/ept.ts: nested paging in guest mode. Guest RAM lives at host-physical HW_HOST_SIZE, the
// two-dimensional walk (guest entries read through the EPT: 8 references per miss for 2 x 2 levels), accessed and
// dirty flags at both levels, EPT violations of each access type with their qualification, misconfigurations,
// device memory (PROC2_EPT_MMIO), the combined TLB and the JIT, and hostile guests. Raw instruction bytes with their
// disassembly.
import { describe, it, expect } from "vitest";
import { hwGuest, as, vmexit, A, CODE, PD, PT, HW_HOST_SIZE, GUEST_RAM } from "./hw-guest.ts";
import { EPT_DIR, EPT_TABLES } from "../host/hw/ept.ts";

const HLT = 0xf4;
const RWX = A.EPT_R | A.EPT_W | A.EPT_X;
const LOAD = [0x8b, 0x05, 0x00, 0x60, 0x00, 0x00]; // mov eax, [0x6000]
const STORE = [0x89, 0x05, 0x00, 0x60, 0x00, 0x00]; // mov [0x6000], eax

describe("guest-physical memory is host-physical HW_HOST_SIZE + gpa, through the EPT", () => {
  it("a guest load of gpa 0x6000 reads host-physical HW_HOST_SIZE + 0x6000, not 0x6000", () => {
    const g = hwGuest([...LOAD, HLT]);
    g.m.write32(0x6000, 0xbad);
    g.gs32(0x6000, 0x600d);
    g.m.run();
    expect(g.m.eax).toBe(0x600d);
  });
  it("without EPT (guest mode, PROC2_EPT off) the same load reads host-physical 0x6000: the offset is the EPT's doing", () => {
    const g = hwGuest([...LOAD, HLT], { ept: false });
    g.m.writeMem(CODE, [...LOAD, HLT]);
    g.m.write32(0x6000, 0xbad);
    g.m.run();
    expect(g.m.eax).toBe(0xbad);
  });
});

describe("the two-dimensional walk", () => {
  it("8 memory references per guest TLB miss (2 EPT + 1 guest per level, 2 EPT for the final address)", () => {
    const g = hwGuest([...LOAD, HLT], { paging: true });
    g.m.run();
    const c = g.v.counters;
    expect(c.walks).toBeGreaterThanOrEqual(2); // the code page and the data page
    expect(c.walkRefs).toBe(8 * c.walks);
  });
  it("sets accessed/dirty flags at both levels: the guest's PDE/PTE and the EPT entries of every page it touched", () => {
    const g = hwGuest([...STORE, HLT], { paging: true });
    g.ept.clearAccessed();
    g.m.run();
    expect(g.g32(PD) & (A.PTE_A | A.PTE_D)).toBe(A.PTE_A); // guest PDE: accessed
    expect(g.g32(PT + 6 * 4) & (A.PTE_A | A.PTE_D)).toBe(A.PTE_A | A.PTE_D); // guest PTE of the stored page: A and D
    expect(g.g32(PT + 1 * 4) & (A.PTE_A | A.PTE_D)).toBe(A.PTE_A); // code page: fetched only
    expect(g.ept.entry(0x6000)).toMatchObject({ hpa: HW_HOST_SIZE + 0x6000, accessed: true, dirty: true });
    expect(g.ept.entry(CODE)).toMatchObject({ accessed: true, dirty: false });
    // the guest's own A/D updates are writes to its page-table pages: EPT A and D on them
    expect(g.ept.entry(PD)).toMatchObject({ accessed: true, dirty: true });
    expect(g.ept.entry(PT)).toMatchObject({ accessed: true, dirty: true });
    expect(g.ept.entry(0x7000)).toMatchObject({ accessed: false, dirty: false });
    expect(g.ept.dirEntry(0) & A.EPT_A).toBe(A.EPT_A);
  });
  it("A/D flags off in the EPT pointer: the EPT entries stay as the host wrote them", () => {
    const g = hwGuest([...STORE, HLT], { paging: true });
    g.ept.clearAccessed();
    g.v.set(A.OFF_VMX_EPTP, EPT_DIR);
    g.m.run();
    expect(g.ept.entry(0x6000)).toMatchObject({ accessed: false, dirty: false });
    expect(g.g32(PT + 6 * 4) & A.PTE_D).toBe(A.PTE_D);
  });
  it("the TLB caches the combined translation across VM exits and entries with VPID (no new walk after a CPUID exit)", () => {
    const g = hwGuest([...LOAD, 0x0f, 0xa2, ...LOAD, HLT], { paging: true }); // mov eax,[0x6000] ; cpuid ; mov eax,[0x6000] ; hlt
    g.v.vpid = 1; // (without VPID every exit flushes it: test/hw-tlb.test.ts)
    vmexit(g.m.run(), A.VMX_EXIT_CPUID);
    const w = g.v.counters.walks;
    g.m.eip += 2;
    g.m.run();
    expect(g.v.counters.walks).toBe(w);
  });
  it("a guest CR3 write exits to nobody and flushes only the guest's translations", () => {
    // mov eax,[0x6000] ; mov ecx, cr3 ; mov cr3, ecx ; mov eax,[0x6000] ; hlt
    const g = hwGuest([...LOAD, 0x0f, 0x20, 0xd9, 0x0f, 0x22, 0xd9, ...LOAD, HLT], { paging: true });
    expect(g.m.run().reason).toBe("hlt");
    expect(g.v.counters.exits).toBe(0);
  });
});

describe("EPT violations (reason 48) of every access type", () => {
  const qual = (acc: number, perms: number, final = true) => acc | (perms << A.QEPT_PERM_SHIFT) | A.QEPT_LIN_VALID | (final ? A.QEPT_FINAL : 0);
  it("read: a not-present page; fault-like (EIP on the load, nothing done), restartable after the host maps it", () => {
    const g = hwGuest([...LOAD, HLT], { paging: true });
    g.gs32(0x6000, 77);
    g.ept.protect(0x6000, 0);
    const e = vmexit(g.m.run(), A.VMX_EXIT_EPT_VIOLATION);
    expect([e.eip, e.qualification, g.v.guestPhysical, g.v.guestLinear, g.m.eax]).toEqual([CODE, qual(A.QEPT_READ, 0), 0x6000, 0x6000, 0]);
    g.ept.protect(0x6000, RWX);
    expect(g.m.run().reason).toBe("hlt");
    expect(g.m.eax).toBe(77);
  });
  it("write: a read/execute page; the qualification carries the entry's permissions", () => {
    const g = hwGuest([...STORE, HLT], { paging: true });
    g.m.eax = 5;
    g.ept.protect(0x6000, A.EPT_R | A.EPT_X);
    vmexit(g.m.run(), A.VMX_EXIT_EPT_VIOLATION);
    expect(g.v.qualification).toBe(qual(A.QEPT_WRITE, A.EPT_R | A.EPT_X));
    expect(g.g32(0x6000)).toBe(0);
    expect(g.g32(PT + 6 * 4) & A.PTE_D).toBe(0); // nothing of the store happened, not even the guest's dirty bit
  });
  it("fetch: a jump into a read/write page", () => {
    const g = hwGuest([0xe9, ...le(0x7000 - (CODE + 5))], { paging: true }); // jmp 0x7000
    g.gw(0x7000, [HLT]);
    g.ept.protect(0x7000, A.EPT_R | A.EPT_W);
    const e = vmexit(g.m.run(), A.VMX_EXIT_EPT_VIOLATION);
    expect([e.eip, e.qualification, g.v.guestPhysical]).toEqual([0x7000, qual(A.QEPT_FETCH, A.EPT_R | A.EPT_W), 0x7000]);
  });
  it("execute-only code runs, and a load from it is a read violation (no TLB entry serves both)", () => {
    const g = hwGuest([0xe9, ...le(0x7000 - (CODE + 5))], { paging: true }); // jmp 0x7000
    g.gw(0x7000, [0x8b, 0x05, 0x00, 0x70, 0x00, 0x00, HLT]); // mov eax, [0x7000] ; hlt
    g.ept.protect(0x7000, A.EPT_X);
    vmexit(g.m.run(), A.VMX_EXIT_EPT_VIOLATION);
    expect([g.m.eip, g.v.qualification]).toEqual([0x7000, qual(A.QEPT_READ, A.EPT_X)]);
  });
  it("a guest paging-structure access: the guest's page table not present in the EPT (final bit clear)", () => {
    const g = hwGuest([...LOAD, HLT], { paging: true });
    g.m.run(); // warm: then drop everything and unmap the guest's page table
    g.again(CODE);
    g.ept.protect(PT, 0);
    vmexit(g.m.run(), A.VMX_EXIT_EPT_VIOLATION);
    expect([g.v.qualification, g.v.guestPhysical]).toEqual([qual(A.QEPT_READ, 0, false), PT + 1 * 4]);
  });
  it("the guest's accessed-flag update of a read-only page table is a write violation", () => {
    const g = hwGuest([...LOAD, HLT], { paging: true });
    g.gs32(PT + 6 * 4, 0x6000 | 0x3); // A clear
    g.gs32(PT + 1 * 4, 0x1000 | 0x23); // the code page's PTE already accessed
    g.gs32(PD, PT | 0x23);
    g.ept.protect(PT, A.EPT_R);
    vmexit(g.m.run(), A.VMX_EXIT_EPT_VIOLATION);
    expect([g.v.qualification, g.v.guestPhysical]).toEqual([qual(A.QEPT_WRITE, A.EPT_R, false), PT + 6 * 4]);
  });
  it("a misconfigured entry (write without read) exits with reason 49", () => {
    const g = hwGuest([...LOAD, HLT], { paging: true });
    g.ept.setRaw(0x6000, (HW_HOST_SIZE + 0x6000) | A.EPT_W);
    vmexit(g.m.run(), A.VMX_EXIT_EPT_MISCONFIG);
    expect(g.v.guestPhysical).toBe(0x6000);
    g.ept.setRaw(0x6000, (HW_HOST_SIZE + 0x6000) | RWX | 0x30); // a memory type other than write-back
    g.again(CODE);
    vmexit(g.m.run(), A.VMX_EXIT_EPT_MISCONFIG);
  });
});

describe("device memory behind EPT violations (PROC2_EPT_MMIO)", () => {
  const APIC = [0x8b, 0x05, 0x30, 0x00, 0xe0, 0xfe, HLT]; // mov eax, [0xfee00030] ; hlt
  it("on: a not-present gpa leaves as a restartable device read at that guest-physical address, recorded as reason 48", () => {
    const g = hwGuest(APIC, { mmio: true });
    const e = as(g.m.run(), "mmio-read");
    expect([e.address, e.size, g.v.exitReason, g.v.qualification & 7]).toEqual([0xfee00030, 4, A.VMX_EXIT_EPT_VIOLATION, A.QEPT_READ]);
    g.m.completeIo(0x50014);
    expect(g.m.run().reason).toBe("hlt");
    expect(g.m.eax).toBe(0x50014);
  });
  it("off: the same access is an EPT-violation VM exit", () => {
    const g = hwGuest(APIC);
    vmexit(g.m.run(), A.VMX_EXIT_EPT_VIOLATION);
    expect(g.v.guestPhysical).toBe(0xfee00030);
  });
});

describe("the JIT's inline TLB probe stays correct under nested paging", () => {
  // loop: mov [0x6000], ecx ; dec ecx ; jnz loop ; hlt   (compiled after one run of the block)
  const LOOP = [0x89, 0x0d, 0x00, 0x60, 0x00, 0x00, 0x49, 0x75, 0xf7, HLT];
  it("a hot compiled loop stores through the combined translation; an EPT write-protect (INVEPT) stops it with a violation", () => {
    const g = hwGuest(LOOP, { paging: true, jitThreshold: 1 });
    g.m.ecx = 1000;
    expect(g.m.run().reason).toBe("hlt");
    expect(g.m.jitStats.compiled).toBeGreaterThan(0);
    expect(g.g32(0x6000)).toBe(1);
    expect(g.m.read32(0x6000)).toBe(0);
    g.again(CODE);
    g.m.ecx = 1000;
    g.ept.protect(0x6000, A.EPT_R | A.EPT_X);
    vmexit(g.m.run(), A.VMX_EXIT_EPT_VIOLATION);
    expect([g.m.eip, g.m.ecx, g.v.qualification & 7]).toEqual([CODE, 1000, A.QEPT_WRITE]);
  });
});

// (each twice: as the hypervisor sets the controls before this branch, and with the nested TLB and VPID on)
for (const F of [{}, { pwc: true, vpid: 1 }]) describe(`hostile guests are contained${F.pwc ? " (nested TLB, VPID)" : ""}`, () => {
  it("guest page tables pointing outside guest-physical space reach device space, never host memory", () => {
    const g = hwGuest([...LOAD, ...STORE, HLT], { paging: true, mmio: true, ...F });
    g.gs32(PT + 6 * 4, 0x00ff0000 | 0x3); // gpa 16 MiB - 64 KiB: beyond the 1 MiB of guest RAM
    const e = as(g.m.run(), "mmio-read");
    expect(e.address).toBe(0x00ff0000);
    const hostBefore = hostImage(g.m);
    g.m.completeIo(0);
    g.m.eax = 0xdead;
    expect(as(g.m.run(), "mmio-write").address).toBe(0x00ff0000);
    expect(hostImage(g.m).equals(hostBefore)).toBe(true); // the hypervisor's memory (EPT, bitmaps) untouched
  });
  it("a guest write to gpa EPT_DIR lands in its own RAM, not in the EPT", () => {
    const g = hwGuest([0x89, 0x05, ...le(EPT_DIR), HLT], { paging: true, ...F }); // mov [0x1000], eax
    g.m.eax = 0xffffffff;
    const dir = g.m.read32(EPT_DIR);
    g.m.run();
    expect(g.m.read32(EPT_DIR) & ~(A.EPT_A | A.EPT_D)).toBe(dir);
    expect(g.g32(EPT_DIR)).toBe(0xffffffff);
  });
  it("CR3 garbage: the walk reads open bus beyond guest RAM, and the guest faults or touches devices, nothing else", () => {
    // mov eax, 0xfffff000 ; mov cr3, eax ; mov eax, [0x6000] ; hlt
    const g = hwGuest([0xb8, 0x00, 0xf0, 0xff, 0xff, 0x0f, 0x22, 0xd8, ...LOAD, HLT], { paging: true, mmio: true, ...F });
    const hostBefore = hostImage(g.m);
    for (let i = 0; i < 20; i++) {
      const e = g.m.run(10_000);
      if (e.reason === "mmio-read") { expect(e.address).toBeGreaterThanOrEqual(GUEST_RAM); g.m.completeIo(0xffffffff); continue; }
      if (e.reason === "vmexit" || e.reason === "hlt") break;
    }
    expect(hostImage(g.m).equals(hostBefore)).toBe(true);
  });
  it("a guest that disables paging addresses its guest-physical memory directly, still through the EPT", () => {
    // mov eax, cr0 ; and eax, 0x7fffffff ; mov cr0, eax ; mov eax, [0x6000] ; hlt
    const g = hwGuest([0x0f, 0x20, 0xc0, 0x25, 0xff, 0xff, 0xff, 0x7f, 0x0f, 0x22, 0xc0, ...LOAD, HLT], { paging: true, ...F });
    g.gs32(0x6000, 0x1234);
    g.m.write32(0x6000, 0xbad);
    expect(g.m.run().reason).toBe("hlt");
    expect(g.m.getCr("cr0") & A.CR0_PG).toBe(0);
    expect(g.m.eax).toBe(0x1234);
  });
});

/** The hypervisor's memory, with the EPT's accessed/dirty flags (the CPU's to set) masked out. */
function hostImage(m: import("../host/machine.ts").Machine): Buffer {
  const b = Buffer.from(m.readMem(0, HW_HOST_SIZE));
  const mask = (from: number, len: number) => { for (let i = from + 1; i < from + len; i += 4) b[i] &= ~3; };
  mask(EPT_DIR, 4096);
  mask(EPT_TABLES, Math.ceil(GUEST_RAM / (4 << 20)) * 4096);
  return b;
}
function le(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]; }
