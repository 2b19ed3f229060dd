// hw-apic.test.ts — "virtualize APIC accesses" (PROC2_VIRT_APIC, OFF_VMX_APIC_ACCESS; assembly/vmx.ts + apic.ts):
// in guest mode a guest access to the APIC-access page is answered by the CPU's in-CPU local APIC (the host model's
// registers in AREA_APIC) with no VM exit; without the control every such access is an EPT-violation exit, and what
// the in-CPU APIC cannot answer exits exactly as without it. Bare Machine in guest mode (test/hw-guest.ts), raw
// instruction bytes with their disassembly; then hw mode end to end (xv6, both paging configurations).
import { describe, it, expect } from "vitest";
import { hwGuest, as, A, type HwGuest } from "./hw-guest.ts";
import { LocalApic, LAPIC_BASE, LAPIC_REG as R } from "../host/devices/lapic.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Vm } from "../host/vm.ts";
import { XV6 } from "./xv6-session.ts";


const HLT = 0xf4;
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const BUS_PER_INSN = 10;
const VEC = 0x41; // an edge-triggered vector in service (ISR word 2, bit 1)

// mov eax, [fee00020] (ID) ; mov ebx, [fee00080] (TPR) ; mov ecx, [fee000a0] (PPR) ;
// mov dword [fee000b0], 0 (EOI) ; mov edx, [fee000a0] (PPR after the EOI) ; hlt
const CODE = [
  0xa1, ...le32(LAPIC_BASE + R.ID),
  0x8b, 0x1d, ...le32(LAPIC_BASE + R.TPR),
  0x8b, 0x0d, ...le32(LAPIC_BASE + R.PPR),
  0xc7, 0x05, ...le32(LAPIC_BASE + R.EOI), ...le32(0),
  0x8b, 0x15, ...le32(LAPIC_BASE + R.PPR),
  HLT,
];

/** A guest-mode Machine with EPT and the MMIO assist whose local APIC (the host model) shares the CPU's AREA_APIC. */
function setup(code: number[], virt: boolean, accessPage = LAPIC_BASE) {
  const g = hwGuest(code, { mmio: true });
  const apic = new LocalApic({});
  apic.shareWith(new Uint32Array(g.m.memory.buffer, A.STATE_BASE + A.AREA_APIC, A.AREA_APIC_SIZE / 4), LAPIC_BASE, BUS_PER_INSN);
  apic.write(R.ID, 4, 0x05000000);
  apic.write(R.TPR, 4, 0x20);
  apic.isr[VEC >> 5] |= 1 << (VEC & 31);
  g.v.set(A.OFF_VMX_APIC_ACCESS, accessPage);
  g.v.ctl(A.OFF_VMX_PROC2, A.PROC2_VIRT_APIC, virt);
  return { g, apic };
}
/** The hypervisor's loop in small: device exits to the model (with the VMCS reason they were), until HLT. */
function drive(g: HwGuest, apic: LocalApic): string[] {
  const exits: string[] = [];
  let at = g.m.instructions;
  for (let i = 0; i < 1000; i++) {
    const e = g.m.run(10_000);
    apic.advance((g.m.instructions - at) * BUS_PER_INSN);
    at = g.m.instructions;
    if (e.reason === "hlt") return exits;
    const reg = (e.reason === "mmio-read" || e.reason === "mmio-write") ? (e.address - LAPIC_BASE).toString(16) : "";
    // an APIC-access exit (44) also shows its qualification: offset 11:0, access type 15:12
    const why = g.v.exitReason === A.VMX_EXIT_APIC_ACCESS ? `${A.VMX_EXIT_APIC_ACCESS}/${g.v.qualification.toString(16)}` : `${g.v.exitReason}`;
    if (e.reason === "mmio-read") { exits.push(`r${reg}:${why}`); g.m.completeIo(apic.read(e.address - LAPIC_BASE, 4)); continue; }
    if (e.reason === "mmio-write") { exits.push(`w${reg}:${why}`); apic.write(e.address - LAPIC_BASE, 4, e.value); continue; }
    throw new Error(`unexpected exit ${JSON.stringify(e)}`);
  }
  throw new Error("no HLT");
}

describe("virtualize APIC accesses (PROC2_VIRT_APIC)", () => {
  it("off: every APIC access is an EPT-violation exit (reason 48) answered by the host model", () => {
    const { g, apic } = setup(CODE, false);
    const exits = drive(g, apic);
    const V = A.VMX_EXIT_EPT_VIOLATION;
    expect(exits).toEqual([`r20:${V}`, `r80:${V}`, `ra0:${V}`, `wb0:${V}`, `ra0:${V}`]);
    expect([g.m.eax, g.m.ebx, g.m.ecx, g.m.edx]).toEqual([0x05000000, 0x20, 0x40, 0x20]);
    expect(apic.isr[VEC >> 5]).toBe(0); // the host model's EOI
    expect(g.v.counters.exits).toBe(5);
    expect(apic.stats.inCpuReads).toBe(0);
  });
  it("on: the same reads and the EOI are done in the CPU, no exit, the same values and the same APIC state", () => {
    const { g, apic } = setup(CODE, true);
    expect(drive(g, apic)).toEqual([]);
    expect([g.m.eax, g.m.ebx, g.m.ecx, g.m.edx]).toEqual([0x05000000, 0x20, 0x40, 0x20]);
    expect(apic.isr[VEC >> 5]).toBe(0); // the EOI retired the vector
    expect(g.v.counters.exits).toBe(0);
    expect(apic.stats).toMatchObject({ inCpuReads: 4, inCpuEois: 1 });
  });
  it("on, but the APIC-access page elsewhere: the APIC's accesses exit (the VMCS's address decides, not the APIC's)", () => {
    const { g, apic } = setup(CODE, true, 0xfec00000);
    const V = A.VMX_EXIT_EPT_VIOLATION; // (not APIC-access exits: the page is not the APIC-access page)
    expect(drive(g, apic)).toEqual([`r20:${V}`, `r80:${V}`, `ra0:${V}`, `wb0:${V}`, `ra0:${V}`]);
    expect(apic.stats.inCpuReads).toBe(0);
  });
  it("on: what the in-CPU APIC cannot answer is an APIC-access exit (44: offset, access type), handled as without the control (ICR write, partial read)", () => {
    // mov dword [fee00300], 0x000c4500 (ICR: INIT IPI to all-but-self) ; mov al, [fee00020] (byte read) ; mov ebx, [fee00020] ; hlt
    const code = [0xc7, 0x05, ...le32(LAPIC_BASE + R.ICR_LO), ...le32(0x000c4500), 0xa0, ...le32(LAPIC_BASE + R.ID),
      0x8b, 0x1d, ...le32(LAPIC_BASE + R.ID), HLT];
    const out = [true, false].map((virt) => {
      const { g, apic } = setup(code, virt);
      return { exits: drive(g, apic), regs: [g.m.eax & 0xff, g.m.ebx] };
    });
    const V = A.VMX_EXIT_EPT_VIOLATION, X = A.VMX_EXIT_APIC_ACCESS; // SDM table 27-6: bits 11:0 the offset, 15:12 the type
    expect(out[0]).toEqual({ exits: [`w300:${X}/${(A.QAPIC_WRITE | 0x300).toString(16)}`, `r20:${X}/${(A.QAPIC_READ | 0x20).toString(16)}`], regs: [0, 0x05000000] });
    expect(out[1].exits).toEqual([`w300:${V}`, `r20:${V}`, `r20:${V}`]);
    expect(out[1].regs).toEqual(out[0].regs);
  });
  it("outside guest mode the control is ignored: the in-CPU APIC answers at its own page (OFF_APIC_PAGE)", () => {
    const { g, apic } = setup(CODE, false);
    g.root();
    expect(drive(g, apic)).toEqual([]);
    expect(g.m.eax).toBe(0x05000000);
  });
});

// xv6 reads the APIC ID in every lock operation (mycpu): with the control, those never leave guest mode.
describe.skipIf(!XV6)("hw mode sets the control when the platform has a local APIC", () => {
  for (const npt of [true, false]) {
    it(`xv6 boots to its shell: the APIC's hot registers answered in the CPU, no VM exit for them (npt ${npt ? "on" : "off"})`, () => {
      // (apicv: false: this is the in-CPU APIC's path; APIC-register virtualization, the default, is hw-apicv.test.ts's)
      const vm = new Vm({ mode: "hw", npt, apicv: false, memSize: 512 << 20, disk2: new Uint8Array(readFileSync(join(XV6!, "fs.img"))) });
      vm.loadMultiboot(new Uint8Array(readFileSync(join(XV6!, "kernel.elf"))));
      const r = vm.run({ maxInstructions: 20_000_000 });
      expect(r.stopReason, r.message).toBe("max-instructions");
      expect(vm.console).toContain("$ ");
      const hw = (vm.mode as any).stats();
      const lapic = (vm.stats.toJSON() as any).devices.lapic;
      expect(lapic.inCpuReads).toBeGreaterThan(10_000);
      const deviceExits = (hw.exitsByReason["apic-access"] ?? 0) + (npt ? hw.exitsByReason["ept-violation"] ?? 0 : hw.shadowPaging.mmioExits);
      expect(hw.exitsByReason["apic-access"]).toBeGreaterThan(0); // the APIC writes the CPU does not virtualize (reason 44)
      expect(deviceExits).toBeLessThan(lapic.inCpuReads / 20); // without the control: more than inCpuReads
    }, 300_000);
  }
});
