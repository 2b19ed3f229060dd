// cli-serve.test.ts — `wasmvisor serve` (host/cli/serve.ts) over real HTTP, no browser: the page, the wasm and the
// guests byte for byte, only the files of its table (no path reaches the file system), the guest catalog, and its
// one-line errors with their statuses (bad option 2, port in use 4, --xv6 without xv6 4); SIGTERM ends it with 0.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseServeArgs, DEFAULT_SERVE_PORT } from "../host/cli/serve.ts";
import { UsageError } from "../host/cli/args.ts";
import type { Catalog } from "../web/catalog.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "dist/cli.js");
const XV6 = [join(ROOT, "../shared/guests/xv6"), join(ROOT, "../../shared/guests/xv6")].find((d) => existsSync(join(d, "kernel.elf")));

function startServe(args: string[]): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [CLI, "serve", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((res, rej) => {
    let out = "", err = "";
    proc.stdout!.on("data", (d) => { out += d; const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(out); if (m) res({ proc, url: m[0] }); });
    proc.stderr!.on("data", (d) => { err += d; });
    proc.on("exit", (code) => rej(new Error(`serve exited with ${code}: ${err}`)));
  });
}
const TMP = mkdtempSync(join(tmpdir(), "wv-serve-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const exitOf = (p: ChildProcess) => new Promise<number | null>((res) => p.on("exit", (c) => res(c)));

describe("serve options", () => {
  it("defaults to port 8080 and takes --port N / --port=N / --xv6 DIR", () => {
    expect(parseServeArgs([])).toEqual({ port: DEFAULT_SERVE_PORT });
    expect(DEFAULT_SERVE_PORT).toBe(8080);
    expect(parseServeArgs(["--port", "0", "--xv6", "/x"])).toEqual({ port: 0, xv6Dir: "/x" });
    expect(parseServeArgs(["--port=9000"])).toEqual({ port: 9000 });
    expect(parseServeArgs(["--help"])).toEqual({ help: true });
  });
  it.each([[["--port", "65536"]], [["--port", "-1"]], [["--port", "http"]], [["--port"]], [["--bogus"]], [["stray"]]])("refuses %j", (argv) => {
    expect(() => parseServeArgs(argv)).toThrow(UsageError);
  });
});

describe.skipIf(!existsSync(CLI) || !existsSync(join(ROOT, "dist/web/index.html")))("wasmvisor serve over HTTP", () => {
  let server: { proc: ChildProcess; url: string };
  beforeAll(async () => { server = await startServe(["--port", "0", ...(XV6 ? ["--xv6", XV6] : [])]); });
  afterAll(() => { server?.proc.kill("SIGTERM"); });

  it("serves the page, the CPU as application/wasm and the guests byte for byte", async () => {
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<script type="module" src="main.js">');
    for (const f of ["main.js", "worker.js", "main.css"]) expect((await fetch(server.url + f)).status).toBe(200);
    const wasm = await fetch(server.url + "cpu.wasm");
    expect(wasm.headers.get("content-type")).toBe("application/wasm"); // WebAssembly.compileStreaming needs it
    expect(Buffer.from(await wasm.arrayBuffer()).equals(readFileSync(join(ROOT, "build/cpu.wasm")))).toBe(true);
    const elf = await fetch(server.url + "guests/workloads-pv/fork.elf");
    expect(Buffer.from(await elf.arrayBuffer()).equals(readFileSync(join(ROOT, "build/guests/workloads-pv/fork.elf")))).toBe(true);
  });

  it("lists the bundled guests (with their PV builds) and xv6 in the catalog", async () => {
    const c = (await (await fetch(server.url + "api/guests")).json()) as Catalog;
    const compute = c.guests.find((g) => g.id === "workload:compute")!;
    expect(compute).toMatchObject({ image: "/guests/workloads/compute.elf", pvImage: "/guests/workloads-pv/compute.elf", memSize: 64 << 20 });
    expect(c.guests.find((g) => g.id === "workload:disk")?.blankDisk).toBe(1 << 20);
    for (const g of c.guests) {
      for (const u of [g.image, g.pvImage, g.disk2].filter(Boolean)) expect((await fetch(new URL(u!, server.url), { method: "HEAD" })).status).toBe(200);
    }
    if (XV6) {
      expect(c.guests[0]).toMatchObject({ id: "xv6", memSize: 512 << 20, disk2: "/guests/xv6/fs.img" });
      const fs = await fetch(server.url + "guests/xv6/fs.img");
      expect(Buffer.from(await fs.arrayBuffer()).equals(readFileSync(join(XV6, "fs.img")))).toBe(true);
    }
  });

  it("serves nothing outside its table and only GET/HEAD", async () => {
    for (const p of ["package.json", "host/cli.ts", "build/cpu.wasm", "guests/workloads/nope.elf", "guests/workloads/obj", "%2e%2e/package.json", "guests/..%2f..%2fpackage.json"]) {
      expect((await fetch(server.url + p)).status, p).toBe(404);
    }
    const r = await fetch(server.url, { method: "POST", body: "x" });
    expect(r.status).toBe(405);
  });

  it("a second serve on the same port: one line, status 4", () => {
    const port = new URL(server.url).port;
    const r = spawnSync(process.execPath, [CLI, "serve", "--port", port], { encoding: "utf8", timeout: 20_000 });
    expect(r.status).toBe(4);
    expect(r.stderr).toBe(`wasmvisor: port ${port} on 127.0.0.1 is in use\n`);
  });

  it("ends with status 0 on SIGTERM", async () => {
    const s = await startServe(["--port", "0"]);
    const exit = exitOf(s.proc);
    s.proc.kill("SIGTERM");
    expect(await exit).toBe(0);
  });
});

describe.skipIf(!existsSync(CLI))("serve's one-line errors", () => {
  it.each([
    [["--port", "99999"], 2, "wasmvisor: bad --port '99999' (a TCP port, 1-65535, or 0 for any free port)\n"],
    [["--verbose"], 2, "wasmvisor: unknown option '--verbose' for serve (try `wasmvisor --help`)\n"],
    [["--xv6", "EMPTY"], 4, "wasmvisor: --xv6 'EMPTY': no kernel.elf and fs.img there\n"],
  ])("serve %j → status %i", (argv, status, line) => {
    const empty = TMP; // an empty directory: no kernel.elf, no fs.img
    const args = argv.map((a) => (a === "EMPTY" ? empty : a));
    const r = spawnSync(process.execPath, [CLI, "serve", ...args], { encoding: "utf8", timeout: 20_000 });
    expect(r.status).toBe(status);
    expect(r.stderr).toBe(line.replace("EMPTY", empty));
  });
  it("is in --help", () => {
    const r = spawnSync(process.execPath, [CLI, "--help"], { encoding: "utf8" });
    expect(r.stdout).toContain("wasmvisor serve [--port N] [--xv6 DIR]");
  });
});
