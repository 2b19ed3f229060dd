// full-translate.test.ts — full mode's run-time translation of the x86 hole (host/full/README.md, "The x86 hole"):
// the CPU hands every sensitive instruction over when it is about to execute it (exit "sensitive"), so what a
// static sweep of the kernel's code cannot see — an instruction reached by jumping into the middle of another,
// code generated at run time, an ELF without section headers — is handled like any other, and guest memory is
// never modified. Each guest runs natively and in full mode and must observe the same; the static sweep (kept as
// `translate: "static"` to compare) gets each of them wrong, which the last group shows.
import { describe, it, expect, beforeAll } from "vitest";
import { readFileSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { runImage } from "../host/vm.ts";
import { main, parseCliArgs, UsageError } from "../host/cli.ts";
import { GDT_K } from "../host/full/monitor.ts";
import { VMM_LINEAR } from "../host/full/shadow.ts";
import { miniVm, nativeVm, go, d32, KCODE_AT, PROLOGUE, UCODE, UDATA, USTACK, UCODE_AT, VEC_SEEN, type MiniOpts } from "./full-minivm.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const PROTECTION = join(ROOT, "build/guests/tests/protection.elf");
beforeAll(() => {
  if (!existsSync(PROTECTION)) execFileSync("sh", [join(ROOT, "guests/tests/build.sh")], { stdio: "inherit" });
});

const HERE = KCODE_AT + PROLOGUE.length; // where a body starts (after the prologue: GDT at 0x4000, virtual CPL 0)
const OUT = 0x3200;                      // a data area the bodies write to
const GEN = 0x20000;                     // a data page the generated-code body writes code into
const IF = 0x200;
/** how many `kind` instructions were caught: handed over (a sensitive exit) or run on the virtual flags in the CPU */
function caught(mo: { stats: { exits: Record<string, number> }; inCpuCounts(): Record<string, number> }, kind: string): number {
  return (mo.stats.exits[`sensitive ${kind}`] ?? 0) + (mo.inCpuCounts()[kind] ?? 0);
}

/** What the guest can observe at its final hlt: registers and the OUT area. */
function observe(m: { eax: number; ebx: number; ecx: number; edx: number; esi: number }, rd32: (a: number) => number) {
  return {
    eax: m.eax >>> 0, ebx: m.ebx >>> 0, ecx: m.ecx >>> 0, edx: m.edx >>> 0, esi: m.esi >>> 0,
    out: [rd32(OUT), rd32(OUT + 4), rd32(OUT + 8), rd32(OUT + 12)],
  };
}
/** Runs `body` deprivileged (full mode, translate as given) and natively; both observations and the full-mode VM. */
function both(body: number[], o: MiniOpts = {}) {
  const f = miniVm(body, o);
  const stop = go(f.mo, 5000);
  const n = nativeVm(body, o);
  const natReason = n.m.run(1_000_000).reason;
  expect(natReason).toBe("hlt");
  expect(stop).toMatchObject({ stop: "halted" }); // (the bodies end in hlt with IF clear)
  return { full: observe(f.m, f.rd32), nat: observe(n.m, n.rd32), f };
}

// ---- the guests ----
// pushf reached by jumping into the middle of `mov al, 0x9c`, after cli (a linear sweep sees mov al and pop eax)
const HIDDEN_PUSHF = [
  0xfa,       // cli
  0xeb, 0x01, // jmp +1            → into the middle of the next instruction
  0xb0, 0x9c, // mov al, 0x9c      (executed from its second byte: pushf)
  0x58,       // pop eax           (IF must read 0)
  0xf4,       // hlt
];
// sgdt hidden the same way: the sweep sees `mov al, 0x0f ; add [OUT], eax`
const HIDDEN_SGDT = [
  0xeb, 0x01,                       // jmp +1
  0xb0, 0x0f, 0x01, 0x05, ...d32(OUT), // mov al, 0x0f ; add [OUT], eax — executed from 0f: sgdt [OUT]
  0xf4,                             // hlt
];
// code generated at run time in a data page: pushf ; pop eax ; sgdt [OUT+8] ; push 0x202 ; popf ; pushf ; pop ebx ;
// push 2 ; popf ; ret — written there by the kernel with dword stores (immediates: nothing for a sweep to see)
const GENERATED = [
  0x9c, 0x58, 0x0f, 0x01, 0x05, ...d32(OUT + 8), 0x68, ...d32(0x202), 0x9d, 0x9c, 0x5b, 0x6a, 0x02, 0x9d, 0xc3,
];
function generatedBody(): number[] {
  const gen = [...GENERATED];
  while (gen.length % 4) gen.push(0x90);
  const body: number[] = [0xfa]; // cli
  for (let i = 0; i < gen.length; i += 4) {
    body.push(0xc7, 0x05, ...d32(GEN + i), ...gen.slice(i, i + 4)); // mov dword [GEN+i], imm32
  }
  const call = HERE + body.length;
  body.push(0xe8, ...d32((GEN - (call + 5)) >>> 0)); // call GEN
  body.push(0xf4); // hlt
  return body;
}
// the guest reads back its own code: mov eax, [P] ; mov ebx, [P+4] where P holds pushf ; popf ; cli ; nop...
function readBackBody(): number[] {
  const body = [0xa1, ...d32(0), 0x8b, 0x1d, ...d32(0)]; // mov eax, [P] ; mov ebx, [P+4]
  const p = HERE + body.length + 1; // after the hlt below
  body.splice(1, 4, ...d32(p));
  body.splice(7, 4, ...d32(p + 4));
  body.push(0xf4);                                       // hlt (before P: never runs the code it reads)
  body.push(0x9c, 0x9d, 0xfa, 0x0f, 0x01, 0x05, 0x00, 0x32); // P: pushf ; popf ; cli ; sgdt [...]
  return body;
}
// the hidden pushf in a loop run 1000 times: its block is compiled by the JIT (threshold 256) and still hands
// every pushf over: mov ecx, 1000 ; L: jmp +1 ; (mov al, 0x9c → pushf) ; pop eax ; or esi, eax ; loop L ; hlt
const HIDDEN_PUSHF_LOOP = [
  0xfa, 0x31, 0xf6, 0xb9, ...d32(1000), // cli ; xor esi, esi ; mov ecx, 1000
  0xeb, 0x01, 0xb0, 0x9c,               // L: jmp +1 ; (mov al, 0x9c: pushf)
  0x58, 0x09, 0xc6,                     // pop eax ; or esi, eax
  0xe2, 0xf7,                           // loop L
  0xf4,                                 // hlt
];

describe("run-time translation: full mode = native where a static sweep cannot see", () => {
  it("pushf reached by jumping into the middle of another instruction, after cli, reports IF=0", () => {
    const r = both(HIDDEN_PUSHF);
    expect(r.nat.eax & IF).toBe(0);
    expect(r.full).toEqual(r.nat);
    expect(caught(r.f.mo, "pushf")).toBe(1);
  });
  it("a hidden sgdt returns the guest's GDT (base 0x4000), not the VMM's", () => {
    const r = both(HIDDEN_SGDT);
    expect(r.nat.out[0] >>> 16).toBe(0x4000);
    expect(r.full).toEqual(r.nat);
  });
  it("code generated at run time in a data page (pushf, sgdt, popf there) behaves as native", () => {
    const r = both(generatedBody());
    expect(r.nat.eax & IF).toBe(0);      // pushf after cli
    expect(r.nat.ebx & IF).toBe(IF);     // popf set IF, pushf shows it
    expect(r.nat.out[2] >>> 16).toBe(0x4000);
    expect(r.full).toEqual(r.nat);
    expect([caught(r.f.mo, "pushf"), caught(r.f.mo, "popf"), caught(r.f.mo, "sgdt")]).toEqual([2, 2, 1]);
  });
  it("the guest reads back its own code bytes unchanged", () => {
    const r = both(readBackBody());
    expect(r.nat.eax).toBe(0x0ffa9d9c); // pushf ; popf ; cli ; (0f
    expect(r.nat.ebx).toBe(0x32000501); //  01 05 00 32: sgdt's first bytes)
    expect(r.full).toEqual(r.nat);
  });
  it("compiled blocks hand the sensitive instruction over too (the hidden pushf 1000 times in a JIT-compiled loop)", () => {
    const r = both(HIDDEN_PUSHF_LOOP);
    expect(r.nat.esi & IF).toBe(0);
    expect(r.full).toEqual(r.nat);
    expect(caught(r.f.mo, "pushf")).toBe(1000);
    expect(r.f.m.jitStats.compiled).toBeGreaterThan(0);
  });
  it("an ELF without section headers (e_shnum = 0) runs correctly: the protection guest prints what QEMU prints", async () => {
    const img = stripSectionHeaders(new Uint8Array(readFileSync(PROTECTION)));
    const r = await runImage({ image: img, mode: "full", memSize: 64 << 20, maxInstructions: 50_000_000 });
    expect(r.console.split("\n")).toEqual(readFileSync(join(ROOT, "fixtures/qemu/protection.out"), "utf8").split("\n"));
    expect(r.exitStatus).toBe(1);
  });
});

describe("at virtual CPL 3 the hole instructions run natively unless they would differ", () => {
  /** enters user mode at UCODE_AT with these EFLAGS: push 0x23 ; push USTACK ; push fl ; push 0x1b ; push UCODE_AT ; iret */
  const toUser = (fl: number) => [0x6a, UDATA, 0x68, ...d32(USTACK), 0x68, ...d32(fl), 0x6a, UCODE, 0x68, ...d32(UCODE_AT), 0xcf];
  // user: pushf ; pop eax ; sgdt [OUT] ; smsw ebx ; hlt (#GP at CPL 3: the handler records vector 13 and halts)
  const probe = [0x9c, 0x58, 0x0f, 0x01, 0x05, ...d32(OUT), 0x0f, 0x01, 0xe3, 0xf4];
  it("IF=1, IOPL=0: pushf runs natively (exact), sgdt and smsw are handed over (the real tables and CR0 are the VMM's)", () => {
    const r = both(toUser(0x202), { user: [0x6a, UDATA, 0x1f, ...probe] }); // push 0x23 ; pop ds ; probe
    expect(r.nat.eax & (IF | 0x3000)).toBe(IF);
    expect(r.nat.out[0] >>> 16).toBe(0x4000);
    expect(r.nat.ebx & 0x80000000).toBe(0); // the guest never enabled paging
    expect(r.full).toEqual(r.nat);
    expect(r.f.rd32(VEC_SEEN)).toBe(13);
    expect(caught(r.f.mo, "pushf")).toBe(0);
    expect(r.f.mo.stats.exits).toMatchObject({ "sensitive sgdt": 1, "sensitive smsw": 1 });
  });
  it("IOPL=3 and a user cli: pushf is handed over and shows IF=0, IOPL=3 as natively", () => {
    const r = both(toUser(0x3202), { user: [0xfa, ...probe] }); // cli (allowed at IOPL 3) ; probe
    expect(r.nat.eax & (IF | 0x3000)).toBe(0x3000);
    // DS was nulled by the iret to CPL 3: the sgdt through it is #GP(0), in full mode too (the emulation makes
    // the CPU's segment checks: rules.ts segAccessCheck), and smsw never runs
    expect(r.nat.out[0]).toBe(0);
    expect(r.nat.ebx).toBe(0);
    expect(r.f.rd32(VEC_SEEN)).toBe(13);
    expect(r.full).toEqual(r.nat);
    expect(caught(r.f.mo, "pushf")).toBe(1);
  });
});

/** The ELF with e_shoff = 0, e_shnum = 0, e_shstrndx = 0 (legal: section headers are optional for execution). */
function stripSectionHeaders(img: Uint8Array): Uint8Array {
  const out = img.slice();
  const dv = new DataView(out.buffer);
  dv.setUint32(32, 0, true);
  dv.setUint16(48, 0, true);
  dv.setUint16(50, 0, true);
  return out;
}

describe("the static sweep (translate: \"static\") gets these wrong: why translation happens at run time", () => {
  const S: MiniOpts = { translate: "static" };
  it("the hidden pushf leaks the real IF=1, the hidden sgdt the VMM's GDT", () => {
    const p = both(HIDDEN_PUSHF, S);
    expect(p.full.eax & IF).toBe(IF);
    const g = both(HIDDEN_SGDT, S);
    expect(g.full.out[0] >>> 16).toBe((VMM_LINEAR + GDT_K) & 0xffff);
  });
  it("generated code runs unpatched; the guest reads 0xCC in its own code", () => {
    const r = both(generatedBody(), S);
    expect(r.full.eax & IF).toBe(IF);
    const b = both(readBackBody(), S);
    expect(b.full.eax & 0xff).toBe(0xcc);
  });
  it("an ELF without section headers runs unpatched", async () => {
    const img = stripSectionHeaders(new Uint8Array(readFileSync(PROTECTION)));
    const r = await runImage({ image: img, mode: "full", memSize: 64 << 20, maxInstructions: 50_000_000, translate: "static" });
    expect(r.console).not.toEqual(readFileSync(join(ROOT, "fixtures/qemu/protection.out"), "utf8"));
  });
});

describe("CLI: --full-translate runtime|static", () => {
  const run = async (...argv: string[]) => {
    let out = "", err = "";
    const status = await main(argv, { stdout: (t) => { out += t; }, stderr: (t) => { err += t; } });
    return { status, out, err };
  };
  it("parses runtime and static, refuses anything else and any mode but full in one line (status 2)", async () => {
    expect(parseCliArgs(["run", "k.elf", "--mode", "full", "--full-translate", "static"])).toMatchObject({ translate: "static" });
    expect(parseCliArgs(["run", "k.elf", "--full-translate=runtime"])).toMatchObject({ translate: "runtime" });
    expect(() => parseCliArgs(["run", "k.elf", "--full-translate", "jit"])).toThrow(UsageError);
    const r = await run("run", PROTECTION, "--full-translate", "static");
    expect(r.status).toBe(2);
    expect(r.err).toBe("wasmvisor: --full-translate is an option of --mode full, not native\n");
  });
  it("static and runtime both run the protection guest as QEMU does (it has section headers)", async () => {
    const want = readFileSync(join(ROOT, "fixtures/qemu/protection.out"), "utf8");
    for (const t of ["static", "runtime"]) {
      const r = await run("run", PROTECTION, "--mode", "full", "--full-translate", t, "--max-instructions", "50M");
      expect([t, r.out]).toEqual([t, want]);
      expect(r.status).toBe(1);
    }
  });
});
