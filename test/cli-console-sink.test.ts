// cli-console-sink.test.ts — host/cli/console-sink.ts (bounded console streaming) and the pause it relies on
// (RunOptions.pauseWhen): a paused and resumed guest prints exactly what an uninterrupted one prints.
import { describe, it, expect, beforeAll } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { ConsoleSink } from "../host/cli/console-sink.ts";
import { Vm, PAUSED } from "../host/vm.ts";
import { FullVm } from "../host/full/fullvm.ts";
import { ParaVm } from "../host/para/vm.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PEERS = join(ROOT, "build/guests/peers");
const HAVE_CPU = existsSync(join(ROOT, "build/cpu.wasm"));

/** A stream that takes chunks only when told to (a reader that stops reading). */
function slowStream() {
  const pending: (() => void)[] = [];
  let got = "";
  const s = new Writable({ highWaterMark: 16, decodeStrings: false, write(chunk: string, _e, done) { got += chunk; pending.push(done); } });
  return { s, release: () => { while (pending.length) pending.shift()!(); }, text: () => got };
}

describe("ConsoleSink", () => {
  it("is full once highWater bytes wait, and has room again after drain", async () => {
    const { s, release, text } = slowStream();
    const sink = new ConsoleSink(s, 100);
    sink.write("a".repeat(60));
    expect(sink.full).toBe(false);
    sink.write("b".repeat(60));
    expect(sink.full).toBe(true);
    let resumed = false;
    const wait = sink.waitRoom().then(() => { resumed = true; });
    await new Promise((r) => setImmediate(r));
    expect(resumed).toBe(false); // still no room
    const t = setInterval(release, 1);
    await wait;
    await sink.flush();
    clearInterval(t);
    expect(sink.full).toBe(false);
    expect(sink.pauses).toBe(1);
    expect(text()).toBe("a".repeat(60) + "b".repeat(60));
  });

  it("a wait ends when cancelled (a signal or the timeout) even if the reader never reads", async () => {
    const { s } = slowStream();
    const sink = new ConsoleSink(s, 10);
    sink.write("x".repeat(20));
    let stop = false;
    const wait = sink.waitRoom(() => stop);
    stop = true;
    sink.wake();
    await wait;
    const flushing = sink.flush(() => stop);
    await flushing;
    expect(sink.full).toBe(true);
  });

  it("a write error stops it; EPIPE is the reader going away", async () => {
    const broken = (code: string) => new Writable({ write(_c, _e, done) { done(Object.assign(new Error(`${code}: failed, write`), { code })); } });
    const pipe = new ConsoleSink(broken("EPIPE"));
    pipe.write("x");
    await new Promise((r) => setImmediate(r));
    expect(pipe.error?.code).toBe("EPIPE");
    expect(pipe.readerGone).toBe(true);
    expect(pipe.full).toBe(true); // the run loop stops on it
    const full = new ConsoleSink(broken("ENOSPC"));
    full.write("x");
    await new Promise((r) => setImmediate(r));
    expect(full.readerGone).toBe(false);
    full.write("more"); // dropped, no throw
    expect(full.written).toBe(1);
  });
});

describe.skipIf(!HAVE_CPU)("RunOptions.pauseWhen", () => {
  beforeAll(() => {
    if (!existsSync(join(PEERS, "guest-1.elf"))) execFileSync("sh", [join(ROOT, "guests/peers/build.sh"), "1"], { stdio: "ignore" });
  });
  for (const [name, make] of [["native", () => new Vm({ captureConsole: true })], ["full", () => new FullVm({ captureConsole: true })]] as const) {
    it(`${name}: pausing at every 3rd exit changes nothing the guest sees`, () => {
      const image = readFileSync(join(PEERS, "guest-1.elf"));
      const ref = make();
      ref.loadMultiboot(image);
      const want = ref.run();
      const vm = make();
      vm.loadMultiboot(image);
      let n = 0, pauses = 0;
      let r = vm.run({ pauseWhen: () => ++n % 3 === 0 });
      while (r.stopReason === "paused") {
        expect(r).toBe(PAUSED);
        pauses++;
        r = vm.run({ pauseWhen: () => ++n % 3 === 0 });
      }
      expect(pauses).toBeGreaterThan(3);
      expect(r.exitStatus).toBe(want.exitStatus);
      expect(vm.console).toBe(ref.console);
      expect(vm.machine.instructions).toBe(ref.machine.instructions);
    });
  }
  const PV = join(ROOT, "build/guests/workloads-pv/compute.elf");
  it.skipIf(!existsSync(PV))("para: pausing at every 3rd exit changes nothing the guest sees", () => {
    const image = readFileSync(PV);
    const ref = new ParaVm();
    ref.loadMultiboot(image);
    const want = ref.run();
    const vm = new ParaVm();
    vm.loadMultiboot(image);
    let n = 0, pauses = 0;
    let r = vm.run({ pauseWhen: () => ++n % 3 === 0 });
    while (r.stopReason === "paused") { pauses++; r = vm.run({ pauseWhen: () => ++n % 3 === 0 }); }
    expect(pauses).toBeGreaterThan(3);
    expect(r.exitStatus).toBe(want.exitStatus);
    expect(vm.console).toBe(ref.console);
    expect(vm.machine.instructions).toBe(ref.machine.instructions);
  });
});
