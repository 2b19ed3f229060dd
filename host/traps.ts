// traps.ts — a lab for unit-testing x86 trap semantics in a few lines.
//
//   const lab = trapLab({ cpl: 3, paging: { pages: [{ va: 0x400000, pa: 0x200000, write: false }] } });
//   const r = lab.run([0xc7, 0x05, 0x00, 0x00, 0x40, 0x00, 0x2a, 0, 0, 0]);   // mov dword [0x400000], 42
//   r.trap   // { vector: 14, name: "#PF", errorCode: 7, eip, offset: 0, cr2: 0x400000, frame: {...} }
//   r.state  // registers when the snippet stopped (at the trap, before delivery, or after the last byte)
//
// Every run builds a fresh Machine in a known state: a GDT (ring 0/3 flat code and data, a TSS with SS0:ESP0 and
// an I/O permission bitmap, an LDT slot), an IDT whose 256 gates point at one-instruction handler stubs (`hlt` at
// STUBS + 8*vector), optional 2-level page tables, then the snippet at CODE followed by a VMCALL that ends the run.
//
// A trap is observed two ways, both from the same deterministic start state:
//   "intercept"  the exception bitmap (and exitOnSoftInt) stop the CPU *before* delivery, like a VMCS: vector,
//                error code, EIP and CR2 as a VMM sees them, with the registers at that point;
//   "idt"        (default) the event is really delivered through the IDT: the run stops on the handler stub's
//                HLT and the result has the exact frame the CPU pushed (error code or not, 3/4 words at the same
//                privilege or 5/6 with SS:ESP after a stack switch, the pushed EFLAGS with RF/IF). The intercepted
//                pass runs first and tells where the stack stood before delivery, which sizes the frame exactly.
//                When delivery turns the event into another one (#GP → #DF, INT n through a DPL 0 gate → #GP),
//                `trap` is what reached a handler and `intercepted` is the original event; a triple fault gives
//                outcome "shutdown".
import { Machine, REG_NAMES, pageWritten } from "./machine.ts";
import type { Exit, GprName, MachineOptions } from "./machine.ts";
import {
  LAB, LAB_PAGES, DEFAULT_GDT, toBytes, toLoHi, describeResult, descriptor, gate,
  type PageMapping, type PagingOptions, type TrapLabOptions, type TrapFrame, type Trap, type TrapResult, type LabState,
  type IoEvent, type Outcome,
} from "./trap-lab-spec.ts";
// the lab's public vocabulary, as before the split
export { LAB, describeTrap, describeResult, toBytes, descriptor, gate } from "./trap-lab-spec.ts";
export type {
  PageMapping, PagingOptions, GateSpec, DescriptorSpec, Descriptor, TrapLabOptions, TrapFrame, Trap, LabState, IoEvent,
  Outcome, TrapResult,
} from "./trap-lab-spec.ts";
import * as A from "./abi.generated.ts";
import { PTE_P, PTE_W, PTE_U, PTE_A, PTE_D, PTE_PS, PTE_G, PTE_FRAME, PDE_LARGE_FRAME } from "./memory/paging.ts";

const HV_SIGNATURE = "WasmvisorLab";
const VMCALL = [0x0f, 0x01, 0xc1];

export {
  VECTOR_NAMES, vectorName, parseVector, ERROR_CODE_VECTORS, decodeSelectorError, decodeErrorCode,
} from "./trap-names.ts";
export { decodePfError } from "./memory/paging.ts";
export { pageWalk, linearToPhysical, type PteInfo } from "./memory/inspect.ts";
import { vectorName, ERROR_CODE_VECTORS } from "./trap-names.ts";
import { pageWalk, linearToPhysical, type PteInfo } from "./memory/inspect.ts";


// ---------------------------------------------------------------- paging
class PageTableBuilder {
  private next = LAB.PAGE_DIR + 0x1000;
  private large = new Set<number>();
  constructor(private m: Machine, private pdeBits: number) {
    m.fillMem(LAB.PAGE_DIR, 0x1000, 0);
  }
  private table(va: number): number {
    const pdi = va >>> 22;
    if (this.large.has(pdi)) throw new Error(`trapLab: 0x${(va >>> 0).toString(16)} is inside a 4 MiB mapping`);
    const pdeAddr = LAB.PAGE_DIR + pdi * 4;
    const pde = this.m.read32(pdeAddr);
    if (pde) return pde & PTE_FRAME;
    if (this.next >= LAB.PT_END) throw new Error("trapLab: too many page tables (at most 63)");
    const t = this.next; this.next += 0x1000;
    this.m.fillMem(t, 0x1000, 0);
    this.m.write32(pdeAddr, t | this.pdeBits);
    return t;
  }
  map4k(va: number, entry: number, pdeBits?: number): void {
    const t = this.table(va);
    if (pdeBits !== undefined) this.m.write32(LAB.PAGE_DIR + (va >>> 22) * 4, t | (pdeBits & 0xfff));
    this.m.write32(t + ((va >>> 12) & 0x3ff) * 4, entry);
  }
  map4m(va: number, entry: number): void {
    const pdi = va >>> 22;
    const old = this.m.read32(LAB.PAGE_DIR + pdi * 4);
    if (old && !this.large.has(pdi)) throw new Error(`trapLab: 4 MiB mapping at 0x${(va >>> 0).toString(16)} overlaps 4 KiB mappings`);
    this.large.add(pdi);
    this.m.write32(LAB.PAGE_DIR + pdi * 4, entry);
  }
}
function entryBits(p: PageMapping): number {
  return (p.present === false ? 0 : PTE_P) | (p.write === false ? 0 : PTE_W) | (p.user === false ? 0 : PTE_U) |
    (p.accessed ? PTE_A : 0) | (p.dirty ? PTE_D : 0) | (p.global ? PTE_G : 0) | (p.bits ?? 0);
}

// ---------------------------------------------------------------- the lab
export interface TrapLab {
  readonly options: Readonly<TrapLabOptions>;
  /** run a snippet (bytes or a hex string); `overrides` are merged into the lab's options for this run */
  run(code: ArrayLike<number> | string, overrides?: TrapLabOptions): TrapResult;
  /** a machine set up for `code` (booted, registers set, not run) with the exits configured for `mode` */
  prepare(code: ArrayLike<number> | string, overrides?: TrapLabOptions, mode?: "idt" | "intercept"): Machine;
}

export function trapLab(options: TrapLabOptions = {}): TrapLab {
  return {
    options,
    run: (code, overrides) => runLab(toBytes(code), { ...options, ...overrides }),
    prepare: (code, overrides, mode) => prepare(toBytes(code), { ...options, ...overrides }, mode ?? options.mode ?? "idt").m,
  };
}

/** 256 handler stubs: `hlt; jmp $-1`, padded to STUB_SIZE */
const STUBS_IMAGE = (() => {
  const b = new Uint8Array(256 * LAB.STUB_SIZE).fill(0x90);
  for (let v = 0; v < 256; v++) b.set([0xf4, 0xeb, 0xfd], v * LAB.STUB_SIZE);
  return b;
})();
let defaultIdt: Uint8Array | undefined;
/** the lab's IDT: a gate to each vector's stub unless `gates` overrides it (null: an empty entry) */
function idtImage(gates: NonNullable<TrapLabOptions["gates"]>): Uint8Array {
  const b = new Uint8Array(256 * 8), dv = new DataView(b.buffer);
  for (let v = 0; v < 256; v++) {
    const g = v in gates ? gates[v] : undefined;
    if (g === null) continue;
    const t = g?.type ?? "interrupt";
    const type = t === "interrupt" ? 0x0e : t === "trap" ? 0x0f : t === "task" ? 0x05 : t;
    const [lo, hi] = gate(g?.selector ?? LAB.SEL.KCODE, g?.offset ?? LAB.STUBS + v * LAB.STUB_SIZE, type, g?.dpl ?? 0, g?.present ?? true);
    dv.setUint32(v * 8, lo >>> 0, true); dv.setUint32(v * 8 + 4, hi >>> 0, true);
  }
  return b;
}

function prepare(code: Uint8Array, o: TrapLabOptions, mode: "idt" | "intercept") {
  if (code.length + VMCALL.length > LAB.CODE_MAX) throw new RangeError(`trapLab: code is longer than ${LAB.CODE_MAX - 3} bytes`);
  const cpl = o.cpl ?? 0;
  if (cpl !== 0 && cpl !== 3) throw new RangeError("trapLab: cpl must be 0 or 3");
  const memSize = o.memSize ?? 16 << 20;
  if (memSize < 1 << 20) throw new RangeError("trapLab: memSize must be at least 1 MiB (the lab's tables live below 512 KiB)");
  const mopts: MachineOptions = {
    memSize, exitOnHlt: true, hypervisorSignature: HV_SIGNATURE,
    exceptionBitmap: mode === "intercept" ? 0xffffffff : 0, exitOnSoftInt: mode === "intercept",
  };
  const m = new Machine(mopts);

  // GDT
  const gdt: Record<number, [number, number]> = { ...DEFAULT_GDT };
  if (o.tss?.limit !== undefined) gdt[0x28] = descriptor({ base: LAB.TSS, limit: o.tss.limit, access: 0x89 });
  for (const [sel, d] of Object.entries(o.gdt ?? {})) gdt[Number(sel) & ~7] = toLoHi(d);
  for (const [sel, [lo, hi]] of Object.entries(gdt)) {
    const s = Number(sel);
    if (s >= 0x80) throw new RangeError(`trapLab: GDT selector 0x${s.toString(16)} is beyond the lab's 16 descriptors`);
    m.write32(LAB.GDT + s, lo); m.write32(LAB.GDT + s + 4, hi);
  }
  for (const [sel, d] of Object.entries(o.ldt ?? {})) {
    const s = Number(sel) & ~7, [lo, hi] = toLoHi(d);
    if (s >= 0x80) throw new RangeError(`trapLab: LDT selector 0x${s.toString(16)} is beyond the lab's 16 descriptors`);
    m.write32(LAB.LDT + s, lo); m.write32(LAB.LDT + s + 4, hi);
  }
  // IDT and stubs (each written whole: a write per gate was most of a snippet's setup)
  m.writeMem(LAB.STUBS, STUBS_IMAGE);
  m.writeMem(LAB.IDT, o.gates ? idtImage(o.gates) : (defaultIdt ??= idtImage({})));
  // TSS: SS0:ESP0, I/O map base, bitmap (all denied except ioPorts), terminator
  m.write32(LAB.TSS + 4, o.tss?.esp0 ?? LAB.KSTACK_TOP);
  m.write32(LAB.TSS + 8, o.tss?.ss0 ?? LAB.SEL.KDATA);
  m.write16(LAB.TSS + 0x66, o.tss?.ioMapBase ?? LAB.IOMAP - LAB.TSS);
  m.fillMem(LAB.IOMAP, 0x2001, 0xff);
  for (const p of o.ioPorts ?? []) {
    const a = LAB.IOMAP + (p >>> 3);
    m.write8(a, m.read8(a) & ~(1 << (p & 7)));
  }
  // boot: ltr, lldt, vmcall (flat ring 0, paging off)
  const boot = [0x66, 0xb8, LAB.SEL.TSS, 0x00, 0x0f, 0x00, 0xd8]; // mov ax, 0x28; ltr ax
  if (o.ldt) boot.push(0x66, 0xb8, LAB.SEL.LDT, 0x00, 0x0f, 0x00, 0xd0); // mov ax, 0x30; lldt ax
  boot.push(...VMCALL);
  m.writeMem(LAB.BOOT, boot);
  m.setFlatProtectedMode();
  m.setGdtr(LAB.GDT, 0x7f);
  m.setIdtr(LAB.IDT, 0x7ff);
  m.esp = LAB.KSTACK_TOP;
  m.eip = LAB.BOOT;
  const bootExit = m.run(16);
  if (bootExit.reason !== "hypercall") throw new Error(`trapLab: the lab's boot code stopped with ${JSON.stringify(bootExit)}`);
  m.setGdtr(o.gdtBase ?? LAB.GDT, o.gdtLimit ?? 0x7f);
  m.setIdtr(o.idtBase ?? LAB.IDT, o.idtLimit ?? 0x7ff);

  // the snippet and its terminator
  m.writeMem(LAB.CODE, code);
  m.writeMem(LAB.CODE + code.length, VMCALL);
  // (LAB.DATA is zero: a new machine's RAM is, fresh or from the pool, and nothing above wrote there)

  // paging
  if (o.paging) {
    const p: PagingOptions = o.paging === true ? {} : o.paging;
    const b = new PageTableBuilder(m, p.pdeBits ?? 0x7);
    for (const [start, end, user] of LAB_PAGES) for (let a = start; a < end; a += 0x1000) b.map4k(a, a | 3 | (user ? 4 : 0));
    for (let a = LAB.PAGE_DIR; a < LAB.PT_END; a += 0x1000) b.map4k(a, a | 3);
    let anyLarge = false;
    for (const pm of p.pages ?? []) {
      const bits = entryBits(pm);
      if (pm.large) {
        anyLarge = true;
        const n = Math.max(1, Math.ceil((pm.size ?? 0x400000) / 0x400000));
        for (let i = 0; i < n; i++) {
          const va = (pm.va & PDE_LARGE_FRAME) + i * 0x400000, pa = ((pm.pa ?? pm.va) & PDE_LARGE_FRAME) + i * 0x400000;
          b.map4m(va, (pa | bits | PTE_PS) >>> 0);
        }
      } else {
        const n = Math.max(1, Math.ceil((pm.size ?? 0x1000) / 0x1000));
        for (let i = 0; i < n; i++) {
          const va = (pm.va & PTE_FRAME) + i * 0x1000, pa = ((pm.pa ?? pm.va) & PTE_FRAME) + i * 0x1000;
          b.map4k(va >>> 0, (pa | bits) >>> 0, pm.pdeBits);
        }
      }
    }
    const pse = p.pse ?? anyLarge;
    m.setCr("cr4", (pse ? A.CR4_PSE : 0) | (p.pge ? A.CR4_PGE : 0));
    m.setCr("cr3", LAB.PAGE_DIR);
    m.setCr("cr0", (A.CR0_PE | A.CR0_ET | A.CR0_PG | ((o.cr0wp ?? true) ? A.CR0_WP : 0)) >>> 0);
  } else {
    m.setCr("cr0", A.CR0_PE | A.CR0_ET | ((o.cr0wp ?? true) ? A.CR0_WP : 0));
  }

  // privilege, registers, flags
  if (cpl === 3) {
    m.setSegment("cs", { selector: LAB.SEL.UCODE, base: 0, limit: 0xffffffff, attr: 0xc0fb });
    for (const s of ["ss", "ds", "es", "fs", "gs"] as const) m.setSegment(s, { selector: LAB.SEL.UDATA, base: 0, limit: 0xffffffff, attr: 0xc0f3 });
  }
  for (const r of REG_NAMES) m.setReg(r, 0);
  m.esp = cpl === 3 ? LAB.USTACK_TOP : LAB.KSTACK_TOP;
  for (const [r, v] of Object.entries(o.regs ?? {})) m.setReg(r as GprName, v as number);
  let fl = o.eflags ?? 0x202;
  if (o.iopl !== undefined) fl = (fl & ~A.FLAG_IOPL) | ((o.iopl & 3) << 12);
  if (o.if !== undefined) fl = o.if ? fl | A.FLAG_IF : fl & ~A.FLAG_IF;
  if (o.tf !== undefined) fl = o.tf ? fl | A.FLAG_TF : fl & ~A.FLAG_TF;
  m.eflags = fl;
  m.eip = LAB.CODE;
  if (o.setup) o.setup(m);
  m.flushTlb(); // the setup may have edited page tables behind the CPU's back
  return { m, mopts, end: LAB.CODE + code.length, start: m.instructions };
}

function snapshot(m: Machine): LabState {
  const sel = (s: "cs" | "ss" | "ds" | "es" | "fs" | "gs") => m.getSegment(s).selector;
  return {
    eax: m.eax, ecx: m.ecx, edx: m.edx, ebx: m.ebx, esp: m.esp, ebp: m.ebp, esi: m.esi, edi: m.edi,
    eip: m.eip, eflags: m.eflags, cpl: m.cpl,
    cs: sel("cs"), ss: sel("ss"), ds: sel("ds"), es: sel("es"), fs: sel("fs"), gs: sel("gs"),
    cr0: m.getCr("cr0"), cr2: m.getCr("cr2"), cr3: m.getCr("cr3"), cr4: m.getCr("cr4"),
  };
}

interface Pass {
  m: Machine; mopts: MachineOptions; exit: Exit; outcome: Outcome | "event"; io: IoEvent[]; instructions: number; state: LabState;
  /** the stub's vector when a run stopped on a handler stub */
  stubVector?: number;
}

function pass(code: Uint8Array, o: TrapLabOptions, mode: "idt" | "intercept"): Pass {
  const { m, mopts, end, start } = prepare(code, o, mode);
  const budget = o.maxInstructions ?? 100_000;
  const io: IoEvent[] = [];
  const ones = (size: number) => (size === 4 ? 0xffffffff : (1 << (size * 8)) - 1);
  let exit: Exit;
  let outcome: Pass["outcome"];
  let stubVector: number | undefined;
  for (let exits = 0; ; exits++) {
    const left = budget - (m.instructions - start);
    if (left <= 0 || exits > 100_000) { exit = m.exit(); outcome = "budget"; break; }
    exit = m.run(left);
    const r = exit.reason;
    if (r === "io-out" || r === "mmio-write") {
      io.push({ kind: r === "io-out" ? "out" : "mmio-write", port: exit.port!, size: exit.size!, value: exit.value!, eip: exit.eip });
      continue;
    }
    if (r === "io-in" || r === "mmio-read") {
      const v = r === "io-in" ? (o.ioIn?.(exit.port!, exit.size!) ?? ones(exit.size!)) : (o.mmioRead?.(exit.port!, exit.size!) ?? ones(exit.size!));
      io.push({ kind: r === "io-in" ? "in" : "mmio-read", port: exit.port!, size: exit.size!, value: v >>> 0, eip: exit.eip });
      m.completeIo(v);
      continue;
    }
    if (r === "budget") { outcome = "budget"; break; }
    if (r === "hypercall") {
      outcome = exit.eip === end ? "completed" : "hypercall";
      if (outcome === "completed") m.eip = end; // stop at the end of the snippet, not past the lab's VMCALL
      break;
    }
    if (r === "shutdown") { outcome = "shutdown"; break; }
    if (r === "exception" || r === "softint") { outcome = "event"; break; }
    if (r === "hlt") {
      const off = exit.eip - LAB.STUBS;
      if (off >= 0 && off < 256 * LAB.STUB_SIZE && off % LAB.STUB_SIZE === 0 && m.cpl === 0) {
        stubVector = off / LAB.STUB_SIZE; outcome = "event";
      } else outcome = "hlt";
      break;
    }
    outcome = "budget"; // intr-window and anything new: stop
    break;
  }
  // neither the stub's hlt nor the terminating vmcall is the snippet's
  const instructions = m.instructions - start - (stubVector !== undefined || outcome === "completed" ? 1 : 0);
  return { m, mopts, exit, outcome, io, instructions, state: snapshot(m), stubVector };
}

function interceptedTrap(p: Pass): Trap {
  const e = p.exit;
  if (e.reason !== "softint" && e.reason !== "exception") throw new Error(`trapLab: no trap was intercepted (${e.reason} exit)`);
  const kind = e.reason;
  const vector = e.vector;
  // a softint exit stops with EIP past the INT instruction: that is what the handler would get
  const eip = p.m.eip;
  return {
    vector, name: vectorName(vector), errorCode: e.reason === "exception" ? e.errorCode : undefined, eip, offset: eip - LAB.CODE, cr2: p.m.getCr("cr2"),
    via: "intercept", kind,
  };
}

function runLab(code: Uint8Array, o: TrapLabOptions): TrapResult {
  const mode = o.mode ?? "idt";
  const a = pass(code, o, "intercept");
  let final = a;
  let intercepted: Trap | null = null;
  let trap: Trap | null = null;
  let outcome: Outcome;
  let state = a.state;
  if (a.outcome === "event" && a.stubVector === undefined) {
    intercepted = interceptedTrap(a);
    if (mode === "intercept") { trap = intercepted; outcome = "trap"; }
    else {
      // the intercepted pass's machine is the lab's own (its state is in `a`): its memory serves the next pass
      a.m.release();
      const b = pass(code, o, "idt");
      final = b;
      if (b.outcome === "event" && b.stubVector !== undefined) {
        outcome = "trap";
        trap = deliveredTrap(b, a, b.stubVector);
      } else {
        outcome = b.outcome === "event" ? "trap" : b.outcome;
      }
    }
  } else if (a.outcome === "event") {
    // a handler stub reached without an intercepted event (e.g. a jump into the stubs): report it as is
    outcome = "trap";
    trap = deliveredTrap(a, a, a.stubVector!);
  } else {
    outcome = a.outcome;
  }
  // the state at the trap is the intercepted one (before delivery); otherwise where the final run stopped
  if (!(outcome === "trap" && intercepted)) state = final.state;
  const held = holdMachine(final, o);
  const r: TrapResult = {
    outcome, trap, intercepted, state, exit: final.exit, io: final.io,
    instructions: final.instructions,
    get machine() { return held.machine(); },
    pte: (va) => pageWalk(held.machine(), va),
    read32: (va) => {
      const m = held.machine();
      const pa = linearToPhysical(m, va);
      if (pa === undefined) throw new RangeError(`trapLab: 0x${(va >>> 0).toString(16)} is not mapped`);
      return m.read32(pa);
    },
    describe: () => describeResult(r),
    release: () => held.release(),
  };
  return r;
}

/**
 * The final pass's machine as the result keeps it. Most snippets are checked by their trap record alone, so the
 * machine is not kept: its vCPU state and the pages written (the lab's tables, the snippet's stores: a few dozen
 * KiB) are copied, the machine goes back to the pool for the next snippet, and `machine` (or pte/read32) rebuilds
 * an identical one on first use (Machine.loadState + the pages: the snapshot path, exact by its contract). A suite of
 * snippets that never releases its results thus creates no wasm memory per snippet (each one costs V8 a
 * collection every few launches). Kept as is when a `setup` hook saw it (the caller may hold it) or when the
 * written pages are unknown.
 */
function holdMachine(p: Pass, o: TrapLabOptions): { machine(): Machine; release(): void } {
  let m: Machine | null = p.m;
  const written = o.setup ? null : m.writtenPages();
  if (!written) return { machine: () => m!, release: () => m!.release() };
  const vcpu = m.saveState();
  const pages: [number, Uint8Array][] = []; // runs of written pages
  for (let p = 0, n = written.length * 8; p < n; p++) {
    if (!pageWritten(written, p)) continue;
    let q = p + 1;
    while (q < n && pageWritten(written, q)) q++;
    pages.push([p * 4096, m.readMem(p * 4096, (q - p) * 4096)]);
    p = q;
  }
  m.release();
  m = null;
  let released = false;
  return {
    machine: () => {
      if (released) throw new Error("wasmvisor: this machine was released (Machine.release)");
      if (!m) {
        m = new Machine(p.mopts);
        for (const [pa, bytes] of pages) m.writeMem(pa, bytes);
        m.loadState(vcpu);
        pages.length = 0;
      }
      return m;
    },
    release: () => { released = true; pages.length = 0; m?.release(); },
  };
}

/**
 * Build the trap record from a run stopped on a handler stub. The frame is sized exactly from where the stack stood
 * before delivery, known from the intercepted pass `pre` when the stub was reached right after that event (same
 * instruction count); otherwise (custom handlers ran first) from the architectural rules: error code by vector,
 * privilege change from the pushed CS.
 */
function deliveredTrap(b: Pass, pre: Pass, vector: number): Trap {
  const m = b.m;
  const handlerEsp = m.esp;
  const ssBase = m.getSegment("ss").base;
  const word = (i: number) => readLinear32(m, ssBase + handlerEsp + 4 * i);
  // an INT n the intercepted pass stopped at counts as retired there, but not when its delivery faulted (#GP, #NP)
  const preCount = pre.exit.reason === "softint" && pre.exit.vector !== vector ? pre.instructions - 1 : pre.instructions;
  const exact = (pre.exit.reason === "exception" || pre.exit.reason === "softint") && preCount === b.instructions && pre !== b;
  let privilegeChange: boolean, n: number;
  if (exact) {
    privilegeChange = pre.state.cpl > m.cpl;
    const top = privilegeChange ? (tssEsp0(m) ?? handlerEsp) : pre.state.esp;
    n = Math.max(0, Math.min(16, (top - handlerEsp) >>> 2));
  } else {
    const err = vector < 32 && ERROR_CODE_VECTORS.has(vector) && !(pre.exit.reason === "softint" && pre.exit.vector === vector);
    const cs = word(err ? 2 : 1) ?? 0;
    privilegeChange = (cs & 3) > m.cpl;
    n = (privilegeChange ? 5 : 3) + (err ? 1 : 0);
  }
  const words: number[] = [];
  for (let i = 0; i < n; i++) words.push(word(i) ?? 0);
  const base = privilegeChange ? 5 : 3;
  const hasErr = n === base + 1;
  const w = hasErr ? words.slice(1) : words;
  const frame: TrapFrame = {
    words, errorCode: hasErr ? words[0] : undefined, eip: w[0] ?? 0, cs: w[1] ?? 0, eflags: w[2] ?? 0,
    privilegeChange, handlerEsp,
  };
  if (privilegeChange) { frame.esp = w[3]; frame.ss = w[4]; }
  return {
    vector, name: vectorName(vector), errorCode: frame.errorCode, eip: frame.eip, offset: frame.eip - LAB.CODE,
    cr2: m.getCr("cr2"), via: "idt",
    kind: pre.exit.reason === "softint" && pre.exit.vector === vector ? "softint" : "exception",
    frame,
  };
}
/** ESP0 of the TSS the lab's TR selector (0x28) describes, read through the GDT in guest memory. */
function tssEsp0(m: Machine): number | undefined {
  const g = m.getGdtr().base;
  const lo = readLinear32(m, g + LAB.SEL.TSS), hi = readLinear32(m, g + LAB.SEL.TSS + 4);
  if (lo === undefined || hi === undefined) return undefined;
  const base = ((hi & 0xff000000) | ((hi & 0xff) << 16) | (lo >>> 16)) >>> 0;
  return readLinear32(m, base + 4);
}
function readLinear32(m: Machine, va: number): number | undefined {
  const pa = linearToPhysical(m, va);
  return pa === undefined || pa + 4 > m.ramSize ? undefined : m.read32(pa);
}
