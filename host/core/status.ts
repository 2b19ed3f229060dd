// status.ts — what every mode's run ends with: process exit statuses, stop reasons, the virtual clock's rate and
// the idle limits. Shared by the one run loop (core/vm.ts), the modes and the CLI.

/**
 * Process exit statuses. Odd values belong to the guest (isa-debug-exit: (value << 1) | 1, as QEMU exits);
 * wasmvisor's own outcomes are even, so they never collide with a guest's status.
 */
export const EXIT_STATUS = {
  /** bad command line (unknown option, bad --mem, an option the mode cannot honour...) */
  USAGE: 2,
  /** the image, disk or snapshot cannot be used (missing, not an ELF, corrupt, does not fit RAM...) */
  BAD_INPUT: 4,
  /** --max-instructions reached before the guest exited */
  MAX_INSTRUCTIONS: 6,
  /** HLT with interrupts disabled, or with no interrupt that could ever wake the CPU */
  HALTED: 8,
  /** triple fault (shutdown) */
  TRIPLE_FAULT: 10,
  /** an exit the mode never asks for, a CPU abort, or any other host error: a wasmvisor bug */
  INTERNAL: 12,
  /** the CLI's --timeout (wall clock) expired before the guest exited */
  TIMEOUT: 14,
  /** the CLI was stopped by SIGINT, SIGTERM or SIGHUP */
  INTERRUPTED: 16,
  /** the console could not be written: stdout closed by its reader (EPIPE, quietly) or failing (ENOSPC, EIO...) */
  OUTPUT_ERROR: 18,
} as const;

/**
 * "snapshot": the run reached RunOptions.stopAt (the VM can be saved and continued; status 0).
 * "paused": RunOptions.pauseWhen asked to stop; run() again continues exactly where the guest was.
 * "debug": the CPU's host debug unit stopped (a gdb breakpoint, watchpoint or step: host/gdb/); run() again resumes.
 */
export type StopReason = "debug-exit" | "max-instructions" | "halted" | "shutdown" | "internal-error" | "snapshot" | "paused" | "debug";

/** The result run() returns when RunOptions.pauseWhen stopped it (not a guest outcome: call run() again). */
export const PAUSED: Readonly<RunResult> = { exitStatus: -1, stopReason: "paused", message: "paused by the host" };

/** Instructions per virtual second: the virtual clock every timer sees (host/devices/pit8254.ts InstructionClock). */
export const VIRTUAL_IPS = 100_000_000;
export const NS_PER_INSTRUCTION = 1e9 / VIRTUAL_IPS;
/** Console input: a receiver that enabled its interrupt gets its first character after this long (see pump). */
export const INPUT_SETTLE_INSTRUCTIONS = 2_000_000;
/** Console input: the longest run slice while characters are waiting. */
export const INPUT_SLICE_INSTRUCTIONS = 200_000;
/** With RunOptions.pauseWhen: the longest run slice between two questions (a few ms of wall time at most). */
export const PAUSE_CHECK_INSTRUCTIONS = INPUT_SLICE_INSTRUCTIONS;
/**
 * A halted CPU whose timers keep firing without ever producing a deliverable interrupt (say IRQ 0 masked in the
 * PIC) would spin the host forever, as QEMU would sit forever: give up after this much idle virtual time.
 */
export const MAX_IDLE_NS = 60e9;

export interface RunOptions {
  /** stop after this many instructions (status EXIT_STATUS.MAX_INSTRUCTIONS); default: no limit */
  maxInstructions?: number;
  /** stop when the CPU has retired exactly this many instructions in all (stop reason "snapshot", status 0) */
  stopAt?: number;
  /** asked after every exit: true returns PAUSED (a host that must stop the guest mid-run: a slow console
   * reader, a timeout, a signal); run() again resumes it */
  pauseWhen?: () => boolean;
}

export interface RunResult {
  exitStatus: number;
  stopReason: StopReason;
  /** one line describing why the run stopped */
  message: string;
  /** the exit that stopped it, if one did */
  exit?: import("../machine.ts").Exit;
}

/** A configuration the VM cannot honour (unknown mode, an option the mode does not have): one line, status 2. */
export class VmConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VmConfigError";
  }
}

export function hex(n: number): string {
  return "0x" + (n >>> 0).toString(16);
}
