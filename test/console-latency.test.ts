// console-latency.test.ts — wall-clock latency of the console through `wasmvisor run` (host/cli/run.ts): a character
// typed on stdin reaches the guest and its echo reaches stdout within a few milliseconds, and a prompt without a
// newline is flushed as soon as the guest wrote it (CONSOLE_FLUSH_MS), not at the next newline or run slice.
// The bounds are generous (a loaded test machine); the medians measured go to docs/RESULTS.md.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { execFileSync, spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { XV6 } from "./xv6-session.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ECHO = join(root, "build/guests/echo/echo.elf");
const CLI = join(root, "dist/cli.js");

const tmp = mkdtempSync(join(tmpdir(), "wasmvisor-lat-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(() => {
  if (!existsSync(ECHO)) execFileSync("sh", [join(root, "guests/echo/build.sh")], { stdio: "inherit" });
});

/** A CLI run whose stdout we watch: `until(text)` resolves with the wall time when stdout has contained it. */
function cli(args: string[]) {
  const p = spawn(process.execPath, [CLI, "run", ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  const waiters: { text: string; from: number; res: (t: number) => void }[] = [];
  p.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    const now = performance.now();
    for (const w of waiters.splice(0)) {
      if (out.indexOf(w.text, w.from) >= 0) w.res(now); else waiters.push(w);
    }
  });
  return {
    get out() { return out; },
    until(text: string, from = 0): Promise<number> {
      return new Promise((res, rej) => {
        if (out.indexOf(text, from) >= 0) { res(performance.now()); return; }
        waiters.push({ text, from, res });
        setTimeout(() => rej(new Error(`no ${JSON.stringify(text)} in ${JSON.stringify(out.slice(-200))}`)), 60_000);
      });
    },
    type(s: string) { p.stdin.write(s); },
    done: new Promise<number | null>((res) => p.on("close", (c) => res(c))),
    kill() { p.kill("SIGKILL"); },
  };
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Types `chars` one at a time, each after the previous echo came back: the wall time of each round trip. */
async function roundTrips(c: ReturnType<typeof cli>, chars: string): Promise<number[]> {
  const times: number[] = [];
  for (const ch of chars) {
    await sleep(5 + Math.random() * 10); // not in step with the run slices
    const from = c.out.length, t = performance.now();
    c.type(ch);
    times.push((await c.until(ch, from)) - t);
  }
  return times;
}

describe.skipIf(!existsSync(CLI))("console latency through wasmvisor run", () => {
  it("echo guest: every typed character comes back within the bound (median reported)", async () => {
    const c = cli([ECHO, "--mem", "4M"]);
    try {
      await c.until("echo> ");
      const times = await roundTrips(c, "abcdefghijklmnop");
      console.log(`echo guest round trip: median ${median(times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms`);
      expect(median(times)).toBeLessThan(200);
      c.type("q");
      expect(await c.done).toBe(1);
    } finally { c.kill(); }
  }, 120_000);

  it.skipIf(!XV6)("xv6: keystrokes echo and the next prompt (no newline) reaches stdout promptly", async () => {
    copyFileSync(join(XV6!, "fs.img"), join(tmp, "fs.img"));
    const c = cli([join(XV6!, "kernel.elf"), "--mem", "512M", "--disk2", join(tmp, "fs.img")]);
    try {
      await c.until("$ ");
      await sleep(300); // past the receiver's settle time (its first character only)
      const times = await roundTrips(c, "echo hi");
      const from = c.out.length, t = performance.now();
      c.type("\n");
      const prompt = (await c.until("hi\n$ ", from)) - t;
      console.log(`xv6 keystroke round trip: median ${median(times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms; ` +
        `'echo hi' to the next prompt ${prompt.toFixed(1)} ms`);
      expect(median(times)).toBeLessThan(200);
      expect(prompt).toBeLessThan(1000);
    } finally { c.kill(); }
  }, 120_000);
});
