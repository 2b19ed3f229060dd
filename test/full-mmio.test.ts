// full-mmio.test.ts — guest mappings of guest-physical addresses outside guest RAM in full mode: device pages (the
// local and I/O APIC) and unbacked ones reach the same device models, or read as the same unassigned value, as in
// native mode; and none of them reaches machine RAM. Guest RAM sits at machine-physical 8 MiB, so guest-physical
// [RAM, RAM + 8 MiB) would alias machine RAM (guest RAM) if mapped as is, and the top 8 MiB would wrap into the
// VMM region (those are stepped through a window page past machine RAM): the guest writes through such mappings
// and the test checks guest RAM, the VMM's pages and every shadow entry afterwards. The guest (gcc -m32, built in the test) maps the pages at 0x40000000 with 4 KiB pages.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Vm } from "../host/vm.ts";
import { FullVm } from "../host/full/fullvm.ts";
import { VMM_SIZE, GDT_K, POOL_START } from "../host/full/monitor.ts";
import { fullInvariants } from "./fuzz/modes.ts";

let HAVE_GCC = false;
try { execFileSync("gcc", ["-m32", "-c", "-x", "assembler", "-", "-o", "/dev/null"], { input: "nop\n", stdio: ["pipe", "ignore", "ignore"] }); HAVE_GCC = true; } catch { /* skip */ }
const dir = mkdtempSync(join(tmpdir(), "wasmvisor-full-mmio-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RAM = 16 << 20;
const RESULTS = 0x300000;
/** the guest-physical pages mapped at 0x40000000 + 4 KiB·i */
const TARGETS = [
  RAM,                    // just past RAM: machine-physical RAM would be guest RAM at RAM - 8 MiB
  RAM + VMM_SIZE - 0x1000, // the last page that would alias machine RAM
  0xfee00000,             // local APIC
  0xfec00000,             // I/O APIC
  0x40000000,             // nothing
  0xffffffff - VMM_SIZE + 1 - 0x1000, // the last page whose machine address does not wrap
  // the top 8 MiB: at machine address + 8 MiB they would wrap onto the VMM's real GDT and the shadow pool
  (0xffffffff - VMM_SIZE + 1 + GDT_K) >>> 0,
  (0xffffffff - VMM_SIZE + 1 + POOL_START) >>> 0,
  0xfffff000,
];
/** the VMM pages the top targets would reach if mapped at their guest-physical address + 8 MiB (mod 4 GiB) */
const WRAPPED = [GDT_K, POOL_START];

const SRC = `
  .text
  .globl _start
  .align 4
  .long 0x1BADB002, 0, -0x1BADB002
_start:
  lgdt gdtr
  ljmp $0x08, $1f
1: mov $0x10, %ax
  mov %ax, %ds; mov %ax, %es; mov %ax, %ss
  mov $0x90000, %esp
  # page table 0: identity for the first 4 MiB; page table 1 (linear 0x40000000): the targets
  mov $0x201000, %edi; mov $3, %eax; mov $1024, %ecx
2: mov %eax, (%edi); add $4, %edi; add $0x1000, %eax; loop 2b
  movl $0x201003, 0x200000
  movl $0x202003, 0x200000 + 0x100 * 4
  mov $targets, %esi; mov $0x202000, %edi; mov $${TARGETS.length}, %ecx
3: lodsl; or $3, %eax; stosl; loop 3b
  movl $0xffffd003, 0x202000 + 200 * 4   # one more top page, first touched by a read (its PTE not dirty)
  mov $0x200000, %eax; mov %eax, %cr3
  mov %cr0, %eax; or $0x80000000, %eax; mov %eax, %cr0
  # each page: write 0x5a at +0x80 (APIC TPR) and read it back, read +0x30 (APIC version), write 1 at +0
  # (I/O APIC index: version) and read +0x10, a byte store and a 16-bit load; results at ${RESULTS}
  mov $0x40000000, %ebx; mov $${RESULTS}, %edi; mov $${TARGETS.length}, %ecx
4: movl $0x5a, 0x80(%ebx); mov 0x80(%ebx), %eax; stosl
  mov 0x30(%ebx), %eax; stosl
  movl $1, (%ebx); mov 0x10(%ebx), %eax; stosl
  movb $0xa5, 0x40(%ebx); movzwl 0x40(%ebx), %eax; stosl
  add $0x1000, %ebx; loop 4b
  # instructions the full-mode monitor emulates itself, on device pages: outsb from the APIC TPR to port 0xe9,
  # insb from port 0x71 (CMOS status A, index 0x0a) into the last unbacked page, read back
  mov $0x40002080, %esi; mov $0xe9, %dx; outsb
  mov $0x0a, %al; out %al, $0x70
  mov $0x40005100, %edi; mov $0x71, %dx; insb
  mov 0x40005100, %eax; mov %eax, ${RESULTS + 0x100}
  # movsl from the APIC TPR into an entry of the guest's page table 1 (write-protected in full mode: the monitor
  # single-steps it, and the step's MMIO read restarts it)
  mov $0x40002080, %esi; mov $0x202000 + 100 * 4, %edi; movsl
  mov 0x202000 + 100 * 4, %eax; mov %eax, ${RESULTS + 0x104}
  # movsb inside that top page: read, then write to the page (mapped read-only until the write sets D)
  mov $0x400c8040, %esi; mov $0x400c8050, %edi; movsb
  movzbl 0x400c8050, %eax; mov %eax, ${RESULTS + 0x108}
  mov 0x202000 + 200 * 4, %eax; mov %eax, ${RESULTS + 0x10c}
  mov $'\\n', %al; out %al, $0xe9
  mov $0, %al; out %al, $0xf4
5: cli; hlt; jmp 5b
  .data
  .align 8
gdt: .quad 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF
gdtr: .word 23
  .long gdt
targets: .long ${TARGETS.map((t) => "0x" + (t >>> 0).toString(16)).join(", ")}
`;

let image: Uint8Array;
beforeAll(() => {
  if (!HAVE_GCC) return;
  const src = join(dir, "mmio.S"), obj = join(dir, "mmio.o"), elf = join(dir, "mmio.elf");
  writeFileSync(src, SRC);
  execFileSync("gcc", ["-m32", "-c", "-nostdlib", "-fno-pic", src, "-o", obj]);
  execFileSync("ld", ["-m", "elf_i386", "-Ttext=0x100000", "-e", "_start", "--build-id=none", "-z", "noexecstack", "-o", elf, obj]);
  image = new Uint8Array(readFileSync(elf));
});

/** guest-physical RAM of either mode */
const ramOf = (vm: Vm | FullVm) => (vm instanceof FullVm ? vm.monitor.guestPhys : { read: (a: number, n: number) => vm.machine.readMem(a, n), write: (a: number, d: Uint8Array) => vm.machine.writeMem(a, d) });
const SENTINELS = [RAM - VMM_SIZE, RAM - 0x1000, RAM - VMM_SIZE + 0x80];

function run(mode: "native" | "full") {
  const vm = mode === "full" ? new FullVm({ memSize: RAM }) : new Vm({ memSize: RAM });
  vm.loadMultiboot(image);
  const ram = ramOf(vm);
  for (const a of SENTINELS) ram.write(a, new Uint8Array([0xc3, 0xc3, 0xc3, 0xc3]));
  const r = vm.run({ maxInstructions: 1_000_000 });
  const words = new Uint32Array(ram.read(RESULTS, TARGETS.length * 16).slice().buffer);
  return { vm, r, results: [...words], ins: new DataView(ram.read(RESULTS + 0x100, 4).slice().buffer).getUint32(0, true), movs: [...new Uint32Array(ram.read(RESULTS + 0x104, 12).slice().buffer)], sentinels: SENTINELS.map((a) => [...ram.read(a, 4)]) };
}

describe.skipIf(!HAVE_GCC)("full mode: guest mappings outside guest RAM are MMIO, as native", () => {
  it("device and unbacked pages give the guest what they give it natively; RAM, the VMM and the shadows are untouched", () => {
    const native = run("native"), full = run("full");
    expect(native.r.exitStatus, native.r.message).toBe(1);
    expect(full.r.exitStatus, full.r.message).toBe(1);
    expect(full.vm.console).toBe(native.vm.console);
    expect(native.vm.console).toBe("Z\n"); // the TPR, read by an emulated outsb in full mode
    expect(full.results).toEqual(native.results);
    expect(full.ins).toBe(native.ins);
    expect(native.movs).toEqual([0x5a, native.results[16] & 0xff, 0xffffd063]); // TPR; the unassigned byte; PTE with A, D
    expect(full.movs).toEqual(native.movs);
    // the local APIC page kept its TPR and reported its version; the I/O APIC its version; unbacked pages read
    // as the bus's unassigned value
    const at = (i: number) => native.results.slice(i * 4, i * 4 + 4);
    expect(at(2)[0]).toBe(0x5a);
    expect(at(3)[2] & 0xff).toBe(0x11); // I/O APIC version register
    for (const i of [0, 1, 4, 5, 6, 7, 8]) expect(at(i), `target ${i}`).toEqual(at(4));
    // nothing reached guest RAM (the machine-physical alias of the pages just past RAM) nor the VMM's tables
    expect(full.sentinels).toEqual(SENTINELS.map(() => [0xc3, 0xc3, 0xc3, 0xc3]));
    for (const p of WRAPPED) {
      const m = full.vm.machine;
      expect([m.read32(p + 0x80), m.read32(p), m.read8(p + 0x40)], `VMM page ${p.toString(16)}`).not.toContainEqual(0x5a);
      expect(m.read8(p + 0x40)).not.toBe(0xa5);
    }
    expect((full.vm as FullVm).fullStats().exitsByCause).toMatchObject({ "mmio window": expect.any(Number) });
    expect(fullInvariants(full.vm as FullVm)).toEqual([]);
    // the devices saw guest-physical addresses (the same per-range counters as native): the hidden page fault on
    // the movsl's destination is filled inside the CPU (abi.ts CTRL_FAST_PT), so its read of the TPR is not made
    // again (with the monitor's fill it is: the CPU keeps a restarted instruction's reads only until it faults;
    // the APICs' registers have no read side effects). Local APIC reads count wherever they were answered: on the bus
    // (an exit) or inside the CPU (assembly/apic.ts, in both modes: devices.lapic.inCpuReads).
    type Ranges = Record<string, { reads: number; writes: number }>;
    const ranges = (vm: Vm | FullVm) => {
      const d = vm.stats.devices?.() as { bus: { ranges: Ranges }; lapic?: { inCpuReads?: number } };
      const r = d.bus.ranges;
      return { ...r, lapic: { ...r.lapic, reads: r.lapic.reads + (d.lapic?.inCpuReads ?? 0) } };
    };
    const want = ranges(native.vm);
    expect(ranges(full.vm)).toEqual(want);
  });
});
