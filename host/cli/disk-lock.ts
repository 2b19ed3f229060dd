// disk-lock.ts — lock disk images as QEMU does, so two wasmvisors (or wasmvisor and QEMU) never write one image.
//
// QEMU's raw driver (block/file-posix.c) takes open-file-description byte-range locks: a shared lock on byte
// 100 + p for each permission p it holds, and on byte 200 + p for each permission it does not let others hold.
// Opening fails if another holder's locks contradict ours: "Failed to get "write" lock". wasmvisor takes the same
// bytes as QEMU's disk devices: writable = holds {consistent read, write}, read-only = holds {consistent read};
// both refuse to share {write, resize}. So readers coexist, and a writer excludes everyone else.
// Node has no fcntl: the calls come from a small addon (native/disklock.cc, built by scripts/build-disklock.mjs).
import { createRequire } from "node:module";
import { join } from "node:path";
import { existsSync } from "node:fs";

const PERM_BASE = 100, SHARED_BASE = 200;
const PERMS = ["consistent read", "write", "write unchanged", "resize"] as const;
const CONSISTENT_READ = 0, WRITE = 1, RESIZE = 3;
const UNLOCK = 0, SHARED = 1, EXCLUSIVE = 2;

interface Addon {
  setLock(fd: number, start: number, len: number, type: number): number;
  testLock(fd: number, start: number, len: number, type: number): number;
}

export class DiskLockError extends Error {}

const loaded = new Map<string, Addon | null>();
let addonProblem = "";

/** The addon under packageRoot, or null with the reason in lockUnavailableReason(). */
export function loadLockAddon(packageRoot: string): Addon | null {
  const file = join(packageRoot, "build/native/disklock.node");
  if (loaded.has(file)) return loaded.get(file)!;
  let addon: Addon | null = null;
  if (!existsSync(file)) addonProblem = `${file} was not built (npm run build:disklock)`;
  else {
    try {
      addon = createRequire(import.meta.url)(file) as Addon;
    } catch (e) {
      addonProblem = `cannot load ${file}: ${(e as Error).message.split("\n")[0]}`;
    }
  }
  loaded.set(file, addon);
  return addon;
}

export function lockUnavailableReason(): string {
  return addonProblem;
}

/** Takes QEMU's locks for an image open on `fd`; throws DiskLockError with QEMU's wording on a conflict. */
export function lockImage(a: Addon, fd: number, readonly: boolean): void {
  const held = readonly ? [CONSISTENT_READ] : [CONSISTENT_READ, WRITE];
  const unshared = [WRITE, RESIZE];
  const take = (byte: number) => {
    const err = a.setLock(fd, byte, 1, SHARED);
    // EAGAIN/EACCES: a conflicting exclusive lock (QEMU never takes one; someone else might)
    if (err) throw new DiskLockError(err === 11 || err === 13 ? `Failed to lock byte ${byte}` : `cannot lock the image (errno ${err})`);
  };
  try {
    for (const p of held) take(PERM_BASE + p);
    for (const p of unshared) take(SHARED_BASE + p);
    // another holder who does not share a permission we hold, or who holds one we do not share
    for (const p of held) if (a.testLock(fd, SHARED_BASE + p, 1, EXCLUSIVE) === -1) throw new DiskLockError(`Failed to get "${PERMS[p]}" lock`);
    for (const p of unshared) if (a.testLock(fd, PERM_BASE + p, 1, EXCLUSIVE) === -1) throw new DiskLockError(`Failed to get shared "${PERMS[p]}" lock`);
  } catch (e) {
    a.setLock(fd, 0, 0, UNLOCK); // length 0: every byte
    throw e;
  }
}
