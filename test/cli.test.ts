// cli.test.ts — `wasmvisor` as a user runs it: argument parsing in-process, then the bundled dist/cli.js spawned
// with bad inputs (one clear stderr line, a non-zero status) and with the shared peers guest (REPS=1), whose RESULT
// line must equal the native binary's.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCliArgs, parseMemSize, parseCount, parseDuration, parseDiskSpec, formatSize, main, UsageError, DEFAULT_MEM } from "../host/cli.ts";
import { loadLockAddon, lockImage } from "../host/cli/disk-lock.ts";
import { buildElf } from "../host/elf.ts";
import { peersNative } from "../scripts/host-arch.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist/cli.js");
const PEERS = join(ROOT, "build/guests/peers");
const HAVE_CPU = existsSync(join(ROOT, "build/cpu.wasm"));
const tmp = mkdtempSync(join(tmpdir(), "wasmvisor-cli-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  execFileSync(process.execPath, [join(ROOT, "scripts/build-cli.mjs")], { stdio: "ignore" });
  execFileSync("sh", [join(ROOT, "guests/peers/build.sh"), "1"], { stdio: "ignore" });
});

describe("parseCliArgs", () => {
  it("parses run with every option, in either order and with =", () => {
    expect(parseCliArgs(["run", "k.elf"])).toEqual({ command: "run", image: "k.elf", mode: "native", memSize: DEFAULT_MEM, cmdline: "" });
    expect(parseCliArgs(["run", "--mem", "128M", "k.elf", "--max-instructions=5G", "--cmdline", "a b", "--disk", "d.img", "--stats-file", "s.json", "--mode", "native"]))
      .toEqual({ command: "run", image: "k.elf", mode: "native", memSize: 128 << 20, maxInstructions: 5e9, cmdline: "a b", disk: { path: "d.img" }, statsFile: "s.json" });
    expect(parseCliArgs(["run", "k.elf", "--timeout", "1.5s", "--disk", "a,b.img,readonly,lock=off"])).toMatchObject({ timeoutMs: 1500, disk: { path: "a,b.img", readonly: true, lock: false } });
    expect(parseCliArgs(["run", "--", "-weird.elf"])).toMatchObject({ image: "-weird.elf" });
  });
  it("parses the other commands", () => {
    expect(parseCliArgs(["--help"])).toEqual({ command: "help" });
    expect(parseCliArgs(["run", "-h"])).toEqual({ command: "help" });
    expect(parseCliArgs(["--version"])).toEqual({ command: "version" });
    expect(parseCliArgs(["bench", "--json"])).toEqual({ command: "bench", args: ["--json"] });
  });
  it("rejects bad usage with UsageError", () => {
    const bad: [string[], RegExp][] = [
      [[], /no command/],
      [["frobnicate"], /unknown command 'frobnicate'/],
      [["--frob"], /unknown option '--frob'/],
      [["run"], /needs an image file/],
      [["run", "a.elf", "b.elf"], /one image file/],
      [["run", "a.elf", "--bogus"], /unknown option '--bogus'/],
      [["run", "a.elf", "--mem"], /'--mem' needs a value/],
      [["run", "a.elf", "--mode", "turbo"], /unknown --mode 'turbo'/],
      [["run", "a.elf", "--max-instructions", "0"], /bad --max-instructions/],
      [["run", "a.elf", "--max-instructions", "lots"], /bad --max-instructions/],
      [["run", "a.elf", "--mem", "12Q"], /bad --mem '12Q'/],
      [["run", "a.elf", "--timeout", "soon"], /bad --timeout 'soon'/],
      [["run", "a.elf", "--disk", "d.img,cache=none"], /unknown --disk option 'cache=none'/],
      [["run", "a.elf", "--disk", ",readonly"], /--disk needs a file name/],
    ];
    for (const [argv, re] of bad) {
      expect(() => parseCliArgs(argv), argv.join(" ")).toThrow(UsageError);
      expect(() => parseCliArgs(argv), argv.join(" ")).toThrow(re);
    }
  });
  it("parses memory sizes like QEMU's -m", () => {
    expect(parseMemSize("64M")).toBe(64 << 20);
    expect(parseMemSize("64m")).toBe(64 << 20);
    expect(parseMemSize("64MiB")).toBe(64 << 20);
    expect(parseMemSize("1G")).toBe(1 << 30);
    expect(parseMemSize("8192K")).toBe(8 << 20);
    expect(parseMemSize("32")).toBe(32 << 20); // plain number = MiB
    for (const s of ["12Q", "", "M", "-4M", "1.5G", "64MB5", "64B"]) expect(() => parseMemSize(s), s).toThrow(/bad --mem/);
    expect(() => parseMemSize("1M")).toThrow(/too small/);
    expect(() => parseMemSize("1025K")).toThrow(/too small/);
    expect(() => parseMemSize("2049K")).toThrow(/multiple of 4K/);
    expect(() => parseMemSize("8G")).toThrow(/too large/);
  });
  it("parses durations and disk options; formats sizes unsigned", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("2m")).toBe(120_000);
    expect(parseDuration("1h")).toBe(3_600_000);
    expect(parseDuration("7")).toBe(7000);
    for (const s of ["", "0", "0s", "-1s", "1d", "s", "1.5.s"]) expect(() => parseDuration(s), s).toThrow(UsageError);
    expect(() => parseDuration("30d")).toThrow(UsageError);
    expect(() => parseDuration("9999h")).toThrow(/too long/);
    expect(parseDiskSpec("d.img")).toEqual({ path: "d.img" });
    expect(parseDiskSpec("d.img,readonly")).toEqual({ path: "d.img", readonly: true });
    expect(parseDiskSpec("d.img,lock=off,readonly")).toEqual({ path: "d.img", readonly: true, lock: false });
    expect(formatSize(3840 << 20 >>> 0)).toBe("3840M");
    expect(formatSize(0xf0000000)).toBe("3840M");
    expect(formatSize(8192 * 1024 + 4096)).toBe("8196K");
  });
  it("parses instruction counts", () => {
    expect(parseCount("1000")).toBe(1000);
    expect(parseCount("1_000_000")).toBe(1e6);
    expect(parseCount("3k")).toBe(3000);
    expect(parseCount("2M")).toBe(2e6);
  });
});

describe("dist/cli.js", () => {
  it("--help and --version", () => {
    const h = cli("--help");
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/^Usage: wasmvisor run <image.elf>/);
    const v = cli("--version");
    expect(v.status).toBe(0);
    expect(v.stdout).toBe(`wasmvisor ${JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version}\n`);
  });

  it("starts with a node shebang", () => {
    expect(readFileSync(CLI, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
  });

  const notElf = join(tmp, "notes.txt");
  const x64 = join(tmp, "x64.elf");
  const big = join(tmp, "big.elf");
  const plainElf = join(tmp, "plain.elf");
  beforeAll(() => {
    writeFileSync(notElf, "just some text\n");
    const mb = new Uint8Array(16);
    new DataView(mb.buffer).setUint32(0, 0x1badb002, true);
    new DataView(mb.buffer).setUint32(8, -0x1badb002 >>> 0, true);
    const x = buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: mb }] });
    new DataView(x.buffer).setUint16(0x12, 62, true);
    writeFileSync(x64, x);
    writeFileSync(big, buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: mb, memsz: 64 << 20 }] }));
    writeFileSync(plainElf, buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: [0xf4] }] }));
    writeFileSync(join(tmp, "empty.img"), "");
    writeFileSync(join(tmp, "tiny.img"), new Uint8Array(100));
  });

  const cases: [string, string[], number, RegExp][] = [
    ["missing file", ["run", "/nonexistent/kernel.elf"], 4, /^wasmvisor: cannot read image '\/nonexistent\/kernel.elf': no such file$/],
    ["a directory", ["run", "/tmp"], 4, /^wasmvisor: cannot read image '\/tmp': it is a directory$/],
    ["not an ELF", ["run", notElf], 4, /^wasmvisor: .*notes.txt: not an ELF file \(bad magic\)/],
    ["not 32-bit x86", ["run", x64], 4, /^wasmvisor: .*x64.elf: not an x86 ELF \(e_machine=62, x86-64; expected EM_386\)$/],
    ["not multiboot", ["run", plainElf], 4, /^wasmvisor: .*plain.elf: not a multiboot kernel/],
    ["segments outside RAM", ["run", big, "--mem", "16M"], 4, /^wasmvisor: .*big.elf: segment 0 \[0x100000, 0x4100000\) is outside guest RAM \(16 MiB\)/],
    ["unknown option", ["run", notElf, "--turbo"], 2, /^wasmvisor: unknown option '--turbo' for run/],
    ["bad --mem", ["run", notElf, "--mem", "12Q"], 2, /^wasmvisor: bad --mem '12Q'/],
    ["too small --mem", ["run", notElf, "--mem", "1M"], 2, /^wasmvisor: --mem 1M is too small/],
    ["hw mode beyond 4G", ["run", join(PEERS, "guest-1.elf"), "--mode", "hw", "--mem", "3840M"], 2, /^wasmvisor: --mem 3840M is too large for --mode hw \(at most 3832M: the hypervisor's 8M sit below guest RAM\)$/],
    ["missing disk", ["run", join(PEERS, "guest-1.elf"), "--disk", "/nonexistent.img"], 4, /^wasmvisor: cannot read disk image '\/nonexistent.img': no such file$/],
    ["no command", [], 2, /^wasmvisor: no command given/],
    ["an image that is a device", ["run", "/dev/zero"], 4, /^wasmvisor: cannot read image '\/dev\/zero': not a regular file \(a device, FIFO or socket\)$/],
    ["a disk that is a device", ["run", join(PEERS, "guest-1.elf"), "--disk", "/dev/zero"], 4, /^wasmvisor: cannot read disk image '\/dev\/zero': not a regular file/],
    ["an empty disk", ["run", join(PEERS, "guest-1.elf"), "--disk", join(tmp, "empty.img")], 4, /^wasmvisor: cannot use disk image '.*empty.img': the file is empty \(a disk needs at least one 512-byte sector\)$/],
    ["a disk under one sector", ["run", join(PEERS, "guest-1.elf"), "--disk", join(tmp, "tiny.img")], 4, /^wasmvisor: cannot use disk image '.*tiny.img': the file has 100 bytes, less than one 512-byte sector$/],
    ["full mode beyond 4G", ["run", join(PEERS, "guest-1.elf"), "--mode", "full", "--mem", "3840M"], 2, /^wasmvisor: --mem 3840M is too large for --mode full \(at most 3832M: the monitor's 8M sit beside guest RAM\)$/],
    ["stats file in a missing directory", ["run", join(PEERS, "guest-1.elf"), "--stats-file", "/nonexistent/s.json"], 4, /^wasmvisor: cannot write the stats file '\/nonexistent\/s.json': no such directory '\/nonexistent'$/],
    ["stats file that is a directory", ["run", join(PEERS, "guest-1.elf"), "--stats-file", "/tmp"], 4, /^wasmvisor: cannot write the stats file '\/tmp': it is a directory$/],
    ["bad --timeout", ["run", notElf, "--timeout", "0"], 2, /^wasmvisor: bad --timeout '0'/],
  ];
  for (const [what, args, status, re] of cases) {
    it(`fails clearly: ${what}`, () => {
      const r = cli(...args);
      expect(r.status).toBe(status);
      expect(r.stdout).toBe("");
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.stderr.trimEnd()).toMatch(re);
    });
  }

  it.skipIf(!HAVE_CPU)("runs the peers guest (REPS=1): same RESULT as the native binary, exit status 1", () => {
    // the i386 binary, or its x86-64 build on a host that cannot execute i386 (WASMVISOR_NO_I386=1 simulates one)
    const ref = peersNative(PEERS, 1);
    expect(ref.pick, ref.why).not.toBeNull();
    const native = execFileSync(ref.pick!.path).toString();
    expect(native).toMatch(/^RESULT [0-9a-f]{8} REPS 1\n$/);
    const statsFile = join(tmp, "stats.json");
    const r = cli("run", join(PEERS, "guest-1.elf"), "--stats-file", statsFile);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("BEGIN\n" + native);
    const stats = JSON.parse(readFileSync(statsFile, "utf8"));
    expect(stats.exitStatus).toBe(1);
    expect(stats.stopReason).toBe("debug-exit");
    // the workload's exact count plus the kernel's own boot and print code
    expect(stats.instructions).toBeGreaterThan(99857 + 819210);
    expect(stats.mips).toBeGreaterThan(0);
  });

  it.skipIf(!HAVE_CPU)("stops at --max-instructions with status 6", () => {
    const r = cli("run", join(PEERS, "guest-1.elf"), "--max-instructions", "10000");
    expect(r.status).toBe(6);
    expect(r.stdout).toBe("BEGIN\n");
    expect(r.stderr).toBe("wasmvisor: stopped after 10000 instructions (--max-instructions)\n");
  });

  it.skipIf(!HAVE_CPU)("a read-only disk image is attached read-only, with a one-line warning", () => {
    const img = join(tmp, "ro.img");
    writeFileSync(img, new Uint8Array(1 << 20));
    chmodSync(img, 0o444);
    const r = cli("run", join(PEERS, "guest-1.elf"), "--disk", img);
    expect(r.stderr).toBe(`wasmvisor: disk image '${img}' is read-only: attached read-only, guest writes fail with an ATA/virtio error\n`);
    expect(r.status).toBe(1);
  });
});

describe("dist/cli.js: disk images", () => {
  it.skipIf(!HAVE_CPU)("a size that is not a multiple of 512 is used with a one-line warning", () => {
    const img = join(tmp, "odd.img");
    writeFileSync(img, new Uint8Array(1000));
    const r = cli("run", join(PEERS, "guest-1.elf"), "--disk", img);
    expect(r.stderr).toBe(`wasmvisor: disk image '${img}' is not a multiple of 512 bytes: its last 488 bytes are not visible to the guest\n`);
    expect(r.status).toBe(1);
  });

  // The lock is held by this process on its own open file description, exactly as another wasmvisor or QEMU holds it.
  const addon = loadLockAddon(ROOT);
  it.skipIf(!HAVE_CPU || !addon)("a second user of an image is refused as QEMU refuses it; readonly readers share; lock=off skips", () => {
    const img = join(tmp, "locked.img");
    writeFileSync(img, new Uint8Array(1 << 20));
    const fd = openSync(img, "r+");
    try {
      lockImage(addon!, fd, false); // a writer
      const w = cli("run", join(PEERS, "guest-1.elf"), "--disk", img);
      expect(w.status).toBe(4);
      expect(w.stdout).toBe("");
      expect(w.stderr).toBe(`wasmvisor: disk image '${img}': Failed to get "write" lock (is another process using the image? ${img},lock=off skips the lock)\n`);
      const ro = cli("run", join(PEERS, "guest-1.elf"), "--disk", `${img},readonly`);
      expect(ro.status).toBe(4);
      expect(ro.stderr).toMatch(/Failed to get shared "write" lock/);
      const off = cli("run", join(PEERS, "guest-1.elf"), "--disk", `${img},lock=off`);
      expect(off.stderr).toBe("");
      expect(off.status).toBe(1);
    } finally {
      closeSync(fd);
    }
    const fd2 = openSync(img, "r");
    try {
      lockImage(addon!, fd2, true); // a reader: other readers are welcome, writers are not
      expect(cli("run", join(PEERS, "guest-1.elf"), "--disk", `${img},readonly`).status).toBe(1);
      expect(cli("run", join(PEERS, "guest-1.elf"), "--disk", img).stderr).toMatch(/Failed to get "write" lock/);
    } finally {
      closeSync(fd2);
    }
    expect(cli("run", join(PEERS, "guest-1.elf"), "--disk", img).status).toBe(1); // closed: free again
  });

  it("the lock addon is built by npm ci (build/native/disklock.node)", () => {
    expect(addon, "npm run build:disklock").not.toBeNull();
  });
});

describe("main(): no host error escapes", () => {
  it("an exception inside a run is one line on stderr and status 12", async () => {
    let out = "", err = "";
    const stdin = { on() { throw new Error("boom: the host failed\n    at somewhere (file.ts:1:1)"); }, removeListener() {}, pause() {} };
    const status = await main(["run", join(PEERS, "guest-1.elf")], {
      stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, stdin: stdin as unknown as NodeJS.ReadableStream,
    });
    expect(status).toBe(12);
    expect(err).toBe("wasmvisor: internal error: boom: the host failed\n");
    expect(out).toBe("");
  });

  it("--help lists every exit status", () => {
    const h = cli("--help").stdout;
    for (const st of [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]) expect(h, `status ${st}`).toMatch(new RegExp(`^  ${st} +\\S`, "m"));
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    for (const st of [2, 4, 6, 8, 10, 12, 14, 16, 18]) expect(readme, `README status ${st}`).toMatch(new RegExp(`\\| ${st} \\|`));
  });
});

describe("test files clean up their temporary directories", () => {
  it("every test file that makes a temporary directory removes it in afterAll", () => {
    const files = execFileSync("git", ["ls-files", "test"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter((f) => /\.test\.ts$/.test(f));
    for (const f of files) {
      const src = readFileSync(join(ROOT, f), "utf8");
      if (/mkdtempSync\(/.test(src)) expect(src, f).toMatch(/afterAll\([^)]*\)?\s*=>\s*\{?\s*rmSync\(/);
    }
  });
});
