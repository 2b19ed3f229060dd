// modes.ts — the mode registry: the name → Mode factory the public Vm (host/vm.ts) and Vm.restore() use. The
// house: vm.ts → modes.ts → {native, full, para, hw} → core/ → machine, devices; nothing below imports upward.
import type { MachineOptions } from "./machine.ts";
import type { Mode } from "./core/mode.ts";
import { VmConfigError } from "./core/status.ts";
import { NativeMode } from "./native/mode.ts";
import { FullMode } from "./full/fullvm.ts";
import { ParaMode } from "./para/vm.ts";
import { HwMode } from "./hw/mode.ts";

export const MODES = ["native", "full", "para", "hw"] as const;
export const IMPLEMENTED_MODES = ["native", "full", "para", "hw"];

export function checkMode(mode: string): void {
  if (IMPLEMENTED_MODES.includes(mode)) return;
  if ((MODES as readonly string[]).includes(mode)) throw new VmConfigError(`mode '${mode}' is not implemented yet`);
  throw new VmConfigError(`unknown mode '${mode}' (modes: ${MODES.join(", ")})`);
}

export interface ModeOptions {
  /** full mode: handle the sensitive-but-unprivileged instructions (the x86 hole); default true */
  closeHole?: boolean;
  /** full mode: "runtime" (default, the CPU hands them over as they run) or "static" (the INT3 sweep, to compare) */
  translate?: "runtime" | "static";
  /** full mode: address spaces × modes whose shadows are cached; default 16 */
  maxShadows?: number;
  /** full mode: handle the hot traps inside the CPU (default true; host/full/README.md "Fast paths") */
  fastPaths?: boolean;
  /** hw mode: nested paging (default true); false = shadow page tables with CR3/INVLPG/#PF exits (first-generation VT-x) */
  npt?: boolean;
  /** hw mode: "enable VPID" (default true); false = the TLB is flushed at every VM exit and entry */
  vpid?: boolean;
  /** hw mode: the 2-D walk's nested TLB for guest paging-structure pages (default true with nested paging) */
  pwc?: boolean;
  /** hw mode: large (4 MiB) EPT pages where guest RAM allows (default true) */
  eptLarge?: boolean;
  /** hw mode: APIC-register virtualization with the TPR shadow (default true; host/hw/apicv.ts) */
  apicv?: boolean;
  /** CPU options passed to the Machine (e.g. { jitThreshold: 0 } for the interpreter only) */
  machine?: Partial<MachineOptions>;
}

/** A fresh mode `name` for `memSize` bytes of guest RAM. */
export function createMode(name: string, memSize: number, o: ModeOptions, log: (m: string) => void): Mode {
  checkMode(name);
  switch (name) {
    case "full": return new FullMode(memSize, o, log);
    case "para": return new ParaMode(memSize, log, o.machine);
    case "hw": return new HwMode(memSize, o, log);
    default: return new NativeMode(memSize, o.machine, log);
  }
}
