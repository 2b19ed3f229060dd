// cpu-fuzz.test.ts — random bytes as code on the wasm CPU: no host exception, no hang (every run is
// bounded by its instruction budget), and no write to wasm memory outside guest RAM / the state block /
// the TLB / page info. Script mode for longer runs: node scripts/diff.mjs fuzz --programs 25000 --seed N
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./diff/oracle.ts";
import { fuzz } from "./diff/fuzz.ts";

const haveCpu = existsSync(join(ROOT, "build/cpu.wasm"));
if (!haveCpu) console.log("cpu-fuzz: skipped: build/cpu.wasm not built (npm run build:wasm)");
const PROGRAMS = Number(process.env.FUZZ_PROGRAMS ?? 20000);
const SEED = Number(process.env.FUZZ_SEED ?? 777);

describe.skipIf(!haveCpu)("random-byte fuzz of the wasm CPU", () => {
  it(`${PROGRAMS} random programs (seed ${SEED}): no host exception, no hang, no stray host-memory write`, () => {
    const r = fuzz({ programs: PROGRAMS, programLen: 64, seed: SEED });
    console.log(`cpu-fuzz: ${r.programs} programs, ${r.instructions} instructions, ${r.exits} exits in ${r.ms} ms ${JSON.stringify(r.exitKinds)}`);
    expect(r.problems.slice(0, 20)).toEqual([]);
    expect(r.instructions).toBeGreaterThan(0);
  });
});
