// bench-report.test.ts — `scripts/bench.mjs --report DIR` (= `wasmvisor bench --report DIR`) on a quick, small
// selection: the Markdown report, the JSON and the SVG charts are written and well-formed (each SVG parsed as XML),
// every timing figure is either "est [lo, hi]" or "not resolved at this run length" (a suite of one round cannot
// resolve anything, so its figures must say so), no negative time or ratio is printed, and stderr stays quiet
// when it is not a terminal.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { exitsData, overheadData } from "../scripts/bench/charts.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const NEED = ["build/cpu.wasm", "dist/index.js", "dist/cli.js", "build/guests/workloads/null_syscall.elf"];
const READY = NEED.every((p) => existsSync(join(ROOT, p)));
const NR = "not resolved at this run length";

const dir = mkdtempSync(join(tmpdir(), "bench-report-test-"));
let out = { status: -1 as number | null, stdout: "", stderr: "" };

beforeAll(() => {
  if (!READY) return;
  execFileSync("sh", [join(ROOT, "guests/peers/build.sh"), "20", "120", "300", "1800"], { stdio: "ignore", env: { ...process.env, OUT: join(ROOT, "build/bench") } });
  // peers: 3 pairs (enough for an interval); suite: 1 round (never enough: every suite figure is unresolved)
  const r = spawnSync(process.execPath, [join(ROOT, "scripts/bench.mjs"), "--quick", "--no-build", "--report", dir,
    "--sections", "peers,workloads", "--rows", "native,native-mode", "--reps", "20,120", "--runs", "3",
    "--workloads", "null_syscall", "--modes", "native,full,hw", "--suite-runs", "1", "--time-cap", "0"],
    // full mode with its in-CPU fast paths off: a getpid is then 3 exits of known causes for the exits chart (with
    // them on it is none: host/full/README.md "Fast paths")
    { encoding: "utf8", timeout: 120_000, env: { ...process.env, WASMVISOR_FULL_FAST: "0" } });
  out = { status: r.status, stdout: r.stdout, stderr: r.stderr };
  if (r.status !== 0) throw new Error(`bench exited ${r.status}\n${r.stderr.slice(-3000)}`);
}, 130_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!READY)("scripts/bench.mjs --report", () => {
  it("writes report.md, bench.json and the charts", () => {
    expect(readdirSync(dir).sort()).toEqual(["bench.json", "exits.svg", "mips.svg", "overhead.svg", "report.md"]);
    const md = readFileSync(join(dir, "report.md"), "utf8");
    expect(md).toMatch(/^# wasmvisor bench report/);
    for (const svg of ["mips.svg", "overhead.svg", "exits.svg"]) expect(md).toContain(`](${svg})`);
    expect(md).toContain("[bench.json](bench.json)");
    const J = JSON.parse(readFileSync(join(dir, "bench.json"), "utf8"));
    expect(Object.keys(J.results)).toEqual(["native", "native-mode"]);
    expect(J.results["native-mode"].wallMipsCI).toHaveProperty("resolved");
    expect(J.results["native-mode"].pairs).toBe(3);
    expect(J.lengthening.suite.rounds).toBe(1);
  });

  it("the SVG charts parse as XML with an <svg> root", () => {
    for (const name of ["mips.svg", "overhead.svg", "exits.svg"]) {
      const text = readFileSync(join(dir, name), "utf8");
      expect(XMLValidator.validate(text), name).toBe(true);
      const doc = new XMLParser({ ignoreAttributes: false }).parse(text);
      expect(doc.svg, name).toBeDefined();
      expect(doc.svg["@_xmlns"]).toBe("http://www.w3.org/2000/svg");
    }
    const mips = readFileSync(join(dir, "mips.svg"), "utf8");
    expect(mips).toContain("native-mode");
    // exits: the full-mode causes of getpid are exact (int 0x80, sensitive iret, mov ds)
    expect(readFileSync(join(dir, "exits.svg"), "utf8")).toContain("int 0x80");
    // the overhead chart has an hw column next to full (each unresolved after one round: a label, not a bar)
    const J = JSON.parse(readFileSync(join(dir, "bench.json"), "utf8"));
    const modes = new Set((overheadData(J.suite) as { mode: string }[]).map((v) => v.mode));
    expect([...modes].sort()).toEqual(["full", "hw"]);
    expect(readFileSync(join(dir, "overhead.svg"), "utf8")).toContain(">hw<");
  });

  it("the exits chart's stacks add up to exits per operation (PT-write #PFs split out of #PF, not added)", () => {
    const J = JSON.parse(readFileSync(join(dir, "bench.json"), "utf8"));
    const d = exitsData(J.suite) as { workload: string; mode: string; exits: number }[];
    for (const [w, r] of Object.entries(J.suite.workloads) as [string, { modes: Record<string, { exitsPerOp: number }> }][]) {
      for (const [m, x] of Object.entries(r.modes)) {
        const sum = d.filter((y) => y.workload === w && y.mode === m).reduce((a, y) => a + y.exits, 0);
        expect(sum, `${w} ${m}`).toBeCloseTo(x.exitsPerOp, 2);
      }
    }
    // synthetic full-mode causes: 16 #PF of which 8 PT writes, 4 invlpg = 20 exits, not 28
    const s = exitsData({ workloads: { mmap: { modes: { full: { exitsByCause: { "#PF": 16, "protected write": 8, invlpg: 4 } } } } } });
    expect(s.reduce((a: number, y: { exits: number }) => a + y.exits, 0)).toBe(20);
  });

  it("prints unresolved figures as such, never as a number", () => {
    const J = JSON.parse(readFileSync(join(dir, "bench.json"), "utf8"));
    const ns = J.suite.workloads.null_syscall;
    expect(ns.ratiosCI.fullNative.resolved).toBe(false);
    expect(ns.ratiosCI.fullNative.why).toMatch(/1 pair/);
    expect(ns.ratios.fullNative).toBeNull();
    expect(ns.modes.full.usPerOp).toBeNull();
    // the counters stay exact
    expect(ns.modes.full.exitsByCause["int 0x80"]).toBe(1);
    const md = readFileSync(join(dir, "report.md"), "utf8");
    const row = md.split("\n").find((l) => l.startsWith("| null_syscall |") && l.includes(NR))!;
    expect(row).toBeDefined();
    const cells = row.split("|").slice(2, -1).map((c) => c.trim());
    for (const c of cells.slice(0, 2)) expect(c).toBe(NR); // native, full µs/op
    for (const c of cells.slice(3)) if (c !== "-") expect(c).toBe(NR); // every ratio
    // no negative time, MIPS or ratio anywhere in the tables (a "−" or "-" before a digit)
    for (const l of md.split("\n").filter((x) => x.startsWith("|"))) expect(l).not.toMatch(/(^|[\s[(])[-−]\d/);
    // the same on stdout
    expect(out.stdout).toContain(NR);
  });

  it("each peers figure is an interval or unresolved", () => {
    const md = readFileSync(join(dir, "report.md"), "utf8");
    const row = md.split("\n").find((l) => l.startsWith("| native-mode |"))!;
    const mips = row.split("|")[5].trim();
    expect(mips === NR || /^\d+ \[\d+, \d+\]$/.test(mips)).toBe(true);
  });

  it("keeps per-run detail off stderr when it is not a terminal (timed status lines only)", () => {
    expect(out.stderr).not.toMatch(/^(?!bench: ).*(pair \d|suite round)/m);
    expect(out.stderr).toContain("bench: report written");
  });

  it("a bad --report is one line and status 2, also through the CLI", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "dist/cli.js"), "bench", "--report"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe("bench: --report needs a directory");
    // a directory that cannot be made: refused before measuring, one line
    const file = join(dir, "report.md");
    const r2 = spawnSync(process.execPath, [join(ROOT, "scripts/bench.mjs"), "--no-build", "--report", join(file, "sub")], { encoding: "utf8", timeout: 20_000 });
    expect(r2.status).toBe(2);
    expect(r2.stderr.trim()).toMatch(/^bench: cannot write the report to .*ENOTDIR[^\n]*$/);
  });
});
