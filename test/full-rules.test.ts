// full-rules.test.ts — the x86 rules the full-mode monitor takes from the CPU (Machine.rules, assembly/ops/rules.ts:
// IDT delivery, call gates and far CALL/JMP/RET, IRET/POPF flags, the I/O permission bitmap): each case runs the
// same made-up guest (test/full-minivm.ts) deprivileged and natively and compares what the guest can observe —
// the exception and its frame, ESP, CS/SS, EFLAGS, data segment registers. The cases marked "drift" differed
// while the monitor had its own TypeScript copies of these rules.
import { describe, it, expect } from "vitest";
import * as A from "../host/abi.generated.ts";
import {
  miniVm, nativeVm, go, type MiniOpts, d32, d16, gate, seg, TO_USER, KCODE, KDATA, UCODE, UDATA, GDT, KSTACK, USTACK,
  UCODE_AT, KCODE_AT, PROLOGUE, VEC_SEEN, LDT_SEL,
} from "./full-minivm.ts";

const HLT = 0xf4;
const JMP_SELF = [0xeb, 0xfe];
/** guest address of kernel body byte i */
const at = (i: number) => KCODE_AT + PROLOGUE.length + i;
/** where call gates enter: `mov ss:[VEC_SEEN], 0x99 ; hlt` */
const GATE_ENTRY = 0x3400;
/** a call gate: target selector and offset, parameter count, type byte (0xec: 32-bit DPL 3, 0xe4: 16-bit DPL 3) */
const callGate = (sel: number, off: number, type: number, params = 0) =>
  [off & 0xff, (off >> 8) & 0xff, sel & 0xff, sel >> 8, params, type, (off >>> 16) & 0xff, off >>> 24];
const CG_NP_TARGET = 0x40, CG_INWARD = 0x48, CODE_NP = 0x50, CG16 = 0x58;
/** the GDT grown to 16 entries: call gates and a not-present code segment */
function gates(g: (a: number, b: number[]) => void): void {
  g(0x3000, [...d16(16 * 8 - 1), ...d32(GDT)]);
  g(GDT + CG_NP_TARGET, callGate(CODE_NP, 0x1234, 0xec));
  g(GDT + CG_INWARD, callGate(KCODE, GATE_ENTRY, 0xec, 2));
  g(GDT + CODE_NP, seg(0, 0xfffff, 0x1a));
  g(GDT + CG16, callGate(KCODE, GATE_ENTRY, 0xe4));
  g(GATE_ENTRY, [0x36, 0xc7, 0x05, ...d32(VEC_SEEN), ...d32(0x99), HLT]);
}

interface Opts extends MiniOpts {
  setup?: (g: (a: number, b: number[]) => void) => void;
  /** monitor exits in full mode (a user `jmp $` never exits: keep it small) */
  exits?: number;
  budget?: number;
}

type Seen = ReturnType<typeof observe>;
function observe(seen: number, esp: number, words: number[], cs: number, ss: number, eflags: number, m: ReturnType<typeof nativeVm>["m"]) {
  const sreg = (s: "es" | "ds" | "fs" | "gs") => { const x = m.getSegment(s); return { sel: x.selector, usable: (x.attr & 0x80) !== 0 }; };
  return {
    seen, esp: esp >>> 0, words, cs, ss, eflags: eflags >>> 0,
    es: sreg("es"), ds: sreg("ds"), fs: sreg("fs"), gs: sreg("gs"),
    eax: m.eax >>> 0, ebx: m.ebx >>> 0, ecx: m.ecx >>> 0,
  };
}
/** the same guest deprivileged and natively; what each one's guest can observe at the end */
function both(body: number[], o: Opts = {}): { full: Seen; nat: Seen; fullStop: unknown; natReason: string; mo: ReturnType<typeof miniVm>["mo"] } {
  const f = miniVm(body, o);
  o.setup?.(f.g);
  const fullStop = go(f.mo, o.exits ?? 200);
  const n = nativeVm(body, o);
  o.setup?.(n.g);
  const natReason = n.m.run(o.budget ?? 100_000).reason;
  const words = (s: (i: number) => number) => Array.from({ length: 8 }, (_, i) => s(i));
  const full = observe(f.seen(), f.m.esp, words(f.stack), f.mo.vsel("cs"), f.mo.vsel("ss"), f.mo.guestFlags(), f.m);
  const nat = observe(n.seen(), n.m.esp, words(n.stack), n.m.getSegment("cs").selector, n.m.getSegment("ss").selector, n.m.eflags, n.m);
  return { full, nat, fullStop, natReason, mo: f.mo };
}

describe("IDT delivery: full mode = native", () => {
  it("an interrupt gate clears IF in the handler, a trap gate keeps it (frame, stack switch and flags equal)", () => {
    for (const type of [0xee, 0xef]) {
      const r = both(TO_USER, { user: [0xcd, 0x80], gates: { 0x80: gate(KCODE, 0x1800 + 0x80 * 16, type) } });
      expect(r.nat.seen).toBe(0x80);
      expect(r.full).toEqual(r.nat);
      expect(r.nat.eflags & A.FLAG_IF).toBe(type === 0xef ? A.FLAG_IF : 0);
      expect(r.nat.esp).toBe(KSTACK - 20);
    }
  });
  it("drift: INT n through a not-present gate is #NP(vector*8+2) with RF=1 in the #NP frame", () => {
    const r = both([0xcd, 0x41], { gates: { 0x41: gate(KCODE, 0x1800, 0x0e) } });
    expect(r.nat.seen).toBe(A.VEC_NP);
    expect(r.nat.words.slice(0, 2)).toEqual([0x41 * 8 + 2, at(0)]);
    expect(r.nat.words[3] & A.FLAG_RF).toBe(A.FLAG_RF); // the monitor pushed RF=0 for faults raised while delivering
    expect(r.full).toEqual(r.nat);
  });
  it("drift: INT n from user mode through a gate with DPL < CPL is #GP(vector*8+2), RF=1", () => {
    const r = both(TO_USER, { user: [0xcd, 0x81] });
    expect(r.nat.seen).toBe(A.VEC_GP);
    expect(r.nat.words.slice(0, 3)).toEqual([0x81 * 8 + 2, UCODE_AT, UCODE]);
    expect(r.full).toEqual(r.nat);
  });
  it("drift: INT 0x0d through a not-present gate is #NP (a software INT is not an exception: no #DF)", () => {
    const r = both([0xcd, 0x0d], { gates: { 13: gate(KCODE, 0x1800 + 13 * 16, 0x0e) } });
    expect(r.nat.seen).toBe(A.VEC_NP);
    expect(r.nat.words[0]).toBe(13 * 8 + 2);
    expect(r.full).toEqual(r.nat);
  });
  it("drift: a handler offset past its code segment's limit is #GP(EXT) (the monitor did not check the limit)", () => {
    // gate 0x42 → a small DPL 0 code segment at GDT 0x50 (limit 0xfff, byte granular), entry 0x2000
    const setup = (g: (a: number, b: number[]) => void) => {
      g(0x3000, [...d16(16 * 8 - 1), ...d32(GDT)]);
      g(GDT + 0x50, seg(0, 0xfff, 0x9a, 0x4));
    };
    const r = both([0xcd, 0x42], { setup, gates: { 0x42: gate(0x50, 0x2000, 0x8e) } });
    expect(r.nat.seen).toBe(A.VEC_GP);
    expect(r.nat.words[0]).toBe(0);
    expect(r.full).toEqual(r.nat);
  });
  it("drift: an inward frame that does not fit the new stack segment's limit is #SS (here ending in a triple fault)", () => {
    // SS0 = a DPL 0 data segment of limit 0x3fff (GDT 0x50), ESP0 = 0x5000: the 20-byte frame lies past the limit
    const setup = (g: (a: number, b: number[]) => void) => {
      g(0x3000, [...d16(16 * 8 - 1), ...d32(GDT)]);
      g(GDT + 0x50, seg(0, 0x3fff, 0x92, 0x4));
      g(0x6000 + 4, [...d32(0x5000), ...d32(0x50)]);
    };
    const r = both(TO_USER, { user: [0xcd, 0x80], setup });
    expect(r.natReason).toBe("shutdown");
    expect(r.fullStop).toMatchObject({ stop: "shutdown" });
    expect(r.full.seen).toBe(-1); // before: the monitor pushed the frame past the limit and ran the handler
    expect(r.mo.stats.reflected[String(A.VEC_SS)]).toBe(1);
  });
  it("the same frame fits when ESP0 leaves room below the limit", () => {
    const setup = (g: (a: number, b: number[]) => void) => {
      g(0x3000, [...d16(16 * 8 - 1), ...d32(GDT)]);
      g(GDT + 0x50, seg(0, 0x3fff, 0x92, 0x4));
      g(0x6000 + 4, [...d32(0x2000), ...d32(0x50)]);
    };
    const r = both(TO_USER, { user: [0xcd, 0x80], setup });
    expect(r.nat.seen).toBe(0x80);
    expect(r.nat.esp).toBe(0x2000 - 20);
    expect(r.full).toEqual(r.nat);
  });
  it("a #GP whose gate is not present becomes #DF(0) (#NP while delivering #GP)", () => {
    // mov ax,0x48 ; mov ds,ax (past the GDT limit: #GP(0x48))
    const r = both([0x66, 0xb8, ...d16(0x48), 0x8e, 0xd8, HLT], { gates: { 13: gate(KCODE, 0x1800 + 13 * 16, 0x0e) } });
    expect(r.nat.seen).toBe(A.VEC_DF);
    expect(r.nat.words[0]).toBe(0);
    expect(r.full).toEqual(r.nat);
  });
});

describe("IRET / RETF and EFLAGS: full mode = native", () => {
  it("drift: IRET to user mode nulls data segments whose cached DPL < 3 (by the cache, not the table) and keeps null selectors", () => {
    const body = [
      0xc6, 0x05, ...d32(GDT + KDATA + 5), 0xf2, // mov byte [GDT+KDATA+5], 0xf2: the table now says DPL 3; ES's cache says 0
      0x66, 0xb8, ...d16(0x38), 0x8e, 0xd8,      // mov ax,0x38 ; mov ds,ax   (readable code, DPL 1)
      0x66, 0xb8, ...d16(UDATA), 0x8e, 0xe0,     // mov ax,0x23 ; mov fs,ax
      0x66, 0xb8, ...d16(3), 0x8e, 0xe8,         // mov ax,3 ; mov gs,ax     (a null selector with RPL 3)
      ...TO_USER,
    ];
    const r = both(body, { user: JMP_SELF, exits: 30 });
    expect(r.nat.cs).toBe(UCODE);
    expect(r.nat.es).toEqual({ sel: 0, usable: false });
    expect(r.nat.ds).toEqual({ sel: 0, usable: false });
    expect(r.nat.fs).toEqual({ sel: UDATA, usable: true });
    expect(r.nat.gs.sel).toBe(3);
    expect(r.full).toEqual(r.nat);
  });
  it("IRET and POPF at CPL 3 with IOPL 0 cannot change IF or IOPL (emulated at the virtual CPL)", () => {
    const T = UCODE_AT + 21;
    const user = [
      0x68, ...d32(0x30c6), 0x9d, 0x9c, 0x5b,                   // push 0x30c6 (IOPL 3, IF 0, ZF SF PF) ; popf ; pushf ; pop ebx
      0x68, ...d32(0x3002), 0x6a, UCODE, 0x68, ...d32(T), 0xcf, // push 0x3002 ; push 0x1b ; push T ; iret
      0x9c, 0x59, ...JMP_SELF,                                  // T: pushf ; pop ecx ; jmp $
    ];
    expect(user.length).toBe(25);
    const r = both(TO_USER, { user, exits: 30 });
    // at virtual CPL 3 with IF=1, IOPL=0 the real popf is exact (runs natively); iret is always handed over
    expect(r.mo.stats.emulated).toMatchObject({ iret: 2 });
    expect(r.mo.stats.emulated.popf).toBeUndefined();
    expect(r.nat.ebx & (A.FLAG_IF | A.FLAG_IOPL | A.FLAG_ZF)).toBe(A.FLAG_IF | A.FLAG_ZF);
    expect(r.nat.ecx & (A.FLAG_IF | A.FLAG_IOPL)).toBe(A.FLAG_IF);
    expect(r.full).toEqual(r.nat);
  });
  it("POPF never changes VIF/VIP; a 32-bit IRET at CPL 0 loads them, a 16-bit one does not", () => {
    const T = at(21), T2 = at(39);
    const body = [
      0x68, ...d32(0x180002), 0x9d, 0x9c, 0x58,                 // push VIF|VIP ; popf ; pushf ; pop eax (untouched)
      0x68, ...d32(0x180002), 0x6a, KCODE, 0x68, ...d32(T), 0xcf, // iret (32-bit): loads VIF/VIP
      0x9c, 0x5b,                                               // T: pushf ; pop ebx
      0x6a, 0x02, 0x9d,                                         // push 2 ; popf: VIF/VIP stay
      0x66, 0x68, ...d16(0x0002), 0x66, 0x6a, KCODE, 0x66, 0x68, ...d16(T2), 0x66, 0xcf, // o16 iret: VIF/VIP stay
      0x9c, 0x59, HLT,                                          // T2: pushf ; pop ecx ; hlt
    ];
    expect(at(body.length - 3)).toBe(T2);
    const r = both(body);
    expect(r.nat.eax & 0x180000).toBe(0);
    expect(r.nat.ebx & 0x180000).toBe(0x180000);
    expect(r.nat.ecx & 0x180000).toBe(0x180000);
    expect(r.full).toEqual(r.nat);
  });
  it("RETF to an outer ring loads SS:ESP (+imm) from the stack and nulls DPL 0 data segments", () => {
    const body = [
      0x6a, UDATA, 0x68, ...d32(USTACK), 0x68, ...d32(0x1111), 0x68, ...d32(0x2222), 0x6a, UCODE, 0x68, ...d32(UCODE_AT),
      0xca, 8, 0, // retf 8
    ];
    const r = both(body, { user: JMP_SELF, exits: 30 });
    expect(r.nat.cs).toBe(UCODE);
    expect(r.nat.ss).toBe(UDATA);
    expect(r.nat.esp).toBe(USTACK + 8);
    expect(r.nat.ds).toEqual({ sel: 0, usable: false });
    expect(r.full).toEqual(r.nat);
  });
  it("RETF to an outer ring with an SS of the wrong DPL is #GP(SS selector)", () => {
    const body = [0x6a, KDATA | 3, 0x68, ...d32(USTACK), 0x6a, UCODE, 0x68, ...d32(UCODE_AT), 0xcb];
    const r = both(body, { user: JMP_SELF, exits: 30 });
    expect(r.nat.seen).toBe(A.VEC_GP);
    expect(r.nat.words[0]).toBe(KDATA);
    expect(r.full).toEqual(r.nat);
  });
});

describe("call gates and far CALL: full mode = native", () => {
  it("CALL from user mode through a call gate: inward, TSS stack, two parameters copied", () => {
    const user = [0x68, ...d32(0x1111), 0x68, ...d32(0x2222), 0x9a, ...d32(0), ...d16(CG_INWARD | 3)];
    const r = both(TO_USER, { user, setup: gates });
    expect(r.nat.seen).toBe(0x99);
    expect(r.nat.words.slice(0, 6)).toEqual([UCODE_AT + 17, UCODE, 0x2222, 0x1111, USTACK - 8, UDATA]);
    expect(r.full).toEqual(r.nat);
    expect(r.mo.stats.emulated["lcall gate"]).toBe(1);
  });
  it("a call gate whose target code segment is not present is #NP(target selector)", () => {
    const user = [0x9a, ...d32(0), ...d16(CG_NP_TARGET | 3)];
    const r = both(TO_USER, { user, setup: gates });
    expect(r.nat.seen).toBe(A.VEC_NP);
    expect(r.nat.words.slice(0, 2)).toEqual([CODE_NP, UCODE_AT]);
    expect(r.full).toEqual(r.nat);
  });
  it("drift: a 16-bit call gate pushes a 16-bit CS:IP (the monitor only knew 32-bit gates: #GP)", () => {
    const r = both([0x9a, ...d32(0), ...d16(CG16), HLT], { setup: gates });
    expect(r.nat.seen).toBe(0x99);
    expect(r.nat.esp).toBe(KSTACK - 4);
    expect(r.nat.words[0]).toBe((KCODE << 16) | at(7));
    expect(r.full).toEqual(r.nat);
  });
  it("drift: a far CALL past the target segment's limit is #GP(0) (the monitor did not check the limit)", () => {
    const setup = (g: (a: number, b: number[]) => void) => {
      g(0x3000, [...d16(16 * 8 - 1), ...d32(GDT)]);
      g(GDT + 0x50, seg(0, 0xfff, 0x9a, 0x4));
    };
    const r = both([0x9a, ...d32(0x2000), ...d16(0x50), HLT], { setup });
    expect(r.nat.seen).toBe(A.VEC_GP);
    expect(r.nat.words.slice(0, 2)).toEqual([0, at(0)]);
    expect(r.full).toEqual(r.nat);
  });
});

describe("far JMP through a call gate, task returns: full mode = native", () => {
  it("drift: a kernel JMP through a call gate lands at the gate's entry, same privilege (was the guest's #GP)", () => {
    const r = both([0xea, ...d32(0), ...d16(CG_INWARD), HLT], { setup: gates });
    expect(r.nat.seen).toBe(0x99);
    expect(r.nat.esp).toBe(KSTACK);
    expect(r.full).toEqual(r.nat);
    expect(r.mo.stats.emulated["ljmp gate"]).toBe(1);
  });
  it("drift: a JMP through a call gate whose target is not present is #NP(target selector) (was #GP)", () => {
    const r = both([0xea, ...d32(0), ...d16(CG_NP_TARGET), HLT], { setup: gates });
    expect(r.nat.seen).toBe(A.VEC_NP);
    expect(r.nat.words.slice(0, 2)).toEqual([CODE_NP, at(0)]);
    expect(r.full).toEqual(r.nat);
  });
  it("IRET with NT=1 checks the back link (here the null descriptor: #TS(0))", () => {
    // pushf ; or dword [esp],0x4000 ; popf ; iret
    const r = both([0x9c, 0x81, 0x0c, 0x24, ...d32(0x4000), 0x9d, 0xcf, HLT]);
    expect(r.nat.seen).toBe(A.VEC_TS);
    expect(r.nat.words.slice(0, 2)).toEqual([0, at(9)]);
    expect(r.full).toEqual(r.nat);
  });
});

describe("the I/O permission bitmap: full mode = native", () => {
  it("a port whose bitmap word lies past the TSS limit is #GP(0)", () => {
    // bitmap: one byte (ports 0-7 allowed) + the 0xff byte; limit 0x69. in al,0x60 reads past it
    const r = both(TO_USER, { user: [0xe4, 0x60], ioBitmap: [0x00] });
    expect(r.nat.seen).toBe(A.VEC_GP);
    expect(r.nat.words.slice(0, 2)).toEqual([0, UCODE_AT]);
    expect(r.full).toEqual(r.nat);
  });
  it("the bitmap word must fit inside the limit even for port 0 (limit 0x68)", () => {
    const r = both(TO_USER, { user: [0xe4, 0x00], ioBitmap: [0x00], tssLimit: 0x68 });
    expect(r.nat.seen).toBe(A.VEC_GP);
    expect(r.full).toEqual(r.nat);
  });
  it("a word access spanning an allowed and a denied port is #GP(0)", () => {
    // mov dx,7 ; in ax,dx: ports 7 (allowed) and 8 (the 0xff byte)
    const r = both(TO_USER, { user: [0x66, 0xba, ...d16(7), 0x66, 0xed], ioBitmap: [0x00] });
    expect(r.nat.seen).toBe(A.VEC_GP);
    expect(r.nat.words[1]).toBe(UCODE_AT + 4);
    expect(r.full).toEqual(r.nat);
  });
});

describe("LLDT / LTR: full mode = native", () => {
  it("ltr of an LDT descriptor, ltr / lldt of an LDT-relative selector, lldt of a not-present LDT", () => {
    const setup = (g: (a: number, b: number[]) => void) => {
      g(0x3000, [...d16(16 * 8 - 1), ...d32(GDT)]);
      g(GDT + 0x50, seg(0x7000, 0xf, 0x02, 0)); // an LDT descriptor, not present
    };
    const cases: [number[], number, number][] = [
      [[0x66, 0xb8, ...d16(LDT_SEL), 0x0f, 0x00, 0xd8], A.VEC_GP, LDT_SEL], // mov ax,0x30 ; ltr ax
      [[0x66, 0xb8, ...d16(0x0c), 0x0f, 0x00, 0xd8], A.VEC_GP, 0x0c],       // mov ax,0x0c ; ltr ax (TI=1)
      [[0x66, 0xb8, ...d16(0x0c), 0x0f, 0x00, 0xd0], A.VEC_GP, 0x0c],       // lldt ax (TI=1)
      [[0x66, 0xb8, ...d16(0x50), 0x0f, 0x00, 0xd0], A.VEC_NP, 0x50],       // lldt of the not-present LDT
    ];
    for (const [body, vec, err] of cases) {
      const r = both([...body, HLT], { setup });
      expect([r.nat.seen, r.nat.words[0]]).toEqual([vec, err]);
      expect(r.full).toEqual(r.nat);
    }
  });
});
