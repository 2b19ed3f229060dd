// exits.ts — hw mode's VM-exit handlers (the "vmexit" exits; device accesses go through core/device-exits.ts).
// Instruction exits are fault-like (assembly/vmx.ts): the handler emulates the instruction and advances EIP by the
// exit's instruction length; the instruction counts as one the hypervisor emulated (virtual clock, and so TSC).
import type { Exit, Machine } from "../machine.ts";
import * as A from "../abi.generated.ts";
import type { ExitAction } from "../core/mode.ts";
import { EXIT_STATUS, hex, type RunResult } from "../core/status.ts";
import { reasonName, type Vmcs } from "./vmcs.ts";

export interface ExitContext {
  readonly m: Machine;
  readonly vmcs: Vmcs;
  /** the guest executed one instruction the hypervisor emulated: count it and keep the guest's TSC in step */
  emulated(): void;
}

type VmExit = Extract<Exit, { reason: "vmexit" }>;

/** Skip the exiting instruction after emulating it. */
function skip(c: ExitContext, exit: VmExit): void {
  c.m.eip = (exit.eip + exit.insnLength) >>> 0;
  c.emulated();
}

export function handleVmExit(c: ExitContext, exit: VmExit): ExitAction {
  const m = c.m;
  switch (exit.vmxReason) {
    case A.VMX_EXIT_CPUID: {
      // the hardware's answer, unfiltered: the guest sees the CPU native mode shows it
      const [a, b, cx, d] = m.cpuid(m.eax);
      m.eax = a; m.ebx = b; m.ecx = cx; m.edx = d;
      skip(c, exit);
      return null;
    }
    case A.VMX_EXIT_HLT: {
      skip(c, exit);
      if (!(m.eflags & A.FLAG_IF)) {
        return { exitStatus: EXIT_STATUS.HALTED, stopReason: "halted", message: `guest halted with interrupts disabled (hlt at eip ${hex(exit.eip)})`, exit };
      }
      m.halted = true; // activity state HLT: an injected interrupt wakes it
      return "idle";
    }
    case A.VMX_EXIT_VMCALL:
      // no hypercall interface in hw mode (the guest is unmodified): #UD, as a CPU without a hypervisor raises
      c.vmcs.inject("hw-exception", A.VEC_UD);
      return null;
    case A.VMX_EXIT_RDMSR:
    case A.VMX_EXIT_WRMSR:
      // only MSRs outside the bitmaps' ranges exit (the CPU has none there): #GP(0), as the CPU raises for them
      c.vmcs.inject("hw-exception", A.VEC_GP, 0);
      return null;
    case A.VMX_EXIT_INTR_WINDOW:
    case A.VMX_EXIT_EXT_INTR:
    case A.VMX_EXIT_TPR_BELOW_THRESHOLD: // (trap-like: VTPR reached the APIC model in HwMode.handle; injection follows)
      return null; // the run loop injects before the next entry (HwMode.beforeSlice)
    case A.VMX_EXIT_TRIPLE_FAULT:
      return { exitStatus: EXIT_STATUS.TRIPLE_FAULT, stopReason: "shutdown", message: `triple fault (CPU shutdown) at eip ${hex(exit.eip)}`, exit };
    case A.VMX_EXIT_EPT_VIOLATION:
      return internal(exit, `EPT violation at guest-physical ${hex(c.vmcs.guestPhysical)} (qualification ${hex(exit.qualification)}) at eip ${hex(exit.eip)}`);
    case A.VMX_EXIT_EPT_MISCONFIG:
      return internal(exit, `EPT misconfiguration at guest-physical ${hex(c.vmcs.guestPhysical)} at eip ${hex(exit.eip)}`);
    default:
      return internal(exit, `unexpected VM exit ${reasonName(exit.vmxReason)} (qualification ${hex(exit.qualification)}) at eip ${hex(exit.eip)}`);
  }
}

export function internal(exit: Exit, message: string): RunResult {
  return { exitStatus: EXIT_STATUS.INTERNAL, stopReason: "internal-error", message, exit };
}
