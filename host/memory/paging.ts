// paging.ts — x86 32-bit paging for the host: the one set of PDE/PTE/#PF constants (generated from
// assembly/abi.ts, the CPU's own) and the one side-effect-free page walker (SDM Vol. 3A §4.3, §4.6, §4.7).
//
// walk() computes exactly what the CPU's walk (assembly/mmu.ts translate) decides for one access — the
// guest-physical address, or the #PF error code it raises — but writes nothing: no accessed/dirty bits, no TLB
// fill. It is what the monitor, debuggers and devices use to look at guest memory. Whoever must behave like the
// hardware that fills a TLB entry (shadow paging) applies markAccessed() on top, as a separate explicit step.
//
// Table reads outside RAM see an open bus (all ones), as the CPU's do; `outside` tells where that happened, so a
// caller that refuses such tables (the full-mode monitor) can.
import * as A from "../abi.generated.ts";

export const {
  PTE_P, PTE_W, PTE_U, PTE_PWT, PTE_PCD, PTE_A, PTE_D, PTE_PS, PTE_G, PTE_FRAME, PDE_LARGE_FRAME, PDE_LARGE_RSVD,
  PF_P, PF_W, PF_U, PF_RSVD,
} = A;
export const PAGE_SIZE = 0x1000, LARGE_PAGE_SIZE = 0x400000;

/** The kind of access, as the #PF error code spells it: PF_W for a write, PF_U for a CPL 3 access. */
export type Access = number;
export const READ: Access = 0, WRITE: Access = PF_W, USER_READ: Access = PF_U, USER_WRITE: Access = PF_U | PF_W;
export function access(write: boolean, user: boolean): Access { return (write ? PF_W : 0) | (user ? PF_U : 0); }

/** The control registers that decide a walk (only CR0.PG/WP, CR3's frame and CR4.PSE matter). */
export interface PagingRegs { cr0: number; cr3: number; cr4: number }

/** Guest-physical dwords as the walker reads (and markAccessed writes) them. */
export interface TableMemory {
  /** the dword at `gpa`, or undefined when [gpa, gpa + 4) is outside RAM */
  peek32(gpa: number): number | undefined;
  /** store a dword (code-cache coherent); ignored outside RAM, as the CPU's physical writes are */
  poke32(gpa: number, v: number): void;
}

export interface Walk {
  /** the access may proceed */
  ok: boolean;
  /** #PF error code the CPU raises for this access (P, W, U, RSVD); 0 when ok */
  errorCode: number;
  /**
   * guest-physical address of `linear` through the present leaf entry (also when the access itself is refused
   * for permission or reserved bits); -1 when no present leaf maps it. Identity with paging off. It may be
   * beyond RAM (MMIO).
   */
  phys: number;
  /** 0: paging off; 1: decided by the PDE (4 MiB page, or PDE not present); 2: decided by the PTE */
  level: 0 | 1 | 2;
  /** a 4 MiB page (PDE.PS with CR4.PSE) */
  large: boolean;
  /** guest-physical address and value of the PDE (-1 / 0 with paging off) */
  pdeAddr: number; pde: number;
  /** guest-physical address and value of the PTE (-1 / 0 when none was read) */
  pteAddr: number; pte: number;
  /** the leaf entry (the PDE for a 4 MiB page; 0 when none) */
  leaf: number;
  /** a write at this access's privilege would be allowed by the entries (true with paging off) */
  writable: boolean;
  /** the first table entry read outside RAM (it read as all ones); -1 when none */
  outside: number;
}

/** CPU rule (assembly/mmu.ts allowed): user accesses need U (and W to write); supervisor writes need W only with CR0.WP. */
export function permits(bits: number, write: boolean, user: boolean, cr0: number): boolean {
  if (user) return (bits & PTE_U) !== 0 && (!write || (bits & PTE_W) !== 0);
  return !write || (bits & PTE_W) !== 0 || (cr0 & A.CR0_WP) === 0;
}

/** One table entry; outside RAM an open bus (all ones), as the CPU reads it, noting where. */
function readEntry(mem: TableMemory, r: Walk, gpa: number): number {
  const v = mem.peek32(gpa);
  if (v !== undefined) return v >>> 0;
  if (r.outside < 0) r.outside = gpa;
  return 0xffffffff;
}

/** The guest's page walk for one access at `linear`. Reads the tables, writes nothing. */
export function walk(mem: TableMemory, regs: PagingRegs, linear: number, acc: Access): Walk {
  const lin = linear >>> 0;
  const write = (acc & PF_W) !== 0, user = (acc & PF_U) !== 0;
  const r: Walk = {
    ok: false, errorCode: 0, phys: -1, level: 0, large: false, pdeAddr: -1, pde: 0, pteAddr: -1, pte: 0, leaf: 0,
    writable: true, outside: -1,
  };
  const err = acc & (PF_W | PF_U);
  if (!(regs.cr0 & A.CR0_PG)) { r.ok = true; r.phys = lin; return r; }
  r.level = 1;
  r.pdeAddr = (((regs.cr3 & PTE_FRAME) >>> 0) + (lin >>> 22) * 4) >>> 0;
  const pde = r.pde = readEntry(mem, r, r.pdeAddr);
  if (!(pde & PTE_P)) { r.errorCode = err; return r; }
  if ((pde & PTE_PS) && (regs.cr4 & A.CR4_PSE)) {
    r.large = true;
    r.leaf = pde;
    r.phys = (((pde & PDE_LARGE_FRAME) >>> 0) + (lin & (LARGE_PAGE_SIZE - 1))) >>> 0;
    r.writable = permits(pde, true, user, regs.cr0);
    // reserved bits 13..21 fault before the permission check (PSE-36 would put physical bits there)
    if (pde & PDE_LARGE_RSVD) { r.errorCode = err | PF_P | PF_RSVD; return r; }
    if (!permits(pde, write, user, regs.cr0)) { r.errorCode = err | PF_P; return r; }
    r.ok = true;
    return r;
  }
  r.level = 2;
  r.pteAddr = (((pde & PTE_FRAME) >>> 0) + ((lin >>> 12) & 0x3ff) * 4) >>> 0;
  const pte = r.pte = readEntry(mem, r, r.pteAddr);
  if (!(pte & PTE_P)) { r.errorCode = err; return r; }
  r.leaf = pte;
  r.phys = (((pte & PTE_FRAME) >>> 0) + (lin & (PAGE_SIZE - 1))) >>> 0;
  r.writable = permits(pde & pte, true, user, regs.cr0);
  if (!permits(pde & pte, write, user, regs.cr0)) { r.errorCode = err | PF_P; return r; }
  r.ok = true;
  return r;
}

/**
 * The accessed/dirty update the CPU makes for the access `w` was walked for, applied explicitly: a PDE used as a
 * page-table pointer gets A (even when its PTE then faults); the leaf of a successful access gets A, and D for a
 * write. Returns whether anything changed. Only shadow paging (filling a TLB-like shadow entry) should call this.
 */
export function markAccessed(mem: TableMemory, w: Walk, write: boolean): boolean {
  let changed = false;
  if (w.level === 2 && !(w.pde & PTE_A)) { mem.poke32(w.pdeAddr, (w.pde | PTE_A) >>> 0); changed = true; }
  if (!w.ok || w.level === 0) return changed;
  const addr = w.large ? w.pdeAddr : w.pteAddr;
  const old = w.large ? w.pde : w.pte;
  const nv = (old | PTE_A | (write ? PTE_D : 0)) >>> 0;
  if (nv !== old) { mem.poke32(addr, nv); changed = true; }
  return changed;
}

/** The current paging registers of a machine-like object. */
export function pagingRegs(m: { getCr(name: "cr0" | "cr3" | "cr4"): number }): PagingRegs {
  return { cr0: m.getCr("cr0") >>> 0, cr3: m.getCr("cr3") >>> 0, cr4: m.getCr("cr4") >>> 0 };
}

/** A page-fault error code in words: "present, write, user" ... */
export function decodePfError(e: number): string {
  const p = [e & PF_P ? "present" : "not-present", e & PF_W ? "write" : "read", e & PF_U ? "user" : "supervisor"];
  if (e & PF_RSVD) p.push("reserved-bit");
  if (e & 16) p.push("fetch");
  return p.join(", ");
}
