// full-steady.mjs — full/native CPU time in the steady state (docs/RESULTS.md, branch full-exit). Usage:
// node scripts/bench/full-steady.mjs [repo root] [workloads] [chunks] (after npm run build:cli).
// Full/native CPU time in the steady state of each workload: both VMs run the same guest with a huge iteration
// count; alternating chunks of the same number of guest instructions (full mode retires + emulates exactly
// native's count), the minimum CPU time per chunk of each (robust to a machine shared with other work).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
const ROOT = process.argv[2] || join(dirname(fileURLToPath(import.meta.url)), "../..");
const { Vm } = await import(ROOT + "/dist/index.js");
const C = { null_syscall: 3e6, page_fault: 5e5, mmap: 3e6, ctxsw: 3e6, fork: 3e6, compute: 3e6 };
const ITERS = { page_fault: 28000 };
const tot = (vm) => Object.values(vm.stats.exits).reduce((a, b) => a + b, 0);
for (const w of (process.argv[3] || Object.keys(C).join(",")).split(",")) {
  const image = readFileSync(`${ROOT}/build/guests/workloads/${w}.elf`);
  const mk = (mode, fastPaths) => { const vm = new Vm({ mode, memSize: (w === "page_fault" ? 128 : 64) << 20, ...(mode === "full" ? { fastPaths } : {}) }); vm.loadMultiboot(image, { cmdline: `iters=${ITERS[w] ?? 100000000}` }); vm.run({ maxInstructions: w === "page_fault" ? 5e5 : 5e6 }); return vm; };
  const vms = { native: mk("native"), fast: mk("full", true), slow: mk("full", false) };
  const best = {}, ex = {};
  for (let k = 0; k < Number(process.argv[4] ?? 8); k++) for (const [n, vm] of Object.entries(vms)) {
    const e0 = tot(vm), t0 = process.cpuUsage();
    const r = vm.run({ maxInstructions: C[w] });
    const c = process.cpuUsage(t0);
    if (r.stopReason !== "max-instructions") throw new Error(`${w} ${n}: ${r.message}`);
    best[n] = Math.min(best[n] ?? Infinity, (c.user + c.system) / 1e3); ex[n] = (tot(vm) - e0) / C[w] * 1e6;
  }
  console.log(w, JSON.stringify({ ms: best, fastRatio: +(best.fast / best.native).toFixed(2), slowRatio: +(best.slow / best.native).toFixed(2), exitsPerMinsn: ex }));
}
