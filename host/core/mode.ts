// mode.ts — what a virtualization technique plugs into the one run loop (core/vm.ts), as an accelerator does into
// QEMU's machine: how the CPU is created and the image entered, what happens before a slice (interrupt delivery)
// and after it, how an exit is handled, when an idle guest wakes, its own counters, and its state for snapshots.
import type { Machine, Exit } from "../machine.ts";
import type { MultibootBoot } from "../multiboot.ts";
import type { BzImageBoot, BzImageOptions } from "../loaders/bzimage.ts";
import type { Saved } from "../persist.ts";
import type { VmStats } from "../stats.ts";
import type { Platform, PlatformHooks } from "./platform.ts";
import type { RunResult } from "./status.ts";

/** What the run loop does after a mode handled an exit: continue, idle until an interrupt, or stop. */
export type ExitAction = null | "idle" | RunResult;

export interface LoadOptions { cmdline?: string }

/** What the run loop offers a mode besides the platform: the console and the VM's end. */
export interface ModeHost {
  consoleByte(byte: number): void;
  /** end the run with this debug-exit-style status ((code << 1) | 1) and message */
  debugExit(status: number, message?: string): void;
  /** the virtual clock now, in instruction-equivalents (retired + emulated + skipped while idle): the guest's TSC */
  clock(): number;
}

export interface Mode {
  readonly name: string;
  readonly machine: Machine;
  /** extra hooks the mode's devices need (pv: DMA memory, event lines) */
  platformHooks?(): Partial<PlatformHooks>;
  /** the platform is built: wire it, the VM's counters and its console/exit sinks in */
  attach(platform: Platform, stats: VmStats, host: ModeHost): void;
  /** load a multiboot image and put the CPU at its entry */
  load(image: Uint8Array, opts: LoadOptions): MultibootBoot;
  /** load a Linux bzImage (+ initrd) and enter it by the 32-bit boot protocol; absent: the mode cannot */
  loadLinux?(image: Uint8Array, opts: BzImageOptions): BzImageBoot;
  /** instruction-equivalents the mode executed itself (full: emulated instructions); part of the virtual clock */
  readonly emulatedInstructions: number;
  /** before a slice: deliver what is pending; returns the longest slice the mode allows now, or a stop */
  beforeSlice(): number | RunResult;
  /** right after the slice, before time moves or the exit is handled (interrupt acknowledgement) */
  afterSlice(): void;
  handle(exit: Exit): ExitAction;
  /** while idle: is there something for the CPU now? (may raise it) */
  wakeup(): boolean;
  /** the mode's own counters (stats file: devices[mode name]) */
  stats(): Record<string, unknown>;
  /** mode state for a snapshot (shadow tables, side tables, page types...) and back */
  save(): Saved;
  restore(s: Saved): void;
}
