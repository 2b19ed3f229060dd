// main.ts — the page: pick a guest and a mode, run it in a worker (worker.ts), its console in xterm.js, its
// counters live and charted over time with uPlot. The guest list comes from `wasmvisor serve` (GET /api/guests);
// an own kernel (and a second disk such as xv6's fs.img) can be picked from local files instead.
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import uPlot from "uplot";
import "@xterm/xterm/css/xterm.css";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import type { Catalog, GuestEntry } from "./catalog.ts";
import type { FromWorker, Sample, ToWorker } from "./protocol.ts";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const guestSel = $<HTMLSelectElement>("guest"), modeSel = $<HTMLSelectElement>("mode");
const memIn = $<HTMLInputElement>("mem"), cmdlineIn = $<HTMLInputElement>("cmdline");
const startBtn = $<HTMLButtonElement>("start"), stopBtn = $<HTMLButtonElement>("stop");
const kernelFile = $<HTMLInputElement>("upload-kernel"), disk2File = $<HTMLInputElement>("upload-disk2");
const statusEl = $("status");

const term = new Terminal({ convertEol: true, fontSize: 14, scrollback: 5000, cursorBlink: true, theme: { background: "#000000" } });
const fit = new FitAddon();
term.loadAddon(fit);
term.open($("terminal"));
fit.fit();
new ResizeObserver(() => fit.fit()).observe($("terminal"));

let catalog: GuestEntry[] = [];
let worker: Worker | null = null;
let running = false;
let backlog = 0, maxBacklog = 0; // console characters handed to the terminal and not yet written (CONSOLE_WINDOW)

function setStatus(text: string, state: "idle" | "loading" | "running" | "done" | "error"): void {
  statusEl.textContent = text;
  statusEl.dataset.state = state;
}

// ---- the guest list
const UPLOAD = "upload";
async function loadCatalog(): Promise<void> {
  const r = await fetch("api/guests");
  if (!r.ok) throw new Error(`GET api/guests: ${r.status}`);
  catalog = ((await r.json()) as Catalog).guests;
  guestSel.replaceChildren(...catalog.map((g) => new Option(`${g.label} — ${g.about}`, g.id)), new Option("your own image (below)", UPLOAD));
  guestSel.value = catalog.find((g) => g.id === "xv6")?.id ?? catalog[0]?.id ?? UPLOAD;
  pickGuest();
}
function pickGuest(): void {
  const g = catalog.find((x) => x.id === guestSel.value);
  if (!g) return;
  memIn.value = String(g.memSize / (1 << 20));
  cmdlineIn.value = g.cmdline ?? "";
}
guestSel.addEventListener("change", pickGuest);

async function fetchBytes(url: string): Promise<ArrayBuffer> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${r.statusText}`);
  return r.arrayBuffer();
}

// ---- counters and charts
const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString("en") : n.toFixed(1));
const history: { t: number[]; mips: number[]; series: Map<string, number[]> } = { t: [], mips: [], series: new Map() };
const HISTORY = 240; // samples kept (two minutes at SAMPLE_MS)
let mipsChart: uPlot | null = null, exitsChart: uPlot | null = null;
const COLORS = ["#6cb6ff", "#f69d50", "#8ddb8c", "#dcbdfb", "#f47067", "#e0823d", "#96d0ff", "#c6e6ff", "#daaa3f", "#ff938a", "#b083f0"];

function chartSize(): { width: number; height: number } {
  return { width: Math.max(300, $("counters-pane").clientWidth - 10), height: 170 };
}
function axes(label: string): uPlot.Axis[] {
  const a = { stroke: "#8a93a3", grid: { stroke: "#2a2f37" }, ticks: { stroke: "#2a2f37" } };
  return [{ ...a, label: "s" }, { ...a, label, size: 60 }];
}
function buildCharts(): void {
  mipsChart?.destroy(); exitsChart?.destroy();
  mipsChart = new uPlot({
    ...chartSize(), title: "MIPS", legend: { show: false }, axes: axes("MIPS"), scales: { x: { time: false } },
    series: [{}, { label: "MIPS", stroke: COLORS[0], width: 2 }],
  }, [history.t, history.mips], $("chart-mips"));
  const names = [...history.series.keys()];
  exitsChart = new uPlot({
    ...chartSize(), title: "exits / s by cause", axes: axes("per s"), scales: { x: { time: false } },
    series: [{}, ...names.map((n, i) => ({ label: n, stroke: COLORS[(i + 1) % COLORS.length], width: 1.5 }))],
  }, [history.t, ...names.map((n) => history.series.get(n)!)], $("chart-exits"));
}
function resetHistory(): void {
  history.t.length = 0; history.mips.length = 0; history.series.clear();
  buildCharts();
  for (const id of ["c-mips", "c-insns", "c-exits", "c-shadow"]) $(id).textContent = "–";
  $("causes").querySelector("tbody")!.replaceChildren();
}

function onSample(s: Sample): void {
  const rates: Record<string, number> = { ...s.exitsPerSec };
  for (const [k, v] of Object.entries(s.monitorPerSec ?? {})) rates[`monitor: ${k}`] = v;
  if (s.shadowFaultsPerSec !== undefined) rates["shadow faults"] = s.shadowFaultsPerSec;
  const n = history.t.length;
  let newSeries = false;
  for (const k of Object.keys(rates)) {
    if (!history.series.has(k)) { history.series.set(k, new Array(n).fill(0)); newSeries = true; }
  }
  history.t.push(s.t / 1000);
  history.mips.push(s.mips);
  for (const [k, arr] of history.series) arr.push(rates[k] ?? 0);
  if (history.t.length > HISTORY) { history.t.shift(); history.mips.shift(); for (const arr of history.series.values()) arr.shift(); }
  if (newSeries) buildCharts();
  else {
    mipsChart?.setData([history.t, history.mips]);
    exitsChart?.setData([history.t, ...history.series.values()]);
  }
  const total = Object.values(s.exitsPerSec).reduce((a, b) => a + b, 0);
  $("c-mips").textContent = s.mips.toFixed(1);
  $("c-insns").textContent = s.instructions.toLocaleString("en");
  $("c-exits").textContent = fmt(total);
  $("c-shadow").textContent = s.shadowFaultsPerSec === undefined ? "– (full mode)" : `${fmt(s.shadowFaultsPerSec)} (${s.shadowFaults!.toLocaleString("en")} in all)`;
  const rows = Object.entries(rates).filter(([k]) => k !== "shadow faults").sort((a, b) => b[1] - a[1]).slice(0, 14);
  $("causes").querySelector("tbody")!.replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement("tr");
    tr.innerHTML = "<th></th><td></td>";
    tr.children[0].textContent = k;
    tr.children[1].textContent = fmt(v);
    return tr;
  }));
}
window.addEventListener("resize", () => { mipsChart?.setSize(chartSize()); exitsChart?.setSize(chartSize()); });

// ---- running a guest
function stopWorker(): void {
  worker?.terminate(); // the only way to stop a CPU in the middle of a slice; a new guest gets a fresh worker
  worker = null;
  running = false;
  startBtn.disabled = false;
  stopBtn.disabled = true;
}

function onMessage(m: FromWorker): void {
  switch (m.type) {
    case "started": setStatus(`running in ${m.mode} mode`, "running"); break;
    case "console": {
      const w = worker, n = m.text.length;
      backlog += n;
      maxBacklog = Math.max(maxBacklog, backlog);
      term.write(m.text, () => { backlog -= n; if (w === worker) w?.postMessage({ type: "ack", chars: n } satisfies ToWorker); });
      break;
    }
    case "sample": onSample(m.sample); break;
    case "done":
      setStatus(`${m.message} (status ${m.exitStatus}, ${m.stopReason})`, "done");
      stopWorker();
      break;
    case "error":
      setStatus(m.message, "error");
      stopWorker();
      break;
  }
}

async function start(): Promise<void> {
  stopWorker();
  resetHistory();
  term.reset();
  backlog = 0;
  maxBacklog = 0;
  const mode = modeSel.value;
  startBtn.disabled = true;
  setStatus("loading…", "loading");
  try {
    const memMiB = Number(memIn.value);
    if (!Number.isInteger(memMiB) || memMiB < 1 || memMiB > 1024) throw new Error("RAM: a whole number of MiB from 1 to 1024");
    let image: ArrayBuffer, disk: ArrayBuffer | undefined, disk2: ArrayBuffer | undefined;
    if (guestSel.value === UPLOAD) {
      const k = kernelFile.files?.[0];
      if (!k) throw new Error("choose a kernel file (a multiboot ELF) first");
      image = await k.arrayBuffer();
      const d2 = disk2File.files?.[0];
      if (d2) disk2 = await d2.arrayBuffer();
    } else {
      const g = catalog.find((x) => x.id === guestSel.value)!;
      const url = mode === "para" ? g.pvImage : g.image;
      if (!url) throw new Error(`${g.label} has no paravirtualized build: para mode runs the PV builds (build/guests/workloads-pv/)`);
      image = await fetchBytes(url);
      if (g.disk) disk = await fetchBytes(g.disk);
      else if (g.blankDisk) disk = new ArrayBuffer(g.blankDisk);
      if (g.disk2) disk2 = await fetchBytes(g.disk2); // a fresh copy each run: the guest writes to it
    }
    worker = new Worker(new URL("worker.js", import.meta.url), { type: "module" });
    worker.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
    worker.onerror = (e) => { setStatus(`worker: ${e.message}`, "error"); stopWorker(); };
    const msg: ToWorker = {
      type: "start", wasmUrl: new URL("cpu.wasm", location.href).href, mode, image, cmdline: cmdlineIn.value,
      memSize: memMiB << 20, disk, disk2,
    };
    worker.postMessage(msg, [image, ...(disk ? [disk] : []), ...(disk2 ? [disk2] : [])]);
    running = true;
    startBtn.disabled = false; // Start again switches guest or mode: the running guest's worker is replaced
    stopBtn.disabled = false;
    term.focus();
  } catch (e) {
    setStatus((e as Error).message, "error");
    stopWorker();
  }
}

function stop(): void {
  if (!running) return;
  stopWorker();
  setStatus("stopped", "done");
}

const encoder = new TextEncoder();
term.onData((d) => {
  if (!worker || !running) return;
  // Enter sends CR; guests read lines ending in LF, as from a terminal in ICRNL mode (the CLI's stdin)
  worker.postMessage({ type: "input", bytes: encoder.encode(d.replace(/\r/g, "\n")) } satisfies ToWorker);
});
startBtn.addEventListener("click", () => void start());
stopBtn.addEventListener("click", stop);

/** for tests and the curious: the terminal's text, the status line */
(window as unknown as { wasmvisor: object }).wasmvisor = {
  screenText(): string {
    const b = term.buffer.active, lines: string[] = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? "");
    return lines.join("\n").replace(/\n+$/, "");
  },
  status: () => ({ text: statusEl.textContent, state: statusEl.dataset.state }),
  samples: () => history.t.length,
  maxBacklog: () => maxBacklog,
};

buildCharts();
loadCatalog().catch((e: Error) => setStatus(`cannot load the guest list: ${e.message}`, "error"));
