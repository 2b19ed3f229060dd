#!/usr/bin/env node
// diff.mjs — differential testing against the real CPU (issue 2). Bundles test/diff/cli.ts with esbuild
// (Node 20 does not run TypeScript) into build/diff-cli.mjs and runs it. Modes and options: test/diff/cli.ts.
//   node scripts/diff.mjs                     200,000 live cases: oracle vs wasm CPU, per-form report
//   node scripts/diff.mjs --count 20000 --filter '^shl'
//   node scripts/diff.mjs corpus | record | oracle | fuzz --programs 25000 | undef
//   node scripts/diff.mjs trans --count 100000 | fx | trans-record | fx-record   (x87 transcendentals, FXSAVE/FXRSTOR)
import { build } from "esbuild";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "build/diff-cli.mjs");
await build({
  entryPoints: [join(root, "test/diff/cli.ts")], bundle: true, platform: "node", format: "esm", target: "node20",
  outfile: out, logLevel: "warning",
  // host/machine.ts finds the CPU at ../build/cpu.wasm relative to its own file: from build/ that still works
});
await import(pathToFileURL(out).href);
