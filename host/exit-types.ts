// exit-types.ts — what run() returns: the exit record of assembly/abi.ts as typed data, with the qualification
// as VT-x reports it and the instruction the CPU decoded, so the host never decodes it again (Machine.exit).

import * as A from "./abi.generated.ts";

export const EXIT_NAMES = [
  "budget", "hlt", "io-in", "io-out", "mmio-read", "mmio-write",
  "exception", "softint", "shutdown", "hypercall", "intr-window", "debug", "sensitive", "vmexit",
] as const;
export type ExitName = (typeof EXIT_NAMES)[number];

/**
 * An instruction as the CPU's own decoder decoded it (assembly/abi.ts DEC_*): what an exit carries, and what
 * Machine.decode returns. Opcodes are 0x00..0xff (one byte) and 0x0f00..0x0fff (0F xx); -1 an undefined
 * opcode (#UD), -2 longer than 15 bytes (#GP).
 */
export interface DecodedInsn {
  /** EIP it was decoded at */
  addr: number;
  len: number;
  op: number;
  opsize16: boolean;
  addrsize16: boolean;
  /** segment override 0..5 (ES CS SS DS FS GS) or -1 */
  seg: number;
  /** segment of the memory operand: the override, else DS, or SS for an EBP/ESP base */
  segment: number;
  rep: 0 | 0xf2 | 0xf3;
  lock: boolean;
  hasModrm: boolean;
  mod: number;
  reg: number;
  rm: number;
  /** the ModRM operand is in memory */
  mem: boolean;
  /** memory operand: base/index register or -1, scale 1/2/4/8, displacement (sign-extended) */
  base: number;
  index: number;
  scale: number;
  disp: number;
  /** immediate (zero-extended; the offset of a far pointer or moffs) and the second one (a far pointer's selector) */
  imm: number;
  imm2: number;
}

/** Qualification of an I/O instruction (SDM Vol. 3C table 27-5). */
export interface IoQualification {
  port: number;
  size: 1 | 2 | 4;
  in: boolean;
  string: boolean;
  rep: boolean;
  /** elements left for a REP string instruction (ECX, or CX with 0x67), 1 otherwise */
  count: number;
  /** the port is the immediate (else DX) */
  immediate: boolean;
}
/** Qualification of a control-register access (SDM Vol. 3C table 27-3). */
export interface CrQualification {
  cr: number;
  access: "mov-to" | "mov-from" | "clts" | "lmsw";
  /** general register of MOV (0..7 = EAX..EDI), or the LMSW source register; -1 for clts and a memory LMSW */
  gpr: number;
  /** LMSW source data when it is a register */
  lmswData?: number;
}
/** Qualification of a debug-register access (SDM Vol. 3C table 27-4). */
export interface DrQualification { dr: number; access: "mov-to" | "mov-from"; gpr: number }

interface ExitCommon {
  /** numeric exit code (A.EXIT_*) */
  code: number;
  /** EIP of the instruction that caused the exit (for a trap-class exception: where the handler returns) */
  eip: number;
}
/** A VM exit, discriminated by `reason` (switch on it and TypeScript narrows to the fields that exit has). */
export type Exit =
  | ExitCommon & { reason: "budget" | "shutdown" | "intr-window" }
  // the CPU's host debug unit stopped before EIP (a gdb breakpoint, watchpoint or step: host/gdb/)
  | ExitCommon & { reason: "debug" }
  | ExitCommon & { reason: "hlt"; insnLength?: number }
  | ExitCommon & IoQualification & { reason: "io-in"; insnLength: number }
  | ExitCommon & IoQualification & { reason: "io-out"; insnLength: number; value: number }
  | ExitCommon & { reason: "mmio-read"; port: number; address: number; size: number; write: false; insnLength: number }
  | ExitCommon & { reason: "mmio-write"; port: number; address: number; size: number; write: true; value: number; insnLength: number }
  | ExitCommon & {
      reason: "exception";
      vector: number;
      errorCode?: number;
      /** the faulting instruction as the CPU decoded it (faults only; absent for traps and fetch faults) */
      insn?: DecodedInsn;
      insnLength?: number;
      /** for a fault raised by an I/O, control- or debug-register instruction: what it accesses */
      io?: IoQualification;
      cr?: CrQualification;
      dr?: DrQualification;
    }
  | ExitCommon & { reason: "softint"; vector: number; insnLength: number }
  | ExitCommon & { reason: "hypercall"; insnLength: number }
  // a sensitive instruction with its class's control set (abi.ts CTRL_EXIT_SENSITIVE...): not executed, EIP on it
  | ExitCommon & { reason: "sensitive"; insn?: DecodedInsn; insnLength: number }
  // guest (VMX non-root) mode: a VM exit; the basic reason, qualification and length are in the VMCS (host/hw/vmcs.ts)
  | ExitCommon & { reason: "vmexit"; vmxReason: number; qualification: number; insnLength: number };
