// hw-tpr.test.ts — the TPR shadow (PROC_TPR_SHADOW, OFF_VMX_VAPIC_PAGE, OFF_VMX_TPR_THRESHOLD; assembly/vmx.ts,
// SDM Vol. 3C 29.1, 29.4, 26.7.7): with "virtualize APIC accesses", guest TPR reads and writes at offset 080H of the
// APIC-access page are served from the virtual-APIC page with no VM exit; a write that takes VTPR below the
// threshold is a trap-like exit with reason 43, and so is VM entry with VTPR already below it. Each control on and
// off. Bare Machine in guest mode (test/hw-guest.ts), raw instruction bytes with their disassembly.
import { describe, it, expect } from "vitest";
import { hwGuest, vapicGuest, as, vmexit, A, CODE, HANDLER, APIC_PAGE as APIC, VAPIC_PAGE as VAPIC, type VapicOpt } from "./hw-guest.ts";

const HLT = 0xf4;
const le = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const TPR = APIC + 0x80;
const READ = [0x8b, 0x1d, ...le(TPR)]; // mov ebx, [fee00080]
const write = (v: number) => [0xc7, 0x05, ...le(TPR), ...le(v)]; // mov dword [fee00080], v  (10 bytes)

const setup = (code: number[], o: VapicOpt & { vtpr?: number } = {}) => vapicGuest(code, { 0x80: o.vtpr ?? 0x20 }, o);
const served = (g: ReturnType<typeof setup>) => g.v.get(A.OFF_VMX_TPR_INCPU);

describe("TPR reads and writes at the APIC-access page", () => {
  it("on: served from the virtual-APIC page, no VM exit, no device access", () => {
    const g = setup([...READ, ...write(0x50), 0x8b, 0x0d, ...le(TPR), HLT], { vtpr: 0x30 }); // ... ; mov ecx, [fee00080] ; hlt
    expect(g.m.run().reason).toBe("hlt");
    expect([g.m.ebx, g.m.ecx, g.m.read32(VAPIC + 0x80), g.v.counters.exits, served(g)]).toEqual([0x30, 0x50, 0x50, 0, 3]);
  });
  it("off (PROC_TPR_SHADOW clear): the read and the write exit as APIC accesses (reason 44), the page untouched", () => {
    const g = setup([...READ, ...write(0x50), HLT], { vtpr: 0x30, shadow: false });
    as(g.m.run(), "mmio-read");
    expect([g.v.exitReason, g.v.qualification]).toEqual([A.VMX_EXIT_APIC_ACCESS, 0x80 | A.QAPIC_READ]);
    g.m.completeIo(0x77);
    const w = as(g.m.run(), "mmio-write");
    expect([w.address, w.value, g.v.exitReason, g.v.qualification]).toEqual([TPR, 0x50, A.VMX_EXIT_APIC_ACCESS, 0x80 | A.QAPIC_WRITE]);
    expect(g.m.run().reason).toBe("hlt");
    expect([g.m.ebx, g.m.read32(VAPIC + 0x80), served(g)]).toEqual([0x77, 0x30, 0]);
  });
  it("virtualize APIC accesses off: the TPR shadow alone does not serve the APIC page (an EPT-violation device access)", () => {
    const g = setup([...READ, HLT], { virt: false });
    as(g.m.run(), "mmio-read");
    expect(g.v.exitReason).toBe(A.VMX_EXIT_EPT_VIOLATION);
    expect(served(g)).toBe(0);
  });
  it("only an aligned 32-bit access at 080H: a byte read of VTPR exits as before", () => {
    const g = setup([0x8a, 0x1d, ...le(TPR), HLT]); // mov bl, [fee00080]
    as(g.m.run(), "mmio-read");
    expect(g.v.exitReason).toBe(A.VMX_EXIT_APIC_ACCESS);
  });
  it("a virtual-APIC page outside host RAM: the control acts as off, nothing is read or written there", () => {
    const g = setup([...READ, HLT], { page: 0xfff00000 });
    as(g.m.run(), "mmio-read");
    expect(g.v.exitReason).toBe(A.VMX_EXIT_APIC_ACCESS);
  });
  it("with guest paging and the JIT: a hot loop of TPR writes never exits", () => {
    // loop: mov [fee00080], ecx ; dec ecx ; jnz loop ; hlt   (the guest maps fee00000 through its own page table)
    const code = [0x89, 0x0d, ...le(TPR), 0x49, 0x75, 0xf7, HLT];
    const g = hwGuest(code, { mmio: true, paging: true, jitThreshold: 1 });
    g.m.write32(VAPIC + 0x80, 0);
    const PT2 = 0x12000;
    g.gs32(0x10000 + (APIC >>> 22) * 4, PT2 | 0x3);
    g.gs32(PT2 + ((APIC >>> 12) & 0x3ff) * 4, APIC | 0x13); // present, writable, cache-disabled
    g.v.set(A.OFF_VMX_APIC_ACCESS, APIC);
    g.v.ctl(A.OFF_VMX_PROC2, A.PROC2_VIRT_APIC, true);
    g.v.ctl(A.OFF_VMX_PROC, A.PROC_TPR_SHADOW, true);
    g.v.set(A.OFF_VMX_VAPIC_PAGE, VAPIC);
    g.m.ecx = 500;
    expect(g.m.run().reason).toBe("hlt");
    expect([g.m.read32(VAPIC + 0x80), g.v.counters.exits, served(g)]).toEqual([1, 0, 500]);
  });
});

describe("the TPR threshold (reason 43)", () => {
  it("a write taking VTPR[7:4] below the threshold: trap-like exit after the write, VTPR stored", () => {
    const g = setup([...write(0x40), ...write(0x30), HLT], { threshold: 4, vtpr: 0x50 });
    const e = vmexit(g.m.run(), A.VMX_EXIT_TPR_BELOW_THRESHOLD);
    expect([g.m.eip, e.qualification, g.m.read32(VAPIC + 0x80), g.m.instructions]).toEqual([CODE + 20, 0, 0x30, 2]);
    g.v.set(A.OFF_VMX_TPR_THRESHOLD, 3); // the hypervisor lowers the threshold (as KVM does after delivering): resumes
    expect(g.m.run().reason).toBe("hlt");
  });
  it("threshold 0 never exits; bits 31:4 of the threshold are ignored; bits 3:0 of VTPR do not count", () => {
    for (const [threshold, v] of [[0, 0x00], [0x10, 0x00], [4, 0x4f], [4, 0x40]]) {
      const g = setup([...write(v), HLT], { threshold, vtpr: 0xf0 });
      expect(g.m.run().reason, `threshold ${threshold} write ${v}`).toBe("hlt");
    }
    const g = setup([...write(0x3f), HLT], { threshold: 0x14, vtpr: 0xf0 });
    vmexit(g.m.run(), A.VMX_EXIT_TPR_BELOW_THRESHOLD);
  });
  it("TPR shadow off: the same write is a device access, not a threshold exit", () => {
    const g = setup([...write(0x30), HLT], { threshold: 4, shadow: false });
    expect(as(g.m.run(), "mmio-write").value).toBe(0x30);
    expect(g.v.exitReason).toBe(A.VMX_EXIT_APIC_ACCESS);
  });
  it("VM entry with VTPR already below the threshold exits before the first guest instruction", () => {
    const g = setup([...READ, HLT], { threshold: 3, vtpr: 0x20 });
    const e = vmexit(g.m.run(), A.VMX_EXIT_TPR_BELOW_THRESHOLD);
    expect([e.eip, g.m.eip, g.m.instructions, g.v.counters.exits]).toEqual([CODE, CODE, 0, 1]);
    g.v.set(A.OFF_VMX_TPR_THRESHOLD, 2);
    expect(g.m.run().reason).toBe("hlt");
    expect(g.m.ebx).toBe(0x20);
  });
  it("... after an event injected at that entry is delivered (EIP at its handler)", () => {
    const g = setup([...READ, HLT], { threshold: 3, vtpr: 0x20 });
    g.m.eflags |= A.FLAG_IF;
    g.v.inject("external", 0x30);
    vmexit(g.m.run(), A.VMX_EXIT_TPR_BELOW_THRESHOLD);
    expect(g.m.eip).toBe(HANDLER);
  });
  it("root mode ignores the controls: the host's own access to the page is a plain device access", () => {
    const g = setup([...READ, HLT], { threshold: 3, vtpr: 0x20 });
    g.v.guestMode = false;
    g.m.writeMem(CODE, [...READ, HLT]);
    g.m.setCr("cr0", g.m.getCr("cr0") & ~A.CR0_PG);
    expect(as(g.m.run(), "mmio-read").address).toBe(TPR);
    expect(served(g)).toBe(0);
  });
});
