// hw-xv6.test.ts — xv6's `usertests` (about 10^9 instructions: fork, exec, sbrk, pipes, the file system…) in hw
// mode, with nested paging and with `--npt off` (shadow page tables), against QEMU's reference output; on demand:
//   WASMVISOR_XV6_USERTESTS=1 npx vitest run test/hw-xv6.test.ts
// (the boot and a command in hw mode, both paging configurations, are in test/hw-equivalence.test.ts).
import { describe, it, expect } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";
import { Vm } from "../host/vm.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const XV6 = [join(ROOT, "../shared/guests/xv6"), join(ROOT, "../../shared/guests/xv6"), "/work/shared/guests/xv6"].find((d) => existsSync(join(d, "kernel.elf")));

/** Boots xv6 in hw mode and types each command at the next `$ ` prompt; returns the whole console. */
function session(npt: boolean, cmds: string[], perCommand: number) {
  const vm = new Vm({ mode: "hw", npt, memSize: 512 << 20, disk2: new Uint8Array(readFileSync(join(XV6!, "fs.img"))) });
  vm.loadMultiboot(new Uint8Array(readFileSync(join(XV6!, "kernel.elf"))));
  const uart = (vm.platform as unknown as { devices: { uart: { stats: { transmitted: number } } } }).devices.uart;
  const t0 = performance.now(), c0 = process.cpuUsage();
  let prompts = 0;
  for (const cmd of [...cmds, null]) {
    for (;;) {
      const tx = uart.stats.transmitted;
      const r = vm.run({ maxInstructions: perCommand, pauseWhen: () => uart.stats.transmitted !== tx });
      expect(r.stopReason, `${r.message}\n${vm.console}`).toBe("paused");
      if (vm.console.endsWith("$ ") && vm.console.split("$ ").length - 1 > prompts) break;
    }
    prompts = vm.console.split("$ ").length - 1;
    if (cmd !== null) vm.consoleIn.write(cmd + "\n");
  }
  const c = process.cpuUsage(c0);
  return { console: vm.console, instructions: vm.stats.instructions, ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, vm };
}

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
