// hw-equivalence.test.ts — every workload (fixtures/workloads/*.args), every CPU system-test guest (guests/tests)
// and the peers guest run in `native` and in `hw` mode (host/hw: the kernel at ring 0 in guest mode, nested paging,
// device memory behind EPT violations, interrupts by event injection) and must print the same output — time lines
// included: the virtual clock and the guest's TSC match instruction for instruction — and exit the same way.
// Each also runs in hw mode with `npt: false` (`--npt off`: shadow page tables, CR3/INVLPG/#PF exits).
import { describe, it, expect, beforeAll } from "vitest";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { runImage, Vm } from "../host/vm.ts";
import { XV6 } from "./xv6-session.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const WL = readdirSync(join(ROOT, "fixtures/workloads")).filter((f) => f.endsWith(".args")).map((f) => f.slice(0, -5)).sort();
const TESTS = ["exceptions", "protection", "paging", "sdm"];
const lines = (out: string) => out.replace(/\r/g, "").split("\n");

beforeAll(() => {
  if (WL.some((w) => !existsSync(join(ROOT, `build/guests/workloads/${w}.elf`)))) execFileSync("sh", [join(ROOT, "guests/workloads/build.sh")], { stdio: "inherit" });
  if (TESTS.some((t) => !existsSync(join(ROOT, `build/guests/tests/${t}.elf`)))) execFileSync("sh", [join(ROOT, "guests/tests/build.sh")], { stdio: "inherit" });
  if (!existsSync(join(ROOT, "build/guests/peers/guest-1.elf"))) execFileSync("sh", [join(ROOT, "guests/peers/build.sh"), "1"], { stdio: "inherit" });
});

async function both(path: string, cmdline = "", disk = false) {
  const image = new Uint8Array(readFileSync(path));
  const run = (mode: string) => runImage({ image, mode, memSize: 64 << 20, maxInstructions: 400_000_000, cmdline, ...(disk ? { disk: new Uint8Array(1 << 20) } : {}) });
  const shadow = await runImage({ image, mode: "hw", npt: false, memSize: 64 << 20, maxInstructions: 400_000_000, cmdline, ...(disk ? { disk: new Uint8Array(1 << 20) } : {}) });
  return { native: await run("native"), hw: await run("hw"), shadow };
}

/** hw mode with shadow paging: the same output, and the exits first-generation VT-x takes */
function sameShadow(native: Awaited<ReturnType<typeof runImage>>, hw: Awaited<ReturnType<typeof runImage>>) {
  expect(lines(hw.console), hw.message).toEqual(lines(native.console));
  expect(hw.exitStatus).toBe(native.exitStatus);
  const s = (hw.stats.devices as any).hw;
  expect(s.paging).toBe("shadow");
  expect(s.nestedWalks).toBe(0);
  expect(s.shadowPaging.hiddenFaults).toBeGreaterThan(0);
  return s;
}

function same(native: Awaited<ReturnType<typeof runImage>>, hw: Awaited<ReturnType<typeof runImage>>) {
  expect(lines(hw.console), hw.message).toEqual(lines(native.console));
  expect(hw.exitStatus).toBe(native.exitStatus);
  expect(native.exitStatus).toBe(1);
  const s = (hw.stats.devices as any).hw;
  expect(s.vmExits).toBeGreaterThan(0);
  expect(s.nestedWalks).toBeGreaterThan(0);
  return s;
}

describe("native and hw mode print the same", () => {
  it("peers guest (guests/peers)", async () => {
    const { native, hw, shadow } = await both(join(ROOT, "build/guests/peers/guest-1.elf"));
    same(native, hw);
    sameShadow(native, shadow);
  });
  for (const w of WL) {
    it(`workload ${w}`, async () => {
      const cmdline = readFileSync(join(ROOT, `fixtures/workloads/${w}.args`), "utf8").trim();
      const { native, hw, shadow } = await both(join(ROOT, `build/guests/workloads/${w}.elf`), cmdline, w === "disk");
      const s = same(native, hw);
      const t = sameShadow(native, shadow);
      // every address space is a shadow made at a CR3 load that exited; guest page tables written are stepped
      expect(t.shadowPaging.cr3Loads).toBeGreaterThan(0);
      expect(t.exitsByReason["cr-access"]).toBeGreaterThan(0);
      // guest TLB misses walk both dimensions: the final address through the EPT (1 reference in a large EPT page,
      // 2 in a 4 KiB one) and, with guest paging on, each guest entry (+ its EPT references, or the nested TLB's 0)
      expect(s.eptLarge).toBe(true);
      expect(s.nestedWalkRefs).toBeGreaterThan(s.nestedWalks);
      expect(s.walkRefsPerMiss).toBeLessThanOrEqual(8);
      expect(s.exitsByReason["io-instruction"]).toBeGreaterThan(0);
    });
  }
  for (const t of TESTS) {
    it(`system test ${t}`, async () => {
      const { native, hw, shadow } = await both(join(ROOT, `build/guests/tests/${t}.elf`));
      same(native, hw);
      sameShadow(native, shadow);
    });
  }
});

// xv6 (MIT's, shared/guests/xv6): an OS nobody on the project wrote, on the MP platform (APIC MMIO through EPT
// violations), booted to its shell with a command typed; then the same in hw mode continued from a snapshot.
const XV6_END = 25_000_000;
describe.skipIf(!XV6)("xv6 in hw mode", () => {
  const boot = (mode: string, npt = true) => {
    const vm = new Vm({ mode, npt, memSize: 512 << 20, disk2: new Uint8Array(readFileSync(join(XV6!, "fs.img"))), stdin: "echo hi-there\n" }); // typed ahead of the first prompt: none of it is lost
    vm.loadMultiboot(new Uint8Array(readFileSync(join(XV6!, "kernel.elf"))));
    return vm;
  };
  const regs = (vm: Vm) => (["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags"] as const).map((r) => vm.machine.getReg(r));
  it("boots to the shell and runs a command exactly as in native mode (console, registers, virtual clock)", () => {
    const n = boot("native"), h = boot("hw");
    expect(n.run({ maxInstructions: XV6_END }).stopReason).toBe("max-instructions");
    const r = h.run({ maxInstructions: XV6_END });
    expect(r.stopReason, r.message).toBe("max-instructions");
    expect(n.console).toMatch(/init: starting sh\n\$ hi-there\n\$ $/);
    expect(h.console).toBe(n.console);
    expect(regs(h)).toEqual(regs(n));
    expect(h.clock).toBe(n.clock);
    const s = (h.mode as any).stats();
    expect(s.exitsByReason["ept-violation"]).toBeGreaterThan(0); // the local APIC and the I/O APIC
    expect(s.interruptsInjected).toBeGreaterThan(0);
  }, 300_000);
  it("boots and runs the command the same with --npt off (shadow paging)", () => {
    const n = boot("native"), h = boot("hw", false);
    n.run({ maxInstructions: XV6_END });
    const r = h.run({ maxInstructions: XV6_END });
    expect(r.stopReason, r.message).toBe("max-instructions");
    expect(h.console).toBe(n.console);
    expect(regs(h)).toEqual(regs(n));
    expect(h.clock).toBe(n.clock);
    const s = (h.mode as any).stats();
    expect(s.shadowPaging.cr3Loads).toBeGreaterThan(0);
    expect(s.shadowPaging.mmioExits).toBeGreaterThan(0); // the APICs, past machine RAM in the shadows
    expect(s.exitsByReason["exception (#PF: device memory)"]).toBe(s.shadowPaging.mmioExits); // VM exits too
  }, 300_000);
  it("a hw-mode snapshot (VMCS included) continues identically", () => {
    const ref = boot("hw");
    ref.run({ maxInstructions: XV6_END });
    const a = boot("hw");
    expect(a.run({ stopAt: 9_000_000 }).stopReason).toBe("snapshot");
    const before = a.console;
    const b = Vm.restore(a.snapshot());
    b.run({ maxInstructions: XV6_END - a.machine.instructions - (a.mode.emulatedInstructions) });
    expect(before + b.console).toBe(ref.console);
    expect(regs(b)).toEqual(regs(ref));
  }, 300_000);
});
