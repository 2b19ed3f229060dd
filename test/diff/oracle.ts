// oracle.ts — the binary case/result format of tools/oracle (see tools/oracle/README.md), running the
// oracle binary, and the recorded corpus in fixtures/cpu-cases/.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { gzipSync, gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import type { Case } from "./gen.ts";
import { toCase64, fromResult64, type Case64 } from "./oracle64.ts";
import { canExec } from "../../scripts/host-arch.mjs";

function findRoot(): string {
  // the repository root: up from this file (test/diff/, or build/ when bundled by scripts/diff.mjs), else the cwd
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, d = dirname(d)) if (existsSync(join(d, "tools/oracle/build.sh"))) return d;
  return process.cwd();
}
export const ROOT = findRoot();
export const ORACLE_BIN = join(ROOT, "build/oracle/oracle");
/** the x86-64 build, for hosts that cannot execute i386 binaries (test/diff/oracle64.ts) */
export const ORACLE64_BIN = join(ROOT, "build/oracle/oracle64");
export type OracleArch = "i386" | "x86-64";
export const CORPUS_FILE = join(ROOT, "fixtures/cpu-cases/corpus.bin.gz");

export const IN_HDR = 48;
export const OUT_HDR = 72;
export const VEC_NONE = 0xff;
export const VEC_TIMEOUT = 0xfe;

export interface OracleResult {
  /** trapno of the signal (0 #DE, 3 #BP, 4 #OF, 6 #UD, 13 #GP, 14 #PF, 17 #AC...), VEC_NONE = ran into the int3 filler */
  vector: number;
  signo: number;
  regs: number[];
  /** offset from CODE_BASE: the int3 filler reached (completion), or the EIP the kernel reported */
  eip: number;
  eflags: number;
  err: number;
  cr2: number;
  /** changed scratch bytes: [offset, new value] */
  mem: [number, number][];
  /** segment selectors after: es cs ss ds fs gs */
  segs: number[];
}

export function encodeCase(c: Case): Buffer {
  let len = IN_HDR + c.code.length;
  for (const p of c.patches) len += 4 + p.data.length;
  if (len > 0xffff) throw new Error("case too large");
  const b = Buffer.alloc(len);
  b.writeUInt16LE(len, 0); b[2] = c.code.length; b[3] = c.patches.length;
  for (let i = 0; i < 8; i++) b.writeUInt32LE(c.regs[i] >>> 0, 4 + 4 * i);
  b.writeUInt32LE(c.eflags >>> 0, 36); b.writeUInt32LE(c.seed >>> 0, 40); b.writeUInt16LE(c.codeOff, 44);
  Buffer.from(c.code).copy(b, IN_HDR);
  let o = IN_HDR + c.code.length;
  for (const p of c.patches) { b.writeUInt16LE(p.off, o); b.writeUInt16LE(p.data.length, o + 2); Buffer.from(p.data).copy(b, o + 4); o += 4 + p.data.length; }
  return b;
}

export function decodeCaseBody(b: Buffer, meta: Omit<Case, "regs" | "eflags" | "seed" | "codeOff" | "code" | "patches">): Case {
  const codeLen = b[2], np = b[3];
  const regs: number[] = [];
  for (let i = 0; i < 8; i++) regs.push(b.readUInt32LE(4 + 4 * i));
  const code = [...b.subarray(IN_HDR, IN_HDR + codeLen)];
  const patches = [];
  let o = IN_HDR + codeLen;
  for (let i = 0; i < np; i++) { const off = b.readUInt16LE(o), n = b.readUInt16LE(o + 2); patches.push({ off, data: [...b.subarray(o + 4, o + 4 + n)] }); o += 4 + n; }
  return { ...meta, regs, eflags: b.readUInt32LE(36), seed: b.readUInt32LE(40), codeOff: b.readUInt16LE(44), code, patches };
}

export function decodeResult(b: Buffer, o = 0): { r: OracleResult; next: number } {
  const n = b.readUInt16LE(o + 52);
  const regs: number[] = [];
  for (let i = 0; i < 8; i++) regs.push(b.readUInt32LE(o + 4 + 4 * i));
  const mem: [number, number][] = [];
  for (let i = 0; i < n; i++) mem.push([b.readUInt16LE(o + OUT_HDR + 4 * i), b[o + OUT_HDR + 4 * i + 2]]);
  return {
    r: {
      vector: b[o + 2], signo: b[o + 3], regs, eip: b.readUInt32LE(o + 36), eflags: b.readUInt32LE(o + 40), err: b.readUInt32LE(o + 44), cr2: b.readUInt32LE(o + 48), mem,
      segs: [0, 1, 2, 3, 4, 5].map((i) => b.readUInt16LE(o + 56 + 2 * i)),
    },
    next: o + OUT_HDR + 4 * n,
  };
}

/**
 * Which oracle runs here: the i386 one where the host executes i386 binaries, else the x86-64 one (a subset of
 * the forms, test/diff/oracle64.ts). `arch` forces one (e.g. to compare them).
 */
export function oracleAvailable(arch?: OracleArch): { ok: boolean; why: string; arch: OracleArch } {
  const want: OracleArch[] = arch ? [arch] : ["i386", "x86-64"];
  const why: string[] = [];
  for (const a of want) {
    const bin = a === "i386" ? ORACLE_BIN : ORACLE64_BIN;
    const ex = canExec(a);
    if (!ex.ok) { why.push(`${a}: ${ex.why}`); continue; }
    if (!existsSync(bin)) { why.push(`${a}: ${bin} not built (npm run build:oracle; needs gcc ${a === "i386" ? "-m32" : "-m64"})`); continue; }
    return { ok: true, why: "", arch: a };
  }
  return { ok: false, why: why.join("; "), arch: want[0] };
}

/** The outcome of a run through an oracle: the cases it ran (in order) with their results, and what it skipped. */
export interface OracleRun {
  arch: OracleArch;
  cases: Case[];
  results: OracleResult[];
  /** skipped cases by reason (x86-64 only: forms and cases that do not execute identically in 64-bit mode) */
  skipped: Map<string, number>;
  skippedTotal: number;
}

/** Runs the cases on whichever oracle runs here (or `arch`); the x86-64 one skips what it cannot run. */
export function runOracleAny(cases: Case[], arch?: OracleArch): OracleRun {
  const av = oracleAvailable(arch);
  if (!av.ok) throw new Error(`no oracle runs here: ${av.why}`);
  if (av.arch === "i386") return { arch: "i386", cases, results: runOracle(cases), skipped: new Map(), skippedTotal: 0 };
  const skipped = new Map<string, number>();
  const ran: Case[] = [], k64: Case64[] = [];
  for (const c of cases) {
    const k = toCase64(c);
    if ("skip" in k) { skipped.set(k.skip, (skipped.get(k.skip) ?? 0) + 1); continue; }
    ran.push(c); k64.push(k);
  }
  const raw = runOracle(k64.map((k) => k.c), 100_000, ORACLE64_BIN);
  return { arch: "x86-64", cases: ran, results: raw.map((r, i) => fromResult64(k64[i], r)), skipped, skippedTotal: cases.length - ran.length };
}

/** The skip census of an x86-64 run, one line per reason (most frequent first). */
export function skipReport(run: OracleRun): string {
  if (!run.skippedTotal) return "";
  return [...run.skipped].sort((a, b) => b[1] - a[1]).map(([why, n]) => `  ${String(n).padStart(6)}  ${why}`).join("\n");
}

/** Runs the cases on one oracle binary (one process per chunk). */
export function runOracle(cases: Case[], chunk = 100_000, bin = ORACLE_BIN): OracleResult[] {
  const out: OracleResult[] = [];
  for (let s = 0; s < cases.length; s += chunk) {
    const part = cases.slice(s, s + chunk);
    const input = Buffer.concat(part.map(encodeCase));
    const p = spawnSync(bin, { input, maxBuffer: 1 << 30 });
    if (p.status !== 0) throw new Error(`oracle failed (status ${p.status} ${p.signal ?? ""}): ${p.error ?? p.stderr}`);
    let o = 0;
    const buf = p.stdout as Buffer;
    for (let i = 0; i < part.length; i++) { const d = decodeResult(buf, o); out.push(d.r); o = d.next; }
    if (o !== buf.length) throw new Error("oracle output length mismatch");
  }
  return out;
}

// ---- the corpus: gzip( "WVCC" u32 version (3), u32 jsonLen, json header, records ) ----
export interface CorpusEntry { c: Case; r: OracleResult; }
export interface CorpusHeader { version: 3; forms: string[]; seed: number; count: number; cpu: string; created: string }

function encodeResult(r: OracleResult): Buffer {
  const b = Buffer.alloc(OUT_HDR + 4 * r.mem.length);
  b.writeUInt16LE(Math.min(b.length, 0xffff), 0); b[2] = r.vector; b[3] = r.signo;
  for (let i = 0; i < 8; i++) b.writeUInt32LE(r.regs[i] >>> 0, 4 + 4 * i);
  b.writeUInt32LE(r.eip >>> 0, 36); b.writeUInt32LE(r.eflags >>> 0, 40); b.writeUInt32LE(r.err >>> 0, 44); b.writeUInt32LE(r.cr2 >>> 0, 48);
  b.writeUInt16LE(r.mem.length, 52);
  r.segs.forEach((v, i) => b.writeUInt16LE(v, 56 + 2 * i));
  r.mem.forEach(([off, v], i) => { b.writeUInt16LE(off, OUT_HDR + 4 * i); b[OUT_HDR + 4 * i + 2] = v; });
  return b;
}

export function writeCorpus(file: string, header: Omit<CorpusHeader, "forms" | "version">, entries: CorpusEntry[]): number {
  const forms = [...new Set(entries.map((e) => e.c.form))];
  const fi = new Map(forms.map((f, i) => [f, i]));
  const json = Buffer.from(JSON.stringify({ version: 3, forms, ...header }));
  const parts: Buffer[] = [Buffer.from("WVCC"), u32(3), u32(json.length), json];
  for (const { c, r } of entries) {
    const desc = Buffer.from(c.desc.slice(0, 255));
    const m = Buffer.alloc(12);
    m.writeUInt16LE(fi.get(c.form)!, 0); m.writeUInt32LE(c.undef >>> 0, 2); m[6] = c.undefRegs; m[7] = c.intN !== undefined ? 1 : 0;
    m[8] = c.intN ?? 0; m[9] = desc.length;
    const inb = encodeCase(c), outb = encodeResult(xorIn(r, c));
    m.writeUInt16LE(outb.length, 10);
    parts.push(m, desc, inb, outb);
  }
  const gz = gzipSync(Buffer.concat(parts), { level: 9 });
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, gz);
  return gz.length;
}

export function readCorpus(file = CORPUS_FILE): { header: CorpusHeader; entries: CorpusEntry[] } {
  const b = gunzipSync(readFileSync(file));
  if (b.toString("latin1", 0, 4) !== "WVCC" || b.readUInt32LE(4) !== 3) throw new Error("bad corpus file");
  const jl = b.readUInt32LE(8);
  const header = JSON.parse(b.toString("utf8", 12, 12 + jl)) as CorpusHeader;
  const entries: CorpusEntry[] = [];
  let o = 12 + jl;
  while (o < b.length) {
    const form = header.forms[b.readUInt16LE(o)], undef = b.readUInt32LE(o + 2), undefRegs = b[o + 6];
    const intN = b[o + 7] ? b[o + 8] : undefined, dl = b[o + 9], outLen = b.readUInt16LE(o + 10);
    o += 12;
    const desc = b.toString("latin1", o, o + dl); o += dl;
    const inLen = b.readUInt16LE(o);
    const c = decodeCaseBody(b.subarray(o, o + inLen), { form, desc, undef, undefRegs, ...(intN !== undefined ? { intN } : {}) });
    o += inLen;
    const { r } = decodeResult(b, o);
    o += outLen;
    entries.push({ c, r: xorIn(r, c) });
  }
  return { header, entries };
}

/** corpus records store the result registers and EIP XORed with the inputs (mostly zeros: compresses well) */
function xorIn(r: OracleResult, c: Case): OracleResult {
  return { ...r, regs: r.regs.map((v, i) => (v ^ c.regs[i]) >>> 0), eflags: (r.eflags ^ c.eflags) >>> 0, eip: (r.eip ^ c.codeOff) >>> 0 };
}
function u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; }
