// hw-apicv.test.ts — APIC-register virtualization (PROC2_APIC_REG_VIRT, SDM Vol. 3C 30.4; assembly/apicv.ts,
// host/hw/apicv.ts): with "virtualize APIC accesses" and "use TPR shadow", guest reads of the SDM's listed registers
// in the APIC-access page come from the virtual-APIC page with no VM exit; TPR writes go to VTPR; everything else is
// an APIC-access exit (reason 44) with its qualification. Each control on and off on a bare guest-mode Machine (raw
// bytes with their disassembly, made-up VMCS settings), the in-CPU APIC's current count and EOI beside it, then hw
// mode end to end on xv6 (exits and reads served, console identical to native).
import { describe, it, expect } from "vitest";
import { vapicGuest, as, A, APIC_PAGE as APIC, VAPIC_PAGE as VAPIC, type VapicOpt } from "./hw-guest.ts";
import { LocalApic, LAPIC_BASE } from "../host/devices/lapic.ts";
import { XV6, xv6Session } from "./xv6-session.ts";
import { existsSync, readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { runImage } from "../host/vm.ts";

const HLT = 0xf4;
const le = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const at = (off: number) => le(APIC + off);

// a made-up virtual-APIC page: each register holds a value that names it
const REGS: Record<number, number> = { 0x20: 0x07000000, 0x30: 0x00050014, 0x80: 0x20, 0xd0: 0x01000000, 0xe0: 0xffffffff, 0xf0: 0x1ff,
  0x120: 0x00000002, 0x200: 0x80000000, 0x280: 0x40, 0x300: 0x000c4500, 0x310: 0x03000000, 0x320: 0x00020030, 0x380: 0x00989680, 0x3e0: 0xb };
/** APIC-register virtualization on unless `regVirt: false` */
const setup = (code: number[], o: VapicOpt = {}) => vapicGuest(code, REGS, { ...o, regVirt: o.regVirt !== false });
const reads = (g: ReturnType<typeof setup>) => g.v.get(A.OFF_VMX_APICV_READS);

// mov eax, [fee00020] (ID) ; mov ebx, [fee00120] (ISR 1) ; mov cl, [fee00023] (ID byte 3) ;
// mov dx, [fee00382] (initial count, bytes 2-3) ; mov esi, [fee003e0] (divide) ; mov edi, [fee00200] (IRR 0) ; hlt
const READS = [
  0xa1, ...at(0x20), 0x8b, 0x1d, ...at(0x120), 0x8a, 0x0d, ...at(0x23), 0x66, 0x8b, 0x15, ...at(0x382),
  0x8b, 0x35, ...at(0x3e0), 0x8b, 0x3d, ...at(0x200), HLT,
];

describe("reads of the listed registers", () => {
  it("on: from the virtual-APIC page (1, 2 and 4 bytes), no VM exit", () => {
    const g = setup(READS);
    expect(g.m.run().reason).toBe("hlt");
    expect([g.m.eax, g.m.ebx, g.m.ecx & 0xff, g.m.edx & 0xffff, g.m.esi, g.m.edi >>> 0]).toEqual([0x07000000, 2, 0x07, 0x0098, 0xb, 0x80000000]);
    expect([g.v.counters.exits, reads(g)]).toEqual([0, 6]);
  });
  it("off (PROC2_APIC_REG_VIRT clear): each read is an APIC-access exit (reason 44, offset + read), the page unread", () => {
    const g = setup(READS, { regVirt: false });
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      const e = g.m.run();
      if (e.reason === "hlt") break;
      as(e, "mmio-read");
      expect(g.v.exitReason).toBe(A.VMX_EXIT_APIC_ACCESS);
      seen.push(g.v.qualification);
      g.m.completeIo(0x11111111);
    }
    expect(seen).toEqual([0x20, 0x120, 0x23, 0x382, 0x3e0, 0x200].map((o) => o | A.QAPIC_READ));
    expect([g.m.eax, g.m.ebx, reads(g), g.v.counters.exits]).toEqual([0x11111111, 0x11111111, 0, 6]);
  });
  it("the TPR shadow off: the control acts as off (VM entry requires both)", () => {
    const g = setup([0xa1, ...at(0x20), HLT], { shadow: false });
    as(g.m.run(), "mmio-read");
    expect([g.v.exitReason, g.v.qualification, reads(g)]).toEqual([A.VMX_EXIT_APIC_ACCESS, 0x20, 0]);
  });
  it("virtualize APIC accesses off: no APIC-access page at all (an EPT-violation device access)", () => {
    const g = setup([0xa1, ...at(0x20), HLT], { virt: false });
    as(g.m.run(), "mmio-read");
    expect([g.v.exitReason, reads(g)]).toEqual([A.VMX_EXIT_EPT_VIOLATION, 0]);
  });
  it("a virtual-APIC page outside host RAM: the control acts as off", () => {
    const g = setup([0xa1, ...at(0x20), HLT], { page: 0xfff00000 });
    as(g.m.run(), "mmio-read");
    expect([g.v.exitReason, reads(g)]).toEqual([A.VMX_EXIT_APIC_ACCESS, 0]);
  });
  // mov eax, [fee000a0] (PPR) — mov eax, [fee00090] (APR) — mov eax, [fee00390] (current count) —
  // mov eax, [fee00022] (crosses ID's 4 bytes) — mov eax, [fee002f0] (LVT CMCI: none in our APIC) — mov eax, [fee00024]
  for (const off of [0xa0, 0x90, 0x390, 0x22, 0x2f0, 0x24, 0x3f0]) {
    it(`unlisted: a 4-byte read at ${off.toString(16)}H exits (reason 44)`, () => {
      const g = setup([0xa1, ...at(off), HLT]);
      as(g.m.run(), "mmio-read");
      expect([g.v.exitReason, g.v.qualification, reads(g)]).toEqual([A.VMX_EXIT_APIC_ACCESS, off | A.QAPIC_READ, 0]);
    });
  }
});

describe("writes", () => {
  it("TPR: a byte write to 080H goes to VTPR (bytes 081H-083H cleared), no exit; a dword read sees it", () => {
    // mov byte [fee00080], 0x40 ; mov eax, [fee00080] ; hlt
    const g = setup([0xc6, 0x05, ...at(0x80), 0x40, 0xa1, ...at(0x80), HLT]);
    g.m.write32(VAPIC + 0x80, 0xaabbcc20);
    expect(g.m.run().reason).toBe("hlt");
    expect([g.m.eax, g.m.read32(VAPIC + 0x80), g.v.counters.exits]).toEqual([0x40, 0x40, 0]);
  });
  it("TPR below the threshold: the trap-like reason-43 exit after the write", () => {
    const g = setup([0xc6, 0x05, ...at(0x80), 0x10, HLT], { threshold: 3 }); // mov byte [fee00080], 0x10 ; hlt
    g.m.write32(VAPIC + 0x80, 0x50);
    const e = as(g.m.run(), "vmexit");
    expect([e.vmxReason, g.m.eip >>> 0, g.m.read32(VAPIC + 0x80)]).toEqual([A.VMX_EXIT_TPR_BELOW_THRESHOLD, 0x1000 + 7, 0x10]);
  });
  for (const [name, off] of [["ID", 0x20], ["EOI (no virtual-interrupt delivery)", 0xb0], ["SVR", 0xf0], ["ICR low", 0x300], ["LVT timer", 0x320]] as const) {
    it(`${name}: a write exits (reason 44, offset + write) and leaves the page alone`, () => {
      const g = setup([0xc7, 0x05, ...at(off), ...le(0x55), HLT]); // mov dword [fee00xxx], 0x55 ; hlt
      const before = g.m.read32(VAPIC + off);
      const w = as(g.m.run(), "mmio-write");
      expect([w.address >>> 0, w.value, g.v.exitReason, g.v.qualification]).toEqual([APIC + off, 0x55, A.VMX_EXIT_APIC_ACCESS, off | A.QAPIC_WRITE]);
      expect(g.m.read32(VAPIC + off)).toBe(before);
    });
  }
});

describe("beside the in-CPU APIC (the host model shared in AREA_APIC)", () => {
  const BUS = 10;
  function shared(code: number[]) {
    const g = setup(code);
    const apic = new LocalApic({});
    apic.shareWith(new Uint32Array(g.m.memory.buffer, A.STATE_BASE + A.AREA_APIC, A.AREA_APIC_SIZE / 4), LAPIC_BASE, BUS);
    apic.write(0xf0, 4, 0x1ff); // SVR: enabled
    return { g, apic };
  }
  it("the timer's current count: answered from the model (exact), not from the page, no exit", () => {
    // nop ; nop ; mov eax, [fee00390] ; hlt
    const { g, apic } = shared([0x90, 0x90, 0xa1, ...at(0x390), HLT]);
    g.m.write32(VAPIC + 0x390, 0x12345678); // (not the register: 390H is not in the SDM's list)
    apic.write(0x3e0, 4, 0xb); // divide by 1
    apic.write(0x380, 4, 1_000_000);
    expect(g.m.run().reason).toBe("hlt");
    expect(g.m.eax).toBe(1_000_000 - 2 * BUS); // two instructions retired before the read: 20 bus ticks
    expect(g.v.counters.exits).toBe(0);
  });
  it("EOI of an edge vector: done in the CPU (ISR cleared in the model and the page) when VTPR = the model's TPR; exits otherwise", () => {
    // mov dword [fee000b0], 0 ; mov eax, [fee00120] (ISR 1, from the page) ; hlt
    const code = [0xc7, 0x05, ...at(0xb0), ...le(0), 0xa1, ...at(0x120), HLT];
    for (const vtpr of [0x20, 0x30]) {
      const { g, apic } = shared(code);
      apic.write(0x80, 4, 0x20);
      apic.isr[1] |= 2; // vector 0x21 in service
      g.m.write32(VAPIC + 0x80, vtpr);
      g.m.write32(VAPIC + 0x120, 2);
      const e = g.m.run();
      if (vtpr === 0x20) {
        expect(e.reason).toBe("hlt");
        expect([g.m.eax, apic.isr[1], g.m.read32(VAPIC + 0x120), g.v.counters.exits]).toEqual([0, 0, 0, 0]);
      } else {
        as(e, "mmio-write");
        expect([g.v.exitReason, g.v.qualification, apic.isr[1]]).toEqual([A.VMX_EXIT_APIC_ACCESS, 0xb0 | A.QAPIC_WRITE, 2]);
      }
    }
  });
});

describe("an xv6-like loop of APIC reads (mycpu(): the ID, with interrupts off)", () => {
  // loop: mov eax, [fee00020] ; shr eax, 24 ; dec ecx ; jnz loop ; hlt
  const LOOP = [0xa1, ...at(0x20), 0xc1, 0xe8, 0x18, 0x49, 0x75, 0xf5, HLT];
  function count(regVirt: boolean): { exits: number; eax: number } {
    const g = setup(LOOP, { regVirt });
    g.m.ecx = 1000;
    let exits = 0;
    for (;;) {
      const e = g.m.run();
      if (e.reason === "hlt") return { exits, eax: g.m.eax };
      as(e, "mmio-read");
      exits++;
      g.m.completeIo(0x07000000);
    }
  }
  it("1,000 ID reads: no VM exit with APIC-register virtualization, 1,000 without; the same ID", () => {
    expect(count(true)).toEqual({ exits: 0, eax: 7 });
    expect(count(false)).toEqual({ exits: 1000, eax: 7 });
  });
});

describe.skipIf(!XV6)("hw mode end to end (xv6 boot + ls)", () => {
  let native: ReturnType<typeof xv6Session> | undefined;
  for (const npt of [true, false]) it(`the APIC's reads come from the virtual-APIC page; the console is native's; apicv: false restores the old path (npt ${npt ? "on" : "off"})`, () => {
    native ??= xv6Session({ mode: "native" }, ["ls"]);
    const hw = xv6Session({ mode: "hw", npt }, ["ls"]);
    const off = xv6Session({ mode: "hw", npt, apicv: false }, ["ls"]);
    const st = (s: typeof hw) => (s.vm.mode as unknown as { stats(): { apicv: { pageReads: number } | null; exitsByReason: Record<string, number> } }).stats();
    expect(hw.console).toBe(native.console);
    expect(off.console).toBe(native.console);
    const insns = (s: typeof hw) => s.instructions + (s.vm.mode as unknown as { emulatedInstructions: number }).emulatedInstructions;
    expect(insns(hw)).toBe(native.instructions); // (the instructions hw mode emulated at exits count as the guest's)
    expect(insns(off)).toBe(native.instructions);
    expect(st(hw).apicv!.pageReads).toBeGreaterThan(100_000);
    expect(st(hw).exitsByReason["apic-access"]).toBeLessThan(40);
    expect(st(off).apicv).toBeNull();
  }, 300_000);
});

// guests/apic: the SMP platform's system test (APIC ID/version/LVT/TPR/PPR/ISR/IRR, the timer's counts, IPIs, EOIs)
const APIC_GUEST = join(dirname(fileURLToPath(import.meta.url)), "../build/guests/apic");
describe.skipIf(!existsSync(join(APIC_GUEST, "apic.elf")))("the APIC system-test guest (guests/apic)", () => {
  it("hw mode with APIC-register virtualization and without: native's console and status, the same instructions", async () => {
    const run = (o: object) => runImage({
      image: new Uint8Array(readFileSync(join(APIC_GUEST, "apic.elf"))), disk2: new Uint8Array(readFileSync(join(APIC_GUEST, "disk.img"))),
      memSize: 64 << 20, maxInstructions: 100_000_000, ...o,
    });
    const native = await run({});
    const insns: number[] = [];
    for (const apicv of [true, false]) {
      const hw = await run({ mode: "hw", apicv });
      expect(hw.console.split("\n"), `apicv ${apicv}: ${hw.message}`).toEqual(native.console.split("\n"));
      expect(hw.exitStatus).toBe(native.exitStatus);
      insns.push(hw.stats.instructions);
    }
    expect(insns[0]).toBe(insns[1]); // (hw mode's emulated CPUIDs are not in this count: compared hw to hw)
    expect(native.exitStatus).toBe(1); // (all its checks passed)
  }, 120_000);
});
