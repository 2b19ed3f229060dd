// full-minivm.ts — a made-up guest for the full-mode unit tests (test/full-*.test.ts): a Machine + Monitor with
// a real GDT/IDT/TSS/LDT written in guest memory, a kernel prologue that loads them with the guest's own
// lgdt/lidt/ltr (all trapped and emulated), and hand-assembled bodies. Guest-physical X is machine X + VMM_SIZE.
import { Machine } from "../host/machine.ts";
import { Monitor, VMM_SIZE, type HandleResult } from "../host/full/monitor.ts";

export const RAM = 4 << 20;
export const KCODE = 0x08, KDATA = 0x10, UCODE = 0x1b, UDATA = 0x23, TSS_SEL = 0x28, LDT_SEL = 0x30, KCODE_DPL1 = 0x38;
export const GDT = 0x4000, IDT = 0x5000, TSS = 0x6000, LDT = 0x7000;
export const KSTACK = 0x8000, USTACK = 0x9000, KCODE_AT = 0x1000, HANDLER = 0x1800, UCODE_AT = 0x2c00;
/** the handlers: vector n → HANDLER + 16 n: `mov ss:[0x3100], n ; hlt` (the hlt ends the run; IF decides how) */
export const VEC_SEEN = 0x3100;

export const d32 = (x: number) => [x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, (x >>> 24) & 0xff];
export const d16 = (x: number) => [x & 0xff, (x >>> 8) & 0xff];

/** a segment descriptor: type byte (P|DPL|S|type) and base/limit (4 KiB granular, 32-bit) */
export function seg(base: number, limit: number, access: number, flags = 0xc): number[] {
  return [limit & 0xff, (limit >> 8) & 0xff, base & 0xff, (base >> 8) & 0xff, (base >> 16) & 0xff, access, ((flags << 4) | ((limit >> 16) & 0xf)), (base >>> 24) & 0xff];
}
/** an IDT gate: type byte (0x8e interrupt gate DPL 0, 0xef trap gate DPL 3, ...) */
export function gate(sel: number, off: number, type: number): number[] {
  return [off & 0xff, (off >> 8) & 0xff, sel & 0xff, sel >> 8, 0, type, (off >>> 16) & 0xff, off >>> 24];
}

/** lgdt [0x3000] ; lidt [0x3010] ; mov ax,0x28 ; ltr ax ; mov ax,0x10 ; mov ds/es/ss,ax */
export const PROLOGUE = [
  0x0f, 0x01, 0x15, ...d32(0x3000), 0x0f, 0x01, 0x1d, ...d32(0x3010),
  0x66, 0xb8, ...d16(TSS_SEL), 0x0f, 0x00, 0xd8,
  0x66, 0xb8, ...d16(KDATA), 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0,
];
/** enters user mode at UCODE_AT with IF=1: push 0x23 ; push USTACK ; push 0x202 ; push 0x1b ; push UCODE_AT ; iret */
export const TO_USER = [0x6a, UDATA, 0x68, ...d32(USTACK), 0x68, ...d32(0x202), 0x6a, UCODE, 0x68, ...d32(UCODE_AT), 0xcf];

export interface MiniOpts {
  closeHole?: boolean;
  /** how the x86 hole is caught: "runtime" (default, the CPU's sensitive exits) or "static" (the INT3 sweep) */
  translate?: "runtime" | "static";
  /** the CPU's fast paths (default on: host/full/README.md "Fast paths") */
  fastPaths?: boolean;
  /** user code at UCODE_AT */
  user?: number[];
  /** override IDT gate types per vector (default 0x8e; 0x80 and 3 get 0xee) */
  gates?: Record<number, number[]>;
  ioRead?: (port: number, size: number) => number;
  /** I/O bitmap bytes placed at TSS+0x68 (the TSS limit grows to cover them) */
  ioBitmap?: number[];
  /** a 16-bit TSS (type 1: SP0 at 2, SS0 at 4) instead of the 32-bit one */
  tss16?: boolean;
  /** the TSS descriptor's limit (default: 0x67, plus the I/O bitmap) */
  tssLimit?: number;
  machine?: Machine;
}

/** writes the tables, handlers, kernel code (prologue + body) and user code through `g` (guest-physical) */
export function writeLayout(g: (a: number, b: number[]) => void, body: number[], o: MiniOpts = {}): number[] {
  const tssLimit = o.tssLimit ?? 0x67 + (o.ioBitmap ? o.ioBitmap.length + 1 : 0);
  g(0x3000, [...d16(8 * 8 - 1), ...d32(GDT)]);
  g(0x3010, [...d16(256 * 8 - 1), ...d32(IDT)]);
  g(GDT, [
    0, 0, 0, 0, 0, 0, 0, 0,
    ...seg(0, 0xfffff, 0x9a), ...seg(0, 0xfffff, 0x92), ...seg(0, 0xfffff, 0xfa), ...seg(0, 0xfffff, 0xf2),
    ...seg(TSS, tssLimit, o.tss16 ? 0x81 : 0x89, 0), ...seg(LDT, 0xf, 0x82, 0), ...seg(0, 0xfffff, 0xba),
  ]);
  g(LDT, [...seg(0, 0xfffff, 0xf2), ...seg(0x100000, 0xf, 0xf2, 0)]); // 0x07: flat user data ; 0x0f: small
  const tss = new Array(Math.max(tssLimit + 1, 0x68)).fill(0);
  if (o.tss16) { tss.splice(2, 2, ...d16(KSTACK)); tss.splice(4, 2, ...d16(KDATA)); tss.splice(8, 4, ...d32(0xdead0000)); }
  else { tss.splice(4, 4, ...d32(KSTACK)); tss.splice(8, 4, ...d32(KDATA)); }
  tss.splice(0x66, 2, ...d16(o.ioBitmap ? 0x68 : 0xffff));
  if (o.ioBitmap) { tss.splice(0x68, o.ioBitmap.length, ...o.ioBitmap); tss[0x68 + o.ioBitmap.length] = 0xff; }
  g(TSS, tss);
  for (let v = 0; v < 256; v++) {
    g(IDT + v * 8, o.gates?.[v] ?? gate(KCODE, HANDLER + v * 16, v === 0x80 || v === 3 ? 0xee : 0x8e));
    g(HANDLER + v * 16, [0x36, 0xc7, 0x05, ...d32(VEC_SEEN), ...d32(v), 0xf4]); // ss: (DS may be null after user mode)
  }
  g(VEC_SEEN, d32(0xffffffff));
  const code = [...PROLOGUE, ...body];
  g(KCODE_AT, code);
  if (o.user) g(UCODE_AT, o.user);
  return code;
}

export function miniVm(body: number[], o: MiniOpts = {}) {
  const m = o.machine ?? new Machine({ memSize: RAM + VMM_SIZE, exceptionBitmap: 0xffffffff, exitOnSoftInt: true, exitOnHlt: true });
  const io: { port: number; size: number; value: number }[] = [];
  const mo = new Monitor(m, {
    guestRam: RAM, closeHole: o.closeHole, translate: o.translate, fastPaths: o.fastPaths,
    io: { ioRead: o.ioRead ?? ((port) => (port === 0x60 ? 0x5a : 0xff)), ioWrite: (port, size, value) => { io.push({ port, size, value }); } },
  });
  const g = (a: number, b: number[]) => m.writeMem(VMM_SIZE + a, b);
  const code = writeLayout(g, body, o);
  if (o.translate === "static") mo.patcher.addRegion(KCODE_AT, KCODE_AT + code.length, [KCODE_AT]);
  m.setFlatProtectedMode();
  m.eip = KCODE_AT; m.esp = KSTACK; m.eflags = 0x2;
  mo.start();
  const seen = () => m.read32(VMM_SIZE + VEC_SEEN) | 0;
  /** dword on the guest stack (guest-physical, paging off or identity) */
  const stack = (i: number) => m.read32(VMM_SIZE + m.esp + 4 * i) >>> 0;
  return { m, mo, io, g, seen, stack, rd32: (a: number) => m.read32(VMM_SIZE + a) >>> 0 };
}

/** the same guest on a plain Machine at CPL 0 (native mode: no monitor, no offset); run with m.run() */
export function nativeVm(body: number[], o: MiniOpts = {}) {
  const m = new Machine({ memSize: RAM, exitOnHlt: true });
  const g = (a: number, b: number[]) => m.writeMem(a, b);
  writeLayout(g, body, o);
  m.setFlatProtectedMode();
  m.eip = KCODE_AT; m.esp = KSTACK; m.eflags = 0x2;
  return { m, g, seen: () => m.read32(VEC_SEEN) | 0, stack: (i: number) => m.read32(m.esp + 4 * i) >>> 0, rd32: (a: number) => m.read32(a) >>> 0 };
}

/** runs until the monitor reports something (hlt / stop) or `max` exits */
export function go(mo: Monitor, max = 200): HandleResult {
  for (let i = 0; i < max; i++) {
    const r = mo.handle(mo.m.run(100_000));
    if (r) return r;
  }
  return null;
}

/** identity page tables for the first 4 MiB at PD 0x10000 / PT 0x11000 (flags per page; default user|rw|present) */
export function identityPaging(g: (a: number, b: number[]) => void, flags: (page: number) => number = () => 7) {
  g(0x10000, d32(0x11000 | 7));
  const pt: number[] = [];
  for (let i = 0; i < 1024; i++) pt.push(...d32((i << 12) | flags(i)));
  g(0x11000, pt);
}
/** mov eax,0x10000 ; mov cr3,eax ; mov eax,0x80010001 (PG|WP|PE) ; mov cr0,eax */
export const PAGING_ON = [0xb8, ...d32(0x10000), 0x0f, 0x22, 0xd8, 0xb8, ...d32(0x80010011), 0x0f, 0x22, 0xc0];
