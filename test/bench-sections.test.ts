// bench-sections.test.ts — the bench's xv6, linux and scale sections (scripts/bench/os.mjs, scale.mjs): selection
// and validation of the options, the analysis of OS sessions (phases, exits by cause, ratios to QEMU with their
// intervals) on recorded data, and tiny real runs: scale with N = 1, 2 and xv6 to its first prompt in native mode
// next to QEMU (when shared/guests/xv6 exists; QEMU's rows when it is installed). Never the timings' values.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as OS from "../scripts/bench/os.mjs";

// (a plain ES module: its inferred types are too narrow for recorded data)
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const { analyzeOs, renderOsMarkdown, xv6Dir, fmtFig } = OS as any;
import { osData, osChart } from "../scripts/bench/charts.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BENCH = join(ROOT, "scripts/bench.mjs");
const READY = ["build/cpu.wasm", "dist/index.js", "dist/cli.js"].every((p) => existsSync(join(ROOT, p)));
const XV6 = xv6Dir();
const QEMU = (process.env.PATH ?? "").split(":").some((d) => existsSync(join(d, "qemu-system-i386")));
const bench = (args: string[], env = process.env) => spawnSync(process.execPath, [BENCH, ...args], { encoding: "utf8", timeout: 120_000, env });

describe("bench sections: options", () => {
  it("lists the three sections in --help", () => {
    const r = bench(["--help"]);
    expect(r.status).toBe(0);
    for (const s of ["xv6", "linux", "scale", "--usertests", "--linux-cap", "--scale-max", "--xv6-commands"]) expect(r.stdout).toContain(s);
  });
  it.each([
    [["--sections", "xv6,nope"], /^bench: unknown section 'nope' \(sections: peers, workloads, trap, disk, pt, xv6, linux, scale\)\n$/],
    [["--sections", "xv6", "--usertests", "4", "--xv6-runs", "2"], /^bench: --usertests 4 is more than the 2 xv6 rounds/],
    [["--sections", "scale", "--scale-max", "0"], /^bench: bad --scale-max '0'\n$/],
    [["--sections", "linux", "--linux-cap", "x"], /^bench: bad --linux-cap 'x'\n$/],
    [["--sections", "xv6", "--xv6-commands", "ls,usertests"], /^bench: bad xv6 command 'usertests'/],
    [["--sections", "xv6", "--modes", "native,kvm"], /^bench: unknown mode 'kvm'/],
  ])("rejects %j with one line and status 2", (args, msg) => {
    const r = bench(args as string[]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(r.stdout).toBe("");
  });
});

// Two rounds of native and QEMU, recorded: milestones as the sessions report them (times since the spawn).
const ms = (name: string, wallMs: number, cpuMs: number, extra: Record<string, unknown> = {}) => ({ name, wallMs, cpuMs, ...extra });
const stats = (instructions: number, io: number) => ({ instructions, exits: { budget: 9, "io-out": io, "mmio-read": 3 } });
function recorded(rounds: number) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const native: any[] = [], qemu: any[] = [];
  for (let i = 0; i < rounds; i++) {
    native.push({ totalCpuMs: 3000 + i, milestones: [ms("boot", 2000 + 10 * i, 1000, { instructions: 14e6, stats: stats(14e6, 100), console: "init: starting sh\n$ " }), ms("ls", 2600 + 10 * i, 1400, { instructions: 30e6, stats: stats(30e6, 500), console: "ls\n.  1 1 512\n$ " })] });
    qemu.push({ totalCpuMs: 900, milestones: [ms("boot", 1500 + 20 * i, 600, { console: "SeaBIOS\ninit: starting sh\n$ " }), ms("ls", 1600 + 20 * i, 640, { console: "ls\n.  1 1 512\n$ " })] });
  }
  return { native, qemu };
}

describe("bench sections: the analysis of OS sessions", () => {
  it("gives each phase's time, instructions, exits by cause and ratio to QEMU", () => {
    const A = analyzeOs("xv6", recorded(3), { engines: ["native", "qemu"], images: {}, commands: ["ls"] });
    expect(A.phases).toEqual(["boot", "ls", "commands"]);
    const b = A.engines.native.phases.boot, l = A.engines.native.phases.ls;
    expect(b.instructions).toBe(14e6);
    expect(l.instructions).toBe(16e6);
    expect(l.deterministic).toBe(true);
    expect(l.exitsByCause).toEqual({ "io-out": 400 }); // the budget exits are no cause; unchanged causes drop out
    expect(b.cpuMs).toMatchObject({ est: 1000, resolved: true });
    expect(l.cpuMs).toMatchObject({ est: 400, resolved: true });
    expect(A.engines.qemu.phases.ls.cpuMs.est).toBe(40);
    // ratios over the same rounds: ls 400 / 40 ms CPU
    expect(A.vsQemu.native.ls.cpu).toMatchObject({ est: 10, resolved: true });
    expect(A.vsQemu.native.ls.sameOutput).toBe(true);
    expect(A.vsQemu.native.boot.cpu.est).toBeCloseTo(1000 / 600, 4);
    const md = renderOsMarkdown("xv6", { ...A, rounds: 3, usertestsRuns: 0, notRun: { para: "para mode runs only paravirtualized kernels" } });
    expect(md).toContain("### xv6 vs QEMU TCG (bench xv6)");
    expect(md).toContain("para: not measured: para mode runs only paravirtualized kernels");
    expect(md).toMatch(/\| ls \| native \| 0\.40 \[0\.40, 0\.40\] .*\| 10\.00 \[10\.00, 10\.00\] .*= QEMU \|/);
  });
  it("draws the ratios to QEMU (report chart os.svg): a bar per phase and mode, unresolved as a label", async () => {
    const A = analyzeOs("xv6", recorded(3), { engines: ["native", "qemu"], images: {}, commands: ["ls"] });
    const rows = osData({ xv6: A });
    expect(rows.map((r: { what: string }) => r.what)).toEqual(["xv6 boot", "xv6 ls", "xv6 commands"]);
    expect(rows[1]).toMatchObject({ mode: "native", ratio: 10, label: null });
    const svg = await osChart({ xv6: A });
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain("xv6 ls");
    expect(osChart({})).toBeNull();
  });
  it("gives no interval for a single run, and says so", () => {
    const A = analyzeOs("xv6", recorded(1), { engines: ["native", "qemu"], images: {}, commands: ["ls"] });
    expect(A.vsQemu.native.ls.cpu.resolved).toBe(false);
    expect(fmtFig(A.vsQemu.native.ls.cpu, 2)).toBe("10.00 (1 run: no interval)");
  });
  it("marks a differing output and a failed usertests", () => {
    const R = recorded(1);
    R.qemu[0].milestones[1].console = "ls\n.  1 1 1024\n$ ";
    R.native[0].milestones.push(ms("usertests", 9000, 5000, { instructions: 60e6, stats: stats(60e6, 900), console: "usertests\nusertests starting\nforktest: FAILED\n$ " }));
    const A = analyzeOs("xv6", R, { engines: ["native", "qemu"], images: {}, commands: ["ls"] });
    expect(A.vsQemu.native.ls.sameOutput).toBe(false);
    expect(A.engines.native.phases.usertests.passed).toBe(false);
  });
});

// The real thing, tiny: scale with N = 1, 2 on the smallest peers guest; xv6 to its first prompt in native mode.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let J: any;
describe.skipIf(!READY)("bench sections: a tiny real run (--smoke --sections xv6,scale)", () => {
  beforeAll(() => {
    execFileSync("sh", [join(ROOT, "guests/peers/build.sh"), "2"], { stdio: "ignore", env: { ...process.env, OUT: join(ROOT, "build/bench") } });
    if (!XV6) console.warn("bench-sections: shared/guests/xv6 not found: the xv6 part is skipped");
    const r = bench(["--smoke", "--json", "--no-build", "--sections", XV6 ? "xv6,scale" : "scale", "--modes", "native,para", "--xv6-commands", "", "--scale-max", "2"]);
    if (r.status !== 0) throw new Error(`bench exited ${r.status}\n${r.stderr.slice(-3000)}`);
    J = JSON.parse(r.stdout);
  }, 120_000);

  it("runs N = 1, 2 machines interleaved and on worker threads, and measures an idle machine", () => {
    expect(J.sections).toEqual(XV6 ? ["xv6", "scale"] : ["scale"]);
    const S = J.scale;
    for (const way of ["interleaved", "threads"]) {
      expect(Object.keys(S.ways[way])).toEqual(["1", "2"]);
      for (const n of ["1", "2"]) {
        const r = S.ways[way][n];
        for (const k of ["mipsTotal", "mipsPerMachine", "mipsPerCpuS", "launchesPerS", "launchesPerSPerCore", "launchesPerCpuS"]) expect(r[k], `${way} ${n} ${k}`).toHaveProperty("n", 1);
        expect(r.mipsTotal.raw).toBeGreaterThan(0);
        expect(r.launchesPerS.raw).toBeGreaterThan(0);
      }
      expect(S.ways[way]["1"].speedup).toBeNull();
      expect(S.ways[way]["2"].speedup).toHaveProperty("raw");
    }
    // the guest: the peers workload at REPS 2, 99857 + 2 * 819210 instructions in the workload (+ its kernel's boot)
    expect(S.guestInstructions).toBeGreaterThanOrEqual(99857 + 2 * 819210);
    expect(S.guestInstructions).toBeLessThan((99857 + 2 * 819210) * 1.01);
    expect(S.idle.rssPerMachineKiB).toBeGreaterThan(0);
    expect(S.idle.externalPerMachineKiB).toBeGreaterThanOrEqual(S.idle.memSizeKiB); // the RAM is in each machine's wasm memory
    expect(typeof S.idle.withinTarget).toBe("boolean");
  });

  it.skipIf(!XV6)("boots xv6 to its first prompt in native mode (para: said not applicable), next to QEMU where installed", () => {
    const X = J.xv6;
    expect(X.rounds).toBe(1);
    expect(X.phases).toEqual(["boot"]);
    expect(X.notRun.para).toMatch(/paravirtualized/);
    const b = X.engines.native.phases.boot;
    // xv6's boot to "$ " is about 14 M instructions (kinit's memset of 220 MB dominates), deterministic
    expect(b.instructions).toBeGreaterThan(5e6);
    expect(b.instructions).toBeLessThan(100e6);
    expect(b.exits).toBeGreaterThan(0);
    expect(b.exitsByCause["io-out"]).toBeGreaterThan(0); // the IDE and UART ports
    expect(b.cpuMs.raw).toBeGreaterThan(0);
    if (QEMU) {
      expect(X.qemuVersion).toMatch(/QEMU emulator version/);
      expect(X.engines.qemu.phases.boot.cpuMs.raw).toBeGreaterThan(0);
      expect(X.vsQemu.native.boot.cpu).toHaveProperty("raw");
    } else {
      expect(X.notRun.qemu).toMatch(/qemu-system-i386 not found/);
    }
  });
});

describe.skipIf(!READY)("bench sections: QEMU absent", () => {
  // a PATH with node only: no qemu-system-i386 (and nothing to build: --no-build)
  const bin = mkdtempSync(join(tmpdir(), "bench-nopath-"));
  afterAll(() => rmSync(bin, { recursive: true, force: true }));
  it("says so in one line per section and measures the rest", () => {
    symlinkSync(process.execPath, join(bin, "node"));
    const r = bench(["--smoke", "--json", "--no-build", "--sections", "xv6", "--modes", "para"], { ...process.env, PATH: bin });
    expect(r.status, r.stderr).toBe(0);
    const X = JSON.parse(r.stdout).xv6;
    if (!XV6) { expect(X.skipped).toMatch(/xv6 not found/); return; }
    expect(X.notRun.qemu).toMatch(/^qemu-system-i386 not found on PATH/);
    expect(X.notRun.para).toMatch(/paravirtualized/);
    expect(Object.keys(X.engines)).toEqual([]);
  });
});
