// cli-flood.test.ts — the CLI under a hostile console and a hostile environment: a guest writing its console as fast
// as it can to a reader that stops reading (bounded memory, guest paused, nothing lost), --timeout, SIGINT/SIGTERM/
// SIGHUP, EPIPE (| head) and ENOSPC (>/dev/full). The bundled dist/cli.js is spawned as a user runs it.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildElf } from "../host/elf.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist/cli.js");
const HAVE_CPU = existsSync(join(ROOT, "build/cpu.wasm"));
const tmp = mkdtempSync(join(tmpdir(), "wasmvisor-cli-flood-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const MSG = 0x101000;
/** A multiboot ELF: header (flags 0) at 1 MiB, `code` at 0x100010 (the entry), `msg` at 0x101000. */
function guest(code: number[], msg: string): Uint8Array {
  const img = new Uint8Array(0x1000 + msg.length);
  const dv = new DataView(img.buffer);
  dv.setUint32(0, 0x1badb002, true);
  dv.setUint32(8, -0x1badb002 >>> 0, true);
  img.set(code, 0x10);
  img.set(new TextEncoder().encode(msg), 0x1000);
  return buildElf({ entry: 0x100010, segments: [{ paddr: 0x100000, data: img }] });
}
const LINE = "x".repeat(4095) + "\n";
// native/full, forever: cld; l: mov esi, MSG; mov ecx, 4096; mov dx, 0xe9; rep outsb; jmp l
const FLOOD_IO = [0xfc, 0xbe, ...le(MSG), 0xb9, ...le(4096), 0x66, 0xba, 0xe9, 0x00, 0xf3, 0x6e, 0xeb, 0xee];
// para, forever: l: mov eax, 1 (HC_CONSOLE_WRITE); mov ebx, MSG; mov ecx, 4096; vmcall; jmp l
const FLOOD_PV = [0xb8, ...le(1), 0xbb, ...le(MSG), 0xb9, ...le(4096), 0x0f, 0x01, 0xc1, 0xeb, 0xec];
// "partial" without a newline, then spin: mov esi, MSG; mov ecx, 7; mov dx, 0xe9; rep outsb; jmp $
const PARTIAL_IO = [0xbe, ...le(MSG), 0xb9, ...le(7), 0x66, 0xba, 0xe9, 0x00, 0xf3, 0x6e, 0xeb, 0xfe];
// para: mov eax, 1; mov ebx, MSG; mov ecx, 7; vmcall; jmp $
const PARTIAL_PV = [0xb8, ...le(1), 0xbb, ...le(MSG), 0xb9, ...le(7), 0x0f, 0x01, 0xc1, 0xeb, 0xfe];

const files = {
  floodIo: join(tmp, "flood-io.elf"), floodPv: join(tmp, "flood-pv.elf"),
  partialIo: join(tmp, "partial-io.elf"), partialPv: join(tmp, "partial-pv.elf"),
};
beforeAll(() => {
  execFileSync(process.execPath, [join(ROOT, "scripts/build-cli.mjs")], { stdio: "ignore" });
  writeFileSync(files.floodIo, guest(FLOOD_IO, LINE));
  writeFileSync(files.floodPv, guest(FLOOD_PV, LINE));
  writeFileSync(files.partialIo, guest(PARTIAL_IO, "partial"));
  writeFileSync(files.partialPv, guest(PARTIAL_PV, "partial"));
});

function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

describe.skipIf(!HAVE_CPU)("console flood with a reader that stops reading", () => {
  const modes: [string, string][] = [["native", "floodIo"], ["full", "floodIo"], ["para", "floodPv"]];
  for (const [mode, elf] of modes) {
    it(`${mode}: memory stays bounded, the guest is paused, nothing is lost, --timeout stops it (status 14)`, async () => {
      const stats = join(tmp, `flood-${mode}.json`);
      const c = spawn(process.execPath, [CLI, "run", files[elf as keyof typeof files], "--mode", mode, "--timeout", "5s", "--stats-file", stats], { stdio: ["ignore", "pipe", "pipe"] });
      let err = "", got = 0, bad = false, maxRss = 0;
      c.stderr.on("data", (d) => { err += d; });
      c.stdout.pause(); // the reader stops reading: the pipe fills, then wasmvisor must hold the guest
      const sample = setInterval(() => { maxRss = Math.max(maxRss, rssKiB(c.pid!)); }, 50);
      const exited = new Promise<number | null>((res) => c.on("close", (code) => res(code))); // exited, stdout read
      await sleep(3000);
      c.stdout.on("data", (d: Buffer) => { got += d.length; if (!bad && d.some((b) => b !== 0x78 && b !== 0x0a)) bad = true; });
      c.stdout.resume();
      const status = await exited;
      clearInterval(sample);
      expect(err).toMatch(/^wasmvisor: stopped by --timeout 5s after \d+ instructions\n$/);
      expect(status).toBe(14);
      const s = JSON.parse(readFileSync(stats, "utf8"));
      expect(s.stopReason).toBe("timeout");
      expect(s.exitStatus).toBe(14);
      expect(s.consolePauses).toBeGreaterThan(0); // the guest out-ran the reader and was held
      expect(got).toBe(s.consoleBytes); // everything the guest wrote reached the reader
      expect(bad).toBe(false);
      // before: the whole console was kept (string + unread PassThrough + stdout queue): 300 MB in 5 s in para mode
      expect(maxRss / 1024).toBeLessThan(160);
    }, 30_000);
  }
});

describe.skipIf(!HAVE_CPU)("console errors", () => {
  it("| head: EPIPE ends the run quietly with status 18", () => {
    const t0 = Date.now();
    const r = spawnSync("bash", ["-c", `"${process.execPath}" "${CLI}" run "${files.floodIo}" --timeout 20s | head -c 100 >/dev/null; exit \${PIPESTATUS[0]}`], { encoding: "utf8", timeout: 30_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(18);
    expect(Date.now() - t0).toBeLessThan(15_000); // not the --timeout
  });

  it(">/dev/full: ENOSPC is one line and status 18", () => {
    const full = openSync("/dev/full", "w");
    try {
      const r = spawnSync(process.execPath, [CLI, "run", files.floodIo, "--timeout", "20s"], { stdio: ["ignore", full, "pipe"], encoding: "utf8", timeout: 30_000 });
      expect(r.stderr).toBe("wasmvisor: cannot write the console to stdout: no space left on device (ENOSPC)\n");
      expect(r.status).toBe(18);
    } finally {
      closeSync(full);
    }
  });
});

describe.skipIf(!HAVE_CPU)("signals: one line, the console flushed, the stats file written, status 16", () => {
  const cases: [string, string, NodeJS.Signals][] = [["native", "partialIo", "SIGINT"], ["full", "partialIo", "SIGHUP"], ["para", "partialPv", "SIGTERM"]];
  for (const [mode, elf, sig] of cases) {
    it(`${mode}: ${sig}`, async () => {
      const stats = join(tmp, `signal-${mode}.json`);
      const c = spawn(process.execPath, [CLI, "run", files[elf as keyof typeof files], "--mode", mode, "--stats-file", stats], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "", err = "";
      c.stderr.on("data", (d) => { err += d; });
      const exited = new Promise<number | null>((res) => c.on("exit", (code) => res(code)));
      await new Promise<void>((res) => c.stdout.on("data", (d) => { out += d; if (out.includes("partial")) res(); }));
      c.kill(sig);
      const status = await exited;
      expect(err).toMatch(new RegExp(`^wasmvisor: stopped by ${sig} after \\d+ instructions\\n$`));
      expect(status).toBe(16);
      expect(out).toBe("partial");
      const s = JSON.parse(readFileSync(stats, "utf8"));
      expect(s.stopReason).toBe("signal");
      expect(s.exitStatus).toBe(16);
      expect(s.instructions).toBeGreaterThan(0);
    }, 30_000);
  }
});

describe.skipIf(!HAVE_CPU)("--timeout with a guest that polls its console", () => {
  it("console input still arrives promptly: run slices end by wall time too", () => {
    const echo = join(ROOT, "build/guests/echo/echo.elf");
    const r = spawnSync(process.execPath, [CLI, "run", echo, "--timeout", "3s"], { input: "hello\nquit\n", encoding: "utf8", timeout: 30_000 });
    expect(r.stdout).toBe("echo> hello\n");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(1);
  });

  it("a guest spinning without exits is stopped by --timeout within a slice", () => {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [CLI, "run", files.partialIo, "--timeout", "1500ms"], { encoding: "utf8", timeout: 30_000 });
    expect(r.stdout).toBe("partial");
    expect(r.stderr).toMatch(/^wasmvisor: stopped by --timeout 1.5s after \d+ instructions\n$/);
    expect(r.status).toBe(14);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
