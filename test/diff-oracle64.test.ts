// diff-oracle64.test.ts — the x86-64 oracle (build/oracle/oracle64, test/diff/oracle64.ts), the real-CPU
// reference on hosts that cannot execute i386 binaries (issue 9, item 8):
//  - the case rewriting for 64-bit mode (addr32 prefix, bare disp32 → SIB form, EIP mapping) and the skip list;
//  - on a host that runs both oracles: the x86-64 oracle's results equal the i386 oracle's on every case it
//    runs (registers, EIP, EFLAGS, error code, CR2, memory), and it skips only what the list says, with reasons;
//  - with WASMVISOR_NO_I386=1 (a simulated host without IA32 emulation) the differential suite runs through the
//    x86-64 oracle: in-process against the wasm CPU, and `scripts/diff.mjs` end to end.
import { describe, it, expect, afterEach } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { genCases, FORM_SPECS, type Case } from "./diff/gen.ts";
import { oracleAvailable, runOracleAny, skipReport, ROOT } from "./diff/oracle.ts";
import { toCase64, fromResult64, skipFormReason, SKIP_FORMS } from "./diff/oracle64.ts";
import { checkCases } from "./diff/harness.ts";

afterEach(() => { delete process.env.WASMVISOR_NO_I386; });

const base: Case = { form: "add r32, r/m32", desc: "", regs: [0, 0, 0, 0, 0x301f00, 0, 0, 0], eflags: 0x202, seed: 1, codeOff: 0x800, code: [], patches: [], undef: 0, undefRegs: 0 };

describe("test/diff/oracle64.ts: 32-bit cases in 64-bit mode", () => {
  it("puts an addr32 prefix one byte before the instruction and maps the EIPs back", () => {
    const k = toCase64({ ...base, code: [0x03, 0x06] }); // add eax, [esi]
    if ("skip" in k) throw new Error(k.skip);
    expect(k.c.code).toEqual([0x67, 0x03, 0x06]);
    expect(k.c.codeOff).toBe(0x7ff);
    const r = { vector: 0xff, signo: 5, regs: base.regs, eip: 0x802, eflags: 0x202, err: 0, cr2: 0, mem: [], segs: [0, 0x33, 0x2b, 0, 0, 0] };
    expect(fromResult64(k, r).eip).toBe(0x802);                          // completed: the end is unchanged
    expect(fromResult64(k, { ...r, vector: 14, eip: 0x7ff }).eip).toBe(0x800); // faulted: the prefix's byte → the start
    expect(fromResult64(k, r).segs).toEqual([0x2b, 0x23, 0x2b, 0x2b, 0, 0]);
  });

  it("rewrites a bare disp32 (RIP-relative in 64-bit mode) to the SIB form without base or index", () => {
    // add eax, [0x300010]: 03 05 10 00 30 00 → 67 03 04 25 10 00 30 00
    const k = toCase64({ ...base, code: [0x03, 0x05, 0x10, 0x00, 0x30, 0x00], disp32At: 1 });
    if ("skip" in k) throw new Error(k.skip);
    expect(k.c.code).toEqual([0x67, 0x03, 0x04, 0x25, 0x10, 0x00, 0x30, 0x00]);
    expect(k.end).toBe(0x806);
    expect(k.end64).toBe(0x807);
    const r = { vector: 0xff, signo: 5, regs: base.regs, eip: 0x807, eflags: 0x202, err: 0, cr2: 0, mem: [], segs: [] };
    expect(fromResult64(k, r).eip).toBe(0x806);
  });

  it("skips what does not execute identically, with the reason", () => {
    expect(toCase64({ ...base, form: "inc r32 (40+r)", code: [0x40] })).toEqual({ skip: "inc r32 (40+r): 0x40-0x4F are REX prefixes in 64-bit mode" });
    expect(toCase64({ ...base, form: "loopw (67: cx)", code: [0x67, 0xe2, 0x10] })).toHaveProperty("skip", expect.stringMatching(/^case with an address-size prefix/));
    expect(toCase64({ ...base, form: "jmp rel8", code: [0xeb, 0xfd] })).toHaveProperty("skip", "branch to the byte before the instruction, where the addr32 prefix goes");
    expect(toCase64({ ...base, codeOff: 0, code: [0x03, 0x06] })).toHaveProperty("skip");
    // every skip-list entry names at least one generator form, and its reason is a sentence
    for (const [re, why] of SKIP_FORMS) {
      expect(FORM_SPECS.some((f) => re.test(f.name)), String(re)).toBe(true);
      expect(why.length).toBeGreaterThan(20);
    }
    const skipped = FORM_SPECS.filter((f) => skipFormReason(f.name)).length;
    expect(skipped).toBeLessThan(FORM_SPECS.length / 4);
  });
});

const bothRun = oracleAvailable("i386").ok && oracleAvailable("x86-64").ok;
const only64 = oracleAvailable("x86-64").ok;
const haveCpu = existsSync(join(ROOT, "build/cpu.wasm"));
if (!bothRun) console.log(`diff-oracle64: agreement check skipped: ${oracleAvailable("i386").why || oracleAvailable("x86-64").why}`);

describe.skipIf(!bothRun)("the x86-64 oracle agrees with the i386 oracle", () => {
  it("20,000 cases: identical results on every case the x86-64 oracle runs", () => {
    const cases = genCases(640064, 20_000);
    const a = runOracleAny(cases, "i386");
    const b = runOracleAny(cases, "x86-64");
    console.log(`x86-64 oracle: ran ${b.cases.length} of ${cases.length} cases, skipped ${b.skippedTotal}:\n${skipReport(b)}`);
    const at = new Map(cases.map((c, i) => [c, i]));
    const differ: string[] = [];
    b.cases.forEach((c, j) => {
      const x = a.results[at.get(c)!], y = b.results[j];
      if (JSON.stringify(x) !== JSON.stringify(y)) differ.push(`${c.form}: ${Buffer.from(c.code).toString("hex")} ${c.desc}\n  i386   ${JSON.stringify(x)}\n  x86-64 ${JSON.stringify(y)}`);
    });
    expect(differ.slice(0, 5).join("\n")).toBe("");
    expect(b.cases.length).toBeGreaterThan(cases.length * 0.8);
    expect(new Set(b.cases.map((c) => c.form)).size).toBeGreaterThan(FORM_SPECS.length * 0.75);
    // every form the x86-64 oracle skips is skipped for a stated reason from the list
    for (const why of b.skipped.keys()) expect(why).toMatch(/: |^case |^branch /);
  });
});

describe.skipIf(!only64 || !haveCpu)("WASMVISOR_NO_I386=1: the differential suite through the x86-64 oracle", () => {
  it("picks the x86-64 oracle; 4,000 live cases against the wasm CPU: 0 mismatches", () => {
    process.env.WASMVISOR_NO_I386 = "1";
    const av = oracleAvailable();
    expect(av).toMatchObject({ ok: true, arch: "x86-64" });
    const run = runOracleAny(genCases(424242, 4000));
    expect(run.arch).toBe("x86-64");
    expect(run.skippedTotal).toBeGreaterThan(0);
    const st = checkCases(run.cases, run.results);
    expect(st.total).toBe(run.cases.length);
    expect(st.bad, st.mismatchReport(5)).toBe(0);
  });

  it("scripts/diff.mjs runs on the x86-64 oracle and prints what it skipped", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "scripts/diff.mjs"), "--count", "3000", "--seed", "7"],
      { encoding: "utf8", timeout: 120_000, env: { ...process.env, WASMVISOR_NO_I386: "1" } });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/real CPU \(x86-64 oracle\) ran \d+ of them/);
    expect(r.stdout).toMatch(/the x86-64 oracle skipped \d+ cases that do not execute identically in 64-bit mode:\n\s+\d+ {2}\S/);
    expect(r.stdout).toMatch(/live: \d+ cases, \d+ forms, 0 mismatches/);
  }, 120_000);
});
