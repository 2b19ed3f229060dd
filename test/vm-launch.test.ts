// vm-launch.test.ts — a whole Vm launches without backing all of guest RAM (issue 13, branch vm-launch): the modes
// share the STATE block through Machine.stateView instead of Machine.memory, and every holder of a view of it (the
// local APIC's registers, the string-I/O buffer, hw mode's VMCS) follows the memory when the CPU or the host backs
// more RAM (a grown wasm memory detaches every old view).
import { describe, it, expect, beforeEach } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { Vm, EXIT_STATUS } from "../host/vm.ts";
import * as A from "../host/abi.generated.ts";
import { drainMachinePool } from "../host/cpu-instances.ts";
import type { LocalApic } from "../host/devices/lapic.ts";

const HAVE_CPU = existsSync(new URL("../build/cpu.wasm", import.meta.url));
const ECHO = new URL("../build/guests/echo/echo.elf", import.meta.url);
const MiB = 1 << 20;

/** flat 32-bit code at 0x1000 in a fresh native Vm (platform "mp": the local APIC lives in the CPU's STATE block) */
function nativeVm(code: number[], memSize = 64 * MiB): Vm {
  const vm = new Vm({ mode: "native", memSize });
  const m = vm.machine;
  m.setFlatProtectedMode();
  m.writeMem(0x1000, code);
  m.eip = 0x1000;
  m.esp = 0x8000;
  return vm;
}
/** the platform's local APIC model (the pc platform builder returns its devices; Platform does not type them) */
const apicOf = (vm: Vm) => (vm.platform as unknown as { devices: { lapic: LocalApic } }).devices.lapic;
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

describe.skipIf(!HAVE_CPU)("a Vm launches with RAM backed on first touch", () => {
  beforeEach(() => { drainMachinePool(); }); // fresh memories (a recycled one keeps what its last machine backed)
  it.skipIf(!existsSync(ECHO))("native and hw: new Vm + load + the first instruction back a few MiB, not all of RAM", () => {
    const img = readFileSync(ECHO);
    for (const mode of ["native", "hw"]) {
      const vm = new Vm({ mode, memSize: 64 * MiB });
      vm.loadMultiboot(img);
      const r = vm.run({ maxInstructions: 1 });
      expect(r.stopReason).toBe("max-instructions");
      expect(vm.machine.ramBacked, mode).toBeGreaterThan(0);
      expect(vm.machine.ramBacked, mode).toBeLessThanOrEqual(32 * MiB);
      vm.release();
    }
  });

  it("the local APIC stays one copy with the CPU's after the guest backs more RAM", () => {
    // mov dword [0x03000000], 0x11223344   ; C7 05 00 00 00 03 44 33 22 11  (48 MiB: the memory grows)
    // mov dword [0xFEE00080], 0x20         ; C7 05 80 00 E0 FE 20 00 00 00  (TPR: answered in the CPU, no exit)
    // cli; hlt                             ; FA F4
    const vm = nativeVm([0xc7, 0x05, ...le32(0x03000000), ...le32(0x11223344), 0xc7, 0x05, ...le32(0xfee00080), ...le32(0x20), 0xfa, 0xf4]);
    const lapic = apicOf(vm);
    const backed0 = vm.machine.ramBacked;
    const r = vm.run({ maxInstructions: 100 });
    expect(r.exitStatus).toBe(EXIT_STATUS.HALTED);
    expect(backed0).toBeLessThan(48 * MiB);
    expect(vm.machine.ramBacked).toBeGreaterThan(48 * MiB);
    expect(vm.machine.read32(0x03000000)).toBe(0x11223344);
    // the device model sees what the CPU wrote, and the CPU what the model writes (one copy, the live memory)
    expect(lapic.tpr).toBe(0x20);
    lapic.tpr = 0x30;
    expect(vm.machine.stateView.getUint32(A.STATE_BASE + A.OFF_APIC_TPR, true)).toBe(0x30);
    vm.release();
  });

  it("a host access that backs more RAM (a loader, DMA) keeps the APIC shared too", () => {
    const vm = nativeVm([0xf4]);
    const lapic = apicOf(vm);
    vm.machine.writeMem(60 * MiB, [1, 2, 3]);
    lapic.tpr = 0x40;
    expect(vm.machine.stateView.getUint32(A.STATE_BASE + A.OFF_APIC_TPR, true)).toBe(0x40);
    vm.release();
  });

  it("REP OUTSB after the memory grew goes through the live I/O buffer", () => {
    // mov dword [0x02000000], 1            ; C7 05 00 00 00 02 01 00 00 00  (32 MiB: the memory grows)
    // mov esi, 0x1100                      ; BE 00 11 00 00
    // mov ecx, 3                           ; B9 03 00 00 00
    // mov dx, 0xe9                         ; 66 BA E9 00
    // rep outsb                            ; F3 6E      (debugcon: one exit with a batch of 3 bytes)
    // cli; hlt                             ; FA F4
    const vm = nativeVm([0xc7, 0x05, ...le32(0x02000000), ...le32(1), 0xbe, ...le32(0x1100), 0xb9, ...le32(3), 0x66, 0xba, 0xe9, 0x00, 0xf3, 0x6e, 0xfa, 0xf4]);
    vm.machine.writeMem(0x1100, [0x68, 0x69, 0x0a]); // "hi\n"
    const r = vm.run({ maxInstructions: 100 });
    expect(r.exitStatus).toBe(EXIT_STATUS.HALTED);
    expect(vm.machine.ramBacked).toBeGreaterThan(32 * MiB);
    expect(vm.console).toBe("hi\n");
    vm.release();
  });

  it("REP INSB into RAM past the backed part lands there, like RAM (the batch's target grows the memory)", () => {
    // BF 00 00 80 03    mov edi, 0x03800000   (56 MiB)
    // B9 10 00 00 00    mov ecx, 16
    // 66 BA 7A 00       mov dx, 0x7a          (no device: reads 0xff)
    // F3 6C             rep insb
    // FA F4             cli; hlt
    const vm = nativeVm([0xbf, ...le32(0x03800000), 0xb9, ...le32(16), 0x66, 0xba, 0x7a, 0x00, 0xf3, 0x6c, 0xfa, 0xf4]);
    expect(vm.machine.ramBacked).toBeLessThan(56 * MiB);
    const r = vm.run({ maxInstructions: 100 });
    expect(r.exitStatus).toBe(EXIT_STATUS.HALTED);
    expect([...vm.machine.readMem(0x03800000, 17)]).toEqual([...Array(16).fill(0xff), 0]);
    vm.release();
  });
});

describe.skipIf(!HAVE_CPU)("Vm.restore backs only the RAM the snapshot holds", () => {
  beforeEach(() => { drainMachinePool(); });
  // B9 05 00 00 00          mov ecx, 5
  // 88 C8                   mov al, cl          (0x1005: loop)
  // 04 30                   add al, '0'
  // E6 E9                   out 0xe9, al        (debugcon)
  // 89 0C 8D 00 00 00 03    mov [0x03000000 + ecx*4], ecx   (48 MiB: past what a fresh machine backs)
  // E2 F1                   loop 0x1005
  // FA F4                   cli; hlt
  const CODE = [0xb9, ...le32(5), 0x88, 0xc8, 0x04, 0x30, 0xe6, 0xe9, 0x89, 0x0c, 0x8d, ...le32(0x03000000), 0xe2, 0xf1, 0xfa, 0xf4];

  /** runs the original to `at` instructions, snapshots it, and checks the restored VM continues identically */
  function continues(at: number): Vm {
    const a = nativeVm(CODE);
    a.run({ maxInstructions: at });
    const snap = a.snapshot();
    const seen = a.console.length;
    const b = Vm.restore(snap);
    const ra = a.run({ maxInstructions: 1000 }), rb = b.run({ maxInstructions: 1000 });
    expect(rb).toEqual(ra);
    expect(ra.exitStatus).toBe(EXIT_STATUS.HALTED);
    expect(b.console).toBe(a.console.slice(seen));
    expect(b.machine.instructions).toBe(a.machine.instructions);
    for (let k = 0; k <= 6; k++) expect(b.machine.read32(0x03000000 + 4 * k), `word ${k}`).toBe(a.machine.read32(0x03000000 + 4 * k));
    expect(b.machine.readMem(0, 0x10000)).toEqual(a.machine.readMem(0, 0x10000));
    a.release();
    return b;
  }

  it("a snapshot of low RAM only: the restored VM backs a few MiB and continues identically", () => {
    const a = nativeVm(CODE);
    a.run({ maxInstructions: 1 });
    const b = Vm.restore(a.snapshot());
    expect(b.machine.ramBacked).toBeLessThan(8 * MiB);
    expect(b.machine.read32(0x03000000 + 20)).toBe(0); // past the backed part: zero, backed on this read
    b.release();
    a.release();
    continues(1).release();
  });

  it("data high in RAM (48 MiB) is restored and the run continues identically", () => {
    const b = continues(9); // after the first store to 0x03000014
    expect(b.machine.read32(0x03000014)).toBe(5);
    b.release();
  });

  it("a recycled machine whose last guest wrote where the snapshot has zeros reads zeros", () => {
    const a = nativeVm(CODE);
    a.run({ maxInstructions: 1 });
    const snap = a.snapshot();
    a.release();
    const dirty = new Vm({ mode: "native", memSize: 64 * MiB });
    dirty.machine.writeMem(40 * MiB, [0xaa, 0xbb, 0xcc, 0xdd]);
    dirty.release(); // its memory goes back to the pool, to the next VM of the same size
    const b = Vm.restore(snap);
    expect(b.machine.read32(40 * MiB)).toBe(0);
    expect(b.run({ maxInstructions: 1000 }).exitStatus).toBe(EXIT_STATUS.HALTED);
    expect(b.console).toBe("54321");
    b.release();
  });
});
