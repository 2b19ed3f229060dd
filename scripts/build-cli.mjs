// build-cli.mjs — bundles the TypeScript host with esbuild:
//   dist/cli.js    the `wasmvisor` command (package.json "bin"), with a node shebang
//   dist/index.js  the library (package.json "main", exports "."), re-exporting host/index.ts
//   dist/matchers.js  the vitest matchers (exports "./matchers", test/matchers.ts): vitest stays external and
//                  the trap lab is imported from ./index.js, not bundled a second time
// Both find the CPU at ../build/cpu.wasm relative to dist/ (cpuModule() in host/machine.ts), which is where
// the published package ships it (package.json "files"). Declarations: scripts/build-types.mjs.
import { build } from "esbuild";
import { chmodSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// whitespace and syntax minified (names kept, so an internal error still names its function; the source map has
// the rest): the package stays under its 3 MiB budget (scripts/pack-check.mjs)
const common = { bundle: true, platform: "node", format: "esm", target: "node20", sourcemap: true, logLevel: "warning", absWorkingDir: root, minifyWhitespace: true, minifySyntax: true };

await build({
  ...common,
  stdin: {
    contents: 'import { cliEntry } from "./host/cli.ts";\nawait cliEntry();\n',
    resolveDir: root,
    sourcefile: "cli-entry.ts",
    loader: "ts",
  },
  outfile: join(root, "dist/cli.js"),
  banner: { js: "#!/usr/bin/env node" },
});
chmodSync(join(root, "dist/cli.js"), 0o755);

await build({ ...common, entryPoints: [join(root, "host/index.ts")], outfile: join(root, "dist/index.js") });
await build({
  ...common,
  entryPoints: [join(root, "test/matchers.ts")],
  outfile: join(root, "dist/matchers.js"),
  external: ["vitest"],
  plugins: [{
    name: "host-from-index",
    setup(b) { b.onResolve({ filter: /\/host\/[^/]+\.ts$/ }, () => ({ path: "./index.js", external: true })); },
  }],
});
console.log("build-cli: dist/cli.js, dist/index.js, dist/matchers.js");
