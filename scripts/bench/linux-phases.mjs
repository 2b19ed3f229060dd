// linux-phases.mjs — Debian's kernel booted natively to the first shell prompt in-process (the linux-boot test's
// setup: initrd-shell, `cryptomgr.notests`, 50 M-instruction slices), with the process's CPU time and the JIT's
// counters split at 2.0 G instructions (the end of the kernel's XZ decompressor: before it the decompressor, after
// it the kernel's own initialisation). docs/RESULTS.md "Linux boot: the compile tier". Run two builds at the same
// time (`--dist` of each) to compare them on a shared machine; add `node --cpu-prof` for a profile.
//
// usage: node scripts/bench/linux-phases.mjs [--dist DIR] [--linux DIR] [--every N]
//   --dist   the library bundle to run (default: this tree's dist/, npm run build:cli)
//   --linux  scripts/fetch-linux.mjs's cache (default: this tree's build/linux)
//   --every  also print the counters every N instructions
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const here = dirname(fileURLToPath(import.meta.url));
const DIST = resolve(opt("--dist", join(here, "../../dist")));
const LINUX = resolve(opt("--linux", join(here, "../../build/linux")));
const EVERY = Number(opt("--every", 0));
const SPLIT = 2.0e9, SLICE = 50e6, CAP = 12e9;

const W = await import(pathToFileURL(join(DIST, "index.js")).href);
let kernel;
try {
  kernel = join(LINUX, "root/boot", readdirSync(join(LINUX, "root/boot")).find((f) => f.startsWith("vmlinuz-")));
} catch {
  console.error(`linux-phases: no kernel under ${LINUX} (run node scripts/fetch-linux.mjs)`);
  process.exit(2);
}
const vm = new W.Vm({ mode: "native", memSize: 256 << 20 });
vm.loadBzImage(readFileSync(kernel), { initrd: readFileSync(join(LINUX, "initrd-shell.cpio.gz")), cmdline: "console=ttyS0 cryptomgr.notests" });
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const t0 = cpu();
let ran = 0;
const at = () => ({ cpuS: +(cpu() - t0).toFixed(2), instructions: ran, ...vm.machine.jitStats });
const diff = (a, b) => Object.fromEntries(Object.keys(b).map((k) => [k, +(b[k] - a[k]).toFixed(2)]));
let split = null;
while (!vm.console.includes("/ # ") && ran < CAP) {
  const r = vm.run({ maxInstructions: SLICE });
  ran += SLICE;
  if (!split && ran >= SPLIT) split = at();
  if (EVERY && ran % EVERY === 0) console.log(JSON.stringify(at()));
  if (r.stopReason !== "max-instructions") { console.error(`linux-phases: stopped: ${r.stopReason} ${r.message ?? ""}`); process.exit(1); }
}
const end = at();
if (!vm.console.includes("/ # ")) { console.error("linux-phases: no prompt"); process.exit(1); }
console.log(JSON.stringify({ prompt: end, decompressor: split, kernelPhase: split ? diff(split, end) : null }, null, 1));
