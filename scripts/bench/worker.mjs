// worker.mjs — runs a list of guest jobs in this process, one fresh VM each, and prints one JSON line per job.
// Spawned by scripts/bench/suite.mjs (one process per mode and round, so one mode's JIT warm-up never colours
// another's). Uses the bundled library dist/index.js (esbuild bundle of host/index.ts, scripts/build-cli.mjs).
//   node scripts/bench/worker.mjs JOBS.json
// A job: { id, mode, image, cmdline, diskKiB?, mem? }. The result: { id, ok, exitStatus, wallMs (VM run loop),
// totalMs (VM creation + load + run), cpuMs (this process's user+sys CPU time over the same span, all threads), times (the guest's `time <name> <cycles> <unit>` lines), stats }.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const { runImage } = await import(join(ROOT, "dist/index.js"));
const jobs = JSON.parse(readFileSync(process.argv[2], "utf8"));
const images = new Map();
const image = (p) => { if (!images.has(p)) images.set(p, readFileSync(join(ROOT, p))); return images.get(p); };

for (const job of jobs) {
  const t0 = performance.now(), c0 = process.cpuUsage();
  const disk = job.diskKiB ? new Uint8Array(job.diskKiB * 1024) : undefined;
  let r, error = null;
  try {
    // "hw-shadow": hw mode with --npt off (shadow page tables, first-generation VT-x)
    const mode = job.mode === "hw-shadow" ? { mode: "hw", npt: false } : { mode: job.mode };
    r = await runImage({ image: image(job.image), ...mode, cmdline: job.cmdline ?? "", disk, memSize: job.mem, maxInstructions: job.maxInstructions,
      // WASMVISOR_FULL_FAST=0: full mode with its in-CPU fast paths off (every hot trap exits), to compare
      ...(process.env.WASMVISOR_FULL_FAST === "0" ? { fastPaths: false } : {}) });
  } catch (e) { error = String(e?.stack ?? e); }
  const totalMs = performance.now() - t0, cu = process.cpuUsage(c0), cpuMs = (cu.user + cu.system) / 1e3;
  if (error) { process.stdout.write(JSON.stringify({ id: job.id, ok: false, error }) + "\n"); continue; }
  const times = {};
  for (const m of r.console.matchAll(/^time (\S+) (\d+) (\S+)$/gm)) times[m[1]] = { cycles: Number(m[2]), unit: m[3] };
  const ok = r.exitStatus === 1 && !/^status FAIL/m.test(r.console);
  process.stdout.write(JSON.stringify({
    id: job.id, ok, exitStatus: r.exitStatus, message: r.message, wallMs: r.stats.wallMs, totalMs, cpuMs, times, stats: r.stats,
    console: ok ? undefined : r.console.slice(-2000),
  }) + "\n");
}
