// harness.ts — runs cases on the wasm CPU and compares them with the real CPU's results.
// One Machine is reused across cases (that is what makes 200k cases fast). After a mismatch the case is
// re-run after a CPU reset (run-ours.ts OurCpu.reset): if it passes then, the report says so (state left
// behind by the previous case matters — e.g. a stale decode/fetch cache), and the reset keeps one such
// bug from cascading into every later case.
import type { Case } from "./gen.ts";
import type { OracleResult } from "./oracle.ts";
import { OurCpu } from "./run-ours.ts";
import type { MachineOptions } from "../../host/machine.ts";
import { expected, compare, Stats } from "./compare.ts";

export function checkCases(cases: Case[], results: OracleResult[], extra: Partial<MachineOptions> = {}): Stats {
  const ours = new OurCpu(extra);
  const st = new Stats();
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i];
    const exp = expected(c, results[i]);
    const got = ours.run(c);
    const v = compare(c, exp, got);
    if (!v.ok && got.kind !== "host-error") {
      ours.reset();
      const v2 = compare(c, exp, ours.run(c));
      if (v2.ok && i > 0) {
        const p = cases[i - 1];
        v.diffs.push(`(passes after a CPU reset: depends on state left by the previous case: ${p.form}: ` +
          `${Buffer.from(p.code).toString("hex")} ${p.desc} at +${p.codeOff.toString(16)})`);
      }
    }
    st.add(c, v, exp, got);
  }
  return st;
}
