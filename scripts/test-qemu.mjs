#!/usr/bin/env node
// test-qemu.mjs -- checks the CPU test guests against QEMU, live.
// Rebuilds guests/tests, runs each guest that has a fixture in fixtures/qemu/
// under qemu-system-i386 (TCG) and diffs its serial output with the fixture.
// Fails on any difference; exits 0 with a message when QEMU is not installed.
// Guests whose expected output comes from the SDM (guests/tests/expected/) are
// not run here: QEMU is known to differ on them.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const QEMU = process.env.QEMU ?? "qemu-system-i386";
const TIMEOUT_MS = 30_000;

if (spawnSync(QEMU, ["--version"]).error) {
  console.log(`test:qemu: ${QEMU} not found; skipping (apt-get install qemu-system-x86)`);
  process.exit(0);
}

execFileSync("sh", [join(root, "guests/tests/build.sh")], { stdio: "inherit" });

const fixtures = join(root, "fixtures/qemu");
const names = readdirSync(fixtures).filter((f) => f.endsWith(".out")).map((f) => f.slice(0, -4)).sort();
let failed = 0;
for (const name of names) {
  const elf = join(root, "build/guests/tests", `${name}.elf`);
  if (!existsSync(elf)) { console.log(`FAIL ${name}: ${elf} not built`); failed++; continue; }
  // isa-debug-exit: the guest writes 0 to port 0xf4 when every check passed -> status 1.
  const r = spawnSync(QEMU, [
    "-kernel", elf, "-serial", "stdio", "-display", "none", "-monitor", "none",
    "-nic", "none", "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
  ], { encoding: "utf8", timeout: TIMEOUT_MS });
  const want = readFileSync(join(fixtures, `${name}.out`), "utf8");
  const got = r.stdout ?? "";
  if (got === want) {
    console.log(`ok   ${name} (${want.trim().split("\n").pop()}, qemu status ${r.status})`);
    continue;
  }
  failed++;
  const g = got.split("\n"), w = want.split("\n");
  console.log(`FAIL ${name}: serial output differs from fixtures/qemu/${name}.out` +
    (r.error ? ` (${r.error.code ?? r.error.message})` : ` (qemu status ${r.status})`));
  let shown = 0;
  for (let i = 0; i < Math.max(g.length, w.length) && shown < 20; i++) {
    if (g[i] === w[i]) continue;
    console.log(`  line ${i + 1}:\n    want: ${w[i] ?? "<end>"}\n    got:  ${g[i] ?? "<end>"}`);
    shown++;
  }
}
console.log(failed ? `test:qemu: ${failed} of ${names.length} guests differ` : `test:qemu: all ${names.length} guests match`);
process.exit(failed ? 1 : 0);
