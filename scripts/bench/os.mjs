// os.mjs — the bench's real-OS sections (scripts/bench.mjs --sections xv6,linux): an OS nobody on the project
// wrote, booted to its shell and driven by commands typed at the prompt, in each of wasmvisor's modes and under
// QEMU TCG on the same images, in the same run.
//   xv6    MIT's xv6 (x86) from shared/guests/xv6: time to the first "$ ", a few commands (ls, echo hi, cat README),
//          and with --usertests (or --full) xv6's `usertests` (about 6 G instructions: minutes).
//   linux  Debian 12's i386 kernel + a busybox initramfs (scripts/fetch-linux.mjs, cached in build/linux/): time to
//          the shell prompt and to the end of issue 14's command list.
// Both run in native, full and hw mode (para mode runs only paravirtualized kernels: neither xv6 nor Debian's kernel
// is one). Every session is its own process — os-session.mjs for wasmvisor, qemu-system-i386 for QEMU — and every
// figure is measured on both sides the same way: wall time from the spawn to the milestone's console output as this
// process receives it, CPU time of the process since its start at the milestone (its own process.cpuUsage for
// wasmvisor, /proc/PID/stat for QEMU) and in total (the child's rusage once reaped: /proc/self/stat cutime+cstime).
// Rounds interleave the engines (native, full, hw, qemu, native, ...), so a drift in the machine's load hits all of
// them alike; each time is the median over the rounds with its 95 % bootstrap interval, each ratio wasmvisor/QEMU
// is bootstrapped over the same round indices (scripts/bench/stats.mjs). Fewer than 3 rounds give no interval: the
// value is printed with "(1 run: no interval)".
import { spawn, execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, constants as fsc } from "node:fs";
import { Socket } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { bootstrap, ratio, take, median, ciJson, DEFAULTS } from "./stats.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const OS_MODES = ["native", "full", "hw"];
export const PARA_NOTE = "para mode runs only paravirtualized kernels (guests/workloads-pv); xv6 and Debian's kernel are not, so para is not measured";
const XV6_DIRS = [join(ROOT, "../shared/guests/xv6"), join(ROOT, "../../shared/guests/xv6"), "/work/shared/guests/xv6"];
export const xv6Dir = () => XV6_DIRS.find((d) => existsSync(join(d, "kernel.elf")) && existsSync(join(d, "fs.img"))) ?? null;
export const XV6_COMMANDS = ["ls", "echo hi", "cat README"];
/** scripts/fetch-linux.mjs's exit status when apt/dpkg or the network is unavailable */
const FETCH_UNAVAILABLE = 3;
const LINUX_CMDLINE = "console=ttyS0 cryptomgr.notests"; // as test/linux-boot.test.ts (the crypto self-tests: +3.7 G instructions)

// ---------------------------------------------------------------- CPU time of processes
const TICK_MS = 10; // USER_HZ = 100 on Linux
/** CPU time (ms) of the reaped children of this process: getrusage(RUSAGE_CHILDREN) as /proc/self/stat shows it. */
export function childrenCpuMs() {
  try { const f = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" "); return (Number(f[13]) + Number(f[14])) * TICK_MS; } catch { return NaN; }
}
/** CPU time (ms) of a running process so far. */
function pidCpuMs(pid) {
  try { const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * TICK_MS; } catch { return NaN; }
}
const procStat = () => { try { return readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number); } catch { return null; } };
/** The machine's load over a span: load averages and the share of all cores that were busy (ours and others'). */
export function loadTracker(ncpu) {
  const st0 = procStat(), c0 = childrenCpuMs(), la0 = loadavg(), t0 = performance.now();
  return () => {
    const st1 = procStat(), c1 = childrenCpuMs();
    const out = { wallS: +((performance.now() - t0) / 1e3).toFixed(1), loadavgStart: la0.map((x) => +x.toFixed(2)), loadavgEnd: loadavg().map((x) => +x.toFixed(2)), cores: ncpu };
    if (st0 && st1) {
      const d = st1.map((x, i) => x - st0[i]), total = d.reduce((a, b) => a + b, 0), busy = (total - d[3] - d[4]) / total;
      const ours = (c1 - c0) / TICK_MS / total;
      Object.assign(out, { machineBusy: +busy.toFixed(3), ours: +ours.toFixed(3), others: +Math.max(0, busy - ours).toFixed(3) });
    }
    return out;
  };
}

// ---------------------------------------------------------------- one session
/**
 * Runs one process and drives its console: `onOut(text, api)` gets each chunk of output (api.type(s) writes to its
 * stdin, api.milestone(name, extra) records the wall and CPU time now, api.end() kills it). Resolves with the
 * milestones, the total CPU time (rusage) and wall time; rejects on a time-out or a death before api.end().
 */
function drive(cmd, args, { timeoutMs, phaseMs = () => timeoutMs, onOut, ownCpu = false, fifo = null }) {
  return new Promise((resolve, reject) => {
    const c0 = childrenCpuMs(), t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    // QEMU's console through a pair of FIFOs (fifo.in, fifo.out; opened read-write so that neither open blocks)
    const io = fifo
      ? { out: new Socket({ fd: openSync(`${fifo}.out`, fsc.O_RDWR | fsc.O_NONBLOCK), readable: true, writable: false }), in: new Socket({ fd: openSync(`${fifo}.in`, fsc.O_RDWR | fsc.O_NONBLOCK), readable: false, writable: true }) }
      : { out: p.stdout, in: p.stdin };
    const ms = [];
    let ended = false, err = "", timedOut = false, tail = "";
    // a deadline for the whole session (the section's time cap) and one per phase (a guest that never prompts)
    const kill = () => { timedOut = true; p.kill("SIGKILL"); };
    let timer = null;
    const arm = () => { clearTimeout(timer); timer = setTimeout(kill, Math.max(1, Math.min(phaseMs(ms.length), timeoutMs - (performance.now() - t0)))); };
    const api = {
      type: (s) => { try { io.in.write(s); } catch { /* it died: reported at close */ } },
      milestone: (name, extra = {}) => { ms.push({ name, wallMs: performance.now() - t0, cpuMs: ownCpu ? NaN : pidCpuMs(p.pid), ...extra }); arm(); },
      end: () => { ended = true; p.kill("SIGKILL"); },
      ended: () => ended,
    };
    arm();
    io.out.setEncoding("utf8");
    io.out.on("data", (d) => { tail = (tail + d).slice(-160); if (!ended) onOut(d, api); });
    io.in.on("error", () => {});
    p.stderr.on("data", (d) => { err = (err + d).slice(-2000); });
    p.stdin.on("error", () => {});
    p.on("error", (e) => { clearTimeout(timer); reject(e); });
    p.on("close", (code, signal) => {
      clearTimeout(timer);
      if (fifo) { io.out.destroy(); io.in.destroy(); }
      const r = { milestones: ms, totalCpuMs: childrenCpuMs() - c0, totalWallMs: performance.now() - t0 };
      if (timedOut) return reject(Object.assign(new Error(`timed out ${ms.length ? `after ${ms.at(-1).name}` : "before the first milestone"} (${((performance.now() - t0) / 1e3).toFixed(0)} s; output ends ${JSON.stringify(tail.slice(-80))})`), { partial: r, timeout: true }));
      if (!ended && code !== 0) return reject(new Error(`${cmd.split("/").pop()} ended with ${code ?? signal} after ${ms.length ? ms.at(-1).name : "start"}${err ? `: ${err.trim().split("\n").pop()}` : ""}`));
      resolve(r);
    });
  });
}

/** wasmvisor: os-session.mjs in one mode. Milestone times are taken here on receipt of its JSON line. */
async function oursSession(spec, { timeoutMs, phaseMs, tmp }) {
  const file = join(tmp, `spec-${spec.kind}-${spec.mode}.json`);
  writeFileSync(file, JSON.stringify(spec));
  let buf = "", failed = null;
  const r = await drive(process.execPath, [join(ROOT, "scripts/bench/os-session.mjs"), file], {
    timeoutMs, phaseMs, ownCpu: true,
    onOut: (d, api) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 1);
        let o;
        try { o = JSON.parse(line); } catch { continue; }
        if (o.error) failed = o.error;
        else if (o.phase) api.milestone(o.phase, { cpuMs: o.cpuMs, instructions: o.instructions, stats: o.stats, console: o.console });
      }
    },
  }).catch((e) => { throw failed ? new Error(failed) : e; });
  if (failed) throw new Error(failed);
  return r;
}

/** QEMU: the same console protocol on its serial port, the milestone seen in its output as it comes. */
async function qemuSession(qemu, args, { kind, commands, timeoutMs, phaseMs, tmp }) {
  let out = "", mark = 0, next = 0, prompts = 0;
  const PROMPT = kind === "xv6" ? "$ " : "/ # ";
  const count = () => out.split(PROMPT).length - 1;
  const atPrompt = () => (kind === "xv6" ? out.endsWith("$ ") : /\/ # (\x1b\[6n)?$/.test(out.slice(-8)));
  // the steps: boot (linux: a second prompt after an empty line, as os-session.mjs), then each command
  const steps = [{ name: "boot", pre: kind === "linux" ? ["\n"] : [] }, ...commands];
  let pre = 0; // linux boot: empty lines typed so far
  // The serial port through FIFOs, not QEMU's stdout: node's stdio pipes are socket pairs, where every one-byte
  // write of QEMU's UART takes a whole socket buffer entry, so a reader slowed by a loaded machine makes QEMU's
  // write fail (EAGAIN) after a few hundred characters; QEMU then holds THRE clear, xv6's uartputc gives up after
  // 128 polls and the character is lost (seen: `cat README` 114 characters short), and Linux's 8250 driver spins.
  // A FIFO's buffer holds 64 KiB of them.
  const fifo = join(tmp, "qemu-serial");
  for (const end of ["in", "out"]) { rmSync(`${fifo}.${end}`, { force: true }); execFileSync("mkfifo", [`${fifo}.${end}`]); }
  return drive(qemu, [...args, "-display", "none", "-monitor", "none", "-chardev", `pipe,id=con,path=${fifo}`, "-serial", "chardev:con"], {
    timeoutMs, phaseMs, fifo,
    onOut: (d, api) => {
      out += d.replace(/\r/g, "");
      const step = steps[next];
      if (!step) return;
      let done;
      if (step.until) done = new RegExp(step.until, "m").test(out.slice(mark));
      else if (step.name === "boot" && step.pre.length > pre) {
        if (atPrompt() && count() > prompts) { prompts = count(); api.type(step.pre[pre++]); }
        return;
      } else done = atPrompt() && count() > prompts;
      if (!done) return;
      prompts = count();
      api.milestone(step.name, { console: out.slice(mark) });
      mark = out.length;
      next++;
      if (next < steps.length) api.type(steps[next].text + "\n");
      else api.end();
    },
  });
}

// ---------------------------------------------------------------- exits by cause (as the suite counts them)
function causes(s) {
  if (s.devices?.full) return { ...(s.devices.full.exitsByCause ?? {}) };
  if (s.devices?.hw) return { ...(s.devices.hw.exitsByReason ?? {}) };
  const c = {};
  for (const [k, v] of Object.entries(s.exits ?? {})) if (k !== "budget" && v) c[k] = v;
  return c;
}
const diffCauses = (a, b) => {
  const out = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) { const v = (b[k] ?? 0) - (a[k] ?? 0); if (v) out[k] = v; }
  return out;
};

// ---------------------------------------------------------------- the sections
/**
 * Plans and runs one OS section. kind "xv6" | "linux"; modes (wasmvisor's, para excluded); qemu: the binary or
 * null; rounds; usertestsRuns (xv6: how many of the rounds also run usertests, 0 = none); capS: the section's time
 * cap (no session is started once the cap is reached, a running one is stopped at it); log(line); onSession().
 */
export async function runOsSection(kind, { modes, qemu, qemuWhy, rounds, usertestsRuns = 0, xv6Commands = XV6_COMMANDS, capS, ncpu, log = () => {}, onSession = () => {} }) {
  const notRun = {};
  if (modes.includes("para")) notRun.para = PARA_NOTE;
  modes = modes.filter((m) => OS_MODES.includes(m));
  if (!qemu) notRun.qemu = qemuWhy;
  let images;
  if (kind === "xv6") {
    const d = xv6Dir();
    if (!d) return { skipped: `xv6 not found (looked for kernel.elf and fs.img in ${XV6_DIRS.slice(0, 2).join(", ")})` };
    images = { dir: d, kernel: join(d, "kernel.elf"), fsImage: join(d, "fs.img"), reference: existsSync(join(d, "usertests.qemu.txt")) ? readFileSync(join(d, "usertests.qemu.txt"), "utf8") : null };
  } else {
    const f = await fetchLinux();
    if (f.skipped) return { skipped: f.skipped };
    images = f;
  }
  // QEMU right after the first mode: under a time cap the first pair (native vs QEMU) is the one measured first
  const engines = qemu ? [...modes.slice(0, 1), "qemu", ...modes.slice(1)] : modes;
  const tmp = mkdtempSync(join(tmpdir(), `wasmvisor-bench-${kind}-`));
  const load = loadTracker(ncpu);
  const t0 = performance.now(), capMs = capS * 1e3;
  const raw = Object.fromEntries(engines.map((e) => [e, []])); // per engine: one entry per round (milestones or error)
  const stopped = [];
  let qemuVersion = null;
  if (qemu) qemuVersion = await new Promise((res) => { const p = spawn(qemu, ["--version"]); let o = ""; p.stdout.on("data", (d) => { o += d; }); p.on("close", () => res(o.split("\n")[0].trim())); p.on("error", () => res(null)); });
  try {
    for (let round = 0; round < rounds; round++) {
      const withUsertests = kind === "xv6" && round < usertestsRuns;
      const commands = kind === "xv6"
        ? [...xv6Commands.map((c) => ({ name: c, text: c })), ...(withUsertests ? [{ name: "usertests", text: "usertests", maxInstructions: 60e9 }] : [])]
        : [{ name: "commands", text: `${images.commands}; echo "END-$((6*7))"`, until: "^END-42$" }];
      // per-phase deadlines, generous for a loaded machine: boot and each command (xv6 2 min, Linux the whole cap)
      const phaseMs = (i) => (kind === "linux" ? capMs : i > 0 && commands[i - 1]?.name === "usertests" ? 3600e3 : 120e3);
      for (const eng of engines) {
        const left = capMs - (performance.now() - t0);
        if (left <= 0) { stopped.push(`${eng} round ${round + 1}`); raw[eng].push({ error: "not run: the section's time cap was reached" }); onSession(); continue; }
        const ts = performance.now();
        let r;
        try {
          if (eng === "qemu") {
            let args;
            if (kind === "xv6") {
              const fs = join(tmp, "fs.img");
              copyFileSync(images.fsImage, fs); // the guest writes to it (and usertests refuses a second run on one image)
              args = ["-accel", "tcg", "-no-reboot", "-kernel", images.kernel, "-drive", `file=${fs},index=1,media=disk,format=raw`, "-m", "512", "-smp", "1"];
            } else {
              args = ["-accel", "tcg", "-no-reboot", "-m", "256", "-smp", "1", "-nic", "none", "-kernel", images.kernel, "-initrd", images.initrdShell, "-append", LINUX_CMDLINE,
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"];
            }
            r = await qemuSession(qemu, args, { kind, commands, timeoutMs: left, phaseMs, tmp });
          } else {
            const spec = kind === "xv6"
              ? { kind, mode: eng, kernel: images.kernel, fsImage: images.fsImage, memSize: 512 << 20, commands, maxInstructions: 4e9 }
              : { kind, mode: eng, kernel: images.kernel, initrd: images.initrdShell, cmdline: LINUX_CMDLINE, memSize: 256 << 20, commands, maxInstructions: 20e9 };
            r = await oursSession(spec, { timeoutMs: left, phaseMs, tmp });
          }
          raw[eng].push(r);
          log(`${kind} round ${round + 1} ${eng}: ${r.milestones.map((m) => `${m.name} ${(m.wallMs / 1e3).toFixed(1)} s`).join(", ")}; CPU ${(r.totalCpuMs / 1e3).toFixed(1)} s`);
        } catch (e) {
          if (e.timeout) stopped.push(`${eng} round ${round + 1} (${e.message})`);
          raw[eng].push({ error: String(e.message ?? e).split("\n")[0], partial: e.partial });
          log(`${kind} round ${round + 1} ${eng}: ${String(e.message ?? e).split("\n")[0]} after ${((performance.now() - ts) / 1e3).toFixed(0)} s`);
        }
        onSession();
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const A = analyzeOs(kind, raw, { engines, images, commands: kind === "xv6" ? xv6Commands : [] });
  return { ...A, commands: kind === "xv6" ? xv6Commands : [images.commands], rounds, usertestsRuns: kind === "xv6" ? usertestsRuns : undefined, capS, stoppedByCap: stopped, notRun, qemuVersion, load: load(),
    images: kind === "xv6" ? { dir: images.dir } : { kernel: images.kernelPackage, busybox: images.busyboxPackage, cmdline: LINUX_CMDLINE, commands: images.commands } };
}

/** scripts/fetch-linux.mjs (apt; cached in build/linux): the paths, or { skipped: why }. */
function fetchLinux() {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, "scripts/fetch-linux.mjs"), "--quiet"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (d) => { out += d; });
    p.stderr.on("data", (d) => { err += d; });
    p.on("error", (e) => resolve({ skipped: `cannot run scripts/fetch-linux.mjs: ${e.message}` }));
    p.on("close", (code) => {
      if (code === 0) { try { return resolve(JSON.parse(out)); } catch { /* below */ } }
      const why = err.trim().split("\n").pop() || `status ${code}`;
      resolve({ skipped: code === FETCH_UNAVAILABLE ? `Debian's kernel cannot be fetched (${why.replace(/^fetch-linux: (unavailable: )?/, "")})` : `scripts/fetch-linux.mjs failed: ${why}` });
    });
  });
}

// ---------------------------------------------------------------- analysis
const MIN = DEFAULTS.minPairs;
const r3 = (x, d = 1) => (Number.isFinite(x) ? +x.toFixed(d) : null);
/** The median over rounds with its interval (JSON form). */
const medCI = (a) => ciJson(bootstrap(a.length, (idx) => median(take(a, idx)), { positive: true }));
const pidNorm = (t) => t.replace(/^pid \d+ /gm, "pid N ");

/** Per engine and phase: median wall/CPU with intervals, exact guest counts (wasmvisor), ratios to QEMU. */
export function analyzeOs(kind, raw, { engines, images, commands = [] }) {
  // the phases in order, as the first complete round of any engine saw them
  const phases = [];
  for (const e of engines) for (const r of raw[e]) for (const m of r.milestones ?? []) if (!phases.includes(m.name)) phases.push(m.name);
  const okRounds = (e) => raw[e].map((r, i) => (r.milestones ? i : -1)).filter((i) => i >= 0);
  const out = { phases, engines: {}, vsQemu: {} };
  // per phase and round: [wall, cpu] of that phase alone (difference to the previous milestone; boot from the spawn)
  const perPhase = (r, name) => {
    const ms = r?.milestones ?? [], i = ms.findIndex((m) => m.name === name);
    if (i < 0) return null;
    const prev = i ? ms[i - 1] : { wallMs: 0, cpuMs: 0, instructions: 0, stats: null };
    return { wallMs: ms[i].wallMs - prev.wallMs, cpuMs: ms[i].cpuMs - prev.cpuMs, m: ms[i], prev };
  };
  for (const e of engines) {
    const E = { rounds: okRounds(e).length, errors: raw[e].filter((r) => r.error).map((r) => r.error), phases: {} };
    const tot = raw[e].filter((r) => r.milestones);
    E.totalCpuMs = medCI(tot.map((r) => r.totalCpuMs));
    for (const ph of phases) {
      const xs = raw[e].map((r) => perPhase(r, ph));
      const have = xs.filter(Boolean);
      if (!have.length) continue;
      const wall = have.map((x) => x.wallMs), cpu = have.map((x) => x.cpuMs);
      const P = { runs: have.length, wallMs: medCI(wall), cpuMs: medCI(cpu) };
      if (ph === "boot") P.sinceStart = true; // boot is timed from the process's spawn (QEMU: SeaBIOS included)
      const x0 = have[0];
      if (e !== "qemu") {
        const ins = have.map((x) => x.m.instructions - x.prev.instructions);
        P.instructions = ins[0];
        P.deterministic = ins.every((v) => v === ins[0]);
        P.mipsCpu = r3(ins[0] / (median(cpu) * 1e3), 1);
        const c1 = causes(x0.m.stats), c0 = x0.prev.stats ? causes(x0.prev.stats) : {};
        P.exitsByCause = diffCauses(c0, c1);
        P.exits = Object.values(P.exitsByCause).reduce((a, b) => a + b, 0);
        P.instrPerExit = P.exits ? r3(P.instructions / P.exits, 0) : null;
      }
      // what the phase printed: checked (usertests: ALL TESTS PASSED, the same lines as QEMU's reference)
      const text = x0.m.console ?? "";
      if (ph === "usertests") {
        P.passed = /ALL TESTS PASSED/.test(text);
        if (images?.reference) P.sameAsQemuReference = pidNorm(text.slice(text.indexOf("usertests starting"))).trimEnd() === pidNorm(images.reference.slice(images.reference.indexOf("usertests starting"))).trimEnd();
      }
      if (kind === "linux" && ph === "commands") P.passed = /^42$/m.test(text) && /96995b58d4cbf6aaa9041b4f00c7f6ae {2}-/.test(text);
      P.outputSha = text ? hash(pidNorm(ph === "boot" ? "" : text)) : null;
      E.phases[ph] = P;
    }
    // xv6: the three commands together
    if (kind === "xv6" && commands.length) {
      const sum = (k) => raw[e].map((r) => { const xs = commands.map((c) => perPhase(r, c)); return xs.every(Boolean) ? xs.reduce((a, x) => a + x[k], 0) : null; }).filter((v) => v !== null);
      const w = sum("wallMs"), c = sum("cpuMs");
      if (w.length) E.phases.commands = { runs: w.length, wallMs: medCI(w), cpuMs: medCI(c), ...(e !== "qemu" ? { instructions: commands.reduce((a, k) => a + (E.phases[k]?.instructions ?? 0), 0) } : {}) };
    }
    out.engines[e] = E;
  }
  if (kind === "xv6" && engines.length && out.engines[engines[0]]?.phases.commands) out.phases.push("commands");
  // ratios wasmvisor / QEMU over the same rounds (only rounds where both have the phase)
  if (out.engines.qemu) {
    for (const e of engines.filter((x) => x !== "qemu")) {
      out.vsQemu[e] = {};
      for (const ph of out.phases) {
        const pair = [];
        const vals = (r) => {
          if (ph !== "commands" || kind !== "xv6") return perPhase(r, ph);
          const xs = commands.map((c) => perPhase(r, c));
          return xs.every(Boolean) ? { wallMs: xs.reduce((a, x) => a + x.wallMs, 0), cpuMs: xs.reduce((a, x) => a + x.cpuMs, 0) } : null;
        };
        for (let i = 0; i < Math.min(raw[e].length, raw.qemu.length); i++) { const a = vals(raw[e][i]), b = vals(raw.qemu[i]); if (a && b) pair.push([a, b]); }
        if (!pair.length) continue;
        const st = (side, k) => (idx) => median(take(pair.map((p) => p[side][k]), idx));
        out.vsQemu[e][ph] = {
          runs: pair.length,
          cpu: ciJson(ratio(pair.length, st(0, "cpuMs"), st(1, "cpuMs"))),
          wall: ciJson(ratio(pair.length, st(0, "wallMs"), st(1, "wallMs"))),
        };
        // the same output as QEMU (commands; boot differs by SeaBIOS's lines)
        if (ph !== "boot" && ph !== "commands") out.vsQemu[e][ph].sameOutput = out.engines[e].phases[ph]?.outputSha === out.engines.qemu.phases[ph]?.outputSha;
      }
    }
  }
  return out;
}
function hash(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return (h >>> 0).toString(16).padStart(8, "0");
}

// ---------------------------------------------------------------- markdown
/** A time or ratio: the interval where there is one, else the single value with "(1 run: no interval)". */
export function fmtFig(c, d = 2, unit = "") {
  if (!c) return "-";
  if (c.n < MIN) { const v = c.est ?? c.raw; return v == null ? "-" : `${v.toFixed(d)}${unit} (${c.n} run${c.n === 1 ? "" : "s"}: no interval)`; }
  if (!c.resolved) return "not resolved at this run length";
  return `${c.est.toFixed(d)}${unit} [${c.lo.toFixed(d)}, ${c.hi.toFixed(d)}]`;
}
const s = (ms) => (ms == null ? null : { ...ms, est: ms.est != null ? ms.est / 1e3 : null, raw: ms.raw != null ? ms.raw / 1e3 : null, lo: ms.lo != null ? ms.lo / 1e3 : null, hi: ms.hi != null ? ms.hi / 1e3 : null });
const topCauses = (c, k = 4) => Object.entries(c ?? {}).sort((a, b) => b[1] - a[1]).slice(0, k).map(([n, v]) => `${n} ${v.toLocaleString("en-US")}`).join(", ");

export function renderOsMarkdown(kind, A) {
  const title = kind === "xv6" ? "xv6 vs QEMU TCG (bench xv6)" : "Linux vs QEMU TCG (bench linux)";
  const L = [`\n### ${title}\n`];
  if (A.skipped) { L.push(`skipped: ${A.skipped}`); return L.join("\n"); }
  for (const [k, why] of Object.entries(A.notRun ?? {})) L.push(`${k}: not measured: ${why}`);
  if (A.qemuVersion) L.push(`QEMU: ${A.qemuVersion} (TCG, one CPU)`);
  if (kind === "linux") L.push(`kernel ${A.images.kernel}, ${A.images.busybox}; append "${A.images.cmdline}"; commands: \`${A.images.commands}\``);
  const ld = A.load;
  if (ld) L.push(`load during the section: load average ${ld.loadavgStart.join(" ")} → ${ld.loadavgEnd.join(" ")}${ld.machineBusy != null ? `, machine ${(ld.machineBusy * 100).toFixed(0)} % busy (this bench ${(ld.ours * 100).toFixed(0)} %, other processes ${(ld.others * 100).toFixed(0)} %) over ${ld.wallS} s on ${ld.cores} cores` : ""}; wall times are noisy under that load, CPU times less so`);
  L.push(`${A.rounds} round${A.rounds === 1 ? "" : "s"} (engines interleaved)${kind === "xv6" ? `; usertests in ${A.usertestsRuns} of them` : ""}; median seconds per phase [95 % interval]; boot is timed from the process's spawn (QEMU: SeaBIOS included).`);
  if (A.stoppedByCap?.length) L.push(`stopped by the time cap (${A.capS} s): ${A.stoppedByCap.join("; ")}`);
  for (const [e, E] of Object.entries(A.engines)) if (E.errors.length) L.push(`${e}: ${E.errors.length} session(s) failed: ${[...new Set(E.errors)].join("; ")}`);
  L.push("");
  L.push("| phase | engine | CPU s [95 %] | wall s [95 %] | guest instructions | MIPS (CPU) | exits (top causes) | CPU ÷ QEMU [95 %] | wall ÷ QEMU [95 %] | output |");
  L.push("|---|---|---|---|---|---|---|---|---|---|");
  for (const ph of A.phases) {
    for (const [e, E] of Object.entries(A.engines)) {
      const P = E.phases[ph];
      if (!P) continue;
      const v = A.vsQemu[e]?.[ph];
      const out = P.passed === false ? "FAILED" : ph === "usertests" ? (P.passed ? `ALL TESTS PASSED${P.sameAsQemuReference ? ", = QEMU's reference" : P.sameAsQemuReference === false ? ", differs from QEMU's reference" : ""}` : "") : v?.sameOutput === true ? "= QEMU" : v?.sameOutput === false ? "differs from QEMU" : P.passed ? "checked" : "";
      L.push(`| ${ph} | ${e} | ${fmtFig(s(P.cpuMs), 2)} | ${fmtFig(s(P.wallMs), 2)} | ${P.instructions != null ? P.instructions.toLocaleString("en-US") : "-"} | ${P.mipsCpu ?? "-"} | ${P.exits != null ? `${P.exits.toLocaleString("en-US")}${P.exits ? ` (${topCauses(P.exitsByCause)})` : ""}` : "-"} | ${v ? fmtFig(v.cpu, 2) : "-"} | ${v ? fmtFig(v.wall, 2) : "-"} | ${out} |`);
    }
  }
  L.push("\nwhole session (process CPU time, rusage): " + Object.entries(A.engines).map(([e, E]) => `${e} ${fmtFig(s(E.totalCpuMs), 1, " s")}`).join("; "));
  return L.join("\n");
}
