#!/usr/bin/env node
// fuzz-modes.mjs — random guest kernels in every mode (issue 9): bundles test/fuzz/cli.ts with esbuild (Node 20
// does not run TypeScript) into build/fuzz-modes-cli.mjs and runs it. Options: test/fuzz/cli.ts.
//   npm run fuzz:modes -- --instructions 1e7 --seed 1 [--mode native|full|para]
import { build } from "esbuild";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "build/fuzz-modes-cli.mjs");
await build({
  entryPoints: [join(root, "test/fuzz/cli.ts")], bundle: true, platform: "node", format: "esm", target: "node20",
  outfile: out, logLevel: "warning", external: ["esbuild"],
});
await import(pathToFileURL(out).href);
