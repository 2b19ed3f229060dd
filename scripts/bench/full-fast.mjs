// full-fast.mjs — full mode with and without its in-CPU fast paths (host/full/README.md "Fast paths") against native
// mode, by CPU time of one process: the minimum of K runs at each of two lengths (difference method), the three
// configurations one after the other for each workload. Usage: node scripts/bench/full-fast.mjs [K] [workloads]
// (after npm run build:cli). docs/RESULTS.md "full mode overhead: in-CPU fast paths (issue 11)".
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const { runImage } = await import(ROOT + "/dist/index.js");
const K = Number(process.argv[2] ?? 3);
const W = {
  null_syscall: { native: [10000, 110000], full: [2000, 22000], arg: "iters" },
  page_fault: { native: [512, 4608], full: [256, 2304], arg: "iters" },
  mmap: { native: [1000, 6000], full: [100, 1100], arg: "iters" },
  ctxsw: { native: [500, 3500], full: [100, 1100], arg: "iters" },
  fork: { native: [20, 220], full: [20, 120], arg: "iters" },
  compute: { native: [4, 12], full: [4, 12], arg: "iters" },
};
const T = { cli: { native: [1e5, 1.1e6], full: [1e4, 1.1e6] }, pushf: { native: [1e5, 2.1e6], full: [5e3, 2.1e6] }, in: { native: [1e4, 2.1e5], full: [1e4, 2.1e5] }, ptemod: { native: [1e4, 1.1e5], full: [1e4, 1.1e5] } };
const only = process.argv[3]?.split(",");
async function cpu(image, cmdline, mode, fast) {
  let best = Infinity, st = null;
  for (let i = 0; i < K; i++) {
    const c0 = process.cpuUsage();
    const r = await runImage({ image, mode, cmdline, memSize: 64 << 20, ...(fast === false ? { fastPaths: false } : {}) });
    const c = process.cpuUsage(c0);
    if (r.exitStatus !== 1) throw new Error(`${cmdline} ${mode}: status ${r.exitStatus} ${r.message}`);
    best = Math.min(best, (c.user + c.system) / 1e3);
    st = r.stats;
  }
  return { ms: best, st };
}
const out = {};
const rows = [...Object.entries(W).map(([w, o]) => ({ w, o, image: readFileSync(`${ROOT}/build/guests/workloads/${w}.elf`), arg: "iters" })),
  ...Object.entries(T).map(([w, o]) => ({ w: "trap-" + w, o, image: readFileSync(`${ROOT}/build/guests/bench/trap-${w}.elf`), arg: "n" }))];
for (const { w, o, image, arg } of rows) {
  if (only && !only.includes(w)) continue;
  const per = {};
  for (const [mode, fast] of [["native", undefined], ["full", true], ["full", false]]) {
    const [n1, n2] = o[mode];
    const a = await cpu(image, `${arg}=${n1}`, mode, fast), b = await cpu(image, `${arg}=${n2}`, mode, fast);
    const key = mode === "native" ? "native" : fast ? "fast" : "slow";
    const ex = (s) => s.exitsTotal - (s.exits?.budget ?? 0);
    per[key] = { usPerOp: (b.ms - a.ms) * 1e3 / (n2 - n1), exitsPerOp: (ex(b.st) - ex(a.st)) / (n2 - n1) };
    if (mode === "full") {
      // exits per operation by cause (the monitor's), and what the CPU handled itself per operation
      const d = (x, y) => Object.fromEntries(Object.keys({ ...x, ...y }).map((k) => [k, +(((y[k] ?? 0) - (x[k] ?? 0)) / (n2 - n1)).toFixed(2)]).filter(([, v]) => v !== 0));
      const fa = a.st.devices.full, fb = b.st.devices.full;
      per[key].byCause = d(fa.exitsByCause, fb.exitsByCause);
      per[key].inCpu = d(fa.inCpu, fb.inCpu);
      // the host side of an exit: CPU µs per exit beyond native's per-operation cost (round trip, trap rows only)
      if (w.startsWith("trap-")) per[key].nsPerExit = per[key].exitsPerOp ? (per[key].usPerOp - per.native.usPerOp) * 1e3 / per[key].exitsPerOp : null;
    }
  }
  out[w] = { ...per, fastRatio: per.fast.usPerOp / per.native.usPerOp, slowRatio: per.slow.usPerOp / per.native.usPerOp };
  console.log(w, JSON.stringify(out[w]));
}
