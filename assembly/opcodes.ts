// opcodes.ts — the decoder's opcode table: one byte of attributes per opcode, as data.
// Index 0x000..0x0FF: one-byte opcodes; 0x100..0x1FF: 0F-prefixed opcodes. The executing handler for each
// opcode is the row with the same number in ops/handlers.ts (dispatch / dispatch0F).
//
//   bit 0      M   has a ModRM byte
//   bits 1..3  immediate kind (IMM_*)
//   bit 4      E   ends a predecoded block (control transfer, or changes CS/CPL/paging/interrupt state)
//   bit 5      P   a prefix byte (one-byte table only)
//   bit 6      X   undefined opcode: #UD
//   bit 7      G   F6/F7: the immediate exists only for reg field 0/1 (test)

export const OPF_M: u32 = 1;
export const OPF_E: u32 = 0x10;
export const OPF_P: u32 = 0x20;
export const OPF_X: u32 = 0x40;
export const OPF_G: u32 = 0x80;
export const IMM_NONE: u32 = 0;
export const IMM_B: u32 = 1;    // imm8
export const IMM_W: u32 = 2;    // imm16
export const IMM_Z: u32 = 3;    // imm16 or imm32 by operand size
export const IMM_O: u32 = 4;    // moffs: a 32-bit offset (32-bit addressing)
export const IMM_EN: u32 = 5;   // enter: imm16, imm8
export const IMM_P: u32 = 6;    // far pointer: imm16/32 offset, imm16 selector

// shorthand for the table below
const M: u8 = 1;
const B: u8 = 1 << 1;
const W: u8 = 2 << 1;
const Z: u8 = 3 << 1;
const O: u8 = 4 << 1;
const N: u8 = 5 << 1;
const F: u8 = 6 << 1;
const E: u8 = 0x10;
const P: u8 = 0x20;
const X: u8 = 0x40;
const G: u8 = 0x80;

// prettier-ignore
const TABLE: usize = memory.data<u8>([
  // 0x00
  M, M, M, M, B, Z, 0, 0,         M, M, M, M, B, Z, 0, 0,
  // 0x10
  M, M, M, M, B, Z, 0, E,         M, M, M, M, B, Z, 0, 0,
  // 0x20                          (26 ES:)                        (2E CS:)
  M, M, M, M, B, Z, P, 0,         M, M, M, M, B, Z, P, 0,
  // 0x30                          (36 SS:)                        (3E DS:)
  M, M, M, M, B, Z, P, 0,         M, M, M, M, B, Z, P, 0,
  // 0x40 inc/dec
  0, 0, 0, 0, 0, 0, 0, 0,         0, 0, 0, 0, 0, 0, 0, 0,
  // 0x50 push/pop
  0, 0, 0, 0, 0, 0, 0, 0,         0, 0, 0, 0, 0, 0, 0, 0,
  // 0x60 pusha popa bound arpl FS: GS: opsz adsz   push iz, imul, push ib, imul, ins/outs
  0, 0, M, M, P, P, P, P,         Z, M|Z, B, M|B, E, E, E, E,
  // 0x70 jcc rel8
  B|E, B|E, B|E, B|E, B|E, B|E, B|E, B|E, B|E, B|E, B|E, B|E, B|E, B|E, B|E, B|E,
  // 0x80 grp1, test, xchg, mov, mov sreg, lea, mov sreg, pop Ev
  M|B, M|Z, M|B, M|B, M, M, M, M, M, M, M, M, M, M, M|E, M,
  // 0x90 nop/xchg cbw cwd callf wait pushf popf sahf lahf
  0, 0, 0, 0, 0, 0, 0, 0,         0, 0, F|E, 0, 0, E, 0, 0,
  // 0xA0 mov moffs, movs cmps, test, stos lods scas
  O, O, O, O, 0, 0, 0, 0,         B, Z, 0, 0, 0, 0, 0, 0,
  // 0xB0 mov r, imm
  B, B, B, B, B, B, B, B,         Z, Z, Z, Z, Z, Z, Z, Z,
  // 0xC0 grp2 ib, ret iw, ret, les, lds, mov Eb ib, mov Ev iz, enter, leave, retf iw, retf, int3, int ib, into, iret
  M|B, M|B, W|E, E, M, M, M|B, M|Z, N, 0, W|E, E, E, B|E, E, E,
  // 0xD0 grp2, aam, aad, salc, xlat, x87 escapes
  M, M, M, M, B, B, 0, 0,         M, M, M, M, M, M, M, M,
  // 0xE0 loopne loope loop jecxz in out call jmp jmpf jmp8 in out
  B|E, B|E, B|E, B|E, B|E, B|E, B|E, B|E, Z|E, Z|E, F|E, B|E, E, E, E, E,
  // 0xF0 lock int1 repne rep hlt cmc grp3 grp3 clc stc cli sti cld std grp4 grp5
  P, E, P, P, E, 0, M|B|G, M|Z|G, 0, 0, E, E, 0, 0, M, M,

  // ---- 0F xx ----
  // 0x00 grp6 grp7 lar lsl - - clts - invd wbinvd - ud2 - nop Ev - -
  M|E, M|E, M, M, X, X, E, X,     E, E, X, 0, X, M, X, X,
  // 0x10 (SSE: not implemented)          hint nops 0F 18..1F
  X, X, X, X, X, X, X, X,         M, M, M, M, M, M, M, M,
  // 0x20 mov cr/dr
  M|E, M|E, M|E, M|E, X, X, X, X, X, X, X, X, X, X, X, X,
  // 0x30 wrmsr rdtsc rdmsr rdpmc
  E, 0, E, E, X, X, X, X,         X, X, X, X, X, X, X, X,
  // 0x40 cmovcc
  M, M, M, M, M, M, M, M,         M, M, M, M, M, M, M, M,
  // 0x50
  X, X, X, X, X, X, X, X,         X, X, X, X, X, X, X, X,
  // 0x60
  X, X, X, X, X, X, X, X,         X, X, X, X, X, X, X, X,
  // 0x70
  X, X, X, X, X, X, X, X,         X, X, X, X, X, X, X, X,
  // 0x80 jcc rel32
  Z|E, Z|E, Z|E, Z|E, Z|E, Z|E, Z|E, Z|E, Z|E, Z|E, Z|E, Z|E, Z|E, Z|E, Z|E, Z|E,
  // 0x90 setcc
  M, M, M, M, M, M, M, M,         M, M, M, M, M, M, M, M,
  // 0xA0 push fs, pop fs, cpuid, bt, shld ib, shld cl, -, -, push gs, pop gs, rsm, bts, shrd ib, shrd cl, -, imul
  0, 0, 0, M, M|B, M, X, X,       0, 0, X, M, M|B, M, M, M,
  // 0xB0 cmpxchg, lss, btr, lfs, lgs, movzx, ud1, grp8, btc, bsf, bsr, movsx
  M, M, M|E, M, M, M, M, M,       X, M, M|B, M, M, M, M, M,
  // 0xC0 xadd, -, -, -, -, -, cmpxchg8b, bswap
  M, M, X, X, X, X, X, M,         0, 0, 0, 0, 0, 0, 0, 0,
  // 0xD0
  X, X, X, X, X, X, X, X,         X, X, X, X, X, X, X, X,
  // 0xE0
  X, X, X, X, X, X, X, X,         X, X, X, X, X, X, X, X,
  // 0xF0                                                         ud0
  X, X, X, X, X, X, X, X,         X, X, X, X, X, X, X, X,
]);

@inline export function opFlags(op: u32): u32 { return <u32>load<u8>(TABLE + op); }
