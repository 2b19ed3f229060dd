#!/usr/bin/env node
// pack-check.mjs (npm run test:pack) — checks the published package the way a user gets it:
//   1. `npm pack` (scripts skipped: run after `npm ci`/`npm run build`), then the tarball's file list: the wasm
//      CPU, the bundles, the declarations and the README's guests are in it; tests, fixtures, sources and
//      sourcemaps are not.
//   2. Installs the tarball into a fresh project in a temporary directory, offline (`npm install --offline`:
//      nothing beyond what `npm ci` already fetched); TypeScript, vitest and @types/node are linked from this
//      repository's node_modules.
//   3. Takes the README's "Node API" and "Testing trap semantics" snippets as printed, type-checks them with
//      tsc (module/moduleResolution NodeNext, strict, the package's own .d.ts checked too), runs the Node API
//      snippet with node as ESM (its exit must match the one its comment prints) and the trap-lab snippet
//      under vitest (its `expect`s are the checks).
//   4. `npx wasmvisor run` on bundled guests (native and para) and `npx wasmvisor --version`: status and output.
// Removes its temporary directory. Exit 0 when everything holds, 1 with the failed checks listed.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const failures = [];
const check = (ok, what) => { console.log(`${ok ? "ok  " : "FAIL"} ${what}`); if (!ok) failures.push(what); return ok; };
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
function run(cmd, args, cwd, extra = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 64 << 20, timeout: 300_000, ...extra });
  return { status: r.status, out: (r.stdout ?? "") + (r.stderr ?? ""), stdout: r.stdout ?? "", error: r.error };
}

// ---- the README's snippets ----
/** The first ```ts block after the heading `## title`. */
export function snippet(readme, title) {
  const at = readme.indexOf(`\n## ${title}\n`);
  if (at < 0) throw new Error(`README has no "## ${title}" section`);
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!m) throw new Error(`README section "${title}" has no ts snippet`);
  return m[1];
}

for (const f of ["build/cpu.wasm", "dist/index.js", "dist/cli.js", "dist/matchers.js", "dist/types/host/index.d.ts"]) {
  if (!existsSync(join(root, f))) {
    console.error(`pack-check: ${f} is missing: run \`npm run build\` first`);
    process.exit(1);
  }
}
const readme = readFileSync(join(root, "README.md"), "utf8");
const apiSnippet = snippet(readme, "The Node API");
const trapSnippet = snippet(readme, "Testing trap semantics");
// the Node API snippet prints its expected exit in a comment: `const exit = m.run(); // { reason: ..., ... }`
const expectMatch = /const exit = [^;]*;\s*\/\/\s*\{([^}]*)\}/.exec(apiSnippet);
if (!expectMatch) { console.error("pack-check: the Node API snippet no longer shows its exit in a comment"); process.exit(1); }
const expectedExit = Object.fromEntries(expectMatch[1].split(",").map((kv) => {
  const [k, v] = kv.split(":").map((s) => s.trim());
  return [k, v.startsWith('"') ? JSON.parse(v) : Number(v)];
}));

const tmp = mkdtempSync(join(tmpdir(), "wasmvisor-pack-"));
try {
  // ---- 1. pack ----
  const p = run(npm, ["pack", "--ignore-scripts", "--json", "--pack-destination", tmp], root);
  if (!check(p.status === 0, "npm pack")) throw new Error(p.out);
  const info = JSON.parse(p.stdout.slice(p.stdout.indexOf("[")))[0];
  const files = info.files.map((f) => f.path);
  const tarball = join(tmp, info.filename);
  console.log(`     ${info.filename}: ${files.length} files, ${(info.size / 1024).toFixed(0)} KiB packed, ${(info.unpackedSize / 1024).toFixed(0)} KiB unpacked`);
  for (const need of ["build/cpu.wasm", "dist/index.js", "dist/cli.js", "dist/matchers.js", "dist/types/host/index.d.ts",
    "dist/types/test/matchers.d.ts", "dist/web/index.html", "dist/web/main.js", "dist/web/worker.js", "build/guests/workloads/compute.elf", "build/guests/workloads-pv/fork.elf", "README.md", "LICENSE", "package.json"]) {
    check(files.includes(need), `tarball has ${need}`);
  }
  const unwanted = files.filter((f) => /\.map$|^test\/|^fixtures\/|^assembly\/|^host\/|^scripts\/|^guests\/|^tools\/|\.wat$|^build\/oracle|^build\/bench/.test(f));
  check(unwanted.length === 0, `tarball has no tests, fixtures, sources or sourcemaps${unwanted.length ? `: ${unwanted.slice(0, 5).join(", ")}` : ""}`);
  // 3 MiB: the browser page for `wasmvisor serve` (dist/web, xterm.js and uPlot included) is about 650 KiB of it
  check(info.unpackedSize < 3 << 20, `unpacked size under 3 MiB (${(info.unpackedSize / 1024).toFixed(0)} KiB)`);

  // ---- 2. a consumer project, installed offline from the tarball ----
  const app = join(tmp, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "wasmvisor-consumer", private: true, type: "module" }, null, 2));
  const inst = run(npm, ["install", "--offline", "--no-audit", "--no-fund", tarball], app);
  if (!check(inst.status === 0, "npm install --offline <tarball> in a fresh project")) throw new Error(inst.out);
  for (const dev of ["typescript", "vitest", "@types/node"]) {
    mkdirSync(dirname(join(app, "node_modules", dev)), { recursive: true });
    symlinkSync(join(root, "node_modules", dev), join(app, "node_modules", dev), "dir");
  }

  // ---- 3. the README snippets: type-check, then run ----
  writeFileSync(join(app, "node-api.ts"), `${apiSnippet}\nconsole.log(JSON.stringify(exit));\n`);
  writeFileSync(join(app, "trap-lab.ts"), `${trapSnippet}\nconsole.log("trap-lab snippet: every expect held");\n`);
  writeFileSync(join(app, "tsconfig.json"), JSON.stringify({
    compilerOptions: {
      target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, types: ["node"],
      outDir: "out", skipLibCheck: false, noUnusedLocals: false,
    },
    files: ["node-api.ts", "trap-lab.ts"],
  }, null, 2));
  const tsc = run(process.execPath, [join(app, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], app);
  check(tsc.status === 0, `tsc type-checks the README snippets against the package's declarations${tsc.status ? `\n${tsc.out}` : ""}`);
  if (tsc.status === 0) {
    const api = run(process.execPath, ["out/node-api.js"], app);
    let exit = null;
    try { exit = JSON.parse(api.stdout.trim().split("\n").pop()); } catch { /* reported below */ }
    const same = exit && Object.entries(expectedExit).every(([k, v]) => exit[k] === v);
    check(api.status === 0 && same, `Node API snippet runs as ESM and exits as its comment says (${JSON.stringify(expectedExit)})${same ? "" : `\n${api.out}`}`);
    writeFileSync(join(app, "readme.test.js"),
      'import { test } from "vitest";\ntest("README trap-lab snippet", async () => { await import("./out/trap-lab.js"); });\n');
    const vt = run(process.execPath, [join(app, "node_modules/vitest/vitest.mjs"), "run", "--root", app, "readme.test.js"], app,
      { env: { ...process.env, CI: "1", NO_COLOR: "1" } });
    check(vt.status === 0 && /1 passed/.test(vt.out), `trap-lab snippet passes under vitest with wasmvisor/matchers${vt.status ? `\n${vt.out}` : ""}`);
  }

  // ---- 4. the command ----
  const npx = (args) => run(npm, ["exec", "--offline", "--no", "--", "wasmvisor", ...args], app);
  const v = npx(["--version"]);
  check(v.status === 0 && v.out.trim() === `wasmvisor ${pkg.version}`, `npx wasmvisor --version prints "wasmvisor ${pkg.version}" (got ${JSON.stringify(v.out.trim())})`);
  // a guest that passes writes 0 to isa-debug-exit: status (0 << 1) | 1 = 1, as under QEMU
  const guests = [
    ["node_modules/wasmvisor/build/guests/workloads/compute.elf", [], "status ok compute"],
    ["node_modules/wasmvisor/build/guests/workloads-pv/fork.elf", ["--mode", "para"], "status ok fork"],
  ];
  for (const [image, extra, want] of guests) {
    const r = npx(["run", image, ...extra]);
    check(r.status === 1 && r.out.includes(want),
      `npx wasmvisor run ${image.replace("node_modules/wasmvisor/", "")} ${extra.join(" ")}: status 1 and "${want}"${r.status === 1 && r.out.includes(want) ? "" : ` (status ${r.status})\n${r.out}`}`);
  }
  const bad = npx(["run", "no-such.elf"]);
  check(bad.status !== 0 && bad.out.trim().split("\n").length === 1 && !/\n\s+at /.test(bad.out),
    `npx wasmvisor run on a missing file: one line, non-zero status (${bad.status}: ${bad.out.trim()})`);
} catch (e) {
  check(false, `pack-check stopped: ${e instanceof Error ? e.message : String(e)}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (failures.length) {
  console.log(`\npack-check: ${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("\npack-check: the packed package installs, type-checks and runs as the README says");
