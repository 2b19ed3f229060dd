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

// The TSC through HLT: the guest loads a flat GDT and an IDT with IRQ 0's gate, arms PIT counter 0 for 10 ms (11932 pulses, mode 0: IRQ 0 at terminal count),
// reads the TSC, halts with interrupts enabled and, woken by the interrupt, reads it again by RDMSR 0x10 and by
// RDTSC. The run loop skips the halted time forward for the devices (host/core/vm.ts idle); the TSC must move with
// it, as a real TSC keeps counting through HLT (before: the TSC saw a few instructions while the PIT saw 10 ms, so
// Linux's TSC clocksource barely moved while its timers flew). EAX = RDTSC delta, EBX = RDMSR 0x10 delta.
const HALT_FOR_PIT = kernel([
  0x0f, 0x01, 0x15, 0x99, 0x00, 0x10, 0x00,   // lgdtd 0x100099
  0xea, 0x1a, 0x00, 0x10, 0x00, 0x08, 0x00,   // jmp 0x8:0x10001a
  0xb8, 0x10, 0x00, 0x00, 0x00,               // mov eax,0x10
  0x8e, 0xd8,                                 // mov ds,eax
  0x8e, 0xc0,                                 // mov es,eax
  0x8e, 0xd0,                                 // mov ss,eax
  0xbc, 0x00, 0x00, 0x19, 0x00,               // mov esp,0x190000
  0xb0, 0x11,                                 // mov al,0x11  (PIC ICW1)
  0xe6, 0x20,                                 // out 0x20,al
  0xb0, 0x20,                                 // mov al,0x20  (ICW2: IRQ 0 = vector 0x20)
  0xe6, 0x21,                                 // out 0x21,al
  0xb0, 0x04,                                 // mov al,0x4  (ICW3)
  0xe6, 0x21,                                 // out 0x21,al
  0xb0, 0x01,                                 // mov al,0x1  (ICW4)
  0xe6, 0x21,                                 // out 0x21,al
  0xb0, 0xfe,                                 // mov al,0xfe  (mask all but IRQ 0)
  0xe6, 0x21,                                 // out 0x21,al
  0xbf, 0x00, 0x11, 0x10, 0x00,               // mov edi,0x101100  IDT entry 0x20 (IDT at 0x101000)
  0xb8, 0x8c, 0x00, 0x10, 0x00,               // mov eax,0x10008c  handler
  0x66, 0x89, 0x07,                           // mov word [edi],ax
  0xc1, 0xe8, 0x10,                           // shr eax,0x10
  0x66, 0x89, 0x47, 0x06,                     // mov word [edi+0x6],ax
  0xb8, 0x08, 0x00, 0x00, 0x8e,               // mov eax,0x8e000008  selector 8, present DPL 0 32-bit interrupt gate
  0x66, 0x89, 0x47, 0x02,                     // mov word [edi+0x2],ax
  0xc1, 0xe8, 0x10,                           // shr eax,0x10
  0x66, 0x89, 0x47, 0x04,                     // mov word [edi+0x4],ax
  0x0f, 0x01, 0x1d, 0x93, 0x00, 0x10, 0x00,   // lidtd 0x100093
  0xb0, 0x30,                                 // mov al,0x30  (counter 0, lobyte/hibyte, mode 0: IRQ 0 at terminal count)
  0xe6, 0x43,                                 // out 0x43,al
  0xb0, 0x9c,                                 // mov al,0x9c  (11932 = 0x2e9c pulses: 10 ms)
  0xe6, 0x40,                                 // out 0x40,al
  0xb0, 0x2e,                                 // mov al,0x2e
  0xe6, 0x40,                                 // out 0x40,al
  0x0f, 0x31,                                 // rdtsc
  0x89, 0xc6,                                 // mov esi,eax
  0xfb,                                       // sti
  0xf4,                                       // hlt  until IRQ 0
  0xfa,                                       // cli
  0xb9, 0x10, 0x00, 0x00, 0x00,               // mov ecx,0x10
  0x0f, 0x32,                                 // rdmsr  IA32_TIME_STAMP_COUNTER
  0x29, 0xf0,                                 // sub eax,esi
  0x89, 0xc3,                                 // mov ebx,eax
  0x0f, 0x31,                                 // rdtsc
  0x29, 0xf0,                                 // sub eax,esi
  0xf4,                                       // hlt  IF=0: the end
  0x50,                                       // push eax  handler:
  0xb0, 0x20,                                 // mov al,0x20
  0xe6, 0x20,                                 // out 0x20,al  (EOI)
  0x58,                                       // pop eax
  0xcf,                                       // iret
  0xff, 0x07, 0x00, 0x10, 0x10, 0x00,         // idtr: limit 0x7ff, base 0x101000
  0x17, 0x00, 0x9f, 0x00, 0x10, 0x00,         // gdtr: limit 0x17, base 0x100093
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // gdt: null
  0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xcf, 0x00, //      0x08 flat 4 GiB code
  0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0xcf, 0x00, //      0x10 flat 4 GiB data
]);

type TscMode = "native" | "full" | "hw";
function haltForPit(mode: TscMode, snapshotAt?: number) {
  let vm = new Vm({ mode, memSize: 16 << 20 });
  vm.loadMultiboot(HALT_FOR_PIT);
  if (snapshotAt !== undefined) {
    // stop after the halt, snapshot, and go on in a VM restored from it: the idle time must come along
    expect(vm.run({ stopAt: snapshotAt }).stopReason).toBe("snapshot");
    const snap = vm.snapshot();
    vm.release();
    vm = Vm.restore(snap);
  }
  const r = vm.run({ maxInstructions: 1_000_000 });
  expect(r.stopReason, r.message).toBe("halted");
  const out = { rdtsc: vm.machine.eax >>> 0, rdmsr: vm.machine.ebx >>> 0, haltedNs: vm.stats.haltedNs, instructions: vm.machine.instructions };
  vm.release();
  return out;
}

describe("the TSC keeps counting while the guest halts", () => {
  it("advances by the virtual time skipped in HLT, identically in native, full and hw mode", () => {
    const native = haltForPit("native");
    // 10 ms of virtual time at 100 M instruction-equivalents per second, almost all of it halted
    expect(native.haltedNs).toBeGreaterThan(9_900_000);
    expect(Math.abs(native.rdtsc - 1_000_000)).toBeLessThan(100);
    expect(native.rdmsr).toBe(native.rdtsc - 3); // read 3 instructions (rdmsr, sub, mov) before the RDTSC
    for (const mode of ["full", "hw"] as const) {
      const { rdtsc, rdmsr, haltedNs } = haltForPit(mode);
      expect({ rdtsc, rdmsr, haltedNs }, mode).toEqual({ rdtsc: native.rdtsc, rdmsr: native.rdmsr, haltedNs: native.haltedNs });
    }
  });
  it("continues identically from a snapshot taken after the halt (the idle time is part of the VM's state)", () => {
    for (const mode of ["native", "full", "hw"] as const) {
      const whole = haltForPit(mode); // (the CPU retires fewer in full and hw mode: the rest is emulated)
      const r = haltForPit(mode, whole.instructions - 3);
      expect({ rdtsc: r.rdtsc, rdmsr: r.rdmsr }, mode).toEqual({ rdtsc: whole.rdtsc, rdmsr: whole.rdmsr });
    }
  });
});

// Para mode: the same through SCHEDOP_block. The guest (ring 1, as the PV loader enters it) installs a trap table
// with a gate for event port 0 (the PV timer), sets the PV timer to 10 ms and unmasks its port, reads the TSC, blocks until the timer's
// event, reads the TSC again and shuts down with the difference in EDI.
const BLOCK_FOR_PV_TIMER = kernel([
  0xbf, 0x00, 0x11, 0x10, 0x00,               // mov edi,0x101100  (gate 32 (event port 0) in a trap table at 0x101000)
  0xb8, 0x81, 0x00, 0x10, 0x00,               // mov eax,0x100081  (handler)
  0x89, 0xc2,                                 // mov edx,eax
  0x25, 0xff, 0xff, 0x00, 0x00,               // and eax,0xffff
  0x0d, 0x00, 0x00, 0x09, 0x00,               // or eax,0x90000
  0x89, 0x07,                                 // mov [edi],eax
  0x81, 0xe2, 0x00, 0x00, 0xff, 0xff,         // and edx,0xffff0000
  0x81, 0xca, 0x00, 0x8e, 0x00, 0x00,         // or edx,0x8e00  (present, DPL 0, 32-bit interrupt gate)
  0x89, 0x57, 0x04,                           // mov [edi+0x4],edx
  0xb8, 0x02, 0x00, 0x00, 0x00,               // mov eax,0x2  (HC_SET_TRAP_TABLE)
  0xbb, 0x00, 0x10, 0x10, 0x00,               // mov ebx,0x101000
  0xb9, 0x21, 0x00, 0x00, 0x00,               // mov ecx,0x21  (33 entries)
  0x0f, 0x01, 0xc1,                           // vmcall
  0xb8, 0x06, 0x00, 0x00, 0x00,               // mov eax,0x6  (HC_SET_TIMER)
  0xbb, 0x80, 0x96, 0x98, 0x00,               // mov ebx,0x989680  (10 ms)
  0x0f, 0x01, 0xc1,                           // vmcall
  0xb8, 0x08, 0x00, 0x00, 0x00,               // mov eax,0x8  (HC_EVTCHN_OP)
  0x31, 0xdb,                                 // xor ebx,ebx
  0x31, 0xc9,                                 // xor ecx,ecx
  0x0f, 0x01, 0xc1,                           // vmcall
  0x0f, 0x31,                                 // rdtsc
  0x89, 0xc6,                                 // mov esi,eax
  0xb8, 0x07, 0x00, 0x00, 0x00,               // mov eax,0x7  (HC_SCHED_OP)
  0xbb, 0x01, 0x00, 0x00, 0x00,               // mov ebx,0x1  (SCHEDOP_block)
  0x0f, 0x01, 0xc1,                           // vmcall
  0x0f, 0x31,                                 // rdtsc
  0x29, 0xf0,                                 // sub eax,esi
  0x89, 0xc7,                                 // mov edi,eax
  0xb8, 0x09, 0x00, 0x00, 0x00,               // mov eax,0x9  (HC_SHUTDOWN)
  0x31, 0xdb,                                 // xor ebx,ebx
  0x0f, 0x01, 0xc1,                           // vmcall
  0xeb, 0xfe,                                 // jmp $
  0xc7, 0x05, 0x10, 0x40, 0xc0, 0xff, 0x00, 0x00, 0x00, 0x00,// mov dword [0xffc04010], 0  (handler: evtchn_in_service = 0 (EOI))
  0xcf,                                       // iret
]);

describe("the TSC keeps counting while a para guest blocks", () => {
  it("advances by the virtual time skipped in SCHEDOP_block, as in the other modes", () => {
    const vm = new Vm({ mode: "para", memSize: 16 << 20 });
    vm.loadMultiboot(BLOCK_FOR_PV_TIMER);
    const r = vm.run({ maxInstructions: 1_000_000 });
    expect(r.stopReason, r.message).toBe("debug-exit"); // HC_SHUTDOWN
    expect(vm.stats.haltedNs).toBeGreaterThan(9_900_000);
    expect(Math.abs((vm.machine.edi >>> 0) - 1_000_000)).toBeLessThan(100);
    vm.release();
  });
});
