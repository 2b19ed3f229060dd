// host-arch.mjs — which native x86 binaries this host can execute, found by executing a tiny one.
// The real-CPU references (the peers binary build/…/native-R, the oracle build/oracle/oracle) are i386
// binaries; some kernels ship without IA32 emulation and refuse them (exec format error). Their x86-64
// builds (native64-R, oracle64) are the fallback. Used by scripts/bench.mjs, test/diff/oracle.ts and tests.
//
//   canExec("i386" | "x86-64") -> { ok: true } | { ok: false, why }
//
// WASMVISOR_NO_I386=1 (or WASMVISOR_NO_X86_64=1) makes the probe answer "no" for that architecture, to run the
// fallback paths on a host that has both (tests do).
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PROBE_STATUS = 42;

/**
 * A minimal static ELF executable that exits with status 42: ELF header, one PT_LOAD program header
 * mapping the whole file read+execute, then the code.
 *   i386:   mov eax, 1 (exit); mov ebx, 42; int 0x80
 *   x86-64: mov eax, 60 (exit); mov edi, 42; syscall
 * @param {"i386" | "x86-64"} arch
 */
export function tinyElf(arch) {
  const is64 = arch === "x86-64";
  const code = is64
    ? [0xb8, 60, 0, 0, 0, 0xbf, PROBE_STATUS, 0, 0, 0, 0x0f, 0x05]
    : [0xb8, 1, 0, 0, 0, 0xbb, PROBE_STATUS, 0, 0, 0, 0xcd, 0x80];
  const ehsize = is64 ? 64 : 52, phsize = is64 ? 56 : 32, base = is64 ? 0x400000 : 0x08048000;
  const b = Buffer.alloc(ehsize + phsize + code.length);
  b.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1], 0); // magic, class, little-endian, version
  b.writeUInt16LE(2, 16);                                 // ET_EXEC
  b.writeUInt16LE(is64 ? 62 : 3, 18);                     // EM_X86_64 / EM_386
  b.writeUInt32LE(1, 20);                                 // EV_CURRENT
  const entry = base + ehsize + phsize, size = b.length;
  if (is64) {
    b.writeBigUInt64LE(BigInt(entry), 24); b.writeBigUInt64LE(64n, 32);  // e_entry, e_phoff
    b.writeUInt16LE(ehsize, 52); b.writeUInt16LE(phsize, 54); b.writeUInt16LE(1, 56);
    const p = ehsize;
    b.writeUInt32LE(1, p); b.writeUInt32LE(5, p + 4);                     // PT_LOAD, R+X
    b.writeBigUInt64LE(0n, p + 8);                                        // p_offset
    b.writeBigUInt64LE(BigInt(base), p + 16); b.writeBigUInt64LE(BigInt(base), p + 24);
    b.writeBigUInt64LE(BigInt(size), p + 32); b.writeBigUInt64LE(BigInt(size), p + 40);
    b.writeBigUInt64LE(0x1000n, p + 48);
  } else {
    b.writeUInt32LE(entry, 24); b.writeUInt32LE(52, 28);                 // e_entry, e_phoff
    b.writeUInt16LE(ehsize, 40); b.writeUInt16LE(phsize, 42); b.writeUInt16LE(1, 44);
    const p = ehsize;
    b.writeUInt32LE(1, p); b.writeUInt32LE(0, p + 4);                     // PT_LOAD, p_offset
    b.writeUInt32LE(base, p + 8); b.writeUInt32LE(base, p + 12);
    b.writeUInt32LE(size, p + 16); b.writeUInt32LE(size, p + 20);
    b.writeUInt32LE(5, p + 24); b.writeUInt32LE(0x1000, p + 28);          // R+X, align
  }
  Buffer.from(code).copy(b, ehsize + phsize);
  return b;
}

const cache = new Map();

/**
 * Can this host execute a static Linux binary for `arch`? Executes a tiny one (once per process).
 * @param {"i386" | "x86-64"} arch
 * @returns {{ ok: boolean, why: string }}
 */
export function canExec(arch) {
  const env = arch === "i386" ? "WASMVISOR_NO_I386" : "WASMVISOR_NO_X86_64";
  if (process.env[env] === "1") return { ok: false, why: `${env}=1 (simulating a host that cannot execute ${arch} binaries)` };
  if (cache.has(arch)) return cache.get(arch);
  let res;
  if (process.platform !== "linux") res = { ok: false, why: `host is ${process.platform}, not Linux` };
  else if (process.arch !== "x64" && process.arch !== "ia32") res = { ok: false, why: `host CPU is ${process.arch}, not x86` };
  else res = probeElf(tinyElf(arch), arch);
  cache.set(arch, res);
  return res;
}

/**
 * Executes `elf` (a static binary that exits with status 42) from a temporary file.
 * @param {Buffer} elf
 * @param {string} arch the name used in the reason
 * @returns {{ ok: boolean, why: string }}
 */
export function probeElf(elf, arch) {
  const dir = mkdtempSync(join(tmpdir(), "wasmvisor-probe-"));
  try {
    const f = join(dir, "probe");
    writeFileSync(f, elf);
    chmodSync(f, 0o755);
    const r = spawnSync(f, [], { stdio: "ignore", timeout: 10_000 });
    if (r.error) {
      const code = /** @type {NodeJS.ErrnoException} */ (r.error).code;
      return { ok: false, why: `this kernel cannot execute ${arch} binaries (${code === "ENOEXEC" ? "exec format error" : r.error.message})` };
    }
    // execve refused it (ENOEXEC) and libuv, like execvp, then handed it to /bin/sh, which fails on it
    if (r.status !== PROBE_STATUS) return { ok: false, why: `this kernel cannot execute ${arch} binaries (a test binary exited with ${r.status ?? r.signal}, not ${PROBE_STATUS})` };
    return { ok: true, why: "" };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The first candidate whose file exists and whose architecture this host executes, else null; `why` gives
 * the reason for every candidate passed over (one line).
 * @template {{ arch: "i386" | "x86-64", path: string }} T
 * @param {T[]} candidates in order of preference
 * @param {(p: string) => boolean} exists
 * @returns {{ pick: T | null, why: string }}
 */
export function pickRunnable(candidates, exists) {
  const why = [];
  for (const c of candidates) {
    if (!exists(c.path)) { why.push(`${c.arch}: ${c.path} not built`); continue; }
    const e = canExec(c.arch);
    if (e.ok) return { pick: c, why: why.join("; ") };
    why.push(`${c.arch}: ${e.why}`);
  }
  return { pick: null, why: why.join("; ") };
}

/**
 * The peers workload's native reference for REPS r in `dir` (guests/peers/build.sh): native-r (i386) where
 * this host executes it, else native64-r (x86-64, the same 32-bit-operand loop).
 * @param {string} dir
 * @param {number} r
 */
export function peersNative(dir, r) {
  return pickRunnable([{ arch: /** @type {const} */ ("i386"), path: join(dir, `native-${r}`) },
    { arch: /** @type {const} */ ("x86-64"), path: join(dir, `native64-${r}`) }], existsSync);
}
