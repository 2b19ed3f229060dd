// disk.ts — opening the files `wasmvisor run` is given: the kernel image and raw disk images (checked, locked).
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { DiskImageError, FileBackend } from "../devices/block.ts";
import type { DiskSpec } from "./args.ts";
import { DiskLockError, loadLockAddon, lockImage, lockUnavailableReason } from "./disk-lock.ts";

/** A file given on the command line cannot be used: one line, status 4. */
export class InputError extends Error {}

/** The file exists and is a regular file (a directory, device or FIFO such as /dev/zero is refused). */
export function checkInput(path: string, what: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read ${what} '${path}': ${code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  if (st.isDirectory()) throw new InputError(`cannot read ${what} '${path}': it is a directory`);
  if (!st.isFile()) throw new InputError(`cannot read ${what} '${path}': not a regular file (a device, FIFO or socket)`);
}

export function readInput(path: string, what: string): Uint8Array {
  checkInput(path, what);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new InputError(`cannot read ${what} '${path}': ${(e as Error).message}`);
  }
}

/** Checks before the guest runs that the stats file can be written when it stops. */
export function checkOutputFile(path: string, what: string): void {
  let st;
  try {
    st = statSync(path);
  } catch { /* a new file: its directory must exist and be writable */ }
  const fail = (why: string) => { throw new InputError(`cannot write the ${what} '${path}': ${why}`); };
  if (st?.isDirectory()) fail("it is a directory");
  const dir = dirname(path);
  let dst;
  try {
    dst = statSync(dir);
  } catch {
    fail(`no such directory '${dir}'`);
  }
  if (!dst!.isDirectory()) fail(`'${dir}' is not a directory`);
  try {
    accessSync(st ? path : dir, constants.W_OK);
  } catch {
    fail(st ? "permission denied" : `directory '${dir}' is not writable`);
  }
}

/**
 * A raw disk image file, written in place as QEMU does with raw images; read-only if asked (,readonly) or if nobody
 * may write the file. Locked as QEMU locks images unless lock=off (host/cli/disk-lock.ts).
 */
export function openDisk(spec: DiskSpec, packageRoot: string, warn: (line: string) => void): FileBackend {
  const path = spec.path;
  checkInput(path, "disk image");
  // a file nobody may write (mode without w bits) is read-only even for root, who could open it anyway
  const readOnlyFile = (statSync(path).mode & 0o222) === 0;
  let backend: FileBackend | undefined;
  const open = (readonly: boolean) => {
    try {
      return new FileBackend(path, { readonly });
    } catch (e) {
      if (e instanceof DiskImageError) throw new InputError(`cannot use disk image '${path}': ${e.message}`);
      throw e;
    }
  };
  if (spec.readonly) backend = open(true);
  else {
    try {
      if (readOnlyFile) throw Object.assign(new Error("the file is read-only"), { code: "EACCES" });
      backend = open(false);
    } catch (e) {
      if (e instanceof InputError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EACCES" || code === "EROFS" || code === "EPERM") {
        try {
          backend = open(true);
          warn(`wasmvisor: disk image '${path}' is read-only: attached read-only, guest writes fail with an ATA/virtio error`);
        } catch { /* report the first error */ }
      }
      if (!backend) throw new InputError(`cannot open disk image '${path}': ${(e as Error).message}`);
    }
  }
  if (backend.trailingBytes) {
    warn(`wasmvisor: disk image '${path}' is not a multiple of 512 bytes: its last ${backend.trailingBytes} bytes are not visible to the guest`);
  }
  if (spec.lock !== false) {
    const addon = loadLockAddon(packageRoot);
    if (!addon) warn(`wasmvisor: disk image '${path}' is not locked against other users (${lockUnavailableReason()}); add ,lock=off to silence this`);
    else {
      try {
        lockImage(addon, backend.fileDescriptor, backend.readonly);
      } catch (e) {
        backend.close();
        if (e instanceof DiskLockError) throw new InputError(`disk image '${path}': ${e.message} (is another process using the image? ${path},lock=off skips the lock)`);
        throw e;
      }
    }
  }
  return backend;
}
