// worker.ts — the CPU in a Web Worker, so the page stays responsive while the guest runs: the same host modules
// as the CLI (host/vm.ts and below; scripts/build-web.mjs swaps host/runtime/node.ts for browser.ts), driven in
// slices of at most SLICE_MS wall time like the CLI's runSliced (host/cli/run.ts). Between slices the worker's
// event loop takes the page's messages (keystrokes, stop); console text and counter samples go back in batches.
import { Vm } from "../host/vm.ts";
import { provideCpuWasm } from "../host/runtime/browser.ts";
import type { FromWorker, Sample, ToWorker } from "./protocol.ts";
import { CONSOLE_WINDOW, SAMPLE_MS } from "./protocol.ts";

const SLICE_MS = 40;
const SLICE_INSTRUCTIONS = 20_000_000;

const post = (m: FromWorker) => (self as unknown as Worker).postMessage(m);

let vm: Vm | null = null;
let generation = 0; // a new start invalidates the loop of the previous guest
let consoleText = "";
let unacked = 0; // console characters the terminal has not written yet
let blocked: (() => void) | null = null; // the slice waiting for the terminal
let cpuModule: Promise<WebAssembly.Module> | null = null;

// a macrotask without setTimeout's 4 ms clamp: a message to ourselves
const tick = new MessageChannel();
let next: (() => void) | null = null;
tick.port1.onmessage = () => { const f = next; next = null; f?.(); };
const soon = (f: () => void) => { next = f; tick.port2.postMessage(0); };

function flushConsole(): void {
  if (consoleText) { unacked += consoleText.length; post({ type: "console", text: consoleText }); consoleText = ""; }
}

/** the counters as the page charts them: rates over the interval since the previous sample */
function sampler(v: Vm, t0: number) {
  let last = { t: t0, insns: 0, exits: {} as Record<string, number>, shadow: 0, monitor: {} as Record<string, number> };
  const rate = (now: Record<string, number>, before: Record<string, number>, dt: number) => {
    const out: Record<string, number> = {};
    for (const [k, n] of Object.entries(now)) { const d = n - (before[k] ?? 0); if (d > 0) out[k] = d / dt; }
    return out;
  };
  return (): Sample => {
    const now = performance.now(), dt = Math.max(now - last.t, 1) / 1000;
    const insns = v.machine.instructions;
    const exits = { ...v.stats.exits } as Record<string, number>;
    const s: Sample = { t: now - t0, instructions: insns, mips: (insns - last.insns) / dt / 1e6, exitsPerSec: rate(exits, last.exits, dt) };
    let shadow = 0, monitor: Record<string, number> = {};
    if (v.mode.name === "full") {
      const full = v.stats.devices?.().full as { exitsByCause?: Record<string, number>; inCpu?: Record<string, number>; shadow?: { hiddenFaults: number; trueFaults: number } } | undefined;
      // the monitor's and those resolved in the CPU (hidden fills, true user faults delivered: host/full/README.md)
      shadow = (full?.shadow?.hiddenFaults ?? 0) + (full?.shadow?.trueFaults ?? 0) + (full?.inCpu?.["shadow fill"] ?? 0) + (full?.inCpu?.["page fault"] ?? 0);
      monitor = { ...full?.exitsByCause };
      s.shadowFaults = shadow;
      s.shadowFaultsPerSec = (shadow - last.shadow) / dt;
      s.monitorPerSec = rate(monitor, last.monitor, dt);
    }
    last = { t: now, insns, exits, shadow, monitor };
    return s;
  };
}

async function start(m: Extract<ToWorker, { type: "start" }>): Promise<void> {
  const gen = ++generation;
  vm = null;
  unacked = 0;
  blocked = null;
  cpuModule ??= WebAssembly.compileStreaming(fetch(m.wasmUrl));
  provideCpuWasm(await cpuModule);
  if (gen !== generation) return;
  const v = new Vm({
    mode: m.mode,
    memSize: m.memSize,
    disk: m.disk ? new Uint8Array(m.disk) : undefined,
    disk2: m.disk2 ? new Uint8Array(m.disk2) : undefined,
    captureConsole: false,
    onConsole: (text) => { consoleText += text; },
  });
  v.loadMultiboot(new Uint8Array(m.image), { cmdline: m.cmdline });
  vm = v;
  post({ type: "started", mode: m.mode });
  const t0 = performance.now();
  const sample = sampler(v, t0);
  let nextSample = t0 + SAMPLE_MS;
  const slice = () => {
    if (gen !== generation) return;
    const end = performance.now() + SLICE_MS;
    let r;
    try {
      r = v.run({ maxInstructions: SLICE_INSTRUCTIONS, pauseWhen: () => performance.now() >= end || unacked + consoleText.length >= CONSOLE_WINDOW });
    } catch (e) {
      flushConsole();
      post({ type: "error", message: `internal error: ${(e as Error).message}` });
      return;
    }
    flushConsole();
    const now = performance.now();
    if (now >= nextSample) { post({ type: "sample", sample: sample() }); nextSample = now + SAMPLE_MS; }
    if (r.stopReason === "paused" || r.stopReason === "max-instructions") {
      if (unacked >= CONSOLE_WINDOW) blocked = slice; // resumed by the page's ack
      else soon(slice);
      return;
    }
    post({ type: "sample", sample: sample() });
    post({ type: "done", exitStatus: r.exitStatus, stopReason: r.stopReason, message: r.message });
    if (gen === generation) vm = null;
  };
  soon(slice);
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === "start") {
    start(m).catch((err: Error) => post({ type: "error", message: err.message }));
  } else if (m.type === "input") {
    vm?.platform.receive(m.bytes);
  } else if (m.type === "ack") {
    unacked = Math.max(0, unacked - m.chars);
    if (blocked && unacked < CONSOLE_WINDOW / 2) { const f = blocked; blocked = null; soon(f); }
  }
};
