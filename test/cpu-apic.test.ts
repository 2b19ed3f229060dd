// cpu-apic.test.ts — the local APIC's hot registers answered inside the CPU (assembly/apic.ts) against the host
// model's registers in the shared area (host/devices/lapic.ts shareWith): the same values as the exits to the
// host model give, at the same instructions, with no exit; accesses with effects the CPU cannot reproduce
// exactly still exit.
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine } from "../host/machine.ts";
import { LocalApic, LAPIC_BASE, LAPIC_REG as R } from "../host/devices/lapic.ts";
import * as A from "../host/abi.generated.ts";
import { XV6 } from "./xv6-session.ts";

const haveCpu = existsSync(join(dirname(fileURLToPath(import.meta.url)), "../build/cpu.wasm"));
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const BUS_PER_INSN = 10;

function setup(code: number[], inCpu = true) {
  const m = new Machine({ memSize: 1 << 20, exitOnHlt: true });
  m.setFlatProtectedMode();
  m.esp = 0x8000;
  m.writeMem(0x1000, code);
  m.eip = 0x1000;
  const eois: number[] = [];
  const apic = new LocalApic({ onEoi: (v) => eois.push(v) });
  const area = new Uint32Array(m.memory.buffer, A.STATE_BASE + A.AREA_APIC, A.AREA_APIC_SIZE / 4);
  apic.shareWith(area, LAPIC_BASE, BUS_PER_INSN);
  if (!inCpu) area[(A.OFF_APIC_CTRL - A.AREA_APIC) >> 2] = 0; // every access exits, as before the CPU knew the APIC
  return { m, apic, eois };
}
/** The run loop of host/core/vm.ts in small: bus clock brought up to the instructions retired before every run(). */
function drive(m: Machine, apic: LocalApic) {
  const exits: string[] = [];
  let at = m.instructions;
  for (let i = 0; i < 100_000; i++) {
    const e = m.run(10_000);
    apic.advance((m.instructions - at) * BUS_PER_INSN);
    at = m.instructions;
    if (e.reason === "hlt") return exits;
    if (e.reason === "mmio-read") { exits.push(`r${(e.port! - LAPIC_BASE).toString(16)}`); m.completeIo(apic.read(e.port! - LAPIC_BASE, e.size as 4)); continue; }
    if (e.reason === "mmio-write") { exits.push(`w${(e.port! - LAPIC_BASE).toString(16)}`); apic.write(e.port! - LAPIC_BASE, e.size as 4, e.value!); continue; }
    if (e.reason === "budget") continue;
    throw new Error(`unexpected exit ${e.reason} at 0x${e.eip.toString(16)}`);
  }
  throw new Error("no HLT");
}
const movEaxApic = (reg: number) => [0xa1, ...le32(LAPIC_BASE + reg)]; // mov eax, [LAPIC_BASE + reg]
const movRegApic = (modrm: number, reg: number) => [0x8b, modrm, ...le32(LAPIC_BASE + reg)]; // mov r32, [disp32]

describe.skipIf(!haveCpu)("local APIC registers inside the CPU", () => {
  it("ID, version, SVR and PPR read in the CPU: host-model values, no exit", () => {
    const code = [...movEaxApic(R.ID), ...movRegApic(0x1d, R.VER), ...movRegApic(0x0d, R.SVR), ...movRegApic(0x15, R.PPR), 0xf4];
    for (const inCpu of [true, false]) {
      const { m, apic } = setup(code, inCpu);
      apic.write(R.ID, 4, 0x03000000);
      apic.write(R.TPR, 4, 0x20);
      const exits = drive(m, apic);
      expect([m.eax, m.ebx, m.ecx, m.edx]).toEqual([0x03000000, 0x00050014, 0x1ff, 0x20]);
      expect(exits).toEqual(inCpu ? [] : ["r20", "r30", "rf0", "ra0"]);
      expect(apic.stats.inCpuReads).toBe(inCpu ? 4 : 0);
    }
  });

  it("a hot loop of ID reads (xv6's mycpu) compiled by the JIT never exits", () => {
    // mov ecx, 1000 ; L: mov eax, [fee00020] ; dec ecx ; jnz L ; hlt
    const { m, apic } = setup([0xb9, ...le32(1000), ...movEaxApic(R.ID), 0x49, 0x75, 0xf8, 0xf4]);
    expect(drive(m, apic)).toEqual([]);
    expect(apic.stats.inCpuReads).toBe(1000);
  });

  it("the timer's current count is the host's at every instruction (periodic, divide by 2), interpreted and compiled", () => {
    // mov edi, 0x2000 ; mov ecx, 600 ; L: mov eax, [fee00390] ; stosd ; dec ecx ; jnz L ; hlt
    const code = [0xbf, ...le32(0x2000), 0xb9, ...le32(600), ...movEaxApic(R.TIMER_CCR), 0xab, 0x49, 0x75, 0xf7, 0xf4];
    const counts: number[][] = [];
    for (const inCpu of [true, false]) {
      const { m, apic } = setup(code, inCpu);
      apic.write(R.TIMER_DCR, 4, 0); // divide by 2
      apic.write(R.LVT_TIMER, 4, 0x30030); // periodic, vector 0x30, masked: it wraps within the loop unseen
      apic.write(R.TIMER_ICR, 4, 5000);
      const exits = drive(m, apic);
      expect(exits.length).toBe(inCpu ? 0 : 600);
      counts.push(Array.from({ length: 600 }, (_, i) => m.read32(0x2000 + 4 * i)));
    }
    expect(counts[0]).toEqual(counts[1]);
    // 4 instructions a pass at 10 bus ticks each, divided by 2: the count drops by 20 a pass and wraps at 0
    expect(counts[0][1] - counts[0][2]).toBe(20);
    expect(new Set(counts[0]).size).toBe(250); // 5000 / 20: it wrapped (periodic) twice
    expect(Math.max(...counts[0])).toBeLessThanOrEqual(5000);
  });

  it("EOI of an edge-triggered vector is done in the CPU; level-triggered and unmasking EOIs exit to the host", () => {
    const eoi = [0xc7, 0x05, ...le32(LAPIC_BASE + R.EOI), ...le32(0), 0xf4]; // mov dword [fee000b0], 0 ; hlt
    let s = setup(eoi);
    s.apic.accept(0x40, false);
    expect(s.apic.acknowledge()).toBe(0x40);
    expect(drive(s.m, s.apic)).toEqual([]);
    expect(s.apic.isr[2]).toBe(0);
    expect([s.apic.stats.eoi, s.apic.stats.inCpuEois]).toEqual([1, 1]);

    s = setup(eoi); // level-triggered: the I/O APIC must hear of it
    s.apic.accept(0x41, true);
    s.apic.acknowledge();
    expect(drive(s.m, s.apic)).toEqual(["wb0"]);
    expect(s.eois).toEqual([0x41]);

    s = setup(eoi); // 0x31 waits behind 0x52 in service: the EOI makes it deliverable, the host raises INTR
    s.apic.accept(0x52, false);
    s.apic.acknowledge();
    s.apic.accept(0x31, false);
    expect(drive(s.m, s.apic)).toEqual(["wb0"]);
    expect(s.apic.peek()).toBe(0x31);
    expect(s.apic.stats.inCpuEois).toBe(0);
  });

  it("writes with effects and reserved registers still exit", () => {
    // mov dword [fee00080], 0x10 (TPR) ; mov eax, [fee00040] (reserved) ; mov ax, [fee00020] (16-bit) ; hlt
    const { m, apic } = setup([0xc7, 0x05, ...le32(LAPIC_BASE + R.TPR), ...le32(0x10), ...movEaxApic(0x40), 0x66, ...movEaxApic(R.ID), 0xf4]);
    expect(drive(m, apic)).toEqual(["w80", "r40", "r20"]);
    expect(apic.tpr).toBe(0x10);
    expect(apic.errors.get("bad-register")).toBe(1);
  });

  it("one copy of the registers: a snapshot of the model restores into another machine's shared area", () => {
    const a = setup([0xf4]);
    a.apic.write(R.TPR, 4, 0x30);
    a.apic.write(R.TIMER_ICR, 4, 1234);
    a.apic.advance(77);
    a.apic.accept(0x45, false);
    const b = setup([...movEaxApic(R.TPR), ...movRegApic(0x1d, R.IRR + 0x20), ...movRegApic(0x0d, R.TIMER_ICR), 0xf4]);
    b.apic.restore(JSON.parse(JSON.stringify(a.apic.save())));
    expect(b.apic.now).toBe(77);
    expect(drive(b.m, b.apic)).toEqual([]);
    expect([b.m.eax, b.m.ebx, b.m.ecx]).toEqual([0x30, 1 << 5, 1234]);
  });
});

describe.skipIf(!haveCpu || !XV6)("xv6 on the APIC platform", () => {
  it("its APIC timer ticks at 100 Hz of virtual time (QEMU's 1 GHz APIC bus), its lock path never exits", async () => {
    const { readFileSync } = await import("node:fs");
    const { Vm } = await import("../host/vm.ts");
    const vm = new Vm({ memSize: 512 << 20, disk2: new Uint8Array(readFileSync(join(XV6!, "fs.img"))) });
    vm.loadMultiboot(new Uint8Array(readFileSync(join(XV6!, "kernel.elf"))));
    const lapic = (vm.platform as unknown as { devices: { lapic: LocalApic } }).devices.lapic;
    vm.run({ maxInstructions: 10_000_000 }); // past lapicinit
    const [f0, t0] = [lapic.stats.timerFired, vm.stats.virtualNs];
    vm.run({ maxInstructions: 30_000_000 });
    expect(vm.console).toContain("init: starting sh");
    const hz = (lapic.stats.timerFired - f0) / ((vm.stats.virtualNs - t0) / 1e9);
    expect(hz).toBeGreaterThan(95);
    expect(hz).toBeLessThan(105);
    expect(lapic.stats.inCpuReads).toBeGreaterThan(100_000); // mycpu() in every pushcli/popcli
    expect(vm.stats.mmioPages.get(0xfee00000)?.reads ?? 0).toBeLessThan(200);
  }, 120_000);
  it("with paging, the APIC page's translation is kept (no page walk per read) and dropped by INVLPG and CR3 loads", () => {
    // linear 0x400000 -> the APIC page (PDE 1 -> table at 0x12000, supervisor read/write); the first MiB identity
    const code = [
      0xb9, ...le32(100),                      // mov ecx, 100
      0xa1, ...le32(0x400000 + R.ID),          // L: mov eax, [0x400020]      (the APIC ID, in the CPU)
      0x49, 0x75, 0xf8,                        // dec ecx ; jnz L
      0xc7, 0x05, ...le32(0x12000), ...le32(0x3003), // mov dword [0x12000], 0x3003 (linear 0x400000 -> RAM 0x3000)
      0x0f, 0x01, 0x3d, ...le32(0x400000),     // invlpg [0x400000]
      0x8b, 0x1d, ...le32(0x400000 + R.ID),    // mov ebx, [0x400020]          (RAM now: 0xcafebabe)
      0xc7, 0x05, ...le32(0x12000), ...le32(0xfee00003), // mov dword [0x12000], 0xfee00003 (the APIC again)
      0x8b, 0x15, ...le32(0x400000 + R.ID),    // mov edx, [0x400020]          (stale RAM entry: no INVLPG yet)
      0x0f, 0x20, 0xdf,                        // mov edi, cr3
      0x0f, 0x22, 0xdf,                        // mov cr3, edi                 (flushes the TLB)
      0x8b, 0x35, ...le32(0x400000 + R.ID),    // mov esi, [0x400020]          (the APIC ID again)
      0xf4,                                    // hlt
    ];
    for (const jitThreshold of [0, 1]) {
      const m = new Machine({ memSize: 1 << 20, exitOnHlt: true, jitThreshold });
      m.setFlatProtectedMode();
      m.esp = 0x8000;
      m.writeMem(0x1000, code);
      m.eip = 0x1000;
      m.writeMem(0x3000 + R.ID, le32(0xcafebabe));
      m.writeMem(0x10000, [...le32(0x11003), ...le32(0x12003)]); // PDE 0, PDE 1
      for (let i = 0; i < 256; i++) m.writeMem(0x11000 + 4 * i, le32((i << 12) | 3));
      m.writeMem(0x12000, le32(0xfee00003));
      const apic = new LocalApic({});
      apic.shareWith(new Uint32Array(m.memory.buffer, A.STATE_BASE + A.AREA_APIC, A.AREA_APIC_SIZE / 4), LAPIC_BASE, BUS_PER_INSN);
      apic.write(R.ID, 4, 0x05000000);
      m.setCr("cr3", 0x10000);
      m.setCr("cr0", m.getCr("cr0") | 0x80000001);
      const misses = () => new DataView(m.memory.buffer).getUint32(A.STATE_BASE + A.OFF_TLB_MISSES, true);
      const m0 = misses();
      expect(drive(m, apic)).toEqual([]);
      expect([m.eax, m.ebx, m.edx, m.esi].map((v) => v >>> 0)).toEqual([0x05000000, 0xcafebabe, 0xcafebabe, 0x05000000]);
      expect(apic.stats.inCpuReads).toBe(101);
      // 100 reads of the APIC in the loop walk the page tables once (each took a walk before)
      expect(misses() - m0).toBeLessThan(20);
    }
  });
});
