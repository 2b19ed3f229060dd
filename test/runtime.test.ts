// runtime.test.ts — the runtime seam (host/runtime/): the browser implementation agrees with Node's (zlib format,
// sha256, Buffer), refuses what a browser cannot do in one line, and the whole host — machine, modes, run loop,
// snapshots — runs on it: here host/runtime/index.ts is mocked to browser.ts, as scripts/build-web.mjs resolves it.
import { describe, it, expect, vi, afterAll } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync, inflateSync } from "node:zlib";
import { createHash } from "node:crypto";

vi.mock("../host/runtime/index.ts", async () => await import("../host/runtime/browser.ts"));

const { runtime, provideCpuWasm } = await import("../host/runtime/browser.ts");
const { runtime: nodeRuntime } = await import("../host/runtime/node.ts");
const { Vm, runImage } = await import("../host/vm.ts");

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const TMP = mkdtempSync(join(tmpdir(), "wv-runtime-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const text = new TextEncoder().encode("wasmvisor ".repeat(1000));

describe("the browser runtime agrees with Node's", () => {
  it("deflate and inflate speak zlib both ways", () => {
    expect(Buffer.from(inflateSync(runtime.deflate(text, 1))).equals(Buffer.from(text))).toBe(true);
    expect(Buffer.from(runtime.inflate(deflateSync(text), text.length)).equals(Buffer.from(text))).toBe(true);
  });
  it("inflate refuses data that inflates past its limit, and data that is not zlib", () => {
    expect(() => runtime.inflate(deflateSync(new Uint8Array(1 << 20)), 4096)).toThrow(RangeError);
    expect(() => runtime.inflate(new Uint8Array([1, 2, 3, 4]), 100)).toThrow();
  });
  it("sha256 and Buffer", () => {
    expect(Buffer.from(runtime.sha256(text)).toString("hex")).toBe(createHash("sha256").update(text).digest("hex"));
    expect(runtime.Buffer.from(text).toString("base64")).toBe(Buffer.from(text).toString("base64"));
  });
  it("has no host files and no Node streams: one line each", () => {
    expect(() => runtime.fs.openSync("/etc/hostname", 0)).toThrow("wasmvisor: a host file ('/etc/hostname') is not available in the browser");
    expect(() => runtime.passThrough()).toThrow(/not available in the browser/);
  });
});

describe("the host on the browser runtime", () => {
  it("needs the CPU handed over first, then runs guests and snapshots in every mode as on Node", async () => {
    expect(() => new Vm()).toThrow("wasmvisor: the CPU before provideCpuWasm() (build/cpu.wasm) is not available in the browser");
    provideCpuWasm(new WebAssembly.Module(readFileSync(join(ROOT, "build/cpu.wasm"))));
    for (const [mode, dir] of [["native", "workloads"], ["full", "workloads"], ["para", "workloads-pv"]]) {
      const image = new Uint8Array(readFileSync(join(ROOT, `build/guests/${dir}/fork.elf`)));
      const whole = await runImage({ image, mode, cmdline: "iters=2" }); // ~0.8 M instructions
      expect(whole.console).toContain("status ok fork");
      const vm = new Vm({ mode });
      vm.loadMultiboot(image, { cmdline: "iters=2" });
      vm.run({ stopAt: 300_000 });
      const snap = vm.snapshot(); // the `buffer` package, fflate and @noble/hashes instead of node:zlib/crypto
      expect(Buffer.from(snap.subarray(0, 8)).toString("latin1")).toBe("WVSNAP\r\n");
      const again = Vm.restore(snap);
      const r = again.run();
      expect(vm.console + again.console, mode).toBe(whole.console);
      expect(r.exitStatus).toBe(whole.exitStatus);
    }
  }, 120_000);

  it("continues a snapshot the CLI wrote on Node's runtime (one format on both)", () => {
    expect(nodeRuntime.name).toBe("node");
    const image = join(ROOT, "build/guests/workloads/fork.elf"), file = join(TMP, "vm.snap");
    const cli = (args: string[]) => spawnSync(process.execPath, [join(ROOT, "dist/cli.js"), "run", image, "--mode", "full", "--cmdline", "iters=2", ...args], { encoding: "utf8" });
    const whole = cli([]);
    const head = cli(["--snapshot-at", "300000", "--snapshot-file", file]);
    expect(head.status).toBe(0);
    const vm = Vm.restore(readFileSync(file));
    const r = vm.run();
    expect(head.stdout + vm.console).toBe(whole.stdout);
    expect(r.exitStatus).toBe(whole.status);
  }, 60_000);
});
