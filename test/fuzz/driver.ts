// driver.ts — runs a campaign (modes.ts) in a worker thread under a watchdog: a program whose run() does not
// return within hangMs is a hang — the worker is terminated, the program reported (mode, seed, index: rerun it
// alone with `npm run fuzz:modes -- --mode M --seed S --first I --programs 1`) and the campaign resumes after it.
// Node 20 does not run TypeScript: the worker is bundled with esbuild first.
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { existsSync } from "node:fs";
import { build } from "esbuild";
import type { Mode } from "./guest.ts";
import type { CampaignResult } from "./modes.ts";

// test/fuzz/ in the source tree, build/ when bundled by scripts/fuzz-modes.mjs
const here = dirname(fileURLToPath(import.meta.url));
const root = [join(here, "../.."), join(here, "..")].find((d) => existsSync(join(d, "test/fuzz/worker.ts")))!;
let bundled: Promise<string> | null = null;
function workerBundle(): Promise<string> {
  // build/ beside host/: host/machine.ts finds ../build/cpu.wasm from the bundle too
  bundled ??= build({
    entryPoints: [join(root, "test/fuzz/worker.ts")], bundle: true, platform: "node", format: "esm", target: "node20",
    outfile: join(root, "build/fuzz-modes-worker.mjs"), logLevel: "warning", external: ["esbuild"],
  }).then(() => join(root, "build/fuzz-modes-worker.mjs"));
  return bundled;
}

export interface DriverOptions {
  mode: Mode; seed: number; instructions?: number; programs?: number; first?: number; budget?: number;
  slowMs?: number; hangMs?: number; log?: (s: string) => void;
}

export async function runIsolated(o: DriverOptions): Promise<CampaignResult> {
  const file = await workerBundle();
  const hangMs = o.hangMs ?? 60_000;
  const res: CampaignResult = { mode: o.mode, seed: o.seed, programs: 0, instructions: 0, ms: 0, exits: {}, outcomes: {}, problems: [], nextProgram: o.first ?? 0 };
  const t0 = Date.now();
  let lastLog = Date.now();
  const maxInsns = o.instructions ?? Infinity, maxProgs = o.programs ?? Infinity;
  while (res.instructions < maxInsns && res.programs < maxProgs) {
    const heartbeat = new SharedArrayBuffer(8);
    const beat = new Int32Array(heartbeat);
    Atomics.store(beat, 0, -1);
    const w = new Worker(file, {
      workerData: {
        mode: o.mode, seed: o.seed, first: res.nextProgram, budget: o.budget ?? 100_000, slowMs: o.slowMs ?? 5000, heartbeat,
        instructions: maxInsns - res.instructions, programs: Math.min(maxProgs - res.programs, 2 ** 31),
      },
    });
    const hung = await new Promise<number | null>((resolve) => {
      let seen = -2, since = Date.now();
      const timer = setInterval(() => {
        const cur = Atomics.load(beat, 1);
        if (cur !== seen) { seen = cur; since = Date.now(); return; }
        if (Date.now() - since > hangMs) { clearInterval(timer); const i = Atomics.load(beat, 0); void w.terminate().then(() => resolve(i)); }
      }, 250);
      w.on("message", (msg: { done?: true; index: number; instructions: number; exits: Record<string, number>; outcome: string; problems: string[] }) => {
        if (msg.done) { clearInterval(timer); resolve(null); return; }
        res.programs++; res.nextProgram = msg.index + 1; res.instructions += msg.instructions;
        for (const [k, n] of Object.entries(msg.exits)) if (n) res.exits[k] = (res.exits[k] ?? 0) + n;
        res.outcomes[msg.outcome] = (res.outcomes[msg.outcome] ?? 0) + 1;
        res.problems.push(...msg.problems);
        if (o.log && Date.now() - lastLog > 15_000) { lastLog = Date.now(); o.log(`  ${o.mode}: ${res.programs} programs, ${res.instructions} instructions, ${res.problems.length} problems, ${Math.round((Date.now() - t0) / 1000)} s`); }
      });
      w.on("error", (e) => { clearInterval(timer); res.problems.push(`${o.mode} seed ${o.seed}: worker died after program ${res.nextProgram - 1}: ${e.stack ?? e}`); resolve(Atomics.load(beat, 0)); });
    });
    if (hung === null) break;
    if (hung < 0) break; // died before its first program
    res.problems.push(`${o.mode} seed ${o.seed} program ${hung}: hang: run() did not return within ${hangMs} ms`);
    res.outcomes.hang = (res.outcomes.hang ?? 0) + 1;
    res.programs++; res.nextProgram = hung + 1;
  }
  res.ms = Date.now() - t0;
  return res;
}
