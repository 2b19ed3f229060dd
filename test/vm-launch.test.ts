// vm-launch.test.ts — a whole Vm launches without backing all of guest RAM (issue 13, branch vm-launch): the modes
// share the STATE block through Machine.stateView instead of Machine.memory, and every holder of a view of it (the
// local APIC's registers, the string-I/O buffer, hw mode's VMCS) follows the memory when the CPU or the host backs
// more RAM (a grown wasm memory detaches every old view).
import { describe, it, expect } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { Vm, EXIT_STATUS } from "../host/vm.ts";
import * as A from "../host/abi.generated.ts";

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
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

describe.skipIf(!HAVE_CPU)("a Vm launches with RAM backed on first touch", () => {
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
    const lapic = vm.platform.devices!.lapic!;
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
    const lapic = vm.platform.devices!.lapic!;
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
});
