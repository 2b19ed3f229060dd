// hw-xv6.test.ts — xv6's `usertests` (about 10^9 instructions: fork, exec, sbrk, pipes, the file system…) in hw
// mode, with nested paging and with `--npt off` (shadow page tables), against QEMU's reference output; on demand:
//   WASMVISOR_XV6_USERTESTS=1 npx vitest run test/hw-xv6.test.ts
// (the boot and a command in hw mode, both paging configurations, are in test/hw-equivalence.test.ts).
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { XV6, xv6Session, type Xv6Session } from "./xv6-session.ts";

const session = (npt: boolean, cmds: string[], perCommand: number): Xv6Session => xv6Session({ mode: "hw", npt }, cmds, perCommand);

describe.skipIf(!XV6 || !process.env.WASMVISOR_XV6_USERTESTS)("xv6 usertests in hw mode (WASMVISOR_XV6_USERTESTS=1)", () => {
  const want = XV6 ? readFileSync(join(XV6, "usertests.qemu.txt"), "utf8") : "";
  for (const npt of [true, false]) {
    it(`usertests, --npt ${npt ? "on" : "off"}: ALL TESTS PASSED, the output identical to QEMU's`, () => {
      const s = session(npt, ["usertests"], 50_000_000_000);
      const out = s.console.slice(s.console.indexOf("$ usertests\n") + 2);
      const hw = (s.vm.mode as unknown as { stats(): Record<string, unknown> }).stats();
      const digest = createHash("sha256").update(out).digest("hex").slice(0, 16);
      console.log(`usertests hw --npt ${npt ? "on" : "off"}: output sha256 ${digest}, ${s.instructions} instructions, ${(s.cpuMs / 1000).toFixed(1)} s CPU, ${(s.ms / 1000).toFixed(1)} s wall, VM exits ${hw.vmExits} ${JSON.stringify(hw.exitsByReason)}`);
      expect(out).toContain("ALL TESTS PASSED");
      const lines = (t: string) => t.trimEnd().split("\n").map((l) => l.replace(/^pid \d+ /, "pid N "));
      expect(lines(out)).toEqual(lines(want));
    }, 7_200_000);
  }
});
