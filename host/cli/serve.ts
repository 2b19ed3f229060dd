// serve.ts — `wasmvisor serve [--port N] [--xv6 DIR]`: the browser page (dist/web/, scripts/build-web.mjs), the CPU
// (build/cpu.wasm) and the guest images over HTTP on 127.0.0.1, with Node's http module. Only a fixed table of
// files is served — the page, the wasm, the bundled guests by name and xv6's kernel and fs.img — so no request
// path ever reaches the file system. Runs until SIGINT/SIGTERM (status 0).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createReadStream, existsSync, statSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { EXIT_STATUS } from "../vm.ts";
import { UsageError } from "./args.ts";
import type { Catalog, GuestEntry } from "../../web/catalog.ts";

export const DEFAULT_SERVE_PORT = 8080;
export const SERVE_HOST = "127.0.0.1";

export interface ServeArgs { port: number; xv6Dir?: string }

export function parseServeArgs(argv: string[]): ServeArgs | { help: true } {
  const out: ServeArgs = { port: DEFAULT_SERVE_PORT };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-h" || a === "--help") return { help: true };
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (name !== "--port" && name !== "--xv6") {
      throw new UsageError(a.startsWith("-") ? `unknown option '${name}' for serve (try \`wasmvisor --help\`)` : `serve takes no argument '${a}'`);
    }
    let value: string;
    if (eq > 0) value = a.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`option '${name}' needs a value`);
      value = argv[++i];
    }
    if (name === "--port") {
      if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new UsageError(`bad --port '${value}' (a TCP port, 1-65535, or 0 for any free port)`);
      out.port = Number(value);
    } else {
      if (!value) throw new UsageError("--xv6 needs a directory");
      out.xv6Dir = value;
    }
  }
  return out;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".map": "application/json", ".wasm": "application/wasm", ".json": "application/json",
};
const typeOf = (f: string) => TYPES[f.slice(f.lastIndexOf("."))] ?? "application/octet-stream";

const MiB = 1 << 20;
const WORKLOAD_ABOUT: Record<string, string> = {
  compute: "CPU-bound loop", ctxsw: "context switches", disk: "disk reads and writes", fork: "fork + exit",
  mmap: "map and unmap pages", null_syscall: "empty system calls", page_fault: "page faults",
};

/** The URL → file table and the catalog the page shows (GET /api/guests). */
export function serveTable(root: string, xv6Dir: string | undefined): { files: Map<string, string>; catalog: Catalog } {
  const files = new Map<string, string>();
  const web = join(root, "dist/web");
  for (const f of existsSync(web) ? readdirSync(web) : []) files.set(`/${f}`, join(web, f));
  if (files.has("/index.html")) files.set("/", join(web, "index.html"));
  files.set("/cpu.wasm", join(root, "build/cpu.wasm"));
  const guests: GuestEntry[] = [];
  if (xv6Dir) {
    files.set("/guests/xv6/kernel.elf", join(xv6Dir, "kernel.elf"));
    files.set("/guests/xv6/fs.img", join(xv6Dir, "fs.img"));
    guests.push({ id: "xv6", label: "xv6", about: "MIT's teaching OS: a shell on the console", image: "/guests/xv6/kernel.elf", disk2: "/guests/xv6/fs.img", memSize: 512 * MiB });
  }
  const dir = join(root, "build/guests/workloads"), pvDir = join(root, "build/guests/workloads-pv");
  const elfs = (d: string) => (existsSync(d) ? readdirSync(d).filter((f) => f.endsWith(".elf")).sort() : []);
  const pv = new Set(elfs(pvDir));
  for (const f of elfs(dir)) {
    const name = f.slice(0, -4);
    files.set(`/guests/workloads/${f}`, join(dir, f));
    if (pv.has(f)) files.set(`/guests/workloads-pv/${f}`, join(pvDir, f));
    guests.push({
      id: `workload:${name}`, label: name, about: WORKLOAD_ABOUT[name] ?? "workload", image: `/guests/workloads/${f}`,
      pvImage: pv.has(f) ? `/guests/workloads-pv/${f}` : undefined, memSize: 64 * MiB,
      blankDisk: name === "disk" ? MiB : undefined,
    });
  }
  const echo = join(root, "build/guests/echo/echo.elf");
  if (existsSync(echo)) {
    files.set("/guests/echo/echo.elf", echo);
    guests.push({ id: "echo", label: "echo", about: "echoes what you type (COM1)", image: "/guests/echo/echo.elf", memSize: 16 * MiB });
  }
  return { files, catalog: { guests } };
}

/** The xv6 directory: --xv6 DIR (must hold kernel.elf and fs.img), else ../shared/guests/xv6 beside the package if there. */
export function findXv6(root: string, dir: string | undefined): string | undefined {
  const ok = (d: string) => existsSync(join(d, "kernel.elf")) && existsSync(join(d, "fs.img"));
  if (dir !== undefined) {
    if (!ok(dir)) throw new ServeError(`--xv6 '${dir}': no kernel.elf and fs.img there`);
    return resolve(dir);
  }
  return [join(root, "../shared/guests/xv6"), join(root, "../../shared/guests/xv6")].find(ok);
}

class ServeError extends Error {}

function handler(files: Map<string, string>, catalogJson: string) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, text: string) => {
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text) }).end(text);
    };
    if (req.method !== "GET" && req.method !== "HEAD") { res.setHeader("allow", "GET, HEAD"); send(405, "method not allowed\n"); return; }
    let path: string;
    try { path = new URL(req.url ?? "/", "http://x").pathname; } catch { send(400, "bad request\n"); return; }
    if (path === "/api/guests") {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : catalogJson);
      return;
    }
    const file = files.get(path);
    let size: number;
    try { size = file ? statSync(file).size : -1; } catch { size = -1; }
    if (!file || size < 0) { send(404, "not found\n"); return; }
    res.writeHead(200, { "content-type": typeOf(file), "content-length": size, "cache-control": "no-cache" });
    if (req.method === "HEAD") { res.end(); return; }
    createReadStream(file).on("error", () => res.destroy()).pipe(res);
  };
}

export interface ServeIo {
  stdout(text: string): void;
  /** where SIGINT and SIGTERM come from (process) */
  signals?: NodeJS.EventEmitter;
}

/** Serves until a signal; returns the exit status (0 after SIGINT/SIGTERM; 4 port in use or nothing to serve). */
export async function serve(a: ServeArgs, io: ServeIo, err: (m: string) => void, root: string): Promise<number> {
  let xv6: string | undefined;
  try { xv6 = findXv6(root, a.xv6Dir); } catch (e) { err((e as Error).message); return EXIT_STATUS.BAD_INPUT; }
  const { files, catalog } = serveTable(root, xv6);
  if (!files.has("/")) { err(`the page is not built: ${join(root, "dist/web/index.html")} is missing (run \`npm run build:web\`)`); return EXIT_STATUS.BAD_INPUT; }
  if (!existsSync(files.get("/cpu.wasm")!)) { err("build/cpu.wasm is missing (run `npm run build:wasm`)"); return EXIT_STATUS.BAD_INPUT; }
  const server = createServer(handler(files, JSON.stringify(catalog)));
  const listening = await new Promise<NodeJS.ErrnoException | null>((res) => {
    server.once("error", (e) => res(e));
    server.listen(a.port, SERVE_HOST, () => res(null));
  });
  if (listening) {
    const why = listening.code === "EADDRINUSE" ? "is in use" : listening.code === "EACCES" ? "needs privileges" : `cannot be used (${listening.message})`;
    err(`port ${a.port} on ${SERVE_HOST} ${why}`);
    return EXIT_STATUS.BAD_INPUT;
  }
  const port = (server.address() as { port: number }).port;
  const url = `http://${SERVE_HOST}:${port}/`;
  const stopped = new Promise<void>((res) => { // listening for signals before anyone can know the URL
    const stop = () => { io.signals?.removeListener("SIGINT", stop); io.signals?.removeListener("SIGTERM", stop); res(); };
    io.signals?.on("SIGINT", stop);
    io.signals?.on("SIGTERM", stop);
  });
  io.stdout(`wasmvisor: serving ${url} (${catalog.guests.length} guests${xv6 ? ", xv6 from " + xv6 : ", no xv6: --xv6 DIR"}); Ctrl-C stops\n`);
  await stopped;
  server.closeAllConnections();
  await new Promise((res) => server.close(res));
  return 0;
}
