// decodeat.ts — the CPU's instruction decoder for the host, and the exit qualification.
//
// decodeAt(eip): decodes the bytes the host put at OFF_DECODE_BYTES (as the instruction at `eip`) with the
// same decoder the CPU executes from (decoder.ts), into the DEC_* record at OFF_DECODE. The full-mode monitor
// decodes trapped and patched instructions with it instead of a decoder of its own.
//
// fillExitInfo(reason): called once when run() returns (never per instruction): records the exiting
// instruction in OFF_EXIT_INSN — copied from the predecoded record it ran from (exitpath.ts) or, when no record
// holds it, decoded again from the bytes the CPU just fetched, found through the TLB (no page walk, no A/D
// update, no fault) — and its VT-x-style qualification in OFF_EXIT_QUAL.
import {
  STATE_BASE, OFF_DECODE_BYTES, OFF_DECODE_AVAIL, OFF_DECODE, OFF_EXIT_INSN, OFF_EXIT_QUAL, OFF_EXIT_QUAL_KIND,
  OFF_EXIT_IO_COUNT, OFF_IO_BATCH_COUNT, OFF_EXIT_EIP, OFF_EXIT_VECTOR, OFF_EXIT_PORT, OFF_EXIT_SIZE, OFF_EXIT_INSN_LEN,
  DEC_VALID, DEC_OP, DEC_LEN, DEC_PFX, DEC_MODRM, DEC_MEM, DEC_BASE, DEC_INDEX, DEC_SCALE, DEC_SEG, DEC_DISP,
  DEC_IMM1, DEC_IMM2, DEC_HAS_MODRM, DPFX_O16, DPFX_REP, DPFX_REPNE, DPFX_A16,
  EXIT_BUDGET, EXIT_SHUTDOWN, EXIT_INTR_WINDOW, EXIT_DEBUG, EXIT_EXCEPTION, EXIT_IO_IN, EXIT_IO_OUT,
  QK_NONE, QK_IO, QK_CR, QK_DR, QIO_IN, QIO_STRING, QIO_REP, QIO_IMM, QCR_MOV_TO, QCR_MOV_FROM, QCR_CLTS,
  QCR_LMSW, QCR_LMSW_MEM, QDR_FROM, SEG_CS, OFF_DECODE_SCRATCH,
} from "./abi";
import { eip, setEip, st, setSt, segBase, segLimit, r32, r16, ECX } from "./state";
import { fLo, fLen, fHost, setFetchWindow, tlbR } from "./mmu";
import { decodeInsn } from "./decoder";
import { opFlags, OPF_M } from "./opcodes";
import { isFaultVector } from "./ops/rules";
import { exitRec, exitRecAt, countExitRec } from "./exitpath";

const SCRATCH: u32 = STATE_BASE + OFF_DECODE_SCRATCH;
const BYTES: u32 = STATE_BASE + OFF_DECODE_BYTES;
const WINDOW: u32 = 32;

/** Decode the 32-byte buffer as the instruction at `at` into the DEC_* record at `out` (CPU state unchanged). */
function decodeBuffer(at: u32, out: u32): void {
  const sEip = eip, sLo = fLo, sLen = fLen, sHost = fHost;
  setEip(at);
  setFetchWindow(at, WINDOW, BYTES); // the decoder never reads past 15 + 2 + 1 + 1 + 4 + 4 + 2 < 32 bytes
  decodeInsn(SCRATCH);
  setEip(sEip);
  setFetchWindow(sLo, sLen, sHost);
  recordOut(SCRATCH, out);
}

/** The DEC_* record at `out` from the decoder's own record at `src` (a predecoded block's, TMP_REC or SCRATCH). */
function recordOut(src: u32, out: u32): void {
  const op = <u32>load<u16>(src);
  const pfx = <u32>load<u8>(src, 3);
  const sc = <u32>load<u8>(src, 7);
  const ovr = (pfx >> 4) & 7;
  store<u32>(out, 1, DEC_VALID);
  store<u32>(out, op, DEC_OP);
  store<u32>(out, <u32>load<u8>(src, 2), DEC_LEN);
  store<u32>(out, pfx, DEC_PFX);
  store<u32>(out, <u32>load<u8>(src, 4), DEC_MODRM);
  store<u32>(out, <u32>load<u8>(src, 20), DEC_MEM);
  store<u32>(out, <u32>load<u8>(src, 5), DEC_BASE);
  store<u32>(out, <u32>load<u8>(src, 6), DEC_INDEX);
  store<u32>(out, sc & 3, DEC_SCALE);
  store<u32>(out, ovr ? ovr - 1 : sc >> 4, DEC_SEG);
  // moffs forms: the fast-form classifier moves the offset into disp for A1/A3 only; report it for all four
  store<u32>(out, op >= 0xA0 && op <= 0xA3 ? load<u32>(src, 12) : load<u32>(src, 8), DEC_DISP);
  store<u32>(out, load<u32>(src, 12), DEC_IMM1);
  store<u32>(out, load<u32>(src, 16), DEC_IMM2);
  store<u32>(out, op < 0x200 && (opFlags(op) & OPF_M) ? 1 : 0, DEC_HAS_MODRM);
}

/** Host entry point: decode the bytes at OFF_DECODE_BYTES (OFF_DECODE_AVAIL of them valid) as the instruction at `at`. */
export function decodeAt(at: u32): u32 {
  const avail = st(OFF_DECODE_AVAIL);
  for (let i = avail; i < WINDOW; i++) store<u8>(BYTES + i, 0);
  decodeBuffer(at, STATE_BASE + OFF_DECODE);
  return load<u32>(STATE_BASE + OFF_DECODE, DEC_LEN);
}

/** Copy the bytes at CS:`at` that the TLB already maps (at most 15); returns how many. */
function peekCode(at: u32): u32 {
  const lim = segLimit(SEG_CS);
  const base = segBase(SEG_CS);
  let n: u32 = 0;
  for (; n < 15; n++) {
    const off = at + n;
    if (off > lim || off < at) break;
    const lin = base + off;
    const e = tlbR + (((lin >>> 12) & 1023) << 4);
    if (load<u32>(e) != lin >>> 12) break;
    store<u8>(BYTES + n, load<u8>(lin + load<u32>(e, 4)));
  }
  for (let i = n; i < WINDOW; i++) store<u8>(BYTES + i, 0);
  return n;
}


/** Fill OFF_EXIT_INSN and the exit qualification for the exit `reason` (run() is returning it). */
export function fillExitInfo(reason: u32): void {
  const rec = STATE_BASE + OFF_EXIT_INSN;
  store<u32>(rec, 0, DEC_VALID);
  setSt(OFF_EXIT_QUAL, 0);
  setSt(OFF_EXIT_QUAL_KIND, QK_NONE);
  setSt(OFF_EXIT_IO_COUNT, 0);
  if (reason == EXIT_BUDGET || reason == EXIT_SHUTDOWN || reason == EXIT_INTR_WINDOW || reason == EXIT_DEBUG) return;
  // exceptions: only a fault points at the instruction that raised it (a trap's EIP is past it)
  if (reason == EXIT_EXCEPTION && !isFaultVector(st(OFF_EXIT_VECTOR))) return;
  const at = st(OFF_EXIT_EIP);
  if (exitRec != 0 && exitRecAt == at) {
    // the record the instruction ran from: the decoder's output for these bytes, not decoded again (exitpath.ts)
    recordOut(exitRec, rec);
    countExitRec(true);
  } else {
    const n = peekCode(at);
    if (n == 0) return;
    decodeBuffer(at, rec);
    if (load<u32>(rec, DEC_LEN) > n) { store<u32>(rec, 0, DEC_VALID); return; } // not all of it is mapped: no record
    countExitRec(false);
  }
  const len = load<u32>(rec, DEC_LEN);
  if (reason != EXIT_EXCEPTION) setSt(OFF_EXIT_INSN_LEN, len);
  qualify(reason, rec);
}

function qualify(reason: u32, rec: u32): void {
  const op = load<u32>(rec, DEC_OP);
  const pfx = load<u32>(rec, DEC_PFX);
  const modrm = load<u32>(rec, DEC_MODRM);
  const reg = (modrm >> 3) & 7, rm = modrm & 7;
  const isIo = (op >= 0xE4 && op <= 0xE7) || (op >= 0xEC && op <= 0xEF) || (op >= 0x6C && op <= 0x6F);
  if (isIo) {
    const size: u32 = op & 1 ? ((pfx & DPFX_O16) ? 2 : 4) : 1;
    const imm = op >= 0xE4 && op <= 0xE7;
    const str = op < 0x70;
    const isIn = str ? op < 0x6E : (op & 2) == 0;
    const rep = str && (pfx & (DPFX_REP | DPFX_REPNE)) != 0;
    let port: u32 = imm ? load<u32>(rec, DEC_IMM1) & 0xFF : r16(2);
    if (reason == EXIT_IO_IN || reason == EXIT_IO_OUT) port = st(OFF_EXIT_PORT); // what the CPU accessed
    setSt(OFF_EXIT_QUAL_KIND, QK_IO);
    setSt(OFF_EXIT_QUAL, (size - 1) | (isIn ? QIO_IN : 0) | (str ? QIO_STRING : 0) | (rep ? QIO_REP : 0)
      | (imm ? QIO_IMM : 0) | (port << 16));
    // elements left, counting the one this exit carries: an OUTS exit comes after its element was counted off
    // (ops/io.ts), an INS exit (or a fault) before
    const left = (pfx & DPFX_A16) ? r16(ECX) : r32(ECX);
    const batch = reason == EXIT_IO_IN || reason == EXIT_IO_OUT ? st(OFF_IO_BATCH_COUNT) : 0; // (a unit already counted off)
    setSt(OFF_EXIT_IO_COUNT, rep ? left + (batch ? batch : reason == EXIT_IO_OUT ? 1 : 0) : 1);
    if (reason == EXIT_IO_IN || reason == EXIT_IO_OUT) setSt(OFF_EXIT_SIZE, size);
    return;
  }
  if (op == 0x120 || op == 0x122) { // mov r32, crN / mov crN, r32
    setSt(OFF_EXIT_QUAL_KIND, QK_CR);
    setSt(OFF_EXIT_QUAL, reg | ((op == 0x120 ? QCR_MOV_FROM : QCR_MOV_TO) << 4) | (rm << 8));
    return;
  }
  if (op == 0x106) { setSt(OFF_EXIT_QUAL_KIND, QK_CR); setSt(OFF_EXIT_QUAL, QCR_CLTS << 4); return; }
  if (op == 0x101 && reg == 6) { // lmsw r/m16: the source data when it is a register
    const mem = load<u32>(rec, DEC_MEM) != 0;
    setSt(OFF_EXIT_QUAL_KIND, QK_CR);
    setSt(OFF_EXIT_QUAL, (QCR_LMSW << 4) | (mem ? QCR_LMSW_MEM : (rm << 8) | (r16(rm) << 16)));
    return;
  }
  if (op == 0x121 || op == 0x123) { // mov r32, drN / mov drN, r32
    setSt(OFF_EXIT_QUAL_KIND, QK_DR);
    setSt(OFF_EXIT_QUAL, reg | (op == 0x121 ? QDR_FROM : 0) | (rm << 8));
  }
}
