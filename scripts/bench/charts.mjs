// charts.mjs — the bench report's SVG charts, from the bench JSON (scripts/bench.mjs), drawn with Vega-Lite
// (compiled to Vega and rendered headless to an SVG string: no browser, no canvas).
//   overheadChart  mode × workload: full, para and hw cost per operation over native, wall and CPU time, 95 % intervals
//   exitsChart     exits per operation by cause, stacked, per workload and mode (exact counts)
//   mipsChart      MIPS of every peers row (wasmvisor's modes, the native binary, QEMU TCG, v86) with 95 % intervals
// A figure that is not resolved at this run length is drawn as a grey "not resolved" label, never as a bar.
import * as vega from "vega";
import * as vl from "vega-lite";

const FONT = { font: "DejaVu Sans, Verdana, sans-serif" };
const NR = "not resolved";

/** Vega-Lite spec → SVG text. */
export async function toSvg(spec) {
  const full = { $schema: "https://vega.github.io/schema/vega-lite/v6.json", background: "white", config: { ...FONT, axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11 } }, ...spec };
  const view = new vega.View(vega.parse(vl.compile(full).spec), { renderer: "none" });
  try { return await view.toSVG(); } finally { view.finalize(); }
}

const mid = (c) => (c && c.resolved ? c.est : null);

/** Data rows for the overhead chart: one per workload × mode (full, para) × basis (wall, CPU time). */
export function overheadData(suite) {
  const out = [];
  for (const [w, r] of Object.entries(suite?.workloads ?? {})) {
    for (const [basis, cis] of [["wall time", r.ratiosCI], ["CPU time", r.ratiosCpuCI]]) {
      for (const [mode, k] of [["full", "fullNative"], ["para", "paraNative"], ["hw", "hwNative"]]) {
        const c = cis?.[k];
        if (!c) continue;
        out.push({ workload: w, mode, basis, ratio: mid(c), lo: c.resolved ? c.lo : null, hi: c.resolved ? c.hi : null, label: c.resolved ? null : NR });
      }
    }
  }
  return out;
}

export function overheadChart(suite) {
  const values = overheadData(suite);
  if (!values.length) return null;
  const x = { field: "workload", type: "nominal", title: null, axis: { labelAngle: 0 } };
  const xOffset = { field: "mode", type: "nominal", scale: { domain: ["full", "para", "hw"] } };
  // a log scale: ratios from 0.1 to 30 and intervals that may reach far on a loaded machine stay readable
  const fin = values.flatMap((v) => [v.ratio, v.lo, v.hi]).filter((v) => v > 0);
  const lo = fin.length ? Math.min(0.5, ...fin) / 1.5 : 0.1, hi = fin.length ? Math.max(2, ...fin) * 1.3 : 10;
  for (const v of values) v.base = lo;
  const y = { type: "quantitative", title: "÷ native mode (log scale)", scale: { type: "log", domain: [lo, hi], nice: false } };
  return toSvg({
    title: { text: "Cost per operation over native mode (bars: estimate; whiskers: 95 % interval)", fontSize: 14 },
    data: { values },
    facet: { row: { field: "basis", type: "nominal", title: null, sort: ["wall time", "CPU time"], header: { labelFontSize: 12, labelFontWeight: "bold" } } },
    spec: {
      width: 560, height: 200,
      layer: [
        { mark: { type: "bar" }, transform: [{ filter: "datum.ratio != null" }], encoding: { x, xOffset, y: { ...y, field: "ratio" }, y2: { field: "base" }, color: { field: "mode", type: "nominal", scale: { domain: ["full", "para", "hw"], range: ["#d9534f", "#4a90d9", "#5cb85c"] }, title: "mode" } } },
        { mark: { type: "rule", strokeWidth: 1.5 }, transform: [{ filter: "datum.ratio != null" }], encoding: { x, xOffset, y: { ...y, field: "lo" }, y2: { field: "hi" } } },
        { mark: { type: "text", angle: 270, align: "left", dx: 0, fontSize: 10, color: "#777" }, transform: [{ filter: "datum.label != null" }], encoding: { x, xOffset, y: { ...y, field: "base" }, text: { field: "label" } } },
        { mark: { type: "rule", strokeDash: [4, 3], color: "#333" }, transform: [{ calculate: "1", as: "one" }], encoding: { y: { ...y, field: "one" } } },
      ],
    },
  });
}

/** Data rows for the exits chart: exits per operation by cause (the top causes; the rest as "other"). */
export function exitsData(suite, maxCauses = 16) {
  const rows = [];
  for (const [w, r] of Object.entries(suite?.workloads ?? {})) {
    for (const [mode, m] of Object.entries(r.modes ?? {})) {
      // full: "protected write" exits are a subset of the "#PF" exits; split them so the stack adds up to exits/op
      const c = { ...(m.exitsByCause ?? {}) };
      if (c["protected write"] && c["#PF"] != null) {
        c["#PF: PT write"] = c["protected write"];
        c["#PF: other"] = Math.max(0, c["#PF"] - c["protected write"]);
        delete c["protected write"]; delete c["#PF"];
      }
      for (const [cause, v] of Object.entries(c)) {
        if (v > 0 && !cause.startsWith("hc ")) rows.push({ workload: w, mode, cause, exits: v }); // hypercalls by kind duplicate "hypercall (all)"
      }
    }
  }
  // the causes that matter: summed share of each workload × mode's exits (so a small workload's causes count
  // as much as the disk's thousand port exits)
  const share = new Map();
  for (const x of rows) {
    const tot = rows.filter((y) => y.workload === x.workload && y.mode === x.mode).reduce((a, y) => a + y.exits, 0);
    share.set(x.cause, (share.get(x.cause) ?? 0) + x.exits / tot);
  }
  const keep = new Set([...share.entries()].sort((a, b) => b[1] - a[1]).slice(0, maxCauses).map(([c]) => c));
  const out = new Map();
  for (const x of rows) {
    const cause = keep.has(x.cause) ? x.cause : "other";
    const k = `${x.workload}|${x.mode}|${cause}`;
    out.set(k, { ...x, cause, exits: (out.get(k)?.exits ?? 0) + x.exits });
  }
  return [...out.values()];
}

export function exitsChart(suite) {
  const values = exitsData(suite);
  if (!values.length) return null;
  return toSvg({
    title: { text: "Exits per operation by cause (exact: wasmvisor's time is virtual)", fontSize: 14 },
    data: { values },
    facet: { column: { field: "workload", type: "nominal", title: null, header: { labelFontSize: 12, labelFontWeight: "bold" } } },
    spec: {
      width: 100, height: 240,
      mark: { type: "bar" },
      encoding: {
        x: { field: "mode", type: "nominal", title: null, sort: ["native", "full", "para", "hw"], axis: { labelAngle: 0 } },
        y: { field: "exits", type: "quantitative", aggregate: "sum", title: "exits per operation" },
        color: { field: "cause", type: "nominal", scale: { scheme: "tableau20" }, title: "cause" },
        order: { field: "exits", type: "quantitative", sort: "descending" },
      },
    },
    resolve: { scale: { y: "independent" } },
  });
}

/** Data rows for the MIPS chart, one per peers row. */
export function mipsData(J, labels = {}) {
  return Object.entries(J.results ?? {}).map(([n, s]) => {
    const c = s.wallMipsCI;
    const kind = n === "native" ? "native binary" : n === "qemu" || n === "v86" ? "peer emulator" : "wasmvisor";
    return { row: n, what: labels[n] ?? n, kind, mips: mid(c), lo: c?.resolved ? c.lo : null, hi: c?.resolved ? c.hi : null, label: c?.resolved ? null : NR };
  });
}

export function mipsChart(J, labels) {
  const values = mipsData(J, labels);
  if (!values.length) return null;
  const y = { field: "row", type: "nominal", title: null, sort: null, axis: { labelLimit: 200 } };
  const x = { type: "quantitative", title: "MIPS (difference method, wall time)" };
  return toSvg({
    title: { text: "MIPS on the shared peer workload, measured in the same run (whiskers: 95 % interval)", fontSize: 14 },
    data: { values }, width: 480, height: { step: 26 },
    layer: [
      { mark: "bar", transform: [{ filter: "datum.mips != null" }], encoding: { y, x: { ...x, field: "mips" }, color: { field: "kind", type: "nominal", scale: { domain: ["wasmvisor", "peer emulator", "native binary"], range: ["#4a90d9", "#f0ad4e", "#5cb85c"] }, title: null } } },
      { mark: { type: "rule", strokeWidth: 1.5 }, transform: [{ filter: "datum.mips != null" }], encoding: { y, x: { ...x, field: "lo" }, x2: { field: "hi" } } },
      { mark: { type: "text", align: "left", dx: 4, fontSize: 10, color: "#777" }, transform: [{ filter: "datum.label != null" }, { calculate: "0", as: "zero" }], encoding: { y, x: { ...x, field: "zero" }, text: { field: "label" } } },
    ],
  });
}

/** Data rows for the real-OS chart: wasmvisor's CPU time over QEMU's per section, phase and mode. */
export function osData(J) {
  const out = [];
  for (const kind of ["xv6", "linux"]) {
    for (const [mode, byPhase] of Object.entries(J[kind]?.vsQemu ?? {})) {
      for (const [phase, v] of Object.entries(byPhase)) {
        const c = v.cpu, ok = c?.resolved || (c?.n < 3 && c?.raw > 0);
        out.push({ what: `${kind} ${phase}`, mode, ratio: ok ? c.est ?? c.raw : null, lo: c?.resolved ? c.lo : null, hi: c?.resolved ? c.hi : null, label: ok ? null : NR });
      }
    }
  }
  return out;
}

/** xv6 and Linux: CPU time ÷ QEMU TCG's per phase and mode (log scale, 1 = QEMU; whiskers: 95 % interval). */
export function osChart(J) {
  const values = osData(J);
  if (!values.length) return null;
  const fin = values.flatMap((v) => [v.ratio, v.lo, v.hi]).filter((v) => v > 0);
  const lo = Math.min(0.5, ...fin) / 1.5, hi = Math.max(2, ...fin) * 1.3;
  for (const v of values) v.base = lo;
  const x = { field: "what", type: "nominal", title: null, sort: null, axis: { labelAngle: -30 } };
  const xOffset = { field: "mode", type: "nominal", scale: { domain: ["native", "full", "hw"] } };
  const y = { type: "quantitative", title: "CPU time ÷ QEMU TCG's (log scale)", scale: { type: "log", domain: [lo, hi], nice: false } };
  return toSvg({
    title: { text: "Real OSes: wasmvisor's CPU time over QEMU TCG's, same images, same run", fontSize: 14 },
    width: 620, height: 240, data: { values },
    layer: [
      { mark: "bar", transform: [{ filter: "datum.ratio != null" }], encoding: { x, xOffset, y: { ...y, field: "ratio" }, y2: { field: "base" }, color: { field: "mode", type: "nominal", scale: { domain: ["native", "full", "hw"], range: ["#777", "#d9534f", "#5cb85c"] } } } },
      { mark: { type: "rule", strokeWidth: 1.5 }, transform: [{ filter: "datum.lo != null" }], encoding: { x, xOffset, y: { ...y, field: "lo" }, y2: { field: "hi" } } },
      { mark: { type: "text", angle: 270, align: "left", fontSize: 10, color: "#777" }, transform: [{ filter: "datum.label != null" }], encoding: { x, xOffset, y: { ...y, field: "base" }, text: { field: "label" } } },
      { mark: { type: "rule", strokeDash: [4, 3], color: "#333" }, transform: [{ calculate: "1", as: "one" }], encoding: { y: { ...y, field: "one" } } },
    ],
  });
}
