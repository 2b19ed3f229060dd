// system-guests.test.ts -- the CPU test guests under wasmvisor, compared line by
// line with a reference that is not ours: QEMU's serial output
// (fixtures/qemu/<name>.out, refreshed by `npm run test:qemu`) and, for the cases
// where QEMU is known to differ from the Intel SDM, the SDM-derived expected
// output in guests/tests/expected/<name>.out.
import { describe, it, expect, beforeAll } from "vitest";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runImage } from "../host/vm.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sources = [join(root, "fixtures/qemu"), join(root, "guests/tests/expected")];
const cases = sources.flatMap((dir) =>
  readdirSync(dir).filter((f) => f.endsWith(".out")).sort()
    .map((f) => ({ name: f.slice(0, -4), fixture: join(dir, f) })));
const elf = (name: string) => join(root, "build/guests/tests", `${name}.elf`);

beforeAll(() => {
  if (cases.some((c) => !existsSync(elf(c.name))))
    execFileSync("sh", [join(root, "guests/tests/build.sh")], { stdio: "inherit" });
});

describe("CPU test guests match the reference", () => {
  for (const c of cases) {
    it(`${c.name} (${c.fixture.includes("fixtures/qemu") ? "QEMU" : "SDM"})`, async () => {
      const want = readFileSync(c.fixture, "utf8");
      const r = await runImage({ image: new Uint8Array(readFileSync(elf(c.name))), mode: "native", memSize: 64 << 20, maxInstructions: 50_000_000 });
      // Compare as lines so a failure names the first check that differs.
      expect(r.console.split("\n"), `${r.stopReason}: ${r.message}`).toEqual(want.split("\n"));
    });
  }
});
