// scale-section.mjs — the bench's side of the scale section: runs scripts/bench/scale.mjs in its own process (so its
// memory figures are its own and V8's gc can be exposed to it) and renders its JSON as markdown.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
/** The peers workload's repetitions for the scale guest, per preset (82 M instructions at 100). */
export const SCALE_REPS = { smoke: 2, quick: 50, default: 100, full: 200 };

export function runScaleSection(params, { log = () => {} } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--expose-gc", join(ROOT, "scripts/bench/scale.mjs"), JSON.stringify(params)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (d) => { out += d; });
    p.stderr.on("data", (d) => {
      err += d;
      for (const l of String(d).split("\n")) if (l.startsWith("scale round")) log(l);
    });
    p.on("error", reject);
    p.on("close", (code) => {
      if (code !== 0) return reject(new Error(err.trim().split("\n").filter((l) => !l.startsWith("scale round")).pop() || `scale section exited ${code}`));
      try { resolve(JSON.parse(out)); } catch { reject(new Error("the scale section printed no JSON")); }
    });
  });
}

const UNRES = "not resolved";
const f = (c, d = 0) => (!c ? "-" : c.resolved ? `${c.est.toFixed(d)} [${c.lo.toFixed(d)}, ${c.hi.toFixed(d)}]` : c.n < 3 ? `${(c.raw ?? c.est)?.toFixed(d)} (${c.n} run${c.n === 1 ? "" : "s"}: no interval)` : UNRES);

export function renderScaleMarkdown(S) {
  const L = ["\n### scale (bench scale)\n"];
  L.push(`${S.cores} cores (os.availableParallelism); guest: the peers workload, native mode, ${S.guestInstructions.toLocaleString("en-US")} instructions, ${S.memSizeKiB / 1024} MiB RAM per machine; ${S.rounds} rounds; each context launches ${S.launchesPerContext} machines back to back (new Vm + load + 10 instructions + release). Section: ${S.cpuS} s CPU over ${S.wallS} s wall.`);
  L.push("interleaved = N machines in one thread, 1 M-instruction slices in turn; threads = N piscina worker threads, one machine each. Medians [95 % interval].\n");
  L.push("Wall-clock figures depend on the cores this process got on a shared machine; the per-CPU-second ones (CPU time of the whole process, every thread) do not.\n");
  L.push("| way | N | guest MIPS total (wall) | MIPS per machine | speed-up over N=1 (N is perfect) | MIPS per CPU-second | launches/s | launches/s per core | launches per CPU-second |");
  L.push("|---|---|---|---|---|---|---|---|---|");
  for (const [way, byN] of Object.entries(S.ways)) {
    for (const [n, r] of Object.entries(byN)) L.push(`| ${way} | ${n} | ${f(r.mipsTotal)} | ${f(r.mipsPerMachine)} | ${r.speedup ? f(r.speedup, 2) : "1"} | ${f(r.mipsPerCpuS)} | ${f(r.launchesPerS, 1)} | ${f(r.launchesPerSPerCore, 1)} | ${f(r.launchesPerCpuS, 1)} |`);
  }
  const I = S.idle;
  L.push(`\nidle machines: ${I.machines} × ${I.memSizeKiB / 1024} MiB: resident (RSS) ${I.rssPerMachineKiB} KiB per machine (JS heap ${I.heapPerMachineKiB} KiB of it) — ${I.withinTarget ? "within" : "over"} the 1 MiB target beyond guest RAM; reserved (wasm memory, V8 external) ${I.externalPerMachineKiB} KiB per machine, ${I.reservedBeyondRamKiB} KiB beyond the RAM (the CPU's state area below RAM_BASE: address space, mostly never touched)${I.gcExposed ? "" : " (gc not exposed: figures include garbage)"}`);
  return L.join("\n");
}
