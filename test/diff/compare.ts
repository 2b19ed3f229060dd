// compare.ts — turns an oracle result into the expected Outcome and compares it with ours.
import {
  CODE_BASE, SCRATCH_SIZE, FLAGS_COMPARED, REGS32, scratchImage, implDefinedMem, type Case,
  CF, PF, AF, ZF, SF, TF, IF, DF, OF, NT, AC, ID,
} from "./gen.ts";
import { VEC_NONE, VEC_TIMEOUT, type OracleResult } from "./oracle.ts";
import type { Outcome } from "./run-ours.ts";

const VEC_NAMES: Record<number, string> = { 0: "#DE", 1: "#DB", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM", 12: "#SS", 13: "#GP", 14: "#PF", 17: "#AC" };
export const vecName = (v: number | undefined) => (v === undefined ? "?" : VEC_NAMES[v] ?? `vector ${v}`);
const FLAG_BITS: [number, string][] = [[CF, "CF"], [PF, "PF"], [AF, "AF"], [ZF, "ZF"], [SF, "SF"], [TF, "TF"], [IF, "IF"], [DF, "DF"], [OF, "OF"], [0x3000, "IOPL"], [NT, "NT"], [AC, "AC"], [ID, "ID"]];
export function flagNames(mask: number): string {
  return FLAG_BITS.filter(([b]) => mask & b).map(([, n]) => n).join(" ") || "-";
}
const h16 = (v: number) => "0x" + (v >>> 0).toString(16).padStart(4, "0");
const h8 = (v: number) => "0x" + (v >>> 0).toString(16).padStart(8, "0");

/** The expected outcome, in our terms (Linux's view of a trap/fault mapped onto the Machine's exits). */
export function expected(c: Case, r: OracleResult): Outcome {
  const mem = scratchImage(c);
  for (const [off, v] of r.mem) mem[off] = v;
  const base = { regs: r.regs, eflags: r.eflags, mem, segs: r.segs };
  const start = CODE_BASE + c.codeOff, next = start + c.code.length;
  if (r.vector === VEC_NONE) return { kind: "done", eip: CODE_BASE + r.eip, ...base };
  if (r.vector === VEC_TIMEOUT) return { kind: "hang", eip: r.eip, ...base };
  // INT n for n other than 3/4/0x80: Linux's IDT gates are DPL 0, so the CPU raises #GP((n<<3)|2).
  // The Machine (exitOnSoftInt) exits before any IDT check: expect softint n at the next instruction.
  if (c.intN !== undefined && r.vector === 13 && r.err === ((c.intN << 3) | 2) && r.eip === c.codeOff) {
    return { kind: "softint", vector: c.intN, eip: next, ...base };
  }
  // int3 / int 3 / into: traps, the kernel reports the EIP after the instruction
  if ((r.vector === 3 || r.vector === 4) && CODE_BASE + r.eip === next) return { kind: "softint", vector: r.vector, eip: next, ...base };
  return { kind: "fault", vector: r.vector, errorCode: r.err, eip: CODE_BASE + r.eip, ...base };
}

export interface Verdict {
  ok: boolean;
  /** what differs (defined state) */
  diffs: string[];
  /** undefined flags/registers that differ (reported, not failing) */
  undefDiffFlags: number;
  undefDiffRegs: number;
  /** implementation-specific memory bytes that differ (reported, not failing) */
  undefDiffMem: number;
}

export function compare(c: Case, exp: Outcome, got: Outcome): Verdict {
  const diffs: string[] = [];
  let undefDiffFlags = 0, undefDiffRegs = 0, undefDiffMem = 0;
  if (got.kind === "host-error") return { ok: false, diffs: [`host exception: ${got.note}`], undefDiffFlags, undefDiffRegs, undefDiffMem };
  if (exp.kind !== got.kind || exp.vector !== got.vector) {
    const d = (o: Outcome) => o.kind === "fault" || o.kind === "softint" ? `${o.kind} ${vecName(o.vector)}${o.kind === "softint" ? ` (${o.vector})` : ""}` : o.kind + (o.note ? ` (${o.note})` : "");
    diffs.push(`outcome: expected ${d(exp)}, got ${d(got)}`);
  }
  if (exp.eip !== got.eip) diffs.push(`eip: expected +${(exp.eip - CODE_BASE).toString(16)}, got ${got.eip >= CODE_BASE && got.eip < CODE_BASE + 0x2000 ? "+" + (got.eip - CODE_BASE).toString(16) : h8(got.eip)}`);
  if (exp.kind === "fault" && got.kind === "fault" && exp.vector === 13 && (got.errorCode ?? 0) !== exp.errorCode) {
    diffs.push(`#GP error code: expected ${h8(exp.errorCode ?? 0)}, got ${h8(got.errorCode ?? 0)}`);
  }
  for (let i = 0; i < 8; i++) {
    if (exp.regs[i] === got.regs[i]) continue;
    if (c.undefRegs & (1 << i)) { undefDiffRegs |= 1 << i; continue; }
    diffs.push(`${REGS32[i]}: expected ${h8(exp.regs[i])}, got ${h8(got.regs[i])}`);
  }
  for (let i = 0; i < 6; i++) {
    if (exp.segs[i] !== got.segs[i]) diffs.push(`${["es", "cs", "ss", "ds", "fs", "gs"][i]}: expected ${h16(exp.segs[i])}, got ${h16(got.segs[i])}`);
  }
  const fx = (exp.eflags ^ got.eflags) & FLAGS_COMPARED;
  const defined = fx & ~c.undef;
  undefDiffFlags = fx & c.undef;
  if (defined) diffs.push(`eflags: expected ${h8(exp.eflags & FLAGS_COMPARED)}, got ${h8(got.eflags & FLAGS_COMPARED)} (differ: ${flagNames(defined)}${c.undef ? `; undefined here: ${flagNames(c.undef)}` : ""})`);
  const md: string[] = [];
  let nmd = 0;
  const impl = implDefinedMem(c);
  for (let i = 0; i < SCRATCH_SIZE; i++) {
    if (exp.mem[i] !== got.mem[i] && impl.includes(i)) { undefDiffMem++; continue; }
    if (exp.mem[i] !== got.mem[i]) { if (md.length < 8) md.push(`[+${i.toString(16)}] expected ${exp.mem[i].toString(16).padStart(2, "0")} got ${got.mem[i].toString(16).padStart(2, "0")}`); nmd++; }
  }
  if (nmd) diffs.push(`memory: ${nmd} byte(s) differ: ${md.join(", ")}${nmd > md.length ? ", ..." : ""}`);
  return { ok: diffs.length === 0, diffs, undefDiffFlags, undefDiffRegs, undefDiffMem };
}

/** A mismatch report: form, bytes, instruction, input state, expected vs got. */
export function describe(c: Case, v: Verdict, exp: Outcome, got: Outcome): string {
  const regs = c.regs.map((x, i) => `${REGS32[i]}=${h8(x)}`).join(" ");
  const lines = [
    `form: ${c.form}`,
    `insn: ${Buffer.from(c.code).toString("hex").replace(/(..)/g, "$1 ").trim()}   ${c.desc}   (at +${c.codeOff.toString(16)})`,
    `in:   ${regs} eflags=${h8(c.eflags)} [${flagNames(c.eflags & (FLAGS_COMPARED & ~IF))}]`,
    `      scratch seed=${h8(c.seed)}${c.patches.length ? ` patches: ${c.patches.map((p) => `+${p.off.toString(16)}:${Buffer.from(p.data).toString("hex")}`).join(" ")}` : ""}`,
    ...v.diffs.map((d) => `  ${d}`),
  ];
  if (exp.kind === got.kind && v.diffs.length && exp.regs.length) lines.push(`  expected flags [${flagNames(exp.eflags & FLAGS_COMPARED)}], got [${flagNames(got.eflags & FLAGS_COMPARED)}]`);
  return lines.join("\n");
}

/** Per-form statistics. */
export class Stats {
  forms = new Map<string, { n: number; bad: number; undefDiff: number; example?: string }>();
  undefFlagDiffs = new Map<string, Map<string, number>>();
  total = 0; bad = 0; undefCases = 0;
  add(c: Case, v: Verdict, exp: Outcome, got: Outcome) {
    let f = this.forms.get(c.form);
    if (!f) this.forms.set(c.form, (f = { n: 0, bad: 0, undefDiff: 0 }));
    f.n++; this.total++;
    if (!v.ok) { f.bad++; this.bad++; if (!f.example) f.example = describe(c, v, exp, got); }
    if (v.undefDiffFlags || v.undefDiffRegs || v.undefDiffMem) {
      f.undefDiff++; this.undefCases++;
      let m = this.undefFlagDiffs.get(c.form);
      if (!m) this.undefFlagDiffs.set(c.form, (m = new Map()));
      const k = [flagNames(v.undefDiffFlags), v.undefDiffRegs ? "dest-reg" : "", v.undefDiffMem ? "impl-defined memory" : ""].filter((x) => x && x !== "-").join(" ");
      m.set(k, (m.get(k) ?? 0) + 1);
    }
  }
  mismatchReport(maxForms = Infinity): string {
    const bad = [...this.forms].filter(([, f]) => f.bad).sort((a, b) => b[1].bad - a[1].bad);
    return bad.slice(0, maxForms).map(([name, f]) => `### ${name}: ${f.bad}/${f.n} mismatches\n${f.example}`).join("\n\n");
  }
  undefReport(): string {
    const rows = [...this.forms].filter(([, f]) => f.undefDiff).sort((a, b) => b[1].undefDiff - a[1].undefDiff);
    return rows.map(([name, f]) => `  ${name}: ${f.undefDiff}/${f.n} cases (${[...this.undefFlagDiffs.get(name)!].map(([k, n]) => `${k}: ${n}`).join(", ")})`).join("\n");
  }
  table(): string {
    return [...this.forms].map(([name, f]) => `${f.bad ? "FAIL" : "ok  "} ${String(f.n).padStart(6)} ${String(f.bad).padStart(6)} ${String(f.undefDiff).padStart(6)}  ${name}`).join("\n");
  }
}
