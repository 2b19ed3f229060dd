// xv6-session.ts — test helper (not a test file): finds ../shared/guests/xv6 and drives xv6's shell the way a
// person does, typing each command at the next `$ ` prompt. Shared by full-xv6 and hw-xv6.
import { expect } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Vm, type VmOptions } from "../host/vm.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** the xv6 kernel and file system directory, or undefined when this machine has none */
export const XV6 = [join(ROOT, "../shared/guests/xv6"), join(ROOT, "../../shared/guests/xv6"), "/work/shared/guests/xv6"].find((d) => existsSync(join(d, "kernel.elf")));

export interface Xv6Session { console: string; instructions: number; ms: number; cpuMs: number; vm: Vm }

/** Boots xv6 (512 MiB, fs.img on the IDE slave) with `opts` and types each command at the next `$ ` prompt;
 *  returns the whole console, the instructions and the time taken. */
export function xv6Session(opts: VmOptions, cmds: string[], perCommand = 200_000_000): Xv6Session {
  const vm = new Vm({ ...opts, memSize: 512 << 20, disk2: new Uint8Array(readFileSync(join(XV6!, "fs.img"))) });
  vm.loadMultiboot(new Uint8Array(readFileSync(join(XV6!, "kernel.elf"))));
  const uart = (vm.platform as unknown as { devices: { uart: { stats: { transmitted: number } } } }).devices.uart;
  const t0 = performance.now(), c0 = process.cpuUsage();
  let prompts = 0;
  for (const cmd of [...cmds, null]) {
    // run until the next prompt: pause after every byte the guest sends (run() flushes the console when it returns)
    for (;;) {
      const tx = uart.stats.transmitted;
      const r = vm.run({ maxInstructions: perCommand, pauseWhen: () => uart.stats.transmitted !== tx });
      expect(r.stopReason, `${opts.mode ?? "native"}: ${r.message}\n${vm.console}`).toBe("paused");
      if (vm.console.endsWith("$ ") && vm.console.split("$ ").length - 1 > prompts) break;
    }
    prompts = vm.console.split("$ ").length - 1;
    if (cmd !== null) vm.consoleIn.write(cmd + "\n");
  }
  const c = process.cpuUsage(c0);
  return { console: vm.console, instructions: vm.stats.instructions, ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, vm };
}
