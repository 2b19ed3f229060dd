// inspect.ts — one linear address of a machine, as a debugger or the trap lab shows it: the entries that map it
// and their bits, through the one side-effect-free walker (paging.ts). Nothing is written.
import type { Machine } from "../machine.ts";
import * as A from "../abi.generated.ts";
import { walk, pagingRegs, READ, PTE_P, PTE_W, PTE_U, PTE_A, PTE_D, PTE_G } from "./paging.ts";
import { GuestPhysMemory } from "./guest-memory.ts";

export interface PteInfo {
  pdeAddr: number; pde: number; pteAddr?: number; pte?: number;
  /** the entry that maps the page (the PDE for a 4 MiB page) */
  entry: number; large: boolean;
  present: boolean; write: boolean; user: boolean; accessed: boolean; dirty: boolean; global: boolean;
  /** physical address va translates to (undefined when not present) */
  pa?: number;
}
/** Walk the guest page tables (no side effects: the one walker, host/memory/paging.ts). */
export function pageWalk(m: Machine, va: number): PteInfo | null {
  const w = walk(new GuestPhysMemory(m), pagingRegs(m), va, READ);
  if (w.level === 0 || w.outside === w.pdeAddr) return null;
  const { pdeAddr, pde } = w;
  const info = (entry: number, large: boolean, pa: number | undefined, extra: Partial<PteInfo>): PteInfo => ({
    pdeAddr, pde, entry, large, present: !!(entry & PTE_P), write: !!(entry & PTE_W), user: !!(entry & PTE_U),
    accessed: !!(entry & PTE_A), dirty: !!(entry & PTE_D), global: !!(entry & PTE_G), pa, ...extra,
  });
  if (w.large) return info(pde, true, w.phys, {});
  if (w.level === 1) return info(pde, false, undefined, {}); // PDE not present
  if (w.outside >= 0) return info(pde, false, undefined, { pteAddr: w.pteAddr }); // its page table is past RAM
  return info(w.pte, false, w.phys >= 0 ? w.phys : undefined, { pteAddr: w.pteAddr, pte: w.pte });
}
/** va → pa through the machine's paging (identity when paging is off); undefined when not mapped. */
export function linearToPhysical(m: Machine, va: number): number | undefined {
  if (!(m.getCr("cr0") & A.CR0_PG)) return va >>> 0;
  const w = pageWalk(m, va);
  return w?.pa;
}
