// browser.ts — the host runtime in a browser (types.ts), substituted for node.ts by scripts/build-web.mjs: the CPU
// module is compiled by the page's worker (fetch + WebAssembly.compileStreaming) and handed over with
// provideCpuWasm(); Buffer, zlib and sha256 come from maintained pure-JS packages (buffer, fflate, @noble/hashes),
// so snapshots work here too. There are no host files (disks are in-memory images) and no Node streams (the
// page reads the console through onConsole and types through platform.receive()).
import type { PassThrough, Writable } from "node:stream";
import { Buffer } from "buffer";
import { zlibSync, unzlibSync } from "fflate";
import { sha256 } from "@noble/hashes/sha2.js";
import type { HostFs, HostRuntime } from "./types.ts";

let cpuModule: WebAssembly.Module | null = null;

/** The compiled build/cpu.wasm, before the first Machine is created. */
export function provideCpuWasm(module: WebAssembly.Module): void { cpuModule = module; }

function unavailable(what: string): never {
  throw new Error(`wasmvisor: ${what} is not available in the browser`);
}

const fs: HostFs = {
  constants: { O_RDONLY: 0, O_RDWR: 2, O_NONBLOCK: 0o4000 },
  openSync: (path) => unavailable(`a host file ('${path}')`),
  fstatSync: () => unavailable("a host file"),
  readSync: () => unavailable("a host file"),
  writeSync: () => unavailable("a host file"),
  fsyncSync: () => unavailable("a host file"),
  closeSync: () => unavailable("a host file"),
  readFileSync: (path) => unavailable(`a host file ('${path}')`),
};

export const runtime: HostRuntime = {
  name: "browser",
  loadCpuWasm: () => cpuModule ?? unavailable("the CPU before provideCpuWasm() (build/cpu.wasm)"),
  Buffer: Buffer as unknown as HostRuntime["Buffer"],
  deflate: (data, level) => zlibSync(data, { level: level as 1 }),
  inflate: (data, maxOutputLength) => {
    // a fixed output buffer one byte longer than allowed: a payload that inflates further cannot exhaust memory
    const out = unzlibSync(data, { out: new Uint8Array(maxOutputLength + 1) });
    if (out.length > maxOutputLength) throw new RangeError("inflated data exceeds its declared length");
    return out;
  },
  sha256: (data) => sha256(data),
  fs,
  passThrough: (): PassThrough => unavailable("a Node stream (use onConsole)"),
  writable: (): Writable => unavailable("a Node stream (use platform.receive())"),
};
