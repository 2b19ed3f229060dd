// types.ts — what the host modules need from the JavaScript runtime they run in: the one seam between Node and a
// browser. host/runtime/index.ts re-exports the Node implementation (node.ts); the web build
// (scripts/build-web.mjs) resolves it to browser.ts instead, as a package's "browser" field would, so the same
// host modules (machine, devices, modes, the run loop) run in both and the page's bundle holds no node: module.
// (Named "runtime", not "platform": in this code base the platform is the PC the guest sees, core/platform.ts.)
import type { PassThrough, Writable } from "node:stream";
import type { Buffer as NodeBuffer } from "node:buffer";

/** The synchronous file operations disk images (devices/block.ts) and snapshot disk references use. */
export interface HostFs {
  readonly constants: { O_RDONLY: number; O_RDWR: number; O_NONBLOCK: number };
  openSync(path: string, flags: number): number;
  fstatSync(fd: number): { isFile(): boolean; size: number; mode: number };
  readSync(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number;
  writeSync(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  readFileSync(path: string): Uint8Array;
}

export interface HostRuntime {
  readonly name: "node" | "browser";
  /** the CPU (build/cpu.wasm), compiled; Node reads it from disk, the browser's worker fetched it first */
  loadCpuWasm(): WebAssembly.Module;
  /** Node's Buffer (the browser: the `buffer` package, the same API) — snapshots and state encoding use it */
  readonly Buffer: typeof NodeBuffer;
  /** zlib format (RFC 1950), as node:zlib's deflateSync/inflateSync */
  deflate(data: Uint8Array, level: number): Uint8Array;
  /** throws when the data is not zlib or inflates to more than maxOutputLength bytes */
  inflate(data: Uint8Array, maxOutputLength: number): Uint8Array;
  sha256(data: Uint8Array): Uint8Array;
  readonly fs: HostFs;
  /** the console as Node streams (VmCore.consoleOut / consoleIn); the browser uses onConsole and platform.receive() */
  passThrough(): PassThrough;
  writable(write: (chunk: Uint8Array) => void): Writable;
}
