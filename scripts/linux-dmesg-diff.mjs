#!/usr/bin/env node
// The kernel log of Debian's i386 kernel booted by QEMU TCG and by wasmvisor, side by side (issue 14): the same
// kernel, initramfs (scripts/fetch-linux.mjs: initrd-run.cpio.gz, which runs the issue's command list and powers
// off), command line, RAM size and one CPU; then `diff -u` of the logs after normalising what legitimately differs
// from run to run (timestamps, the wall-clock date, the audit serial). docs/RESULTS.md, "Linux dmesg: wasmvisor vs
// QEMU TCG (issue 14)", explains every difference that remains.
//
//   node scripts/linux-dmesg-diff.mjs [--modes native,hw,full] [--qemu-machine pc] [--append "…"] [--out DIR]
//                                     [--timeout 900] [--no-qemu] [--reuse qemu,native,…]
//
// Writes DIR/qemu.log, DIR/<mode>.log (raw consoles), DIR/*.norm (normalised) and DIR/qemu-vs-<mode>.diff,
// DIR/native-vs-<mode>.diff (default DIR: build/linux/dmesg), and prints the diffs' changed lines and a summary.
// `--qemu-machine pc,acpi=off,hpet=off` is the QEMU PC closest to wasmvisor's `mp` platform (MP table, I/O APIC,
// PIT, no ACPI/HPET). Needs qemu-system-i386 (skipped with a message without it) and a built CLI (dist/cli.js).
// Each wasmvisor boot takes ~3 G instructions (1.5-3 minutes on a loaded 2-core machine); the modes run one after
// another. Exit status 0 when every boot reached the end of its command list, 1 otherwise, 3 when the kernel
// cannot be fetched.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt; };
const modes = opt("--modes", "native,hw,full").split(",").filter(Boolean);
const qemuMachine = opt("--qemu-machine", "pc");
const append = opt("--append", "console=ttyS0 cryptomgr.notests");
const out = resolve(opt("--out", join(root, "build/linux/dmesg")));
const timeoutS = Number(opt("--timeout", "900"));
/** boots not run again: their DIR/<name>.log from an earlier run is normalised and compared again */
const reuse = opt("--reuse", "").split(",").filter(Boolean);
const MEM_MB = 256;
const log = (s) => process.stderr.write(`linux-dmesg-diff: ${s}\n`);

const f = spawnSync(process.execPath, [join(root, "scripts/fetch-linux.mjs"), "--quiet"], { encoding: "utf8" });
if (f.status !== 0) { log(`scripts/fetch-linux.mjs failed (status ${f.status}): ${f.stderr.trim()}`); process.exit(f.status === 3 ? 3 : 1); }
const fetched = JSON.parse(f.stdout);
mkdirSync(out, { recursive: true });

/** The kernel's log as the console shows it: from "Linux version" on (QEMU's firmware banner dropped), no CRs or
 * terminal control sequences. */
function kernelLog(text) {
  const t = text.replace(/\r/g, "").replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\x1bc/g, "");
  const i = t.search(/(\[\s*\d+\.\d+\] )?Linux version/);
  return i < 0 ? t : t.slice(i);
}

/** What differs from run to run on any machine: timestamps, the date the RTC gives, the audit serial. */
function normalise(text) {
  return kernelLog(text).split("\n")
    .map((l) => l.replace(/^\[\s*\d+\.\d+\] /, "")
      .replace(/audit\(\d+\.\d+:\d+\)/, "audit(T)")
      .replace(/setting system clock to \S+ UTC \(\d+\)/, "setting system clock to DATE")
      .replace(/sched_clock: Marking stable \(.*\)$/, "sched_clock: Marking stable (T)")
      .trimEnd())
    .join("\n");
}

function run(name, cmd, argv, file) {
  const saved = join(out, `${name}.log`);
  if (reuse.includes(name) && existsSync(saved)) { // normalise and diff an earlier boot's log again
    const text = readFileSync(saved, "utf8");
    writeFileSync(join(out, `${name}.norm`), normalise(text));
    return { name, ok: text.includes("WASMVISOR-INIT-DONE"), secs: 0 };
  }
  log(`${name}: ${cmd} ${argv.join(" ")}`);
  const t = performance.now();
  const r = spawnSync(cmd, argv, { encoding: "utf8", timeout: timeoutS * 1000, maxBuffer: 64 << 20 });
  const secs = (performance.now() - t) / 1000;
  const text = file ? (existsSync(file) ? readFileSync(file, "utf8") : "") : r.stdout ?? "";
  writeFileSync(join(out, `${name}.log`), text);
  writeFileSync(join(out, `${name}.norm`), normalise(text));
  const ok = text.includes("WASMVISOR-INIT-DONE");
  log(`${name}: ${ok ? "reached the end of the command list" : `did not finish (status ${r.status}${r.error ? `, ${r.error.message}` : ""})`} in ${secs.toFixed(1)} s`);
  return { name, ok, secs };
}

function diff(a, b) {
  const r = spawnSync("diff", ["-u", join(out, `${a}.norm`), join(out, `${b}.norm`)], { encoding: "utf8" });
  const text = r.stdout ?? "";
  writeFileSync(join(out, `${a}-vs-${b}.diff`), text);
  const changed = text.split("\n").filter((l) => /^[-+](?![-+]{2} )/.test(l));
  process.stdout.write(`\n==== ${a} vs ${b}: ${changed.filter((l) => l[0] === "-").length} lines only in ${a}, ${changed.filter((l) => l[0] === "+").length} only in ${b} ====\n`);
  process.stdout.write(changed.join("\n") + (changed.length ? "\n" : ""));
}

const results = [];
const haveQemu = !args.includes("--no-qemu") && spawnSync("sh", ["-c", "command -v qemu-system-i386"]).status === 0;
if (haveQemu) {
  // the serial port into a file, not stdio: QEMU's stdio backend drops characters when the reader falls behind
  const serial = join(out, "qemu.serial");
  rmSync(serial, { force: true });
  results.push(run("qemu", "qemu-system-i386", [
    "-machine", qemuMachine, "-m", String(MEM_MB), "-smp", "1", "-display", "none", "-monitor", "none",
    "-serial", `file:${serial}`, "-no-reboot",
    "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    "-kernel", fetched.kernel, "-initrd", fetched.initrd, "-append", append,
  ], serial));
} else {
  log("qemu-system-i386 not found: the wasmvisor modes are compared with each other only");
}
const cli = join(root, "dist/cli.js");
if (!existsSync(cli)) { log("dist/cli.js missing: run `npm run build:cli`"); process.exit(1); }
for (const mode of modes) {
  results.push(run(mode, process.execPath, [
    cli, "run", fetched.kernel, "--initrd", fetched.initrd, "--append", append, "--mem", `${MEM_MB}M`, "--mode", mode,
    "--timeout", `${timeoutS}s`,
  ]));
}
for (const mode of modes) {
  if (haveQemu) diff("qemu", mode);
  if (mode !== modes[0]) diff(modes[0], mode);
}
process.stdout.write(`\n${results.map((r) => `${r.name}: ${r.ok ? "ok" : "FAILED"} ${r.secs.toFixed(1)} s`).join(", ")}\nlogs and diffs in ${out}\n`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
