// node.ts — the host runtime on Node (types.ts): build/cpu.wasm from disk, node:fs, node:zlib, node:crypto, streams.
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import * as nodeFs from "node:fs";
import { dirname, join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { deflateSync, inflateSync } from "node:zlib";
import type { HostRuntime } from "./types.ts";

function loadCpuWasm(): WebAssembly.Module {
  const here = dirname(fileURLToPath(import.meta.url));
  // host/runtime/ in the source tree, dist/ when bundled: build/ sits beside host/ and dist/.
  const candidates = [join(here, "../../build/cpu.wasm"), join(here, "../build/cpu.wasm"), join(here, "build/cpu.wasm")];
  for (const c of candidates) {
    let bytes: Buffer;
    try { bytes = nodeFs.readFileSync(c); } catch { continue; }
    return new WebAssembly.Module(new Uint8Array(bytes));
  }
  throw new Error("wasmvisor: build/cpu.wasm not found (run `npm run build:wasm`)");
}

export const runtime: HostRuntime = {
  name: "node",
  loadCpuWasm,
  Buffer,
  deflate: (data, level) => deflateSync(data, { level }),
  inflate: (data, maxOutputLength) => inflateSync(data, { maxOutputLength }),
  sha256: (data) => createHash("sha256").update(data).digest(),
  fs: nodeFs,
  passThrough: () => new PassThrough(),
  writable: (write) => new Writable({ write: (chunk: Buffer, _enc, done) => { write(new Uint8Array(chunk)); done(); } }),
};
