// vm.ts — the public VM: `new Vm({ mode })` is the one run loop (core/vm.ts) around the chosen mode (modes.ts):
// native (host/native/), full (host/full/) or para (host/para/), with the one platform builder's devices
// (core/platform.ts). runImage() boots a multiboot image in a fresh Vm and runs it to the end; vm.snapshot() and
// Vm.restore() save and continue a whole VM (core/snapshot.ts).
//
// Exits, interrupts, time and idle are described in core/vm.ts (the loop) and in each mode's file.
import type { MachineOptions } from "./machine.ts";
import { VmCore, type CoreOptions } from "./core/vm.ts";
import { readSnapshot, SnapshotError } from "./core/snapshot.ts";
import { VmConfigError } from "./core/status.ts";
import type { StopReason } from "./core/status.ts";
import { checkMode, createMode, type ModeOptions } from "./modes.ts";
import type { VmStats } from "./stats.ts";
import { isBzImage } from "./loaders/bzimage.ts";

export {
  EXIT_STATUS, PAUSED, VIRTUAL_IPS, NS_PER_INSTRUCTION, INPUT_SETTLE_INSTRUCTIONS, INPUT_SLICE_INSTRUCTIONS, MAX_IDLE_NS, VmConfigError,
  type StopReason, type RunOptions, type RunResult,
} from "./core/status.ts";
export {
  pcPlatform, peekPicVector, buildPlatform, checkPlatformOptions,
  type Platform, type PlatformHooks, type PlatformOptions, type InterruptController, type TimedDevices,
} from "./core/platform.ts";
export { SnapshotError, SNAPSHOT_VERSION } from "./core/snapshot.ts";
export { MODES, IMPLEMENTED_MODES, checkMode } from "./modes.ts";

export interface VmOptions extends CoreOptions, ModeOptions {
  /** "native" (default), "full" or "para" */
  mode?: string;
}

/** Options a snapshot records to rebuild the same VM (everything JSON-able that shapes the machine). */
function configOf(o: VmOptions, mode: string) {
  return { mode, options: { memSize: o.memSize ?? 64 << 20, platformKind: o.platformKind, rtcStart: o.rtcStart, closeHole: o.closeHole, translate: o.translate, maxShadows: o.maxShadows, fastPaths: o.fastPaths, ...(o.npt === false ? { npt: false } : {}), ...(o.eptLarge === false ? { eptLarge: false } : {}), ...(o.apicv === false ? { apicv: false } : {}), machine: o.machine } };
}

export class Vm extends VmCore {
  constructor(opts: VmOptions = {}) {
    const mode = opts.mode ?? "native";
    checkMode(mode);
    super(createMode(mode, opts.memSize ?? 64 << 20, opts, opts.log ?? (() => {})), opts, configOf(opts, mode));
  }

  /**
   * A VM continued from vm.snapshot(): the same mode, options, RAM, vCPU, devices, disks (a file image must be
   * unchanged since) and mode state. Throws SnapshotError (one line) for a corrupt, truncated, foreign-version or
   * stale-disk snapshot.
   */
  static restore(buffer: Uint8Array, opts: Pick<VmOptions, "onConsole" | "captureConsole" | "log" | "stdin"> = {}): Vm {
    const s = readSnapshot(buffer);
    const o = s.config.options as VmOptions;
    const { stdin, ...sinks } = opts;
    const vm = new Vm({ ...o, ...sinks, mode: s.config.mode, disk: s.disks[0], disk2: s.disks[1] });
    const m = vm.machine;
    if (m.ramSize !== s.ramSize) throw new SnapshotError("snapshot is corrupted (its RAM size does not match its configuration)");
    const written = m.writtenPages(); // (before ramBytes: pages never written are known zero)
    // back RAM only as far as the snapshot has data, or the machine was written (pages past both are zero): the
    // rest is backed when the guest first touches it
    if (!(s.ramEnd >= 0 && s.ramEnd <= m.ramSize)) throw new SnapshotError("snapshot is corrupted (page map)");
    const end = written ? Math.max(s.ramEnd, Math.min(m.ramSize, Math.ceil(m.ramBacked / 4096) * 4096)) : m.ramSize;
    s.fillRam(m.ramBytes(end), written);
    m.ramChanged();
    m.loadState(s.cpu);
    vm.restoreState(s.state);
    // more console input goes after what was still queued when the snapshot was taken
    if (stdin !== undefined) vm.platform.receive(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin);
    return vm;
  }
}

// ---------------------------------------------------------------- runImage

/** The Vm options plus the image and how to run it. */
export interface RunImageOptions extends Omit<VmOptions, "captureConsole"> {
  /** the multiboot ELF kernel, or a Linux bzImage (found by its "HdrS" setup header; native mode) */
  image: Uint8Array;
  maxInstructions?: number;
  cmdline?: string;
  /** with a bzImage: the initial RAM disk */
  initrd?: Uint8Array;
}

export interface RunImageResult {
  console: string;
  exitStatus: number;
  stopReason: StopReason;
  message: string;
  stats: ReturnType<VmStats["toJSON"]>;
}

/** Boots a multiboot image or a Linux bzImage in a fresh VM and runs it to the end. Load errors throw (ElfError /
 * MultibootError / BzImageError / VmConfigError). */
export async function runImage(opts: RunImageOptions): Promise<RunImageResult> {
  const { image, maxInstructions, cmdline, initrd, ...vmOptions } = opts;
  const vm = new Vm(vmOptions);
  if (isBzImage(image)) vm.loadBzImage(image, { cmdline, initrd });
  else if (initrd) throw new VmConfigError("initrd is for a Linux bzImage; the image is not one (no \"HdrS\" setup header)");
  else vm.loadMultiboot(image, { cmdline });
  const r = vm.run({ maxInstructions });
  return { console: vm.console, exitStatus: r.exitStatus, stopReason: r.stopReason, message: r.message, stats: vm.stats.toJSON() };
}

export type { MachineOptions };
