// run-v86.mjs — one run of a peers guest (guests/peers) in v86 (npm package `v86`, public API only), for the
// bench's "v86" row, in the manner of shared/peers/run-v86.mjs: v86 needs no BIOS for a multiboot ELF (its CPU
// init loads it and enters protected mode), and the guest's write to port 0xf4 makes v86 throw the string
// "HALT", taken as the end of the run.
//   node scripts/bench/run-v86.mjs GUEST.elf [--nojit]
// The guest's serial output goes to stdout line by line as it comes (the bench times BEGIN → RESULT from it);
// exit status 1 like wasmvisor and QEMU with isa-debug-exit value 0, 3 on a timeout or an error (one line).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const fail = (m) => { process.stderr.write(`run-v86: ${m}\n`); process.exit(3); };
const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith("--"));
if (!file) fail("usage: run-v86.mjs GUEST.elf [--nojit]");
let dir;
try { dir = dirname(createRequire(import.meta.url).resolve("v86/package.json")); } catch { fail("the npm package v86 is not installed"); }
const { V86 } = await import(join(dir, "build/libv86.mjs"));
const kernel = readFileSync(file);
let line = "", done = false;
const emu = new V86({
  wasm_path: join(dir, "build/v86.wasm"),
  memory_size: 32 * 1024 * 1024,
  multiboot: { buffer: kernel.buffer.slice(kernel.byteOffset, kernel.byteOffset + kernel.length) },
  autostart: true, disable_jit: args.includes("--nojit"), disable_keyboard: true, disable_mouse: true, disable_speaker: true,
});
emu.add_listener("serial0-output-byte", (b) => {
  line += String.fromCharCode(b);
  if (b === 10) { process.stdout.write(line); line = ""; }
});
function finish(status) {
  if (done) return;
  done = true;
  if (line) process.stdout.write(line);
  process.stdout.write("", () => process.exit(status));
}
process.on("uncaughtException", (e) => (e === "HALT" ? finish(1) : fail(String(e?.message ?? e).split("\n")[0])));
setTimeout(() => { process.stderr.write("run-v86: timeout\n"); finish(3); }, Number(process.env.V86_TIMEOUT_MS || 600000)).unref();
