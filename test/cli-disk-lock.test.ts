// cli-disk-lock.test.ts — host/cli/disk-lock.ts: QEMU's image locks through the OFD-lock addon. Two open file
// descriptions in one process conflict exactly as two processes do, so the rules are checked in-process.
import { describe, it, expect, afterAll } from "vitest";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DiskLockError, loadLockAddon, lockImage, lockUnavailableReason } from "../host/cli/disk-lock.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "wasmvisor-disklock-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const addon = loadLockAddon(ROOT);

describe.skipIf(!addon)("lockImage", () => {
  const img = join(tmp, "d.img");
  writeFileSync(img, new Uint8Array(4096));
  const open = (ro: boolean) => openSync(img, ro ? "r" : "r+");

  it("a writer excludes writers and readers; readers share; closing releases", () => {
    const w = open(false);
    lockImage(addon!, w, false);
    const w2 = open(false), r = open(true);
    expect(() => lockImage(addon!, w2, false)).toThrow(DiskLockError);
    expect(() => lockImage(addon!, w2, false)).toThrow('Failed to get "write" lock');
    expect(() => lockImage(addon!, r, true)).toThrow('Failed to get shared "write" lock');
    closeSync(w);
    lockImage(addon!, r, true); // the writer is gone
    const r2 = open(true);
    lockImage(addon!, r2, true); // readers share
    expect(() => lockImage(addon!, w2, false)).toThrow('Failed to get "write" lock');
    closeSync(r); closeSync(r2);
    lockImage(addon!, w2, false); // a failed attempt left no lock behind: free again
    closeSync(w2);
  });

  it("takes QEMU's bytes: 100 + held permission, 200 + unshared permission (shared locks)", () => {
    const w = open(false);
    lockImage(addon!, w, false);
    const probe = open(true);
    const conflicts = (byte: number) => addon!.testLock(probe, byte, 1, 2) === -1;
    expect([100, 101, 102, 103, 200, 201, 202, 203].filter(conflicts)).toEqual([100, 101, 201, 203]);
    expect(addon!.testLock(probe, 101, 1, 1)).toBe(0); // shared: a shared lock on the same byte is fine
    closeSync(w); closeSync(probe);
  });
});

describe("the addon build", () => {
  it("degrades to one warning and status 0 when no compiler is there", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "scripts/build-disklock.mjs")], { env: { ...process.env, CXX: "/nonexistent/g++" }, encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("build-disklock: warning: disk image locking not built (no C++ compiler '/nonexistent/g++'); wasmvisor runs without it and says so\n");
  });

  it("without the addon, locking is reported unavailable with the reason", () => {
    expect(loadLockAddon(tmp)).toBeNull();
    expect(lockUnavailableReason()).toMatch(/disklock.node was not built \(npm run build:disklock\)/);
  });
});
