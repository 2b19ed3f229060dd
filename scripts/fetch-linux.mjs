#!/usr/bin/env node
// Fetch Debian 12's stock i386 kernel (linux-image-686, resolved to its current versioned package) and
// busybox-static (i386) with apt, unpack them with dpkg-deb into a cache directory and build two initramfs
// images (cpio "newc", gzip) around busybox: one whose /init runs a fixed command list and powers off, one
// that drops to an interactive shell on the console. Nothing of them is committed (build/ is ignored).
//
//   node scripts/fetch-linux.mjs [--dir build/linux] [--quiet]
//
// Prints the paths as JSON on stdout. Exit status 0 on success, 3 when apt/dpkg or the network is
// unavailable (the tests skip on 3), 1 on any other failure.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync, statSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

export const STATUS_UNAVAILABLE = 3;
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const dirArg = args.indexOf("--dir");
const dir = resolve(dirArg >= 0 ? args[dirArg + 1] : join(root, "build/linux"));
const quiet = args.includes("--quiet");
const log = (s) => { if (!quiet) process.stderr.write(`fetch-linux: ${s}\n`); };

function unavailable(why) {
  process.stderr.write(`fetch-linux: unavailable: ${why}\n`);
  process.exit(STATUS_UNAVAILABLE);
}

function sh(cmd, argv, opts = {}) {
  return execFileSync(cmd, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
}

function have(cmd) {
  try { sh("sh", ["-c", `command -v ${cmd}`]); return true; } catch { return false; }
}

// --- the packages --------------------------------------------------------------------------------
const debs = join(dir, "debs");
const rootfs = join(dir, "root");
mkdirSync(debs, { recursive: true });

function findDeb(prefix) {
  return readdirSync(debs).find((f) => f.startsWith(prefix) && f.endsWith("_i386.deb"));
}

let kernelDeb = readdirSync(debs).find((f) => /^linux-image-\d.*-686_.*_i386\.deb$/.test(f));
let busyboxDeb = findDeb("busybox-static_");
if (!kernelDeb || !busyboxDeb) {
  if (!have("apt-get") || !have("dpkg-deb") || !have("dpkg")) unavailable("apt-get/dpkg not found");
  try {
    if (!sh("dpkg", ["--print-foreign-architectures"]).split(/\s+/).includes("i386")) {
      log("dpkg --add-architecture i386");
      sh("dpkg", ["--add-architecture", "i386"]);
    }
    log("apt-get update");
    sh("apt-get", ["update", "-qq"]);
  } catch (e) {
    unavailable(`apt-get update failed (${String(e.stderr || e.message).trim().split("\n").pop()})`);
  }
  let kpkg;
  try {
    // linux-image-686 is the meta package; its dependency names today's versioned kernel package
    const deps = sh("apt-cache", ["depends", "linux-image-686:i386"]);
    kpkg = /Depends:\s*(linux-image-[0-9][^\s:]*-686)/.exec(deps)?.[1];
  } catch (e) {
    unavailable(`apt-cache depends linux-image-686:i386 failed`);
  }
  if (!kpkg) unavailable("linux-image-686:i386 names no kernel package");
  log(`apt-get download ${kpkg}:i386 busybox-static:i386`);
  try {
    sh("apt-get", ["download", `${kpkg}:i386`, "busybox-static:i386"], { cwd: debs });
  } catch (e) {
    unavailable(`apt-get download failed (${String(e.stderr || e.message).trim().split("\n").pop()})`);
  }
  kernelDeb = readdirSync(debs).find((f) => f.startsWith(kpkg + "_") && f.endsWith("_i386.deb"));
  busyboxDeb = findDeb("busybox-static_");
  if (!kernelDeb || !busyboxDeb) unavailable("apt-get download produced no .deb");
}

const stamp = join(rootfs, ".unpacked");
if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== `${kernelDeb}\n${busyboxDeb}\n`) {
  rmSync(rootfs, { recursive: true, force: true });
  mkdirSync(rootfs, { recursive: true });
  for (const d of [kernelDeb, busyboxDeb]) {
    log(`dpkg-deb -x ${d}`);
    sh("dpkg-deb", ["-x", join(debs, d), rootfs]);
  }
  writeFileSync(stamp, `${kernelDeb}\n${busyboxDeb}\n`);
}

const boot = join(rootfs, "boot");
const vmlinuzName = readdirSync(boot).find((f) => f.startsWith("vmlinuz-"));
const configName = readdirSync(boot).find((f) => f.startsWith("config-"));
if (!vmlinuzName) { process.stderr.write("fetch-linux: no /boot/vmlinuz-* in the kernel package\n"); process.exit(1); }
const busybox = join(rootfs, "bin/busybox");
if (!existsSync(busybox)) { process.stderr.write("fetch-linux: no /bin/busybox in busybox-static\n"); process.exit(1); }

// --- cpio newc writer ----------------------------------------------------------------------------
function cpio(entries) {
  // entries: { name, mode, data?: Buffer, target?: string }
  const parts = [];
  let ino = 1;
  const pad4 = (n) => (4 - (n % 4)) % 4;
  const push = (name, mode, data, nlink) => {
    const nameBuf = Buffer.from(name + "\0");
    const hex = (v) => (v >>> 0).toString(16).padStart(8, "0");
    const hdr = "070701" + [ino++, mode, 0, 0, nlink, 0, data.length, 0, 0, 0, 0, nameBuf.length, 0].map(hex).join("");
    parts.push(Buffer.from(hdr, "ascii"), nameBuf, Buffer.alloc(pad4(110 + nameBuf.length)), data, Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) {
    if (e.target !== undefined) push(e.name, 0o120777, Buffer.from(e.target), 1);
    else if (e.data) push(e.name, 0o100000 | e.mode, e.data, 1);
    else push(e.name, 0o040000 | e.mode, Buffer.alloc(0), 2);
  }
  ino = 0;
  push("TRAILER!!!", 0, Buffer.alloc(0), 1);
  return Buffer.concat(parts);
}

// The marker lines the tests look for; the commands are the list. The VM ends through isa-debug-exit
// (port 0xF4, written through /dev/port: status (0 << 1) | 1 = 1 in wasmvisor and QEMU with the device), and
// poweroff -f where there is none.
const COMMANDS = 'uname -a; cat /proc/cpuinfo; ls /; echo $((6*7)); dd if=/dev/zero bs=1M count=8 | md5sum';
const initCommon = `#!/bin/sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
/bin/busybox --install -s /bin
off() { printf '\\000' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null; poweroff -f; }
echo "WASMVISOR-INIT-OK"
`;
// initrd-run: runs the command list and powers off
const initRun = initCommon + `${COMMANDS}
echo "WASMVISOR-INIT-DONE"
off
`;
// initrd-shell: an interactive shell on the console (job control through cttyhack); leaving it powers off
const initShell = initCommon + `echo "WASMVISOR-SHELL"
setsid cttyhack sh
off
`;

function initramfs(init) {
  const bb = readFileSync(busybox);
  const entries = [
    { name: "bin", mode: 0o755 }, { name: "sbin", mode: 0o755 }, { name: "dev", mode: 0o755 },
    { name: "proc", mode: 0o755 }, { name: "sys", mode: 0o755 }, { name: "tmp", mode: 0o1777 },
    { name: "root", mode: 0o700 }, { name: "etc", mode: 0o755 },
    { name: "bin/busybox", mode: 0o755, data: bb },
    { name: "bin/sh", target: "busybox" },
    { name: "init", mode: 0o755, data: Buffer.from(init) },
  ];
  return gzipSync(cpio(entries), { level: 6 });
}

const out = {
  kernel: join(boot, vmlinuzName),
  config: configName ? join(boot, configName) : null,
  initrd: join(dir, "initrd-run.cpio.gz"),
  initrdShell: join(dir, "initrd-shell.cpio.gz"),
  kernelPackage: kernelDeb,
  busyboxPackage: busyboxDeb,
  commands: COMMANDS,
};
writeFileSync(out.initrd, initramfs(initRun));
writeFileSync(out.initrdShell, initramfs(initShell));
log(`kernel ${out.kernel} (${statSync(out.kernel).size} bytes), initrd ${out.initrd}`);
process.stdout.write(JSON.stringify(out, null, 2) + "\n");
