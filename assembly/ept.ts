// ept.ts — nested paging (EPT-like) in guest mode: the two-dimensional walk (Bhargava et al., ASPLOS 2008).
//
// On a TLB miss the guest's own 2-level walk runs over guest-physical addresses; every guest paging-structure
// access is itself translated by the host's 2-level EPT (abi.ts: EPT_* format), and so is the final guest-physical
// address: up to 2 + 1 + 2 + 1 + 2 = 8 memory references instead of 2 (counted in OFF_VMX_WALK_REFS). The TLB then
// caches the combined linear -> host-physical translation, so a hit costs what it costs outside guest mode and the
// JIT's inline TLB probe needs no change. VM exits and entries do not flush it (as VPID tags do on VT-x); a guest
// CR3 write flushes the guest's non-global entries only and causes no exit; the host flushes after editing the EPT
// (INVEPT: Machine.flushTlb).
//
// Accessed/dirty flags (EPTP_AD): A is set on every EPT entry a walk uses, D on the leaf when the access writes;
// the guest's A/D updates of its own PDEs/PTEs are EPT writes (they need EPT W and set EPT D).
// An EPT violation exits (reason 48) with the guest-physical address, the linear address, and the access type
// (read / write / fetch) and the entry's permissions as the qualification; the instruction is restarted after the
// host fixes the entry. A misconfigured entry exits with reason 49 (SDM 28.3.3.1; abi.ts lists the cases).
// A directory entry with EPT_PS maps 4 MiB (the SDM's 2 MiB EPT PDE with bit 7 set, at our directory level): bits
// 21:12 must be 0 (else misconfigured), it is the leaf, so it carries A and D itself (SDM 28.3.5), and the walk of
// an address in it makes one EPT reference instead of two; the TLB still keeps the combined translation per 4 KiB. See PROC2_EPT_MMIO for device memory.
// While an event is delivered (noHostExits: delivery cannot be restarted) a violating access behaves as unbacked
// memory, as it does outside guest mode: reads float high, writes are dropped.
import {
  STATE_BASE, RAM_BASE, TLB_BASE, OFF_VMX_PROC2, OFF_VMX_EPTP, OFF_VMX_GUEST_PHYS, OFF_VMX_GUEST_LINEAR, OFF_VMX_EPT_WALKS,
  OFF_VMX_WALK_REFS, OFF_VMX_EXIT_REASON, OFF_VMX_EXIT_QUAL, OFF_CR3, PROC2_EPT, PROC2_EPT_MMIO, EPTP_AD, EPT_R, EPT_W, EPT_X, EPT_RSVD, EPT_PS, EPT_A,
  EPT_D, QEPT_READ, QEPT_WRITE, QEPT_FETCH, QEPT_PERM_SHIFT, QEPT_LIN_VALID, QEPT_FINAL, VMX_EXIT_EPT_VIOLATION,
  VMX_EXIT_EPT_MISCONFIG, CR0_PG, CR4_PSE, CR4_PGE, PTE_P, PTE_W, PTE_A, PTE_D, PTE_PS, PTE_G, PTE_FRAME,
  PDE_LARGE_FRAME, PDE_LARGE_RSVD, PF_P, PF_RSVD, OFF_VMX_PWC, OFF_VMX_PWC_HITS, OFF_VMX_PWC_MISSES,
} from "./abi";
import { st, setSt, cr0, cr4, noHostExits } from "./state";
import { inRam, pageFault, allowed, errBits, tlbInstall, setHaveLarge, setMmioHit, codeWrite, translate } from "./mmu";
import { vmxExitNoLen } from "./vmx";

export let eptOn: bool = false;
let eptRoot: u32 = 0;
let eptAd: bool = false;
let eptMmio: bool = false;
/** the translation in progress is an instruction fetch (translateFetch) */
let fetching: bool = false;

/** run() entry (from vmxEnter): nested paging is on in guest mode with PROC2_EPT. */
export function eptEnter(guest: bool): void {
  const p2 = st(OFF_VMX_PROC2);
  eptOn = guest && (p2 & PROC2_EPT) != 0;
  const eptp = st(OFF_VMX_EPTP);
  eptRoot = eptp & 0xFFFFF000;
  eptAd = (eptp & EPTP_AD) != 0;
  eptMmio = (p2 & PROC2_EPT_MMIO) != 0;
  pwcOn = eptOn && st(OFF_VMX_PWC) == 1;
  if (eptp != pwcEptp) { pwcFlush(); pwcEptp = eptp; } // (the nested TLB is tagged with the EPTP it was filled under)
}

// ---- the nested TLB (OFF_VMX_PWC, abi.ts "hw-tlb"): guest-physical -> host-physical of guest paging-structure pages ----
// Entry: word 0 = guest-physical page + 1 (0: empty); word 1 = host-physical page | EPT permissions (R W X) |
// PWC_DIRTY when the EPT leaf's D flag is known set (A/D off: always), so a guest A/D write may skip the EPT walk.
const PWC_N: u32 = 64;
const PWC_DIRTY: u32 = 0x8;
// (in the software TLB's region, past the 64 KiB of its four sets (mmu.ts): CPU-internal like them, never saved;
// not in the module's static data, which must stay pristine: host/cpu-instances.ts, test/fuzz/modes.ts)
const pwc: usize = TLB_BASE + 0x10000;
let pwcOn: bool = false;
let pwcEptp: u32 = 0xFFFFFFFF;
/** INVEPT (cpu.ts flushTlb, stateLoaded, reset) */
export function pwcFlush(): void { memory.fill(pwc, 0, PWC_N * 8); }
@inline function pwcSlot(gpa: u32): usize { return pwc + (((gpa >>> 12) & (PWC_N - 1)) << 3); }
/** the host-physical page and permissions cached for `gpa`'s page, or 0 */
@inline function pwcGet(gpa: u32): u32 {
  const e = pwcSlot(gpa);
  return load<u32>(e) == (gpa >>> 12) + 1 ? load<u32>(e, 4) : 0;
}
/** After a successful walk of `gpa` (perm, leaf set): keep it once the EPT entries it used carry A (they do after
 *  a walk with A/D on; a host that clears A/D flags must INVEPT, as on VT-x). */
function pwcFill(gpa: u32, hpa: u32): void {
  const d = !eptAd || (load<u32>(RAM_BASE + leaf) & EPT_D) != 0;
  const e = pwcSlot(gpa);
  store<u32>(e, (gpa >>> 12) + 1);
  store<u32>(e, (hpa & 0xFFFFF000) | perm | (d ? PWC_DIRTY : 0), 4);
}
function pwcCount(hit: bool): void {
  const o = hit ? OFF_VMX_PWC_HITS : OFF_VMX_PWC_MISSES;
  setSt(o, st(o) + 1);
}

/** An instruction fetch's translation (the EPT's X permission applies instead of R). */
export function translateFetch(lin: u32, user: bool): u32 {
  fetching = true;
  const a = translate(lin, false, user);
  fetching = false;
  return a;
}

// ---- one EPT walk ----
const OK: u32 = 0;
const EXITED: u32 = 1;   // a VM exit is pending (abort set)
const UNBACKED: u32 = 2; // no memory behind it: device memory (the MMIO assist) or open bus during delivery
let res: u32 = OK;
let perm: u32 = 0;       // the leaf's effective permissions (R W X)
let leaf: u32 = 0;       // host address of the leaf entry (for D on a later write)
let refs: u32 = 0;

@inline function hostOk(hpa: u32): bool { return inRam(hpa, 4); } // (inRam: RAM is backed on first touch)
@inline function misconfigured(e: u32, dir: bool): bool {
  if ((e & (EPT_R | EPT_W)) == EPT_W || (e & EPT_RSVD)) return true;
  if (e & EPT_PS) return !dir || (e & 0x3FF000) != 0;
  return false;
}

function violation(gpa: u32, acc: u32, p: u32, lin: u32, linValid: bool, final: bool): u32 {
  if (noHostExits) { res = UNBACKED; return 0; }
  setSt(OFF_VMX_GUEST_PHYS, gpa);
  setSt(OFF_VMX_GUEST_LINEAR, linValid ? lin : 0);
  const qual = acc | (p << QEPT_PERM_SHIFT) | (linValid ? QEPT_LIN_VALID : 0) | (final ? QEPT_FINAL : 0);
  if (eptMmio && p == 0) { // (a fetch from device memory reads open bus, as outside guest mode)
    // device memory: the access leaves as the restartable MMIO exit; the VMCS says it was an EPT violation
    setSt(OFF_VMX_EXIT_REASON, VMX_EXIT_EPT_VIOLATION);
    setSt(OFF_VMX_EXIT_QUAL, qual);
    res = UNBACKED;
    return 0;
  }
  vmxExitNoLen(VMX_EXIT_EPT_VIOLATION, qual);
  res = EXITED;
  return 0;
}
function misconfig(gpa: u32): u32 {
  if (noHostExits) { res = UNBACKED; return 0; }
  setSt(OFF_VMX_GUEST_PHYS, gpa);
  setSt(OFF_VMX_GUEST_LINEAR, 0);
  vmxExitNoLen(VMX_EXIT_EPT_MISCONFIG, 0);
  res = EXITED;
  return 0;
}

/** guest-physical `gpa` -> host-physical for access `acc` (QEPT_READ/WRITE/FETCH, = EPT_R/W/X). Sets `res`. */
function eptWalk(gpa: u32, acc: u32, lin: u32, linValid: bool, final: bool): u32 {
  res = OK;
  const de = eptRoot + ((gpa >>> 22) << 2);
  refs++;
  if (!hostOk(de)) return misconfig(gpa);
  const d = load<u32>(RAM_BASE + de);
  if (!(d & 7)) return violation(gpa, acc, 0, lin, linValid, final);
  if (misconfigured(d, true)) return misconfig(gpa);
  let p = d & 7;
  let hpa: u32;
  let le = de, lv = d;
  if (d & EPT_PS) {
    hpa = (d & 0xFFC00000) | (gpa & 0x3FF000);
  } else {
    const te = (d & 0xFFFFF000) + (((gpa >>> 12) & 0x3FF) << 2);
    refs++;
    if (!hostOk(te)) return misconfig(gpa);
    const t = load<u32>(RAM_BASE + te);
    if (!(t & 7)) return violation(gpa, acc, 0, lin, linValid, final);
    if (misconfigured(t, false)) return misconfig(gpa);
    p &= t;
    hpa = t & 0xFFFFF000;
    le = te; lv = t;
    if (eptAd && !(d & EPT_A)) store<u32>(RAM_BASE + de, d | EPT_A);
  }
  if ((acc & p) != acc) return violation(gpa, acc, p, lin, linValid, final);
  // (a frame beyond host-physical memory: its address bits are reserved, as past MAXPHYADDR (SDM 28.3.3.1))
  if (!hostOk(hpa)) return misconfig(gpa);
  if (eptAd) {
    const nv = lv | EPT_A | (acc == QEPT_WRITE ? EPT_D : 0);
    if (nv != lv) store<u32>(RAM_BASE + le, nv);
  }
  perm = p;
  leaf = le;
  return hpa | (gpa & 0xFFF);
}

/** A guest paging-structure entry at guest-physical `gpa`: read (through the EPT); all-ones if unbacked. */
function guestEntryRead(gpa: u32, lin: u32): u32 {
  if (pwcOn) {
    const c = pwcGet(gpa);
    pwcCount(c != 0);
    if (c) { res = OK; refs++; return load<u32>(RAM_BASE + (c & 0xFFFFF000) + (gpa & 0xFFF)); } // (R: only read walks fill it)
  }
  const h = eptWalk(gpa, QEPT_READ, lin, true, false);
  if (res != OK) return 0xFFFFFFFF;
  if (pwcOn) pwcFill(gpa, h);
  refs++;
  return load<u32>(RAM_BASE + h);
}
/** The guest's A/D update of the entry just read at `gpa`: an EPT write (W needed, D set). False if it exited. */
function guestEntryWrite(gpa: u32, v: u32, lin: u32): bool {
  if (pwcOn) { // writable, and its EPT D flag already set: nothing for the EPT walk to do
    const c = pwcGet(gpa);
    if ((c & (EPT_W | PWC_DIRTY)) == (EPT_W | PWC_DIRTY)) {
      const hc = (c & 0xFFFFF000) + (gpa & 0xFFF);
      codeWrite(hc >>> 12);
      store<u32>(RAM_BASE + hc, v);
      return true;
    }
  }
  const r0 = refs;
  const h = eptWalk(gpa, QEPT_READ, lin, true, false);
  refs = r0; // (the walk's references were counted by the read: 2 EPT entries, or 1 in a large page)
  if (res == UNBACKED) return true; // writes to nothing are dropped
  if (res != OK) return false;
  if (!(perm & EPT_W)) { violation(gpa, QEPT_WRITE, perm, lin, true, false); return res == UNBACKED; }
  if (eptAd) store<u32>(RAM_BASE + leaf, load<u32>(RAM_BASE + leaf) | EPT_D);
  if (pwcOn) pwcFill(gpa, h);
  codeWrite(h >>> 12);
  store<u32>(RAM_BASE + h, v);
  return true;
}

/** mmu.ts translate() in guest mode with EPT: the guest's walk, then the EPT's, combined into one TLB entry. */
export function translateNested(lin: u32, write: bool, user: bool): u32 {
  setSt(OFF_VMX_EPT_WALKS, st(OFF_VMX_EPT_WALKS) + 1);
  refs = 0;
  const r = nested(lin, write, user);
  setSt(OFF_VMX_WALK_REFS, st(OFF_VMX_WALK_REFS) + refs);
  return r;
}
function nested(lin: u32, write: bool, user: bool): u32 {
  let gpa: u32;
  let flags: u32 = 0;
  let upAddr: u32 = 0, upOld: u32 = 0, upNew: u32 = 0; // the leaf's accessed/dirty update, done last
  const c0 = cr0();
  if (c0 & CR0_PG) {
    const pdeAddr = (st(OFF_CR3) & PTE_FRAME) + ((lin >>> 22) << 2);
    let pde = guestEntryRead(pdeAddr, lin);
    if (res == EXITED) return 0;
    if (!(pde & PTE_P)) { pageFault(lin, errBits(write, user)); return 0; }
    const c4 = cr4();
    if ((pde & PTE_PS) && (c4 & CR4_PSE)) {
      if (pde & PDE_LARGE_RSVD) { pageFault(lin, PF_P | PF_RSVD | errBits(write, user)); return 0; }
      if (!allowed(pde, write, user, c0)) { pageFault(lin, PF_P | errBits(write, user)); return 0; }
      upAddr = pdeAddr; upOld = pde; upNew = pde | PTE_A | (write ? PTE_D : 0);
      gpa = (pde & PDE_LARGE_FRAME) | (lin & 0x003FF000);
      flags = ((pde & PTE_G) && (c4 & CR4_PGE) ? 1 : 0) | 2;
      setHaveLarge();
    } else {
      if (!(pde & PTE_A)) { pde |= PTE_A; if (!guestEntryWrite(pdeAddr, pde, lin)) return 0; }
      const pteAddr = (pde & PTE_FRAME) + (((lin >>> 12) & 0x3FF) << 2);
      const pte = guestEntryRead(pteAddr, lin);
      if (res == EXITED) return 0;
      if (!(pte & PTE_P)) { pageFault(lin, errBits(write, user)); return 0; }
      if (!allowed(pde & pte, write, user, c0)) { pageFault(lin, PF_P | errBits(write, user)); return 0; }
      upAddr = pteAddr; upOld = pte; upNew = pte | PTE_A | (write ? PTE_D : 0);
      gpa = pte & PTE_FRAME;
      flags = (pte & PTE_G) && (c4 & CR4_PGE) ? 1 : 0;
    }
  } else {
    gpa = lin & PTE_FRAME;
  }
  // the final address before the guest's own A/D update: an access the EPT refuses leaves no trace in the guest
  const acc = fetching ? QEPT_FETCH : write ? QEPT_WRITE : QEPT_READ;
  const hpa = eptWalk(gpa | (lin & 0xFFF), acc, lin, true, true);
  if (res == EXITED) return 0;
  const fres = res, fperm = perm;
  if (upNew != upOld && !guestEntryWrite(upAddr, upNew, lin)) return 0;
  perm = fperm;
  if (fres == UNBACKED) { setMmioHit(gpa | (lin & 0xFFF)); return 0; }
  // a read entry serves fetches too (and a write entry reads): cache only what every user of the entry may do
  // (write entries also serve the reads of read-modify-write instructions; read entries serve fetches)
  const cache = write ? (perm & (EPT_R | EPT_W)) == (EPT_R | EPT_W) : (perm & (EPT_R | EPT_X)) == (EPT_R | EPT_X);
  return tlbInstall(lin, hpa & 0xFFFFF000, write, user, flags, cache);
}
