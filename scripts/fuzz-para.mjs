// fuzz-para.mjs — the on-demand (large) fuzz campaign of para mode's guest-memory policy (issue 9):
//   npm run fuzz:para -- [--requests N] [--batches M] [--seed S] [--check-every K]
// Defaults: 100000 virtio requests, 10000 mmu_update/mmuext batches. The campaign is test/fuzz/para-policy.ts
// (the same code `npm test` runs at a small size), bundled with esbuild next to build/cpu.wasm and run here.
// Exit status: 0 all invariants held, 1 violations / host exceptions / hangs, 2 bad arguments.
import { build } from "esbuild";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
let args;
try {
  args = parseArgs({ options: { requests: { type: "string" }, batches: { type: "string" }, seed: { type: "string" }, "check-every": { type: "string" } } }).values;
} catch (e) {
  console.error(`fuzz-para: ${e.message}`);
  process.exit(2);
}
const num = (name, v, dflt) => {
  if (v === undefined) return dflt;
  const n = Number(v.replace(/_/g, "").replace(/e(\d+)$/i, (_, k) => "0".repeat(Number(k))));
  if (!Number.isSafeInteger(n) || n < 0) { console.error(`fuzz-para: --${name} must be a non-negative integer, got ${v}`); process.exit(2); }
  return n;
};
const requests = num("requests", args.requests, 100_000);
const batches = num("batches", args.batches, 10_000);
const seed = num("seed", args.seed, Date.now() % 1_000_000);
const checkEvery = num("check-every", args["check-every"], 1000) || 1000;

// bundled into build/ so that host/machine.ts finds ../build/cpu.wasm from there
const out = join(root, "build/fuzz-para.mjs");
await build({ entryPoints: [join(root, "test/fuzz/para-policy.ts")], bundle: true, platform: "node", format: "esm", target: "node20", outfile: out, logLevel: "warning", absWorkingDir: root });
const { fuzzParaPolicy } = await import(pathToFileURL(out).href);

console.log(`fuzz-para: ${requests} virtio requests, ${batches} mmu batches, seed ${seed}`);
const image = new Uint8Array(readFileSync(join(root, "build/guests/workloads-pv/null_syscall.elf")));
const r = fuzzParaPolicy({ requests, batches, seed, checkEvery, image });
const { violations, ...counts } = r;
console.log(JSON.stringify(counts, null, 2));
const steps = requests + batches;
console.log(`fuzz-para: ${steps} steps in ${(r.ms / 1000).toFixed(1)} s (${(r.ms / steps).toFixed(2)} ms/step, slowest ${r.maxStepMs.toFixed(1)} ms); ` +
  `${r.invariantChecks} invariant checks, ${r.hostMemoryChecks} host-memory checks; ${r.hostExceptions} host exceptions, ${r.hangs} hangs, ${violations.length} violations`);
for (const v of violations) console.log(`  VIOLATION ${v}`);
process.exit(violations.length || r.hostExceptions || r.hangs ? 1 : 0);
