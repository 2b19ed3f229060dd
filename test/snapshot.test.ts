// snapshot.test.ts — vm.snapshot() / Vm.restore(): every workload in every mode, snapshotted at an exact
// instruction count and continued in a fresh Vm, prints, exits and ends (registers, instruction count) exactly as
// an uninterrupted run; several points in one workload per mode; broken snapshots are refused in one line.
// (The fresh-process round trip through the CLI is test/snapshot-cli.test.ts.)
import { describe, it, expect, beforeAll } from "vitest";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Vm, SnapshotError, SNAPSHOT_VERSION } from "../host/vm.ts";
import { SEG_NAMES } from "../host/machine.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const WL = readdirSync(join(ROOT, "fixtures/workloads")).filter((f) => f.endsWith(".args")).map((f) => f.slice(0, -5)).sort();
const MODES = ["native", "full", "para"] as const;

beforeAll(() => {
  if (WL.some((w) => !existsSync(join(ROOT, `build/guests/workloads-pv/${w}.elf`)))) execFileSync("sh", [join(ROOT, "guests/workloads/build.sh")], { stdio: "inherit" });
});

const image = (w: string, mode: string) => new Uint8Array(readFileSync(join(ROOT, `build/guests/${mode === "para" ? "workloads-pv" : "workloads"}/${w}.elf`)));
const cmdline = (w: string) => readFileSync(join(ROOT, `fixtures/workloads/${w}.args`), "utf8").trim();
const boot = (w: string, mode: string) => {
  const vm = new Vm({ mode, memSize: 64 << 20, ...(w === "disk" ? { disk: new Uint8Array(1 << 20) } : {}) });
  vm.loadMultiboot(image(w, mode), { cmdline: cmdline(w) });
  return vm;
};
/** what an end state is compared on: every register, segment cache, control register and the count */
const endState = (vm: Vm) => ({
  regs: (["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags"] as const).map((r) => vm.machine.getReg(r)),
  segs: SEG_NAMES.map((s) => vm.machine.getSegment(s)),
  crs: (["cr0", "cr2", "cr3", "cr4"] as const).map((c) => vm.machine.getCr(c)),
  instructions: vm.machine.instructions,
  virtualNs: vm.stats.virtualNs,
});

const reference = new Map<string, { console: string; exitStatus: number; message: string; end: ReturnType<typeof endState> }>();
function uninterrupted(w: string, mode: string) {
  const key = `${w}/${mode}`;
  if (!reference.has(key)) {
    const vm = boot(w, mode);
    const r = vm.run({ maxInstructions: 400_000_000 });
    reference.set(key, { console: vm.console, exitStatus: r.exitStatus, message: r.message, end: endState(vm) });
  }
  return reference.get(key)!;
}

/** run to exactly n, snapshot, continue in a fresh Vm; returns what the two halves did together */
function split(w: string, mode: string, n: number) {
  const a = boot(w, mode);
  const r1 = a.run({ stopAt: n });
  expect(r1.stopReason).toBe("snapshot");
  expect(a.machine.instructions).toBe(n);
  const snap = a.snapshot();
  const b = Vm.restore(snap);
  expect(b.machine.instructions).toBe(n);
  const r2 = b.run({ maxInstructions: 400_000_000 });
  return { console: a.console + b.console, exitStatus: r2.exitStatus, message: r2.message, end: endState(b), size: snap.length };
}

describe("snapshot and restore: every workload in every mode", () => {
  for (const mode of MODES) {
    for (const w of WL) {
      it(`${w} in ${mode} mode, snapshot at 40%`, () => {
        const ref = uninterrupted(w, mode);
        expect(ref.exitStatus, ref.message).toBe(1);
        const s = split(w, mode, Math.floor(ref.end.instructions * 0.4));
        expect(s.console).toBe(ref.console);
        expect(s.exitStatus).toBe(ref.exitStatus);
        expect(s.message).toBe(ref.message);
        expect(s.end).toEqual(ref.end);
      }, 120_000);
    }
  }
});

describe("snapshot and restore at several points", () => {
  for (const mode of MODES) {
    it(`fork in ${mode} mode at 8 points, from boot to the last instructions`, () => {
      const ref = uninterrupted("fork", mode);
      const total = ref.end.instructions;
      for (const n of [1, 1000, 12_345, Math.floor(total * 0.25), Math.floor(total * 0.5) + 7, Math.floor(total * 0.75) + 3, total - 1000, total - 1]) {
        const s = split("fork", mode, n);
        expect(s.console, `at ${n}`).toBe(ref.console);
        expect(s.end, `at ${n}`).toEqual(ref.end);
        expect(s.exitStatus).toBe(ref.exitStatus);
      }
    }, 240_000);
  }
});

describe("snapshot size and speed", () => {
  /** best of 5 save and restore times of a 64 MiB compute guest stopped at `at`, the snapshot's size, and a fresh Vm */
  const measure = (at: number) => {
    const vm = boot("compute", "native");
    vm.run({ stopAt: at });
    const best = { save: Infinity, restore: Infinity, freshVm: Infinity };
    let snap = vm.snapshot();
    for (let i = 0; i < 5; i++) {
      let t = performance.now();
      snap = vm.snapshot();
      best.save = Math.min(best.save, performance.now() - t);
      t = performance.now();
      Vm.restore(snap);
      best.restore = Math.min(best.restore, performance.now() - t);
      t = performance.now();
      new Vm({ memSize: 64 << 20 });
      best.freshVm = Math.min(best.freshVm, performance.now() - t);
    }
    console.log(`64 MiB guest at ${at} instructions: snapshot ${snap.length} bytes; best of 5: save ${best.save.toFixed(1)} ms, restore ${best.restore.toFixed(1)} ms (a fresh Vm alone: ${best.freshVm.toFixed(1)} ms)`);
    return snap.length;
  };
  it("a 64 MiB guest: the snapshot follows the RAM written, save and restore are measured", () => {
    // early in boot the kernel has written little: the snapshot is a few KB
    const early = measure(20_000);
    expect(early).toBeLessThan(64 << 10);
    // later it has junk-filled every free page (kfree): all 64 MiB written, stored by page kind, not whole
    const late = measure(3_000_000);
    expect(late).toBeLessThan(2 << 20);
  }, 120_000);
});

describe("broken snapshots are refused in one line", () => {
  let good: Buffer;
  beforeAll(() => {
    const vm = boot("null_syscall", "native");
    vm.run({ stopAt: 100_000 });
    good = vm.snapshot();
  });
  const refuse = (buf: Uint8Array, re: RegExp) => {
    let err: unknown;
    try { Vm.restore(buf); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(SnapshotError);
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message).not.toMatch(/\n/);
  };
  it("a good one restores", () => {
    expect(Vm.restore(good).machine.instructions).toBe(100_000);
  });
  it("corrupted: any flipped byte of the payload fails the checksum", () => {
    for (const at of [56, 100, Math.floor(good.length / 2), good.length - 1]) {
      const bad = Buffer.from(good);
      bad[at] ^= 0x40;
      refuse(bad, /corrupted \(checksum mismatch\)/);
    }
  });
  it("truncated, at any length", () => {
    for (const len of [0, 5, 40, 56, 57, good.length - 1]) refuse(good.subarray(0, len), len === 0 || len >= 8 ? /truncated|bad magic/ : /truncated/);
    refuse(good.subarray(0, good.length - 1), /truncated \(\d+ of \d+ bytes\)/);
  });
  it("another format version or CPU ABI", () => {
    const v = Buffer.from(good);
    v.writeUInt32LE(SNAPSHOT_VERSION + 1, 8);
    refuse(v, new RegExp(`format version ${SNAPSHOT_VERSION + 1}, this wasmvisor reads version ${SNAPSHOT_VERSION}`));
    const a = Buffer.from(good);
    a.writeUInt32LE(a.readUInt32LE(12) + 1, 12);
    refuse(a, /CPU ABI version/);
  });
  it("not a snapshot at all", () => {
    refuse(readFileSync(join(ROOT, "build/guests/workloads/compute.elf")), /not a wasmvisor snapshot/);
  });
});
