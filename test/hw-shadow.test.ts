// hw-shadow.test.ts — hw mode without nested paging (`--npt off`, host/hw/shadow-paging.ts): the CPU's part
// (an intercepted #PF leaves CR2 alone; a #PF exit during event delivery carries the event as IDT-vectoring
// information) and the hypervisor's npt-off exits on a bare guest-mode Machine with raw instruction bytes —
// CR3 load/store, INVLPG, #PF (hidden and true faults, the PFEC mask/match), guest page-table writes stepped with
// MTF, CR0.PG/WP ownership — each control on and off, and hostile guests (tables outside guest RAM, CR3 garbage,
// paging turned off) contained.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCliArgs } from "../host/cli.ts";
import { Vm } from "../host/vm.ts";
import { targetFor } from "../host/gdb/target.ts";
import type { Exit } from "../host/machine.ts";
import { HwShadowPaging, SHADOW_POOL_START, type ShadowAction } from "../host/hw/shadow-paging.ts";
import { hwGuest, vmexit, A, HW_HOST_SIZE, CODE, HANDLER, PD, PT, type HwGuest } from "./hw-guest.ts";

const HLT = 0xf4;
// the #PF handler every test installs at HANDLER: mov eax, cr2 ; pop ebx (error code) ; hlt
const PF_HANDLER = [0x0f, 0x20, 0xd0, 0x5b, HLT];

/** A guest with its own 2-level tables (identity, supervisor R/W) run under shadow paging (no EPT). */
function shadowGuest(code: number[]): HwGuest & { sp: HwShadowPaging } {
  const g = hwGuest(code, { paging: true, ept: false });
  g.gw(HANDLER, PF_HANDLER);
  const sp = new HwShadowPaging(g.m, g.v, 1 << 20);
  sp.start();
  return { ...g, sp };
}

/** The hypervisor loop: handles npt-off exits until the guest halts or an exit the shadow code does not take. */
function drive(g: HwGuest & { sp: HwShadowPaging }, max = 200): { exit: Exit; stop?: ShadowAction; exits: number } {
  for (let n = 0; n < max; n++) {
    const e = g.m.run(100_000);
    if (e.reason !== "vmexit") return { exit: e, exits: n };
    if (g.sp.finishStep(e)) continue;
    const a = g.sp.handle(e, () => {});
    if (a === undefined) return { exit: e, exits: n };
    if (a) return { exit: e, stop: a, exits: n };
  }
  throw new Error("no progress");
}

describe("the CPU in guest mode (what shadow paging needs)", () => {
  it("a #PF that exits leaves CR2 alone (SDM 27.1); one delivered to the guest sets it", () => {
    // mov eax, [0x5000] with page 0x5000 not present
    const mk = (bit: boolean) => {
      const g = hwGuest([0x8b, 0x05, 0, 0x50, 0, 0], { paging: true });
      g.gs32(PT + 5 * 4, 0);
      g.m.setCr("cr2", 0x1234);
      g.v.set(A.OFF_VMX_EXC_BITMAP, bit ? 1 << A.VEC_PF : 0);
      return g;
    };
    const on = mk(true);
    expect(vmexit(on.m.run(), A.VMX_EXIT_EXCEPTION).qualification).toBe(0x5000);
    expect(on.m.getCr("cr2")).toBe(0x1234);
    const off = mk(false);
    off.m.run();
    expect(off.m.eip).toBe(HANDLER + 1);
    expect(off.m.getCr("cr2")).toBe(0x5000);
  });
  it("a #PF exit while delivering an injected interrupt records it as IDT-vectoring information; without the intercept it is the guest's #PF", () => {
    const mk = (bit: boolean) => {
      const g = hwGuest([0x90, HLT], { paging: true });
      g.gs32(PT + 7 * 4, 0); // the stack page (ESP 0x8000: the frame goes to 0x7ff4) not present
      g.v.set(A.OFF_VMX_EXC_BITMAP, bit ? 1 << A.VEC_PF : 0);
      g.v.inject("external", 0x30);
      return g;
    };
    const on = mk(true);
    const e = vmexit(on.m.run(), A.VMX_EXIT_EXCEPTION);
    expect([e.eip, e.qualification, on.v.exitInterruption]).toEqual([CODE, 0x7ff4, { vector: 14, type: 3, errorCode: A.PF_W }]);
    expect(on.v.get(A.OFF_VMX_IDT_VEC_INFO) >>> 0).toBe((A.INTR_INFO_VALID | A.INTR_TYPE_EXT | 0x30) >>> 0);
    // the next entry starts with no vectoring information
    on.v.set(A.OFF_VMX_EXC_BITMAP, 0);
    on.m.run();
    expect(on.v.get(A.OFF_VMX_IDT_VEC_INFO)).toBe(0);
    const off = mk(false);
    off.m.run(); // #PF while delivering the interrupt: a #PF (benign first event), delivered... on the same missing stack: #DF, then shutdown
    expect(off.v.get(A.OFF_VMX_IDT_VEC_INFO)).toBe(0);
  });
  it("a #PF exit while delivering a #GP carries the #GP and its error code", () => {
    // mov ax, 0x13 ; mov es, ax  (GDT index 2 is data DPL 0 but RPL 3 > DPL at CPL 0: #GP(0x10)); stack page missing
    const g = hwGuest([0x66, 0xb8, 0x13, 0x00, 0x8e, 0xc0, HLT], { paging: true });
    g.gs32(PT + 7 * 4, 0);
    g.v.set(A.OFF_VMX_EXC_BITMAP, 1 << A.VEC_PF);
    vmexit(g.m.run(), A.VMX_EXIT_EXCEPTION);
    expect(g.v.exitInterruption?.vector).toBe(14);
    expect(g.v.get(A.OFF_VMX_IDT_VEC_INFO) >>> 0).toBe((A.INTR_INFO_VALID | A.INTR_TYPE_HW_EXC | A.INTR_INFO_ERR | 13) >>> 0);
    expect(g.v.get(A.OFF_VMX_IDT_VEC_ERROR)).toBe(0x10);
  });
});

describe("hw --npt off: the hypervisor's exits", () => {
  it("the real CPU walks shadow tables in the hypervisor's memory; the guest's reads land in guest RAM", () => {
    const g = shadowGuest([0xa1, 0, 0x50, 0, 0, HLT]); // mov eax, [0x5000]
    g.gs32(0x5000, 0xfeedf00d);
    const r = drive(g);
    expect(r.exit.reason).toBe("hlt");
    expect(g.m.eax >>> 0).toBe(0xfeedf00d);
    const real = g.m.getCr("cr3") >>> 0;
    expect(real).toBeGreaterThanOrEqual(SHADOW_POOL_START);
    expect(real).toBeLessThan(HW_HOST_SIZE);
    expect(g.sp.stats.hiddenFaults).toBeGreaterThanOrEqual(2); // the code page and the data page
    expect(g.m.getCr("cr0") & A.CR0_WP).toBe(A.CR0_WP); // real WP=1 whatever the guest's
    expect(g.sp.cr0 & A.CR0_WP).toBe(0);
  });
  it("CR3 load exiting: the guest's CR3 is kept, the real one is its shadow; CR3 store exiting returns the guest's", () => {
    // mov eax, PD ; mov cr3, eax ; mov ebx, cr3 ; hlt
    const code = [0xb8, PD & 0xff, (PD >> 8) & 0xff, PD >> 16, 0, 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xdb, HLT];
    const g = shadowGuest(code);
    const r = drive(g);
    expect(r.exit.reason).toBe("hlt");
    expect([g.sp.stats.cr3Loads, g.sp.stats.cr3Stores, g.m.ebx >>> 0]).toEqual([1, 1, PD]);
    expect(g.m.getCr("cr3") >>> 0).not.toBe(PD);
    // with CR3-store exiting off the guest would read the shadow directory's address (why it must be on)
    const h = shadowGuest(code);
    h.v.ctl(A.OFF_VMX_PROC, A.PROC_CR3_STORE, false);
    drive(h);
    expect(h.m.ebx >>> 0).toBe(h.m.getCr("cr3") >>> 0);
    expect(h.m.ebx >>> 0).not.toBe(PD);
    // with CR3-load exiting off the guest's own CR3 is loaded as a host-physical table: the CPU walks the
    // hypervisor's memory (an all-zero page there), and no shadow fill can help the next fetch: no progress
    const k = shadowGuest(code);
    k.v.ctl(A.OFF_VMX_PROC, A.PROC_CR3_LOAD, false);
    expect(() => drive(k, 20)).toThrow("no progress");
    expect(k.m.getCr("cr3") >>> 0).toBe(PD);
  });
  it("INVLPG exiting drops the shadow entry (the next access refills it); off, the instruction runs without the hypervisor", () => {
    // mov eax, [0x5000] ; invlpg [0x5000] ; mov eax, [0x5000] ; hlt
    const code = [0xa1, 0, 0x50, 0, 0, 0x0f, 0x01, 0x3d, 0, 0x50, 0, 0, 0xa1, 0, 0x50, 0, 0, HLT];
    const g = shadowGuest(code);
    drive(g);
    expect(g.sp.stats.invlpgExits).toBe(1);
    expect(g.sp.mmu.stats.invlpg).toBe(1);
    const faults = g.sp.stats.hiddenFaults;
    const h = shadowGuest(code);
    h.v.ctl(A.OFF_VMX_PROC, A.PROC_INVLPG, false);
    drive(h);
    expect(h.sp.stats.invlpgExits).toBe(0);
    expect(h.sp.stats.hiddenFaults).toBe(faults - 1); // no refill after the CPU's own INVLPG
  });
  it("#PF exiting: a true fault is injected with the guest's error code and CR2; a hidden one is never seen by the guest", () => {
    const g = shadowGuest([0xa3, 0, 0x50, 0, 0, HLT]); // mov [0x5000], eax — page not present in the guest
    g.gs32(PT + 5 * 4, 0);
    g.m.setCr("cr2", 0x777);
    const r = drive(g);
    expect(r.exit.reason).toBe("hlt");
    expect(g.m.eip).toBe(HANDLER + PF_HANDLER.length);
    expect([g.m.eax >>> 0, g.m.ebx >>> 0]).toEqual([0x5000, A.PF_W]);
    expect(g.sp.stats.trueFaults).toBe(1);
  });
  it("#PF with bit 14 off (or a mask/match that lets not-present faults through): the guest sees the hypervisor's hidden faults", () => {
    const g = shadowGuest([0xa1, 0, 0x50, 0, 0, HLT]);
    g.gs32(0x5000, 0x12345678);
    g.v.set(A.OFF_VMX_PF_MASK, A.PF_P);
    g.v.set(A.OFF_VMX_PF_MATCH, A.PF_P); // only protection faults exit (KVM's old bypass_guest_pf): wrong here
    // the first fetch's hidden fault goes to the guest, whose IDT and handler are not in the shadow yet either:
    // #PF, #DF, triple fault — a guest that would have run fine is killed
    vmexit(drive(g).exit, A.VMX_EXIT_TRIPLE_FAULT);
    const h = shadowGuest([0xa1, 0, 0x50, 0, 0, HLT]);
    h.gs32(0x5000, 0x12345678);
    drive(h); // mask = match = 0: every #PF exits
    expect(h.m.eax >>> 0).toBe(0x12345678);
  });
  it("a guest page-table write is stepped with MTF and the shadow follows it", () => {
    // mov eax, [0x5000] ; mov dword [PT + 5*4], 0x6003 ; invlpg [0x5000] ; mov eax, [0x5000] ; hlt
    const pte = PT + 5 * 4;
    const code = [0xa1, 0, 0x50, 0, 0, 0xc7, 0x05, pte & 0xff, (pte >> 8) & 0xff, pte >> 16, 0, 0x03, 0x60, 0, 0,
      0x0f, 0x01, 0x3d, 0, 0x50, 0, 0, 0xa1, 0, 0x50, 0, 0, HLT];
    const g = shadowGuest(code);
    g.gs32(0x5000, 0x55555555);
    g.gs32(0x6000, 0x66666666);
    const r = drive(g);
    expect(r.exit.reason).toBe("hlt");
    expect(g.m.eax >>> 0).toBe(0x66666666);
    expect(g.g32(pte)).toBe(0x6003 | A.PTE_A); // the guest's write reached its table (A set when it was used)
    expect(g.sp.stats.ptWritesStepped).toBe(1);
    expect(g.v.get(A.OFF_VMX_PROC) & A.PROC_MTF).toBe(0); // the step is over
  });
  it("CR0.WP=0: a ring-0 write to a read-only page succeeds (kernel-only writable shadow entry); with WP=1 it is the guest's #PF", () => {
    const mk = (wp: boolean) => {
      // mov eax, cr0 ; or/and eax, WP ; mov cr0, eax ; mov dword [0x5000], 0x42 ; hlt
      const g = shadowGuest([0x0f, 0x20, 0xc0, ...(wp ? [0x0d, 0, 0, 1, 0] : [0x25, 0xff, 0xff, 0xfe, 0xff]), 0x0f, 0x22, 0xc0,
        0xc7, 0x05, 0, 0x50, 0, 0, 0x42, 0, 0, 0, HLT]);
      g.gs32(PT + 5 * 4, 0x5000 | A.PTE_P | A.PTE_U); // read-only user page
      return g;
    };
    const off = mk(false);
    expect(drive(off).exit.reason).toBe("hlt");
    expect(off.g32(0x5000)).toBe(0x42);
    expect(off.m.eip).not.toBe(HANDLER + PF_HANDLER.length);
    const spte = off.sp.mmu.spteAddr(0x5000);
    expect(off.m.read32(spte) & (A.PTE_U | A.PTE_W)).toBe(A.PTE_W);
    const on = mk(true);
    drive(on);
    expect(on.m.eip).toBe(HANDLER + PF_HANDLER.length);
    expect([on.m.eax >>> 0, on.m.ebx >>> 0]).toEqual([0x5000, A.PF_P | A.PF_W]);
    expect(on.g32(0x5000)).toBe(0);
  });
});

describe("hw --npt off: hostile guests are contained", () => {
  // the hypervisor's memory below the shadow pool (VMCS bitmaps, EPT area), compared as one buffer
  const hostMemory = (g: HwGuest) => Buffer.from(g.m.readMem(0, SHADOW_POOL_START)).toString("base64");
  it("a page table outside guest RAM stops the VM with one line", () => {
    const g = shadowGuest([0xa1, 0, 0, 0x40, 0, HLT]); // mov eax, [0x400000]
    g.gs32(PD + 4, 0x7fff0000 | 3); // PDE 1 -> a page table far outside the 1 MiB of guest RAM
    const before = hostMemory(g);
    const r = drive(g);
    expect(r.stop?.stop).toBe("shutdown");
    expect(r.stop?.message).toBe("hw --npt off: guest-physical 0x7fff0000 is outside guest RAM");
    expect(hostMemory(g)).toEqual(before);
  });
  it("CR3 garbage: a CR3 load past guest RAM stops the VM; the hypervisor's memory is untouched", () => {
    const g = shadowGuest([0xb8, 0, 0xf0, 0xff, 0xff, 0x0f, 0x22, 0xd8, HLT]); // mov eax, 0xfffff000 ; mov cr3, eax
    const before = hostMemory(g);
    const r = drive(g);
    expect(r.stop?.message).toMatch(/CR3 0xfffff000 points outside guest RAM/);
    expect(hostMemory(g)).toEqual(before);
  });
  it("a guest that turns paging off runs on an identity shadow of guest RAM, never of the hypervisor's memory", () => {
    // mov eax, cr0 ; and eax, ~PG ; mov cr0, eax ; mov eax, [0x1000] (its own code, gpa 0x1000) ; hlt
    const g = shadowGuest([0x0f, 0x20, 0xc0, 0x25, 0xff, 0xff, 0xff, 0x7f, 0x0f, 0x22, 0xc0, 0xa1, 0, 0x10, 0, 0, HLT]);
    const before = hostMemory(g);
    const r = drive(g);
    expect(r.exit.reason).toBe("hlt");
    expect(g.m.eax >>> 0).toBe(g.g32(0x1000)); // guest-physical 0x1000, not host-physical 0x1000
    expect(g.sp.cr0 & A.CR0_PG).toBe(0);
    expect((g.m.getCr("cr0") & A.CR0_PG) >>> 0).toBe(A.CR0_PG); // the real CPU still pages (through the identity shadow)
    expect(hostMemory(g)).toEqual(before);
  });
});

describe("the command line: --npt on|off", () => {
  const ROOT = fileURLToPath(new URL("..", import.meta.url));
  const cli = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, "dist/cli.js"), ...args], { encoding: "utf8", timeout: 120_000 });
  const FORK = join(ROOT, "build/guests/workloads/fork.elf");
  beforeAll(() => { execFileSync(process.execPath, [join(ROOT, "scripts/build-cli.mjs")], { stdio: "ignore" }); });
  it("parses on and off; a bad value or another mode is one line, status 2", () => {
    expect(parseCliArgs(["run", "k.elf", "--mode", "hw", "--npt", "off"])).toMatchObject({ mode: "hw", npt: false });
    expect(parseCliArgs(["run", "k.elf", "--mode", "hw", "--npt=on"])).toMatchObject({ mode: "hw", npt: true });
    for (const args of [["--mode", "hw", "--npt", "maybe"], ["--mode", "full", "--npt", "off"], ["--npt", "off"]]) {
      const r = cli("run", FORK, ...args);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/--npt/);
    }
  });
  const dir = mkdtempSync(join(tmpdir(), "wasmvisor-npt-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it("runs a workload with shadow paging: the same console as native, the shadow's exits in the stats file", () => {
    {
      const n = cli("run", FORK, "--mode", "native");
      const s = cli("run", FORK, "--mode", "hw", "--npt", "off", "--stats-file", join(dir, "s.json"));
      expect(s.status, s.stderr).toBe(1);
      expect(s.stdout).toBe(n.stdout);
      const hw = JSON.parse(readFileSync(join(dir, "s.json"), "utf8")).devices.hw;
      expect(hw.paging).toBe("shadow");
      expect(hw.exitsByReason["cr-access"]).toBeGreaterThan(0);
      expect(hw.exitsByReason.exception).toBeGreaterThan(0);
      expect(hw.exitsByReason["monitor-trap-flag"]).toBeGreaterThan(0);
    }
  }, 120_000);
});

describe("hw --npt off: the debugger sees the guest's control registers", () => {
  it("gdb's CR0/CR3 are the guest's, not the shadow directory the CPU walks", () => {
    const ROOT = fileURLToPath(new URL("..", import.meta.url));
    const vm = new Vm({ mode: "hw", npt: false });
    vm.loadMultiboot(new Uint8Array(readFileSync(join(ROOT, "build/guests/workloads/fork.elf"))));
    vm.run({ maxInstructions: 5_000_000 });
    const t = targetFor(vm), sp = (vm.mode as unknown as { shadow: HwShadowPaging }).shadow;
    expect(t.getCr("cr3")).toBe(sp.cr3);
    expect(t.getCr("cr3")).not.toBe(vm.machine.getCr("cr3"));
    expect(t.getCr("cr0")).toBe(sp.cr0);
    expect(t.getCr("cr0") & A.CR0_PG).not.toBe(0); // the kit kernel pages by now
  });
});

describe("hw --npt off: snapshots", () => {
  it("a snapshot taken mid-run (shadow bookkeeping, guest CRs, VMCS) continues exactly as the uninterrupted run", () => {
    const ROOT = fileURLToPath(new URL("..", import.meta.url));
    const image = new Uint8Array(readFileSync(join(ROOT, "build/guests/workloads/fork.elf")));
    const boot = () => { const vm = new Vm({ mode: "hw", npt: false }); vm.loadMultiboot(image); return vm; };
    const ref = boot();
    const rr = ref.run({ maxInstructions: 100_000_000 });
    expect(rr.exitStatus).toBe(1);
    for (const at of [17_000_000]) {
      const a = boot();
      expect(a.run({ stopAt: at }).stopReason).toBe("snapshot");
      const b = Vm.restore(a.snapshot());
      const r = b.run({ maxInstructions: 100_000_000 });
      expect(r.exitStatus, r.message).toBe(1);
      expect(a.console + b.console).toBe(ref.console);
      expect(b.clock).toBe(ref.clock);
    }
  }, 120_000);
});

// Debian 12's i386 kernel + the busybox initramfs that runs the command list at /init (scripts/fetch-linux.mjs, as
// test/linux-boot.test.ts; WASMVISOR_LINUX=1, ~3 G instructions): first-generation VT-x with shadow paging runs it
// to its end — a PGE/PSE kernel with thousands of processes' page tables shadowed, CR3 loads and PT writes exiting.
describe.skipIf(process.env.WASMVISOR_LINUX !== "1")("Linux with --npt off", () => {
  it("boots Debian's kernel to /init, which runs the command list and ends the VM, as in native mode", { timeout: 1_200_000 }, () => {
    const fetch = spawnSync(process.execPath, [fileURLToPath(new URL("../scripts/fetch-linux.mjs", import.meta.url)), "--quiet"], { encoding: "utf8", timeout: 600_000 });
    expect(fetch.status, fetch.stderr).toBe(0);
    const f = JSON.parse(fetch.stdout) as { kernel: string; initrd: string };
    const vm = new Vm({ mode: "hw", npt: false, memSize: 256 << 20 });
    vm.loadBzImage(readFileSync(f.kernel), { initrd: readFileSync(f.initrd), cmdline: "console=ttyS0 cryptomgr.notests" });
    let r;
    let ran = 0;
    do { r = vm.run({ maxInstructions: 100e6 }); ran += 100e6; } while (r.stopReason === "max-instructions" && ran < 8e9);
    const out = vm.console.replace(/\r/g, "");
    expect(r.stopReason, `${r.message}\n${out.slice(-2000)}`).toBe("debug-exit");
    expect(out).toContain("WASMVISOR-INIT-OK");
    expect(out).toMatch(/^Linux \S+ 6\.1\.0-\d+-686 #1 SMP PREEMPT_DYNAMIC Debian .* i686 GNU\/Linux$/m);
    expect(out).toContain("96995b58d4cbf6aaa9041b4f00c7f6ae  -"); // md5 of 8 MiB of zeros through a pipe
    expect(out).toContain("WASMVISOR-INIT-DONE");
    expect(out).not.toMatch(/Kernel panic|Oops|BUG:|WARNING:|segfault|general protection/);
    const hw = (vm.mode as any).stats();
    expect(hw.paging).toBe("shadow");
    expect(hw.shadowPaging.cr3Loads).toBeGreaterThan(1000);
  });
});
