// build-types.mjs — the published package's type declarations (package.json "exports" → "types"):
// tsc -p tsconfig.types.json writes dist/types/host/**.d.ts ("wasmvisor") and dist/types/test/matchers.d.ts
// ("wasmvisor/matchers"); this script then rewrites their relative ".ts" specifiers to ".js" so a consumer's
// tsc (any moduleResolution, no allowImportingTsExtensions) resolves them to the sibling .d.ts files.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist/types");
rmSync(out, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const r = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.types.json")], { stdio: "inherit" });
if (r.status !== 0) { console.error("build-types: tsc failed"); process.exit(1); }

let files = 0;
const walk = (d) => {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) { walk(p); continue; }
    if (!e.name.endsWith(".d.ts")) continue;
    const src = readFileSync(p, "utf8");
    // from "./x.ts" / import("../y.ts") → .js: only relative specifiers
    const fixed = src.replace(/(["'])(\.{1,2}\/[^"'\n]*?)\.ts\1/g, "$1$2.js$1");
    if (fixed !== src) writeFileSync(p, fixed);
    files++;
  }
};
walk(out);
console.log(`build-types: ${files} declaration files in dist/types`);
