// args.ts — the `wasmvisor` command line: usage text, option parsing, value parsers. Pure: no I/O.
import { MAX_RAM_SIZE } from "../abi.generated.ts";
import { MODES } from "../vm.ts";
import { PC_PLATFORMS, RTC_MAX_START, type PcPlatformKind } from "../devices/index.ts";

export const DEFAULT_MEM = 64 * 1024 * 1024;
/** Multiboot kernels conventionally load at 1 MiB, so less than 2 MiB leaves no room for them. */
export const MIN_MEM = 2 * 1024 * 1024;

export const USAGE = `Usage: wasmvisor run <image.elf> [options]         (image.elf: or a Linux bzImage)
       wasmvisor restore <vm.snap> [--stats-file FILE] [--timeout DURATION]
       wasmvisor bench [--json [FILE]] [--report DIR] [bench options]
       wasmvisor serve [--port N] [--xv6 DIR]
       wasmvisor --help | --version

Runs a 32-bit x86 multiboot (v1) kernel, an ELF file, or a Linux bzImage (found by its "HdrS" setup
header; booted by the Linux/x86 32-bit boot protocol; native, hw or full mode) on wasmvisor's WebAssembly x86 CPU.
The guest's console (COM1 and port 0xe9) goes to stdout; the exit status is the guest's
isa-debug-exit status ((value << 1) | 1, as QEMU's -device isa-debug-exit,iobase=0xf4).

Options for run:
  --mode MODE             execution mode: native (default) or full (trap-and-emulate, shadow page tables)
                          or para (a PV kernel: build/guests/workloads-pv/*.elf; hypercalls, virtio)
                          or hw (VT-x-like: the kernel at ring 0 in guest mode, nested paging)
  --npt on|off            hw mode's memory virtualization: on (default: nested paging, EPT-like) or off
                          (shadow page tables with CR3/INVLPG/#PF exits, as first-generation VT-x)
  --full-translate HOW    full mode's x86-hole handling: runtime (default: the CPU hands each sensitive
                          instruction over as it runs) or static (the old INT3 sweep of the kernel's ELF)
  --mem SIZE              guest RAM, e.g. 64M (default), 512M, 1G, 8192K; a plain number is MiB
  --max-instructions N    stop after N instructions (N may end in k, M or G)
  --timeout DURATION      stop after this much wall-clock time, e.g. 500ms, 30s, 2m, 1h (a plain number is s)
  --cmdline TEXT          kernel command line (multiboot information, or a bzImage's boot_params)
  --append TEXT           the same as --cmdline (QEMU's -append), e.g. "console=ttyS0"
  --initrd FILE           with a bzImage: the initial RAM disk (QEMU's -initrd), placed at the top of RAM
  --disk FILE[,OPTS]      raw disk image on the ATA primary master (virtio-blk in para mode); OPTS:
                            readonly   attach it read-only (guest writes fail with an I/O error)
                            lock=off   do not lock the image (by default it is locked as QEMU does: a
                                       second writer, wasmvisor or QEMU, is refused)
  --disk2 FILE[,OPTS]     raw disk image on the ATA primary slave (para mode: a second virtio-blk)
  --platform KIND         PC devices: mp (default: local APIC, I/O APIC, MP tables, 8259s behind
                          them in virtual-wire mode) or pc (8259s only), in native and full mode;
                          para mode has virtio devices and refuses it, as it refuses --rtc
  --rtc TIME              RTC start: an ISO date (2024-05-01T12:00:00Z), seconds since 1970, or now
                          (default 2000-01-01T00:00:00Z, so runs stay deterministic)
  --stats-file FILE       write run statistics (instructions, MIPS, exits, ports, IRQs) as JSON, however
                          the run ends (also on --timeout, a signal or a console error)
  --snapshot-at N         stop when the CPU has retired exactly N instructions and save the whole VM
  --snapshot-file FILE    where --snapshot-at writes it (default vm.snap); status 0 once written
  --gdb PORT              serve the GDB remote protocol on 127.0.0.1:PORT (gdb: target remote :PORT)
  --gdb-wait              with --gdb: stop before the first instruction until gdb continues (QEMU's -S)

restore continues a snapshot in this process: same mode, options, RAM, CPU, devices and disks
(a disk image file must be unchanged since the snapshot; an in-memory one is inside it).

Exit status:
  odd N   the guest wrote (N-1)/2 to isa-debug-exit (port 0xf4)
  0       --help, --version
  2       usage error (unknown option, bad value, --gdb port in use, --initrd with a multiboot image,
          a bzImage in para mode or with --full-translate static)
  4       the image, disk or snapshot cannot be used (missing, not a regular file, not a 32-bit x86
          ELF, a malformed bzImage, does not fit in RAM, locked by another process, a corrupt or changed snapshot...), or
          the stats or snapshot file cannot be written; serve: its port is in use
  6       --max-instructions reached
  8       the guest halted for good (hlt with interrupts disabled, or nothing left to wake it)
  10      triple fault
  12      internal error (a wasmvisor bug; one line on stderr)
  14      --timeout reached
  16      stopped by SIGINT, SIGTERM or SIGHUP (a second signal exits at once)
  18      the console could not be written: stdout closed by its reader (EPIPE, e.g. | head: no
          message) or failing (ENOSPC, EIO: one line)
wasmvisor's own statuses are even, so they never collide with a guest's (odd) status.

bench: measures MIPS on the shared peer workload against the native binary (see scripts/bench.mjs --help);
  --report DIR writes a Markdown report with SVG charts and the JSON to DIR.

serve: serves the browser page (the same CPU and modes in a Web Worker, an xterm.js console, live
  counters and charts), build/cpu.wasm and the guests on http://127.0.0.1:PORT/ until Ctrl-C (status 0).
  --port N     the TCP port (default 8080; 0 picks a free one); in use: one line, status 4
  --xv6 DIR    xv6's kernel.elf and fs.img (default ../shared/guests/xv6 beside the package, if there)
`;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A --disk / --disk2 value: the file and its options. */
export interface DiskSpec {
  path: string;
  readonly?: boolean;
  /** false: lock=off */
  lock?: boolean;
}

export interface RunArgs {
  command: "run";
  image: string;
  mode: string;
  memSize: number;
  maxInstructions?: number;
  /** --timeout in milliseconds */
  timeoutMs?: number;
  cmdline: string;
  /** --initrd: a bzImage's initial RAM disk */
  initrd?: string;
  disk?: DiskSpec;
  disk2?: DiskSpec;
  platform?: PcPlatformKind;
  rtcStart?: number;
  statsFile?: string;
  snapshotAt?: number;
  snapshotFile?: string;
  gdbPort?: number;
  gdbWait?: boolean;
  /** --full-translate */
  translate?: "runtime" | "static";
  /** --npt (hw mode): false for off */
  npt?: boolean;
}
export interface RestoreArgs { command: "restore"; snapshot: string; statsFile?: string; timeoutMs?: number }
export type CliArgs = RunArgs | RestoreArgs | { command: "help" } | { command: "version" } | { command: "bench"; args: string[] };

const UNITS: Record<string, number> = { "": 1 << 20, k: 1 << 10, m: 1 << 20, g: 1 << 30 };

/** A byte count as --mem writes it: whole MiB as "3840M", else KiB. Unsigned: sizes reach 3.75 GiB. */
export function formatSize(bytes: number): string {
  return bytes % (1 << 20) === 0 ? `${bytes / (1 << 20)}M` : `${Math.floor(bytes / 1024)}K`;
}

/** Parses a --mem value: digits with an optional K/M/G suffix (optionally followed by B or iB); no suffix = MiB. */
export function parseMemSize(s: string): number {
  const m = /^(\d+)\s*([kmg]?)(?:i?b)?$/i.exec(s.trim());
  if (!m || (m[2] === "" && /b$/i.test(s.trim()))) throw new UsageError(`bad --mem '${s}' (expected a size such as 64M, 512M, 1G)`);
  const bytes = Number(m[1]) * UNITS[m[2].toLowerCase()];
  if (bytes < MIN_MEM) throw new UsageError(`--mem ${s} is too small (at least ${formatSize(MIN_MEM)}: multiboot kernels load at 1 MiB)`);
  if (bytes > MAX_RAM_SIZE) throw new UsageError(`--mem ${s} is too large (at most ${formatSize(MAX_RAM_SIZE)})`);
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

/** A --timeout value as a user would write it: 500ms, 30s, 1.5s. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${ms / 1000}s`;
}

/** setTimeout's limit: about 24.8 days. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Parses a --timeout value: a positive number with ms, s, m or h (default s); returns milliseconds. */
export function parseDuration(s: string, what = "--timeout"): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(s.trim());
  const ms = m ? Math.round(Number(m[1]) * { ms: 1, s: 1e3, m: 60e3, h: 3600e3 }[(m[2] ?? "s").toLowerCase() as "s"]) : NaN;
  if (!(ms >= 1)) throw new UsageError(`bad ${what} '${s}' (expected a duration such as 500ms, 30s, 2m or 1h)`);
  if (ms > MAX_TIMEOUT_MS) throw new UsageError(`${what} ${s} is too long (at most 24 days)`);
  return ms;
}

/** Parses FILE[,readonly][,lock=on|off]: options are taken from the end, so a file name may contain commas. */
export function parseDiskSpec(s: string, what = "--disk"): DiskSpec {
  const parts = s.split(",");
  const spec: Partial<DiskSpec> = {};
  while (parts.length > 1) {
    const opt = parts[parts.length - 1];
    if (opt === "readonly" || opt === "readonly=on") spec.readonly = true;
    else if (opt === "readonly=off") spec.readonly = false;
    else if (opt === "lock=off") spec.lock = false;
    else if (opt === "lock=on") spec.lock = true;
    else if (/^[a-z-]+(=.*)?$/.test(opt)) throw new UsageError(`unknown ${what} option '${opt}' (options: readonly, lock=off)`);
    else break;
    parts.pop();
  }
  const path = parts.join(",");
  if (!path) throw new UsageError(`${what} needs a file name`);
  return { path, ...spec };
}

const RUN_OPTIONS = ["--mode", "--full-translate", "--npt", "--mem", "--max-instructions", "--timeout", "--cmdline", "--append", "--initrd", "--disk", "--disk2", "--platform", "--rtc", "--stats-file", "--snapshot-at", "--snapshot-file", "--gdb"] as const;

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
  if (cmd === "restore") return parseRestoreArgs(rest);
  if (cmd !== "run") {
    if (cmd.startsWith("-")) throw new UsageError(`unknown option '${cmd}' (try \`wasmvisor --help\`)`);
    throw new UsageError(`unknown command '${cmd}' (commands: run, restore, bench, serve; try \`wasmvisor --help\`)`);
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
      case "--full-translate":
        if (value !== "runtime" && value !== "static") throw new UsageError(`unknown --full-translate '${value}' (runtime or static)`);
        out.translate = value;
        break;
      case "--npt":
        if (value !== "on" && value !== "off") throw new UsageError(`unknown --npt '${value}' (on or off)`);
        out.npt = value === "on";
        break;
      case "--mem": out.memSize = parseMemSize(value); break;
      case "--max-instructions": out.maxInstructions = parseCount(value); break;
      case "--timeout": out.timeoutMs = parseDuration(value); break;
      case "--cmdline": case "--append": out.cmdline = value; break;
      case "--initrd":
        if (!value) throw new UsageError("--initrd needs a file name");
        out.initrd = value;
        break;
      case "--disk": out.disk = parseDiskSpec(value, "--disk"); break;
      case "--disk2": out.disk2 = parseDiskSpec(value, "--disk2"); break;
      case "--platform":
        if (!(PC_PLATFORMS as readonly string[]).includes(value)) throw new UsageError(`unknown --platform '${value}' (platforms: ${PC_PLATFORMS.join(", ")})`);
        out.platform = value as PcPlatformKind;
        break;
      case "--rtc": out.rtcStart = parseRtc(value); break;
      case "--stats-file":
        if (!value) throw new UsageError("--stats-file needs a file name");
        out.statsFile = value;
        break;
      case "--snapshot-at": out.snapshotAt = parseCount(value, "--snapshot-at"); break;
      case "--snapshot-file":
        if (!value) throw new UsageError("--snapshot-file needs a file name");
        out.snapshotFile = value;
        break;
      case "--gdb":
        if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw new UsageError(`bad --gdb port '${value}' (expected 1..65535)`);
        out.gdbPort = Number(value);
        break;
    }
  }
  if (out.gdbWait && out.gdbPort === undefined) throw new UsageError("--gdb-wait needs --gdb PORT");
  if (out.gdbPort !== undefined && out.snapshotAt !== undefined) throw new UsageError("--gdb and --snapshot-at cannot be combined");
  if (!positional.length) throw new UsageError("run needs an image file (wasmvisor run <image.elf>)");
  if (positional.length > 1) throw new UsageError(`run takes one image file, got ${positional.length}: ${positional.join(" ")}`);
  out.image = positional[0];
  if (out.snapshotFile !== undefined && out.snapshotAt === undefined) throw new UsageError("--snapshot-file needs --snapshot-at N (the instruction to stop at)");
  return out as RunArgs;
}

function parseRestoreArgs(rest: string[]): RestoreArgs | { command: "help" } {
  const out: Partial<RestoreArgs> = { command: "restore" };
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === "-h" || a === "--help") return { command: "help" };
    if (!a.startsWith("-") || a === "-") { positional.push(a); continue; }
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (name !== "--stats-file" && name !== "--timeout") throw new UsageError(`unknown option '${name}' for restore (try \`wasmvisor --help\`)`);
    const value = eq > 0 ? a.slice(eq + 1) : rest[++i];
    if (!value) throw new UsageError(`${name} needs a value`);
    if (name === "--timeout") out.timeoutMs = parseDuration(value);
    else out.statsFile = value;
  }
  if (positional.length !== 1) throw new UsageError(`restore takes one snapshot file, got ${positional.length}`);
  out.snapshot = positional[0];
  return out as RestoreArgs;
}
