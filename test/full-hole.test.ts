// full-hole.test.ts — the x86 hole switch (host/full/patcher.ts, `closeHole`). With the hole open, the
// sensitive-but-unprivileged instructions run natively at the real CPL 3 and go wrong exactly as Popek-Goldberg
// theory predicts for x86: pushf leaks the real IF (always 1) inside critical sections and interrupt handlers, popf
// silently ignores IF and IOPL, sgdt/sidt/str reveal the VMM's own tables, mov from CS shows the real RPL 3, smsw
// shows the real CR0 (paging always on). Closed (patched), the same guests are right.
import { describe, it, expect, beforeAll } from "vitest";
import { readFileSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { runImage } from "../host/vm.ts";
import { GDT_K, GDT_U, IDT_REAL } from "../host/full/monitor.ts";
import { VMM_LINEAR } from "../host/full/shadow.ts";
import { miniVm, go, d32, KCODE } from "./full-minivm.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const PROTECTION = join(ROOT, "build/guests/tests/protection.elf");
beforeAll(() => {
  if (!existsSync(PROTECTION)) execFileSync("sh", [join(ROOT, "guests/tests/build.sh")], { stdio: "inherit" });
});

describe("the hole switch on a made-up kernel", () => {
  // sgdt [0x3200] ; smsw ebx ; mov ecx,cs ; hlt   (paging off in the guest)
  const body = [0x0f, 0x01, 0x05, ...d32(0x3200), 0x0f, 0x01, 0xe3, 0x8c, 0xc9, 0xf4];
  it("closed: sgdt, smsw and mov from CS show the virtual CPU", () => {
    const { m, mo, rd32 } = miniVm(body);
    go(mo);
    expect(rd32(0x3202)).toBe(0x4000);     // the guest's GDT
    expect(m.ebx & 0x80000000).toBe(0);    // the guest has not enabled paging
    expect(m.ecx & 0xffff).toBe(KCODE);    // RPL 0
  });
  it("open: they reveal the VMM (its GDT in the reserved region, paging on, RPL 3)", () => {
    const { m, mo, rd32 } = miniVm(body, { closeHole: false });
    go(mo);
    expect(rd32(0x3202)).toBe((VMM_LINEAR + GDT_K) >>> 0);
    expect(m.ebx & 0x80000000).not.toBe(0);
    expect(m.ecx & 0xffff).toBe(KCODE | 3);
    expect(mo.stats.emulated.sgdt).toBeUndefined();
  });
});

describe("the hole switch on the QEMU-checked protection guest", () => {
  const image = () => new Uint8Array(readFileSync(PROTECTION));
  const mismatches = (out: string) => out.split("\n").filter((l) => l.endsWith("MISMATCH"));
  it("closed: prints exactly what QEMU prints", async () => {
    const r = await runImage({ image: image(), mode: "full", memSize: 64 << 20, maxInstructions: 50_000_000 });
    expect(r.console.split("\n")).toEqual(readFileSync(join(ROOT, "fixtures/qemu/protection.out"), "utf8").split("\n"));
    expect(r.exitStatus).toBe(1);
  });
  it("open: fails exactly the probes theory predicts, with the leaked values", async () => {
    const r = await runImage({ image: image(), mode: "full", memSize: 64 << 20, maxInstructions: 50_000_000, closeHole: false } as Parameters<typeof runImage>[0]);
    expect(r.exitStatus).toBe(3); // the guest's own verdict: failed
    const bad = mismatches(r.console);
    expect(bad.map((l) => l.split(":")[0]).sort()).toEqual(
      ["k_int81", "k_popf_iopl", "u_callgate", "u_int81", "u_popf_iopl3", "u_sgdt", "u_sidt", "u_str"]);
    const line = (n: string) => bad.find((l) => l.startsWith(n + ":"))!;
    expect(line("k_int81")).toMatch(/handler_if=1/);        // pushf inside an interrupt-gate handler: real IF=1 leaks
    expect(line("u_int81")).toMatch(/handler_if=1/);
    expect(line("k_popf_iopl")).toMatch(/iopl=0/);          // popf at the real CPL 3 silently keeps IOPL
    expect(line("u_popf_iopl3")).toMatch(/if_iopl=0200/);   // ... and IOPL reads back 0
    expect(line("u_sgdt")).toContain(`base=${((VMM_LINEAR + GDT_U) >>> 0).toString(16)}`); // the VMM's GDT (user view)
    expect(line("u_sidt")).toContain(`limit=0000 base=${((VMM_LINEAR + IDT_REAL) >>> 0).toString(16)}`); // the VMM's empty IDT
    expect(line("u_str")).toMatch(/tr=0000/);               // the real TR, never loaded
    expect(line("u_callgate")).toMatch(/gate_cs=000b/);     // mov from CS: the real RPL 3
  });
});
