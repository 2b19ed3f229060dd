// build-web.mjs — bundles the browser page with esbuild into dist/web/ (served by `wasmvisor serve`):
//   main.js + main.css  the page (web/main.ts: xterm.js terminal, uPlot charts, controls)
//   worker.js           the CPU in a Web Worker (web/worker.ts): the same host modules as the CLI
//   index.html          copied from web/
// The host modules reach Node only through host/runtime/index.ts, which re-exports runtime/node.ts; here that
// file resolves to runtime/browser.ts instead (as a package's "browser" field would). Any other node: import is
// an error: the page's bundle must not need Node. cpu.wasm and the guests are served by `serve` from build/.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist/web");
mkdirSync(out, { recursive: true });

const browserRuntime = {
  name: "browser-runtime",
  setup(b) {
    const nodeRuntime = join(root, "host/runtime/node.ts");
    b.onResolve({ filter: /(^|\/)node\.ts$/ }, (a) =>
      join(a.resolveDir, a.path) === nodeRuntime ? { path: join(root, "host/runtime/browser.ts") } : undefined);
    b.onResolve({ filter: /^node:/ }, (a) => ({
      errors: [{ text: `'${a.path}' imported by ${a.importer.replace(root + "/", "")}: the web bundle must not need Node (go through host/runtime/)` }],
    }));
  },
};

const t0 = performance.now();
await build({
  entryPoints: { main: join(root, "web/main.ts"), worker: join(root, "web/worker.ts") },
  outdir: out,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["chrome110", "firefox115", "safari16"],
  minify: true,
  sourcemap: true,
  logLevel: "warning",
  absWorkingDir: root,
  plugins: [browserRuntime],
}).catch(() => process.exit(1)); // esbuild has printed the errors
copyFileSync(join(root, "web/index.html"), join(out, "index.html"));
console.log(`build-web: dist/web/ (index.html, main.js, main.css, worker.js) in ${Math.round(performance.now() - t0)} ms`);
