// snapshot-xv6.test.ts — a real OS nobody on the project wrote (MIT's xv6, shared/guests/xv6) snapshotted at several
// points of its boot and of a shell command typed on its serial console, and continued in a fresh Vm: the console,
// registers and instruction count end exactly as in the uninterrupted run. Native mode here; full mode: one
// snapshot point (it runs xv6 too, test/full-xv6.test.ts); not para mode (xv6 is not a PV kernel).
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Vm } from "../host/vm.ts";
import { XV6 } from "./xv6-session.ts";

const END = 25_000_000; // boot (~12M) and `echo hi-there` at the prompt are done by 20M; xv6 idles without HLT

function boot(mode: "native" | "full" = "native"): Vm {
  const vm = new Vm({ mode, memSize: 512 << 20, disk2: new Uint8Array(readFileSync(join(XV6!, "fs.img"))), stdin: "echo hi-there\n" }); // typed ahead of the first prompt: none of it is lost
  vm.loadMultiboot(new Uint8Array(readFileSync(join(XV6!, "kernel.elf"))));
  return vm;
}
const regs = (vm: Vm) => (["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags"] as const).map((r) => vm.machine.getReg(r));

describe.skipIf(!XV6)("xv6: snapshot and restore at several points", () => {
  it("boot, the shell prompt and a command survive a snapshot anywhere", () => {
    const ref = boot();
    expect(ref.run({ maxInstructions: END }).stopReason).toBe("max-instructions");
    expect(ref.console).toMatch(/init: starting sh\n\$ hi-there\n\$ $/);
    const want = { console: ref.console, regs: regs(ref), n: ref.machine.instructions };
    for (const at of [1_500_000, 9_000_000, 17_000_000]) {
      const a = boot();
      expect(a.run({ stopAt: at }).stopReason).toBe("snapshot");
      const snap = a.snapshot();
      const before = a.console;
      const b = Vm.restore(snap);
      b.run({ maxInstructions: END - at });
      expect(before + b.console, `at ${at}`).toBe(want.console);
      expect(regs(b), `at ${at}`).toEqual(want.regs);
      expect(b.machine.instructions).toBe(want.n);
      expect(snap.length).toBeLessThan(4 << 20); // 512 MiB of RAM, all written by kfree's junk fill
    }
  }, 300_000);

  it("full mode: a snapshot mid-boot (shadow tables, APIC and I/O APIC state) continues exactly", () => {
    // boot to the shell prompt (~12M); the VM that took the snapshot goes on as the reference
    const endFull = 14_000_000, at = 9_000_000;
    const a = boot("full");
    expect(a.run({ stopAt: at }).stopReason).toBe("snapshot");
    const before = a.console;
    const b = Vm.restore(a.snapshot());
    // maxInstructions counts the monitor's emulated instructions too
    const left = endFull - (a.stats.instructions + a.mode.emulatedInstructions);
    expect(a.run({ maxInstructions: left }).stopReason).toBe("max-instructions");
    expect(a.console).toContain("init: starting sh\n");
    b.run({ maxInstructions: left });
    expect(before + b.console).toBe(a.console);
    expect(regs(b)).toEqual(regs(a));
    expect(b.machine.instructions).toBe(a.machine.instructions);
  }, 300_000);
});
