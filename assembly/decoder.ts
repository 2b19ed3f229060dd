// decoder.ts — decodes one x86 instruction into a fixed-size record, driven by the opcode table
// (opcodes.ts). Records are what the block cache stores and what the executor runs.
//
// Record (REC_SIZE bytes):
//   +0  u16 op       opcode index 0x000..0x1FF, or OP_UD / OP_GP for undecodable instructions
//   +2  u8  len      instruction length in bytes
//   +3  u8  pfx      bit0 o16, bit1 lock, bit2 REPNE, bit3 REP/REPE, bits 4..6 segment override + 1, bit7 a16
//   +4  u8  modrm
//   +5  u8  base     base register, 8 = none
//   +6  u8  index    index register, 8 = none
//   +7  u8  sc       bits 0..1 scale, bits 4..6 default segment (DS or SS)
//   +8  u32 disp
//   +12 u32 imm1     first immediate (zero-extended raw value)
//   +16 u32 imm2     second immediate (enter's level, a far pointer's selector)
//   +20 u8  mem      1 when the ModRM operand is in memory
//   +21 u8  fast     fast-path form (F_*) run inline by the run loop, 0 = through the opcode table
//   +22 u8  fop      fast form's sub-operation (ALU op, condition code, shift op)
//   +23 u8  fdst     fast form's destination register
//   +24 u32 fimm     fast form's immediate, sign-extended
//   +28 u8  fsrc     fast form's source register
import {
  SEG_DS, SEG_SS, REC_SIZE, F_ALU_RR, F_ALU_RI, F_ALU_RM, F_TEST_RR, F_MOV_RR, F_MOV_RI, F_LOAD, F_STORE, F_INC, F_DEC,
  F_PUSH, F_POP, F_JCC, F_JMP, F_CALL, F_RET, F_SHIFT_RI, F_LEA, F_MOVZX_BM, F_NOP,
  F_NEG, F_TEST8_RI, F_TEST8_MI, F_CMP8_MI, F_STORE8_I, F_STORE8_R, F_CMP_MI, F_CMP_MR,
  DEC_OP_UD, DEC_OP_GP, DPFX_O16, DPFX_LOCK, DPFX_REPNE, DPFX_REP, DPFX_A16,
} from "./abi";
export { REC_SIZE };
import { eip, setEip, abort } from "./state";
import { fetch8, fetch16, fetch32 } from "./decode";
import { opFlags, OPF_M, OPF_P, OPF_X, OPF_G, IMM_B, IMM_W, IMM_Z, IMM_O, IMM_EN, IMM_P } from "./opcodes";

// (defined once in abi.ts: the host reads the same values in decoded-instruction records)
export const OP_UD: u32 = DEC_OP_UD; // raise #UD when executed
export const OP_GP: u32 = DEC_OP_GP; // raise #GP(0) when executed (instruction longer than 15 bytes)

export const PFX_O16: u32 = DPFX_O16;
export const PFX_LOCK: u32 = DPFX_LOCK;
export const PFX_REPNE: u32 = DPFX_REPNE;
export const PFX_REP: u32 = DPFX_REP;
export const PFX_A16: u32 = DPFX_A16;

/** Decode the instruction at EIP into the record at `r`; EIP advances past it. A fetch fault sets abort. */
export function decodeInsn(r: u32): void {
  const start = eip;
  let pfx: u32 = 0;
  let op = fetch8();
  if (abort) return;
  const bad: u32 = 0;
  while (opFlags(op) & OPF_P) {
    switch (op) {
      case 0x66: pfx |= PFX_O16; break;
      case 0xF0: pfx |= PFX_LOCK; break;
      case 0xF2: pfx = (pfx & ~(PFX_REPNE | PFX_REP)) | PFX_REPNE; break; // the last of F2/F3 wins
      case 0xF3: pfx = (pfx & ~(PFX_REPNE | PFX_REP)) | PFX_REP; break;
      case 0x26: pfx = (pfx & 0x8F) | (1 << 4); break;
      case 0x2E: pfx = (pfx & 0x8F) | (2 << 4); break;
      case 0x36: pfx = (pfx & 0x8F) | (3 << 4); break;
      case 0x3E: pfx = (pfx & 0x8F) | (4 << 4); break;
      case 0x64: pfx = (pfx & 0x8F) | (5 << 4); break;
      case 0x65: pfx = (pfx & 0x8F) | (6 << 4); break;
      default: pfx |= PFX_A16; // 0x67
    }
    if (eip - start >= 15) { store<u16>(r, OP_GP); store<u8>(r, <u8>(eip - start), 2); return; }
    op = fetch8();
    if (abort) return;
  }
  if (op == 0x0F) { op = 0x100 | fetch8(); if (abort) return; }
  const f = opFlags(op);
  let modrm: u32 = 0, base: u32 = 8, index: u32 = 8, sc: u32 = SEG_DS << 4, disp: u32 = 0, mem: u32 = 0;
  if (f & OPF_M) {
    modrm = fetch8();
    if (abort) return;
    if (modrm < 0xC0 && (pfx & PFX_A16)) {
      // 16-bit addressing (SDM Vol. 2 table 2-1): base+index pairs, disp16; BP-based operands use SS
      mem = 1;
      const mod = modrm >> 6;
      const rm = modrm & 7;
      if (mod == 0 && rm == 6) disp = fetch16();
      else {
        base = rm < 4 ? ((rm & 2) ? 5 : 3) : rm == 4 ? 6 : rm == 5 ? 7 : rm == 6 ? 5 : 3;
        if (rm < 4) index = (rm & 1) ? 7 : 6;
        if (rm == 2 || rm == 3 || rm == 6) sc = SEG_SS << 4;
        if (mod == 1) disp = <u32>(<i32><i8>fetch8());
        else if (mod == 2) disp = fetch16();
      }
      if (abort) return;
    } else if (modrm < 0xC0) {
      mem = 1;
      const mod = modrm >> 6;
      const rm = modrm & 7;
      if (rm == 4) {
        const sib = fetch8();
        if (abort) return;
        const b = sib & 7;
        const i = (sib >> 3) & 7;
        if (i != 4) { index = i; sc = (sc & ~3) | (sib >> 6); }
        if (b == 5 && mod == 0) { disp = fetch32(); }
        else { base = b; if (b == 4 || b == 5) sc = (sc & 3) | (SEG_SS << 4); }
      } else if (rm == 5 && mod == 0) {
        disp = fetch32();
      } else {
        base = rm;
        if (rm == 5) sc = (sc & 3) | (SEG_SS << 4);
      }
      if (abort) return;
      if (mod == 1) disp = <u32>(<i32><i8>fetch8());
      else if (mod == 2) disp = fetch32();
      if (abort) return;
    }
  }
  const o16 = (pfx & PFX_O16) != 0;
  let imm1: u32 = 0, imm2: u32 = 0;
  let kind = (f >> 1) & 7;
  if ((f & OPF_G) && ((modrm >> 3) & 7) > 1) kind = 0; // F6/F7: only test has an immediate
  switch (kind) {
    case IMM_B: imm1 = fetch8(); break;
    case IMM_W: imm1 = fetch16(); break;
    case IMM_Z: imm1 = o16 ? fetch16() : fetch32(); break;
    case IMM_O: imm1 = (pfx & PFX_A16) ? fetch16() : fetch32(); break;
    case IMM_EN: imm1 = fetch16(); imm2 = fetch8(); break;
    case IMM_P: imm1 = o16 ? fetch16() : fetch32(); imm2 = fetch16(); break;
    default: {}
  }
  if (abort) return;
  const len = eip - start;
  if (len > 15) op = OP_GP;
  else if (bad) op = bad;
  else if (f & OPF_X) op = OP_UD;
  else if ((pfx & PFX_LOCK) && !lockLegal(op, modrm, mem)) op = OP_UD;
  store<u16>(r, <u16>op);
  store<u8>(r, <u8>len, 2);
  store<u8>(r, <u8>pfx, 3);
  store<u8>(r, <u8>modrm, 4);
  store<u8>(r, <u8>base, 5);
  store<u8>(r, <u8>index, 6);
  store<u8>(r, <u8>sc, 7);
  store<u32>(r, disp, 8);
  store<u32>(r, imm1, 12);
  store<u32>(r, imm2, 16);
  store<u8>(r, <u8>mem, 20);
  store<u8>(r, 0, 21);
  if (pfx == 0 && op < 0x200) classifyFast(r, op, modrm, mem, imm1);
}

// ---- fast forms (abi.ts F_*): the 32-bit, prefix-free shapes compilers emit most, run inline by the run loop ----
@inline function fast(r: u32, f: u32, fop: u32, dst: u32, src: u32, fimm: u32): void {
  store<u8>(r, <u8>f, 21); store<u8>(r, <u8>fop, 22); store<u8>(r, <u8>dst, 23);
  store<u32>(r, fimm, 24); store<u8>(r, <u8>src, 28);
}
@inline function fastAluOp(a: u32): bool { return a != 2 && a != 3; } // adc/sbb go through the table

function classifyFast(r: u32, op: u32, modrm: u32, mem: u32, imm1: u32): void {
  const reg = (modrm >> 3) & 7;
  const rm = modrm & 7;
  if (op < 0x40 && (op & 7) < 6) {
    const aop = op >> 3;
    if (!fastAluOp(aop)) return;
    const form = op & 7;
    if (form == 1 && !mem) fast(r, F_ALU_RR, aop, rm, reg, 0);
    else if (form == 1 && aop == 7) fast(r, F_CMP_MR, 0, 0, reg, 0); // cmp [m], r32 (this branch returns first)
    else if (form == 3) { if (mem) fast(r, F_ALU_RM, aop, reg, 0, 0); else fast(r, F_ALU_RR, aop, reg, rm, 0); }
    else if (form == 5) fast(r, F_ALU_RI, aop, 0, 0, imm1);
    return;
  }
  switch (op) {
    case 0x81:
      if (!mem && fastAluOp(reg)) fast(r, F_ALU_RI, reg, rm, 0, imm1);
      else if (mem && reg == 7) fast(r, F_CMP_MI, 0, 0, 0, imm1);
      return;
    case 0x83:
      if (!mem && fastAluOp(reg)) fast(r, F_ALU_RI, reg, rm, 0, <u32>(<i32><i8>imm1));
      else if (mem && reg == 7) fast(r, F_CMP_MI, 0, 0, 0, <u32>(<i32><i8>imm1));
      return;
    case 0x80: if (mem && reg == 7) fast(r, F_CMP8_MI, 0, 0, 0, imm1 & 0xFF); return;
    case 0x88: if (mem) fast(r, F_STORE8_R, 0, 0, reg, 0); return;
    case 0xC6: if (mem && reg == 0) fast(r, F_STORE8_I, 0, 0, 0, imm1 & 0xFF); return;
    case 0xA8: fast(r, F_TEST8_RI, 0, 0, 0, imm1 & 0xFF); return;
    case 0xF6: if (reg < 2) { if (mem) fast(r, F_TEST8_MI, 0, 0, 0, imm1 & 0xFF); else fast(r, F_TEST8_RI, 0, rm, 0, imm1 & 0xFF); } return;
    case 0xF7: if (!mem && reg == 3) fast(r, F_NEG, 0, rm, 0, 0); return;
    case 0xD1: if (!mem && reg != 2 && reg != 3 && reg != 6) fast(r, F_SHIFT_RI, reg, rm, 0, 1); return;
    case 0xA1: store<u32>(r, imm1, 8); fast(r, F_LOAD, 0, 0, 0, 0); return;  // mov eax, [moffs]: the offset as disp
    case 0xA3: store<u32>(r, imm1, 8); fast(r, F_STORE, 0, 0, 0, 0); return; // mov [moffs], eax
    case 0x85: if (!mem) fast(r, F_TEST_RR, 0, rm, reg, 0); return;
    case 0x89: if (mem) fast(r, F_STORE, 0, 0, reg, 0); else fast(r, F_MOV_RR, 0, rm, reg, 0); return;
    case 0x8B: if (mem) fast(r, F_LOAD, 0, reg, 0, 0); else fast(r, F_MOV_RR, 0, reg, rm, 0); return;
    case 0x8D: if (mem) fast(r, F_LEA, 0, reg, 0, 0); return;
    case 0x90: fast(r, F_NOP, 0, 0, 0, 0); return;
    case 0xC1: if (!mem && reg != 2 && reg != 3 && reg != 6) fast(r, F_SHIFT_RI, reg, rm, 0, imm1 & 31); return;
    case 0xC3: fast(r, F_RET, 0, 0, 0, 0); return;
    case 0xE8: fast(r, F_CALL, 0, 0, 0, imm1); return;
    case 0xE9: fast(r, F_JMP, 0, 0, 0, imm1); return;
    case 0xEB: fast(r, F_JMP, 0, 0, 0, <u32>(<i32><i8>imm1)); return;
    case 0x1B6: if (mem) fast(r, F_MOVZX_BM, 0, reg, 0, 0); return;
    default: {}
  }
  if (op >= 0x40 && op < 0x48) fast(r, F_INC, 0, op & 7, 0, 0);
  else if (op >= 0x48 && op < 0x50) fast(r, F_DEC, 0, op & 7, 0, 0);
  else if (op >= 0x50 && op < 0x58) fast(r, F_PUSH, 0, 0, op & 7, 0);
  else if (op >= 0x58 && op < 0x60) fast(r, F_POP, 0, op & 7, 0, 0);
  else if (op >= 0x70 && op < 0x80) fast(r, F_JCC, op & 15, 0, 0, <u32>(<i32><i8>imm1));
  else if (op >= 0x180 && op < 0x190) fast(r, F_JCC, op & 15, 0, 0, imm1);
  else if (op >= 0xB8 && op < 0xC0) fast(r, F_MOV_RI, 0, op & 7, 0, imm1);
}

/** LOCK is legal only on read-modify-write instructions with a memory destination (SDM Vol. 2: LOCK). */
function lockLegal(op: u32, modrm: u32, mem: u32): bool {
  if (!mem) return false;
  const reg = (modrm >> 3) & 7;
  if (op < 0x40) return (op & 7) < 2 && (op >> 3) != 7;
  if (op >= 0x80 && op <= 0x83) return reg != 7;
  if (op == 0x86 || op == 0x87) return true;
  if (op == 0xF6 || op == 0xF7) return reg == 2 || reg == 3;
  if (op == 0xFE || op == 0xFF) return reg < 2;
  if (op == 0x1AB || op == 0x1B3 || op == 0x1BB || op == 0x1B0 || op == 0x1B1 || op == 0x1C0 || op == 0x1C1) return true;
  if (op == 0x1BA) return reg >= 5;
  if (op == 0x1C7) return reg == 1;
  return false;
}
