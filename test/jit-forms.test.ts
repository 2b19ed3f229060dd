// jit-forms.test.ts — the handler records the block compiler emits inline beyond the fast forms
// (host/jit/emit-ext.ts: 16-bit moves and shifts, MOVZX/MOVSX, 8-bit moves, IMUL r, r/m, ADC/SBB, shifts by CL,
// read-modify-write ALU and INC/DEC on memory, TEST, SETcc, CMOVcc, cmp [m], r32). Each program runs compiled
// (threshold 1: every block compiled before its first run) and interpreted, and must end in the same state:
// registers, EFLAGS, instruction count, memory, and the exit (a #PF, an MMIO read) with its EIP — with the data in
// its own page (inline path), in the code's page, behind a based segment, across a page end and outside RAM (the
// CPU's handler).
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine } from "../host/machine.ts";
import type { BlockCompiler } from "../host/jit/compiler.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const haveCpu = existsSync(join(root, "build/cpu.wasm"));

// the body of a loop; EBX points at the data, EBP counts
const BODY = [
  0x01, 0xe8,                   // add eax, ebp (fresh values every round)
  0x69, 0xc0, 0xb5, 0x9e, 0x37, 0x79, // imul eax, eax, 0x79379eb5
  0x31, 0xc6,                   // xor esi, eax
  0x8d, 0x14, 0x40,             // lea edx, [eax+eax*2]
  0xc1, 0xc7, 0x07,             // rol edi, 7
  0x31, 0xc7,                   // xor edi, eax
  0x89, 0xc1,                   // mov ecx, eax (shift counts 0..31)
  0x66, 0x89, 0x03,             // mov [ebx], ax
  0x0f, 0xb7, 0x13,             // movzx edx, word [ebx]
  0x0f, 0xbf, 0x73, 0x02,       // movsx esi, word [ebx+2]
  0x0f, 0xbe, 0x7b, 0x01,       // movsx edi, byte [ebx+1]
  0x66, 0x8b, 0x4b, 0x04,       // mov cx, [ebx+4]
  0x8a, 0x63, 0x05,             // mov ah, [ebx+5]
  0x8a, 0x53, 0x06,             // mov dl, [ebx+6]
  0x0f, 0xaf, 0xc6,             // imul eax, esi
  0x0f, 0xaf, 0x43, 0x08,       // imul eax, [ebx+8]
  0x83, 0xd2, 0x05,             // adc edx, 5 (CF of the imul)
  0xd3, 0xe0,                   // shl eax, cl
  0xd3, 0xca,                   // ror edx, cl
  0x66, 0xc1, 0xee, 0x03,       // shr si, 3
  0x66, 0xd3, 0xe7,             // shl di, cl
  0x66, 0xc1, 0xc2, 0x05,       // rol dx, 5
  0xc1, 0xd0, 0x03,             // rcl eax, 3
  0x19, 0xf2,                   // sbb edx, esi
  0x1b, 0x43, 0x0c,             // sbb eax, [ebx+12]
  0x11, 0xc6,                   // adc esi, eax
  0x11, 0xde,                   // adc esi, ebx (reg field 3: still adc)
  0x83, 0xde, 0x07,             // sbb esi, 7
  0x01, 0x43, 0x10,             // add [ebx+16], eax
  0x21, 0x53, 0x14,             // and [ebx+20], edx
  0x31, 0x73, 0x18,             // xor [ebx+24], esi
  0x29, 0x7b, 0x1c,             // sub [ebx+28], edi
  0x09, 0x43, 0x20,             // or [ebx+32], eax
  0xff, 0x43, 0x24,             // inc dword [ebx+36]
  0xff, 0x4b, 0x28,             // dec dword [ebx+40]
  0x72, 0x01,                   // jb +1 (CF from before the inc/dec)
  0x47,                         // inc edi
  0x85, 0x43, 0x2c,             // test [ebx+44], eax
  0x0f, 0x94, 0xc1,             // sete cl
  0x0f, 0x4c, 0xd6,             // cmovl edx, esi
  0x39, 0x43, 0x30,             // cmp [ebx+48], eax
  0x0f, 0x92, 0xc5,             // setb ch
  0x84, 0xe1,                   // test cl, ah
  0x0f, 0x95, 0xc0,             // setne al
  0xf7, 0xd6,                   // not esi
  0x88, 0xe2,                   // mov dl, ah
  0xb5, 0x5a,                   // mov ch, 0x5a
  0x66, 0x89, 0xd1,             // mov cx, dx
  0x66, 0x8b, 0xf8,             // mov di, ax
  0x0f, 0xb6, 0xc2,             // movzx eax, dl
  0x0f, 0xb7, 0xf1,             // movzx esi, cx
  0x66, 0x89, 0x4b, 0x32,       // mov [ebx+50], cx
  0xd3, 0xf8,                   // sar eax, cl
  0xd3, 0xc0,                   // rol eax, cl
  0x66, 0xd3, 0xfe,             // sar si, cl
  0x66, 0xd1, 0xe2,             // shl dx, 1
  0xd3, 0xe8,                   // shr eax, cl (flags dead: the add overwrites them)
  0x01, 0xc2,                   // add edx, eax
  0x66, 0xc1, 0xfe, 0x11,       // sar si, 17 (flags dead)
  0x66, 0xc1, 0xe7, 0x02,       // shl di, 2 (flags dead)
  0x31, 0xc7,                   // xor edi, eax
  0x0f, 0x4f, 0xc7,             // cmovg eax, edi
  0x66, 0xc1, 0xf9, 0x13,       // sar cx, 19
  0x0f, 0x9c, 0xc4,             // setl ah
  0x01, 0x43, 0x34,             // add [ebx+52], eax
  0x0f, 0xaf, 0xd6,             // imul edx, esi (flags dead)
  0x85, 0xd2,                   // test edx, edx
  0x02, 0x43, 0x07,             // add al, [ebx+7]
  0x0f, 0x97, 0xc1,             // seta cl
  0x32, 0x53, 0x09,             // xor dl, [ebx+9]
  0x3c, 0x5a,                   // cmp al, 0x5a
  0x0f, 0x9c, 0xc5,             // setl ch
  0x38, 0x63, 0x0a,             // cmp [ebx+10], ah
  0x0f, 0x92, 0xc6,             // setb dh
  0x28, 0xe2,                   // sub dl, ah
  0x80, 0xe9, 0x03,             // sub cl, 3
  0x0f, 0x9e, 0xc4,             // setle ah
  0x0c, 0x40,                   // or al, 0x40
  0x20, 0xf4,                   // and ah, dh
  0x30, 0xc8,                   // xor al, cl
  0x0f, 0x98, 0xc2,             // sets dl
  0x64, 0x8b, 0x43, 0x04,       // mov eax, fs:[ebx+4] (FS based: the CPU's segment path)
  0x64, 0xff, 0x43, 0x24,       // inc dword fs:[ebx+36]
  0x3e, 0x8d, 0x74, 0x26, 0x00, // ds lea esi, [esi+0] (padding)
  0xf3, 0x90,                   // pause
  0x3e, 0x03, 0x43, 0x0c,       // ds add eax, [ebx+12]
  0x64, 0xa1, 0x00, 0x40, 0x00, 0x00, // mov eax, fs:[0x4000]
  0x3e, 0x39, 0x43, 0x10,       // ds cmp [ebx+16], eax
  0x0f, 0x9f, 0xc1,             // setg cl
];
// shifts whose flags are read (by pushf, which runs through the CPU's handler: all of EFLAGS, summed into EDI)
const SHIFT_FLAGS = [
  0xc1, 0xe8, 0x05,             // shr eax, 5
  0x9c, 0x5a, 0x01, 0xd7,       // pushf; pop edx; add edi, edx
  0xc1, 0xe0, 0x07,             // shl eax, 7
  0x9c, 0x5a, 0x01, 0xd7,       // pushf; pop edx; add edi, edx
  0xc1, 0xf8, 0x1d,             // sar eax, 29
  0x9c, 0x5a, 0x01, 0xd7,       // pushf; pop edx; add edi, edx
  0xd3, 0xe6,                   // shl esi, cl
  0x9c, 0x5a, 0x01, 0xd7,       // pushf; pop edx; add edi, edx
  0xd3, 0xee,                   // shr esi, cl
  0x9c, 0x5a, 0x01, 0xd7,       // pushf; pop edx; add edi, edx
  0xd3, 0xfe,                   // sar esi, cl
  0x9c, 0x5a, 0x01, 0xd7,       // pushf; pop edx; add edi, edx
  0x66, 0xc1, 0xe0, 0x03,       // shl ax, 3
  0x9c, 0x5a, 0x01, 0xd7,       // pushf; pop edx; add edi, edx
  0x66, 0xc1, 0xe8, 0x11,       // shr ax, 17
  0x9c, 0x5a, 0x01, 0xd7,       // pushf; pop edx; add edi, edx
  0x66, 0xd3, 0xe6,             // shl si, cl
  0x9c, 0x5a, 0x01, 0xd7,       // pushf; pop edx; add edi, edx
  0x66, 0xd3, 0xfe,             // sar si, cl
  0x9c, 0x5a, 0x01, 0xd7,       // pushf; pop edx; add edi, edx
  0x66, 0xc1, 0xf8, 0x0f,       // sar ax, 15
  0x9c, 0x5a, 0x01, 0xd7,       // pushf; pop edx; add edi, edx
  0x66, 0xd1, 0xe8,             // shr ax, 1
  0x9c, 0x5a, 0x01, 0xd7,       // pushf; pop edx; add edi, edx
  0xd1, 0xe8,                   // shr eax, 1
  0x9c, 0x5a, 0x01, 0xd7,       // pushf; pop edx; add edi, edx
];
const le32 = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
// mov ebp, n; BODY; dec ebp; jnz rel32 BODY; hlt
const program = (n: number, body: number[]) => [0xbd, ...le32(n), ...body, 0x4d, 0x0f, 0x85, ...le32(-(body.length + 7)), 0xf4];

interface Setup { ebx: number; n: number; paging?: boolean; dsBase?: number; body?: number[] }
const CODE = 0x1000;
function runIt(jitThreshold: number, s: Setup) {
  const m = new Machine({ memSize: 1 << 20, jitThreshold, exitOnHlt: true, exceptionBitmap: (1 << 13) | (1 << 14) });
  m.setFlatProtectedMode();
  m.setSegment("fs", { selector: 0x18, base: 0x100, limit: 0xffffffff, attr: 0xc093 });
  if (s.dsBase) m.setSegment("ds", { selector: 0x10, base: s.dsBase, limit: 0xfffff, attr: 0xc093 });
  m.writeMem(CODE, program(s.n, s.body ?? [...BODY, ...SHIFT_FLAGS]));
  const data = new Uint8Array(64);
  for (let i = 0; i < 64; i++) data[i] = (i * 37 + 11) & 0xff;
  if (s.ebx + (s.dsBase ?? 0) < 0x100000 - 64) m.writeMem(s.ebx + (s.dsBase ?? 0), data);
  if (s.paging) {
    // identity map of the first MiB, page 0x6000 not present
    const pt = new Uint8Array(4096), dv = new DataView(pt.buffer);
    for (let p = 0; p < 256; p++) dv.setUint32(p * 4, p === 6 ? 0 : (p << 12) | 3, true);
    m.writeMem(0xa000, pt);
    m.writeMem(0x9000, [0x03, 0xa0, 0, 0]);
    m.setCr("cr3", 0x9000);
    m.setCr("cr0", (m.getCr("cr0") | 0x80000000) >>> 0);
  }
  m.eip = CODE; m.esp = 0x8000; m.ebx = s.ebx;
  m.eax = 0x12345678; m.ecx = 5; m.edx = 0x9abcdef0; m.esi = 0x0f0f1234; m.edi = 0x80007fff; m.eflags = 0x2;
  const e = m.run(1_000_000);
  const mem = s.ebx + (s.dsBase ?? 0) < 0x100000 - 64 ? [...m.readMem(s.ebx + (s.dsBase ?? 0), 64)] : [];
  return {
    exit: { ...e }, regs: [m.eax, m.ebx, m.ecx, m.edx, m.esi, m.edi, m.ebp, m.esp, m.eip, m.eflags, m.instructions, m.getCr("cr2")],
    code: [...m.readMem(CODE, 0x1000)], mem, jit: m.jitStats,
    viaCpu: (m as unknown as { jit: BlockCompiler | null }).jit?.viaCpu ?? 0,
  };
}
function same(s: Setup) {
  const interp = runIt(0, s), jit = runIt(1, s);
  expect(jit.exit).toEqual(interp.exit);
  expect(jit.regs).toEqual(interp.regs);
  expect(jit.mem).toEqual(interp.mem);
  expect(jit.code).toEqual(interp.code);
  expect(interp.jit.compiled).toBe(0);
  expect(jit.jit.compiled).toBeGreaterThan(0);
  return { interp, jit };
}

describe.skipIf(!haveCpu)("inline handler records (emit-ext.ts) give the interpreter's results", () => {
  it("data in its own page: the inline path, 2,000 rounds", () => {
    const { jit } = same({ ebx: 0x4000, n: 2000 });
    expect(jit.exit.reason).toBe("hlt");
    const inline = same({ ebx: 0x4000, n: 2000, body: BODY }).jit;
    expect(inline.viaCpu).toBe(1); // every record of the loop compiled inline: only the final HLT goes through jitExec
  });
  it("every round count from 1 to 40 (flags and registers at the loop's exit)", () => {
    for (let n = 1; n <= 40; n++) same({ ebx: 0x4100 + n * 64, n });
  });
  it("data in the code's page: every store invalidates the block (the CPU's handler)", () => {
    expect(same({ ebx: 0x1800, n: 50 }).jit.exit.reason).toBe("hlt");
  });
  it("a based data segment and an access across a page end: the CPU's handler", () => {
    same({ ebx: 0x4000, n: 300, dsBase: 0x300 });
    same({ ebx: 0x4fff, n: 300 });
    same({ ebx: 0x4ffd, n: 300 });
  });
  it("a #PF on the first access (not-present page) exits at the same instruction with the same state", () => {
    const { jit } = same({ ebx: 0x6000, n: 10, paging: true });
    expect(jit.exit.reason).toBe("exception");
    expect(jit.regs[8]).toBe(CODE + 25); // the mov [ebx], ax
    expect(jit.regs[11]).toBe(0x6000);
  });
  it("a #PF at each memory access of the body: the EFLAGS of the instructions before it included", () => {
    // the data straddles the missing page: the accesses below 0x6000 complete, the first one above faults. (Before,
    // flags that a later instruction overwrites were not computed, and a fault between left stale ones: AF differed.)
    for (let k = 1; k <= 55; k++) { // (the last access is the dword at [ebx+52])
      const { jit } = same({ ebx: 0x6000 - k, n: 10, paging: true });
      expect(jit.exit.reason).toBe("exception");
    }
  });
  it("data outside RAM: an MMIO read exit at the same instruction", () => {
    const { jit } = same({ ebx: 0x200000, n: 10 });
    expect(jit.exit.reason).toBe("mmio-write");
  });
});
