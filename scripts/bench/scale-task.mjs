// scale-task.mjs — what one machine does in the bench's scale section (scripts/bench/scale.mjs), in the main thread
// (interleaved) or in a piscina worker thread. Loads the bundled library (dist/index.js) once per thread.
//   launch(p)  p.launches machines one after another: new Vm + load the guest + run its first 10 instructions,
//              each released for the next launch (Vm.release: the memory pool); returns { launches, ms }
//   run(p)     one machine runs the guest to its isa-debug-exit; returns its instructions and its span
//              (performance.timeOrigin-based ms, comparable across threads)
//   boot(p)    a machine with the guest loaded (the interleaved runs slice it themselves)
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

let W = null;
const images = new Map();
async function lib(dist) { W ??= await import(dist); return W; }
const image = (p) => { if (!images.has(p)) images.set(p, new Uint8Array(readFileSync(p))); return images.get(p); };
const now = () => performance.timeOrigin + performance.now();

/** A machine with the guest loaded (not run). */
export async function boot({ dist, guest, memSize }) {
  const { Vm } = await lib(dist);
  const vm = new Vm({ mode: "native", memSize });
  vm.loadMultiboot(image(guest));
  return vm;
}

export async function launch({ dist, guest, memSize, launches }) {
  await lib(dist);
  const t0 = now();
  for (let i = 0; i < launches; i++) {
    const vm = await boot({ dist, guest, memSize });
    const r = vm.run({ maxInstructions: 10 });
    if (r.stopReason !== "max-instructions") throw new Error(`a launch stopped with ${r.stopReason}: ${r.message}`);
    vm.release();
  }
  return { launches, start: t0, end: now() };
}

export async function run({ dist, guest, memSize }) {
  const vm = await boot({ dist, guest, memSize });
  const t0 = now();
  const r = vm.run({});
  const end = now();
  if (r.stopReason !== "debug-exit" || !/RESULT [0-9a-f]{8}/.test(vm.console)) throw new Error(`the guest ended with ${r.stopReason}: ${r.message}`);
  const instructions = vm.stats.toJSON().instructions;
  vm.release();
  return { instructions, start: t0, end, result: /RESULT ([0-9a-f]{8})/.exec(vm.console)[1] };
}

/** piscina's entry: { fn, ...args }. */
export default async function task({ fn, ...p }) {
  if (fn === "warm") { await lib(p.dist); const vm = await boot(p); vm.run({ maxInstructions: 1e5 }); vm.release(); return { ok: true }; }
  return fn === "launch" ? launch(p) : run(p);
}
