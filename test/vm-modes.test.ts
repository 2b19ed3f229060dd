// vm-modes.test.ts — one Vm, one run loop, every mode: the same console API (Node streams), the same stats shape,
// the same meaning of --mem, and a run that can be cut anywhere and continued.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Vm, runImage, VmConfigError } from "../host/vm.ts";
import { FullVm } from "../host/full/fullvm.ts";
import { ParaVm } from "../host/para/vm.ts";
import { SH, VMM_SHARED } from "../host/para/abi.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const MODES = ["native", "full", "para"] as const;
const image = (w: string, mode: string) => new Uint8Array(readFileSync(join(ROOT, `build/guests/${mode === "para" ? "workloads-pv" : "workloads"}/${w}.elf`)));

describe("one Vm for every mode", () => {
  for (const mode of MODES) {
    it(`${mode}: console as Node streams, stats with the mode's counters under its name`, async () => {
      const vm = new Vm({ mode, memSize: 32 << 20, captureConsole: false });
      let streamed = "";
      vm.consoleOut.on("data", (c: Buffer) => { streamed += c.toString(); });
      vm.loadMultiboot(image("null_syscall", mode), { cmdline: "iters=100" });
      const r = vm.run({ maxInstructions: 100_000_000 });
      await new Promise((res) => setImmediate(res));
      expect(r.exitStatus).toBe(1);
      expect(vm.console).toBe(""); // captureConsole: false
      expect(streamed).toMatch(/null_syscall/);
      const s = vm.stats.toJSON();
      expect(s.mode).toBe(mode);
      expect(s.devices).toHaveProperty(mode);
      expect(Object.keys(s).sort()).toEqual(["devices", "exits", "exitsTotal", "haltedNs", "instructions", "interruptsByVector", "interruptsDelivered", "mips", "mmioPages", "mode", "ports", "stopReason", "virtualNs", "wallMs"]);
      expect(vm.consoleIn.writable).toBe(true);
    }, 60_000);
  }

  it("--mem is the guest's RAM in every mode (para: the shared page reports it as the guest's top)", () => {
    const para = new ParaVm({ memSize: 32 << 20 });
    para.loadMultiboot(image("null_syscall", "para"), { cmdline: "iters=1" });
    expect(para.guestTop).toBe(32 << 20);
    expect(para.machine.read32(para.vmmBase + VMM_SHARED + SH.GUEST_TOP)).toBe(32 << 20);
    expect(para.vmmBase).toBeGreaterThanOrEqual(32 << 20);
    const full = new FullVm({ memSize: 32 << 20 });
    expect(full.guestRam).toBe(32 << 20);
    expect(new Vm({ memSize: 32 << 20 }).machine.ramSize).toBe(32 << 20);
  });

  it("the run loop can be cut at any instruction count and continued: same output, same count", async () => {
    for (const mode of MODES) {
      const whole = await runImage({ image: image("fork", mode), mode, cmdline: "iters=3" });
      const vm = new Vm({ mode });
      vm.loadMultiboot(image("fork", mode), { cmdline: "iters=3" });
      let r;
      for (let n = 77_777; ; n += 77_777) {
        r = vm.run({ stopAt: n });
        if (r.stopReason !== "snapshot") break;
        expect(vm.machine.instructions).toBe(n);
      }
      expect(vm.console).toBe(whole.console);
      expect(r.exitStatus).toBe(whole.exitStatus);
      expect(vm.machine.instructions).toBe(whole.stats.instructions);
    }
  }, 120_000);

  it("refuses what a mode cannot do, in one line", () => {
    expect(() => new Vm({ mode: "full", platformKind: "smp" as "mp" })).toThrow(/unknown platform 'smp'/);
    // full mode builds both PC platforms, "mp" by default, as native
    expect(new Vm({ mode: "full" }).platform.kind).toBe("mp");
    expect(new Vm({ mode: "full", platformKind: "pc" }).platform.kind).toBe("pc");
    expect(() => new Vm({ mode: "para", platformKind: "pc" })).toThrow(/--platform pc is not available in para mode/);
    expect(() => new Vm({ mode: "para", rtcStart: 0 })).toThrow(/--rtc is not available in para mode/);
    expect(() => new Vm({ mode: "hw", memSize: 3840 * 2 ** 20 })).toThrow(/--mem 3840M is too large for --mode hw/);
  });

  it("para mode takes a second disk as a second virtio-blk", () => {
    const vm = new ParaVm({ disk: new Uint8Array(1 << 20), disk2: new Uint8Array(2 << 20) });
    expect(vm.virtio.map((d) => d.device.deviceId)).toEqual([3, 2, 2]);
    expect(vm.platform.disks.map((d) => d!.sectorCount)).toEqual([2048, 4096]);
  });
});
