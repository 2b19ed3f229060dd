// cli.ts — the `wasmvisor` command. Bundled to dist/cli.js by scripts/build-cli.mjs, whose entry calls main().
// No side effects on import, so tests can call parseCliArgs() and main() directly.
//
// Exit statuses (EXIT_STATUS in host/vm.ts): odd = the guest's isa-debug-exit status ((value << 1) | 1, as QEMU);
// 0 for --help/--version/bench success; 2 usage error; 4 unusable image/disk; 6 --max-instructions reached;
// 8 guest halted for good; 10 triple fault; 12 internal error.
import { readFileSync, writeFileSync, statSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { EXIT_STATUS, MODES, checkMode, Vm, VmConfigError } from "./vm.ts";
import { ElfError } from "./elf.ts";
import { MultibootError, loadMultiboot } from "./multiboot.ts";
import { MAX_RAM_SIZE } from "./abi.generated.ts";
import { FileBackend } from "./devices/block.ts";
import { PC_PLATFORMS, RTC_MAX_START, type PcPlatformKind } from "./devices/index.ts";
import { FullVm } from "./full/fullvm.ts";
import { ParaVm } from "./para/vm.ts"; // para mode
import type { RunResult } from "./vm.ts";
import { runWithGdb, GdbPortError } from "./gdb/server.ts";
import { MachineTarget, FullTarget, ParaTarget, type DebugTarget } from "./gdb/target.ts";

/** The debug target of a VM: the guest's view of its CPU and memory in each mode. */
function gdbTarget(vm: Vm | FullVm | ParaVm): DebugTarget {
  if (vm instanceof FullVm) return new FullTarget(vm.machine, vm.monitor, vm.guestRam);
  if (vm instanceof ParaVm) return new ParaTarget(vm.machine, vm.policy);
  return new MachineTarget(vm.machine);
}

export const DEFAULT_MEM = 64 * 1024 * 1024;
/** Multiboot kernels conventionally load at 1 MiB, so less than 2 MiB leaves no room for them. */
export const MIN_MEM = 2 * 1024 * 1024;

export const USAGE = `Usage: wasmvisor run <image.elf> [options]
       wasmvisor bench [--json] [bench options]
       wasmvisor --help | --version

Runs a 32-bit x86 multiboot (v1) kernel, an ELF file, on wasmvisor's WebAssembly x86 CPU.
The guest's console (COM1 and port 0xe9) goes to stdout; the exit status is the guest's
isa-debug-exit status ((value << 1) | 1, as QEMU's -device isa-debug-exit,iobase=0xf4).

Options for run:
  --mode MODE             execution mode: native (default) or full (trap-and-emulate, shadow page tables)
                          or para (a PV kernel: build/guests/workloads-pv/*.elf; hypercalls, virtio)
  --mem SIZE              guest RAM, e.g. 64M (default), 512M, 1G, 8192K; a plain number is MiB
  --max-instructions N    stop after N instructions (N may end in k, M or G)
  --cmdline TEXT          kernel command line passed in the multiboot information
  --disk FILE             raw disk image on the ATA primary master
  --disk2 FILE            raw disk image on the ATA primary slave (native mode)
  --platform KIND         native mode devices: mp (default: local APIC, I/O APIC, MP tables, 8259s behind
                          them in virtual-wire mode) or pc (8259s only)
  --rtc TIME              RTC start: an ISO date (2024-05-01T12:00:00Z), seconds since 1970, or now
                          (default 2000-01-01T00:00:00Z, so runs stay deterministic)
  --stats-file FILE       write run statistics (instructions, MIPS, exits, ports, IRQs) as JSON
  --gdb PORT              serve the GDB remote protocol on 127.0.0.1:PORT (gdb: target remote :PORT)
  --gdb-wait              with --gdb: stop before the first instruction until gdb continues (QEMU's -S)

Exit status:
  odd N   the guest wrote (N-1)/2 to isa-debug-exit (port 0xf4)
  0       --help, --version
  2       usage error (unknown option, bad value, --gdb port in use)
  4       the image or disk cannot be used (missing, not a 32-bit x86 ELF, does not fit in RAM...)
  6       --max-instructions reached
  8       the guest halted for good (hlt with interrupts disabled, or nothing left to wake it)
  10      triple fault
  12      internal error

bench: measures MIPS on the shared peer workload against the native binary (see scripts/bench.mjs --help).
`;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export interface RunArgs {
  command: "run";
  image: string;
  mode: string;
  memSize: number;
  maxInstructions?: number;
  cmdline: string;
  disk?: string;
  disk2?: string;
  platform?: PcPlatformKind;
  rtcStart?: number;
  statsFile?: string;
  gdbPort?: number;
  gdbWait?: boolean;
}
export type CliArgs = RunArgs | { command: "help" } | { command: "version" } | { command: "bench"; args: string[] };

const UNITS: Record<string, number> = { "": 1 << 20, k: 1 << 10, m: 1 << 20, g: 1 << 30 };

/** Parses a --mem value: digits with an optional K/M/G suffix (optionally followed by B or iB); no suffix = MiB. */
export function parseMemSize(s: string): number {
  const m = /^(\d+)\s*([kmg]?)(?:i?b)?$/i.exec(s.trim());
  if (!m || (m[2] === "" && /b$/i.test(s.trim()))) throw new UsageError(`bad --mem '${s}' (expected a size such as 64M, 512M, 1G)`);
  const bytes = Number(m[1]) * UNITS[m[2].toLowerCase()];
  if (bytes < MIN_MEM) throw new UsageError(`--mem ${s} is too small (at least ${MIN_MEM >> 20}M: multiboot kernels load at 1 MiB)`);
  if (bytes > MAX_RAM_SIZE) throw new UsageError(`--mem ${s} is too large (at most ${MAX_RAM_SIZE / (1 << 20)}M)`);
  if (bytes % 4096) throw new UsageError(`--mem ${s} is not a multiple of 4K`);
  return bytes;
}

/** Parses a --max-instructions value: a positive integer, optionally with _ separators and a k/M/G suffix (10^3/6/9). */
export function parseCount(s: string, what = "--max-instructions"): number {
  const m = /^(\d[\d_]*)([kmg]?)$/i.exec(s.trim());
  const n = m ? Number(m[1].replace(/_/g, "")) * { "": 1, k: 1e3, m: 1e6, g: 1e9 }[m[2].toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`bad ${what} '${s}' (expected a positive integer such as 1000000 or 5G)`);
  return n;
}

const RUN_OPTIONS = ["--mode", "--mem", "--max-instructions", "--cmdline", "--disk", "--disk2", "--platform", "--rtc", "--stats-file", "--gdb"] as const;

/** Parses an --rtc value: "now", seconds since 1970, or an ISO 8601 date. */
export function parseRtc(s: string): number {
  const bad = () => new UsageError(`bad --rtc '${s}' (expected now, seconds since 1970, or a date from 1970 to 9999 such as 2024-05-01T12:00:00Z)`);
  let t: number;
  if (s === "now") t = Math.floor(Date.now() / 1000);
  else if (/^\d+$/.test(s)) t = Number(s);
  else {
    const ms = Date.parse(s);
    if (!/^\d{4}-\d\d-\d\d/.test(s) || Number.isNaN(ms)) throw bad();
    t = Math.floor(ms / 1000);
  }
  if (!(t >= 0 && t <= RTC_MAX_START)) throw bad();
  return t;
}

export function parseCliArgs(argv: string[]): CliArgs {
  if (!argv.length) throw new UsageError("no command given (try `wasmvisor --help`)");
  const [cmd, ...rest] = argv;
  if (cmd === "-h" || cmd === "--help" || cmd === "help") return { command: "help" };
  if (cmd === "-V" || cmd === "--version" || cmd === "version") return { command: "version" };
  if (cmd === "bench") return { command: "bench", args: rest };
  if (cmd !== "run") {
    if (cmd.startsWith("-")) throw new UsageError(`unknown option '${cmd}' (try \`wasmvisor --help\`)`);
    throw new UsageError(`unknown command '${cmd}' (commands: run, bench; try \`wasmvisor --help\`)`);
  }
  const out: Partial<RunArgs> & { command: "run" } = { command: "run", mode: "native", memSize: DEFAULT_MEM, cmdline: "" };
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === "--") { positional.push(...rest.slice(i + 1)); break; }
    if (a === "-h" || a === "--help") return { command: "help" };
    if (!a.startsWith("-") || a === "-") { positional.push(a); continue; }
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (name === "--gdb-wait" && eq < 0) { out.gdbWait = true; continue; } // a flag, no value
    if (!(RUN_OPTIONS as readonly string[]).includes(name)) throw new UsageError(`unknown option '${name}' for run (try \`wasmvisor --help\`)`);
    let value: string;
    if (eq > 0) value = a.slice(eq + 1);
    else {
      if (i + 1 >= rest.length) throw new UsageError(`option '${name}' needs a value`);
      value = rest[++i];
    }
    switch (name as (typeof RUN_OPTIONS)[number]) {
      case "--mode":
        if (!(MODES as readonly string[]).includes(value)) throw new UsageError(`unknown --mode '${value}' (modes: ${MODES.join(", ")})`);
        out.mode = value;
        break;
      case "--mem": out.memSize = parseMemSize(value); break;
      case "--max-instructions": out.maxInstructions = parseCount(value); break;
      case "--cmdline": out.cmdline = value; break;
      case "--disk":
        if (!value) throw new UsageError("--disk needs a file name");
        out.disk = value;
        break;
      case "--disk2":
        if (!value) throw new UsageError("--disk2 needs a file name");
        out.disk2 = value;
        break;
      case "--platform":
        if (!(PC_PLATFORMS as readonly string[]).includes(value)) throw new UsageError(`unknown --platform '${value}' (platforms: ${PC_PLATFORMS.join(", ")})`);
        out.platform = value as PcPlatformKind;
        break;
      case "--rtc": out.rtcStart = parseRtc(value); break;
      case "--stats-file":
        if (!value) throw new UsageError("--stats-file needs a file name");
        out.statsFile = value;
        break;
      case "--gdb":
        if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw new UsageError(`bad --gdb port '${value}' (expected 1..65535)`);
        out.gdbPort = Number(value);
        break;
    }
  }
  if (out.gdbWait && out.gdbPort === undefined) throw new UsageError("--gdb-wait needs --gdb PORT");
  if (!positional.length) throw new UsageError("run needs an image file (wasmvisor run <image.elf>)");
  if (positional.length > 1) throw new UsageError(`run takes one image file, got ${positional.length}: ${positional.join(" ")}`);
  out.image = positional[0];
  return out as RunArgs;
}

/** The package root: host/ in the source tree and dist/ in the bundle both sit one level below it. */
export function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), "..");
}

export function version(): string {
  try {
    return JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** console input for the guest's COM1 (native mode), read while the guest runs */
  stdin?: NodeJS.ReadableStream & { destroy?(): void };
}

const processIo: CliIo = {
  stdout: (t) => { process.stdout.write(t); },
  stderr: (t) => { process.stderr.write(t); },
  stdin: process.stdin,
};

function readInput(path: string, what: string): Uint8Array {
  checkInput(path, what);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new InputError(`cannot read ${what} '${path}': ${(e as Error).message}`);
  }
}

function checkInput(path: string, what: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read ${what} '${path}': ${code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  if (st.isDirectory()) throw new InputError(`cannot read ${what} '${path}': it is a directory`);
}

class InputError extends Error {}

/** A raw disk image file, written in place as QEMU does with raw images; read-only if the file is. */
function openDisk(path: string, warn: (line: string) => void): FileBackend {
  checkInput(path, "disk image");
  // a file nobody may write (mode without w bits) is read-only even for root, who could open it anyway
  const readOnlyFile = (statSync(path).mode & 0o222) === 0;
  try {
    if (readOnlyFile) throw Object.assign(new Error("the file is read-only"), { code: "EACCES" });
    return new FileBackend(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EROFS" || code === "EPERM") {
      try {
        const b = new FileBackend(path, { readonly: true });
        warn(`wasmvisor: disk image '${path}' is read-only: attached read-only, guest writes fail with an ATA/virtio error`);
        return b;
      } catch { /* report the first error */ }
    }
    throw new InputError(`cannot open disk image '${path}': ${(e as Error).message}`);
  }
}

/** How long the guest runs between looks at the console input (instructions). */
const INPUT_POLL_SLICE = 20_000_000;

/**
 * Run the VM; with a console that takes input (native mode's COM1), in slices, handing stdin to the guest as it
 * arrives (paced by the VM: one character when the receiver is ready). Without one, in one go.
 */
async function runWithInput(vm: Vm | FullVm | ParaVm, maxInstructions: number | undefined, input: CliIo["stdin"]) {
  const platform = (vm as { platform?: { receive?(b: Uint8Array): void } }).platform;
  const machine = (vm as { machine?: { instructions: number } }).machine;
  if (!input || !platform?.receive || !machine) return vm.run({ maxInstructions });
  const feed = (b: Buffer | string) => platform.receive!(typeof b === "string" ? Buffer.from(b) : new Uint8Array(b));
  input.on("data", feed);
  input.on("error", () => {});
  try {
    let left = maxInstructions ?? Infinity;
    for (;;) {
      const before = machine.instructions;
      const r = vm.run({ maxInstructions: Math.min(left, INPUT_POLL_SLICE) });
      left -= machine.instructions - before;
      if (r.stopReason !== "max-instructions") return r;
      if (left <= 0) return { ...r, message: `stopped after ${maxInstructions} instructions (--max-instructions)` };
      await new Promise((res) => setImmediate(res)); // let stdin deliver
    }
  } finally {
    input.removeListener("data", feed);
    input.pause();
    input.destroy?.();
  }
}

/** Runs the CLI; returns the process exit status. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const err = (msg: string) => io.stderr(`wasmvisor: ${msg}\n`);
  let args: CliArgs;
  try {
    args = parseCliArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) { err(e.message); return EXIT_STATUS.USAGE; }
    throw e;
  }
  switch (args.command) {
    case "help": io.stdout(USAGE); return 0;
    case "version": io.stdout(`wasmvisor ${version()}\n`); return 0;
    case "bench": return bench(args.args, err);
    case "run": return run(args, io, err);
  }
}

function bench(args: string[], err: (m: string) => void): number {
  const script = join(packageRoot(), "scripts", "bench.mjs");
  if (!existsSync(script)) { err(`bench script not found at ${script}`); return EXIT_STATUS.INTERNAL; }
  const r = spawnSync(process.execPath, [script, ...args], { stdio: "inherit" });
  if (r.error) { err(`cannot run the bench: ${r.error.message}`); return EXIT_STATUS.INTERNAL; }
  return r.status ?? EXIT_STATUS.INTERNAL;
}

async function run(a: RunArgs, io: CliIo, err: (m: string) => void): Promise<number> {
  let vm: Vm | FullVm | ParaVm;
  try {
    checkMode(a.mode);
    const image = readInput(a.image, "image");
    const disk = a.disk !== undefined ? openDisk(a.disk, (l) => io.stderr(l + "\n")) : undefined;
    const disk2 = a.disk2 !== undefined ? openDisk(a.disk2, (l) => io.stderr(l + "\n")) : undefined;
    if (disk2 && a.mode !== "native") throw new VmConfigError(`--disk2 is only available in native mode`);
    // Check the image against the RAM size before creating the VM (and compiling the CPU): a dry-run load.
    loadMultiboot(image, { ramSize: a.memSize, writeMem: () => {}, fillMem: () => {} }, { cmdline: a.cmdline });
    try {
      // para mode: a PV kernel (guests/kit/pv), hypercalls and virtio devices (host/para/README.md)
      if (a.mode === "para") vm = new ParaVm({ memSize: a.memSize, disk, onConsole: io.stdout });
      else vm = a.mode === "full" ? new FullVm({ memSize: a.memSize, disk, onConsole: io.stdout }) : new Vm({ memSize: a.memSize, disk, disk2, platformKind: a.platform, rtcStart: a.rtcStart, onConsole: io.stdout });
    } catch (e) {
      if (e instanceof RangeError && /memory/i.test(e.message)) throw new InputError(`cannot allocate ${a.memSize >> 20}M of guest memory: ${e.message}`);
      throw e;
    }
    vm.loadMultiboot(image, { cmdline: a.cmdline });
  } catch (e) {
    if (e instanceof VmConfigError) { err(e.message); return EXIT_STATUS.USAGE; }
    if (e instanceof InputError) { err(e.message); return EXIT_STATUS.BAD_INPUT; }
    if (e instanceof ElfError || e instanceof MultibootError) { err(`${a.image}: ${e.message}`); return EXIT_STATUS.BAD_INPUT; }
    if (e instanceof Error && e.message.startsWith("wasmvisor: ")) { io.stderr(e.message + "\n"); return EXIT_STATUS.INTERNAL; }
    throw e;
  }
  let r: RunResult;
  if (a.gdbPort !== undefined) {
    try {
      r = await runWithGdb(vm, gdbTarget(vm), { port: a.gdbPort, wait: a.gdbWait, maxInstructions: a.maxInstructions, log: (l) => io.stderr(`wasmvisor: ${l}\n`) });
    } catch (e) {
      if (e instanceof GdbPortError) { err(e.message); return EXIT_STATUS.USAGE; }
      throw e;
    }
  } else r = await runWithInput(vm, a.maxInstructions, io.stdin);
  if (r.stopReason !== "debug-exit") err(r.message);
  if (a.statsFile) {
    const json = { image: a.image, mode: a.mode, memSize: a.memSize, exitStatus: r.exitStatus, message: r.message, ...vm.stats.toJSON() };
    try {
      writeFileSync(a.statsFile, JSON.stringify(json, null, 1) + "\n");
    } catch (e) {
      err(`cannot write the stats file '${a.statsFile}': ${(e as Error).message}`);
      return EXIT_STATUS.BAD_INPUT;
    }
  }
  return r.exitStatus;
}
