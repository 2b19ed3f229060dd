// trap-lab-spec.ts — the trap lab's (traps.ts) vocabulary: its memory layout, the options a snippet runs under,
// what a run reports, and the encoders and describers a test uses with it. traps.ts builds and runs the machines.
import type { Exit, GprName, Machine, MachineOptions } from "./machine.ts";
import type { PteInfo } from "./memory/inspect.ts";
import { decodeErrorCode } from "./trap-names.ts";

// ---------------------------------------------------------------- layout (guest-physical = lab linear)
export const LAB = {
  GDT: 0x1000,          // 16 descriptors
  LDT: 0x1800,          // up to 16 descriptors (loaded when `ldt` is given)
  IDT: 0x2000,          // 256 gates
  BOOT: 0x3000,         // ltr / lldt / vmcall, run once before the snippet
  STUBS: 0x3100,        // handler stubs: vector v at STUBS + 8 * v: `hlt; jmp $-1`
  STUB_SIZE: 8,
  TSS: 0x4000,          // 104-byte TSS, then the I/O bitmap (8 KiB) and its 0xFF terminator
  IOMAP: 0x4068,
  KSTACK_TOP: 0x8000,   // ring-0 stack (page 0x7000): TSS.ESP0, and ESP for CPL 0 snippets
  USTACK_TOP: 0x9000,   // ring-3 stack (page 0x8000)
  CODE: 0x10000,        // the snippet (up to 64 KiB), then the terminating VMCALL
  CODE_MAX: 0x10000,
  DATA: 0x20000,        // 64 KiB of scratch data, zeroed, user-accessible
  PAGE_DIR: 0x40000,    // page directory, then page tables from 0x41000
  PT_END: 0x80000,      // (at most 63 page tables)
  /** selectors */
  SEL: { KCODE: 0x08, KDATA: 0x10, UCODE: 0x1b, UDATA: 0x23, TSS: 0x28, LDT: 0x30 },
} as const;

/** Lab pages mapped (identity) when paging is on: [start, end, user]. */
export const LAB_PAGES: [number, number, boolean][] = [
  [0x1000, 0x8000, false],                 // GDT, LDT, IDT, boot + stubs, TSS + I/O bitmap, kernel stack
  [0x8000, 0x9000, true],                  // user stack
  [LAB.CODE, LAB.DATA + 0x10000, true],    // code and scratch data
];

// ---------------------------------------------------------------- options
export interface PageMapping {
  /** linear address (page aligned; 4 MiB aligned for `large`) */
  va: number;
  /** physical address; default: identity */
  pa?: number;
  /** bytes to map from va (rounded up to pages); default one page */
  size?: number;
  /** a 4 MiB page (PDE.PS); turns CR4.PSE on unless paging.pse is false */
  large?: boolean;
  /** P (default true); a non-present entry still gets the other bits */
  present?: boolean;
  /** R/W (default true) */
  write?: boolean;
  /** U/S (default true) */
  user?: boolean;
  /** G (needs pge to matter) */
  global?: boolean;
  accessed?: boolean;
  dirty?: boolean;
  /** raw bits OR-ed into the entry (PWT 0x8, PCD 0x10, AVL 0xe00, reserved bits, ...) */
  bits?: number;
  /** 4 KiB mappings: the low 12 bits of the PDE of their page table (default PagingOptions.pdeBits) */
  pdeBits?: number;
}
export interface PagingOptions {
  pages?: PageMapping[];
  /** CR4.PSE; default: on when a mapping is large */
  pse?: boolean;
  /** CR4.PGE; default off */
  pge?: boolean;
  /** PDE bits for the page tables the lab allocates (default 0x7: P, R/W, U/S) */
  pdeBits?: number;
}
export interface GateSpec {
  /** "interrupt" (default, clears IF), "trap", "task", or a raw 5-bit type (0x0E, 0x0F, 0x06, 0x07, 0x05...) */
  type?: "interrupt" | "trap" | "task" | number;
  dpl?: number;
  present?: boolean;
  selector?: number;
  /** handler offset; default the vector's stub */
  offset?: number;
}
/** A segment descriptor for the GDT/LDT; `access` is descriptor byte 5 (P DPL S type), `flags` the G/D/L/AVL nibble. */
export interface DescriptorSpec { base: number; limit: number; access: number; flags?: number }
export type Descriptor = DescriptorSpec | [lo: number, hi: number] | null;

export interface TrapLabOptions {
  /** privilege of the snippet: 0 (flat ring-0 code/data) or 3 (flat ring-3 code/data); default 0 */
  cpl?: 0 | 3;
  /** false (default), true (only the lab's own pages, identity-mapped), or mappings */
  paging?: boolean | PagingOptions;
  /** CR0.WP; default true (as every modern kernel sets it) */
  cr0wp?: boolean;
  /** EFLAGS.IOPL; default 0 */
  iopl?: number;
  /** EFLAGS.IF; default true */
  if?: boolean;
  /** EFLAGS.TF (single-step #DB after the first instruction); default false */
  tf?: boolean;
  /** initial EFLAGS (arithmetic flags, AC, DF...); iopl/if/tf are applied on top. Default 0x202 */
  eflags?: number;
  /** initial general registers; ESP defaults to the CPL's stack top */
  regs?: Partial<Record<GprName, number>>;
  /** ports a CPL 3 snippet may access at CPL > IOPL (clear bits in the TSS I/O bitmap); default none */
  ioPorts?: number[];
  /** TSS overrides: ESP0/SS0, the I/O map base (offset 0x66), the limit of the TSS descriptor */
  tss?: { esp0?: number; ss0?: number; ioMapBase?: number; limit?: number };
  /** IDT gate overrides by vector; null leaves the gate empty (type 0, not present) */
  gates?: Record<number, GateSpec | null>;
  /** IDTR base and limit; default LAB.IDT, 0x7ff */
  idtBase?: number;
  idtLimit?: number;
  /** GDT overrides by selector (0x38, 0x40... are free); default limit covers 16 descriptors */
  gdt?: Record<number, Descriptor>;
  gdtBase?: number;
  gdtLimit?: number;
  /** LDT descriptors by selector (selector & ~7); when given, LDTR is loaded with LAB.SEL.LDT */
  ldt?: Record<number, Descriptor>;
  /** guest RAM (default 16 MiB, at least 1 MiB) */
  memSize?: number;
  /** "idt" (default): real delivery through the IDT with the pushed frame; "intercept": exception-bitmap exits */
  mode?: "idt" | "intercept";
  /** instructions the snippet may retire (default 100,000); then outcome "budget" */
  maxInstructions?: number;
  /** value returned to IN instructions (default all ones) */
  ioIn?: (port: number, size: number) => number;
  /** value returned to MMIO reads outside RAM (default all ones) */
  mmioRead?: (addr: number, size: number) => number;
  /** last-minute changes to the machine, after the lab set it up and before the snippet runs (called once per pass; the intercepted pass's machine is released after it) */
  setup?: (m: Machine) => void;
}

// ---------------------------------------------------------------- results
export interface TrapFrame {
  /** the words the CPU pushed, lowest address first: [error code], EIP, CS, EFLAGS, [ESP, SS] */
  words: number[];
  errorCode?: number;
  eip: number;
  cs: number;
  eflags: number;
  /** SS:ESP of the interrupted code (only after a privilege change) */
  esp?: number;
  ss?: number;
  privilegeChange: boolean;
  /** ESP in the handler (the address of the frame's first word) */
  handlerEsp: number;
}
export interface Trap {
  vector: number;
  /** "#GP", "#PF", ... or "INT 0x80" */
  name: string;
  /** undefined when no error code was pushed (or reported) */
  errorCode?: number;
  /** the EIP the handler would return to (the faulting instruction for faults, the next one for traps) */
  eip: number;
  /** eip - LAB.CODE */
  offset: number;
  cr2: number;
  via: "idt" | "intercept";
  /** "exception" (CPU-raised) or "softint" (INT n / INT3 / INTO as seen by the intercepted pass) */
  kind: "exception" | "softint";
  /** only with via "idt" */
  frame?: TrapFrame;
}
export interface LabState {
  eax: number; ecx: number; edx: number; ebx: number; esp: number; ebp: number; esi: number; edi: number;
  eip: number; eflags: number; cpl: number;
  cs: number; ss: number; ds: number; es: number; fs: number; gs: number;
  cr0: number; cr2: number; cr3: number; cr4: number;
}
export interface IoEvent { kind: "in" | "out" | "mmio-read" | "mmio-write"; port: number; size: number; value: number; eip: number }
export type Outcome = "completed" | "trap" | "shutdown" | "hlt" | "budget" | "hypercall";
export interface TrapResult {
  /**
   * completed: the snippet ran to its end; trap: an event reached a handler stub (or, with mode "intercept",
   * an exception exit); shutdown: triple fault; hlt: a CPL 0 snippet halted; budget: maxInstructions retired;
   * hypercall: a VMCALL inside the snippet
   */
  outcome: Outcome;
  trap: Trap | null;
  /** the first event as the exception bitmap saw it, before any delivery (null when none was raised) */
  intercepted: Trap | null;
  /** registers when the snippet stopped: after its last byte, or when it raised its first event (before delivery) */
  state: LabState;
  /** the last exit of the machine */
  exit: Exit;
  io: IoEvent[];
  /** instructions the snippet retired (the lab's own boot and handler stub are not counted) */
  instructions: number;
  /** the machine after the run (the delivery run in mode "idt") */
  machine: Machine;
  /** walk the page tables of the machine after the run */
  pte(va: number): PteInfo | null;
  /** read guest memory through the current paging (falls back to physical when paging is off) */
  read32(va: number): number;
  /** one line: "completed without a trap (eip 0x10005)", "#PF(0x7: present, write, user) at eip 0x10000 (offset 0), cr2=0x400000, ..." */
  describe(): string;
  /** done with `machine` (and pte, read32): its memory serves the lab's next run (Machine.release), so a suite of many snippets allocates none */
  release(): void;
}

// ---------------------------------------------------------------- helpers
const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;
export function describeTrap(t: Trap): string {
  const err = t.errorCode === undefined ? "" : `(${decodeErrorCode(t.vector, t.errorCode)})`;
  let s = `${t.name}${err} at eip ${hex(t.eip)}`;
  if (t.offset >= 0 && t.offset < LAB.CODE_MAX) s += ` (offset ${t.offset})`;
  if (t.vector === 14) s += `, cr2=${hex(t.cr2)}`;
  if (t.frame) s += `, ${t.frame.words.length}-word frame${t.frame.privilegeChange ? " with stack switch" : ""}`;
  return s;
}
export function describeResult(r: Pick<TrapResult, "outcome" | "trap" | "intercepted" | "state" | "exit">): string {
  switch (r.outcome) {
    case "trap": return r.trap ? describeTrap(r.trap) : "trap";
    case "completed": return `completed without a trap (eip ${hex(r.state.eip)})`;
    case "shutdown": return `shut down (triple fault${r.intercepted ? `; first event ${describeTrap(r.intercepted)}` : ""})`;
    case "hlt": return `halted at eip ${hex(r.exit.eip)}`;
    case "budget": return `was still running after the instruction budget (eip ${hex(r.state.eip)})`;
    case "hypercall": return `executed a VMCALL at eip ${hex(r.exit.eip)}`;
  }
}

/** Hex string ("0f 0b", "0f0b") or bytes → Uint8Array. */
export function toBytes(code: ArrayLike<number> | string): Uint8Array {
  if (typeof code !== "string") return Uint8Array.from(code as ArrayLike<number>);
  const s = code.replace(/[\s,]|0x/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw new Error(`trapLab: bad hex code '${code}'`);
  return Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** Encode a segment descriptor as [lo, hi]. */
export function descriptor(d: DescriptorSpec): [number, number] {
  let limit = d.limit >>> 0, flags = d.flags ?? 0;
  if (limit > 0xfffff) { limit >>>= 12; flags |= 0x8; } // G
  const lo = ((d.base & 0xffff) << 16) | (limit & 0xffff);
  const hi = (d.base & 0xff000000) | ((flags & 0xf) << 20) | (limit & 0xf0000) | ((d.access & 0xff) << 8) | ((d.base >>> 16) & 0xff);
  return [lo >>> 0, hi >>> 0];
}
export function toLoHi(d: Descriptor): [number, number] {
  if (d === null) return [0, 0];
  if (Array.isArray(d)) return [d[0] >>> 0, d[1] >>> 0];
  return descriptor(d as DescriptorSpec);
}
/** A gate descriptor as [lo, hi]. */
export function gate(selector: number, offset: number, type: number, dpl: number, present = true): [number, number] {
  const lo = ((selector & 0xffff) << 16) | (offset & 0xffff);
  const hi = (offset & 0xffff0000) | (present ? 0x8000 : 0) | ((dpl & 3) << 13) | ((type & 0x1f) << 8);
  return [lo >>> 0, hi >>> 0];
}

export const DEFAULT_GDT: Record<number, [number, number]> = {
  0x08: descriptor({ base: 0, limit: 0xffffffff, access: 0x9b, flags: 0xc }), // ring-0 code (accessed)
  0x10: descriptor({ base: 0, limit: 0xffffffff, access: 0x93, flags: 0xc }), // ring-0 data
  0x18: descriptor({ base: 0, limit: 0xffffffff, access: 0xfb, flags: 0xc }), // ring-3 code
  0x20: descriptor({ base: 0, limit: 0xffffffff, access: 0xf3, flags: 0xc }), // ring-3 data
  0x28: descriptor({ base: LAB.TSS, limit: 0x68 + 0x2000, access: 0x89 }),     // available 32-bit TSS
  0x30: descriptor({ base: LAB.LDT, limit: 0x7f, access: 0x82 }),              // LDT
};
