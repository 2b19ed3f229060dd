// full-exit-roundtrip.mjs — where an exit round trip goes (docs/RESULTS.md "the exit round trip", branch full-exit):
// usage: node scripts/bench/full-exit-roundtrip.mjs [repo root, default this one] (after npm run build:cli).
// (a) the CPU side alone — a bare Machine at CPL 3 whose `cli` exits with #GP, the
// host skipping it (run() entry/exit, the fault, the exit record, the Exit and insn objects); (b) the whole full-mode
// round trip (trap-cli, fast paths off: the run loop, timers, the monitor's dispatch and emulation). min of chunks.
// Second pass (branch exit-rt): "bare-reused" is (a) through Machine.runReused (the run loop's exit objects, where
// the build has it), "native-in" trap-in in native mode (an io-in exit answered by the bus, no monitor).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
const ROOT = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "../..");
const { Machine, Vm } = await import(ROOT + "/dist/index.js");
const m = new Machine({ memSize: 1 << 20, exceptionBitmap: 0xffffffff });
m.setFlatProtectedMode();
m.writeMem(0x1000, [0xfa, 0xeb, 0xfd]); // cli; jmp $-3
m.setSegment("cs", { selector: 0x1b, base: 0, limit: 0xffffffff, attr: 0xc0fb });
for (const s of ["ss", "ds", "es"]) m.setSegment(s, { selector: 0x23, base: 0, limit: 0xffffffff, attr: 0xc0f3 });
m.eip = 0x1000; m.esp = 0x8000; m.eflags = 0x202;
const vms = {};
for (const w of ["trap-cli", "trap-in", "native-in"]) {
  const native = w === "native-in";
  const vm = native ? new Vm({ mode: "native", memSize: 64 << 20 }) : new Vm({ mode: "full", memSize: 64 << 20, fastPaths: false });
  vm.loadMultiboot(readFileSync(`${ROOT}/build/guests/bench/${native ? "trap-in" : w}.elf`), { cmdline: "n=1000000000" });
  vm.run({ maxInstructions: 2e6 });
  vms[w] = vm;
}
const tot = (vm) => Object.values(vm.stats.exits).reduce((a, b) => a + b, 0);
const best = { bare: Infinity, "bare-reused": Infinity, "trap-cli": Infinity, "trap-in": Infinity, "native-in": Infinity };
const runR = (m.runReused ?? m.run).bind(m);
for (let k = 0; k < 30; k++) {
  let t0 = process.cpuUsage();
  for (let i = 0; i < 100000; i++) { const e = m.run(1000); m.eip = e.eip + 1; }
  { const c = process.cpuUsage(t0); best.bare = Math.min(best.bare, (c.user + c.system) * 1e3 / 100000); }
  t0 = process.cpuUsage();
  for (let i = 0; i < 100000; i++) { const e = runR(1000); m.eip = e.eip + 1; }
  { const c = process.cpuUsage(t0); best["bare-reused"] = Math.min(best["bare-reused"], (c.user + c.system) * 1e3 / 100000); }
  for (const w of ["trap-cli", "trap-in", "native-in"]) {
    const vm = vms[w], e0 = tot(vm); t0 = process.cpuUsage();
    vm.run({ maxInstructions: 2e5 });
    { const c = process.cpuUsage(t0); best[w] = Math.min(best[w], (c.user + c.system) * 1e3 / (tot(vm) - e0)); }
  }
}
console.log(Object.fromEntries(Object.entries(best).map(([k, v]) => [k, Math.round(v)])));
