// guest-kit.test.ts — the guest kit's workloads (guests/workloads/*.c) run under wasmvisor must print exactly
// what they print under QEMU (fixtures/workloads/<name>.out, made by guests/workloads/make-fixtures.sh), except
// for the "time ..." measurement lines. Each fixture's command line is fixtures/workloads/<name>.args.
import { describe, it, expect, beforeAll } from "vitest";
import { readFileSync, readdirSync, existsSync, statSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { runImage } from "../host/vm.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const FIXTURES = join(ROOT, "fixtures/workloads");
const BUILD = join(ROOT, "build/guests/workloads");
const KIT = join(ROOT, "guests/kit");

const WORKLOADS = readdirSync(FIXTURES).filter((f) => f.endsWith(".args")).map((f) => f.slice(0, -5)).sort();
const DISK_BYTES = 1 << 20;

/** everything but the (non-deterministic) timing lines */
const deterministic = (out: string) =>
  out.replace(/\r/g, "").split("\n").filter((l) => !l.startsWith("time ")).join("\n");

/** guest exit status 0 through isa-debug-exit, as QEMU reports it: (0 << 1) | 1 */
const GUEST_OK = 1;

beforeAll(() => {
  const stale = WORKLOADS.some((w) => !existsSync(join(BUILD, `${w}.elf`)));
  if (stale) execFileSync("sh", [join(ROOT, "guests/workloads/build.sh")], { stdio: "inherit" });
});

describe("guest kit: sources", () => {
  it("has a fixture and a program for every workload", () => {
    expect(WORKLOADS).toEqual(["compute", "ctxsw", "disk", "fork", "mmap", "null_syscall", "page_fault", "tlb_miss"]);
    for (const w of WORKLOADS) {
      expect(existsSync(join(FIXTURES, `${w}.out`)), `${w}.out`).toBe(true);
      expect(existsSync(join(ROOT, `guests/workloads/${w}.c`)), `${w}.c`).toBe(true);
    }
  });

  it("keeps every privileged instruction in include/arch.h", () => {
    const privileged = /\b(cli|sti|hlt|lgdt|lidt|ltr|invlpg|in[bwl]?|out[bwl]?|ins[bwl]|outs[bwl]|popf[lw]?|pushf[lw]?|lret|iretl?|wrmsr|rdmsr)\b|%cr\d/;
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d)) {
        const p = join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.(c|h)$/.test(e) && e !== "arch.h") files.push(p);
      }
    };
    walk(KIT);
    for (const f of files) {
      const src = readFileSync(f, "utf8");
      for (const m of src.matchAll(/__asm__\s*(?:volatile\s*)?\(([\s\S]*?)\);/g)) {
        const text = (m[1].match(/"([^"]*)"/g) ?? []).join(" ");
        expect(privileged.test(text), `${f}: ${text}`).toBe(false);
      }
    }
  });
});

describe("guest kit: workloads under wasmvisor match QEMU", () => {
  for (const w of WORKLOADS) {
    it(w, async () => {
      const image = new Uint8Array(readFileSync(join(BUILD, `${w}.elf`)));
      const cmdline = readFileSync(join(FIXTURES, `${w}.args`), "utf8").trim();
      const want = readFileSync(join(FIXTURES, `${w}.out`), "utf8");
      const r = await runImage({
        image,
        mode: "native",
        memSize: 64 << 20,
        maxInstructions: 400_000_000,
        cmdline,
        ...(w === "disk" ? { disk: new Uint8Array(DISK_BYTES) } : {}),
      });
      expect(deterministic(r.console)).toBe(deterministic(want));
      expect(r.exitStatus).toBe(GUEST_OK);
    });
  }

  it("disk: reports a missing disk clearly and fails", async () => {
    const image = new Uint8Array(readFileSync(join(BUILD, "disk.elf")));
    const r = await runImage({ image, mode: "native", memSize: 64 << 20, maxInstructions: 100_000_000, cmdline: "iters=16" });
    expect(r.console).toContain("disk: no disk found");
    expect(r.console).toContain("status FAIL disk");
    expect(r.exitStatus).toBe((2 << 1) | 1);
  });
});
