// browser.test.ts — the page of `wasmvisor serve` in headless Chromium (Debian's `chromium` package, driven by
// playwright-core with the system browser: nothing downloads a browser): boot xv6, type `ls` into the xterm.js
// terminal and read the listing back from the terminal's buffer, then switch guest and mode (a workload in full
// mode, its PV build in para mode) and compare its console with the CLI's; the counters and charts must be live;
// a kernel picked from local files (the echo guest) echoes keystrokes.
// Leaves a screenshot in build/artifacts/browser.png (a CI artifact). Skipped, saying why, without chromium.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { buildElf } from "../host/elf.ts";
import { CONSOLE_WINDOW } from "../web/protocol.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const XV6 = [join(ROOT, "../shared/guests/xv6"), join(ROOT, "../../shared/guests/xv6")].find((d) => existsSync(join(d, "kernel.elf")));
if (!HAVE_CHROMIUM) console.warn(`browser.test.ts: skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

type PageApi = { screenText(): string; status(): { text: string; state: string }; samples(): number; maxBacklog(): number };

/** A multiboot kernel that writes lines of 'x' to port 0xE9 forever (as test/cli-flood.test.ts). */
function floodGuest(): Uint8Array {
  const le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
  const img = new Uint8Array(0x2000);
  const dv = new DataView(img.buffer);
  dv.setUint32(0, 0x1badb002, true);
  dv.setUint32(8, -0x1badb002 >>> 0, true);
  // l: cld; mov esi, 0x101000; mov ecx, 4096; mov dx, 0xe9; rep outsb; jmp l
  img.set([0xfc, 0xbe, ...le(0x101000), 0xb9, ...le(4096), 0x66, 0xba, 0xe9, 0x00, 0xf3, 0x6e, 0xeb, 0xee], 0x10);
  img.set(new TextEncoder().encode("x".repeat(4095) + "\n"), 0x1000);
  return buildElf({ entry: 0x100010, segments: [{ paddr: 0x100000, data: img }] });
}
const screen = (page: Page) => page.evaluate(() => (window as unknown as { wasmvisor: PageApi }).wasmvisor.screenText());
const status = (page: Page) => page.evaluate(() => (window as unknown as { wasmvisor: PageApi }).wasmvisor.status());

/** the console of a CLI run, without the lines that carry timings */
function cliConsole(image: string, mode: string): string[] {
  const r = spawnSync(process.execPath, [join(ROOT, "dist/cli.js"), "run", join(ROOT, image), "--mode", mode], { encoding: "utf8" });
  return r.stdout.split("\n").map((l) => l.trimEnd()).filter((l) => l && !l.startsWith("time "));
}

describe.skipIf(!HAVE_CHROMIUM)("the page in headless Chromium", () => {
  let server: ChildProcess;
  let url = "";
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    for (const [file, script] of [["dist/cli.js", "scripts/build-cli.mjs"], ["dist/web/index.html", "scripts/build-web.mjs"]]) {
      if (!existsSync(join(ROOT, file))) spawnSync(process.execPath, [join(ROOT, script)], { stdio: "inherit" });
    }
    server = spawn(process.execPath, [join(ROOT, "dist/cli.js"), "serve", "--port", "0", ...(XV6 ? ["--xv6", XV6] : [])], { stdio: ["ignore", "pipe", "pipe"] });
    url = await new Promise<string>((res, rej) => {
      let out = "", err = "";
      server.stdout!.on("data", (d) => { out += d; const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(out); if (m) res(m[0]); });
      server.stderr!.on("data", (d) => { err += d; });
      server.on("exit", (code) => rej(new Error(`serve exited with ${code}: ${err}`)));
    });
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => (document.getElementById("guest") as HTMLSelectElement).options.length > 1);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    server?.kill("SIGTERM");
  });

  it.skipIf(!XV6)("boots xv6, runs `ls` typed into the terminal and shows the listing, with live counters", async () => {
    await page.selectOption("#guest", "xv6");
    await page.selectOption("#mode", "native");
    expect(await page.inputValue("#mem")).toBe("512");
    await page.click("#start");
    await page.waitForFunction(() => /\$ $/m.test((window as unknown as { wasmvisor: PageApi }).wasmvisor.screenText()), null, { timeout: 60_000 });
    expect(await screen(page)).toContain("init: starting sh");
    await page.locator("#terminal .xterm-helper-textarea").focus(); // keystrokes go to xterm.js, as a user's do
    await page.keyboard.type("ls");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => /^usertests\s+2\s+\d+\s+\d+$/m.test((window as unknown as { wasmvisor: PageApi }).wasmvisor.screenText()), null, { timeout: 60_000 });
    const text = await screen(page);
    expect(text).toMatch(/^\$ ls$/m);
    for (const f of ["README", "cat", "echo", "sh", "ls", "usertests"]) expect(text).toMatch(new RegExp(`^${f}\\s+2\\s+\\d+\\s+\\d+$`, "m"));
    // the counters and the charts move while xv6 spins at its prompt
    await page.waitForFunction(() => (window as unknown as { wasmvisor: PageApi }).wasmvisor.samples() >= 3, null, { timeout: 30_000 });
    expect(Number(await page.textContent("#c-mips"))).toBeGreaterThan(0);
    expect(await page.locator("#causes tr").count()).toBeGreaterThan(0);
    expect(await page.locator("#chart-mips canvas").count()).toBe(1);
    expect(await status(page)).toMatchObject({ state: "running" });
    mkdirSync(join(ROOT, "build/artifacts"), { recursive: true });
    await page.screenshot({ path: join(ROOT, "build/artifacts/browser.png") });
  }, 180_000);

  for (const [mode, image] of [["full", "build/guests/workloads/compute.elf"], ["para", "build/guests/workloads-pv/compute.elf"]] as const) {
    it(`switches to the compute workload in ${mode} mode: the same console as the CLI's, and ${mode} counters`, async () => {
      await page.selectOption("#guest", "workload:compute");
      await page.selectOption("#mode", mode);
      await page.click("#start");
      await page.waitForFunction(() => (window as unknown as { wasmvisor: PageApi }).wasmvisor.status().state === "done", null, { timeout: 120_000 });
      expect((await status(page)).text).toMatch(/status 1, debug-exit/); // isa-debug-exit 0 → (0 << 1) | 1
      const lines = (await screen(page)).split("\n").map((l) => l.trimEnd()).filter((l) => l && !l.startsWith("time "));
      expect(lines).toEqual(cliConsole(image, mode));
      expect(lines).toContain("status ok compute");
      const shadow = await page.textContent("#c-shadow");
      if (mode === "full") expect(shadow).toMatch(/^[\d,.]+ \([\d,]+ in all\)$/);
      else expect(shadow).toContain("full mode");
      if (mode === "full") expect(Number((shadow ?? "").match(/\(([\d,]+) in all/)![1].replace(/,/g, ""))).toBeGreaterThan(0);
    }, 180_000);
  }

  it("runs a kernel picked from local files and echoes what is typed", async () => {
    await page.selectOption("#guest", "upload");
    await page.selectOption("#mode", "native");
    await page.locator("details summary").click();
    await page.setInputFiles("#upload-kernel", join(ROOT, "build/guests/echo/echo.elf"));
    await page.click("#start");
    await page.waitForFunction(() => (window as unknown as { wasmvisor: PageApi }).wasmvisor.screenText().startsWith("echo> "));
    await page.locator("#terminal .xterm-helper-textarea").focus();
    await page.keyboard.type("hello");
    await page.waitForFunction(() => (window as unknown as { wasmvisor: PageApi }).wasmvisor.screenText() === "echo> hello");
    await page.keyboard.type("q"); // the guest exits through isa-debug-exit on 'q'
    await page.waitForFunction(() => (window as unknown as { wasmvisor: PageApi }).wasmvisor.status().state === "done");
    expect((await status(page)).text).toMatch(/status 1, debug-exit/);
  }, 60_000);

  it("a guest flooding its console runs only as fast as the terminal writes (bounded backlog, page responsive)", async () => {
    await page.selectOption("#guest", "upload");
    await page.selectOption("#mode", "native");
    await page.setInputFiles("#upload-kernel", { name: "flood.elf", mimeType: "application/octet-stream", buffer: Buffer.from(floodGuest()) });
    await page.click("#start");
    await page.waitForFunction(() => (window as unknown as { wasmvisor: PageApi }).wasmvisor.samples() >= 6, null, { timeout: 30_000 });
    // the page's main thread busy for 4 s: the terminal writes nothing, so only back-pressure stops the guest
    await page.evaluate(() => { const end = performance.now() + 4000; while (performance.now() < end); });
    await page.waitForTimeout(500);
    const t0 = Date.now();
    expect(await status(page)).toMatchObject({ state: "running" });
    expect(Date.now() - t0).toBeLessThan(2000); // the page answers while the guest floods
    const backlog = await page.evaluate(() => (window as unknown as { wasmvisor: PageApi }).wasmvisor.maxBacklog());
    console.log(`flood: largest console backlog ${backlog} characters`);
    expect(backlog).toBeGreaterThan(0);
    expect(backlog).toBeLessThan(CONSOLE_WINDOW + 64 * 1024);
    expect(await screen(page)).toContain("x".repeat(100));
    await page.click("#stop");
  }, 60_000);

  it("says in the status line when para mode has no PV build of a guest, and threw nothing", async () => {
    await page.selectOption("#guest", "echo");
    await page.selectOption("#mode", "para");
    await page.click("#start");
    await page.waitForFunction(() => (window as unknown as { wasmvisor: PageApi }).wasmvisor.status().state === "error");
    expect((await status(page)).text).toMatch(/no paravirtualized build/);
    expect(pageErrors).toEqual([]);
  });
});
