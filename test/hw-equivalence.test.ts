// hw-equivalence.test.ts — every workload (fixtures/workloads/*.args), every CPU system-test guest (guests/tests)
// and the peers guest run in `native` and in `hw` mode (host/hw: the kernel at ring 0 in guest mode, nested paging,
// device memory behind EPT violations, interrupts by event injection) and must print the same output — time lines
// included: the virtual clock and the guest's TSC match instruction for instruction — and exit the same way.
import { describe, it, expect, beforeAll } from "vitest";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { runImage } from "../host/vm.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const WL = readdirSync(join(ROOT, "fixtures/workloads")).filter((f) => f.endsWith(".args")).map((f) => f.slice(0, -5)).sort();
const TESTS = ["exceptions", "protection", "paging", "sdm"];
const lines = (out: string) => out.replace(/\r/g, "").split("\n");

beforeAll(() => {
  if (WL.some((w) => !existsSync(join(ROOT, `build/guests/workloads/${w}.elf`)))) execFileSync("sh", [join(ROOT, "guests/workloads/build.sh")], { stdio: "inherit" });
  if (TESTS.some((t) => !existsSync(join(ROOT, `build/guests/tests/${t}.elf`)))) execFileSync("sh", [join(ROOT, "guests/tests/build.sh")], { stdio: "inherit" });
  if (!existsSync(join(ROOT, "build/guests/peers/guest-1.elf"))) execFileSync("sh", [join(ROOT, "guests/peers/build.sh"), "1"], { stdio: "inherit" });
});

async function both(path: string, cmdline = "", disk = false) {
  const image = new Uint8Array(readFileSync(path));
  const run = (mode: string) => runImage({ image, mode, memSize: 64 << 20, maxInstructions: 400_000_000, cmdline, ...(disk ? { disk: new Uint8Array(1 << 20) } : {}) });
  return { native: await run("native"), hw: await run("hw") };
}

function same(native: Awaited<ReturnType<typeof runImage>>, hw: Awaited<ReturnType<typeof runImage>>) {
  expect(lines(hw.console), hw.message).toEqual(lines(native.console));
  expect(hw.exitStatus).toBe(native.exitStatus);
  expect(native.exitStatus).toBe(1);
  const s = (hw.stats.devices as any).hw;
  expect(s.vmExits).toBeGreaterThan(0);
  expect(s.nestedWalks).toBeGreaterThan(0);
  return s;
}

describe("native and hw mode print the same", () => {
  it("peers guest (guests/peers)", async () => {
    const { native, hw } = await both(join(ROOT, "build/guests/peers/guest-1.elf"));
    same(native, hw);
  });
  for (const w of WL) {
    it(`workload ${w}`, async () => {
      const cmdline = readFileSync(join(ROOT, `fixtures/workloads/${w}.args`), "utf8").trim();
      const { native, hw } = await both(join(ROOT, `build/guests/workloads/${w}.elf`), cmdline, w === "disk");
      const s = same(native, hw);
      // paging is on in every workload: guest TLB misses walk both dimensions (2 EPT refs per guest entry + final)
      expect(s.walkRefsPerMiss).toBeGreaterThan(2);
      expect(s.walkRefsPerMiss).toBeLessThanOrEqual(8);
      expect(s.exitsByReason["io-instruction"]).toBeGreaterThan(0);
    });
  }
  for (const t of TESTS) {
    it(`system test ${t}`, async () => {
      const { native, hw } = await both(join(ROOT, `build/guests/tests/${t}.elf`));
      same(native, hw);
    });
  }
});
