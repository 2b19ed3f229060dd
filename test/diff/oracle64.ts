// oracle64.ts — running the 32-bit test cases on the x86-64 oracle (build/oracle/oracle64), for hosts that
// cannot execute i386 binaries. In 64-bit mode most 32-bit-operand instructions execute exactly as in 32-bit
// mode; the differences are handled here, per case, before the case goes to the oracle:
//
//  - an addr32 prefix (0x67) is put in front of every case, placed one byte before the instruction: effective
//    addresses are then computed and wrapped in 32 bits as in 32-bit mode (also the moffs forms, whose offset
//    is 4 bytes again, xlat, string instructions with ESI/EDI/ECX and loop/jecxz with ECX). The instruction's
//    end, and so every relative branch target, stays where it was; the EIP the oracle reports is mapped back.
//  - a bare disp32 ModRM (mod=00 rm=101, `[0x300010]`) is RIP-relative in 64-bit mode: rewritten to the SIB
//    form with no base and no index (rm=100, SIB 0x25), which is the absolute disp32 there (one byte longer).
//  - forms whose encoding means something else in 64-bit mode, or whose operand size becomes 64 bits, are not
//    run: SKIP_FORMS, with the reason per form; cases that cannot be transformed are not run either (per-case
//    reasons: a 0x67 already present, an FS/GS/CS override, no room for the prefix, longer than 15 bytes, a
//    branch to the prefix's byte).
// Skipped cases are counted by reason and reported; the x86-64 oracle's results on the rest are checked
// against the i386 oracle's on hosts that run both (test/diff-oracle64.test.ts).
import type { Case } from "./gen.ts";
import type { OracleResult } from "./oracle.ts";

const OPERAND64 = "in 64-bit mode its operand size is 64 bits (pushes/pops or reads 8 bytes)";
const INVALID64 = "invalid in 64-bit mode (#UD)";
const SEGREGS = "the 64-bit process's segment selectors differ (CS 0x33, DS/ES null) and its sigcontext has no DS/ES";

/** Forms the x86-64 oracle does not run, each with the reason. */
export const SKIP_FORMS: [RegExp, string][] = [
  [/^(inc|dec) r(16|32) \((40|48)\+r\)$/, "0x40-0x4F are REX prefixes in 64-bit mode"],
  [/\(82 alias\)$/, `opcode 0x82 is ${INVALID64}`],
  [/^(push|pop) (es|cs|ss|ds)$/, `push/pop of ES/CS/SS/DS is ${INVALID64}`],
  [/^(push|pop) (fs|gs)$/, `push/pop FS/GS: ${OPERAND64}`],
  [/^mov sreg, r\/m16$|^mov r\/m, sreg/, `mov to/from a segment register: ${SEGREGS}`],
  [/^(pusha|popa) /, `pusha/popa are ${INVALID64}`],
  [/^(daa|das|aaa|aas|aam imm8|aad imm8)$/, `the BCD adjustments are ${INVALID64}`],
  [/^into$/, `into is ${INVALID64}`],
  [/^(push|pop) r32 \((50|58)\+r\)$|^push imm32$|^push imm8 \(32\)$|^(push|pop) r\/m32$/, `push/pop: ${OPERAND64}`],
  [/^(pushf|popf) \(32\)$/, `pushfd/popfd: ${OPERAND64} (pushfq/popfq)`],
  [/^(enter imm16, imm8|leave) \(32\)$/, `enter/leave: ${OPERAND64}`],
  [/^call (rel32|r\/m32)$/, `call: ${OPERAND64} (8-byte return address)`],
  [/^jmp r\/m32$/, `jmp r/m: ${OPERAND64} (8-byte target)`],
  [/^ret( imm16)?$/, `ret: ${OPERAND64} (8-byte return address)`],
];

export function skipFormReason(form: string): string | null {
  for (const [re, why] of SKIP_FORMS) if (re.test(form)) return why;
  return null;
}

const LEGACY_PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

export interface Case64 {
  /** the case as the x86-64 oracle runs it */
  c: Case;
  /** where the original instruction starts and ends, and where the rewritten one does */
  start: number; end: number; start64: number; end64: number;
}

/** The case rewritten for 64-bit mode, or the reason it cannot run there. */
export function toCase64(c: Case): Case64 | { skip: string } {
  const f = skipFormReason(c.form);
  if (f) return { skip: `${c.form}: ${f}` };
  let i = 0;
  while (i < c.code.length && LEGACY_PREFIXES.has(c.code[i])) {
    const p = c.code[i];
    if (p === 0x67) return { skip: "case with an address-size prefix (16-bit addressing / CX): 0x67 selects 32-bit addressing in 64-bit mode" };
    if (p === 0x64 || p === 0x65) return { skip: "case with an FS/GS override: FS/GS are null selectors in the 32-bit process, 64-bit mode uses their bases" };
    if (p === 0x2e) return { skip: "case with a CS override: 64-bit mode does no segment checks (a write through CS faults in 32-bit mode only)" };
    i++;
  }
  if (c.codeOff === 0) return { skip: "case at the start of the code pages: no room for the addr32 prefix before it" };
  let code = c.code;
  if (c.disp32At !== undefined) {
    const m = code[c.disp32At];
    if ((m & 0xc7) !== 0x05) throw new Error(`oracle64: ${c.form}: disp32At does not point at a mod=00 rm=101 ModRM`);
    code = [...code.slice(0, c.disp32At), (m & 0xf8) | 4, 0x25, ...code.slice(c.disp32At + 1)];
  }
  if (code.length + 1 > 15) return { skip: "case longer than 15 bytes with the added prefix" };
  const rel = /^(jmp|jcc) rel8$|^loop|^jecxz$/.test(c.form) ? 1 : /^(jmp|jcc) rel32$/.test(c.form) ? 4 : 0;
  if (rel) {
    const end = c.codeOff + c.code.length, b = c.code.slice(c.code.length - rel);
    const d = rel === 1 ? (b[0] << 24) >> 24 : Buffer.from(b).readInt32LE(0);
    if (end + d === c.codeOff - 1) return { skip: "branch to the byte before the instruction, where the addr32 prefix goes" };
  }
  const start64 = c.codeOff - 1;
  return {
    c: { ...c, codeOff: start64, code: [0x67, ...code] },
    start: c.codeOff, end: c.codeOff + c.code.length, start64, end64: start64 + 1 + code.length,
  };
}

/** Standard selectors of a 32-bit Linux process (ES CS SS DS FS GS), as the i386 oracle reports them. */
export const I386_SEGS = [0x2b, 0x23, 0x2b, 0x2b, 0, 0];

/** The x86-64 oracle's result, expressed as the i386 oracle would report the original case. */
export function fromResult64(k: Case64, r: OracleResult): OracleResult {
  let eip = r.eip;
  if (eip === k.start64) eip = k.start;        // a fault on the instruction: its first byte is the prefix
  else if (eip === k.end64) eip = k.end;       // completed, or a trap reported after it (int3, int n)
  return { ...r, eip, segs: [...I386_SEGS] };
}
