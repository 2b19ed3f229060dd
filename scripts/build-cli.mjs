// build-cli.mjs — bundles the TypeScript host with esbuild:
//   dist/cli.js    the `wasmvisor` command (package.json "bin"), with a node shebang
//   dist/index.js  the library (package.json "main"), re-exporting host/index.ts
// Both find the CPU at ../build/cpu.wasm relative to dist/ (cpuModule() in host/machine.ts).
import { build } from "esbuild";
import { chmodSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const common = { bundle: true, platform: "node", format: "esm", target: "node20", sourcemap: true, logLevel: "warning", absWorkingDir: root };

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
console.log("build-cli: dist/cli.js, dist/index.js");
