// os-session.mjs — one wasmvisor session of a real OS for the bench's xv6 and linux sections (scripts/bench/os.mjs):
// boots the guest in one mode, types each command at the shell prompt as a person would, and prints one JSON line
// per milestone on stdout as it happens, so the parent timestamps it on receipt exactly as it timestamps QEMU's
// console. Its own process is the unit of CPU time (the parent reads this process's rusage when it ends).
//   node scripts/bench/os-session.mjs SPEC.json
// SPEC: { kind: "xv6" | "linux", mode, kernel, fsImage? (xv6), initrd?, cmdline? (linux), memSize, commands: [..],
//         maxInstructions (per phase) }
// A milestone line: { phase, cpuMs (this process since its start), instructions (guest instructions, the ones the
// monitor emulated included), stats (the VM's counters, for exits by cause), console (the phase's output) }.
// The last line is { done: true } or { error }.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
for (const ev of ["uncaughtException", "unhandledRejection"]) {
  process.on(ev, (e) => { say({ error: e instanceof Error ? e.message.split("\n")[0] : String(e) }); process.exit(1); });
}
const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { Vm } = await import(join(ROOT, "dist/index.js"));

const vm = new Vm({ mode: spec.mode, memSize: spec.memSize, ...(spec.fsImage ? { disk2: new Uint8Array(readFileSync(spec.fsImage)) } : {}) });
if (spec.kind === "xv6") vm.loadMultiboot(new Uint8Array(readFileSync(spec.kernel)));
else vm.loadBzImage(readFileSync(spec.kernel), { initrd: readFileSync(spec.initrd), cmdline: spec.cmdline });
const uart = vm.platform.devices.uart;
// xv6's prompt is "$ "; busybox ash's "/ # " (then its cursor-position query ESC[6n, which no terminal answers here)
// (checked after every byte the guest sends: only the console's tail is looked at, and the prompts are counted
// only when the tail is one, so the harness costs the session next to nothing)
const PROMPT = spec.kind === "xv6" ? /\$ $/ : /\/ # (\x1b\[6n)?$/;
const countPrompts = () => vm.console.split(spec.kind === "xv6" ? "$ " : "/ # ").length - 1;
const tail = () => vm.console.slice(-8);

const guestInstr = (s) => s.instructions + (s.devices?.full?.emulatedInstructions ?? 0) + (s.devices?.hw?.emulatedInstructions ?? 0);
let mark = 0;
function milestone(phase) {
  const c = process.cpuUsage(), s = vm.stats.toJSON();
  say({ phase, cpuMs: (c.user + c.system) / 1e3, instructions: guestInstr(s), stats: s, console: vm.console.slice(mark).replace(/\r/g, "") });
  mark = vm.console.length;
}
/** Runs until the guest prints its prompt for the n-th time (or `until` matches): it pauses after every byte the
 *  guest sends, so a milestone is seen when it happens, not at the end of a slice. */
function waitFor(done, budget, what) {
  const start = vm.clock; // (instructions + emulated + idle time: a bound on the phase, not a count)
  for (;;) {
    if (done()) return;
    const tx = uart.stats.transmitted;
    const r = vm.run({ maxInstructions: Math.max(1, budget - (vm.clock - start)), pauseWhen: () => uart.stats.transmitted !== tx });
    if (r.stopReason !== "paused" && !done()) throw new Error(`${what}: ${r.stopReason} (${r.message}) before it finished; console ends ${JSON.stringify(vm.console.slice(-200))}`);
    if (r.stopReason !== "paused") return;
  }
}
const atPrompt = (n) => () => PROMPT.test(tail()) && countPrompts() >= n;

let n = 1;
waitFor(atPrompt(n), spec.maxInstructions, "boot");
if (spec.kind === "linux") {
  // an empty line first: what ash reads while it waits for the answer to its query may be lost (test/linux-boot.test.ts)
  vm.consoleIn.write("\n");
  waitFor(atPrompt(++n), spec.maxInstructions, "boot (second prompt)");
}
milestone("boot");
for (const cmd of spec.commands) {
  vm.consoleIn.write(cmd.text + "\n");
  // (the marker is looked for from where the last search stopped, less its length)
  let from = mark;
  const until = new RegExp(cmd.until, "m");
  if (cmd.until) waitFor(() => { const hit = until.test(vm.console.slice(from)); from = Math.max(mark, vm.console.length - 64); return hit; }, spec.maxInstructions, cmd.name);
  else waitFor(atPrompt(++n), cmd.maxInstructions ?? spec.maxInstructions, cmd.name);
  if (!cmd.until) n = countPrompts();
  milestone(cmd.name);
}
say({ done: true });
