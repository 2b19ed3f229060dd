// suite.mjs — the three-mode part of the bench (scripts/bench.mjs): per-workload native/full/para table, the trap
// round trip, disk I/O (ATA PIO vs virtio-blk) and the page-table-heavy comparison. Everything here is measured by
// the difference method: each guest runs at two lengths N1 < N2 and
//     cost per operation = (median T(N2) - median T(N1)) / (N2 - N1)
// where T is the VM run loop's wall time (stats.wallMs), so boot, shutdown, VM creation and wasm warm-up cancel.
// Counters (instructions, exits by cause, shadow faults, hypercalls...) are deterministic in wasmvisor (virtual
// time = retired instructions), so they are differenced the same way from one round.
//
// Processes: one worker (scripts/bench/worker.mjs) per (round, mode), each running every job of that mode in
// fresh VMs after one discarded warm-up job; rounds interleave the modes (native, full, para, native, ...) and the
// N1/N2 order alternates per round, so slow drifts in the machine's load hit all modes alike.
import { spawn } from "node:child_process";
import { writeFileSync, readFileSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { perUnit, perUnitStat, ratio, difference, scale, invert, ciJson, fmtEst, take, median as med } from "./stats.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const WORKER = join(ROOT, "scripts/bench/worker.mjs");
/** "hw-shadow" is hw mode with --npt off: shadow page tables with CR3/INVLPG/#PF exits (first-generation VT-x) */
export const MODES = ["native", "full", "para", "hw", "hw-shadow"];
export const SECTIONS = ["workloads", "trap", "disk", "pt"];

/** What one operation is, per workload (the difference method divides by the change in `iters`). */
export const WORKLOADS = {
  compute: "1 iteration: CRC-32 of 16 KiB + sieve to 65536 + heapsort of 4096 words (user mode only)",
  ctxsw: "1 iteration: each of 2 processes yields once (2 switches) + 1 pipe round trip (2 switches)",
  disk: "1 KiB written + read back through syscalls (ATA PIO native/full, virtio-blk para), 4 KiB requests",
  fork: "fork + child exit + wait (64 KiB heap copied eagerly)",
  mmap: "map 4 anonymous pages, touch each, unmap (PTE writes + clears + invlpg)",
  null_syscall: "getpid() round trip",
  page_fault: "1 heap page: one demand-zero #PF + one touch of the mapped page + one read back",
  tlb_miss: "4096 reads at random pages of a 16 MiB working set (4x the TLB's reach): ~1 TLB miss each",
};

/**
 * Iteration counts [N1, N2] per workload and mode (sized so that N2 - N1 operations take about 0.3 s in that mode
 * on this machine: a getpid costs ~1 µs in native mode and ~25 µs in full mode, so one count for all modes would
 * leave one of them in the noise), trap-loop counts, disk sizes per preset. N1 is never tiny: the block compiler
 * and V8's wasm tier-up must be warm before N1 ends, or the warm-up would not cancel.
 */
const DEFAULT_COUNTS = withHw({
  workloads: {
    compute: { native: [4, 16], full: [4, 16], para: [4, 16] },
    // (full mode's counts are native's since its page-table writes, fills and page faults run in the CPU: at
    // about 2× native, the smaller counts it had left N1 inside the JIT's warm-up — mmap's 100 iterations ran before
    // the loop's blocks reached the compile threshold — and the bench reported 6–8× where the steady state is 2×.
    // hw-shadow keeps those smaller counts: it still exits 28–44 times per mmap/fork operation.)
    ctxsw: { native: [500, 3500], full: [500, 3500], para: [500, 3500], shadow: [100, 1000] },
    disk: { native: [16, 96], full: [16, 96], para: [16, 96] },
    fork: { native: [20, 420], full: [20, 420], para: [20, 300], shadow: [20, 220] },
    mmap: { native: [1000, 11000], full: [1000, 11000], para: [1000, 6000], shadow: [100, 600] },
    null_syscall: { native: [10000, 210000], full: [10000, 210000], para: [10000, 70000] },
    page_fault: { native: [512, 6144], full: [512, 6144], para: [512, 4608], shadow: [256, 2304] },
    tlb_miss: { native: [8, 72], full: [8, 72], para: [8, 72] },
  },
  trap: {
    cli: { native: [1e5, 1.1e6], full: [1e4, 2.1e5] }, in: { native: [1e4, 3.1e5], full: [1e4, 1.3e5] },
    pushf: { native: [1e5, 2.1e6], full: [5e3, 5.5e4] }, vmcall: { para: [1e5, 1.1e6] },
    ptemod: { native: [1e5, 2.1e6], full: [1e3, 6e3] },
  },
});
/** hw mode (nested paging) runs at about native speed: its workload counts are native's (no trap rows: the trap
 *  guests measure the trap-and-emulate and hypercall paths, which hw mode does not have). hw-shadow exits on page
 *  faults, page-table writes and CR3 loads as full mode did before its in-CPU paths: smaller counts (`shadow`)
 *  where those dominate. */
function withHw(c) {
  for (const [w, o] of Object.entries(c.workloads)) {
    o.hw = o.native.slice();
    o["hw-shadow"] = (o.shadow ?? o.native).slice();
    delete o.shadow;
  }
  return c;
}
/** The default counts with N2 - N1 scaled by k (N1 kept; integers; disk multiples of 4 KiB). */
function scaled(k) {
  const sc = (o) => Object.fromEntries(Object.entries(o).map(([m, [a, b]]) => [m, [a, a + Math.max(4, Math.round(((b - a) * k) / 4) * 4)]]));
  return {
    workloads: Object.fromEntries(Object.entries(DEFAULT_COUNTS.workloads).map(([w, o]) => [w, sc(o)])),
    trap: Object.fromEntries(Object.entries(DEFAULT_COUNTS.trap).map(([t, o]) => [t, sc(o)])),
  };
}
const all = (a) => ({ native: a, full: a, para: a, hw: a, "hw-shadow": a });
export const PRESETS = {
  smoke: {
    runs: 1,
    workloads: { compute: all([1, 2]), ctxsw: all([20, 40]), disk: all([4, 8]), fork: all([2, 4]), mmap: all([20, 40]), null_syscall: all([200, 400]), page_fault: all([32, 64]), tlb_miss: all([2, 4]) },
    trap: { cli: { native: [1e3, 2e3], full: [1e3, 2e3] }, in: { native: [1e3, 2e3], full: [1e3, 2e3] }, pushf: { native: [1e3, 2e3], full: [1e3, 2e3] }, vmcall: { para: [1e3, 2e3] }, ptemod: { native: [100, 200], full: [100, 200] } },
    disk: { kib: [0, 16], chunks: [8] },
  },
  // quick: three rounds (the fewest that give an interval, scripts/bench/stats.mjs) of shorter guests
  quick: { runs: 3, ...scaled(0.25), disk: { kib: [128, 256], chunks: [1, 8, 64] } },
  default: { runs: 3, ...DEFAULT_COUNTS, disk: { kib: [128, 512], chunks: [1, 8, 64, 256] } },
  full: { runs: 5, ...scaled(3), disk: { kib: [128, 1152], chunks: [1, 8, 64, 256] } },
};

/** The trap guests (guests/bench/trap.S): what one loop iteration does and how many instructions trap in full. */
export const TRAP_KINDS = {
  cli: { body: "cli; sti", trapped: 2, what: "full: done in the CPU on the virtual IF it shares with the monitor, no exit (CTRL_FAST_VIF; WASMVISOR_FULL_FAST=0: #GP at real CPL 3 → decode → emulate against the virtual IF → resume)" },
  in: { body: "in al, 0x80", trapped: 1, what: "#GP (IOPL 0) → decode → TSS I/O bitmap check → port bus → resume (native: an io-in exit)" },
  pushf: { body: "pushf; popf", trapped: 2, what: "full: done in the CPU on the shared virtual flags, no exit (CTRL_FAST_VIF; WASMVISOR_FULL_FAST=0: sensitive exit, the CPU hands the instruction over before executing it → emulate against the virtual IF)" },
  vmcall: { body: "vmcall (HC_VERSION)", trapped: 1, what: "para: VMCALL hypercall exit → dispatch → resume" },
  ptemod: { body: "mov [pte], edx; mov eax, [page]", trapped: 1, what: "ptemod: store to a write-protected guest PT → #PF exit → single-step → 4 KiB frame diff → zap shadow entry; then the use → hidden #PF → shadow fill (2 exits)" },
};

const image = (mode, name) => `build/guests/${mode === "para" ? "workloads-pv" : "workloads"}/${name}.elf`;

/** Builds the job list of every section, tagged so the results can be grouped back. */
export function planJobs({ preset, sections, workloads, modes = MODES }) {
  const P = PRESETS[preset];
  const jobs = [];
  if (sections.includes("workloads") || sections.includes("pt")) {
    for (const w of workloads) {
      for (const mode of modes) for (const n of P.workloads[w][mode]) {
        jobs.push({ section: "workloads", key: w, mode, n, image: image(mode, w), cmdline: `iters=${n}`, diskKiB: w === "disk" ? P.workloads[w][mode][1] + 64 : undefined });
      }
    }
  }
  if (sections.includes("trap")) {
    for (const [kind, byMode] of Object.entries(P.trap)) {
      for (const [mode, ns] of Object.entries(byMode)) {
        if (!modes.includes(mode)) continue;
        for (const n of ns) jobs.push({ section: "trap", key: kind, mode, n, image: `build/guests/bench/trap-${kind}.elf`, cmdline: `n=${n}` });
      }
    }
  }
  if (sections.includes("disk")) {
    const [k1, k2] = P.disk.kib;
    for (const chunk of P.disk.chunks) for (const mode of modes) for (const kib of [k1, k2]) {
      jobs.push({
        section: "disk", key: String(chunk), mode, n: kib, chunk,
        image: `build/guests/bench/diskbench-${mode === "para" ? "para" : "native"}.elf`, cmdline: `chunk=${chunk} kib=${kib}`, diskKiB: k2 + 256,
      });
    }
  }
  jobs.forEach((j, i) => { j.id = i; });
  return jobs;
}

export function missingImages(jobs) {
  return [...new Set(jobs.map((j) => j.image))].filter((p) => !existsSync(join(ROOT, p)));
}

// ---------------------------------------------------------------- load accounting
const procStat = () => { try { return readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number); } catch { return null; } };
const childTicks = () => {
  try { const f = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" "); return Number(f[13]) + Number(f[14]); } catch { return NaN; }
};

/** Runs the jobs: `runs` rounds, in each one worker per mode. Returns { results: [{job, round, r}], load }. */
export async function runJobs(jobs, { runs, log = () => {}, ncpu = 1 }) {
  const R = suiteRunner(jobs, { log, ncpu });
  for (let i = 0; i < runs; i++) await R.round();
  return R.finish();
}

/** Runs one worker; onLine(line) for each line of its stdout as it comes (the worker prints one per job). */
function runWorker(file, onLine) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [WORKER, file], { stdio: ["ignore", "pipe", "inherit"] });
    let buf = "";
    p.stdout.setEncoding("utf8");
    p.stdout.on("data", (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) { const line = buf.slice(0, i); buf = buf.slice(i + 1); if (line.trim()) onLine(line); }
    });
    p.on("error", reject);
    p.on("close", (status) => { if (buf.trim()) onLine(buf); resolve(status); });
  });
}

/**
 * The suite as rounds on demand (so the bench can add rounds until the intervals are narrow enough):
 * round() (async) runs one more interleaved round of every mode; raw() is what analyze() takes; finish() also
 * removes the temporary files. onJob() is called as each guest run (job or warm-up) ends (progress).
 */
export function suiteRunner(jobs, { log = () => {}, ncpu = 1, onJob = () => {} }) {
  const tmp = mkdtempSync(join(tmpdir(), "wasmvisor-suite-"));
  const out = [];
  const modes = [...new Set(jobs.map((j) => j.mode))];
  const st0 = procStat(), c0 = childTicks(), t0 = performance.now(), la0 = loadavg();
  let round = 0;
  const roundMs = [];
  const runRound = async () => {
    const tr = performance.now();
    try {
      for (const mode of modes) {
        // N1/N2 order alternates per round; one warm-up job first (discarded)
        let mine = jobs.filter((j) => j.mode === mode);
        if (round % 2) {
          const byKey = new Map();
          for (const j of mine) { const k = `${j.section}|${j.key}`; if (!byKey.has(k)) byKey.set(k, []); byKey.get(k).push(j); }
          mine = [...byKey.values()].flatMap((g) => g.slice().reverse());
        }
        const warm = { ...mine.find((j) => j.section !== "disk") ?? mine[0], id: -1 };
        const file = join(tmp, `jobs-${round}-${mode}.json`);
        writeFileSync(file, JSON.stringify([warm, ...mine]));
        const ts = performance.now();
        const byId = new Map(jobs.map((j) => [j.id, j]));
        const lines = [];
        const status = await runWorker(file, (line) => { lines.push(line); onJob(); });
        if (status !== 0) throw new Error(`bench worker (${mode}, round ${round + 1}) failed with status ${status}`);
        for (const line of lines) {
          const r = JSON.parse(line);
          if (r.id === -1) continue;
          const job = byId.get(r.id);
          if (!r.ok) throw new Error(`${job.section} ${job.key} ${mode} n=${job.n}: ${r.error ?? r.message}\n${r.console ?? ""}`);
          out.push({ job, round, r });
        }
        log(`suite round ${round + 1} ${mode}: ${mine.length} runs in ${((performance.now() - ts) / 1000).toFixed(1)} s\n`);
      }
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    round++;
    roundMs.push(performance.now() - tr);
  };
  return {
    modes, round: runRound, rounds: () => round, meanRoundMs: () => (roundMs.length ? roundMs.reduce((a, b) => a + b, 0) / roundMs.length : 0),
    raw: () => ({ results: out, load: loadNow() }),
    finish: () => { rmSync(tmp, { recursive: true, force: true }); return { results: out, load: loadNow() }; },
  };
  function loadNow() {
    const st1 = procStat(), c1 = childTicks(), wallS = (performance.now() - t0) / 1000;
    let load = { wallS: +wallS.toFixed(1), loadavgStart: la0.map((x) => +x.toFixed(2)), loadavgEnd: loadavg().map((x) => +x.toFixed(2)) };
    if (st0 && st1) {
      const d = st1.map((x, i) => x - st0[i]);
      const total = d.reduce((a, b) => a + b, 0), idle = d[3] + d[4];
      const busy = (total - idle) / total; // fraction of all cores busy
      const ours = Number.isFinite(c1 - c0) ? (c1 - c0) / total : NaN; // our workers' share (ticks over all-core ticks)
      load = { ...load, machineBusy: +busy.toFixed(3), ours: +ours.toFixed(3), others: +Math.max(0, busy - ours).toFixed(3), cores: ncpu };
    }
    return load;
  }
}

// ---------------------------------------------------------------- analysis
const SKIP = /(^|\.)(wallMs|mips|freePages|shadowsCached|codeFrames|closeHole|exitStatus|memSize|virtualNs|haltedNs)$|^ports\.|^mmioPages\.|^devices\.bus\.|^devices\.guestErrors|^interruptsByVector|translator\.(byKind|scannedBytes)/;
/** Flattens the numeric leaves of a stats object ("devices.full.exitsByCause.#PF" → n). */
export function flatten(o, pre = "", acc = {}) {
  for (const [k, v] of Object.entries(o ?? {})) {
    const key = pre ? `${pre}.${k}` : k;
    if (typeof v === "number") { if (!SKIP.test(key)) acc[key] = v; }
    else if (v && typeof v === "object" && !Array.isArray(v)) flatten(v, key, acc);
    else if (Array.isArray(v)) v.forEach((x, i) => { if (typeof x === "number") acc[`${key}.${i}`] = x; else if (x && typeof x === "object") flatten(x, `${key}.${i}`, acc); });
  }
  return acc;
}
/** Ports in one flat map "port 0x1f0 r" → count (so exits by port difference like the rest). */
function portCounts(stats) {
  const acc = {};
  for (const [p, c] of Object.entries(stats.ports ?? {})) { if (c.reads) acc[`${p} in`] = c.reads; if (c.writes) acc[`${p} out`] = c.writes; }
  for (const [p, c] of Object.entries(stats.mmioPages ?? {})) { if (c.reads) acc[`mmio ${p} read`] = c.reads; if (c.writes) acc[`mmio ${p} write`] = c.writes; }
  return acc;
}
const median = (a) => {
  const s = a.filter(Number.isFinite).sort((x, y) => x - y), n = s.length;
  return !n ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const round = (x, d = 3) => (Number.isFinite(x) ? +x.toFixed(d) : null);
const diffMaps = (a, b, scale) => {
  const out = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const v = ((b[k] ?? 0) - (a[k] ?? 0)) * scale;
    if (Math.abs(v) >= 5e-4) out[k] = round(v, 4);
  }
  return out;
};
const guestInstr = (s) => s.instructions + (s.devices?.full?.emulatedInstructions ?? 0) + (s.devices?.hw?.emulatedInstructions ?? 0);
const isHw = (mode) => mode === "hw" || mode === "hw-shadow";
// hw: the VM exits (a device access to a port passed through would be a run() exit but no VM exit)
const exitsNoBudget = (s) => (s.devices?.hw ? s.devices.hw.vmExits : s.exitsTotal - (s.exits?.budget ?? 0));
/** Exits by cause, mode-specific: full → the monitor's causes; hw → the VM exit basic reasons; native/para → the
 *  CPU exit reasons (+ hypercalls). */
function causes(s, mode) {
  if (mode === "full") return { ...(s.devices?.full?.exitsByCause ?? {}) };
  if (isHw(mode)) return { ...(s.devices?.hw?.exitsByReason ?? {}) };
  const c = {};
  for (const [k, v] of Object.entries(s.exits ?? {})) if (k !== "budget" && v) c[k === "hypercall" ? "hypercall (all)" : k] = v;
  if (mode === "para") for (const [k, v] of Object.entries(s.devices?.para?.hypercalls ?? {})) c[`hc ${k}`] = v;
  return c;
}

/** Groups results by section/key/mode; returns the difference-method figures for each. */
function groupDiff(results, section) {
  const g = new Map();
  for (const x of results) {
    if (x.job.section !== section) continue;
    const k = `${x.job.key}|${x.job.mode}`;
    if (!g.has(k)) g.set(k, { key: x.job.key, mode: x.job.mode, job: x.job, byN: new Map() });
    const e = g.get(k);
    if (!e.byN.has(x.job.n)) e.byN.set(x.job.n, []);
    e.byN.get(x.job.n)[x.round] = x.r;
  }
  const out = [];
  for (const e of g.values()) {
    const [n1, n2] = [...e.byN.keys()].sort((a, b) => a - b);
    const r1 = e.byN.get(n1), r2 = e.byN.get(n2), dn = n2 - n1;
    const nr = Math.min(r1.length, r2.length); // rounds (interleaved pairs of this key and mode)
    const t1 = r1.map((r) => r?.wallMs), t2 = r2.map((r) => r?.wallMs);
    const perRound = t1.map((t, i) => (t2[i] - t) / dn).filter(Number.isFinite);
    const c1 = r1.map((r) => r?.cpuMs), c2 = r2.map((r) => r?.cpuMs);
    // intervals over the rounds; stat/statCpu resample a round set (the same set for every mode of a ratio)
    const ci = perUnit(t1, t2, dn), ciCpu = perUnit(c1, c2, dn);
    const s1 = r1.find(Boolean).stats, s2 = r2.find(Boolean).stats;
    out.push({
      key: e.key, mode: e.mode, n1, n2, dn, t1, t2, nr, ci, ciCpu, stat: perUnitStat(t1, t2, dn), statCpu: perUnitStat(c1, c2, dn),
      msPerUnit: (median(t2) - median(t1)) / dn,
      cpuMsPerUnit: (median(c2) - median(c1)) / dn,
      spread: perRound.length ? [Math.min(...perRound), Math.max(...perRound)] : [NaN, NaN],
      instrPerUnit: (guestInstr(s2) - guestInstr(s1)) / dn,
      retiredPerUnit: (s2.instructions - s1.instructions) / dn,
      exitsPerUnit: (exitsNoBudget(s2) - exitsNoBudget(s1)) / dn,
      causes: diffMaps(causes(s1, e.mode), causes(s2, e.mode), 1 / dn),
      ports: diffMaps(portCounts(s1), portCounts(s2), 1 / dn),
      counters: diffMaps(flatten(s1), flatten(s2), 1 / dn),
      guestTimes: r2.find(Boolean).times,
    });
  }
  return out;
}

/** An interval's estimate for the JSON, or null when it is not resolved. */
const est = (ci, d) => (ci && ci.resolved ? round(ci.est, d) : null);
/** full: the events the CPU handled itself, without an exit (devices.full.inCpu: host/full/README.md "Fast paths") */
const inCpuOf = (c) => Object.fromEntries(Object.entries(c).filter(([k]) => k.startsWith("devices.full.inCpu.")).map(([k, v]) => [k.slice(19), v]));
const pick = (c, keys) => Object.fromEntries(keys.map((k) => [k.split(".").pop(), c[k] ?? 0]));

export function analyze({ results, load }, { preset, nativeModeMips, nativeBinaryMips }) {
  const A = { preset, load, units: { time: "µs per operation unless noted" } };
  // ---- workloads
  const wl = groupDiff(results, "workloads");
  if (wl.length) {
    A.workloads = {};
    for (const w of [...new Set(wl.map((x) => x.key))]) {
      const row = { op: WORKLOADS[w], modes: {} };
      const g = Object.fromEntries(wl.filter((y) => y.key === w).map((x) => [x.mode, x]));
      for (const x of wl.filter((y) => y.key === w)) {
        const us = scale(x.ci, 1e3), cus = scale(x.ciCpu, 1e3);
        row.modes[x.mode] = {
          // an unresolved cost is null here (its raw value and the reason are in usPerOpCI)
          n: [x.n1, x.n2], usPerOp: est(us, 3), usPerOpRange: x.spread.map((v) => round(v * 1e3, 3)), cpuUsPerOp: est(cus, 3),
          usPerOpCI: ciJson(us), cpuUsPerOpCI: ciJson(cus), rounds: x.nr,
          instrPerOp: round(x.instrPerUnit, 1), exitsPerOp: round(x.exitsPerUnit, 3),
          exitsByCause: x.causes, ports: x.ports, counters: x.counters, guestTimes: x.guestTimes,
          t1Ms: x.t1.map((v) => round(v, 1)), t2Ms: x.t2.map((v) => round(v, 1)),
        };
        if (x.mode === "full") row.modes.full.inCpuByKind = inCpuOf(x.counters);
        if (x.mode === "full") row.modes.full.shadow = pick(x.counters, ["devices.full.shadow.hiddenFaults", "devices.full.shadow.trueFaults", "devices.full.shadow.ptWrites", "devices.full.shadow.ptWriteZaps", "devices.full.shadow.unshadowed", "devices.full.shadow.invlpg", "devices.full.shadow.cr3Switches", "devices.full.shadow.shadowsCreated", "devices.full.shadow.shadowsEvicted"]);
        if (x.mode === "para") {
          row.modes.para.hypercallsPerOp = round(x.counters["exits.hypercall"] ?? 0, 4);
          row.modes.para.mmu = pick(x.counters, ["devices.para.mmu.updates", "devices.para.mmu.batches", "devices.para.mmu.pins", "devices.para.mmu.unpins", "devices.para.mmu.baseptrSwitches", "devices.para.mmu.flushes"]);
        }
        if (x.mode === "hw") {
          // the two-dimensional walk: guest TLB misses walked per operation and memory references per miss
          // (8 for a 2-level guest walk under a 2-level EPT; 2 while the guest has paging off: the EPT walk only)
          const walks = x.counters["devices.hw.nestedWalks"] ?? 0, refs = x.counters["devices.hw.nestedWalkRefs"] ?? 0;
          row.modes.hw.nested = { walksPerOp: round(walks, 3), refsPerOp: round(refs, 2), refsPerMiss: walks > 0 ? round(refs / walks, 2) : null, injectedPerOp: round(x.counters["devices.hw.interruptsInjected"] ?? 0, 4), tlbMissesPerOp: round(x.counters["devices.hw.tlbMisses"] ?? 0, 3) };
        }
        if (x.mode === "hw-shadow") {
          // shadow paging: the CPU walks the shadow tables in one dimension (2 references per miss: PDE + PTE, the
          // shadows have no 4 MiB entries); the cost moves into exits: hidden #PF fills, stepped PT writes, CR3 loads
          const c = x.counters, sp = "devices.hw.shadowPaging.";
          const misses = c["devices.hw.tlbMisses"] ?? 0;
          row.modes["hw-shadow"].shadow = {
            tlbMissesPerOp: round(misses, 3), refsPerOp: round(2 * misses, 2), refsPerMiss: misses > 0 ? 2 : null,
            hiddenFaults: round(c[sp + "hiddenFaults"] ?? 0, 4), fills: round((c[sp + "hiddenFaults"] ?? 0) - (c[sp + "ptWritesStepped"] ?? 0), 4), trueFaults: round(c[sp + "trueFaults"] ?? 0, 4), ptWritesStepped: round(c[sp + "ptWritesStepped"] ?? 0, 4),
            cr3Loads: round(c[sp + "cr3Loads"] ?? 0, 4), invlpgExits: round(c[sp + "invlpgExits"] ?? 0, 4), reinjected: round(c[sp + "reinjected"] ?? 0, 4),
          };
        }
      }
      // ratios with their intervals, over the same rounds for both modes (the modes of a round ran back to back)
      const R = (a, b, cpu) => (g[a] && g[b] ? ratio(Math.min(g[a].nr, g[b].nr), cpu ? g[a].statCpu : g[a].stat, cpu ? g[b].statCpu : g[b].stat) : null);
      const pairsOf = { fullNative: ["full", "native"], paraNative: ["para", "native"], paraFull: ["para", "full"], hwNative: ["hw", "native"], hwFull: ["hw", "full"], hwShadowNative: ["hw-shadow", "native"], nestedShadow: ["hw", "hw-shadow"] };
      const asked = Object.entries(pairsOf).filter(([, [a, b]]) => g[a] && g[b]);
      const rw = Object.fromEntries(asked.map(([k, [a, b]]) => [k, R(a, b, false)]));
      const rc = Object.fromEntries(asked.map(([k, [a, b]]) => [k, R(a, b, true)]));
      row.ratios = Object.fromEntries(Object.entries(rw).map(([k, v]) => [k, v ? est(v, 3) : null]));
      // the same on CPU time: less sensitive to other processes on the machine
      row.ratiosCpu = Object.fromEntries(Object.entries(rc).map(([k, v]) => [k, v ? est(v, 3) : null]));
      row.ratiosCI = Object.fromEntries(Object.entries(rw).filter(([, v]) => v).map(([k, v]) => [k, ciJson(v)]));
      row.ratiosCpuCI = Object.fromEntries(Object.entries(rc).filter(([, v]) => v).map(([k, v]) => [k, ciJson(v)]));
      A.workloads[w] = row;
    }
    const c = A.workloads.compute;
    // "within 10 %" is only claimed when the whole interval is: an unresolved or straddling ratio says so
    const ci = c?.ratiosCI.fullNative;
    const hwJ = Object.fromEntries(Object.entries(A.workloads).filter(([, r]) => r.ratiosCI.hwNative).map(([w, r]) => {
      const h = r.ratiosCI.hwNative;
      return [w, { hwNative: r.ratios.hwNative, ci: h, ok: h.resolved ? (h.hi <= 1.3 ? true : h.lo > 1.3 ? false : null) : null }];
    }));
    if (Object.keys(hwJ).length) A.hwWithin130pct = hwJ;
    // issue 12: nested paging beats shadow paging by ≥ 30 % on fork and mmap (hw/hw-shadow ≤ 0.7, whole interval)
    const ns = Object.fromEntries(["fork", "mmap"].filter((w) => A.workloads[w]?.ratiosCI.nestedShadow).map((w) => {
      const h = A.workloads[w].ratiosCI.nestedShadow;
      return [w, { nestedShadow: A.workloads[w].ratios.nestedShadow, ci: h, ok: h.resolved ? (h.hi <= 0.7 ? true : h.lo > 0.7 ? false : null) : null }];
    }));
    if (Object.keys(ns).length) A.nestedBeatsShadow30pct = ns;
    if (ci) A.computeWithin10pct = { fullNative: c.ratios.fullNative, fullNativeCpu: c.ratiosCpu.fullNative, ci, ok: ci.resolved ? (ci.hi <= 1.10 ? true : ci.lo > 1.10 ? false : null) : null };
  }
  // ---- trap round trip
  const tr = groupDiff(results, "trap");
  if (tr.length) {
    A.trap = {};
    for (const kind of [...new Set(tr.map((x) => x.key))]) {
      const K = TRAP_KINDS[kind], row = { body: K.body, path: K.what, trappedPerIter: K.trapped, modes: {} };
      const g = Object.fromEntries(tr.filter((y) => y.key === kind).map((x) => [x.mode, x]));
      for (const x of tr.filter((y) => y.key === kind)) {
        const ns = scale(x.ci, 1e6);
        row.modes[x.mode] = {
          n: [x.n1, x.n2], nsPerIter: est(ns, 2), nsPerIterRange: x.spread.map((v) => round(v * 1e6, 2)), cpuNsPerIter: est(scale(x.ciCpu, 1e6), 2),
          nsPerIterCI: ciJson(ns), rounds: x.nr,
          instrPerIter: round(x.instrPerUnit, 3), retiredPerIter: round(x.retiredPerUnit, 3), exitsPerIter: round(x.exitsPerUnit, 3), exitsByCause: x.causes,
          ...(x.mode === "full" ? { inCpuByKind: inCpuOf(x.counters) } : {}),
        };
      }
      const trapMode = row.modes.full ? "full" : "para";
      // full: minus the native loop over the same rounds (a difference: it may not resolve on a loaded machine)
      const T = g[trapMode], N = trapMode === "full" ? g.native : null;
      const nsCi = scale(N ? difference(Math.min(T.nr, N.nr), T.stat, N.stat, { positive: true }) : T.ci, 1e6 / K.trapped);
      const ns = nsCi.resolved ? nsCi.est : NaN;
      row.roundTrip = {
        mode: trapMode, nsPerTrap: round(ns, 1), nsPerTrapCI: ciJson(nsCi), nsPerTrapAbsolute: round(T.ci.resolved ? T.ci.est * 1e6 / K.trapped : NaN, 1),
        wasmvisorNativeInstrEquiv: round(ns * nativeModeMips / 1e3, 0), realCpuInstrEquiv: round(ns * nativeBinaryMips / 1e3, 0),
      };
      A.trap[kind] = row;
    }
    A.trap.mipsUsed = { wasmvisorNativeMode: round(nativeModeMips, 0), nativeBinary: round(nativeBinaryMips, 0) };
  }
  // ---- disk
  const dk = groupDiff(results, "disk");
  if (dk.length) {
    A.disk = [];
    const byKM = new Map(dk.map((x) => [`${x.key}|${x.mode}`, x]));
    for (const x of dk.sort((a, b) => Number(a.key) - Number(b.key) || MODES.indexOf(a.mode) - MODES.indexOf(b.mode))) {
      const chunk = Number(x.key), mibPerKiB = 2 / 1024; // KiB of `kib` → MiB moved (written + read)
      const perMiB = 1 / mibPerKiB;
      const requestsPerMiB = 2 * 1024 / (chunk / 2) / 2; // requests per MiB moved
      const ms = scale(x.ci, perMiB), mbs = invert(ms, 1e3);
      A.disk.push({
        mode: x.mode, device: x.mode === "para" ? "virtio-blk" : "ATA PIO", requestKiB: chunk / 2, kib: [x.n1, x.n2], rounds: x.nr,
        msPerMiB: est(ms, 2), MiBps: est(mbs, 2), cpuMsPerMiB: est(scale(x.ciCpu, perMiB), 2), MiBpsCI: ciJson(mbs),
        exitsPerMiB: round(x.exitsPerUnit * perMiB, 0), exitsPerRequest: round(x.exitsPerUnit * perMiB / requestsPerMiB, 2),
        instrPerMiB: round(x.instrPerUnit * perMiB, 0),
        causesPerMiB: Object.fromEntries(Object.entries(x.causes).map(([k, v]) => [k, round(v * perMiB, 0)])),
      });
    }
    for (const chunk of [...new Set(A.disk.map((d) => d.requestKiB))]) {
      const by = Object.fromEntries(A.disk.filter((d) => d.requestKiB === chunk).map((d) => [d.mode, d]));
      // throughput ratio para/other = other's time per MiB / para's, over the same rounds
      const tx = (other) => {
        const a = byKM.get(`${chunk * 2}|${other}`), p = byKM.get(`${chunk * 2}|para`);
        return ratio(Math.min(a.nr, p.nr), a.stat, p.stat);
      };
      if (by.para && by.full) { const r = tx("full"); by.para.vsFull = { exitsFewerBy: round(by.full.exitsPerMiB / by.para.exitsPerMiB, 1), throughputX: est(r, 2), throughputXCI: ciJson(r) }; }
      if (by.para && by.native) { const r = tx("native"); by.para.vsNative = { exitsFewerBy: round(by.native.exitsPerMiB / by.para.exitsPerMiB, 1), throughputX: est(r, 2), throughputXCI: ciJson(r) }; }
    }
  }
  // ---- page-table heavy: a view of the fork / mmap / page_fault workload runs
  if (A.workloads) {
    A.pageTables = {};
    for (const w of ["fork", "mmap", "page_fault"]) {
      const row = A.workloads[w];
      if (!row) continue;
      const f = row.modes.full, p = row.modes.para, n = row.modes.native, h = row.modes.hw;
      A.pageTables[w] = {
        usPerOp: { native: n?.usPerOp, full: f?.usPerOp, para: p?.usPerOp, hw: h?.usPerOp }, paraFull: row.ratios.paraFull, hwFull: row.ratios.hwFull,
        hw: h && { exitsPerOp: h.exitsPerOp, ...h.nested },
        hwShadow: row.modes["hw-shadow"] && { exitsPerOp: row.modes["hw-shadow"].exitsPerOp, usPerOp: row.modes["hw-shadow"].usPerOp, nestedShadow: row.ratios.nestedShadow, ...row.modes["hw-shadow"].shadow },
        // the monitor's "#PF" cause counts every #PF exit; "protected write" (a PT or code frame written) is a subset
        // of them, and the shadow's hiddenFaults counts every #PF that was not the guest's: fills = hidden - writes
        full: f && {
          exitsPerOp: f.exitsPerOp, pageFaultExits: f.exitsByCause["#PF"] ?? 0, protectedWrites: f.exitsByCause["protected write"] ?? 0,
          shadowFills: round((f.shadow.hiddenFaults ?? 0) - (f.exitsByCause["protected write"] ?? 0), 4), ...f.shadow,
        },
        para: p && { exitsPerOp: p.exitsPerOp, hypercallsPerOp: p.hypercallsPerOp, mmuUpdateCalls: p.exitsByCause["hc mmu_update"] ?? 0, mmuextCalls: p.exitsByCause["hc mmuext_op"] ?? 0, pteUpdates: p.mmu.updates, tlbFlushes: p.mmu.flushes },
      };
    }
  }
  return A;
}

// ---------------------------------------------------------------- markdown
const F = (x, d = 1) => (x == null || !Number.isFinite(x) ? "-" : x >= 1e5 ? Math.round(x).toLocaleString("en-US") : x.toFixed(d));
const NR = "not resolved at this run length";
/** A JSON interval (ciJson) as "est [lo, hi]", or the unresolved phrase — never a number for an unresolved figure. */
const CI = (c, d = 2) => (!c ? "-" : c.resolved ? `${F(c.est, d)} [${F(c.lo, d)}, ${F(c.hi, d)}]` : NR);
/** The estimate alone or the unresolved phrase. */
const V = (c, d = 2) => (!c ? "-" : c.resolved ? F(c.est, d) : NR);
const top = (m, n = 6, d = 2) => Object.entries(m ?? {}).filter(([, v]) => Math.abs(v) >= 0.005).sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${k} ${F(v, d)}`).join(", ") || "—";

export function renderMarkdown(A) {
  const L = [];
  if (A.load) {
    const l = A.load;
    L.push(`\nsuite: preset ${A.preset}, ${l.wallS} s; load average ${l.loadavgStart?.join(" ")} → ${l.loadavgEnd?.join(" ")}` +
      (l.machineBusy != null ? `; machine busy ${(l.machineBusy * 100).toFixed(0)}% of ${l.cores} cores, this bench ${(l.ours * 100).toFixed(0)}%, others ${(l.others * 100).toFixed(0)}%` : ""));
  }
  if (A.workloads) {
    const rounds = Math.max(...Object.values(A.workloads).flatMap((r) => Object.values(r.modes).map((m) => m.rounds ?? 0)));
    L.push("\n### Per-workload, five modes (difference method; wall = VM run loop)\n");
    L.push(`Ratios with their 95 % interval [lo, hi] (bootstrap over ${rounds} interleaved round${rounds === 1 ? "" : "s"}); a figure whose interval includes zero or flips sign is "${NR}". hw = hardware-assisted (VT-x-like, nested paging); hw-shadow = hw --npt off (shadow page tables, first-generation VT-x).\n`);
    L.push("| workload | native µs/op | full µs/op | para µs/op | hw µs/op | hw-shadow µs/op | full/native | para/native | hw/native | hw-shadow/native | para/full | hw/full |");
    L.push("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (const [w, r] of Object.entries(A.workloads)) {
      const m = (k) => r.modes[k] ?? {};
      const rw = r.ratiosCI;
      L.push(`| ${w} | ${V(m("native").usPerOpCI)} | ${V(m("full").usPerOpCI)} | ${V(m("para").usPerOpCI)} | ${V(m("hw").usPerOpCI)} | ${V(m("hw-shadow").usPerOpCI)} | ${CI(rw.fullNative)} | ${CI(rw.paraNative)} | ${CI(rw.hwNative)} | ${CI(rw.hwShadowNative)} | ${CI(rw.paraFull)} | ${CI(rw.hwFull)} |`);
    }
    L.push("\nThe same ratios on CPU time (user+sys of the worker process: less sensitive to other processes on the machine):\n");
    L.push("| workload | full/native | para/native | hw/native | hw-shadow/native | para/full | hw/full |");
    L.push("|---|--:|--:|--:|--:|--:|--:|");
    for (const [w, r] of Object.entries(A.workloads)) {
      const rc = r.ratiosCpuCI;
      L.push(`| ${w} | ${CI(rc.fullNative)} | ${CI(rc.paraNative)} | ${CI(rc.hwNative)} | ${CI(rc.hwShadowNative)} | ${CI(rc.paraFull)} | ${CI(rc.hwFull)} |`);
    }
    L.push("\n| workload | instr/op native / full / para / hw / hw-shadow | exits/op native / full / para / hw / hw-shadow |");
    L.push("|---|--:|--:|");
    for (const [w, r] of Object.entries(A.workloads)) {
      const m = (k) => r.modes[k] ?? {};
      L.push(`| ${w} | ${F(m("native").instrPerOp, 0)} / ${F(m("full").instrPerOp, 0)} / ${F(m("para").instrPerOp, 0)} / ${F(m("hw").instrPerOp, 0)} / ${F(m("hw-shadow").instrPerOp, 0)} | ${F(m("native").exitsPerOp, 2)} / ${F(m("full").exitsPerOp, 2)} / ${F(m("para").exitsPerOp, 2)} / ${F(m("hw").exitsPerOp, 2)} / ${F(m("hw-shadow").exitsPerOp, 2)} |`);
    }
    L.push("\niterations N1→N2: " + Object.entries(A.workloads).map(([w, r]) => `${w} ${Object.entries(r.modes).map(([m, x]) => `${m[0]} ${x.n.join("→")}`).join(", ")}`).join("; "));
    if (A.computeWithin10pct) {
      const c = A.computeWithin10pct;
      const verdict = c.ok === true ? "within 10 % of native (the whole interval)" : c.ok === false ? "NOT within 10 % of native (the whole interval is above 1.10)" : "not decided at this run length (the interval straddles 1.10 or is not resolved)";
      L.push(`\ncompute-only workload, full/native = ${CI(c.ci, 3)} wall: ${verdict} (issue 5)`);
    }
    if (A.hwWithin130pct) {
      const h = A.hwWithin130pct, say = (k) => Object.entries(h).filter(([, v]) => v.ok === k).map(([w]) => w).join(", ") || "none";
      L.push(`\nhw/native ≤ 1.3 (issue 12), judged on the whole wall-time interval: met by ${say(true)}; missed by ${say(false)}; not decided at this run length: ${say(null)}`);
    }
    if (A.nestedBeatsShadow30pct) {
      const h = A.nestedBeatsShadow30pct, say = (k) => Object.entries(h).filter(([, v]) => v.ok === k).map(([w]) => w).join(", ") || "none";
      L.push(`\nnested beats shadow paging by ≥ 30 % (hw/hw-shadow ≤ 0.7, issue 12), judged on the whole wall-time interval: met by ${say(true)}; missed by ${say(false)}; not decided at this run length: ${say(null)}`);
    }
    if (Object.values(A.workloads).some((r) => r.modes.hw && r.modes["hw-shadow"])) {
      L.push("\n### hw mode: nested vs shadow paging\n");
      L.push("hw/hw-shadow < 1: nested paging is faster. Walk references per operation: nested = the 2-D walk's (guest + EPT entries, counted by");
      L.push("the CPU); shadow = 2 per TLB miss (the CPU walks the 2-level shadow tables). Shadow exits: hidden #PF that fill an entry, PT writes stepped with MTF");
      L.push("(2 exits each: the #PF, then the MTF exit), CR3 loads.\n");
      L.push("| workload | hw µs/op | hw-shadow µs/op | hw/hw-shadow wall [95 %] | hw/hw-shadow CPU [95 %] | hw exits/op (by reason) | hw-shadow exits/op (by reason) | shadow: fills + PT writes + true #PF + CR3 loads /op | TLB misses/op nested / shadow | walk refs/op nested (per miss) / shadow (per miss) |");
      L.push("|---|--:|--:|--:|--:|---|---|---|--:|--:|");
      for (const [w, r] of Object.entries(A.workloads)) {
        const h = r.modes.hw, s = r.modes["hw-shadow"];
        if (!h || !s) continue;
        const n = h.nested ?? {}, sh = s.shadow ?? {};
        L.push(`| ${w} | ${V(h.usPerOpCI)} | ${V(s.usPerOpCI)} | ${CI(r.ratiosCI.nestedShadow)} | ${CI(r.ratiosCpuCI.nestedShadow)} | ${F(h.exitsPerOp, 2)} (${top(h.exitsByCause, 4)}) | ${F(s.exitsPerOp, 2)} (${top(s.exitsByCause, 5)}) | ${F(sh.fills, 2)} + ${F(sh.ptWritesStepped, 2)} + ${F(sh.trueFaults, 2)} + ${F(sh.cr3Loads, 2)} | ${F(n.tlbMissesPerOp, 1)} / ${F(sh.tlbMissesPerOp, 1)} | ${F(n.refsPerOp, 1)} (${F(n.refsPerMiss, 2)}) / ${F(sh.refsPerOp, 1)} (${F(sh.refsPerMiss, 0)}) |`);
      }
    }
    L.push("\n### Exits per operation by cause\n");
    L.push("full: \"#PF\" counts every page-fault exit, \"(PT write)\" the part of them that were writes to a write-protected guest");
    L.push("page table (single-stepped); shadow fills = hidden #PF − PT writes; \"K/U switches\" are shadow CR3 loads (not exits).");
    L.push("hw: VM exits by basic reason (SDM Vol. 3C app. C); \"2-D walk\" = guest TLB misses walked per operation and memory");
    L.push("references per miss (8 = a 2-level guest walk under the 2-level EPT, Bhargava et al. 2008; 2 = guest paging off).\n");
    L.push("full in-CPU: events the CPU handled against the shared virtual-CPU state without an exit (not in the exits).\n");
    L.push("| workload | native (CPU exits) | full (monitor causes) | full in-CPU | full shadow paging | para (exits + hypercalls) | hw (VM exit reasons) | hw 2-D walk |");
    L.push("|---|---|---|---|---|---|---|---|");
    for (const [w, r] of Object.entries(A.workloads)) {
      const s = r.modes.full?.shadow, c = r.modes.full?.exitsByCause ?? {};
      const pw = c["protected write"] ?? 0;
      const sh = s ? `fills ${F(s.hiddenFaults - pw, 2)}, PT-write #PF ${F(pw, 2)}, true #PF ${F(s.trueFaults, 2)}, K/U+CR3 switches ${F(s.cr3Switches, 2)}` : "-";
      const fc = Object.fromEntries(Object.entries(c).map(([k, v]) => [k === "protected write" ? "(PT write)" : k, v]));
      const nw = r.modes.hw?.nested;
      const walk = nw ? `${F(nw.walksPerOp, 2)} misses/op × ${F(nw.refsPerMiss, 2)} refs` : "-";
      L.push(`| ${w} | ${top(r.modes.native?.exitsByCause)} | ${top(fc, 9)} | ${r.modes.full ? top(r.modes.full.inCpuByKind) : "-"} | ${sh} | ${top(r.modes.para?.exitsByCause)} | ${r.modes.hw ? top(r.modes.hw.exitsByCause) : "-"} | ${walk} |`);
    }
  }
  if (A.trap) {
    L.push("\n### Trap round trip (guests/bench/trap.S at virtual CPL 0)\n");
    L.push(`native-instruction equivalents use wasmvisor --mode native ${F(A.trap.mipsUsed.wasmvisorNativeMode, 0)} MIPS and the real CPU ${F(A.trap.mipsUsed.nativeBinary, 0)} MIPS (peers rows)\n`);
    L.push("| loop body | mode | ns/iter | exits/iter | in-CPU/iter | native ns/iter | ns per trap (minus native) [95 %] | = wasmvisor-native instr | = real-CPU instr | path |");
    L.push("|---|---|--:|--:|--:|--:|--:|--:|--:|---|");
    for (const [k, r] of Object.entries(A.trap)) {
      if (k === "mipsUsed") continue;
      const m = r.modes[r.roundTrip.mode];
      L.push(`| \`${r.body}\` | ${r.roundTrip.mode} | ${V(m.nsPerIterCI, 1)} | ${F(m.exitsPerIter, 2)} | ${m.inCpuByKind ? top(m.inCpuByKind) : "-"} | ${V(r.modes.native?.nsPerIterCI)} | ${CI(r.roundTrip.nsPerTrapCI, 0)} | ${F(r.roundTrip.wasmvisorNativeInstrEquiv, 0)} | ${F(r.roundTrip.realCpuInstrEquiv, 0)} | ${r.path} |`);
    }
  }
  if (A.disk) {
    L.push("\n### Disk I/O (diskbench: write then read; MiB = written + read)\n");
    L.push("| request | mode | device | MiB/s [95 %] | exits/MiB | exits/request | guest instr/MiB | main exit causes per MiB | vs full: fewer exits, speed [95 %] |");
    L.push("|--:|---|---|--:|--:|--:|--:|---|---|");
    for (const d of A.disk) {
      const vs = d.vsFull ? `${F(d.vsFull.exitsFewerBy, 0)}x fewer, ${d.vsFull.throughputXCI.resolved ? CI(d.vsFull.throughputXCI) + "x" : NR}` : "";
      L.push(`| ${d.requestKiB} KiB | ${d.mode} | ${d.device} | ${CI(d.MiBpsCI)} | ${F(d.exitsPerMiB, 0)} | ${F(d.exitsPerRequest, 1)} | ${F(d.instrPerMiB, 0)} | ${top(d.causesPerMiB, 4, 0)} | ${vs} |`);
    }
  }
  if (A.pageTables && Object.keys(A.pageTables).length) {
    L.push("\n### Page-table-heavy: full (shadow tables) vs para (validated direct paging, batched mmu_update) vs hw (nested paging)\n");
    L.push("| workload | native µs/op | full µs/op | para µs/op | hw µs/op | para/full | hw/full | full exits/op | full #PF exits/op: fills + PT writes + true | full invlpg + mov cr3/cr2 exits | para exits/op | para hypercalls/op | mmu_update calls/op | PTE updates/op | hw exits/op | hw 2-D walk refs/op (per miss) |");
    L.push("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (const [w, r] of Object.entries(A.pageTables)) {
      const f = r.full ?? {}, p = r.para ?? {};
      const other = (A.workloads[w].modes.full?.exitsByCause ?? {});
      const o = (other.invlpg ?? 0) + (other["mov to cr3"] ?? 0) + (other["mov from cr2"] ?? 0);
      const W = A.workloads[w];
      const h = r.hw ?? {};
      L.push(`| ${w} | ${V(W.modes.native?.usPerOpCI)} | ${V(W.modes.full?.usPerOpCI)} | ${V(W.modes.para?.usPerOpCI)} | ${V(W.modes.hw?.usPerOpCI)} | ${CI(W.ratiosCI.paraFull)} | ${CI(W.ratiosCI.hwFull)} | ${F(f.exitsPerOp, 2)} | ${F(f.pageFaultExits, 2)} = ${F(f.shadowFills, 2)} + ${F(f.protectedWrites, 2)} + ${F(f.trueFaults, 2)} | ${F(o, 2)} | ${F(p.exitsPerOp, 2)} | ${F(p.hypercallsPerOp, 2)} | ${F(p.mmuUpdateCalls, 2)} | ${F(p.pteUpdates, 2)} | ${F(h.exitsPerOp, 2)} | ${F(h.refsPerOp, 1)} (${F(h.refsPerMiss, 2)}) |`);
    }
  }
  return L.join("\n");
}
