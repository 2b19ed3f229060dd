// cli.ts — `npm run fuzz:modes -- [--instructions 1e7] [--programs N] [--seed S] [--mode native|full|para]
// [--first I] [--budget N] [--hang-ms MS] [--json]`: random guest kernels in every mode (modes.ts), each mode in a
// worker under a watchdog (driver.ts). Exit status 0 when no problem was found, 1 otherwise, 2 on bad usage.
import { runIsolated } from "./driver.ts";
import { MODES, ALL_MODES, type Mode } from "./guest.ts";

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : undefined; };
const num = (name: string, dflt?: number): number | undefined => {
  const v = opt(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) { console.error(`fuzz-modes: --${name} needs a non-negative number (got ${v})`); process.exit(2); }
  return n;
};
const modeArg = opt("mode");
if (modeArg !== undefined && !ALL_MODES.includes(modeArg as Mode)) { console.error(`fuzz-modes: --mode must be one of ${ALL_MODES.join(", ")}`); process.exit(2); }
const modes = modeArg ? [modeArg as Mode] : MODES;
const seed = num("seed", Date.now() % 1e9)!;
const programs = num("programs");
const instructions = num("instructions", programs === undefined ? 1e6 : undefined);
let failed = false;
const results = [];
for (const mode of modes) {
  console.log(`fuzz-modes: ${mode}, seed ${seed}, ${instructions ?? "any"} instructions, ${programs ?? "any"} programs`);
  const r = await runIsolated({ mode, seed, instructions, programs, first: num("first"), budget: num("budget"), hangMs: num("hang-ms"), log: (s) => console.log(s) });
  results.push(r);
  console.log(`${mode}: ${r.programs} programs, ${r.instructions} instructions in ${(r.ms / 1000).toFixed(1)} s; outcomes ${JSON.stringify(r.outcomes)}; exits ${JSON.stringify(r.exits)}; ${r.problems.length} problems`);
  for (const p of r.problems.slice(0, 20)) console.log("  " + p.split("\n").slice(0, 6).join("\n    "));
  if (r.problems.length) failed = true;
}
if (args.includes("--json")) console.log(JSON.stringify(results));
process.exit(failed ? 1 : 0);
