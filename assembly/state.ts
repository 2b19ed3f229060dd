// state.ts — architectural CPU state.
// General registers, segments, control registers and the exit record live in the STATE block of linear
// memory (abi.ts), so the host reads and writes them in place, as KVM's kvm_run/regs. Hot per-instruction
// state (EIP, lazy flags, the interrupt shadow, halted...) lives in wasm globals and is synced with the block at
// run() entry/exit; the decode state and everything else here only lives within one instruction.
import {
  STATE_BASE, OFF_EAX, OFF_SEGS, SEG_STRIDE, SEG_BASE, SEG_LIMIT, SEG_ATTR, SEG_SEL, OFF_CPL, OFF_CR0, OFF_CR4,
} from "./abi";

// ---- registers (x86 encoding order: eax ecx edx ebx esp ebp esi edi) ----
export const EAX: u32 = 0;
export const ECX: u32 = 1;
export const EDX: u32 = 2;
export const EBX: u32 = 3;
export const ESP: u32 = 4;
export const EBP: u32 = 5;
export const ESI: u32 = 6;
export const EDI: u32 = 7;

@inline export function r32(r: u32): u32 { return load<u32>(STATE_BASE + OFF_EAX + (r << 2)); }
@inline export function w32(r: u32, v: u32): void { store<u32>(STATE_BASE + OFF_EAX + (r << 2), v); }
@inline export function r16(r: u32): u32 { return <u32>load<u16>(STATE_BASE + OFF_EAX + (r << 2)); }
@inline export function w16(r: u32, v: u32): void { store<u16>(STATE_BASE + OFF_EAX + (r << 2), <u16>v); }
// 8-bit registers: AL CL DL BL are byte 0 of regs 0..3, AH CH DH BH byte 1 of the same.
@inline export function r8(r: u32): u32 { return <u32>load<u8>(STATE_BASE + OFF_EAX + ((r & 3) << 2) + (r >> 2)); }
@inline export function w8(r: u32, v: u32): void { store<u8>(STATE_BASE + OFF_EAX + ((r & 3) << 2) + (r >> 2), <u8>v); }

// ---- EIP and the instruction being executed ----
export let eip: u32 = 0;
export let ip0: u32 = 0; // EIP at the start of the current instruction (faults restore it)
export function setEip(v: u32): void { eip = v; }
export function setIp0(v: u32): void { ip0 = v; }

// ---- segments (hidden descriptor caches in the STATE block) ----
@inline export function segBase(s: u32): u32 { return load<u32>(STATE_BASE + OFF_SEGS + s * SEG_STRIDE + SEG_BASE); }
@inline export function segLimit(s: u32): u32 { return load<u32>(STATE_BASE + OFF_SEGS + s * SEG_STRIDE + SEG_LIMIT); }
@inline export function segAttr(s: u32): u32 { return load<u32>(STATE_BASE + OFF_SEGS + s * SEG_STRIDE + SEG_ATTR); }
@inline export function segSel(s: u32): u32 { return load<u32>(STATE_BASE + OFF_SEGS + s * SEG_STRIDE + SEG_SEL); }
@inline export function setSegCache(s: u32, sel: u32, base: u32, limit: u32, attr: u32): void {
  const p = STATE_BASE + OFF_SEGS + s * SEG_STRIDE;
  store<u32>(p + SEG_SEL, sel);
  store<u32>(p + SEG_BASE, base);
  store<u32>(p + SEG_LIMIT, limit);
  store<u32>(p + SEG_ATTR, attr);
}

// ---- privilege and control registers ----
export let cpl: u32 = 0;
export function setCplValue(v: u32): void { cpl = v; store<u32>(STATE_BASE + OFF_CPL, v); }
@inline export function cr0(): u32 { return load<u32>(STATE_BASE + OFF_CR0); }
@inline export function cr4(): u32 { return load<u32>(STATE_BASE + OFF_CR4); }
@inline export function st(off: u32): u32 { return load<u32>(STATE_BASE + off); }
@inline export function setSt(off: u32, v: u32): void { store<u32>(STATE_BASE + off, v); }

// ---- decode state of the current instruction ----
export let o16: bool = false;      // 0x66 operand-size prefix
export let segOvr: i32 = -1;       // segment override, -1 = default
export let repPrefix: u32 = 0;     // 0, 0xF2 (REPNE) or 0xF3 (REP/REPE)
export let lockPrefix: bool = false;
export let a16: bool = false;      // 0x67 address-size prefix: 16-bit addressing (SI/DI/CX/BX, 16-bit offsets)
export function setA16(b: bool): void { a16 = b; }
/** Address registers under the current address size: ESI/EDI/ECX or SI/DI/CX. */
@inline export function aRd(r: u32): u32 { return a16 ? r16(r) : r32(r); }
@inline export function aWr(r: u32, v: u32): void { if (a16) w16(r, v); else w32(r, v); }
export let modrm: u32 = 0;
export let mrMod: u32 = 0;
export let mrReg: u32 = 0;
export let mrRm: u32 = 0;
export let ea: u32 = 0;            // effective address (offset within eaSeg)
export let eaSeg: u32 = 3;         // segment of the memory operand
export function setPrefixState(a: bool, s: i32, r: u32, l: bool): void { o16 = a; segOvr = s; repPrefix = r; lockPrefix = l; }
export function setModrm(m: u32): void { modrm = m; mrMod = m >> 6; mrReg = (m >> 3) & 7; mrRm = m & 7; }
export function setEa(seg: u32, off: u32): void { eaSeg = seg; ea = off; }
export let eaBase: u32 = 8;       // base register of the memory operand (8 = none); POP r/m needs it
export function setEaBase(b: u32): void { eaBase = b; }
export let imm1: u32 = 0;         // immediates of the current instruction, pre-decoded
export let imm2: u32 = 0;
export function setImms(a: u32, b: u32): void { imm1 = a; imm2 = b; }

// stopBlock: the executor must leave the current predecoded block after this instruction
// (an exit was requested, a REP instruction will resume, or the instruction wrote to code)
export let stopBlock: bool = false;
export function setStopBlock(b: bool): void { stopBlock = b; }

// ---- abort: a fault or an exit stopped the current instruction (faults are values, never host exceptions) ----
export const ABORT_NONE: u32 = 0;
export const ABORT_FAULT: u32 = 1; // an exception is pending (pendVector/pendError)
export const ABORT_EXIT: u32 = 2;  // the instruction must exit to the host and be restarted (IN, MMIO read)
export const ABORT_APIC: u32 = 3;  // restarted with a read the CPU answers itself (apic.ts: the APIC timer's count)
export let abort: u32 = 0;
export let pendVector: u32 = 0;
export let pendError: u32 = 0;
export let pendHasError: bool = false;
export function setAbort(a: u32): void { abort = a; }
export function setPending(v: u32, e: u32, has: bool): void { pendVector = v; pendError = e; pendHasError = has; abort = ABORT_FAULT; }

// exit requested after the current instruction completes (OUT, MMIO write, HLT...): 0 = none
export let exitAfter: u32 = 0xFFFFFFFF;
export function setExitAfter(r: u32): void { exitAfter = r; stopBlock = true; }

// interrupt shadow (STI / MOV SS / POP SS): interrupts are inhibited until after the next instruction.
// vCPU state: with ssShadow, pendingDebugTrap and halted it is synced with the STATE block (OFF_INT_SHADOW,
// OFF_PENDING_DBG, OFF_HALTED) at run() entry and exit, so a copy of the block carries it (KVM_GET_VCPU_EVENTS).
export let intShadow: bool = false;
export function setIntShadow(b: bool): void { intShadow = b; }
// Event delivery cannot be restarted after a host exit: while it runs, device memory it touches (an IDT,
// TSS, GDT or stack placed outside RAM) reads as all-ones and ignores writes, like an open bus.
export let noHostExits: bool = false;
export function setNoHostExits(b: bool): void { noHostExits = b; }
// MOV SS / POP SS / LSS also hold back debug traps (single-step) for one instruction; STI does not
export let ssShadow: bool = false;
export function setSsShadow(b: bool): void { ssShadow = b; }
export let halted: bool = false;
export function setHalted(b: bool): void { halted = b; }
