// mmu.ts — segmentation checks, 2-level paging and the software TLB.
//
// Linear address (32-bit paging, SDM Vol. 3A §4.3):
//   31        22 21        12 11           0
//  +------------+------------+--------------+
//  | dir index  | table index|  page offset |   4 KiB page: PDE -> PTE -> frame
//  +------------+------------+--------------+
//  | dir index  |    offset within 4 MiB    |   4 MiB page (CR4.PSE, PDE.PS=1)
//
// TLB: four direct-mapped sets of 1024 entries (supervisor read, supervisor write, user read, user write);
// each entry { tag = linear page number, addend = host address - linear address, flags }. The hit path is
// one compare; a miss walks the page tables (not inlined). Write entries exist only for pages whose walk
// allowed the write and already set the dirty bit, so a hit never needs to touch the page tables.
// Pages outside guest RAM (MMIO) never enter the TLB: every access to them exits to the host.
import {
  STATE_BASE, TLB_BASE, RAM_BASE, PAGEINFO_BASE, BLOCK_HASH_BASE, OFF_SEGOK, AREA_WQ, WQ_MAX, WQ_HDR, WQ_ENTRY, SEGOK_FLAT, OFF_RAM_SIZE, OFF_CR2, OFF_CR3, CR0_PG, CR0_WP, CR4_PSE, CR4_PGE,
  VEC_PF, VEC_GP, VEC_SS, SEG_SS, OFF_IO_COMPLETE, OFF_EXIT_VALUE, OFF_EXIT_REASON, OFF_EXIT_PORT,
  OFF_EXIT_SIZE, EXIT_MMIO_READ, EXIT_MMIO_WRITE, OFF_TLB_MISSES, OFF_CTRL, CTRL_FAST_PT,
  PTE_P, PTE_W, PTE_U, PTE_A, PTE_D, PTE_PS, PTE_G, PTE_FRAME, PDE_LARGE_FRAME, PDE_LARGE_RSVD, PF_P, PF_W, PF_U, PF_RSVD,
} from "./abi";
import { hostRead, logValue, KIND_MMIO } from "./iolog";
import { segAccessCheck } from "./ops/rules";
import { markDirty } from "./recycle";
import { ramBacked, backRam, setRamBacked } from "./ram-backing";
import { watchArmed, dbgAccess, dbgPageWatched } from "./debug";
import { eptOn, translateNested } from "./ept";
import { vmxOn, vmxNotePageFault, vmxTprAt, vmxTprRead, vmxTprWrite } from "./vmx";
import { apicRead, apicWrite, apicValue } from "./apic";
import { apicvPage, apicvRead, apicvWrite, apicvValue } from "./apicv";
import { fptFault, fptPhys, fptArm, fptTaken, fptBusy, fptStore, FPT_RETRY, FPT_STORE } from "./fullpt";
import {
  cpl, cr0, cr4, st, setSt, abort, setPending, setAbort, ABORT_EXIT, setExitAfter, segBase, segLimit, segAttr,
  setStopBlock, noHostExits, exitAfter,
} from "./state";

const TLB_SET: u32 = 1024 * 16;
const TLB_INVALID: u32 = 0xFFFFFFFF;
const TLBF_GLOBAL: u32 = 1;
// A read entry for a page outside RAM (MMIO, e.g. the local APIC that xv6 reads in every lock operation): its tag
// is the linear page number with this bit set, which no inline hit compare (tag == lin >>> 12 <= 0xFFFFF) ever
// matches, so every access still takes the slow path; the slow path (rdAs) finds it there and skips the page walk.
// The addend word holds the physical page. Read sets only: markCodePage scans the write sets.
const TLB_MMIO: u32 = 0x100000;

// The mapping epoch: bumped whenever linear-to-physical translation or CS may have changed (TLB flushes,
// invlpg, CS/CPL loads); links between predecoded blocks are valid only within one epoch.
export let epoch: u32 = 1;
export function bumpEpoch(): void { epoch++; }
export function resetEpoch(): void { epoch = 1; } // a recycled machine starts where a fresh one does (recycle.ts)

export let tlbR: u32 = TLB_BASE;            // read set for the current CPL
export let tlbW: u32 = TLB_BASE + TLB_SET;  // write set for the current CPL
export let ramSize: u32 = 0;

/** Select the TLB sets for CPL 3 (user) or 0..2 (supervisor). */
export function selectTlb(user: bool): void {
  epoch++;
  tlbR = TLB_BASE + (user ? 2 * TLB_SET : 0);
  tlbW = tlbR + TLB_SET;
}
export function loadRamSize(): void {
  let s = st(OFF_RAM_SIZE) & ~0xFFF;
  ramSize = s;
  setRamBacked(s);
}

// ---- instruction-fetch window (the page EIP is in), invalidated with the TLB ----
export let fLo: u32 = 0;    // EIP of the first byte of the window
export let fLen: u32 = 0;   // bytes in the window (0 = empty)
export let fHost: u32 = 0;  // host address of the byte at fLo
export function setFetchWindow(lo: u32, len: u32, host: u32): void { fLo = lo; fLen = len; fHost = host; }

let haveLarge: bool = false; // a 4 MiB page entered the TLB since the last full flush
export function setHaveLarge(): void { haveLarge = true; }

export function tlbFlushAll(): void {
  memory.fill(TLB_BASE, 0xFF, 4 * TLB_SET);
  haveLarge = false;
  epoch++;
  fLen = 0;
}
/** CR3 load: global entries survive when CR4.PGE is set. */
export function tlbFlushNonGlobal(): void {
  if (!(cr4() & CR4_PGE)) { tlbFlushAll(); return; }
  for (let p = TLB_BASE; p < TLB_BASE + 4 * TLB_SET; p += 16) {
    if (!(load<u32>(p, 8) & TLBF_GLOBAL)) store<u32>(p, TLB_INVALID);
  }
  fLen = 0;
  epoch++;
}
export function tlbInvlpg(lin: u32): void {
  epoch++;
  const page = lin >>> 12;
  const idx = (page & 1023) << 4;
  for (let s: u32 = 0; s < 4; s++) {
    const p = TLB_BASE + s * TLB_SET + idx;
    const t = load<u32>(p);
    if (t == page || t == (page | TLB_MMIO)) store<u32>(p, TLB_INVALID);
  }
  // 4 MiB pages occupy many 4 KiB slots; invlpg must drop every slot of the large page
  if (haveLarge) {
    const big = page & ~0x3FF;
    for (let s: u32 = 0; s < 4; s++) {
      for (let i: u32 = 0; i < 1024; i++) {
        const p = TLB_BASE + s * TLB_SET + (i << 4);
        const t = load<u32>(p);
        if (t != TLB_INVALID && (t & ~0x3FF & ~TLB_MMIO) == big && (load<u32>(p, 8) & 2)) store<u32>(p, TLB_INVALID);
      }
    }
  }
  fLen = 0;
}

// ---- code pages: pages holding predecoded instructions are write-protected in the TLB ----
// PAGEINFO: one u32 per guest-physical page: bit 31 = holds predecoded code, bits 0..30 = generation.
// A block records its page's generation; a write to a code page bumps it, so stale blocks miss.
const CODE_BIT: u32 = 0x80000000;
@inline export function pageInfo(page: u32): u32 { return load<u32>(PAGEINFO_BASE + (page << 2)); }
/** Mark a physical page as holding code: drop every write entry that maps it, so writes take the slow path. */
export function markCodePage(page: u32): void {
  const p = PAGEINFO_BASE + (page << 2);
  const v = load<u32>(p);
  if (v & CODE_BIT) return;
  store<u32>(p, v | CODE_BIT);
  if (page >= pageInfoTop) pageInfoTop = page + 1;
  for (let s: u32 = 1; s < 4; s += 2) {
    const set = TLB_BASE + s * TLB_SET;
    for (let i: u32 = 0; i < 1024; i++) {
      const e = set + (i << 4);
      const t = load<u32>(e);
      if (t != TLB_INVALID && ((t << 12) + load<u32>(e, 4) - RAM_BASE) >>> 12 == page) store<u32>(e, TLB_INVALID);
    }
  }
}
/** A write reached physical page `page`: if it holds code, invalidate its blocks. */
@inline export function codeWrite(page: u32): void {
  markDirty(page); // (recycle.ts: a recycled machine zeroes the pages written)
  const p = PAGEINFO_BASE + (page << 2);
  const v = load<u32>(p);
  if (v & CODE_BIT) {
    store<u32>(p, (v + 1) & ~CODE_BIT);
    setStopBlock(true); // the running block may be the one just overwritten
  }
}
// Only pages below pageInfoTop can be non-zero (codeWrite changes marked pages only): a clear touches just
// those, so a fresh machine (zeroed memory) never writes the table, and a small guest clears a few KiB of it.
let pageInfoTop: u32 = 0;
export function clearPageInfo(): void {
  if (pageInfoTop) memory.fill(PAGEINFO_BASE, 0, pageInfoTop << 2);
  pageInfoTop = 0;
}
export function invalidatePhysRange(p: u32, len: u32): void {
  if (len == 0) return;
  const last = <u64>p + <u64>len - 1;
  for (let pg: u64 = <u64>(p >>> 12); pg <= (last >> 12); pg++) {
    if (pg << 12 >= <u64>ramSize) break;
    codeWrite(<u32>pg);
  }
}

// ---- physical memory (guest-physical addresses) ----
// (RAM the memory does not cover yet is grown on this first touch: ram-backing.ts)
@inline export function inRam(p: u32, size: u32): bool {
  const e = <u64>p + <u64>size;
  return e <= <u64>ramBacked || (e <= <u64>ramSize && backRam(e, ramSize));
}
/** Reads of unbacked physical memory float high, as an open bus. */
export function physRd32(p: u32): u32 { return inRam(p, 4) ? load<u32>(RAM_BASE + p) : 0xFFFFFFFF; }
export function physWr32(p: u32, v: u32): void {
  if (inRam(p, 4)) { codeWrite(p >>> 12); store<u32>(RAM_BASE + p, v); }
}

// ---- the page walk ----
export let mmioHit: bool = false;
export let mmioPhys: u32 = 0;
export function setMmioHit(p: u32): void { mmioHit = true; mmioPhys = p; }

export function pageFault(lin: u32, err: u32): void {
  if (vmxOn) vmxNotePageFault(st(OFF_CR2)); // (a #PF that exits leaves CR2 alone: vmx.ts)
  setSt(OFF_CR2, lin);
  setPending(VEC_PF, err, true);
}

/**
 * Translate `lin` for an access; on success returns the addend (host address - linear address) and installs
 * a TLB entry, or sets mmioHit for a page outside RAM. On failure raises #PF (abort set) and returns 0.
 * `user` is the privilege of the access (CPL 3 for ordinary accesses; false for implicit system accesses).
 */
@inline export function errBits(write: bool, user: bool): u32 { return (write ? PF_W : 0) | (user ? PF_U : 0); }

export function translate(lin: u32, write: bool, user: bool): u32 {
  mmioHit = false;
  store<u32>(STATE_BASE + OFF_TLB_MISSES, load<u32>(STATE_BASE + OFF_TLB_MISSES) + 1);
  if (eptOn) return translateNested(lin, write, user); // guest mode with nested paging: the 2-D walk (ept.ts)
  let phys: u32 = lin;
  let flags: u32 = 0;
  const c0 = cr0();
  if (c0 & CR0_PG) {
    const pdeAddr = (st(OFF_CR3) & PTE_FRAME) + ((lin >>> 22) << 2);
    let pde = physRd32(pdeAddr);
    if (!(pde & PTE_P)) { pageFault(lin, errBits(write, user)); return 0; }
    const c4 = cr4();
    if ((pde & PTE_PS) && (c4 & CR4_PSE)) {
      // 4 MiB page: bits 13..21 are reserved (they would be PAT/physical bits beyond 32 on PSE-36)
      if (pde & PDE_LARGE_RSVD) { pageFault(lin, PF_P | PF_RSVD | errBits(write, user)); return 0; }
      if (!allowed(pde, write, user, c0)) { pageFault(lin, PF_P | errBits(write, user)); return 0; }
      const nv = pde | PTE_A | (write ? PTE_D : 0);
      if (nv != pde) physWr32(pdeAddr, nv);
      phys = (pde & PDE_LARGE_FRAME) | (lin & 0x003FF000);
      flags = ((pde & PTE_G) && (c4 & CR4_PGE) ? TLBF_GLOBAL : 0) | 2;
      haveLarge = true;
    } else {
      if (!(pde & PTE_A)) { pde |= PTE_A; physWr32(pdeAddr, pde); }
      const pteAddr = (pde & PTE_FRAME) + (((lin >>> 12) & 0x3FF) << 2);
      const pte = physRd32(pteAddr);
      if (!(pte & PTE_P)) return shadowFault(lin, write, user, errBits(write, user));
      if (!allowed(pde & pte, write, user, c0)) return shadowFault(lin, write, user, PF_P | errBits(write, user));
      const nv = pte | PTE_A | (write ? PTE_D : 0);
      if (nv != pte) physWr32(pteAddr, nv);
      phys = pte & PTE_FRAME;
      flags = (pte & PTE_G) && (c4 & CR4_PGE) ? TLBF_GLOBAL : 0;
    }
  } else {
    phys = lin & PTE_FRAME;
  }
  return tlbInstall(lin, phys, write, user, flags, true);
}

/** A #PF at the PTE: full mode resolves its shadow paging's own faults in the CPU when it can (fullpt.ts) */
function shadowFault(lin: u32, write: bool, user: bool, err: u32): u32 {
  if (st(OFF_CTRL) & CTRL_FAST_PT) {
    const r = fptFault(lin, write, user, err);
    if (r == FPT_RETRY) { fptBusy(true); const a = translate(lin, write, user); fptBusy(false); return a; }
    if (r == FPT_STORE) return tlbInstall(lin, fptPhys, true, user, 0, false);
  }
  pageFault(lin, err);
  return 0;
}

/** The end of a walk: `phys` (host-physical) for `lin`; the TLB entry (if `cache`), or mmioHit outside RAM. */
export function tlbInstall(lin: u32, phys: u32, write: bool, user: bool, flags: u32, cache: bool): u32 {
  const pageLin = lin & 0xFFFFF000;
  if (!inRam(phys, 4096)) {
    mmioHit = true;
    mmioPhys = phys | (lin & 0xFFF);
    if (cache && !write && !eptOn && !(watchArmed && dbgPageWatched(pageLin))) {
      const e = TLB_BASE + (user ? 2 * TLB_SET : 0) + (((lin >>> 12) & 1023) << 4);
      store<u32>(e, (lin >>> 12) | TLB_MMIO);
      store<u32>(e, phys, 4);
      store<u32>(e, flags, 8);
    }
    return 0;
  }
  if (write) codeWrite(phys >>> 12);
  const addend = RAM_BASE + phys - pageLin;
  if (!cache || (watchArmed && dbgPageWatched(pageLin))) return addend; // watched: every access takes the slow path (debug.ts)
  const set = TLB_BASE + (user ? 2 * TLB_SET : 0) + (write ? TLB_SET : 0);
  const e = set + (((lin >>> 12) & 1023) << 4);
  store<u32>(e, lin >>> 12);
  store<u32>(e, addend, 4);
  store<u32>(e, flags, 8);
  return addend;
}

@inline export function allowed(bits: u32, write: bool, user: bool, c0: u32): bool {
  if (user) {
    if (!(bits & PTE_U)) return false;
    if (write && !(bits & PTE_W)) return false;
    return true;
  }
  // supervisor: writes to read-only pages fault only with CR0.WP
  if (write && !(bits & PTE_W) && (c0 & CR0_WP)) return false;
  return true;
}

// ---- MMIO: reads restart the instruction after the host answers; writes exit after the instruction ----
function mmioRead(phys: u32, size: u32): u32 {
  if (noHostExits) return size == 4 ? 0xFFFFFFFF : (<u32>1 << (size * 8)) - 1;
  if ((phys & 0xFFFFF000) == apicvPage) return apicvRead(phys, size) ? apicvValue : hostRead(KIND_MMIO, EXIT_MMIO_READ, phys, size) ? logValue : 0; // APIC-register virtualization (apicv.ts)
  if (phys == vmxTprAt && size == 4) return vmxTprRead(); // guest mode, TPR shadow: VTPR (vmx.ts)
  if (apicRead(phys, size)) return apicValue; // the local APIC's hot registers: no exit (apic.ts)
  return hostRead(KIND_MMIO, EXIT_MMIO_READ, phys, size) ? logValue : 0;
}
// MMIO writes exit after the instruction. An instruction can make several (a store split across pages, a
// REP element, a push): the first goes in the exit record, the rest wait here and leave one per run() call
// before anything else executes, so the host sees every device write, in order.
const WQ: u32 = STATE_BASE + AREA_WQ; // count, then up to WQ_MAX {addr, size, value} (abi.ts)
export function pendingMmioWrites(): u32 { return load<u32>(WQ); }
/** Forget the queued writes of an instruction that exits for a host read: its restart makes them again (else
 *  they would leave as device writes before the restart, over the exit record holding the read's answer). */
export function dropMmioWrites(): void { store<u32>(WQ, 0); }
/** Move the next queued write into the exit record (run() entry). */
export function popMmioWrite(): void {
  const n = load<u32>(WQ);
  setSt(OFF_EXIT_REASON, EXIT_MMIO_WRITE);
  setSt(OFF_EXIT_PORT, load<u32>(WQ + WQ_HDR));
  setSt(OFF_EXIT_SIZE, load<u32>(WQ + WQ_HDR, 4));
  setSt(OFF_EXIT_VALUE, load<u32>(WQ + WQ_HDR, 8));
  memory.copy(WQ + WQ_HDR, WQ + WQ_HDR + WQ_ENTRY, (n - 1) * WQ_ENTRY);
  store<u32>(WQ, n - 1);
}
function mmioWrite(phys: u32, size: u32, v: u32): void {
  if (noHostExits) return;
  const val = size == 4 ? v : v & ((<u32>1 << (size * 8)) - 1);
  if ((phys & 0xFFFFF000) == apicvPage) { if (exitAfter == 0xFFFFFFFF && apicvWrite(phys, size, val)) return; } // (apicv.ts; else an APIC-access exit)
  else if (phys == vmxTprAt && size == 4 && exitAfter == 0xFFFFFFFF) { vmxTprWrite(val); return; } // TPR shadow (vmx.ts)
  else if (exitAfter == 0xFFFFFFFF && apicWrite(phys, size, val)) return; // an EOI the CPU can do itself (apic.ts)
  if (exitAfter == EXIT_MMIO_WRITE) { // the exit record already holds this instruction's first write
    const n = load<u32>(WQ);
    if (n < WQ_MAX) {
      const e = WQ + WQ_HDR + n * WQ_ENTRY;
      store<u32>(e, phys); store<u32>(e, size, 4); store<u32>(e, val, 8);
      store<u32>(WQ, n + 1);
    }
    return;
  }
  setSt(OFF_EXIT_REASON, EXIT_MMIO_WRITE);
  setSt(OFF_EXIT_PORT, phys);
  setSt(OFF_EXIT_SIZE, size);
  setSt(OFF_EXIT_VALUE, val);
  setExitAfter(EXIT_MMIO_WRITE);
}

// ---- linear-address accesses at the current privilege ----
@inline function isUser(): bool { return cpl == 3; }

@inline export function lrd8(lin: u32): u32 {
  const e = tlbR + (((lin >>> 12) & 1023) << 4);
  if (load<u32>(e) == lin >>> 12) return <u32>load<u8>(lin + load<u32>(e, 4));
  return lrdSlow(lin, 1);
}
@inline export function lrd16(lin: u32): u32 {
  const e = tlbR + (((lin >>> 12) & 1023) << 4);
  if (load<u32>(e) == lin >>> 12 && (lin & 0xFFF) <= 0xFFE) return <u32>load<u16>(lin + load<u32>(e, 4));
  return lrdSlow(lin, 2);
}
@inline export function lrd32(lin: u32): u32 {
  const e = tlbR + (((lin >>> 12) & 1023) << 4);
  if (load<u32>(e) == lin >>> 12 && (lin & 0xFFF) <= 0xFFC) return load<u32>(lin + load<u32>(e, 4));
  return lrdSlow(lin, 4);
}
@inline export function lwr8(lin: u32, v: u32): void {
  const e = tlbW + (((lin >>> 12) & 1023) << 4);
  if (load<u32>(e) == lin >>> 12) { store<u8>(lin + load<u32>(e, 4), <u8>v); return; }
  lwrSlow(lin, 1, v);
}
@inline export function lwr16(lin: u32, v: u32): void {
  const e = tlbW + (((lin >>> 12) & 1023) << 4);
  if (load<u32>(e) == lin >>> 12 && (lin & 0xFFF) <= 0xFFE) { store<u16>(lin + load<u32>(e, 4), <u16>v); return; }
  lwrSlow(lin, 2, v);
}
@inline export function lwr32(lin: u32, v: u32): void {
  const e = tlbW + (((lin >>> 12) & 1023) << 4);
  if (load<u32>(e) == lin >>> 12 && (lin & 0xFFF) <= 0xFFC) { store<u32>(lin + load<u32>(e, 4), v); return; }
  lwrSlow(lin, 4, v);
}

/** Read `size` bytes at `lin` with privilege `user` (slow path; handles page crossing and MMIO). */
export function rdAs(lin: u32, size: u32, user: bool): u32 {
  if ((lin & 0xFFF) + size > 0x1000) {
    // crossing a page: byte by byte, so a fault reports the address of the first byte on the bad page
    let v: u32 = 0;
    for (let i: u32 = 0; i < size; i++) {
      const b = rdAs(lin + i, 1, user);
      if (abort) return 0;
      v |= b << (i * 8);
    }
    return v;
  }
  // an MMIO page this privilege read before, still mapped (tlbInstall): no page walk
  const e = TLB_BASE + (user ? 2 * TLB_SET : 0) + (((lin >>> 12) & 1023) << 4);
  const t = load<u32>(e);
  if (t == lin >>> 12) { // a TLB hit for an access at another privilege than the CPL's (descriptor tables, TSS, IDT)
    if (watchArmed) dbgAccess(lin, size, false);
    const h = lin + load<u32>(e, 4);
    return size == 1 ? <u32>load<u8>(h) : size == 2 ? <u32>load<u16>(h) : load<u32>(h);
  }
  if (t == ((lin >>> 12) | TLB_MMIO)) {
    const p = load<u32>(e, 4) | (lin & 0xFFF);
    if (!inRam(p, size)) {
      if (watchArmed) dbgAccess(lin, size, false);
      return mmioRead(p, size);
    }
  }
  const add = translate(lin, false, user);
  if (abort) return 0;
  if (watchArmed) dbgAccess(lin, size, false);
  if (mmioHit) return mmioRead(mmioPhys, size);
  if (size == 1) return <u32>load<u8>(lin + add);
  if (size == 2) return <u32>load<u16>(lin + add);
  return load<u32>(lin + add);
}
/** Check that `size` bytes at `lin` are writable (both pages when crossing), raising #PF if not. */
export function checkWritable(lin: u32, size: u32, user: bool): void {
  if (!tlbWHit(lin, user)) translate(lin, true, user);
  if (abort) return;
  const last = lin + size - 1;
  if ((last ^ lin) & 0xFFFFF000 && !tlbWHit(last, user)) translate(last & 0xFFFFF000, true, user); // a fault reports the second page's first byte
}
/** The write entry of `lin` for privilege `user`, as a hit (the entry's addend) or 0: a system access or an
 *  interrupt frame push hits the TLB as an ordinary access does, instead of walking the page tables again. */
@inline function tlbWEntry(lin: u32, user: bool): u32 {
  const e = TLB_BASE + (user ? 3 * TLB_SET : TLB_SET) + (((lin >>> 12) & 1023) << 4);
  return load<u32>(e) == lin >>> 12 ? e : 0;
}
@inline function tlbWHit(lin: u32, user: bool): bool { return tlbWEntry(lin, user) != 0; }
export function wrAs(lin: u32, size: u32, v: u32, user: bool): void {
  if ((lin & 0xFFF) + size > 0x1000) {
    // no partial writes: both pages must be writable before the first byte is stored
    checkWritable(lin, size, user);
    if (abort) return;
    for (let i: u32 = 0; i < size; i++) wrAs(lin + i, 1, v >>> (i * 8), user);
    return;
  }
  const e = tlbWEntry(lin, user);
  if (e) {
    if (watchArmed) dbgAccess(lin, size, true);
    const h = lin + load<u32>(e, 4);
    if (size == 1) store<u8>(h, <u8>v); else if (size == 2) store<u16>(h, <u16>v); else store<u32>(h, v);
    return;
  }
  fptArm(!watchArmed); // a store to a guest page table may be done in the CPU (full mode: fullpt.ts)
  const add = translate(lin, true, user);
  if (fptTaken()) { fptStore(lin, add, size, v); return; }
  if (abort) return;
  if (watchArmed) dbgAccess(lin, size, true);
  if (mmioHit) { mmioWrite(mmioPhys, size, v); return; }
  if (size == 1) store<u8>(lin + add, <u8>v);
  else if (size == 2) store<u16>(lin + add, <u16>v);
  else store<u32>(lin + add, v);
}
function lrdSlow(lin: u32, size: u32): u32 { return rdAs(lin, size, isUser()); }
function lwrSlow(lin: u32, size: u32, v: u32): void { wrAs(lin, size, v, isUser()); }

// ---- system accesses (descriptor tables, TSS, IDT): supervisor privilege whatever the CPL ----
export function sysRd32(lin: u32): u32 { return rdAs(lin, 4, false); }
export function sysRd16(lin: u32): u32 { return rdAs(lin, 2, false); }
export function sysWr32(lin: u32, v: u32): void { wrAs(lin, 4, v, false); }

// ---- segmented accesses ----
// Per-segment access rights cached from the attribute byte when a segment is loaded:
// bit 0 readable, bit 1 writable, bit 2 expand-down, bit 3 big (D/B).
const SEGOK: u32 = STATE_BASE + OFF_SEGOK;
export function computeSegOk(s: u32): void {
  const a = segAttr(s);
  let ok: u32 = 0;
  if (a & 0x80) { // present (and usable: a null selector clears attr)
    if (a & 0x10) { // code or data
      if (a & 0x8) { // code: readable if bit 1; never writable
        if (a & 2) ok |= 1;
      } else {
        ok |= 1;
        if (a & 2) ok |= 2;
        if (a & 4) ok |= 4;
      }
    }
  }
  if (a & 0x4000) ok |= 8;
  if (!(ok & 4) && segBase(s) == 0 && segLimit(s) == 0xFFFFFFFF) ok |= SEGOK_FLAT; // compiled code's fast path
  store<u8>(SEGOK + s, <u8>ok);
}
@inline export function segOk(s: u32): u32 { return <u32>load<u8>(SEGOK + s); }

/** Linear address of seg:off for an access of `size` bytes; raises #GP(0)/#SS(0) on a limit or rights violation. */
@inline export function segAddr(s: u32, off: u32, size: u32, write: bool): u32 {
  const ok = segOk(s);
  if ((ok & (write ? 6 : 5)) == (write ? 2 : 1) && <u64>off + <u64>(size - 1) <= <u64>segLimit(s)) {
    return segBase(s) + off;
  }
  return segAddrSlow(s, off, size, write);
}
function segAddrSlow(s: u32, off: u32, size: u32, write: bool): u32 {
  // the rule is shared with the full-mode monitor (ops/rules.ts segAccessCheck)
  const f = segAccessCheck(segAttr(s), segLimit(s), off, size, write, s == SEG_SS);
  if (f) { setPending(f >>> 16, f & 0xFFFF, true); return 0; }
  return segBase(s) + off;
}

@inline export function rd8(s: u32, off: u32): u32 { const l = segAddr(s, off, 1, false); if (abort) return 0; return lrd8(l); }
@inline export function rd16(s: u32, off: u32): u32 { const l = segAddr(s, off, 2, false); if (abort) return 0; return lrd16(l); }
@inline export function rd32(s: u32, off: u32): u32 { const l = segAddr(s, off, 4, false); if (abort) return 0; return lrd32(l); }
@inline export function wr8(s: u32, off: u32, v: u32): void { const l = segAddr(s, off, 1, true); if (abort) return; lwr8(l, v); }
@inline export function wr16(s: u32, off: u32, v: u32): void { const l = segAddr(s, off, 2, true); if (abort) return; lwr16(l, v); }
@inline export function wr32(s: u32, off: u32, v: u32): void { const l = segAddr(s, off, 4, true); if (abort) return; lwr32(l, v); }
/** Read for a read-modify-write: checks write access first, so the later write cannot fault. */
@inline export function rdRmw(s: u32, off: u32, size: u32): u32 {
  const l = segAddr(s, off, size, true);
  if (abort) return 0;
  const e = tlbW + (((l >>> 12) & 1023) << 4);
  if (load<u32>(e) == l >>> 12 && (l & 0xFFF) <= 0x1000 - size) {
    const h = l + load<u32>(e, 4);
    return size == 4 ? load<u32>(h) : size == 2 ? <u32>load<u16>(h) : <u32>load<u8>(h);
  }
  return rmwSlow(l, size);
}
function rmwSlow(l: u32, size: u32): u32 {
  const user = isUser();
  checkWritable(l, size, user);
  if (abort) return 0;
  return rdAs(l, size, user);
}
