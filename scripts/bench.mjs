// bench.mjs — wasmvisor's MIPS on the shared peer workload (guests/peers, origin /work/shared/peers), measured
// the way shared/peers/bench.mjs measures native, QEMU and v86, so the figures stand beside theirs.
//
// usage: node scripts/bench.mjs [--quick | --full | --smoke] [--runs N] [--rows native,native-mode] [--reps R1,R2]
//                               [--native-reps R1,R2] [--sections peers,workloads,trap,disk,pt] [--workloads a,b]
//                               [--modes native,full,para] [--suite-runs N] [--json [FILE]] [--report DIR]
//                               [--ci-target F] [--time-cap S] [--xv6-runs N] [--usertests [N]] [--xv6-cap S]
//                               [--linux-runs N] [--linux-cap S] [--scale-max N] [--scale-runs N] [--no-build] [--help]
//   (also `wasmvisor bench [...]`, `npm run bench -- [...]`)
//
// Two parts, measured in the same invocation:
//   peers   this file: MIPS on the shared peer workload per row, ratio to the native binary, paging on/off, and
//           full mode on the same unmodified guest (rows full-mode / full-mode-paging).
//   suite   scripts/bench/suite.mjs: every guests/workloads program in native, full, para and hw mode (time,
//           instructions and exits by cause per operation, ratios), the trap round trip (guests/bench/trap.S),
//           disk I/O ATA PIO vs virtio-blk at several request sizes, and the page-table-heavy view (fork, mmap,
//           page_fault: shadow paging vs batched mmu_update). Its MIPS inputs come from the peers rows.
//   xv6, linux   scripts/bench/os.mjs: real OSes (MIT's xv6; Debian's i386 kernel + busybox) booted to their shell
//           and driven by commands in each mode, with QEMU TCG on the same images in the same run (ratios ours/QEMU).
//   scale   scripts/bench/scale.mjs: N machines at once, interleaved in one thread and on piscina worker threads.
// Results and the explanation of every ratio: docs/RESULTS.md.
//
// Method (shared/peers/README.md): the workload retires exactly 99857 + REPS*819210 instructions, so for two
// lengths R1 < R2
//     MIPS = (R2 - R1) * 819210 / (median T(R2) - median T(R1))
// which cancels process start, wasm compilation, JIT warm-up and boot. Runs alternate R1 and R2 (R2 first on odd
// pairs). Three timings per run, as in the peers' harness:
//   wall    process spawn to exit
//   in-run  host time between the guest's "BEGIN" and "RESULT" lines on the serial console (emulators only)
//   cpu     user+sys CPU time of the process (/usr/bin/time, if installed)
// Every run's RESULT line must equal the native binary's for the same REPS. The native binary is measured in the
// same invocation (with its own, longer lengths) and the table gives each row's ratio to it. The native binary
// is the i386 build (native-R) where this host executes i386 binaries, else the x86-64 build of the same
// 32-bit-operand loop (native64-R, scripts/host-arch.mjs); where both run, their RESULT lines must agree. With
// neither, the "native" row is reported missing with the reason and the rows' RESULTs are checked against
// each other. Errors end the bench with one line ("bench: ..."), never a stack trace.
//
// Intervals (scripts/bench/stats.mjs): every MIPS, cost and ratio comes with its 95 % interval, a bootstrap over
// the interleaved pairs (peers) or rounds (suite); a figure whose interval includes zero or flips sign is printed
// as "not resolved at this run length", never as a number. After the planned pairs/rounds, more are added while
// some headline ratio's interval is wider than --ci-target (relative width) and the --time-cap allows.
// --report DIR writes report.md, bench.json and SVG charts (scripts/bench/report.mjs). Progress with an ETA goes
// to stderr when it is a terminal (cli-progress); otherwise the bench is quiet until its output.
//
// Rows are a registry (ROWS below): later configurations (modes "full"/"para", ...) are one entry each. The rows
// are interleaved: pair i of every row runs before pair i+1 of any row, so slow drifts in the machine's load hit
// all rows alike. "native-mode-paging" runs the same workload with paging on (guests/peers/kernel-paging.S:
// identity map of 16 MiB with 4 KiB pages, CR0.PG=1, CR4.PSE=0); the table ends with its ratio to paging off.
import { spawn, spawnSync, execFileSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync, mkdirSync, accessSync, constants as fsConstants } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { peersNative, canExec } from "./host-arch.mjs";
import { createRequire } from "node:module";
import { bootstrap, ratio, take, median as smedian, ciJson, fmtCI, lengthen, narrowEnough, UNRESOLVED } from "./bench/stats.mjs";
import { progress } from "./bench/progress.mjs";

// no stack trace reaches a user: anything unexpected is one line and status 1
for (const ev of ["uncaughtException", "unhandledRejection"]) {
  process.on(ev, (e) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}\n`);
    process.exit(1);
  });
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "build/bench");
const CLI = join(ROOT, "dist/cli.js");
const PER_REP = 819210; // instructions per outer repetition (guests/peers/workload.S)
const FIXED = 99857;
const NCPU = cpus().length;

const DEFAULT_ROWS = "native,native-mode,native-mode-paging,full-mode,full-mode-paging,qemu,v86";
// the peers measured in the same run, where installed (the reason is reported where not)
const which = (cmd) => (process.env.PATH ?? "").split(":").map((d) => join(d, cmd)).find((p) => existsSync(p)) ?? null;
const QEMU_BIN = which("qemu-system-i386");
const V86_OK = (() => { try { createRequire(import.meta.url).resolve("v86/package.json"); return true; } catch { return false; } })();
const PEER_MISSING = {
  ...(QEMU_BIN ? {} : { qemu: "qemu-system-i386 not found on PATH (Debian: apt-get install qemu-system-x86)" }),
  ...(V86_OK ? {} : { v86: "the npm package v86 is not installed (npm install v86)" }),
};
import { PRESETS, SECTIONS, MODES as SUITE_MODES, WORKLOADS, planJobs, missingImages, suiteRunner, analyze, renderMarkdown } from "./bench/suite.mjs";
import { runOsSection, renderOsMarkdown, OS_MODES, XV6_COMMANDS as XV6_DEFAULT_COMMANDS } from "./bench/os.mjs";
import { runScaleSection, renderScaleMarkdown, SCALE_REPS } from "./bench/scale-section.mjs";
// the sections after the suite, each its own file: real OSes against QEMU (os.mjs) and many machines (scale.mjs)
const OS_SECTIONS = ["xv6", "linux", "scale"];
// linux takes minutes per mode (40-60 s of CPU each: not in the default set); xv6 (boot + 3 commands, 3 rounds: ≈ 21 s
// of CPU, 106 s of wall at load 10-13) and scale (≈ 4 s of CPU) are; --smoke keeps to the peers and the suite
const DEFAULT_SECTIONS = ["peers", ...SECTIONS, "xv6", "scale"];
const HELP = `usage: node scripts/bench.mjs [options]      (or: wasmvisor bench [options])
  --quick                three rounds of shorter guests (about 1.5 min quiet); --full: more runs, longer guests
  --smoke                tiny iteration counts, one run: checks the plumbing only (test/bench.test.ts)
  --sections a,b         parts to run (default: ${DEFAULT_SECTIONS.join(",")}; --smoke: peers,${SECTIONS.join(",")});
                         pt = the fork/mmap/page_fault view; known also: linux (minutes per mode: not default).
                         xv6    MIT's xv6 (shared/guests/xv6) in each mode and QEMU TCG on the same images: time to the
                                first "$ ", ls / echo hi / cat README, usertests with --usertests or --full (minutes);
                                CPU and wall time, guest instructions, exits by cause, ratios to QEMU (para: not
                                applicable, xv6 is no PV kernel; QEMU absent: its rows are skipped with a message)
                         linux  Debian 12's i386 kernel + busybox initramfs (scripts/fetch-linux.mjs; skipped when it
                                cannot be fetched) in each mode and QEMU TCG: time to the shell prompt and to the end
                                of "uname -a; cat /proc/cpuinfo; ls /; echo $((6*7)); dd ... | md5sum"
                         scale  N = 1..cores machines running the peers guest at once, interleaved in one thread and
                                on N piscina worker threads: guest MIPS total, launches/s per core, and the memory of
                                an idle machine beyond its guest RAM (target <= 1 MiB)
  --workloads a,b        workloads for the suite (default: all of ${Object.keys(WORKLOADS).join(", ")})
  --modes a,b            modes for the suite (default: ${SUITE_MODES.join(",")}) and for xv6/linux (default: ${OS_MODES.join(",")})
  --xv6-runs N           rounds of the xv6 boot and commands (default 3; --full 5, --smoke 1)
  --xv6-commands a,b     the commands typed at xv6's prompt (default: ${XV6_DEFAULT_COMMANDS.join(",")}; "" = boot only)
  --usertests [N]        also run xv6's usertests in N of the rounds (default 1; on with --full; it takes no
                         argument in xv6, so there is no shorter subset)
  --xv6-cap S            xv6 section time cap in seconds (default 900, 3600 with usertests)
  --linux-runs N         rounds of the Linux boot and commands (default 1)
  --linux-cap S          linux section time cap in seconds (default 2400): no session starts after it, a running
                         one is stopped at it and reported so
  --scale-max N          largest N of the scale section (default: the core count, ${cpus().length} here)
  --scale-runs N         rounds of the scale section (default 3; --smoke 1)
  --suite-runs N         rounds of the suite (default 3; --quick 3, --full 5, --smoke 1); medians over rounds
  --runs N               interleaved R1/R2 pairs per peers row (default 5; --quick 3, --full 7, --smoke 1)
  --rows a,b             rows to run (default: ${DEFAULT_ROWS}); known: ROWS
  --reps R1,R2           lengths for the wasmvisor rows (default 50,1050: with the block compiler 10,60 differ by
                         only ~30 ms, too little against process start-up noise for the paging ratio)
  --native-reps R1,R2    lengths for the native row (default 300,3300)
  --json [FILE]          print JSON (to FILE if given) instead of the markdown table
  --report DIR           also write DIR/report.md, DIR/bench.json and SVG charts (overhead, exits, MIPS)
  --ci-target F          add pairs/rounds until each headline ratio's 95 % interval is at most F wide relative
                         to its value (default 0.1, i.e. about ±5 %) ...
  --time-cap S           ... or until the bench has measured for S seconds (default: smoke 0, quick 90, 300,
                         full 1800); figures still wider are reported as such
  --no-build             do not (re)build the guests and dist/cli.js
`;

// ---------------------------------------------------------------- options
const argv = process.argv.slice(2);
const has = (k) => argv.includes(k);
const opt = (k, d) => {
  const i = argv.indexOf(k);
  if (i < 0) return d;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith("--")) return null;
  return v;
};
if (has("--help") || has("-h")) { process.stdout.write(HELP.replace("ROWS", "native, native-mode, native-mode-paging, full-mode, full-mode-paging, qemu, v86")); process.exit(0); }
const PRESET = has("--smoke") ? "smoke" : has("--quick") ? "quick" : has("--full") ? "full" : "default";
if (["--smoke", "--quick", "--full"].filter(has).length > 1) die("choose one of --quick, --full, --smoke");
// quick has 3 pairs: the fewest that give an interval (scripts/bench/stats.mjs)
const PEERS_PRESET = {
  smoke: { runs: "1", reps: "1,2", native: "1,2", qemu: [1, 2], cap: 0 }, quick: { runs: "3", reps: "50,550", native: "300,1800", qemu: [50, 1050], cap: 90 },
  default: { runs: "5", reps: "50,1050", native: "300,3300", qemu: [50, 2050], cap: 300 }, full: { runs: "7", reps: "50,2050", native: "300,6300", qemu: [50, 4050], cap: 1800 },
}[PRESET];
const RUNS = int(opt("--runs", PEERS_PRESET.runs), "--runs");
const REPS = pair(opt("--reps", PEERS_PRESET.reps), "--reps");
const NATIVE_REPS = pair(opt("--native-reps", PEERS_PRESET.native), "--native-reps");
const JSON_OUT = has("--json") ? (opt("--json", null) ?? "-") : null;
const REPORT_DIR = has("--report") ? opt("--report", null) : null;
if (has("--report") && !REPORT_DIR) die("--report needs a directory");
const CI_TARGET = num(opt("--ci-target", "0.1"), "--ci-target");
const TIME_CAP_MS = num(opt("--time-cap", String(PEERS_PRESET.cap)), "--time-cap") * 1e3;
const ROWS = rowsRegistry();
const SECTIONS_SEL = (opt("--sections", null) ?? (PRESET === "smoke" ? ["peers", ...SECTIONS] : DEFAULT_SECTIONS).join(",")).split(",").filter(Boolean);
if (has("--sections") && !SECTIONS_SEL.length) die("--sections needs a list (sections: peers, " + [...SECTIONS, ...OS_SECTIONS].join(", ") + ")");
for (const s of SECTIONS_SEL) if (s !== "peers" && !SECTIONS.includes(s) && !OS_SECTIONS.includes(s)) die(`unknown section '${s}' (sections: peers, ${[...SECTIONS, ...OS_SECTIONS].join(", ")})`);
const ROWS_ASKED = opt("--rows", null);
const SEL = SECTIONS_SEL.includes("peers") ? (ROWS_ASKED ?? DEFAULT_ROWS).split(",").filter(Boolean) : [];
// a peer that is not installed: left out of the default rows (and said so); asked for by name, an error
for (const [n, why] of Object.entries(PEER_MISSING)) {
  if (!SEL.includes(n)) continue;
  if (ROWS_ASKED) die(`row '${n}' cannot run: ${why}`);
  SEL.splice(SEL.indexOf(n), 1);
}
const SUITE_SECTIONS = SECTIONS_SEL.filter((s) => SECTIONS.includes(s));
const OS_SEL = SECTIONS_SEL.filter((s) => OS_SECTIONS.includes(s));
const WL_SEL = (opt("--workloads", null) ?? (SUITE_SECTIONS.includes("workloads") ? Object.keys(WORKLOADS) : ["fork", "mmap", "page_fault"]).join(",")).split(",").filter(Boolean);
for (const w of WL_SEL) if (!WORKLOADS[w]) die(`unknown workload '${w}' (workloads: ${Object.keys(WORKLOADS).join(", ")})`);
const MODES_SEL = (opt("--modes", null) ?? SUITE_MODES.join(",")).split(",").filter(Boolean);
for (const m of MODES_SEL) if (!SUITE_MODES.includes(m)) die(`unknown mode '${m}' (modes: ${SUITE_MODES.join(", ")})`);
// xv6/linux: native, full, hw (para is reported as not applicable when asked for)
const OS_MODES_SEL = has("--modes") ? MODES_SEL : OS_MODES;
const XV6_RUNS = int(opt("--xv6-runs", { smoke: "1", quick: "3", default: "3", full: "5" }[PRESET]), "--xv6-runs");
const USERTESTS = has("--usertests") ? int(opt("--usertests", "1") ?? "1", "--usertests") : PRESET === "full" ? 1 : 0;
if (USERTESTS > XV6_RUNS) die(`--usertests ${USERTESTS} is more than the ${XV6_RUNS} xv6 rounds (--xv6-runs)`);
const XV6_COMMANDS = has("--xv6-commands") ? (opt("--xv6-commands", "") ?? "").split(",").map((c) => c.trim()).filter(Boolean) : XV6_DEFAULT_COMMANDS;
for (const c of XV6_COMMANDS) if (c === "usertests" || !/^[\x20-\x7e]+$/.test(c)) die(`bad xv6 command '${c}' (printable ASCII; usertests has its own option --usertests)`);
const XV6_CAP = num(opt("--xv6-cap", USERTESTS ? "3600" : "900"), "--xv6-cap");
const LINUX_RUNS = int(opt("--linux-runs", "1"), "--linux-runs");
const LINUX_CAP = num(opt("--linux-cap", "2400"), "--linux-cap");
const SCALE_MAX = int(opt("--scale-max", String(cpus().length)), "--scale-max");
const SCALE_RUNS = int(opt("--scale-runs", PRESET === "smoke" ? "1" : "3"), "--scale-runs");
const SUITE_RUNS = int(opt("--suite-runs", String(PRESETS[PRESET].runs)), "--suite-runs");
const KNOWN = ["--runs", "--rows", "--reps", "--native-reps", "--json", "--no-build", "--help", "--quick", "--full", "--smoke", "--sections", "--workloads", "--modes", "--suite-runs", "--report", "--ci-target", "--time-cap",
  "--xv6-runs", "--xv6-commands", "--usertests", "--xv6-cap", "--linux-runs", "--linux-cap", "--scale-max", "--scale-runs"];
for (const k of argv) if (k.startsWith("--") && !KNOWN.includes(k)) die(`unknown option ${k}`);
for (const n of SEL) if (!ROWS[n]) die(`unknown row '${n}' (rows: ${Object.keys(ROWS).join(", ")})`);
// the report's needs are checked before measuring, not after
let writeReport = null;
if (REPORT_DIR) {
  try { ({ writeReport } = await import("./bench/report.mjs")); } catch (e) { die(`--report needs the devDependencies vega and vega-lite (npm install): ${String(e?.message ?? e).split("\n")[0]}`); }
  // (non-recursive where the parent exists: node's recursive mkdir never returns for e.g. /proc/x)
  try { if (!existsSync(REPORT_DIR)) mkdirSync(REPORT_DIR, { recursive: !existsSync(dirname(REPORT_DIR)) }); accessSync(REPORT_DIR, fsConstants.W_OK); } catch (e) { die(`cannot write the report to ${REPORT_DIR}: ${String(e?.message ?? e).split("\n")[0]}`); }
}

function die(msg) { process.stderr.write(`bench: ${msg}\n`); process.exit(2); }
function num(s, what) { const n = Number(s); if (s === null || !Number.isFinite(n) || n < 0) die(`bad ${what} '${s}'`); return n; }
function int(s, what) { const n = Number(s); if (!Number.isInteger(n) || n < 1) die(`bad ${what} '${s}'`); return n; }
function pair(s, what) {
  const p = String(s).split(",").map((x) => int(x, what));
  if (p.length !== 2 || p[0] >= p[1]) die(`${what} needs R1,R2 with R1 < R2`);
  return p;
}

/**
 * The rows. Each: lengths, the command for one run at REPS r, whether it prints BEGIN (emulated guests do).
 * Hooks for later rows, e.g.
 *   "full-mode":          { R: REPS, cmd: (r) => [process.execPath, CLI, "run", guest(r), "--mode", "full"], emulated: true },
 */
function rowsRegistry() {
  const guest = (r) => join(OUT, `guest-${r}.elf`);
  return {
    // the path is chosen after the build (nativeRef below): native-R (i386) or native64-R (x86-64)
    "native": { label: "native i386 (Linux process)", R: NATIVE_REPS, cmd: (r) => [nativeRef.paths[r]], emulated: false },
    "native-mode": { label: "wasmvisor --mode native", R: REPS, cmd: (r) => [process.execPath, CLI, "run", guest(r), "--mode", "native"], emulated: true },
    "native-mode-paging": {
      label: "wasmvisor --mode native, paging on (4 KiB pages)", R: REPS, emulated: true,
      cmd: (r) => [process.execPath, CLI, "run", join(OUT, `guest-paging-${r}.elf`), "--mode", "native"],
    },
    // the same unmodified guest deprivileged (trap-and-emulate): the compute-only check of issue 5
    "full-mode": { label: "wasmvisor --mode full", R: REPS, cmd: (r) => [process.execPath, CLI, "run", guest(r), "--mode", "full"], emulated: true },
    "full-mode-paging": {
      label: "wasmvisor --mode full, guest paging on (shadow tables)", R: REPS, emulated: true,
      cmd: (r) => [process.execPath, CLI, "run", join(OUT, `guest-paging-${r}.elf`), "--mode", "full"],
    },
    // the peers of shared/peers, on the same guest: QEMU's TCG (7.2 on Debian bookworm) and v86 (npm) with its JIT
    "qemu": {
      label: "QEMU TCG (qemu-system-i386)", R: PEERS_PRESET.qemu, emulated: true, peer: true,
      cmd: (r) => [QEMU_BIN, "-accel", "tcg", "-m", "32", "-display", "none", "-serial", "stdio", "-monitor", "none", "-nic", "none",
        "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", guest(r)],
    },
    "v86": { label: "v86 JIT (npm v86)", R: REPS, emulated: true, peer: true, cmd: (r) => [process.execPath, join(ROOT, "scripts/bench/run-v86.mjs"), guest(r)] },
  };
}

// ---------------------------------------------------------------- build
const lengths = [...new Set(SEL.flatMap((n) => ROWS[n].R))].sort((a, b) => a - b);
const JOBS = SUITE_SECTIONS.length ? planJobs({ preset: PRESET, sections: SUITE_SECTIONS, workloads: WL_SEL, modes: MODES_SEL }) : [];
const needVm = SEL.some((n) => ROWS[n].emulated) || JOBS.length > 0 || OS_SEL.length > 0;
const SCALE_GUEST = join(OUT, `guest-${SCALE_REPS[PRESET]}.elf`);
function buildStep(what, file, args, opts) {
  try { execFileSync(file, args, opts); } catch { die(`building ${what} failed (see the messages above)`); }
}
if (!has("--no-build")) {
  if (lengths.length) buildStep("the peers guests", "sh", [join(ROOT, "guests/peers/build.sh"), ...lengths.map(String)], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, OUT } });
  if (OS_SEL.includes("scale")) buildStep("the scale guest", "sh", [join(ROOT, "guests/peers/build.sh"), String(SCALE_REPS[PRESET])], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, OUT } });
  if (SUITE_SECTIONS.includes("trap")) buildStep("the trap guests", "sh", [join(ROOT, "guests/bench/build.sh")], { stdio: ["ignore", "ignore", "inherit"] });
  if (needVm) buildStep("the CLI", process.execPath, [join(ROOT, "scripts/build-cli.mjs")], { stdio: ["ignore", "ignore", "inherit"] });
}
if (needVm && !existsSync(join(ROOT, "build/cpu.wasm"))) die("build/cpu.wasm is missing: run `npm run build:wasm` first");
if ((JOBS.length || OS_SEL.length) && !existsSync(join(ROOT, "dist/index.js"))) die("dist/index.js is missing: run `npm run build:cli` first");
if (OS_SEL.includes("scale") && !existsSync(SCALE_GUEST)) die(`the scale guest ${SCALE_GUEST} is missing (run without --no-build, or: OUT=build/bench sh guests/peers/build.sh ${SCALE_REPS[PRESET]})`);
{
  const missing = missingImages(JOBS);
  if (missing.length) die(`guest images missing: ${missing.join(", ")} (run \`npm run build:guests\`)`);
}
// ---------------------------------------------------------------- the native reference
/** RESULT hex of one native binary, or null with the reason */
function nativeResult(path) {
  const p = spawnSync(path, [], { encoding: "utf8", timeout: 600_000 });
  if (p.error) return { result: null, why: `${path}: ${p.error.message}` };
  const m = /RESULT ([0-9a-f]{8}) REPS (\d+)/.exec(p.stdout ?? "");
  return m && p.status === 0 ? { result: m[1], why: "" } : { result: null, why: `${path} exited ${p.status ?? p.signal} without a RESULT line` };
}
/** the native binary per length (one architecture for all), the expected RESULT per length, or why there is none */
const nativeRef = { arch: null, paths: {}, why: "", checkedBoth: false };
const expect = {};
{
  const first = lengths.length ? peersNative(OUT, lengths[0]) : { pick: null, why: "" };
  const arch = first.pick?.arch ?? null;
  const other = arch === "i386" ? "x86-64" : null;
  for (const r of lengths) {
    if (!arch) break;
    const path = join(OUT, `${arch === "i386" ? "native" : "native64"}-${r}`);
    const x = nativeResult(path);
    if (!x.result) { nativeRef.why = x.why; break; }
    nativeRef.paths[r] = path;
    expect[r] = x.result;
    // where both run, the x86-64 build must print the same RESULT as the i386 one
    const p64 = join(OUT, `native64-${r}`);
    if (other && existsSync(p64) && canExec(other).ok) {
      const y = nativeResult(p64);
      if (y.result !== x.result) die(`native64-${r} printed RESULT ${y.result ?? "(none)"}, native-${r} (i386) ${x.result}: the two references disagree`);
      nativeRef.checkedBoth = true;
    }
  }
  if (arch && !nativeRef.why) nativeRef.arch = arch;
  else nativeRef.why ||= first.why || "no peers lengths selected";
  if (!nativeRef.arch) {
    for (const r of lengths) delete expect[r];
    if (SEL.includes("native")) SEL.splice(SEL.indexOf("native"), 1);
    if (lengths.length) process.stderr.write(`bench: no native reference: ${nativeRef.why}; the "native" row is left out and the rows' RESULT lines are checked against each other\n`);
  } else if (nativeRef.arch === "x86-64") {
    ROWS.native.label = "native x86-64 (Linux process, the same 32-bit-operand loop)";
    process.stderr.write(`bench: native reference: the x86-64 build (${peersNative(OUT, lengths[0]).why || "i386 not runnable"})\n`);
  }
}

// ---------------------------------------------------------------- one run
const TMP = mkdtempSync(join(tmpdir(), "wasmvisor-bench-"));
process.on("exit", () => rmSync(TMP, { recursive: true, force: true })); // also when a run fails or exits early
const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : null;
const cpuTimes = () => { try { return readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number); } catch { return null; } };

function runOnce(cmd) {
  return new Promise((resolve, reject) => {
    let out = "", err = "", tBegin = 0, tEnd = 0;
    const tf = join(TMP, "time.txt");
    const full = TIME ? [TIME, "-q", "-f", "%U %S", "-o", tf, ...cmd] : cmd;
    const st0 = cpuTimes(), t0 = performance.now();
    const p = spawn(full[0], full.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    p.stdout.on("data", (d) => {
      const now = performance.now();
      out += d;
      if (!tBegin && out.includes("BEGIN\n")) tBegin = now;
      if (!tEnd && /RESULT [^\n]*\n/.test(out)) tEnd = now;
    });
    p.stderr.on("data", (d) => { err += d; });
    p.on("error", reject);
    p.on("close", (code) => {
      const wall = performance.now() - t0, st1 = cpuTimes();
      let cpu = NaN;
      if (TIME) {
        try {
          const [u, s] = readFileSync(tf, "utf8").trim().split("\n").pop().split(" ").map(Number);
          cpu = (u + s) * 1e3;
        } catch { /* no timing */ }
      }
      let other = NaN;
      if (st0 && st1 && Number.isFinite(cpu)) {
        const d = st1.map((x, i) => x - st0[i]);
        const busyMs = (d.reduce((x, y) => x + y, 0) - d[3] - d[4]) * 10;
        other = Math.max(0, busyMs - cpu) / (wall * NCPU);
      }
      const m = /RESULT ([0-9a-f]{8}) REPS (\d+)/.exec(out);
      resolve({ wall, loop: tBegin && tEnd ? tEnd - tBegin : NaN, cpu, other, code, result: m ? m[1] : null, out, err });
    });
  });
}

const median = (a) => {
  const s = a.filter(Number.isFinite).sort((x, y) => x - y), n = s.length;
  return !n ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "-");

// what was measured (read before measuring, so later edits to the tree do not relabel the run): HEAD and the files changed in the working tree (dist/ is rebuilt from it before measuring)
const git = (() => {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] }).toString().split("\n").filter(Boolean).map((l) => l.slice(3));
    return { head, dirty };
  } catch { return null; }
})();
// ---------------------------------------------------------------- measure
const T0 = performance.now();
const elapsed = () => performance.now() - T0;
const results = {};
for (const name of SEL) {
  const row = ROWS[name];
  const [R1, R2] = row.R;
  results[name] = { label: row.label, R1, R2, dInstr: (R2 - R1) * PER_REP, t1: [], t2: [], l1: [], l2: [], c1: [], c2: [], other: [] };
}
// progress: one unit per guest run (a peers process, or a suite job with a worker's warm-up run), so that units
// take comparable times and the ETA means something; lengthening adds units
const suiteModes = [...new Set(JOBS.map((j) => j.mode))];
const suiteRoundRuns = JOBS.length + suiteModes.length;
const osModes = OS_MODES_SEL.filter((m) => OS_MODES.includes(m)).length + (QEMU_BIN ? 1 : 0);
const osUnits = (OS_SEL.includes("xv6") ? XV6_RUNS * osModes : 0) + (OS_SEL.includes("linux") ? LINUX_RUNS * osModes : 0) + (OS_SEL.includes("scale") ? 1 : 0);
const bar = await progress({ total: RUNS * SEL.length * 2 + SUITE_RUNS * suiteRoundRuns + osUnits });
const say = (m) => bar.log(m);
let pairsDone = 0;
const pairMs = [];
/** Pair i of every row (interleaved: pair i of every row runs before pair i+1 of any row). */
async function peersPair(i) {
  const tp = performance.now();
  for (const name of SEL) {
    const row = ROWS[name], s = results[name], R1 = s.R1, R2 = s.R2;
    const xs = {};
    for (const r of i % 2 ? [R2, R1] : [R1, R2]) {
      bar.status(`${name} pair ${i + 1}`);
      const x = await runOnce(row.cmd(r));
      expect[r] ??= x.result ?? undefined; // no native reference: the first row's RESULT, checked against the others
      if (x.result !== expect[r]) {
        die(`${name} R=${r}: RESULT ${x.result ?? "(none)"}, ${nativeRef.arch ? "native says" : "expected"} ${expect[r]} (exit ${x.code})\n${x.out.slice(-500)}${x.err.slice(-500)}`);
      }
      if (row.emulated && x.code !== 1) die(`${name} R=${r}: exit status ${x.code}, expected 1 (isa-debug-exit 0)\n${x.err.slice(-500)}`);
      xs[r] = x;
      bar.tick();
    }
    for (const [r, t, l, c] of [[R1, s.t1, s.l1, s.c1], [R2, s.t2, s.l2, s.c2]]) {
      t.push(xs[r].wall); l.push(xs[r].loop); c.push(xs[r].cpu); s.other.push(xs[r].other);
    }
    say(`${name} pair ${i + 1}: wall ${f(s.t1[i])} / ${f(s.t2[i])} ms, cpu ${f(s.c1[i])} / ${f(s.c2[i])} ms`);
  }
  pairsDone++;
  pairMs.push(performance.now() - tp);
}
/** MIPS of row `name` on resampled pair indices (NaN unless positive: a time difference that is not, has none). */
const mipsStat = (name, key = "t") => (idx) => {
  const s = results[name], d = smedian(take(s[`${key}2`], idx)) - smedian(take(s[`${key}1`], idx));
  return d > 0 ? s.dInstr / (d * 1e3) : NaN;
};
const peersCI = {
  mips: (name, key) => bootstrap(pairsDone, mipsStat(name, key), { positive: true }),
  ratio: (a, b, key) => ratio(pairsDone, mipsStat(a, key), mipsStat(b, key)),
};
// the headline ratios whose intervals decide the lengthening: each row to the native binary (or, without it, MIPS)
const peersFigures = () => SEL.filter((n) => n !== "native").map((n) => ({ name: `peers ${n}`, ci: results.native ? peersCI.ratio(n, "native") : peersCI.mips(n) }));
for (let i = 0; i < RUNS; i++) await peersPair(i);
if (SEL.length) {
  const share = JOBS.length ? 0.5 : 1; // with the suite to run, the peers may use half the time cap
  const mean = () => pairMs.reduce((a, b) => a + b, 0) / pairMs.length;
  var peersLengthen = await lengthen({
    figures: peersFigures, target: CI_TARGET, capMs: TIME_CAP_MS * share, t0: 0, now: elapsed, roundMs: mean,
    more: async () => { bar.grow(SEL.length * 2); await peersPair(pairsDone); },
  });
}
for (const name of SEL) {
  const s = results[name], row = ROWS[name], dI = s.dInstr;
  const mips = (a, b) => dI / ((b - a) * 1e3);
  const pairs = s.t1.map((t, i) => mips(t, s.t2[i]));
  const wall = peersCI.mips(name, "t"), inrun = row.emulated ? peersCI.mips(name, "l") : null, cpu = peersCI.mips(name, "c");
  Object.assign(s, {
    // an unresolved MIPS is null (the raw value and the reason are in wallMipsCI)
    wallMips: wall.resolved ? wall.est : NaN, wallMipsCI: ciJson(wall), pairMin: Math.min(...pairs), pairMax: Math.max(...pairs),
    inrunMips: inrun?.resolved ? inrun.est : NaN, cpuMips: cpu.resolved ? cpu.est : NaN, cpuMipsCI: ciJson(cpu),
    t1Med: median(s.t1), t2Med: median(s.t2), otherMed: median(s.other), otherMax: Math.max(...s.other.filter(Number.isFinite), 0),
    // the whole R2 guest, boot included, over the R2 process's wall time: what a user sees for one run
    wholeRunMips: (FIXED + s.R2 * PER_REP) / (median(s.t2) * 1e3),
    pairs: pairsDone,
  });
}
rmSync(TMP, { recursive: true, force: true });

const nat = results.native?.wallMips ?? NaN;
for (const [n, s] of Object.entries(results)) {
  const ci = results.native ? peersCI.ratio(n, "native") : null;
  s.ratioToNative = ci?.resolved ? ci.est : NaN;
  if (ci) s.ratioToNativeCI = ciJson(ci);
}
const pr = (a, b, key = "t") => (results[a] && results[b] ? peersCI.ratio(a, b, key) : null);
const est = (ci) => (ci?.resolved ? ci.est : NaN);
// full mode on the same guest, to native mode (compute only: issue 5 wants >= 0.90, i.e. within 10%)
const fullCI = { wall: pr("full-mode", "native-mode"), inrun: pr("full-mode", "native-mode", "l"), paging: pr("full-mode-paging", "native-mode-paging") };
const fullRatio = fullCI.wall ? {
  wall: est(fullCI.wall), inrun: est(fullCI.inrun), paging: est(fullCI.paging),
  ci: Object.fromEntries(Object.entries(fullCI).filter(([, v]) => v).map(([k, v]) => [k, ciJson(v)])),
} : null;
// paging on / paging off, both measured above in the same interleaved run (goal: >= 0.80)
const pagingCI = { wall: pr("native-mode-paging", "native-mode"), inrun: pr("native-mode-paging", "native-mode", "l"), cpu: pr("native-mode-paging", "native-mode", "c") };
const pagingRatio = pagingCI.wall ? {
  wall: est(pagingCI.wall), inrun: est(pagingCI.inrun), cpu: est(pagingCI.cpu),
  ci: Object.fromEntries(Object.entries(pagingCI).map(([k, v]) => [k, ciJson(v)])),
} : null;

// ---------------------------------------------------------------- the suite (scripts/bench/suite.mjs)
let suite = null, suiteLengthen = null;
if (JOBS.length) {
  const runner = suiteRunner(JOBS, { ncpu: NCPU, log: (m) => say(m.trimEnd()), onJob: () => bar.tick() });
  const analyzeNow = () => analyze(runner.raw(), { preset: PRESET, nativeModeMips: results["native-mode"]?.wallMips ?? NaN, nativeBinaryMips: nat });
  try {
    for (let i = 0; i < SUITE_RUNS; i++) { bar.status(`suite round ${i + 1}`); await runner.round(); }
    // lengthen: the workloads' mode ratios, the disk throughput ratios and the trap costs
    suiteLengthen = await lengthen({
      figures: () => suiteFigures(analyzeNow()), target: CI_TARGET, capMs: TIME_CAP_MS, t0: 0, now: elapsed, roundMs: runner.meanRoundMs,
      more: async () => { bar.grow(suiteRoundRuns); bar.status(`suite round ${runner.rounds() + 1} (lengthening)`); await runner.round(); },
    });
  } finally {
    runner.finish();
  }
  suite = analyzeNow();
  suite.runs = runner.rounds();
}
// ---------------------------------------------------------------- real OSes against QEMU, and many machines
const osResults = {};
const QEMU_WHY = PEER_MISSING.qemu ?? "";
for (const kind of OS_SEL) {
  bar.status(kind);
  if (kind === "scale") {
    osResults.scale = await runScaleSection({ guest: SCALE_GUEST, maxN: SCALE_MAX, rounds: SCALE_RUNS, launches: PRESET === "smoke" ? 3 : 20, idle: PRESET === "smoke" ? 4 : 64, memSize: 16 << 20 }, { log: say });
    bar.tick();
    continue;
  }
  const xv6 = kind === "xv6";
  osResults[kind] = await runOsSection(kind, {
    modes: OS_MODES_SEL, qemu: QEMU_BIN, qemuWhy: QEMU_WHY, rounds: xv6 ? XV6_RUNS : LINUX_RUNS, usertestsRuns: xv6 ? USERTESTS : 0, xv6Commands: XV6_COMMANDS,
    capS: xv6 ? XV6_CAP : LINUX_CAP, ncpu: NCPU, log: say, onSession: () => bar.tick(),
  });
  // a skipped section is said on stderr whether or not it is a terminal (and is in the JSON and report)
  if (osResults[kind].skipped) process.stderr.write(`bench: ${kind}: skipped: ${osResults[kind].skipped}\n`);
}
bar.stop();
/** The suite's headline intervals (JSON form from analyze) as figures for the lengthening. */
function suiteFigures(A) {
  const out = [];
  for (const [w, r] of Object.entries(A.workloads ?? {})) for (const [k, c] of Object.entries(r.ratiosCI)) out.push({ name: `${w} ${k}`, ci: c });
  for (const [k, r] of Object.entries(A.trap ?? {})) if (r.roundTrip) out.push({ name: `trap ${k}`, ci: r.roundTrip.nsPerTrapCI });
  for (const d of A.disk ?? []) if (d.vsFull) out.push({ name: `disk ${d.requestKiB} KiB para/full`, ci: d.vsFull.throughputXCI });
  return out;
}
const lengthening = {
  target: CI_TARGET, timeCapS: TIME_CAP_MS / 1e3, measuredS: +(elapsed() / 1e3).toFixed(1),
  peers: peersLengthen ? { pairs: pairsDone, planned: RUNS, ...peersLengthen } : null,
  suite: suiteLengthen ? { rounds: suite.runs, planned: SUITE_RUNS, ...suiteLengthen } : null,
};
// no peers lengths selected: no native reference was looked for, so none is reported missing
const native = lengths.length ? { arch: nativeRef.arch, bothChecked: nativeRef.checkedBoth, ...(nativeRef.arch ? {} : { missing: nativeRef.why }) } : null;
const J = {
  git, runs: RUNS, PER_REP, date: new Date().toISOString(), node: process.version, cpus: cpus()[0]?.model, ncpu: NCPU, preset: PRESET, native,
  results, pagingRatio, fullRatio, suite, peersMissing: PEER_MISSING, lengthening,
  sections: SECTIONS_SEL, xv6: osResults.xv6 ?? null, linux: osResults.linux ?? null, scale: osResults.scale ?? null,
};
const jsonText = JSON.stringify(J, (k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 1);
if (JSON_OUT === "-") process.stdout.write(jsonText + "\n");
else if (JSON_OUT) writeFileSync(JSON_OUT, jsonText + "\n");

/** The peers table and ratios as markdown lines. */
function peersMarkdown() {
  const L = [];
  L.push(`${pairsDone} interleaved R1/R2 pair${pairsDone === 1 ? "" : "s"} per row (${RUNS} planned); ${PER_REP} instructions per rep; ${J.date}; node ${process.version}`);
  L.push(nativeRef.arch ? `native reference: ${nativeRef.arch}${nativeRef.checkedBoth ? " (i386 and x86-64 builds print the same RESULT)" : ""}` : `native reference: none (${nativeRef.why})`);
  for (const [n, why] of Object.entries(PEER_MISSING)) L.push(`peer "${n}" not measured: ${why}`);
  L.push(`MIPS and ratios with their 95 % interval [lo, hi] (bootstrap over the pairs); "${UNRESOLVED}" where the interval includes zero or flips sign.\n`);
  // (the single-pair spread "pair min..max" is in the JSON: one noisy pair can be negative, so it is not printed)
  L.push("| row | R1→R2 | wall R1 med ms | wall R2 med ms | MIPS (wall diff) [95 %] | MIPS (in-run) | MIPS (cpu) [95 %] | ratio to native [95 %] | other load med/max |");
  L.push("|---|---|---|---|---|---|---|---|---|");
  for (const [n, s] of Object.entries(results)) {
    L.push(`| ${n} | ${s.R1}→${s.R2} | ${f(s.t1Med)} | ${f(s.t2Med)} | ${fmtCI(s.wallMipsCI, 0)} | ${Number.isFinite(s.inrunMips) ? f(s.inrunMips, 0) : ROWS[n].emulated ? UNRESOLVED : "-"} | ${fmtCI(s.cpuMipsCI, 0)} | ${n === "native" ? "1 (the reference)" : s.ratioToNativeCI ? fmtCI(s.ratioToNativeCI, 4) : "-"} | ${f(s.otherMed * 100, 0)}/${f(s.otherMax * 100, 0)}% |`);
  }
  const c = (x, d) => (x ? fmtCI(x, d) : "-");
  if (pagingRatio) L.push(`\npaging on / off (native-mode-paging / native-mode), goal >= 0.80: wall ${c(pagingRatio.ci.wall, 3)}; in-run ${c(pagingRatio.ci.inrun, 3)}; cpu ${c(pagingRatio.ci.cpu, 3)}`);
  if (fullRatio) L.push(`full / native mode, same guest (full-mode / native-mode), compute-only goal >= 0.90: wall ${c(fullRatio.ci.wall, 3)}; in-run ${c(fullRatio.ci.inrun, 3)}; with guest paging (shadow tables) ${c(fullRatio.ci.paging, 3)}`);
  return L;
}
/** Whether the intervals reached the target, in one paragraph. */
function lengtheningMarkdown() {
  const L = [], t = `${(CI_TARGET * 100).toFixed(0)} %`;
  for (let [what, x, unit] of [["peers", lengthening.peers, "pairs"], ["suite", lengthening.suite, "rounds"]]) {
    if (!x) continue;
    const n = what === "peers" ? x.pairs : x.rounds;
    unit = n === 1 ? unit.slice(0, -1) : unit;
    L.push(x.met
      ? `${what}: every headline interval is within ${t} of its value after ${n} ${unit} (${x.planned} planned).`
      : `${what}: after ${n} ${unit} (${x.planned} planned; stopped by the ${x.stoppedBy}, ${lengthening.timeCapS} s), ${x.wide.length} headline interval${x.wide.length === 1 ? " is" : "s are"} still wider than ${t} of the value or not resolved: ${x.wide.slice(0, 12).join(", ")}${x.wide.length > 12 ? ", …" : ""}.`);
  }
  return L;
}
const md = [];
if (SEL.length) md.push(...peersMarkdown());
if (PRESET === "smoke") md.push("\n(--smoke: tiny counts, one run: the timings and ratios above are meaningless; the counters are exact)");
if (suite) md.push(renderMarkdown(suite));
const osMarkdown = () => [osResults.xv6 && renderOsMarkdown("xv6", osResults.xv6), osResults.linux && renderOsMarkdown("linux", osResults.linux), osResults.scale && renderScaleMarkdown(osResults.scale)].filter(Boolean).join("\n");
if (OS_SEL.length) md.push(osMarkdown());
md.push("", ...lengtheningMarkdown());
if (git) md.push(`\nsource: HEAD ${git.head}${git.dirty.length ? ` + ${git.dirty.length} changed/new paths in the working tree (${git.dirty.slice(0, 8).join(", ")}${git.dirty.length > 8 ? ", …" : ""})` : ", clean"}`);
if (JSON_OUT !== "-") console.log("\n" + md.join("\n"));
if (REPORT_DIR) {
  try {
    const files = await writeReport(REPORT_DIR, { J, jsonText, peersMd: SEL.length ? peersMarkdown() : [], suiteMd: suite ? renderMarkdown(suite) : "", osMd: OS_SEL.length ? osMarkdown() : "", lengtheningMd: lengtheningMarkdown(), rows: ROWS });
    process.stderr.write(`bench: report written: ${files.join(", ")}\n`);
  } catch (e) { die(`cannot write the report to ${REPORT_DIR}: ${e.message.split("\n")[0]}`); }
}
