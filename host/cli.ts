// cli.ts — the `wasmvisor` command. Bundled to dist/cli.js by scripts/build-cli.mjs, whose entry calls cliEntry().
// No side effects on import, so tests can call parseCliArgs() and main() directly. The parts: host/cli/args.ts
// (usage, parsing), host/cli/run.ts (the run loop), host/cli/disk.ts + disk-lock.ts (files, image locks),
// host/cli/console-sink.ts (console streaming with back-pressure), host/cli/serve.ts (the browser page over HTTP).
//
// Exit statuses (EXIT_STATUS in host/vm.ts; listed in USAGE and README.md): odd = the guest's isa-debug-exit status
// ((value << 1) | 1, as QEMU); 0 for --help/--version/bench success; 2 usage error; 4 unusable image/disk/stats file;
// 6 --max-instructions reached; 8 guest halted for good; 10 triple fault; 12 internal error (any host exception);
// 14 --timeout; 16 SIGINT/SIGTERM/SIGHUP; 18 console output failed (EPIPE quietly, ENOSPC...).
import { readFileSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { EXIT_STATUS } from "./vm.ts";
import { parseCliArgs, UsageError, USAGE, type CliArgs } from "./cli/args.ts";
import { run, restore, type CliIo } from "./cli/run.ts";
import { readInput } from "./cli/disk.ts";
import { parseServeArgs, serve } from "./cli/serve.ts";

export { DEFAULT_MEM, MIN_MEM, USAGE, UsageError, parseCliArgs, parseCount, parseDiskSpec, parseDuration, parseMemSize, parseRtc, formatSize } from "./cli/args.ts";
export type { CliArgs, RunArgs, RestoreArgs, DiskSpec } from "./cli/args.ts";
export type { CliIo } from "./cli/run.ts";

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

const processIo: CliIo = {
  stdout: (t) => { process.stdout.write(t); },
  stderr: (t) => { process.stderr.write(t); },
  stdin: process.stdin,
  console: process.stdout,
  signals: process,
  exitNow: (status) => process.exit(status),
};

/** One line for an error that escaped everything else: never a stack trace. */
function internalError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return `wasmvisor: internal error: ${msg.replace(/^wasmvisor:? /, "").split("\n")[0]}`;
}

/** Runs the CLI; returns the process exit status. Any exception becomes one line on stderr and status 12. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const err = (msg: string) => io.stderr(`wasmvisor: ${msg}\n`);
  let args: CliArgs;
  try {
    if (argv[0] === "serve") { // its own options (host/cli/serve.ts)
      const s = parseServeArgs(argv.slice(1));
      if ("help" in s) { io.stdout(USAGE); return 0; }
      return await serve(s, { stdout: io.stdout, signals: io.signals }, err, packageRoot());
    }
    args = parseCliArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) { err(e.message); return EXIT_STATUS.USAGE; }
    io.stderr(internalError(e) + "\n");
    return EXIT_STATUS.INTERNAL;
  }
  try {
    switch (args.command) {
      case "help": io.stdout(USAGE); return 0;
      case "version": io.stdout(`wasmvisor ${version()}\n`); return 0;
      case "bench": return bench(args.args, err);
      case "run": return await run(args, io, err, packageRoot());
      case "restore": return await restore(args, io, err, (f) => readInput(f, "snapshot"));
    }
  } catch (e) {
    io.stderr(internalError(e) + "\n");
    return EXIT_STATUS.INTERNAL;
  }
}

/** The process entry (dist/cli.js): main() with the process's streams; nothing escapes as a stack trace. */
export async function cliEntry(): Promise<void> {
  const die = (e: unknown) => {
    try { process.stderr.write(internalError(e) + "\n"); } catch { /* stderr gone too */ }
    process.exit(EXIT_STATUS.INTERNAL);
  };
  process.on("uncaughtException", die);
  process.on("unhandledRejection", die);
  process.stderr.on("error", () => {}); // a closed stderr must not become an uncaught exception
  process.exitCode = await main(process.argv.slice(2));
}

function bench(args: string[], err: (m: string) => void): number {
  const script = join(packageRoot(), "scripts", "bench.mjs");
  if (!existsSync(script)) { err(`bench script not found at ${script}`); return EXIT_STATUS.INTERNAL; }
  const r = spawnSync(process.execPath, [script, ...args], { stdio: "inherit" });
  if (r.error) { err(`cannot run the bench: ${r.error.message}`); return EXIT_STATUS.INTERNAL; }
  return r.status ?? EXIT_STATUS.INTERNAL;
}
