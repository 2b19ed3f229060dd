// run.ts — `wasmvisor run` and `wasmvisor restore`: open the files, build the VM of the mode (or restore one from
// a snapshot), and run it in slices so the host keeps control: console back-pressure (ConsoleSink), --timeout,
// signals, console input, --snapshot-at. Every way a run ends leaves the console flushed, the stats file written
// and one line on stderr (none for a guest's own isa-debug-exit).
import { writeFileSync } from "node:fs";
import { Writable } from "node:stream";
import { EXIT_STATUS, Vm, VmConfigError, SnapshotError, checkMode, type RunResult } from "../vm.ts";
import { ElfError } from "../elf.ts";
import { MultibootError, loadMultiboot } from "../multiboot.ts";
import { BzImageError, isBzImage, loadBzImage } from "../loaders/bzimage.ts";
import { MAX_RAM_SIZE } from "../abi.generated.ts";
import { VMM_SIZE } from "../full/vcpu.ts";
import type { FileBackend } from "../devices/block.ts";
import { formatDuration, formatSize, type RestoreArgs, type RunArgs } from "./args.ts";
import { ConsoleSink } from "./console-sink.ts";
import { InputError, checkOutputFile, openDisk, readInput } from "./disk.ts";
import { runWithGdb, GdbPortError } from "../gdb/server.ts";
import { targetFor } from "../gdb/target.ts";

/** the modes the CLI boots a Linux bzImage in (test/linux-boot.test.ts boots it to a shell in each) */
const LINUX_MODES: readonly string[] = ["native", "hw", "full"];

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** console input for the guest's COM1 (native mode), read while the guest runs */
  stdin?: NodeJS.ReadableStream & { destroy?(): void };
  /** where the guest's console streams, with back-pressure (process.stdout); default: a stream calling stdout() */
  console?: Writable;
  /** where SIGINT, SIGTERM and SIGHUP come from (process); default: none */
  signals?: NodeJS.EventEmitter;
  /** a second signal: leave at once with this status (process.exit) */
  exitNow?(status: number): void;
}

/** A run slice ends after this many instructions or SLICE_MS of wall-clock time (checked at every exit), whichever
 * comes first; between slices the event loop delivers signals, console input and stdout's 'drain'. */
export const RUN_SLICE = 5_000_000;
export const SLICE_MS = 5;
/** Console text without a newline (a prompt, an echoed character) reaches stdout after at most this long. */
export const CONSOLE_FLUSH_MS = 2;
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** How the host (not the guest) ended the run. */
type HostStop = { reason: "timeout" | "signal" | "output-error"; status: number; message: string };

export async function run(a: RunArgs, io: CliIo, err: (m: string) => void, packageRoot: string): Promise<number> {
  const out = io.console ?? lineWriter(io.stdout);
  const sink = new ConsoleSink(out);
  const disks: FileBackend[] = [];
  let vm: Vm;
  try {
    checkMode(a.mode);
    if (a.npt !== undefined && a.mode !== "hw") throw new VmConfigError(`--npt is an option of --mode hw, not ${a.mode}`);
    if (a.translate && a.mode !== "full") throw new VmConfigError(`--full-translate is an option of --mode full, not ${a.mode}`);
    if (a.mode === "full" && a.memSize + VMM_SIZE > MAX_RAM_SIZE) {
      throw new VmConfigError(`--mem ${formatSize(a.memSize)} is too large for --mode full (at most ${formatSize(MAX_RAM_SIZE - VMM_SIZE)}: the monitor's ${formatSize(VMM_SIZE)} sit beside guest RAM)`);
    }
    if (a.statsFile) checkOutputFile(a.statsFile, "stats file");
    const image = readInput(a.image, "image");
    const warn = (l: string) => io.stderr(l + "\n");
    const disk = a.disk ? openDisk(a.disk, packageRoot, warn) : undefined;
    if (disk) disks.push(disk);
    const disk2 = a.disk2 ? openDisk(a.disk2, packageRoot, warn) : undefined;
    if (disk2) disks.push(disk2);
    // Check the image against the RAM size before creating the VM (and compiling the CPU): a dry-run load.
    const dry = { ramSize: a.memSize, writeMem: () => {}, fillMem: () => {} };
    const linux = isBzImage(image);
    const initrd = a.initrd !== undefined ? readInput(a.initrd, "initrd") : undefined;
    if (linux) {
      if (!LINUX_MODES.includes(a.mode)) throw new VmConfigError(`a Linux bzImage boots in ${LINUX_MODES.join(", ")} modes only (for now), not --mode ${a.mode}`);
      if (a.translate === "static") throw new VmConfigError("a Linux bzImage boots in full mode with run-time translation only (its code is compressed: there is nothing to sweep before it runs)");
      loadBzImage(image, dry, { cmdline: a.cmdline, initrd });
    } else {
      if (initrd) throw new VmConfigError(`--initrd is for a Linux bzImage; ${a.image} is not one (no "HdrS" setup header)`);
      loadMultiboot(image, dry, { cmdline: a.cmdline });
    }
    try {
      // one Vm for every mode; options a mode cannot honour are refused by the platform builder (VmConfigError)
      vm = new Vm({
        mode: a.mode, memSize: a.memSize, disk, disk2, platformKind: a.platform, rtcStart: a.rtcStart, translate: a.translate, npt: a.npt,
        onConsole: sink.write, captureConsole: false,
      });
    } catch (e) {
      if (e instanceof RangeError && /memory/i.test(e.message)) throw new InputError(`cannot allocate ${formatSize(a.memSize)} of guest memory: ${e.message.replace(/^wasmvisor: /, "")}`);
      throw e;
    }
    if (linux) vm.loadBzImage(image, { cmdline: a.cmdline, initrd });
    else vm.loadMultiboot(image, { cmdline: a.cmdline });
  } catch (e) {
    closeAll(disks);
    if (e instanceof VmConfigError) { err(e.message); return EXIT_STATUS.USAGE; }
    if (e instanceof InputError) { err(e.message); return EXIT_STATUS.BAD_INPUT; }
    if (e instanceof ElfError || e instanceof MultibootError || e instanceof BzImageError) { err(`${a.image}: ${e.message}`); return EXIT_STATUS.BAD_INPUT; }
    throw e;
  }
  return drive(vm, a, { image: a.image, mode: a.mode, memSize: a.memSize }, sink, disks, io, err);
}

/** `wasmvisor restore`: a VM from a snapshot file, continued like a run. */
export async function restore(a: RestoreArgs, io: CliIo, err: (m: string) => void, readSnapshot: (f: string) => Uint8Array): Promise<number> {
  const sink = new ConsoleSink(io.console ?? lineWriter(io.stdout));
  let vm: Vm;
  try {
    if (a.statsFile) checkOutputFile(a.statsFile, "stats file");
    vm = Vm.restore(readSnapshot(a.snapshot), { onConsole: sink.write, captureConsole: false });
  } catch (e) {
    if (e instanceof SnapshotError || e instanceof VmConfigError) { err(`${a.snapshot}: ${e.message}`); return EXIT_STATUS.BAD_INPUT; }
    if (e instanceof InputError) { err(e.message); return EXIT_STATUS.BAD_INPUT; }
    throw e;
  }
  return drive(vm, { timeoutMs: a.timeoutMs, statsFile: a.statsFile }, { snapshot: a.snapshot, mode: vm.mode.name }, sink, [], io, err);
}

/** What drive() needs of the command line. */
type DriveArgs = Pick<RunArgs, "maxInstructions" | "timeoutMs" | "statsFile" | "snapshotAt" | "snapshotFile" | "gdbPort" | "gdbWait">;

async function drive(vm: Vm, a: DriveArgs, what: Record<string, unknown>, sink: ConsoleSink, disks: FileBackend[], io: CliIo, err: (m: string) => void): Promise<number> {
  try {
    let r: RunResult | HostStop;
    try {
      r = await runSliced(vm, a, io, sink, err);
    } catch (e) {
      if (e instanceof GdbPortError) { err(e.message); return EXIT_STATUS.USAGE; }
      throw e;
    }
    if (!("reason" in r) && r.stopReason === "snapshot") {
      await sink.flush(() => stopNow);
      return saveSnapshot(vm, a.snapshotFile ?? "vm.snap", err);
    }
    if (a.snapshotAt !== undefined && !("reason" in r)) err(`no snapshot: the run ended at instruction ${vm.machine.instructions}, before ${a.snapshotAt}`);
    const hostStop = "reason" in r ? r : null;
    // the partial last line is in the sink (run() flushes on return): get it to the OS before reporting. A reader
    // that stopped reading must not keep a signalled or timed-out run alive: then give it FLUSH_GRACE_MS.
    let abandoned = false;
    if (hostStop?.reason !== "output-error") {
      const until = hostStop ? performance.now() + FLUSH_GRACE_MS : Infinity;
      const tick = hostStop ? setTimeout(() => sink.wake(), FLUSH_GRACE_MS) : undefined;
      await sink.flush(() => stopNow || performance.now() >= until);
      clearTimeout(tick);
      abandoned = stopNow || performance.now() >= until;
    }
    let status: number, stopReason: string, message: string;
    if (sink.error && (!hostStop || hostStop.reason === "output-error")) {
      // also an error found by the final flush: the console was not delivered, whatever the guest did
      status = EXIT_STATUS.OUTPUT_ERROR;
      stopReason = "output-error";
      message = `cannot write the console to stdout: ${describeError(sink.error)}`;
      if (!sink.readerGone) err(message); // EPIPE: the reader chose to stop reading (| head), nothing to say
    } else if (hostStop) {
      ({ status, reason: stopReason, message } = hostStop);
      err(message);
    } else {
      ({ exitStatus: status, stopReason, message } = r as RunResult);
      if (stopReason !== "debug-exit") err(message);
    }
    if (a.statsFile) {
      const json = { ...what, exitStatus: status, message, ...vm.stats.toJSON(), stopReason, consoleBytes: sink.written, consolePauses: sink.pauses };
      try {
        writeFileSync(a.statsFile, JSON.stringify(json, null, 1) + "\n");
      } catch (e) {
        err(`cannot write the stats file '${a.statsFile}': ${(e as Error).message}`);
        return EXIT_STATUS.BAD_INPUT;
      }
    }
    if (abandoned) {
      closeAll(disks);
      io.exitNow?.(status); // console text still queued for a reader that is not reading: leave without it
    }
    return status;
  } finally {
    closeAll(disks);
  }
}

function saveSnapshot(vm: Vm, file: string, err: (m: string) => void): number {
  try {
    writeFileSync(file, vm.snapshot());
  } catch (e) {
    if (e instanceof SnapshotError) { err(e.message); return EXIT_STATUS.BAD_INPUT; }
    err(`cannot write the snapshot '${file}': ${(e as Error).message}`);
    return EXIT_STATUS.BAD_INPUT;
  }
  return 0;
}

/** How long a run stopped by a signal or --timeout waits for a stalled stdout reader before leaving. */
export const FLUSH_GRACE_MS = 2000;

/** "no space left on device (ENOSPC)" from Node's "ENOSPC: no space left on device, write". */
function describeError(e: NodeJS.ErrnoException): string {
  const text = e.message.replace(/^[A-Z_]+: /, "").replace(/, (write|open|close)\b.*$/, "");
  return e.code && !text.includes(e.code) ? `${text} (${e.code})` : text;
}

/** Set by a second signal: stop waiting for a stuck stdout. */
let stopNow = false;

function closeAll(disks: FileBackend[]): void {
  for (const d of disks) {
    try { d.close(); } catch { /* already reported by the guest's I/O errors; the process is ending */ }
  }
}

/** A Writable over io.stdout (in-process callers and tests): synchronous, never full. */
function lineWriter(write: (t: string) => void): Writable {
  return new Writable({ decodeStrings: false, write(chunk: string | Buffer, _enc, done) { write(chunk.toString()); done(); } });
}

/**
 * Runs the guest in slices of RUN_SLICE instructions, pausing it (RunOptions.pauseWhen) as soon as the console
 * reader falls behind, the deadline passes or a signal arrives; between slices the event loop runs (signals,
 * stdin, stdout 'drain').
 */
async function runSliced(vm: Vm, a: DriveArgs, io: CliIo, sink: ConsoleSink, err: (m: string) => void): Promise<RunResult | HostStop> {
  const machine = vm.machine;
  const t0 = performance.now();
  const deadline = a.timeoutMs !== undefined ? t0 + a.timeoutMs : Infinity;
  let signal: string | null = null;
  let timedOut = false;
  let wakeGdb = () => {};
  const stopping = () => signal !== null || timedOut || performance.now() >= deadline;
  let sliceEnd = 0;
  // a partial console line waiting in the VM since this time (run() returning flushes it)
  let pendingSince = Infinity;
  const consoleWaits = (now: number) => {
    if (!vm.consolePending) { pendingSince = Infinity; return false; }
    if (pendingSince === Infinity) pendingSince = now;
    return now - pendingSince >= CONSOLE_FLUSH_MS;
  };
  const pauseWhen = () => {
    const now = performance.now();
    return sink.full || now >= Math.min(sliceEnd, deadline) || consoleWaits(now) || signal !== null || timedOut;
  };
  const onSignal = (name: string) => {
    if (signal !== null) { stopNow = true; sink.wake(); io.exitNow?.(EXIT_STATUS.INTERRUPTED); return; }
    signal = name;
    sink.wake();
    wakeGdb();
  };
  const handlers = SIGNALS.map((s) => [s, () => onSignal(s)] as const);
  for (const [s, h] of handlers) io.signals?.on(s, h);
  const timer = deadline < Infinity ? setTimeout(() => { timedOut = true; sink.wake(); wakeGdb(); }, a.timeoutMs) : undefined;
  // console input (COM1, or virtio-console in para mode), handed over as it arrives, paced by the VM
  const input = io.stdin;
  const feed = (b: Buffer | string) => vm.consoleIn.write(typeof b === "string" ? Buffer.from(b) : b);
  input?.on("data", feed);
  input?.on("error", () => {});
  const ran = () => `after ${machine.instructions} instructions`;
  const hostStop = (): HostStop | null => {
    if (sink.error) return { reason: "output-error", status: EXIT_STATUS.OUTPUT_ERROR, message: `console output failed: ${sink.error.message}` };
    if (signal) return { reason: "signal", status: EXIT_STATUS.INTERRUPTED, message: `stopped by ${signal} ${ran()}` };
    if (timedOut || performance.now() >= deadline) return { reason: "timeout", status: EXIT_STATUS.TIMEOUT, message: `stopped by --timeout ${formatDuration(a.timeoutMs!)} ${ran()}` };
    return null;
  };
  try {
    if (a.gdbPort !== undefined) {
      // the gdb stub drives the slices (host/gdb/server.ts): the same pauseWhen, back-pressure and host stops
      const r = await runWithGdb(vm, targetFor(vm), {
        port: a.gdbPort, wait: a.gdbWait, maxInstructions: a.maxInstructions, log: (l) => err(l),
        runSlice: (max) => { sliceEnd = performance.now() + SLICE_MS; return vm.run({ maxInstructions: Math.min(max, RUN_SLICE), pauseWhen }); },
        hostStop: () => hostStop() !== null,
        onWake: (w) => { wakeGdb = w; },
        beforeSlice: async () => { while (sink.full && !stopping() && !sink.error) await sink.waitRoom(stopping); },
      });
      if (r === null) return hostStop()!;
      if (r.stopReason === "max-instructions") return { ...r, message: `stopped after ${a.maxInstructions} instructions (--max-instructions)` };
      return r;
    }
    let left = a.maxInstructions ?? Infinity;
    for (;;) {
      if (sink.error) return { reason: "output-error", status: EXIT_STATUS.OUTPUT_ERROR, message: `console output failed: ${sink.error.message}` };
      if (signal) return { reason: "signal", status: EXIT_STATUS.INTERRUPTED, message: `stopped by ${signal} ${ran()}` };
      if (timedOut || performance.now() >= deadline) return { reason: "timeout", status: EXIT_STATUS.TIMEOUT, message: `stopped by --timeout ${formatDuration(a.timeoutMs!)} ${ran()}` };
      if (sink.full) { await sink.waitRoom(stopping); continue; }
      const before = machine.instructions;
      sliceEnd = performance.now() + SLICE_MS;
      const r = vm.run({ maxInstructions: Math.min(left, RUN_SLICE), pauseWhen, stopAt: a.snapshotAt });
      left -= machine.instructions - before;
      if (r.stopReason === "max-instructions" && left <= 0) return { ...r, message: `stopped after ${a.maxInstructions} instructions (--max-instructions)` };
      if (r.stopReason !== "paused" && r.stopReason !== "max-instructions") return r;
      await new Promise((res) => setImmediate(res)); // signals, stdin, stdout
    }
  } finally {
    if (timer) clearTimeout(timer);
    for (const [s, h] of handlers) io.signals?.removeListener(s, h);
    if (input) {
      input.removeListener("data", feed);
      input.pause();
      input.destroy?.();
    }
  }
}
