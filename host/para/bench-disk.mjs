#!/usr/bin/env node
// bench-disk.mjs — disk I/O cost per mode: ATA PIO (native, full) vs virtio-blk (para), at several request sizes.
// Runs build/guests/bench/diskbench-{native,para}.elf (guests/kit/pv/bench/diskbench.c: write then read KIB KiB in
// requests of CHUNK sectors) through dist/cli.js with --stats-file, subtracts a kib=0 run of the same kernel (boot
// and shutdown), and prints exits and wall time per MiB moved (written + read).
//   usage: node host/para/bench-disk.mjs [--kib 1024] [--chunks 1,8,64,256] [--modes native,full,para] [--json]
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const argv = process.argv.slice(2);
const opt = (k, d) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d; };
const KIB = Number(opt("--kib", "1024"));
const CHUNKS = opt("--chunks", "1,8,64,256").split(",").map(Number);
const MODES = opt("--modes", "native,full,para").split(",");
const tmp = mkdtempSync(join(tmpdir(), "wv-diskbench-"));
const disk = join(tmp, "disk.img");
writeFileSync(disk, Buffer.alloc((KIB + 256) * 1024));

function run(mode, chunk, kib) {
  const image = join(ROOT, `build/guests/bench/diskbench-${mode === "para" ? "para" : "native"}.elf`);
  const stats = join(tmp, "s.json");
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(ROOT, "dist/cli.js"), "run", image, "--mode", mode, "--disk", disk,
    "--cmdline", `chunk=${chunk} kib=${kib}`, "--stats-file", stats], { encoding: "utf8" });
  const wall = performance.now() - t0;
  if (r.status !== 1) throw new Error(`${mode} chunk=${chunk}: exit ${r.status}\n${r.stdout}${r.stderr}`);
  const s = JSON.parse(readFileSync(stats, "utf8"));
  const exits = Object.entries(s.exits).filter(([k]) => k !== "budget").reduce((a, [, v]) => a + v, 0);
  return { exits, byReason: s.exits, wallMs: s.wallMs ?? wall, instructions: s.instructions };
}

const rows = [];
for (const mode of MODES) {
  const base = run(mode, 8, 0);
  for (const chunk of CHUNKS) {
    const r = run(mode, chunk, KIB);
    const mib = (2 * KIB) / 1024; // written + read
    rows.push({
      mode, device: mode === "para" ? "virtio-blk" : "ATA PIO", requestKiB: chunk / 2,
      exitsPerMiB: Math.round((r.exits - base.exits) / mib),
      msPerMiB: +((r.wallMs - base.wallMs) / mib).toFixed(1),
      MiBps: +(mib / ((r.wallMs - base.wallMs) / 1000)).toFixed(2),
      instructionsPerMiB: Math.round((r.instructions - base.instructions) / mib),
    });
  }
}
rmSync(tmp, { recursive: true, force: true });
if (argv.includes("--json")) { console.log(JSON.stringify(rows, null, 1)); process.exit(0); }
console.log(`| mode | device | request | exits/MiB | ms/MiB | MiB/s | guest instructions/MiB |`);
console.log(`|---|---|---:|---:|---:|---:|---:|`);
for (const r of rows) console.log(`| ${r.mode} | ${r.device} | ${r.requestKiB} KiB | ${r.exitsPerMiB} | ${r.msPerMiB} | ${r.MiBps} | ${r.instructionsPerMiB} |`);
