// report.mjs — `wasmvisor bench --report DIR`: the bench as a page you can read at a glance. Writes
//   DIR/report.md     what was measured, on what machine and under what load, the charts, then every table
//   DIR/bench.json    the same JSON as `--json` (the charts and tables are drawn from it)
//   DIR/overhead.svg, DIR/exits.svg, DIR/mips.svg, DIR/os.svg   (scripts/bench/charts.mjs; each only if its part ran)
// and, when they ran, the xv6, linux and scale sections' tables (scripts/bench/os.mjs, scale-section.mjs)
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { overheadChart, exitsChart, mipsChart, osChart } from "./charts.mjs";
import { UNRESOLVED } from "./stats.mjs";

/** Writes the report; returns the paths written. */
export async function writeReport(dir, { J, jsonText, peersMd, suiteMd, osMd = "", lengtheningMd, rows }) {
  mkdirSync(dir, { recursive: true });
  const written = [];
  const put = (name, text) => { const p = join(dir, name); writeFileSync(p, text); written.push(p); };
  put("bench.json", jsonText + "\n");
  const labels = Object.fromEntries(Object.keys(J.results ?? {}).map((n) => [n, rows[n]?.label ? `${n}: ${rows[n].label}` : n]));
  const charts = [
    ["mips.svg", "MIPS against the peers", await mipsChart(J, labels)],
    ["overhead.svg", "Overhead per workload and mode", await overheadChart(J.suite)],
    ["exits.svg", "Exits per operation by cause", await exitsChart(J.suite)],
    ["os.svg", "xv6 and Linux against QEMU TCG (CPU time)", await osChart(J)],
  ].filter(([, , svg]) => svg);
  for (const [name, , svg] of charts) put(name, svg);

  const L = [];
  L.push("# wasmvisor bench report\n");
  const load = J.suite?.load;
  L.push(`- **When / what**: ${J.date}; preset \`${J.preset}\`; source ${J.git ? `HEAD ${J.git.head}${J.git.dirty.length ? ` + ${J.git.dirty.length} changed paths` : ", clean"}` : "unknown"}; node ${J.node}`);
  L.push(`- **Machine**: ${J.cpus ?? "?"}, ${J.ncpu} cores${load ? `; during the suite: load average ${load.loadavgStart?.join(" ")} → ${load.loadavgEnd?.join(" ")}${load.machineBusy != null ? `, machine ${(load.machineBusy * 100).toFixed(0)} % busy (this bench ${(load.ours * 100).toFixed(0)} %, other processes ${(load.others * 100).toFixed(0)} %)` : ""}` : ""}`);
  L.push(`- **Duration**: measured for ${J.lengthening.measuredS} s (time cap ${J.lengthening.timeCapS} s)`);
  const missing = Object.entries(J.peersMissing ?? {});
  if (missing.length) L.push(`- **Peers not measured**: ${missing.map(([n, w]) => `${n} (${w})`).join("; ")}`);
  if (J.native && !J.native.arch) L.push(`- **No native reference**: ${J.native.missing}`);
  L.push("");
  L.push("**How to read the figures.** Every time is a difference of medians (the guest at two lengths, so start-up");
  L.push("cancels) and every ratio compares two of them; each comes with its **95 % interval** `[lo, hi]`, a bootstrap");
  L.push("over the interleaved pairs (peers) or rounds (suite) — pair *i* of every row ran back to back, so the same");
  L.push(`index set is resampled for both sides of a ratio. A figure whose interval includes zero or flips sign is`);
  L.push(`written "${UNRESOLVED}" (and drawn as a grey label, never as a bar): the difference of two noisy runs`);
  L.push("said nothing at that length. Exit and instruction counts are exact (virtual time) and have no interval.");
  L.push(`The bench adds pairs/rounds until each headline interval is within ${(J.lengthening.target * 100).toFixed(0)} % of its value, or the time cap:\n`);
  for (const l of lengtheningMd) if (l) L.push(`- ${l}`);
  L.push("");
  for (const [name, title] of charts) L.push(`## ${title}\n\n![${title}](${name})\n`);
  if (peersMd.length) L.push("## Peers: MIPS on the shared workload\n", ...peersMd, "");
  if (suiteMd) L.push("## Suite: native, full, para and hw mode", suiteMd, "");
  // xv6 / Linux against QEMU TCG, and the scale section (scripts/bench/os.mjs, scripts/bench/scale.mjs)
  if (osMd) L.push("## Real OSes against QEMU TCG, and many machines", osMd, "");
  L.push(`\nRaw data: [bench.json](bench.json) (the same object as \`wasmvisor bench --json\`). Method and discussion: docs/RESULTS.md.`);
  put("report.md", L.join("\n") + "\n");
  return written;
}
