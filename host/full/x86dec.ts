// x86dec.ts — a small 32-bit x86 instruction decoder for the full-mode VMM: lengths (for the kernel-code
// scanner's linear sweep) and operands (for the trap emulator). Protected mode, 32-bit code segments only
// (the CPU supports nothing else); 0x66 / 0x67 prefixes are honoured.

export interface Insn {
  /** address (linear) of the first byte */
  addr: number;
  len: number;
  /** 0x00..0xff one-byte opcodes, 0x0f00..0x0fff two-byte opcodes */
  op: number;
  opsize16: boolean;
  addrsize16: boolean;
  /** segment override 0..5 (ES CS SS DS FS GS) or -1 */
  seg: number;
  rep: 0 | 0xf2 | 0xf3;
  lock: boolean;
  hasModrm: boolean;
  mod: number;
  reg: number;
  rm: number;
  /** memory operand (mod != 3): base/index register numbers or -1, scale 1/2/4/8, displacement */
  base: number;
  index: number;
  scale: number;
  disp: number;
  /** immediate (zero-extended) and, for far pointers (9A/EA), the selector */
  imm: number;
  imm2: number;
}

export class DecodeError extends Error {}

// Immediate kinds
const N = 0, IB = 1, IW = 2, IZ = 3, IWB = 4, PTR = 5, MOFFS = 6;
// one-byte opcode table: bit 7 = ModRM present, low bits = immediate kind, -1 = prefix / invalid here
const ONE = new Int8Array(256);
const TWO = new Int8Array(256);
const M = 0x40;
(function build() {
  for (let i = 0; i < 0x40; i++) {
    const k = i & 7;
    ONE[i] = k < 4 ? M : k === 4 ? IB : k === 5 ? IZ : N;
  }
  ONE[0x0f] = -1;
  for (const p of [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]) ONE[p] = -1;
  for (let i = 0x40; i < 0x60; i++) ONE[i] = N;
  ONE[0x60] = N; ONE[0x61] = N; ONE[0x62] = M; ONE[0x63] = M;
  ONE[0x68] = IZ; ONE[0x69] = M | IZ; ONE[0x6a] = IB; ONE[0x6b] = M | IB;
  for (let i = 0x6c; i < 0x70; i++) ONE[i] = N;
  for (let i = 0x70; i < 0x80; i++) ONE[i] = IB;
  ONE[0x80] = M | IB; ONE[0x81] = M | IZ; ONE[0x82] = M | IB; ONE[0x83] = M | IB;
  for (let i = 0x84; i < 0x90; i++) ONE[i] = M;
  for (let i = 0x90; i < 0xa0; i++) ONE[i] = N;
  ONE[0x9a] = PTR;
  for (let i = 0xa0; i < 0xa4; i++) ONE[i] = MOFFS;
  for (let i = 0xa4; i < 0xb0; i++) ONE[i] = N;
  ONE[0xa8] = IB; ONE[0xa9] = IZ;
  for (let i = 0xb0; i < 0xb8; i++) ONE[i] = IB;
  for (let i = 0xb8; i < 0xc0; i++) ONE[i] = IZ;
  ONE[0xc0] = M | IB; ONE[0xc1] = M | IB; ONE[0xc2] = IW; ONE[0xc3] = N; ONE[0xc4] = M; ONE[0xc5] = M;
  ONE[0xc6] = M | IB; ONE[0xc7] = M | IZ; ONE[0xc8] = IWB; ONE[0xc9] = N; ONE[0xca] = IW; ONE[0xcb] = N;
  ONE[0xcc] = N; ONE[0xcd] = IB; ONE[0xce] = N; ONE[0xcf] = N;
  for (let i = 0xd0; i < 0xd4; i++) ONE[i] = M;
  ONE[0xd4] = IB; ONE[0xd5] = IB; ONE[0xd6] = N; ONE[0xd7] = N;
  for (let i = 0xd8; i < 0xe0; i++) ONE[i] = M;
  for (let i = 0xe0; i < 0xe8; i++) ONE[i] = IB;
  ONE[0xe8] = IZ; ONE[0xe9] = IZ; ONE[0xea] = PTR; ONE[0xeb] = IB;
  for (let i = 0xec; i < 0xf0; i++) ONE[i] = N;
  ONE[0xf1] = N; ONE[0xf4] = N; ONE[0xf5] = N; ONE[0xf6] = M; ONE[0xf7] = M;
  for (let i = 0xf8; i < 0xfe; i++) ONE[i] = N;
  ONE[0xfe] = M; ONE[0xff] = M;

  for (let i = 0; i < 256; i++) TWO[i] = M; // most two-byte opcodes take a ModRM
  for (const i of [0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x0e, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x37,
    0x77, 0xa0, 0xa1, 0xa2, 0xa8, 0xa9, 0xaa]) TWO[i] = N;
  for (let i = 0xc8; i < 0xd0; i++) TWO[i] = N;
  for (let i = 0x80; i < 0x90; i++) TWO[i] = IZ;
  for (const i of [0x70, 0x71, 0x72, 0x73, 0xa4, 0xac, 0xba, 0xc2, 0xc4, 0xc5, 0xc6]) TWO[i] = M | IB;
})();

const SEG_PREFIX: Record<number, number> = { 0x26: 0, 0x2e: 1, 0x36: 2, 0x3e: 3, 0x64: 4, 0x65: 5 };

/**
 * Decodes the instruction whose bytes `fetch(i)` returns (i = 0.. from its start). `fetch` may throw (e.g. a page
 * fault while reading guest memory); that propagates.
 */
export function decode(fetch: (i: number) => number, addr = 0): Insn {
  const d: Insn = {
    addr, len: 0, op: 0, opsize16: false, addrsize16: false, seg: -1, rep: 0, lock: false, hasModrm: false,
    mod: 0, reg: 0, rm: 0, base: -1, index: -1, scale: 1, disp: 0, imm: 0, imm2: 0,
  };
  let i = 0;
  const next = () => {
    if (i >= 15) throw new DecodeError("instruction longer than 15 bytes");
    return fetch(i++) & 0xff;
  };
  let b = next();
  for (;;) {
    if (b === 0x66) d.opsize16 = true;
    else if (b === 0x67) d.addrsize16 = true;
    else if (b === 0xf0) d.lock = true;
    else if (b === 0xf2 || b === 0xf3) d.rep = b;
    else if (b in SEG_PREFIX) d.seg = SEG_PREFIX[b];
    else break;
    b = next();
  }
  let kind: number;
  if (b === 0x0f) {
    const b2 = next();
    d.op = 0x0f00 | b2;
    kind = TWO[b2];
  } else {
    d.op = b;
    kind = ONE[b];
    if (kind < 0) throw new DecodeError(`bad opcode 0x${b.toString(16)}`);
  }
  if (kind & M) {
    d.hasModrm = true;
    const modrm = next();
    d.mod = modrm >> 6; d.reg = (modrm >> 3) & 7; d.rm = modrm & 7;
    if (d.mod !== 3) {
      if (d.addrsize16) {
        const bases: [number, number][] = [[3, 6], [3, 7], [5, 6], [5, 7], [6, -1], [7, -1], [5, -1], [3, -1]];
        [d.base, d.index] = bases[d.rm];
        if (d.mod === 0 && d.rm === 6) { d.base = -1; d.disp = next() | (next() << 8); d.disp = (d.disp << 16) >> 16; }
        else if (d.mod === 1) d.disp = (next() << 24) >> 24;
        else if (d.mod === 2) { d.disp = next() | (next() << 8); d.disp = (d.disp << 16) >> 16; }
      } else {
        let rm = d.rm;
        if (rm === 4) {
          const sib = next();
          d.scale = 1 << (sib >> 6);
          const idx = (sib >> 3) & 7;
          d.index = idx === 4 ? -1 : idx;
          rm = sib & 7;
          d.base = rm;
          if (rm === 5 && d.mod === 0) { d.base = -1; d.disp = next() | (next() << 8) | (next() << 16) | (next() << 24); }
        } else if (rm === 5 && d.mod === 0) {
          d.base = -1;
          d.disp = next() | (next() << 8) | (next() << 16) | (next() << 24);
        } else d.base = rm;
        if (d.mod === 1) d.disp = (next() << 24) >> 24;
        else if (d.mod === 2) d.disp = next() | (next() << 8) | (next() << 16) | (next() << 24);
      }
    }
  }
  let imm = kind & 0x3f;
  // F6/F7 /0 /1 (test) take an immediate
  if ((d.op === 0xf6 || d.op === 0xf7) && d.reg < 2) imm = d.op === 0xf6 ? IB : IZ;
  const rd = (n: number) => { let v = 0; for (let k = 0; k < n; k++) v |= next() << (8 * k); return v >>> 0; };
  switch (imm) {
    case IB: d.imm = rd(1); break;
    case IW: d.imm = rd(2); break;
    case IZ: d.imm = rd(d.opsize16 ? 2 : 4); break;
    case IWB: d.imm = rd(2); d.imm2 = rd(1); break;
    case PTR: d.imm = rd(d.opsize16 ? 2 : 4); d.imm2 = rd(2); break;
    case MOFFS: d.imm = rd(d.addrsize16 ? 2 : 4); break;
  }
  d.len = i;
  return d;
}

/** Decodes from a byte array at `off` (bytes past the end read as 0). */
export function decodeBytes(bytes: ArrayLike<number>, off = 0, addr = off): Insn {
  return decode((i) => (off + i < bytes.length ? bytes[off + i] : 0), addr);
}

/**
 * Sensitive-but-unprivileged instructions (the x86 hole: they run at CPL 3 without trapping but read or silently
 * ignore privileged state), plus the control transfers whose semantics depend on privilege, which the
 * deprivileged guest kernel must not execute natively. The scanner patches these; everything else that is
 * privileged traps by itself (#GP at CPL 3).
 */
export function sensitiveKind(d: Insn): string | null {
  switch (d.op) {
    case 0x9c: return "pushf";
    case 0x9d: return "popf";
    case 0xcf: return "iret";
    case 0xca: case 0xcb: return "retf";
    case 0x9a: return "lcall";
    case 0x0e: return "push-cs";
    case 0x16: return "push-ss";
    case 0x8c: return d.reg === 1 || d.reg === 2 ? "mov-from-cs-ss" : null;
    // SS loads: at real CPL 3 a DPL-3 stack segment with RPL 3 would load without trapping, where the virtual
    // CPL 0 requires DPL 0: emulate every SS load of the kernel
    case 0x8e: return d.reg === 2 ? "mov-ss" : null;
    case 0x17: return "pop-ss";
    case 0x0fb2: return "lss";
    case 0x0f00: return [/*sldt*/ "sldt", "str", null, null, "verr", "verw", null, null][d.reg];
    case 0x0f01:
      if (d.mod === 3) return d.reg === 4 ? "smsw" : null;
      return d.reg === 0 ? "sgdt" : d.reg === 1 ? "sidt" : d.reg === 4 ? "smsw" : null;
    case 0x0f02: return "lar";
    case 0x0f03: return "lsl";
    case 0xff: return d.reg === 3 ? "lcall" : null;
  }
  return null;
}
