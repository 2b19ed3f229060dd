// tsc-modes.test.ts — the guest's TSC against the PIT, as Linux calibrates it (arch/x86/kernel/tsc.c
// pit_calibrate_tsc), in native, full and hw mode. The TSC counts every instruction of the guest's stream and the
// PIT runs on the virtual clock (host/core/vm.ts), so the measured rate must be the same in every mode: full mode's
// monitor emulates the polled `in al, 0x61` on an exit, and before the TSC adjustment (abi.ts AREA_TSC_ADJUST) its
// TSC skipped those instructions while the PIT saw them (Linux: "tsc: Detected 94.111 MHz" in full mode, 99.993 in
// native — a guest-visible difference between modes).
import { describe, it, expect } from "vitest";
import { buildElf } from "../host/elf.ts";
import { Vm } from "../host/vm.ts";

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** A multiboot kernel: the header, then `code` (entered at 0x10000c in flat ring-0 protected mode). */
function kernel(code: number[]): Uint8Array {
  const mb = [...le32(0x1badb002), ...le32(0), ...le32(-0x1badb002 >>> 0)];
  return buildElf({ entry: 0x10000c, segments: [{ paddr: 0x100000, data: [...mb, ...code] }] });
}

// PIT counter 2 counts 11932 input pulses (10 ms at 1.193182 MHz) in mode 0 with its gate on; the guest reads the
// TSC, polls OUT2 (port 0x61 bit 5) until it goes high, reads the TSC again and halts with the difference in EAX
// and the number of polls in ECX.
const CALIBRATE = kernel([
  0xe4, 0x61, //             in al, 0x61
  0x24, 0xfd, //             and al, 0xfd       (speaker off)
  0x0c, 0x01, //             or al, 1           (counter 2 gate on)
  0xe6, 0x61, //             out 0x61, al
  0xb0, 0xb0, //             mov al, 0xb0       (counter 2, lobyte/hibyte, mode 0, binary)
  0xe6, 0x43, //             out 0x43, al
  0xb0, 0x9c, //             mov al, 0x9c       (11932 = 0x2e9c)
  0xe6, 0x42, //             out 0x42, al
  0xb0, 0x2e, //             mov al, 0x2e
  0xe6, 0x42, //             out 0x42, al
  0x31, 0xc9, //             xor ecx, ecx
  0x0f, 0x31, //             rdtsc
  0x89, 0xc6, //             mov esi, eax
  0x41, //            poll:  inc ecx
  0xe4, 0x61, //             in al, 0x61
  0xa8, 0x20, //             test al, 0x20
  0x74, 0xf9, //             jz poll
  0x0f, 0x31, //             rdtsc
  0x29, 0xf0, //             sub eax, esi
  0xfa, //                   cli
  0xf4, //                   hlt
]);

function calibrate(mode: "native" | "full" | "hw") {
  const vm = new Vm({ mode, memSize: 16 << 20 });
  vm.loadMultiboot(CALIBRATE);
  const r = vm.run({ maxInstructions: 10_000_000 });
  expect(r.stopReason, r.message).toBe("halted");
  const tsc = vm.machine.eax >>> 0, polls = vm.machine.ecx >>> 0;
  vm.release();
  return { tsc, polls };
}

describe("TSC against the PIT (Linux's pit_calibrate_tsc)", () => {
  it("measures the same TSC rate in native, full and hw mode: 100 M per virtual second", () => {
    const native = calibrate("native");
    // 10 ms of the virtual clock at 100 M instruction-equivalents per second; each poll is 4 instructions
    expect(Math.abs(native.tsc - 1_000_000)).toBeLessThan(100);
    expect(Math.abs(native.polls * 4 - native.tsc)).toBeLessThan(8);
    for (const mode of ["full", "hw"] as const) {
      const r = calibrate(mode);
      expect(r, mode).toEqual(native);
    }
  });
});
