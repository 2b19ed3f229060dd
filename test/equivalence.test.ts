// equivalence.test.ts — every workload (guests/workloads, fixtures/workloads/*.args) and every CPU system-test guest
// (guests/tests) runs in `native` and in `full` mode (host/full: deprivileged kernel, trap-and-emulate, shadow
// page tables) and must print the same output (lines starting with "time " excluded) and exit the same way.
import { describe, it, expect, beforeAll } from "vitest";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { runImage } from "../host/vm.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const WL = readdirSync(join(ROOT, "fixtures/workloads")).filter((f) => f.endsWith(".args")).map((f) => f.slice(0, -5)).sort();
const TESTS = ["exceptions", "protection", "paging", "sdm"];
const det = (out: string) => out.replace(/\r/g, "").split("\n").filter((l) => !l.startsWith("time "));

beforeAll(() => {
  if (WL.some((w) => !existsSync(join(ROOT, `build/guests/workloads/${w}.elf`)))) execFileSync("sh", [join(ROOT, "guests/workloads/build.sh")], { stdio: "inherit" });
  if (TESTS.some((t) => !existsSync(join(ROOT, `build/guests/tests/${t}.elf`)))) execFileSync("sh", [join(ROOT, "guests/tests/build.sh")], { stdio: "inherit" });
  if (!existsSync(join(ROOT, "build/guests/peers/guest-1.elf"))) execFileSync("sh", [join(ROOT, "guests/peers/build.sh"), "1"], { stdio: "inherit" });
});

async function both(path: string, cmdline = "", disk = false) {
  const image = new Uint8Array(readFileSync(path));
  const run = (mode: string) => runImage({ image, mode, memSize: 64 << 20, maxInstructions: 400_000_000, cmdline, ...(disk ? { disk: new Uint8Array(1 << 20) } : {}) });
  const native = await run("native");
  const full = await run("full");
  return { native, full };
}

describe("native and full mode print the same", () => {
  it("peers guest (guests/peers)", async () => {
    const { native, full } = await both(join(ROOT, "build/guests/peers/guest-1.elf"));
    expect(det(full.console), full.message).toEqual(det(native.console));
    expect(full.exitStatus).toBe(native.exitStatus);
    expect(native.exitStatus).toBe(1);
  });
  for (const w of WL) {
    it(`workload ${w}`, async () => {
      const cmdline = readFileSync(join(ROOT, `fixtures/workloads/${w}.args`), "utf8").trim();
      const { native, full } = await both(join(ROOT, `build/guests/workloads/${w}.elf`), cmdline, w === "disk");
      expect(det(full.console), full.message).toEqual(det(native.console));
      expect(full.exitStatus).toBe(native.exitStatus);
      expect(native.exitStatus).toBe(1);
      const fs = (full.stats.devices as any).full;
      expect(fs.emulatedInstructions).toBeGreaterThan(0);
      expect(fs.shadow.hiddenFaults).toBeGreaterThan(0);
    });
  }
  for (const t of TESTS) {
    it(`system test ${t}`, async () => {
      const { native, full } = await both(join(ROOT, `build/guests/tests/${t}.elf`));
      expect(det(full.console), full.message).toEqual(det(native.console));
      expect(full.exitStatus).toBe(native.exitStatus);
      expect(native.exitStatus).toBe(1);
    });
  }
});
