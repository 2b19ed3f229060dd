// ptwrite.ts — page faults: hidden faults filled into the shadow, true faults reflected, and writes to
// write-protected guest page tables, emulated from the decoded store (or single-stepped with the page opened).
import { type DecodedInsn as Insn } from "../machine.ts";
import * as A from "../abi.generated.ts";
import { VMM_LINEAR } from "./shadow.ts";
import { GatesAndReturns } from "./gates.ts";
import { GuestFault, FatalGuest, VMM_SIZE, SEG, hex, type HandleResult } from "./vcpu.ts";

export abstract class PageTableWrites extends GatesAndReturns {
  protected pageFault(err: number, cr2: number, insn?: Insn): HandleResult {
    cr2 >>>= 0;
    const user = this.v.cpl === 3, write = !!(err & 2);
    const pg = this.paging();
    if (cr2 >>> 22 === 1023) {
      const w = this.shadow.walk(pg, cr2, write, user, false);
      if (w.ok) throw new FatalGuest(`the guest uses ${hex(cr2)}, inside the VMM-reserved linear region ${hex(VMM_LINEAR)}-0xffffffff (relocate the guest's mapping)`);
      this.shadow.stats.trueFaults++;
      throw new GuestFault(A.VEC_PF, w.err, cr2);
    }
    const w = this.shadow.walk(pg, cr2, write, user, true);
    if (!w.ok) {
      this.shadow.stats.trueFaults++;
      if (!user) throw new GuestFault(A.VEC_PF, w.err, cr2);
      // from user mode: reflected here, then the K shadow's entries the CPU's delivery reads and writes are filled,
      // so that the next one is delivered in the CPU (abi.ts CTRL_FAST_PF; a stop while delivering: the caller's)
      this.deliver(A.VEC_PF, w.err, this.m.eip, false, cr2);
      if (this.fastWanted & A.CTRL_FAST_PF) this.prefillFastInt(A.VEC_PF, 24);
      return null;
    }
    this.shadow.stats.hiddenFaults++;
    if (w.gpa >= this.guestRam && this.shadow.mmioMachineAddr(w.gpa) < 0) return this.stepThroughWindow(cr2, w); // memory.ts
    if (this.shadow.fill(cr2, w, write)) return null;
    return this.protectedWrite(cr2, w.gpa, insn);
  }

  /**
   * A write the guest may do to a frame the VMM protects. Page-table frames: the faulting store is decoded and
   * emulated against guest memory (through the guest's mapping), and exactly the shadow entries derived from the
   * guest entries it changed are dropped (ShadowMmu.writeEntries). Forms not decoded here, translated-code frames
   * and TF=1 fall back to single-stepping the instruction with the page opened, then diffing the frame.
   */
  protected protectedWrite(lin: number, gpa: number, insn?: Insn): HandleResult {
    this.count(this.counts.exits, "protected write");
    const frame = gpa >>> 12;
    if (!this.patcher.isCodeFrame(frame) && !(this.m.eflags & A.FLAG_TF)) {
      let d: Insn | null = insn ?? null;
      if (!d) try { d = this.fetchInsn(); } catch (e) { if (!(e instanceof GuestFault)) throw e; }
      if (d && this.emulatePtWrite(d, lin)) {
        this.shadow.stats.ptWritesEmulated++;
        return null;
      }
    }
    this.shadow.stats.ptWritesStepped++;
    this.count(this.counts.emulated, "pt-write single-stepped");
    const snap = this.shadow.snapshot(frame);
    const old = this.shadow.mapTemporarilyWritable(lin, gpa);
    let e = this.m.run(1);
    // an instruction that also reads device memory (movs from an APIC page) restarts after each read: with the
    // page still open, until it completes
    for (let k = 0; k < 64 && e.reason === "mmio-read"; k++) { this.mmioExit(e); e = this.m.run(1); }
    this.shadow.restoreSpte(lin, old);
    this.afterProtectedWrite(frame, snap);
    // a debugger's stop inside this one step (host/gdb/) is not a guest exit: the run loop goes on (and stops again
    // at the next breakpoint check)
    return e.reason === "budget" || e.reason === "debug" || this.mmioExit(e) ? null : this.handle(e);
  }

  /**
   * Emulates a store that faulted on a write-protected guest page table: mov r/m,r / r/m,imm / moffs,acc;
   * and/or/xor r/m,r / r/m,imm; xchg; cmpxchg; bt[src] r/m,r / r/m,imm8; (rep) stos — 8/16/32-bit, its memory
   * operand inside the faulting page. Returns false (nothing changed) for anything else. A guest fault while
   * emulating propagates (GuestFault) with nothing written and EIP at the instruction, as the CPU would.
   */
  protected emulatePtWrite(d: Insn, lin: number): boolean {
    const op = d.op;
    const osz = d.opsize16 ? 2 : 4;
    let size = osz;
    let kind: "mov" | "or" | "and" | "xor" | "xchg" | "cmpxchg" | "bts" | "btr" | "btc" | "stos";
    let src = 0;
    switch (op) {
      case 0x88: case 0x89: kind = "mov"; size = op & 1 ? osz : 1; src = this.reg(d.reg, size); break;
      case 0xc6: case 0xc7: if (d.reg !== 0) return false; kind = "mov"; size = op & 1 ? osz : 1; src = d.imm; break;
      case 0xa2: case 0xa3: kind = "mov"; size = op & 1 ? osz : 1; src = this.reg(0, size); break;
      case 0x08: case 0x09: kind = "or"; size = op & 1 ? osz : 1; src = this.reg(d.reg, size); break;
      case 0x20: case 0x21: kind = "and"; size = op & 1 ? osz : 1; src = this.reg(d.reg, size); break;
      case 0x30: case 0x31: kind = "xor"; size = op & 1 ? osz : 1; src = this.reg(d.reg, size); break;
      case 0x80: case 0x81: case 0x83: {
        const k = ([null, "or", null, null, "and", null, "xor", null] as const)[d.reg];
        if (!k) return false;
        kind = k; size = op === 0x80 ? 1 : osz;
        src = op === 0x83 ? ((d.imm << 24) >> 24) >>> 0 : d.imm;
        break;
      }
      case 0x86: case 0x87: kind = "xchg"; size = op & 1 ? osz : 1; src = this.reg(d.reg, size); break;
      case 0x0fb0: case 0x0fb1: kind = "cmpxchg"; size = op & 1 ? osz : 1; src = this.reg(d.reg, size); break;
      case 0x0fab: kind = "bts"; src = this.reg(d.reg, osz); break;
      case 0x0fb3: kind = "btr"; src = this.reg(d.reg, osz); break;
      case 0x0fbb: kind = "btc"; src = this.reg(d.reg, osz); break;
      case 0x0fba: {
        const k = ([null, null, null, null, null, "bts", "btr", "btc"] as const)[d.reg];
        if (!k) return false;
        kind = k; src = d.imm & (osz * 8 - 1);
        break;
      }
      case 0xaa: case 0xab: kind = "stos"; size = op & 1 ? osz : 1; break;
      default: return false;
    }
    if (d.rep && kind !== "stos") return false;
    const mask = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    src = (src & mask) >>> 0;
    const user = this.v.cpl === 3;
    const page = lin >>> 12;
    const inPage = (a: number, n: number) => a >>> 12 === page && (a & 0xfff) + n <= 4096;

    if (kind === "stos") {
      if (d.addrsize16) return false;
      const down = (this.m.eflags & A.FLAG_DF) !== 0;
      let count = d.rep ? this.reg(1) : 1;
      if (count === 0) return false;
      const di = this.reg(7);
      const a = (this.segBase(SEG.es) + di) >>> 0;
      if (!inPage(a, size)) return false;
      // as many elements as stay inside this page (the rest run natively / fault again on the next page)
      const room = down ? Math.floor((a & 0xfff) / size) + 1 : Math.floor((4096 - (a & 0xfff)) / size);
      const n = Math.min(count, room);
      const lo = down ? (a - (n - 1) * size) >>> 0 : a;
      const gpa = this.translate(lo, true, user);
      if (this.patcher.isCodeFrame(gpa >>> 12)) return false;
      const val = this.reg(0, size);
      const bytes = new Uint8Array(n * size);
      for (let i = 0; i < n * size; i++) bytes[i] = (val >>> (8 * (i % size))) & 0xff;
      this.shadow.writeEntries(gpa, bytes);
      this.m.edi = (di + (down ? -n : n) * size) >>> 0;
      count -= n;
      if (d.rep) this.m.ecx = count >>> 0;
      if (count === 0) this.done(d, "pt-write emulated");
      else { this.count(this.counts.emulated, "pt-write emulated"); this.totals.emulatedInstructions++; }
      return true;
    }

    if (d.mod === 3 && op !== 0xa2 && op !== 0xa3) return false;
    let a: number;
    if (op === 0xa2 || op === 0xa3) {
      const off = d.addrsize16 ? d.imm & 0xffff : d.imm;
      a = (this.segBase(d.seg >= 0 ? d.seg : SEG.ds) + off) >>> 0;
    } else a = this.lin(d);
    let bit = 0;
    if (kind === "bts" || kind === "btr" || kind === "btc") {
      if (op === 0x0fba) bit = src;
      else {
        // register bit offset: a signed index into a bit string starting at the operand
        const sbits = osz === 4 ? src | 0 : (src << 16) >> 16;
        a = (a + Math.floor(sbits / (osz * 8)) * osz) >>> 0;
        bit = sbits & (osz * 8 - 1);
      }
    }
    if (!inPage(a, size)) return false;
    const gpa = this.translate(a, true, user);
    if (this.patcher.isCodeFrame(gpa >>> 12)) return false;
    const mpa = gpa + VMM_SIZE;
    const old = (size === 4 ? this.m.read32(mpa) : size === 2 ? this.m.read16(mpa) : this.m.read8(mpa)) >>> 0;
    let val = old;
    const topBit = size * 8 - 1;
    let fl = this.m.eflags;
    const logicFlags = (r: number) => {
      fl &= ~(A.FLAG_CF | A.FLAG_OF | A.FLAG_SF | A.FLAG_ZF | A.FLAG_PF | A.FLAG_AF);
      if (r === 0) fl |= A.FLAG_ZF;
      if ((r >>> topBit) & 1) fl |= A.FLAG_SF;
      if (parity(r)) fl |= A.FLAG_PF;
    };
    let regOut: [number, number] | null = null;
    switch (kind) {
      case "mov": val = src; break;
      case "or": val = (old | src) >>> 0; logicFlags(val); break;
      case "and": val = (old & src) >>> 0; logicFlags(val); break;
      case "xor": val = (old ^ src) >>> 0; logicFlags(val); break;
      case "xchg": val = src; regOut = [d.reg, old]; break;
      case "cmpxchg": {
        const acc = this.reg(0, size);
        const r = (acc - old) & mask;
        fl &= ~(A.FLAG_CF | A.FLAG_OF | A.FLAG_SF | A.FLAG_ZF | A.FLAG_PF | A.FLAG_AF);
        if (acc < old) fl |= A.FLAG_CF;
        if (r === 0) fl |= A.FLAG_ZF;
        if ((r >>> topBit) & 1) fl |= A.FLAG_SF;
        if ((((acc ^ old) & (acc ^ r)) >>> topBit) & 1) fl |= A.FLAG_OF;
        if ((acc ^ old ^ r) & 0x10) fl |= A.FLAG_AF;
        if (parity(r)) fl |= A.FLAG_PF;
        if (acc === old) val = src; else regOut = [0, old]; // the CPU writes the old value back (no change)
        break;
      }
      default: {
        const m = (1 << bit) >>> 0;
        fl = (old & m) ? fl | A.FLAG_CF : fl & ~A.FLAG_CF;
        val = (kind === "bts" ? old | m : kind === "btr" ? old & ~m : old ^ m) >>> 0;
      }
    }
    val = (val & mask) >>> 0;
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = (val >>> (8 * i)) & 0xff;
    this.shadow.writeEntries(gpa, bytes);
    if (regOut) this.setRegSized(regOut[0], regOut[1], size);
    this.m.eflags = fl >>> 0;
    this.done(d, "pt-write emulated");
    return true;
  }
}

function parity(v: number): boolean {
  let x = v & 0xff;
  x ^= x >> 4; x ^= x >> 2; x ^= x >> 1;
  return (x & 1) === 0;
}
