// bench.test.ts — smoke test of the bench's JSON mode (scripts/bench.mjs --smoke --json): tiny iteration counts,
// one run, a subset of rows and workloads. Checks the structure of every section and the counters that are
// deterministic in wasmvisor (exits per trap-loop iteration, the syscall's exit causes, virtio vs ATA exits per
// MiB); never the timings, which on tiny counts are noise.
import { describe, it, expect, beforeAll } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const NEED = ["build/cpu.wasm", "dist/index.js", "dist/cli.js", "build/guests/workloads/null_syscall.elf", "build/guests/workloads-pv/null_syscall.elf", "build/guests/bench/diskbench-para.elf"];
const READY = NEED.every((p) => existsSync(join(ROOT, p)));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let J: any;

beforeAll(() => {
  if (!READY) return;
  // the inputs --no-build expects: peers guests at REPS 1 and 2 in build/bench, the trap guests (both skip fresh targets)
  execFileSync("sh", [join(ROOT, "guests/peers/build.sh"), "1", "2"], { stdio: "ignore", env: { ...process.env, OUT: join(ROOT, "build/bench") } });
  execFileSync("sh", [join(ROOT, "guests/bench/build.sh")], { stdio: "ignore" });
  const r = spawnSync(process.execPath, [join(ROOT, "scripts/bench.mjs"), "--smoke", "--json", "--no-build",
    "--rows", "native,native-mode,full-mode", "--workloads", "null_syscall,mmap,fork"], { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`bench exited ${r.status}\n${r.stderr.slice(-3000)}`);
  J = JSON.parse(r.stdout);
}, 60_000);

describe.skipIf(!READY)("scripts/bench.mjs --smoke --json", () => {
  it("keeps the peers rows and adds the full-mode ratio", () => {
    expect(J.preset).toBe("smoke");
    expect(Object.keys(J.results)).toEqual(["native", "native-mode", "full-mode"]);
    for (const r of Object.values(J.results) as Record<string, unknown>[]) {
      expect(r).toHaveProperty("wallMips");
      expect(r).toHaveProperty("ratioToNative");
    }
    expect(J.fullRatio).toHaveProperty("wall");
    expect(J.suite.load).toHaveProperty("loadavgStart");
  });

  it("gives every workload in four modes, per operation, with ratios", () => {
    const W = J.suite.workloads;
    expect(Object.keys(W).sort()).toEqual(["fork", "mmap", "null_syscall"]);
    for (const w of Object.values(W) as { modes: Record<string, Record<string, unknown>>; ratios: Record<string, unknown> }[]) {
      expect(Object.keys(w.modes).sort()).toEqual(["full", "hw", "hw-shadow", "native", "para"]);
      for (const m of Object.values(w.modes)) {
        for (const k of ["usPerOp", "instrPerOp", "exitsPerOp", "exitsByCause", "counters"]) expect(m).toHaveProperty(k);
      }
      expect(Object.keys(w.ratios).sort()).toEqual(["fullNative", "hwFull", "hwNative", "hwShadowNative", "nestedShadow", "paraFull", "paraNative"]);
      expect(w.modes.full).toHaveProperty("shadow");
      expect(w.modes.para).toHaveProperty("mmu");
    }
    // getpid: ~85 guest instructions; under full the int 0x80 into the kernel, its four segment reloads and the iret
    // back are done in the CPU against the state the monitor shares (host/full/README.md "Fast paths"): no exit;
    // under para no exit at all either (the trap table sends int 0x80 straight to the ring-1 kernel)
    const ns = W.null_syscall.modes;
    expect(ns.native.instrPerOp).toBeGreaterThan(50);
    expect(ns.native.instrPerOp).toBeLessThan(200);
    expect(ns.full.exitsPerOp).toBe(0);
    expect(ns.full.inCpuByKind).toMatchObject({ int: 1, iret: 1, "mov sreg": 4 });
    expect(ns.para.exitsPerOp).toBe(0);
    // fork: para batches page-table writes into a few hypercalls; full does its page-table writes and shadow fills
    // in the CPU (CTRL_FAST_PT; its pushf/cli/iret… no longer exit either: "Fast paths" — before them full took 176
    // exits per fork, 20x para's hypercalls, then 30): what still exits is the monitor's shadow-PT allocation
    const fk = W.fork.modes.full;
    expect(fk.inCpuByKind["pt write"]).toBeGreaterThan(5);
    expect(fk.exitsByCause["#PF"]).toBeLessThan(fk.inCpuByKind["pt write"] + fk.inCpuByKind["shadow fill"]);
    // hw (nested paging): the same guest instructions as native; no VM exit for a system call, a page-table write,
    // a CR3 load or an INVLPG; every guest TLB miss is a two-dimensional walk (2-level × 2-level), 8 references
    // of which the nested TLB (hw-tlb) saves the 4 of the guest's page-table pages once they are cached, and large
    // EPT pages (hw-ept-large) 1 more: the final address's EPT translation is one directory entry
    for (const w of ["null_syscall", "fork", "mmap"]) {
      const h = W[w].modes.hw;
      expect(h.instrPerOp).toBe(W[w].modes.native.instrPerOp);
      expect(h.exitsPerOp, w).toBe(W[w].modes.native.exitsPerOp);
      expect(Object.keys(h.exitsByCause).every((k) => k === "io-instruction"), w).toBe(true);
      if (w === "null_syscall") { expect(h.nested.walksPerOp, w).toBeLessThan(1); continue; } // (system accesses hit the TLB)
      expect(h.nested.walksPerOp, w).toBeGreaterThan(1);
      expect(h.nested.refsPerMiss, w).toBeGreaterThanOrEqual(3);
      expect(h.nested.refsPerMiss, w).toBeLessThan(4);
      expect(Math.abs(h.nested.refsPerOp - h.nested.refsPerMiss * h.nested.walksPerOp)).toBeLessThan(0.01 * h.nested.refsPerOp); // (both rounded)
    }
    expect(ns.hw.exitsPerOp).toBe(0);
    expect(W.fork.modes.hw.exitsPerOp).toBe(0);
    expect(J.suite.pageTables.fork.hw.exitsPerOp).toBe(0);
    expect(J.suite.pageTables.fork.hw.refsPerMiss).toBeLessThan(4);
    // hw-shadow (--npt off): the same guest instructions; a fork's page-table writes are #PF + MTF exits, its
    // address-space switches CR3-load exits; the CPU's own walks are 1-D over the shadow tables
    const fs = W.fork.modes["hw-shadow"];
    expect(fs.instrPerOp).toBe(W.fork.modes.native.instrPerOp);
    expect(fs.exitsByCause.exception).toBeGreaterThan(1);
    expect(fs.exitsByCause["monitor-trap-flag"]).toBe(fs.shadow.ptWritesStepped);
    expect(fs.exitsByCause["cr-access"]).toBeGreaterThan(0);
    expect(fs.shadow.refsPerMiss).toBe(2);
    expect(ns["hw-shadow"].exitsPerOp).toBe(0); // getpid: no page-table work, no exit
  });

  it("measures the trap round trip: exactly the trapped instructions exit (none of the fast-path ones)", () => {
    const T = J.suite.trap;
    // full: cli/sti and pushf/popf run on the virtual flags in the CPU (host/full/README.md "Fast paths")
    expect(T.cli.modes.full.exitsPerIter).toBe(0);
    expect(T.cli.modes.full.inCpuByKind).toMatchObject({ cli: 1, sti: 1 });
    expect(T.cli.modes.native.exitsPerIter).toBe(0);
    expect(T.in.modes.full.exitsPerIter).toBe(1);
    expect(T.in.modes.native.exitsPerIter).toBe(1);
    expect(T.pushf.modes.full.exitsPerIter).toBe(0);
    expect(T.pushf.modes.full.inCpuByKind).toMatchObject({ pushf: 1, popf: 1 });
    expect(T.vmcall.modes.para.exitsPerIter).toBe(1);
    expect(T.ptemod.modes.full.exitsPerIter).toBe(0); // the protected PT write + the refill on use: in the CPU (CTRL_FAST_PT)
    expect(T.ptemod.modes.full.inCpuByKind).toMatchObject({ "pt write": 1, "shadow fill": 1 });
    expect(T.ptemod.modes.native.exitsPerIter).toBe(0);
    for (const k of ["cli", "in", "pushf", "vmcall", "ptemod"]) {
      for (const f of ["nsPerTrap", "wasmvisorNativeInstrEquiv", "realCpuInstrEquiv"]) expect(T[k].roundTrip).toHaveProperty(f);
    }
  });

  it("compares disk I/O: virtio-blk needs >= 10x fewer exits per MiB than ATA PIO", () => {
    const D = J.suite.disk as { mode: string; device: string; exitsPerMiB: number; MiBps: unknown; requestKiB: number; causesPerMiB: Record<string, number> }[];
    expect(D.map((d) => d.mode)).toEqual(["native", "full", "para", "hw", "hw-shadow"]);
    const by = Object.fromEntries(D.map((d) => [d.mode, d]));
    expect(by.para.device).toBe("virtio-blk");
    expect(by.full.device).toBe("ATA PIO");
    expect(by.para.exitsPerMiB * 10).toBeLessThanOrEqual(by.full.exitsPerMiB);
    expect(by.para.exitsPerMiB * 10).toBeLessThanOrEqual(by.native.exitsPerMiB);
    // hw: the same ATA PIO driver, every port access an I/O-instruction VM exit (unconditional I/O exiting)
    expect(by.hw.device).toBe("ATA PIO");
    expect(by.hw.exitsPerMiB).toBe(by.native.exitsPerMiB);
    expect(Object.keys(by.hw.causesPerMiB)).toEqual(["io-instruction"]);
    for (const d of D) expect(d).toHaveProperty("MiBps");
  });

  it("has the page-table-heavy view for the selected fork and mmap", () => {
    const P = J.suite.pageTables;
    expect(Object.keys(P).sort()).toEqual(["fork", "mmap"]);
    for (const p of Object.values(P) as Record<string, Record<string, unknown>>[]) {
      expect(p.full).toHaveProperty("hiddenFaults");
      expect(p.full).toHaveProperty("ptWrites");
      expect(p.para).toHaveProperty("hypercallsPerOp");
      expect(p.para).toHaveProperty("pteUpdates");
    }
  });
});
