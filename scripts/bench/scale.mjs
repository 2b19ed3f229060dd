// scale.mjs — the bench's scale section (scripts/bench.mjs --sections scale; issue 13 "Scale on one machine"): N
// machines running a small guest (the peers workload, guests/peers, native mode) at the same time, for N = 1, 2, …
// up to the core count, two ways:
//   interleaved  N machines in this one thread, each run a slice of 1 M instructions in turn (one core at most)
//   threads      N worker threads of a piscina pool (npm piscina, maxThreads = N), one machine each
// Per N and way: launches/s per core (each context launches machines back to back: new Vm + load + 10 instructions
// + release, divided by min(N, cores) for threads, by 1 interleaved) and throughput (the guest instructions of all N
// machines over the span from the first start to the last end: MIPS total and per machine). Then the memory one
// idle machine costs beyond its guest RAM: RSS and V8 external memory of this process with M idle machines (each
// loaded and run for 10 instructions), per machine, minus the RAM (target ≤ 1 MiB).
// Rounds interleave everything (round i of every N and way before round i+1); each figure is the median over the
// rounds with its 95 % bootstrap interval, each scaling ratio (throughput at N over throughput at 1, the same way)
// bootstrapped over the same round indices (scripts/bench/stats.mjs).
//   node --expose-gc scripts/bench/scale.mjs '{"guest":..., "maxN":2, "rounds":3, "launches":20, "idle":32, "memSize":16777216}'
// Prints the JSON result on stdout; errors are one line on stderr and status 1.
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { bootstrap, ratio, take, median, ciJson } from "./stats.mjs";
import * as T from "./scale-task.mjs";

for (const ev of ["uncaughtException", "unhandledRejection"]) {
  process.on(ev, (e) => { process.stderr.write(`bench scale: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}\n`); process.exit(1); });
}
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const P = JSON.parse(process.argv[2] ?? "{}");
const cores = availableParallelism();
const maxN = P.maxN ?? cores, rounds = P.rounds ?? 3, L = P.launches ?? 20, IDLE = P.idle ?? 32, memSize = P.memSize ?? 16 << 20;
const dist = pathToFileURL(join(ROOT, "dist/index.js")).href;
const base = { dist, guest: P.guest, memSize };
const gc = globalThis.gc ?? (() => {});
const log = (m) => process.stderr.write(`${m}\n`);
const Ns = Array.from({ length: maxN }, (_, i) => i + 1);

const { Piscina } = await import("piscina");
/** A pool of exactly n threads, each warmed up (library loaded, CPU module compiled, one guest started). */
async function pool(n) {
  const p = new Piscina({ filename: join(ROOT, "scripts/bench/scale-task.mjs"), minThreads: n, maxThreads: n, idleTimeout: 60_000, concurrentTasksPerWorker: 1 });
  await Promise.all(Array.from({ length: n }, () => p.run({ fn: "warm", ...base })));
  return p;
}

/** Interleaved: launches back to back in this thread, then N machines sliced round-robin. */
const cpuMs = (c0) => { const c = process.cpuUsage(c0); return (c.user + c.system) / 1e3; };
async function interleaved(n) {
  const lc = process.cpuUsage();
  const l = await T.launch({ ...base, launches: L * n });
  const launchCpuMs = cpuMs(lc);
  const vms = [];
  for (let i = 0; i < n; i++) vms.push(await T.boot(base));
  const t0 = performance.timeOrigin + performance.now(), rc = process.cpuUsage();
  let live = vms.slice(), instructions = 0;
  while (live.length) {
    for (const vm of live) {
      const r = vm.run({ maxInstructions: 1e6 });
      if (r.stopReason === "max-instructions") continue;
      if (r.stopReason !== "debug-exit") throw new Error(`an interleaved guest ended with ${r.stopReason}: ${r.message}`);
      vm.done = true;
    }
    live = live.filter((vm) => !vm.done);
  }
  const t1 = performance.timeOrigin + performance.now(), runCpuMs = cpuMs(rc);
  for (const vm of vms) { instructions += vm.stats.toJSON().instructions; vm.release(); }
  return { launchPerS: (L * n) / ((l.end - l.start) / 1e3), launchCores: 1, launches: L * n, launchCpuMs, instructions, spanMs: t1 - t0, runCpuMs };
}

/** Threads: N tasks at once on an N-thread pool (launches, then one guest run each). */
// (process.cpuUsage counts every thread of the process: the workers' CPU time, and the main thread's, which waits)
async function threads(p, n) {
  const lc = process.cpuUsage();
  const ls = await Promise.all(Array.from({ length: n }, () => p.run({ fn: "launch", ...base, launches: L })));
  const launchCpuMs = cpuMs(lc), rc = process.cpuUsage();
  const rs = await Promise.all(Array.from({ length: n }, () => p.run({ fn: "run", ...base })));
  const runCpuMs = cpuMs(rc);
  const span = (xs) => Math.max(...xs.map((x) => x.end)) - Math.min(...xs.map((x) => x.start));
  if (new Set(rs.map((r) => r.result)).size !== 1) throw new Error("the machines' RESULT lines differ");
  return { launchPerS: (L * n) / (span(ls) / 1e3), launchCores: Math.min(n, cores), launches: L * n, launchCpuMs, instructions: rs.reduce((a, r) => a + r.instructions, 0), spanMs: span(rs), runCpuMs };
}

// ---------------------------------------------------------------- measure
const raw = { interleaved: Object.fromEntries(Ns.map((n) => [n, []])), threads: Object.fromEntries(Ns.map((n) => [n, []])) };
const t0 = performance.now(), c0 = process.cpuUsage();
await T.run(base); // warm-up of this thread (the CPU module, V8's tiers)
const pools = {};
try {
  for (const n of Ns) pools[n] = await pool(n);
  for (let r = 0; r < rounds; r++) {
    for (const n of Ns) {
      raw.interleaved[n].push(await interleaved(n));
      raw.threads[n].push(await threads(pools[n], n));
    }
    log(`scale round ${r + 1}: ${Ns.map((n) => `N=${n} ${(raw.interleaved[n][r].instructions / raw.interleaved[n][r].spanMs / 1e3).toFixed(0)}/${(raw.threads[n][r].instructions / raw.threads[n][r].spanMs / 1e3).toFixed(0)} MIPS`).join(", ")} (interleaved/threads)`);
  }
} finally {
  await Promise.all(Object.values(pools).map((p) => p.destroy()));
}

// ---------------------------------------------------------------- idle memory
// (the released machines' memories wait in the machine pool for reuse: emptied first, so every idle machine here
// allocates its own)
(await import(dist)).drainMachinePool();
gc(); gc();
const m0 = process.memoryUsage();
const keep = [];
for (let i = 0; i < IDLE; i++) { const vm = await T.boot(base); vm.run({ maxInstructions: 10 }); keep.push(vm); }
gc(); gc();
const m1 = process.memoryUsage();
const kib = (x) => +(x / IDLE / 1024).toFixed(1);
const idle = {
  machines: IDLE, memSizeKiB: memSize >> 10, gcExposed: Boolean(globalThis.gc),
  // resident: the pages really used (RSS counts touched pages only: the guest's loaded image and the CPU state it
  // touched, the devices, the JS objects), an upper bound of what a machine costs beyond its untouched RAM
  rssPerMachineKiB: kib(m1.rss - m0.rss),
  heapPerMachineKiB: kib(m1.heapUsed - m0.heapUsed),
  // reserved: V8 external memory, i.e. each machine's wasm memory (the CPU's state area below RAM_BASE + the RAM),
  // address space reserved whether touched or not
  externalPerMachineKiB: kib(m1.external - m0.external),
};
idle.reservedBeyondRamKiB = +(idle.externalPerMachineKiB - (memSize >> 10)).toFixed(1);
idle.withinTarget = idle.rssPerMachineKiB <= 1024; // issue 13: ≤ 1 MiB per idle machine beyond guest RAM
keep.length = 0;

// ---------------------------------------------------------------- analysis
const mips = (x) => x.instructions / (x.spanMs * 1e3);
const fig = (xs, f) => ciJson(bootstrap(xs.length, (idx) => median(take(xs.map(f), idx)), { positive: true }));
const out = { cores, maxN, rounds, launchesPerContext: L, guestInstructions: raw.interleaved[1][0].instructions, memSizeKiB: memSize >> 10, ways: {}, idle };
for (const way of ["interleaved", "threads"]) {
  out.ways[way] = {};
  for (const n of Ns) {
    const xs = raw[way][n];
    const st = (k) => (idx) => median(take(xs.map(mips), idx));
    const one = raw[way][1];
    out.ways[way][n] = {
      mipsTotal: fig(xs, mips),
      mipsPerMachine: fig(xs, (x) => mips(x) / n),
      // per CPU-second of this process (all threads): what the figures would be with the cores to ourselves
      mipsPerCpuS: fig(xs, (x) => x.instructions / (x.runCpuMs * 1e3)),
      launchesPerCpuS: fig(xs, (x) => x.launches / (x.launchCpuMs / 1e3)),
      launchesPerSPerCore: fig(xs, (x) => x.launchPerS / x.launchCores),
      launchesPerS: fig(xs, (x) => x.launchPerS),
      // throughput at N over throughput at 1 (the same way, the same round indices): N would be perfect scaling
      speedup: n === 1 ? null : ciJson(ratio(rounds, st(), (idx) => median(take(one.map(mips), idx)))),
    };
  }
}
const cu = process.cpuUsage(c0);
out.cpuS = +((cu.user + cu.system) / 1e6).toFixed(1);
out.wallS = +((performance.now() - t0) / 1e3).toFixed(1);
process.stdout.write(JSON.stringify(out) + "\n");
process.exit(0);
