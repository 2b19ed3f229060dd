// full-xv6.test.ts — a real, unmodified OS nobody on the project wrote (MIT's xv6, shared/guests/xv6) in full mode:
// the "mp" platform (BIOS data area, MP table, local and I/O APIC, IDE slave) as in native mode, the APICs reached
// through MMIO mappings of the shadow tables. Each command is typed at the shell prompt, as a person would, and
// the whole console must be identical to native mode's. xv6's `usertests` (about 10^9 instructions) runs on demand:
// WASMVISOR_XV6_USERTESTS=1, in both modes, against QEMU's reference output.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { XV6, xv6Session, type Xv6Session } from "./xv6-session.ts";

const session = (mode: "native" | "full", cmds: string[], perCommand?: number): Xv6Session => xv6Session({ mode }, cmds, perCommand);

describe.skipIf(!XV6)("xv6 in full mode", () => {
  it("boots to the shell and runs commands with the console identical to native mode", () => {
    const cmds = ["echo hi full", "ls", "cat README"]; // typed at a keyboard's pace: most of the time is idle spinning
    const native = session("native", cmds), full = session("full", cmds);
    expect(native.console).toContain("init: starting sh\n$ ");
    expect(native.console).toContain("$ echo hi full\nhi full\n");
    expect(native.console).toContain("README         2 2 2286\n");
    expect(native.console).toContain("xv6 is a re-implementation of Dennis Ritchie's and Ken Thompson's Unix");
    expect(full.console).toBe(native.console);
    const st = full.vm.stats.devices?.() as Record<string, unknown> & { full: { exitsByCause: Record<string, number> }; lapic: Record<string, number> };
    console.log(`xv6 commands: native ${native.instructions} insns ${native.ms.toFixed(0)} ms, full ${full.instructions} insns ${full.ms.toFixed(0)} ms`);
    console.log(JSON.stringify(st.full.exitsByCause), "in the CPU:", JSON.stringify((st.full as { inCpu?: unknown }).inCpu));
  }, 240_000);
});

// Each mode against QEMU's reference output (so full = native), in its own test so they can run in parallel:
//   WASMVISOR_XV6_USERTESTS=1 npx vitest run test/full-xv6.test.ts -t "usertests (native|full)"
describe.skipIf(!XV6 || !process.env.WASMVISOR_XV6_USERTESTS)("xv6 usertests (WASMVISOR_XV6_USERTESTS=1)", () => {
  const want = XV6 ? readFileSync(join(XV6, "usertests.qemu.txt"), "utf8") : "";
  for (const mode of ["native", "full"] as const) {
    it(`usertests ${mode}: ALL TESTS PASSED, the output identical to QEMU's`, () => {
      const s = session(mode, ["usertests"], 50_000_000_000);
      const out = s.console.slice(s.console.indexOf("$ usertests\n") + 2); // from the echoed command to the next prompt
      const fs = mode === "full" ? (s.vm.stats.devices?.() as { full: { exitsByCause: Record<string, number>; inCpu: Record<string, number> } }).full : null;
      const full = fs ? { exits: fs.exitsByCause, inCpu: fs.inCpu } : {};
      // the same output in both modes: the same digest (pids included)
      const digest = createHash("sha256").update(out).digest("hex").slice(0, 16);
      console.log(`usertests ${mode}: output sha256 ${digest}, ${s.instructions} instructions, ${(s.cpuMs / 1000).toFixed(1)} s CPU, ${(s.ms / 1000).toFixed(1)} s wall ${JSON.stringify(full)}`);
      expect(out).toContain("ALL TESTS PASSED");
      // QEMU's reference run was not the first program of its boot: its pids differ by a constant
      const lines = (t: string) => t.trimEnd().split("\n").map((l) => l.replace(/^pid \d+ /, "pid N "));
      expect(lines(out)).toEqual(lines(want));
    }, 7_200_000);
  }
});
