// host-arch.test.ts — the real-CPU references on a host that cannot execute i386 binaries (issue 9, item 8):
// the probe (scripts/host-arch.mjs) really executes a tiny binary and recognises a refused one; the peers
// reference falls back to the x86-64 build (native64-R) and prints the same RESULT; the bench measures its
// native row through that build under WASMVISOR_NO_I386=1, and with no native reference at all reports the
// missing row with its reason in one line instead of dying with a stack trace.
import { describe, it, expect, beforeAll, afterEach } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { canExec, probeElf, tinyElf, peersNative } from "../scripts/host-arch.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const X86_LINUX = process.platform === "linux" && (process.arch === "x64" || process.arch === "ia32");
const BENCH_OUT = join(ROOT, "build/bench");
const READY = X86_LINUX && ["build/cpu.wasm", "dist/cli.js"].every((p) => existsSync(join(ROOT, p)));

afterEach(() => { delete process.env.WASMVISOR_NO_I386; delete process.env.WASMVISOR_NO_X86_64; });

describe.skipIf(!X86_LINUX)("scripts/host-arch.mjs: which native binaries this host executes", () => {
  it("executes the tiny x86-64 probe; the i386 probe's answer is what executing it gives", () => {
    expect(canExec("x86-64")).toEqual({ ok: true, why: "" });
    const direct = probeElf(tinyElf("i386"), "i386");
    expect(canExec("i386")).toEqual(direct);
  });

  it("a binary the kernel refuses is reported as such, with the reason", () => {
    const elf = tinyElf("i386");
    elf.writeUInt16LE(40, 18); // e_machine = ARM: this kernel cannot run it
    const r = probeElf(elf, "ARM");
    expect(r.ok).toBe(false);
    // ENOEXEC, or (when libuv falls back to /bin/sh as execvp does) the shell's failure status
    expect(r.why).toMatch(/^this kernel cannot execute ARM binaries \((exec format error|a test binary exited with \d+, not 42)\)$/);
  });

  it("WASMVISOR_NO_I386=1 simulates a host without IA32 emulation", () => {
    process.env.WASMVISOR_NO_I386 = "1";
    expect(canExec("i386")).toEqual({ ok: false, why: "WASMVISOR_NO_I386=1 (simulating a host that cannot execute i386 binaries)" });
    expect(canExec("x86-64").ok).toBe(true);
  });
});

describe.skipIf(!READY)("the peers reference and the bench without i386", () => {
  beforeAll(() => {
    // the lengths the smoke bench uses (build.sh skips fresh targets)
    execFileSync("sh", [join(ROOT, "guests/peers/build.sh"), "1", "2"], { stdio: "ignore", env: { ...process.env, OUT: BENCH_OUT } });
  }, 60_000);

  it("falls back to native64-R, which prints the i386 binary's RESULT", () => {
    const both = peersNative(BENCH_OUT, 2);
    process.env.WASMVISOR_NO_I386 = "1";
    const fb = peersNative(BENCH_OUT, 2);
    expect(fb.pick).toEqual({ arch: "x86-64", path: join(BENCH_OUT, "native64-2") });
    expect(fb.why).toMatch(/^i386: WASMVISOR_NO_I386=1/);
    const out64 = execFileSync(fb.pick!.path).toString();
    expect(out64).toMatch(/^RESULT [0-9a-f]{8} REPS 2\n$/);
    if (both.pick?.arch === "i386") expect(execFileSync(both.pick.path).toString()).toBe(out64);
    process.env.WASMVISOR_NO_X86_64 = "1";
    const none = peersNative(BENCH_OUT, 2);
    expect(none.pick).toBeNull();
    expect(none.why).toContain("x86-64: WASMVISOR_NO_X86_64=1");
  });

  const bench = (env: Record<string, string>) => spawnSync(process.execPath, [join(ROOT, "scripts/bench.mjs"), "--smoke", "--json", "--no-build",
    "--sections", "peers", "--rows", "native,native-mode"], { encoding: "utf8", timeout: 120_000, env: { ...process.env, ...env } });

  it("WASMVISOR_NO_I386=1: the bench's native row runs the x86-64 build", () => {
    const r = bench({ WASMVISOR_NO_I386: "1" });
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.status, r.stderr).toBe(0);
    const J = JSON.parse(r.stdout);
    expect(J.native).toEqual({ arch: "x86-64", bothChecked: false });
    expect(J.results.native.label).toMatch(/x86-64/);
    expect(J.results.native.t1).toHaveLength(1);
    expect(r.stderr).toContain("bench: native reference: the x86-64 build (i386: WASMVISOR_NO_I386=1");
  }, 120_000);

  it("with i386 and x86-64 both runnable, the bench checks that their RESULTs agree", () => {
    if (!canExec("i386").ok) return; // nothing to compare on this host
    const r = bench({});
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).native).toEqual({ arch: "i386", bothChecked: true });
  }, 120_000);

  it("no native reference at all: the row is reported missing with the reason, no stack trace", () => {
    const r = bench({ WASMVISOR_NO_I386: "1", WASMVISOR_NO_X86_64: "1" });
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.status, r.stderr).toBe(0);
    const J = JSON.parse(r.stdout);
    expect(J.native.arch).toBeNull();
    expect(J.native.missing).toContain("i386: WASMVISOR_NO_I386=1");
    expect(Object.keys(J.results)).toEqual(["native-mode"]);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("bench: no native reference: "))).toHaveLength(1);
  }, 120_000);
});
