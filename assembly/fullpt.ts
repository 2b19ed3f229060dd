// fullpt.ts — full mode's shadow-paging faults resolved inside the CPU (abi.ts "full-ptw" block, CTRL_FAST_PT;
// host/full/README.md "Page-table writes and fills in the CPU"), as KVM handles them in the kernel.
//
// The CPU walks only the monitor's shadow tables. Two kinds of #PF of that walk are the monitor's own business,
// invisible to the guest, and are done here with the monitor's rules (host/full/shadow.ts fill / writeEntries,
// host/full/ptwrite.ts) against the mirror it publishes (host/full/ptmirror.ts):
//   - a hidden fill: the guest's PDE/PTE allow the access (at the virtual CPL), the page is guest RAM, and the
//     shadow PT for that PDE exists and was built from the guest PT the walk used. The guest's A (and D on a
//     write) bits are set as the monitor's walk sets them, the shadow PTE becomes frame + RAM offset, P, U, and W
//     only if the guest allows the write, its D bit is set and the frame is not protected (no shadow page is
//     built from it); a writable entry is logged for the monitor's reverse map. The walk then goes on.
//   - a store to a protected guest page table (a frame some shadow page is built from), from an ordinary write
//     (mmu.ts wrAs) only: it is done in guest memory (the TLB gets no entry for the page), and the shadow PTEs
//     built from the guest words it changed (other than A/D) are zapped, each page invalidated. A change of a PDE
//     some shadow PD has a PT for (which frees a shadow PT) undoes the store and takes the exit, as does the write
//     that would reach the monitor's unshadow count.
// Everything the CPU cannot decide exactly (paging off, 4 MiB guest pages, MMIO, a shadow PT missing or built from
// another frame, the VMM's PDE, a system access, a full log, checkWritable/rep/string/INS stores) takes the old exit
// untouched: the monitor then does what it always did. Every index read from the mirror is bounds-checked; a
// shadow entry made here only ever points into guest RAM.
import {
  OFF_CTRL, CTRL_FAST_PT, OFF_FPT_FRAMES, OFF_FPT_NFRAMES, OFF_FPT_PAGES, OFF_FPT_NPAGES, OFF_FPT_RAMOFF,
  OFF_FPT_LOG, OFF_FPT_LOG_CAP, OFF_FPT_FLOOD, OFF_FPT_N_WRITES, OFF_FPT_N_FILLS, FPT_HEAD_MASK, FPT_COUNT_SHIFT,
  FPT_KIND_SHIFT, FPT_KIND_PT, FPT_KIND_PD_K, FPT_KIND_PD_U, OFF_FF_VCR0, OFF_FF_VCR3, OFF_FF_VCR4, OFF_FF_VCPL,
  OFF_CR3, CR0_PG, CR0_WP, CR4_PSE, PTE_P, PTE_W, PTE_U, PTE_A, PTE_D, PTE_PS,
} from "./abi";
import { OFF_FF_KPD, OFF_FF_UPD, OFF_FPT_N_INVLPG } from "./abi";
import { st, setSt } from "./state";
import { physRd32, physWr32, tlbInvlpg, pageFault } from "./mmu";

export const FPT_NO: u32 = 0;    // the old #PF exit
export const FPT_RETRY: u32 = 1; // filled: walk again
export const FPT_STORE: u32 = 2; // a page-table store: fptPhys is the frame's machine address (wrAs does it: fptStore)

/** machine-physical page of the protected frame a FPT_STORE answer lets wrAs write */
export let fptPhys: u32 = 0;
let armed: bool = false;   // set by wrAs around its translate: only an ordinary store may be done here
let pending: bool = false; // translate answered FPT_STORE
let busy: bool = false;    // the re-walk after a fill: a second fault there is the monitor's
let storeFrame: u32 = 0;
let storeErr: u32 = 0;

export function fptArm(on: bool): void { armed = on; pending = false; }
/** translate answered FPT_STORE for the armed store (cleared by the next fptArm) */
export function fptTaken(): bool { const p = pending; pending = false; armed = false; return p; }
export function fptBusy(on: bool): void { busy = on; }

/** CPU rule (mmu.ts allowed) at the virtual privilege: user accesses need U (and W), supervisor writes W with WP */
@inline function permits(bits: u32, write: bool, user: bool, c0: u32): bool {
  if (user) return (bits & PTE_U) != 0 && (!write || (bits & PTE_W) != 0);
  return !write || (bits & PTE_W) != 0 || (c0 & CR0_WP) == 0;
}
@inline function bump(off: u32): void { setSt(off, st(off) + 1); }
/** the mirror's words of VMM page `q` (< OFF_FPT_NPAGES: checked by the callers) */
@inline function pageSrc(q: u32): u32 { return physRd32(st(OFF_FPT_PAGES) + (q << 3)); }
@inline function pageLink(q: u32): u32 { return physRd32(st(OFF_FPT_PAGES) + (q << 3) + 4); }
@inline function kindOf(link: u32): u32 { return (link >>> FPT_KIND_SHIFT) & 3; }
@inline function frameAddr(f: u32): u32 { return st(OFF_FPT_FRAMES) + (f << 2); }

/**
 * A #PF of the shadow walk (mmu.ts translate) for `lin`: resolves it here when exact (FPT_RETRY / FPT_STORE),
 * else FPT_NO with nothing changed. `user`: the real access's privilege (false: a system access — the monitor's).
 */
export function fptFault(lin: u32, write: bool, user: bool, err: u32): u32 {
  if (busy || !user || !(st(OFF_CTRL) & CTRL_FAST_PT)) return FPT_NO;
  const nFrames = st(OFF_FPT_NFRAMES), nPages = st(OFF_FPT_NPAGES);
  if (nFrames == 0 || nFrames > 0x100000) return FPT_NO;
  const pdi = lin >>> 22;
  if (pdi == 1023) return FPT_NO; // the VMM's region (the monitor stops the guest or reflects its fault)
  const vcr0 = st(OFF_FF_VCR0);
  if (!(vcr0 & CR0_PG)) return FPT_NO; // paging off: 4 MiB prefills (shadow.ts fillLarge)
  const vuser = st(OFF_FF_VCPL) == 3;
  const ramOff = st(OFF_FPT_RAMOFF);
  // the real CR3 is the current shadow: a PD the monitor built from the guest's CR3, of the view for the virtual CPL
  const vcr3 = st(OFF_FF_VCR3);
  const gpd = vcr3 >>> 12;
  const spd = st(OFF_CR3) >>> 12;
  if (spd >= nPages || gpd >= nFrames || pageSrc(spd) != gpd + 1) return FPT_NO;
  if (kindOf(pageLink(spd)) != (vuser ? FPT_KIND_PD_U : FPT_KIND_PD_K)) return FPT_NO;
  // the guest's walk, without side effects yet (host/memory/paging.ts walk); its tables inside guest RAM
  const gpdeA = (gpd << 12) + (pdi << 2);
  const gpde = physRd32(ramOff + gpdeA);
  if (!(gpde & PTE_P)) return FPT_NO;
  if ((gpde & PTE_PS) && (st(OFF_FF_VCR4) & CR4_PSE)) return FPT_NO;
  const ptFrame = gpde >>> 12;
  if (ptFrame >= nFrames) return FPT_NO;
  const gpteA = (ptFrame << 12) + (((lin >>> 12) & 0x3FF) << 2);
  const gpte = physRd32(ramOff + gpteA);
  if (!(gpte & PTE_P)) return FPT_NO;
  const bits = gpde & gpte;
  if (!permits(bits, write, vuser, vcr0)) return FPT_NO; // a true fault: the monitor reflects it
  const frame = gpte >>> 12;
  if (frame >= nFrames) return FPT_NO; // device memory or beyond: the monitor's MMIO rules
  // the shadow PT of this PDE, built from the guest PT the walk used (else the monitor rebuilds it)
  const spde = physRd32((spd << 12) + (pdi << 2));
  if (!(spde & PTE_P)) return FPT_NO;
  const spt = spde >>> 12;
  if (spt >= nPages || pageSrc(spt) != ptFrame + 1) return FPT_NO;
  const link = pageLink(spt);
  if (kindOf(link) != FPT_KIND_PT || ((link >>> 16) & 0x3FF) != pdi) return FPT_NO;
  const fw = physRd32(frameAddr(frame));
  const prot = (fw & FPT_HEAD_MASK) != 0;

  if (write && prot) {
    // a store to a guest page table (ptwrite.ts protectedWrite → emulatePtWrite → shadow.ts writeEntries)
    if (!armed) return FPT_NO;
    const count: u32 = frame == ptFrame ? 0 : fw >>> FPT_COUNT_SHIFT; // (the fill's walk forgets the PT frame's count first)
    if (count + 1 >= st(OFF_FPT_FLOOD)) return FPT_NO; // the monitor unshadows it
    setAccessed(ramOff, gpdeA, gpde, gpteA, gpte, true);
    forgetCount(ptFrame);
    fptPhys = ramOff + (frame << 12);
    storeFrame = frame;
    storeErr = err;
    pending = true;
    return FPT_STORE;
  }
  // a hidden fill (shadow.ts fill): writable only where the guest allows it, its D is set and the frame unprotected
  const canWrite = permits(bits, true, vuser, vcr0) && ((gpte & PTE_D) != 0 || write) && !prot;
  const log = st(OFF_FPT_LOG);
  const logN = canWrite ? physRd32(log) : 0;
  if (canWrite && logN >= st(OFF_FPT_LOG_CAP)) return FPT_NO; // the monitor's reverse map takes the log in first
  setAccessed(ramOff, gpdeA, gpde, gpteA, gpte, write);
  forgetCount(ptFrame);
  const spteA = (spt << 12) + (((lin >>> 12) & 0x3FF) << 2);
  const old = physRd32(spteA);
  physWr32(spteA, (ramOff + (frame << 12)) | PTE_P | PTE_U | (canWrite ? PTE_W : 0));
  if (canWrite) {
    physWr32(log + 8 + (logN << 3), frame);
    physWr32(log + 12 + (logN << 3), spteA);
    physWr32(log, logN + 1);
  }
  if (old & PTE_P) tlbInvlpg(lin);
  bump(OFF_FPT_N_FILLS);
  return FPT_RETRY;
}

/** the A/D update of the monitor's walk (paging.ts markAccessed): PDE A, then the PTE's A and, for a write, D */
function setAccessed(ramOff: u32, pdeA: u32, pde: u32, pteA: u32, pte: u32, write: bool): void {
  if (!(pde & PTE_A)) physWr32(ramOff + pdeA, pde | PTE_A);
  const nv = pte | PTE_A | (write ? PTE_D : 0);
  if (nv != pte) physWr32(ramOff + pteA, nv);
}
function forgetCount(f: u32): void {
  const a = frameAddr(f), w = physRd32(a);
  if (w >>> FPT_COUNT_SHIFT) physWr32(a, w & ((1 << FPT_COUNT_SHIFT) - 1));
}

/**
 * The store translate allowed (FPT_STORE): `size` bytes of `v` at host address lin + add, inside the protected
 * frame. Done, then the shadow entries derived from each changed word are zapped; a changed PDE that a shadow PD
 * has a PT for is the monitor's (it frees that PT): the store is undone and the #PF exit taken.
 */
export function fptStore(lin: u32, add: u32, size: u32, v: u32): void {
  const h = lin + add;
  const wbase = h & ~3;
  const first = (h & 0xFFF) >>> 2, last = ((h & 0xFFF) + size - 1) >>> 2;
  const o0 = load<u32>(wbase), o1 = last != first ? load<u32>(wbase + 4) : o0;
  if (size == 1) store<u8>(h, <u8>v); else if (size == 2) store<u16>(h, <u16>v); else store<u32>(h, v);
  const n0 = load<u32>(wbase), n1 = last != first ? load<u32>(wbase + 4) : n0;
  const f = storeFrame;
  if (pdChange(f, first, o0, n0) || (last != first && pdChange(f, last, o1, n1))) {
    store<u32>(wbase, o0);
    if (last != first) store<u32>(wbase + 4, o1);
    pageFault(lin, storeErr);
    return;
  }
  zap(f, first, o0, n0);
  if (last != first) zap(f, last, o1, n1);
  const a = frameAddr(f), w = physRd32(a);
  physWr32(a, w + (1 << FPT_COUNT_SHIFT));
  bump(OFF_FPT_N_WRITES);
}

/** translation-relevant change (not only A/D) of word `i` */
@inline function changed(o: u32, n: u32): bool { return ((o ^ n) & ~(PTE_A | PTE_D)) != 0; }

/** word i of frame f changed and a shadow PD built from f has a PT for index i */
function pdChange(f: u32, i: u32, o: u32, n: u32): bool {
  if (!changed(o, n) || i == 1023) return false;
  const nPages = st(OFF_FPT_NPAGES);
  let q = physRd32(frameAddr(f)) & FPT_HEAD_MASK;
  for (let k: u32 = 0; q != 0 && k < nPages; k++) {
    const page = q - 1;
    if (page >= nPages) return true; // (never: the monitor's chain) — the monitor sorts it out
    const link = pageLink(page);
    const kind = kindOf(link);
    if ((kind == FPT_KIND_PD_K || kind == FPT_KIND_PD_U) && (physRd32((page << 12) + (i << 2)) & PTE_P)) return true;
    q = link & FPT_HEAD_MASK;
  }
  return false;
}

/** drop the shadow PTEs built from word i of guest PT frame f (every shadow PT whose source it is) */
function zap(f: u32, i: u32, o: u32, n: u32): void {
  if (!changed(o, n)) return;
  const nPages = st(OFF_FPT_NPAGES);
  let q = physRd32(frameAddr(f)) & FPT_HEAD_MASK;
  for (let k: u32 = 0; q != 0 && k < nPages; k++) {
    const page = q - 1;
    if (page >= nPages) return;
    const link = pageLink(page);
    if (kindOf(link) == FPT_KIND_PT) {
      physWr32((page << 12) + (i << 2), 0);
      tlbInvlpg((((link >>> 16) & 0x3FF) << 22) | (i << 12));
    }
    q = link & FPT_HEAD_MASK;
  }
}

/**
 * invlpg at virtual CPL 0 (ops/system.ts, on its #GP path at the real CPL 3): the monitor's shadow.ts invlpg — the
 * entry for `lin` dropped from the K and U shadows of the current address space, the page from the TLB. The real
 * CR3 must be the K shadow the monitor published (OFF_FF_KPD), both built from the guest's CR3; else the exit.
 */
export function fptInvlpg(lin: u32): bool {
  if (!(st(OFF_CTRL) & CTRL_FAST_PT) || st(OFF_FF_VCPL) != 0 || st(OFF_FPT_NFRAMES) == 0) return false;
  if (!(st(OFF_FF_VCR0) & CR0_PG)) return false;
  const nPages = st(OFF_FPT_NPAGES), src = (st(OFF_FF_VCR3) >>> 12) + 1;
  const k = st(OFF_FF_KPD) >>> 12, u = st(OFF_FF_UPD) >>> 12;
  if (k == 0 || (st(OFF_CR3) >>> 12) != k) return false;
  if (k >= nPages || pageSrc(k) != src || kindOf(pageLink(k)) != FPT_KIND_PD_K) return false;
  if (u != 0 && (u >= nPages || pageSrc(u) != src || kindOf(pageLink(u)) != FPT_KIND_PD_U)) return false;
  dropEntry(k, lin, nPages);
  if (u != 0) dropEntry(u, lin, nPages);
  tlbInvlpg(lin);
  bump(OFF_FPT_N_INVLPG);
  return true;
}
/** the shadow PTE for `lin` in shadow PD page `pd` (none for the VMM's PDE, which no shadow PT stands for) */
function dropEntry(pd: u32, lin: u32, nPages: u32): void {
  const pdi = lin >>> 22;
  if (pdi == 1023) return;
  const spde = physRd32((pd << 12) + (pdi << 2));
  if (!(spde & PTE_P) || (spde >>> 12) >= nPages) return;
  physWr32((spde & 0xFFFFF000) + (((lin >>> 12) & 0x3FF) << 2), 0);
}
