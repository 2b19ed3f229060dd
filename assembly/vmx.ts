// vmx.ts — guest ("non-root") mode, VT-x-like (SDM Vol. 3C ch. 24-27): the VMCS controls of AREA_VMCS (abi.ts)
// decide which guest events leave run() as VM exits.
//
// Cost when guest mode is off: one flag test (vmxOn) in the handlers of the affected instructions, one in the
// exception-intercept check and one at run() exit; the between-blocks check tests vmxWatch only, which is set while
// a control that needs an instruction-boundary check is active (interrupt window, MTF, external-interrupt exiting
// with the line up, an event to inject).
//
// Exit kinds: instruction exits (CPUID, HLT, INVLPG, RDTSC, VMCALL, MOV CR/DR, RDMSR/WRMSR) are fault-like: EIP
// stays on the instruction, nothing of it is done, OFF_VMX_EXIT_INSN_LEN says its length (the host emulates it and
// advances EIP). Boundary exits (external interrupt, interrupt window, MTF) leave EIP on the next instruction.
// Exceptions intercepted by the exception bitmap (with the #PF error-code mask/match) exit with the interruption
// information; a triple fault exits (reason 2). EPT violations/misconfigurations come from ept.ts.
import {
  OFF_VMX_ON, OFF_VMX_PIN, OFF_VMX_PROC, OFF_VMX_EXC_BITMAP, OFF_VMX_PF_MASK, OFF_VMX_PF_MATCH, OFF_VMX_CR0_MASK,
  OFF_VMX_CR0_SHADOW, OFF_VMX_CR4_MASK, OFF_VMX_CR4_SHADOW, OFF_VMX_TSC_OFFSET_LO, OFF_VMX_TSC_OFFSET_HI,
  OFF_VMX_IO_BITMAP_A, OFF_VMX_IO_BITMAP_B, OFF_VMX_MSR_BITMAP, OFF_VMX_ENTRY_INTR, OFF_VMX_ENTRY_ERROR,
  OFF_VMX_ENTRY_INSN_LEN, OFF_VMX_EXIT_REASON, OFF_VMX_EXIT_QUAL, OFF_VMX_EXIT_INSN_LEN, OFF_VMX_EXIT_INTR,
  OFF_VMX_EXIT_INTR_ERROR, OFF_VMX_EXITS, OFF_EXC_BITMAP, OFF_EXIT_REASON, OFF_EXIT_EIP, OFF_EXIT_VECTOR,
  OFF_EXIT_ERROR, OFF_EXIT_HAS_ERROR, OFF_EXIT_QUAL, OFF_EXIT_INSN_LEN, OFF_EXIT_PORT, OFF_EXIT_SIZE, OFF_CR2,
  OFF_INTR_VECTOR, RAM_BASE, PIN_EXT_INTR, PROC_INTR_WINDOW, PROC_TSC_OFFSET, PROC_MTF, PROC_IO_UNCOND,
  PROC_IO_BITMAPS, PROC_MSR_BITMAPS, INTR_INFO_VALID, INTR_INFO_ERR, INTR_TYPE_EXT, INTR_TYPE_NMI, INTR_TYPE_HW_EXC,
  INTR_TYPE_SOFT_INT, INTR_TYPE_SOFT_EXC, VMX_EXIT_EXCEPTION, VMX_EXIT_EXT_INTR, VMX_EXIT_TRIPLE_FAULT,
  VMX_EXIT_INTR_WINDOW, VMX_EXIT_IO, VMX_EXIT_MTF, VMX_EXIT_CR, VMX_EXIT_RDMSR, VMX_EXIT_WRMSR, VMX_NO_EXIT,
  EXIT_VMEXIT, EXIT_EXCEPTION, EXIT_SHUTDOWN, EXIT_IO_IN, EXIT_IO_OUT, EXIT_MMIO_READ, EXIT_MMIO_WRITE, VEC_PF,
  VEC_BP, VEC_OF, FLAG_IF, QCR_MOV_TO, QCR_MOV_FROM, QCR_CLTS, QCR_LMSW, QCR_LMSW_MEM, CR0_TS, CR0_PE, OFF_VMX_IDT_VEC_INFO, OFF_VMX_IDT_VEC_ERROR,
  OFF_VMX_PROC2, PROC2_VIRT_APIC, OFF_VMX_APIC_ACCESS, PROC2_VPID, OFF_VMX_VPID, OFF_VMX_TLB_FLUSHES, INVVPID_ADDR,
  INVVPID_SINGLE, INVVPID_SINGLE_KEEP_GLOBAL, INVVPID_ALL, VMX_EXIT_APIC_ACCESS, QAPIC_READ, QAPIC_WRITE,
  PROC_TPR_SHADOW, OFF_VMX_VAPIC_PAGE, OFF_VMX_TPR_THRESHOLD, OFF_VMX_TPR_INCPU, VMX_EXIT_TPR_BELOW_THRESHOLD,
} from "./abi";
import { st, setSt, eip, ip0, setEip, abort, setAbort, ABORT_EXIT, intShadow, pendVector, pendError, pendHasError, exitAfter, setExitAfter } from "./state";
import { flagsReg } from "./flags";
import { inRam, tlbFlushAll, tlbFlushNonGlobal, tlbInvlpg, codeWrite } from "./mmu";
import { eptEnter, eptOn } from "./ept";
import { apicvEnter, apicvLeave } from "./apicv";
import { deliverExternal, raiseException, softInt } from "./ops/interrupt";
import { cpuidLeaf, cpuidA, cpuidB, cpuidC, cpuidD } from "./ops/system";

export let vmxOn: bool = false;
/** a boundary check is due between instructions (see the file comment) */
export let vmxWatch: bool = false;
let pin: u32 = 0;
let proc: u32 = 0;
let entryIc: u64 = 0;
let injectingException: bool = false; // an injected hardware exception is not itself subject to the bitmap
/** The APIC-access page in guest mode (PROC2_VIRT_APIC), or 1 (matches no page): the page at which the in-CPU
 *  local APIC (apic.ts) answers instead of OFF_APIC_PAGE. Without the control every APIC access exits. */
export let vmxApicPage: u32 = 1;
/** With the TPR shadow (PROC_TPR_SHADOW, abi.ts): the address of VTPR in the APIC-access page, else 1 (matches no
 *  aligned dword access); mmu.ts sends an aligned 32-bit access there to vmxTprRead/vmxTprWrite. */
export let vmxTprAt: u32 = 1;
let vapic: u32 = 0;          // the virtual-APIC page (host-physical)
let tprThreshold: u32 = 0;
let tprPending: bool = false; // VM entry found VTPR below the threshold: exit before the first instruction

@inline export function vmxCtl(bit: u32): bool { return (proc & bit) != 0; }

/** run() entry: load the controls (the host may have changed any). */
export function vmxEnter(ic: u64, intrLine: bool): void {
  vmxOn = st(OFF_VMX_ON) != 0;
  if (!vmxOn) { vmxWatch = false; vmxTprAt = 1; tprPending = false; apicvLeave(); tlbTagSwitch(TAG_ROOT); eptEnter(false); return; }
  setSt(OFF_VMX_IDT_VEC_INFO, 0);
  pin = st(OFF_VMX_PIN);
  proc = st(OFF_VMX_PROC);
  entryIc = ic;
  vmxApicPage = (st(OFF_VMX_PROC2) & PROC2_VIRT_APIC) ? st(OFF_VMX_APIC_ACCESS) & 0xFFFFF000 : 1;
  tprEnter();
  apicvEnter(vmxTprAt == 1 ? 1 : vmxApicPage); // APIC-register virtualization (apicv.ts): needs the TPR shadow on
  vpidTagged = (st(OFF_VMX_PROC2) & PROC2_VPID) != 0 && (st(OFF_VMX_VPID) & 0xFFFF) != 0;
  tlbTagSwitch(vpidTagged ? st(OFF_VMX_VPID) & 0xFFFF : TAG_UNTAGGED);
  eptEnter(true);
  recomputeWatch(intrLine);
}
function recomputeWatch(intrLine: bool): void {
  vmxWatch = tprPending || (proc & (PROC_INTR_WINDOW | PROC_MTF)) != 0 || ((pin & PIN_EXT_INTR) != 0 && intrLine) ||
    (st(OFF_VMX_ENTRY_INTR) & INTR_INFO_VALID) != 0;
}

function setExit(reason: u32, qual: u32, len: u32): void {
  setSt(OFF_VMX_EXIT_REASON, reason);
  setSt(OFF_VMX_EXIT_QUAL, qual);
  setSt(OFF_VMX_EXIT_INSN_LEN, len);
  setSt(OFF_VMX_EXIT_INTR, 0);
  setSt(OFF_VMX_EXIT_INTR_ERROR, 0);
}

/** An instruction exit (fault-like): nothing of the instruction is done; run() returns EXIT_VMEXIT with EIP on it. */
export function vmxExit(reason: u32, qual: u32): void {
  setExit(reason, qual, eip - ip0);
  setSt(OFF_EXIT_REASON, EXIT_VMEXIT);
  setAbort(ABORT_EXIT);
}
/** An exit at an EPT violation/misconfiguration (ept.ts): like an instruction exit, with no length. */
export function vmxExitNoLen(reason: u32, qual: u32): void {
  setExit(reason, qual, 0);
  setSt(OFF_EXIT_REASON, EXIT_VMEXIT);
  setAbort(ABORT_EXIT);
}

/**
 * Between instructions while vmxWatch: inject the VM-entry event, then the boundary exits in the SDM's priority
 * (MTF after the first instruction, external interrupt, interrupt window). Returns true for a VM exit.
 */
export function vmxBoundary(ic: u64, intrLine: bool): bool {
  const info = st(OFF_VMX_ENTRY_INTR);
  if (info & INTR_INFO_VALID) {
    setSt(OFF_VMX_ENTRY_INTR, info & ~INTR_INFO_VALID);
    inject(info);
    if (tprPending && exitAfter == 0xFFFFFFFF && !abort) { tprPending = false; boundaryExit(VMX_EXIT_TPR_BELOW_THRESHOLD, 0); return true; }
    recomputeWatch(intrLine);
    return false; // (a delivery that ends in an intercepted exception or a shutdown sets exitAfter)
  }
  if (tprPending) { tprPending = false; boundaryExit(VMX_EXIT_TPR_BELOW_THRESHOLD, 0); return true; }
  if ((proc & PROC_MTF) && ic != entryIc) { boundaryExit(VMX_EXIT_MTF, 0); return true; }
  if ((pin & PIN_EXT_INTR) && intrLine) {
    boundaryExit(VMX_EXIT_EXT_INTR, 0);
    setSt(OFF_VMX_EXIT_INTR, INTR_INFO_VALID | INTR_TYPE_EXT | (st(OFF_INTR_VECTOR) & 0xFF));
    return true;
  }
  if ((proc & PROC_INTR_WINDOW) && (flagsReg & FLAG_IF) && !intShadow) { boundaryExit(VMX_EXIT_INTR_WINDOW, 0); return true; }
  return false;
}
function boundaryExit(reason: u32, qual: u32): void {
  setExit(reason, qual, 0);
  setSt(OFF_EXIT_REASON, EXIT_VMEXIT);
  setSt(OFF_EXIT_EIP, eip);
}

// ---- the TPR shadow (SDM 29.1; abi.ts PROC_TPR_SHADOW) ----
function tprEnter(): void {
  vmxTprAt = 1;
  tprPending = false;
  if (!(proc & PROC_TPR_SHADOW) || vmxApicPage == 1) return;
  const p = st(OFF_VMX_VAPIC_PAGE) & 0xFFFFF000;
  if (!inRam(p, 4096)) return; // (a page outside host RAM: the host's error; the control acts as off)
  vapic = p;
  tprThreshold = st(OFF_VMX_TPR_THRESHOLD) & 0xF;
  vmxTprAt = vmxApicPage + 0x80;
  tprPending = ((load<u32>(RAM_BASE + vapic + 0x80) >>> 4) & 0xF) < tprThreshold; // (SDM 26.7.7)
}
/** An aligned 32-bit guest read of VTPR through the APIC-access page: the virtual-APIC page's, no exit. */
export function vmxTprRead(): u32 {
  setSt(OFF_VMX_TPR_INCPU, st(OFF_VMX_TPR_INCPU) + 1);
  return load<u32>(RAM_BASE + vapic + 0x80);
}
/** ... a write: VTPR is stored, then TPR virtualization: below the threshold, a trap-like exit (reason 43). */
export function vmxTprWrite(v: u32): void { vmxTprStore(vapic, v); }
/** VTPR := `v` in the virtual-APIC page `page`, then TPR virtualization (also apicv.ts's partial TPR writes). */
export function vmxTprStore(page: u32, v: u32): void {
  setSt(OFF_VMX_TPR_INCPU, st(OFF_VMX_TPR_INCPU) + 1);
  codeWrite(page >>> 12);
  store<u32>(RAM_BASE + page + 0x80, v);
  if (((v >>> 4) & 0xF) < tprThreshold && exitAfter == 0xFFFFFFFF) {
    setExit(VMX_EXIT_TPR_BELOW_THRESHOLD, 0, 0);
    setExitAfter(EXIT_VMEXIT);
  }
}

/** Event injection (SDM 26.6): delivered through the guest IDT as if it had occurred at this boundary. */
function inject(info: u32): void {
  const vec = info & 0xFF;
  const type = info & 0x700;
  if (type == INTR_TYPE_EXT || type == INTR_TYPE_NMI) { deliverExternal(vec); return; }
  if (type == INTR_TYPE_SOFT_INT || type == INTR_TYPE_SOFT_EXC) {
    const at = eip;
    setEip(at + st(OFF_VMX_ENTRY_INSN_LEN)); // the frame's return address is past the INT instruction
    softInt(vec, type == INTR_TYPE_SOFT_EXC);
    if (abort) { setAbort(0); setEip(at); raiseException(pendVector, pendError, pendHasError); }
    return;
  }
  injectingException = true;
  raiseException(vec, st(OFF_VMX_ENTRY_ERROR), (info & INTR_INFO_ERR) != 0);
  injectingException = false;
}

/** Is exception `v` (error code `e`) intercepted? Outside guest mode: the plain exception bitmap (OFF_EXC_BITMAP). */
export function excIntercepted(v: u32, e: u32): bool {
  if (!vmxOn) return (st(OFF_EXC_BITMAP) & (<u32>1 << v)) != 0;
  if (injectingException) { injectingException = false; return false; }
  const bit = (st(OFF_VMX_EXC_BITMAP) >>> v) & 1;
  if (v == VEC_PF) return bit == (((e & st(OFF_VMX_PF_MASK)) == st(OFF_VMX_PF_MATCH)) ? <u32>1 : 0);
  return bit != 0;
}

/**
 * Delivering event `v` faulted with the pending exception (state.ts pendVector/pendError): if the exception bitmap
 * intercepts that exception, record `v` as the IDT-vectoring information and return true (the caller exits with
 * the pending exception instead of escalating: the host fixes the cause, e.g. a shadow page, and re-injects `v`).
 */
export function vmxVectoringExit(v: u32, e: u32, he: bool, soft: bool, external: bool): bool {
  if (!excIntercepted(pendVector, pendError)) return false;
  const type = external ? (v == 2 ? INTR_TYPE_NMI : INTR_TYPE_EXT) : soft ? INTR_TYPE_SOFT_EXC : INTR_TYPE_HW_EXC;
  setSt(OFF_VMX_IDT_VEC_INFO, INTR_INFO_VALID | type | (he ? INTR_INFO_ERR : 0) | (v & 0xFF));
  setSt(OFF_VMX_IDT_VEC_ERROR, he ? e : 0);
  return true;
}

/** run() is returning `reason` in guest mode: record the VM exit it is (or VMX_NO_EXIT); returns the exit code. */
export function vmxFinish(reason: u32): u32 {
  if (reason == EXIT_VMEXIT) { countExit(); return reason; }
  if (reason == EXIT_EXCEPTION) {
    const v = st(OFF_EXIT_VECTOR);
    const he = st(OFF_EXIT_HAS_ERROR) != 0;
    setExit(VMX_EXIT_EXCEPTION, v == VEC_PF ? st(OFF_CR2) : 0, 0);
    if (v == VEC_PF) setSt(OFF_CR2, cr2BeforePf); // SDM 27.1: a page fault that causes a VM exit does not update CR2
    const type = v == VEC_BP || v == VEC_OF ? INTR_TYPE_SOFT_EXC : v == 2 ? INTR_TYPE_NMI : INTR_TYPE_HW_EXC;
    setSt(OFF_VMX_EXIT_INTR, INTR_INFO_VALID | type | (he ? INTR_INFO_ERR : 0) | v);
    setSt(OFF_VMX_EXIT_INTR_ERROR, he ? st(OFF_EXIT_ERROR) : 0);
    setSt(OFF_EXIT_REASON, EXIT_VMEXIT);
    countExit();
    return EXIT_VMEXIT;
  }
  if (reason == EXIT_SHUTDOWN) {
    setExit(VMX_EXIT_TRIPLE_FAULT, 0, 0);
    setSt(OFF_EXIT_REASON, EXIT_VMEXIT);
    countExit();
    return EXIT_VMEXIT;
  }
  if (reason == EXIT_IO_IN || reason == EXIT_IO_OUT) {
    if (ioIntercepted(st(OFF_EXIT_PORT), st(OFF_EXIT_SIZE))) {
      setExit(VMX_EXIT_IO, st(OFF_EXIT_QUAL), st(OFF_EXIT_INSN_LEN));
      countExit();
    } else setSt(OFF_VMX_EXIT_REASON, VMX_NO_EXIT); // a passed-through port: the device access without a VM exit
    return reason;
  }
  if (reason == EXIT_MMIO_READ || reason == EXIT_MMIO_WRITE) {
    const at = st(OFF_EXIT_PORT);
    if ((at & 0xFFFFF000) == vmxApicPage) { // an APIC-page access the CPU does not virtualize: an APIC-access exit
      // (SDM 27.2.1 table 27-6; the access still leaves as the device access: the host's handling is the same)
      setExit(VMX_EXIT_APIC_ACCESS, (at & 0xFFF) | (reason == EXIT_MMIO_WRITE ? QAPIC_WRITE : QAPIC_READ), 0);
      countExit();
      return reason;
    }
    if (eptOn) { countExit(); return reason; } // (reason 48: ept.ts)
  }
  setSt(OFF_VMX_EXIT_REASON, VMX_NO_EXIT);
  return reason;
}
/** CR2 before the last #PF in guest mode (mmu.ts pageFault): restored when that #PF exits instead of being
 *  delivered, so shadow paging's hidden faults (hw --npt off) never show in the guest's CR2. */
let cr2BeforePf: u32 = 0;
export function vmxNotePageFault(cr2: u32): void { cr2BeforePf = cr2; }
function countExit(): void {
  setSt(OFF_VMX_EXITS, st(OFF_VMX_EXITS) + 1);
  if (!vpidTagged) vpidFlush(); // SDM 28.3.3.1: without VPID a VM exit (and the next entry) flushes the TLB
}

// ---- VPID (PROC2_VPID, abi.ts "hw-tlb") ----
// The TLB holds the entries of one tag: root mode's (VPID 0000H), untagged guest mode's (VPID off: flushed at
// every VM exit, so nothing of it survives into root mode or the next entry), or one VPID's. The hit path and the
// JIT's inline probe stay one compare: entries of another tag are dropped when the tag changes.
const TAG_ROOT: u32 = 0;
const TAG_UNTAGGED: u32 = 0x10000;
let tlbTag: u32 = TAG_ROOT;
let vpidTagged: bool = false;
function vpidFlush(): void {
  tlbFlushAll();
  setSt(OFF_VMX_TLB_FLUSHES, st(OFF_VMX_TLB_FLUSHES) + 1);
}
function tlbTagSwitch(tag: u32): void {
  if (tag == tlbTag) return;
  tlbTag = tag;
  vpidFlush();
}
/** The host's INVVPID (INVVPID_* types): only the entries of `vpid` go (the TLB holds those of tlbTag only). */
export function invvpid(type: u32, vpid: u32, lin: u32): void {
  vpid &= 0xFFFF;
  if (type == INVVPID_ALL) { tlbFlushAll(); return; }
  if (type > INVVPID_SINGLE_KEEP_GLOBAL) return; // (an invalid type: VMfail, nothing done)
  if (vpid == 0 || vpid != tlbTag) return; // (VPID 0 is invalid for these types; another VPID has no entries here)
  if (type == INVVPID_ADDR) tlbInvlpg(lin);
  else if (type == INVVPID_SINGLE) tlbFlushAll();
  else tlbFlushNonGlobal();
}

/** A bit of a 4 KiB bitmap the host placed in host-physical memory; a bitmap outside RAM reads as all ones. */
function bitmapBit(base: u32, bit: u32): bool {
  const p = base + (bit >>> 3);
  if (!inRam(p, 1)) return true; // (inRam: RAM is backed on first touch)
  return (load<u8>(RAM_BASE + p) & (<u32>1 << (bit & 7))) != 0;
}
/** I/O bitmaps A/B when enabled (every byte of the access is checked; a wrap past 0xFFFF exits), else unconditional I/O exiting. */
export function ioIntercepted(port: u32, size: u32): bool {
  if (!(proc & PROC_IO_BITMAPS)) return (proc & PROC_IO_UNCOND) != 0;
  for (let i: u32 = 0; i < size; i++) {
    const p = port + i;
    if (p > 0xFFFF) return true;
    if (bitmapBit(st(p < 0x8000 ? OFF_VMX_IO_BITMAP_A : OFF_VMX_IO_BITMAP_B), p & 0x7FFF)) return true;
  }
  return false;
}
/** RDMSR/WRMSR: every one exits without MSR bitmaps; with them, the bit of MSRs 0..1FFF and C0000000..C0001FFF. */
export function vmxMsr(msr: u32, write: bool): bool {
  let hit = true;
  if (proc & PROC_MSR_BITMAPS) {
    const base = st(OFF_VMX_MSR_BITMAP) + (write ? 0x800 : 0);
    if (msr <= 0x1FFF) hit = bitmapBit(base, msr);
    else if (msr >= 0xC0000000 && msr <= 0xC0001FFF) hit = bitmapBit(base + 0x400, msr - 0xC0000000);
  }
  if (hit) vmxExit(write ? VMX_EXIT_WRMSR : VMX_EXIT_RDMSR, 0);
  return hit;
}

// ---- control registers: guest/host masks and read shadows (SDM 25.3) ----
@inline function crMask(n: u32): u32 { return n == 0 ? st(OFF_VMX_CR0_MASK) : n == 4 ? st(OFF_VMX_CR4_MASK) : 0; }
@inline function crShadow(n: u32): u32 { return n == 0 ? st(OFF_VMX_CR0_SHADOW) : st(OFF_VMX_CR4_SHADOW); }
/** What the guest reads from CR0/CR4: host-owned bits come from the read shadow. */
export function vmxCrRead(n: u32, v: u32): u32 { const m = crMask(n); return (v & ~m) | (crShadow(n) & m); }
/** MOV to CR0/CR4 exits when it would change a host-owned bit from its shadow value. Returns true if it exited. */
export function vmxCrWriteExits(n: u32, v: u32, gpr: u32): bool {
  const m = crMask(n);
  if (!m || !((v ^ crShadow(n)) & m)) return false;
  vmxExit(VMX_EXIT_CR, n | (QCR_MOV_TO << 4) | (gpr << 8));
  return true;
}
/** The value a MOV to CR0/CR4 that did not exit loads: host-owned bits keep their current value. */
export function vmxCrMerge(n: u32, v: u32, cur: u32): u32 { const m = crMask(n); return (v & ~m) | (cur & m); }
/** CR3 load/store exiting (the caller checked the control). */
export function vmxCr3Exit(from: bool, gpr: u32): void { vmxExit(VMX_EXIT_CR, 3 | ((from ? QCR_MOV_FROM : QCR_MOV_TO) << 4) | (gpr << 8)); }
/** CLTS: exits iff TS is host-owned and set in the shadow; otherwise a host-owned TS is left alone (returns 1). */
export function vmxClts(): u32 {
  const m = st(OFF_VMX_CR0_MASK);
  if (!(m & CR0_TS)) return 0;
  if (st(OFF_VMX_CR0_SHADOW) & CR0_TS) { vmxExit(VMX_EXIT_CR, QCR_CLTS << 4); return 2; }
  return 1;
}
/** LMSW: exits iff it would change a host-owned bit of CR0[3:0] from the shadow (PE only from 0 to 1). */
export function vmxLmswExits(src: u32, mem: bool, gpr: u32): bool {
  const m = st(OFF_VMX_CR0_MASK) & 0xF, sh = st(OFF_VMX_CR0_SHADOW);
  const diff = (src ^ sh) & m & 0xE;
  const pe = (m & CR0_PE) && (src & CR0_PE) && !(sh & CR0_PE);
  if (!diff && !pe) return false;
  vmxExit(VMX_EXIT_CR, (QCR_LMSW << 4) | (mem ? QCR_LMSW_MEM : gpr << 8) | ((src & 0xFFFF) << 16));
  return true;
}
/** The TSC the guest reads: the count plus the TSC offset when offsetting is on. */
export function vmxTsc(ic: u64): u64 {
  if (!vmxOn || !(proc & PROC_TSC_OFFSET)) return ic;
  return ic + ((<u64>st(OFF_VMX_TSC_OFFSET_HI) << 32) | <u64>st(OFF_VMX_TSC_OFFSET_LO));
}

/** The CPU's own CPUID leaf, register 0..3 (EAX EBX ECX EDX): what a host emulating CPUID exits reads. */
export function hwCpuid(leaf: u32, reg: u32): u32 {
  cpuidLeaf(leaf);
  return reg == 0 ? cpuidA : reg == 1 ? cpuidB : reg == 2 ? cpuidC : cpuidD;
}
