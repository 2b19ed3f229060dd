// snapshot-cli.test.ts — `wasmvisor run … --snapshot-at N --snapshot-file f` then `wasmvisor restore f` in a new
// process continues the guest exactly: the two stdouts together are the uninterrupted run's, with the same exit
// status, instruction count and disk contents, in every mode; a disk file changed since the snapshot and a broken
// snapshot file are refused with one line (status 4), never a stack trace.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "dist/cli.js");
const TMP = mkdtempSync(join(tmpdir(), "wv-snap-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

beforeAll(() => {
  execFileSync(process.execPath, [join(ROOT, "scripts/build-cli.mjs")], { stdio: "ignore" });
  if (!existsSync(join(ROOT, "build/guests/workloads-pv/disk.elf"))) execFileSync("sh", [join(ROOT, "guests/workloads/build.sh")], { stdio: "inherit" });
});

const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000, input: "" });
  return { status: r.status, out: r.stdout, err: r.stderr };
};
const stats = (f: string) => JSON.parse(readFileSync(f, "utf8"));

describe("wasmvisor run --snapshot-at, then wasmvisor restore in a new process", () => {
  const cmdline = readFileSync(join(ROOT, "fixtures/workloads/disk.args"), "utf8").trim();
  for (const mode of ["native", "full", "para"]) {
    it(`the disk workload in ${mode} mode, with its disk image file`, () => {
      const elf = join(ROOT, `build/guests/${mode === "para" ? "workloads-pv" : "workloads"}/disk.elf`);
      const disk = (n: string) => { const p = join(TMP, `${mode}-${n}.img`); writeFileSync(p, new Uint8Array(1 << 20)); return p; };
      const refDisk = disk("ref"), snapDisk = disk("snap");
      const ref = cli("run", elf, "--mode", mode, "--cmdline", cmdline, "--disk", refDisk, "--stats-file", join(TMP, `${mode}-ref.json`));
      expect(ref.status, ref.err).toBe(1);
      const total = stats(join(TMP, `${mode}-ref.json`)).instructions;
      const at = Math.floor(total / 3);
      const snap = join(TMP, `${mode}.snap`);
      const a = cli("run", elf, "--mode", mode, "--cmdline", cmdline, "--disk", snapDisk, "--snapshot-at", String(at), "--snapshot-file", snap);
      expect(a.status, a.err).toBe(0);
      expect(a.err).toBe("");
      const b = cli("restore", snap, "--stats-file", join(TMP, `${mode}-b.json`));
      expect(b.err).toBe("");
      expect(a.out + b.out).toBe(ref.out);
      expect(b.status).toBe(ref.status);
      const sb = stats(join(TMP, `${mode}-b.json`));
      expect(sb.instructions).toBe(total);
      expect(sb.mode).toBe(mode);
      expect(readFileSync(snapDisk).equals(readFileSync(refDisk))).toBe(true);
      // the disk file has moved on since the snapshot: refused, one line
      const again = cli("restore", snap);
      expect(again.status).toBe(4);
      expect(again.err).toMatch(/^wasmvisor: .*\.snap: disk image '.*' has changed since the snapshot was taken \(sha256 differs\)\n$/);
    }, 180_000);
  }

  it("refuses a corrupted, truncated, foreign or missing snapshot in one line (status 4)", () => {
    const snap = join(TMP, "small.snap");
    const elf = join(ROOT, "build/guests/workloads/compute.elf");
    expect(cli("run", elf, "--snapshot-at", "100000", "--snapshot-file", snap).status).toBe(0);
    const good = readFileSync(snap);
    const bad = Buffer.from(good); bad[good.length >> 1] ^= 1;
    const version = Buffer.from(good); version.writeUInt32LE(99, 8);
    const cases: [Uint8Array, RegExp][] = [
      [bad, /corrupted \(checksum mismatch\)/], [good.subarray(0, 1000), /truncated/], [version, /format version 99/],
      [readFileSync(elf), /not a wasmvisor snapshot/],
    ];
    for (const [bytes, re] of cases) {
      const f = join(TMP, "broken.snap");
      writeFileSync(f, bytes);
      const r = cli("restore", f);
      expect(r.status).toBe(4);
      expect(r.err).toMatch(re);
      expect(r.err.trim().split("\n")).toHaveLength(1);
    }
    const missing = cli("restore", join(TMP, "nope.snap"));
    expect(missing.status).toBe(4);
    expect(missing.err).toMatch(/cannot read snapshot '.*nope\.snap': no such file/);
    expect(cli("restore").status).toBe(2);
    expect(cli("run", elf, "--snapshot-file", snap).err).toMatch(/--snapshot-file needs --snapshot-at/);
    // and the good one still continues to the end
    const r = cli("restore", snap);
    expect(r.status).toBe(1);
  }, 120_000);
});
