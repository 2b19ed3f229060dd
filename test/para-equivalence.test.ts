// para-equivalence.test.ts — every workload prints the same in native mode (build/guests/workloads), full mode (same
// image, host/full) and para mode (the PV build of the same sources, build/guests/workloads-pv: hypercalls,
// validated direct paging, virtio-blk/console), "time ..." lines excluded, and exits the same way.
import { describe, it, expect, beforeAll } from "vitest";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { runImage, IMPLEMENTED_MODES } from "../host/vm.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const WL = readdirSync(join(ROOT, "fixtures/workloads")).filter((f) => f.endsWith(".args")).map((f) => f.slice(0, -5)).sort();
const det = (out: string) => out.replace(/\r/g, "").split("\n").filter((l) => !l.startsWith("time "));

beforeAll(() => {
  if (WL.some((w) => !existsSync(join(ROOT, `build/guests/workloads-pv/${w}.elf`)))) execFileSync("sh", [join(ROOT, "guests/workloads/build.sh")], { stdio: "inherit" });
});

describe("native, full and para mode print the same", () => {
  for (const w of WL) {
    it(`workload ${w}`, async () => {
      const cmdline = readFileSync(join(ROOT, `fixtures/workloads/${w}.args`), "utf8").trim();
      const run = (mode: string, dir: string) => runImage({
        image: new Uint8Array(readFileSync(join(ROOT, `build/guests/${dir}/${w}.elf`))), mode, memSize: 64 << 20,
        maxInstructions: 400_000_000, cmdline, ...(w === "disk" ? { disk: new Uint8Array(1 << 20) } : {}),
      });
      const native = await run("native", "workloads");
      const para = await run("para", "workloads-pv");
      expect(det(para.console), para.message).toEqual(det(native.console));
      expect(para.exitStatus).toBe(native.exitStatus);
      expect(native.exitStatus).toBe(1);
      // para really is para: no port I/O at all, hypercalls instead
      expect(para.stats.exits["io-in"] + para.stats.exits["io-out"]).toBe(0);
      expect(para.stats.exits.hypercall).toBeGreaterThan(0);
      if (IMPLEMENTED_MODES.includes("full")) {
        const full = await run("full", "workloads");
        expect(det(full.console), full.message).toEqual(det(para.console));
        expect(full.exitStatus).toBe(para.exitStatus);
      }
    }, 120_000);
  }
});
