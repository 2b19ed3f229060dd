// launch.mjs — how fast a machine starts and how much an idle one costs (issue 13, "Launch"):
//   create   `new Machine()` + a 10-instruction run, per guest-RAM size: median, p10/p90 and mean of N launches
//   recycle  the same through the machine pool (Machine.release() returns Memory + instance for the next launch)
//   async    the same without release() but yielding to the event loop between launches, as a test suite does:
//            machines the collector frees go back to the pool (host/cpu-instances.ts leases)
//   trap     one trapLab snippet (lab.run of `ud2`): setup of GDT/IDT/TSS, boot, the snippet, the trap record; then
//            the same with each result released (TrapResult.release: both passes' machines come from the pool)
//   idle     RSS and V8 external memory per idle machine (200 machines that each ran 10 instructions), beyond RAM
//   vm       a whole `new Vm({ mode })` (devices, loader, mode) + loading the echo guest + its first instruction, per
//            mode (64 MiB; para mode loads the PV build of the compute workload: echo is not a PV guest); then the
//            same with Vm.release() after each launch (the machine pool)
//   restore  Vm.restore of the echo guest's snapshot (a small guest: most of RAM never written), then of a 64 MiB snapshot (the fork workload after 3 M instructions: its kernel has junk-filled
//            every free page) into a fresh machine, and into one the previous restore released (Vm.release)
// Times are wall-clock of this process, and its CPU time (user + system) per launch; the load average is printed
// (absolute times on a shared machine are noise).
//
// usage: node scripts/bench/launch.mjs [--n N] [--idle N] [--only vm] [--json] [--dist DIR]   (needs dist/index.js: npm run build:cli)
//   --only vm: the vm rows alone (the per-mode Vm launches)
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { dirname, join, resolve } from "node:path";
import { existsSync, readFileSync } from "node:fs";
import { loadavg, cpus } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";

for (const ev of ["uncaughtException", "unhandledRejection"]) {
  process.on(ev, (e) => { process.stderr.write(`bench launch: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}\n`); process.exit(1); });
}
const argv = process.argv.slice(2);
const opt = (k, d) => { const i = argv.indexOf(k); return i < 0 ? d : argv[i + 1]; };
const N = Number(opt("--n", "200"));
const IDLE = Number(opt("--idle", "200"));
const DIST = resolve(opt("--dist", join(dirname(fileURLToPath(import.meta.url)), "../../dist")));
if (!(N >= 5) || !(IDLE >= 1)) { process.stderr.write("bench launch: --n needs at least 5, --idle at least 1\n"); process.exit(2); }
const W = await import(pathToFileURL(join(DIST, "index.js")).href);
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc");

const NOPS = Array(10).fill(0x90);
function launch(memSize, recycle) {
  const m = new W.Machine({ memSize });
  m.setFlatProtectedMode();
  m.writeMem(0x1000, NOPS);
  m.eip = 0x1000;
  const e = m.run(10);
  if (e.reason !== "budget" || m.instructions !== 10) throw new Error(`a launch ran ${m.instructions} instructions (${e.reason})`);
  if (recycle) m.release();
  return m;
}
const stats = (t, c) => {
  const s = [...t].sort((a, b) => a - b), q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const cs = [...c].sort((a, b) => a - b);
  return { median: q(0.5), p10: q(0.1), p90: q(0.9), mean: t.reduce((a, b) => a + b, 0) / t.length, n: t.length,
    cpuMedian: cs[Math.floor(cs.length / 2)], cpuMean: c.reduce((a, b) => a + b, 0) / c.length };
};
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
function timeIt(n, f) {
  for (let i = 0; i < 5; i++) f(); // warm-up: the CPU module, V8's tiers
  const t = [], c = [];
  for (let i = 0; i < n; i++) { const c0 = cpuMs(), t0 = performance.now(); f(); t.push(performance.now() - t0); c.push(cpuMs() - c0); }
  return stats(t, c);
}
/** timeIt with a turn of the event loop between launches (not timed): finalizers run there */
async function timeItAsync(n, f) {
  for (let i = 0; i < 5; i++) { f(); await new Promise((r) => setImmediate(r)); }
  const t = [], c = [];
  for (let i = 0; i < n; i++) {
    const c0 = cpuMs(), t0 = performance.now(); f(); t.push(performance.now() - t0); c.push(cpuMs() - c0);
    await new Promise((r) => setImmediate(r));
  }
  return stats(t, c);
}

const out = { load: { before: loadavg(), cores: cpus().length, node: process.version }, create: {}, recycle: {}, async: {}, trap: null, trapReleased: null, idle: {}, vm: {}, restore: {} };
W.cpuModule();
const ONLY_VM = opt("--only", "") === "vm";
if (!ONLY_VM) {
for (const mb of [1, 16, 64]) out.create[`${mb}MiB`] = timeIt(N, () => launch(mb << 20, false));
if (typeof W.Machine.prototype.release === "function") {
  for (const mb of [1, 16, 64]) out.recycle[`${mb}MiB`] = timeIt(N, () => launch(mb << 20, true));
}
for (const mb of [16, 64]) out.async[`${mb}MiB`] = await timeItAsync(N, () => launch(mb << 20, false));
const lab = W.trapLab({ cpl: 3 });
const ud2 = (release) => { const r = lab.run("0f 0b"); if (r.trap?.vector !== 6) throw new Error("ud2 did not raise #UD"); if (release) r.release(); };
out.trap = timeIt(N, () => ud2(false));
out.trapReleased = timeIt(N, () => ud2(true));

for (const mb of [1, 16]) {
  gc(); gc();
  const m0 = process.memoryUsage();
  const keep = [];
  for (let i = 0; i < IDLE; i++) keep.push(launch(mb << 20, false));
  gc(); gc();
  const m1 = process.memoryUsage();
  out.idle[`${mb}MiB`] = {
    machines: IDLE, rssPerMachineKiB: (m1.rss - m0.rss) / IDLE / 1024,
    externalPerMachineKiB: (m1.external - m0.external) / IDLE / 1024,
    externalBeyondRamKiB: (m1.external - m0.external) / IDLE / 1024 - (mb << 10),
    // RAM the wasm memory covers (backed on first touch since branch launch; external memory counts it whole)
    backedRamKiB: keep[0].ramBacked !== undefined ? keep[0].ramBacked / 1024 : mb << 10,
  };
  keep.length = 0;
}
}

const ECHO = join(DIST, "../build/guests/echo/echo.elf");
if (existsSync(ECHO)) {
  const img = readFileSync(ECHO);
  const PV = join(DIST, "../build/guests/workloads-pv/compute.elf");
  const pvImg = existsSync(PV) ? readFileSync(PV) : null;
  const vmLaunch = (mode, release) => {
    const vm = new W.Vm({ mode, memSize: 64 << 20 });
    vm.loadMultiboot(mode === "para" ? pvImg : img);
    const r = vm.run({ maxInstructions: 1 });
    if (r.stopReason !== "max-instructions" || vm.machine.instructions !== 1) throw new Error(`a ${mode} Vm launch stopped: ${r.message}`);
    if (release) vm.release();
    return vm;
  };
  const R = Math.max(5, N >> 1);
  const modes = ["native", "hw", "full", ...(pvImg ? ["para"] : [])];
  for (const mode of modes) out.vm[mode] = timeIt(R, () => vmLaunch(mode, false));
  for (const mode of modes) out.vm[`${mode} released`] = timeIt(R, () => vmLaunch(mode, true));
  // RAM the wasm memory covers after a launch (KiB), per mode: what the lazy backing saves
  out.vmBackedKiB = Object.fromEntries(modes.map((mode) => { const vm = vmLaunch(mode, false); const k = vm.machine.ramBacked / 1024; vm.release(); return [mode, `${k} of ${vm.machine.ramSize / 1024}`]; }));
  const small = vmLaunch("native", false);
  small.run({ maxInstructions: 100_000 });
  const snap = small.snapshot();
  out.restore.small = timeIt(R, () => W.Vm.restore(snap));
  out.restore.smallReleased = timeIt(R, () => W.Vm.restore(snap).release());
  out.restore.smallBytes = snap.length;
}

const FORK = join(DIST, "../build/guests/workloads/fork.elf");
if (existsSync(FORK) && !ONLY_VM) {
  const vm = new W.Vm({ memSize: 64 << 20, captureConsole: true });
  vm.loadMultiboot(readFileSync(FORK));
  vm.run({ maxInstructions: 3_000_000 });
  const snap = vm.snapshot();
  const R = Math.max(5, Math.min(20, N >> 3));
  out.restore.newVm = timeIt(R, () => new W.Vm({ memSize: 64 << 20 }));
  out.restore.fresh = timeIt(R, () => W.Vm.restore(snap));
  let v = W.Vm.restore(snap);
  out.restore.release = timeIt(R, () => { v.release(); v = W.Vm.restore(snap); }); // release + restore
  out.restore.snapshotBytes = snap.length;
}

out.load.after = loadavg();
if (argv.includes("--json")) process.stdout.write(JSON.stringify(out, null, 2) + "\n");
else {
  const ms = (x) => x.toFixed(3).padStart(8);
  const row = (name, s) => `| ${name.padEnd(22)} | ${ms(s.median)} | ${ms(s.p10)} | ${ms(s.p90)} | ${ms(s.mean)} | ${ms(s.cpuMedian)} | ${ms(s.cpuMean)} | ${String(s.n).padStart(4)} |`;
  const la = (l) => l.map((x) => x.toFixed(1)).join(" ");
  const lines = [`node ${out.load.node}, ${out.load.cores} cores, load average ${la(out.load.before)} before, ${la(out.load.after)} after`];
  if (!ONLY_VM) lines.push("", "| launch (ms)            |   median |      p10 |      p90 |     mean | CPU median | CPU mean |    n |", "|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const [k, s] of Object.entries(out.create)) lines.push(row(`new Machine ${k}`, s));
  for (const [k, s] of Object.entries(out.recycle)) lines.push(row(`recycled ${k}`, s));
  for (const [k, s] of Object.entries(out.async)) lines.push(row(`no release, async ${k}`, s));
  if (!ONLY_VM) lines.push(row("trapLab snippet (ud2)", out.trap), row("… result released", out.trapReleased));
  if (!ONLY_VM) lines.push("", "| idle machines | RSS / machine (KiB) | external / machine (KiB) | external beyond RAM (KiB) | RAM backed (KiB) |", "|---|---:|---:|---:|---:|");
  for (const [k, v] of Object.entries(out.idle)) lines.push(`| ${v.machines} x ${k} | ${v.rssPerMachineKiB.toFixed(0)} | ${v.externalPerMachineKiB.toFixed(0)} | ${v.externalBeyondRamKiB.toFixed(0)} | ${v.backedRamKiB.toFixed(0)} |`);
  if (Object.keys(out.vm).length) {
    lines.push("", "| new Vm (64 MiB) + echo loaded + 1 instruction, ms |   median |      p10 |      p90 |     mean | CPU median | CPU mean |    n |", "|---|---:|---:|---:|---:|---:|---:|---:|");
    for (const [k, s] of Object.entries(out.vm)) lines.push(row(k, s));
    lines.push(row(`Vm.restore echo (${out.restore.smallBytes} B)`, out.restore.small), row("… restored + released", out.restore.smallReleased));
    lines.push("", `RAM backed after a launch (KiB of the machine's): ${Object.entries(out.vmBackedKiB).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  }
  if (out.restore.fresh) {
    lines.push("", `| restore (64 MiB, ${out.restore.snapshotBytes} byte snapshot), ms |   median |      p10 |      p90 |     mean | CPU median | CPU mean |    n |`, "|---|---:|---:|---:|---:|---:|---:|---:|");
    lines.push(row("new Vm", out.restore.newVm), row("Vm.restore (fresh)", out.restore.fresh), row("release + Vm.restore", out.restore.release));
  }
  process.stdout.write(lines.join("\n") + "\n");
}
