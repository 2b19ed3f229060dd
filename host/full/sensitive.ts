// sensitive.ts — the x86 hole: the sensitive-but-unprivileged instructions (pushf/popf, sgdt/sidt/sldt/str/smsw,
// mov/push from CS/SS, lar/lsl/verr/verw, and the privilege-dependent iret/retf/lcall and SS loads), emulated
// against the virtual CPU with the CPU's own rules when the CPU hands one over before executing it (a
// "sensitive" exit, mode.ts applySensitiveExits) or, in static mode, at an INT3 the patcher wrote over it; and the
// fused irq_save idiom.
import { SEG_NAMES, type DecodedInsn as Insn } from "../machine.ts";
import * as A from "../abi.generated.ts";
import { PrivilegedInsns } from "./privileged.ts";
import { GuestFault, FatalGuest, SEG, hex, descLimit, type HandleResult } from "./vcpu.ts";

export abstract class SensitiveInsns extends PrivilegedInsns {
  /** Emulates sensitive instruction `d` (decoded at CS:EIP, which is m.eip) against the virtual CPU. */
  protected emulateSensitive(d: Insn): HandleResult {
    const v = this.v;
    const osz = d.opsize16 ? 2 : 4;
    const setZf = (on: boolean) => { this.m.eflags = on ? this.m.eflags | A.FLAG_ZF : this.m.eflags & ~A.FLAG_ZF; };
    switch (d.op) {
      case 0x9c:
        this.push(this.guestFlags() & ~(A.FLAG_VM | A.FLAG_RF) & (osz === 2 ? 0xffff : 0xffffffff), osz);
        this.done(d, "pushf");
        this.fuseIrqSave();
        return null;
      case 0x9d: {
        const [val] = this.peekStack(1, osz);
        this.m.esp = (this.m.esp + osz) >>> 0;
        this.setGuestFlags(this.m.rules.popFlags(this.guestFlags(), val, osz, v.cpl, false));
        this.done(d, "popf"); return null;
      }
      case 0xcf: this.farReturn(d, true, 0); return null;
      case 0xcb: this.farReturn(d, false, 0); return null;
      case 0xca: this.farReturn(d, false, d.imm & 0xffff); return null;
      case 0x9a: case 0xff: {
        let off: number, sel: number;
        if (d.op === 0x9a) { off = d.imm; sel = d.imm2; } else {
          if (d.mod === 3) throw new GuestFault(A.VEC_UD);
          const a = this.operand(d, osz + 2, false);
          off = osz === 4 ? this.read32(a) : this.read16(a);
          sel = this.read16(a + osz);
        }
        const next = (d.addr + d.len) >>> 0;
        if ((sel & 0xfffc) !== 0) {
          const g = this.desc(sel);
          const t = g ? (g.hi >>> 8) & 0x1f : 0;
          if (g && (t === 0x0c || t === 0x04)) { this.callGate(d, sel, g, next); return null; } // 32- / 16-bit gate
        }
        const desc = this.codeDesc(sel, osz === 2 ? off & 0xffff : off, true);
        this.push(this.vsel("cs"), osz);
        this.push(next, osz);
        this.loadSegReal("cs", (sel & ~3) | v.cpl, desc);
        this.count(this.counts.emulated, "lcall");
        this.totals.emulatedInstructions++;
        this.m.eip = off;
        return null;
      }
      case 0x0e: this.push(this.vsel("cs"), osz); this.done(d, "push cs"); return null;
      case 0x16: this.push(this.vsel("ss"), osz); this.done(d, "push ss"); return null;
      case 0x8c: {
        const sel = this.vsel(d.reg === 1 ? "cs" : "ss");
        this.storeOperand(d, sel, osz);
        this.done(d, "mov from cs/ss"); return null;
      }
      case 0x0f01: {
        if (d.reg === 4) {
          this.storeOperand(d, v.cr0, osz);
          this.done(d, "smsw"); return null;
        }
        const t = d.reg === 0 ? v.gdtr : v.idtr;
        const a = this.operand(d, 6, true);
        this.writeLin(a, [t.limit & 0xff, t.limit >> 8, t.base & 0xff, (t.base >>> 8) & 0xff, (t.base >>> 16) & 0xff, t.base >>> 24]);
        this.done(d, d.reg === 0 ? "sgdt" : "sidt"); return null;
      }
      case 0x0f00: {
        if (d.reg === 0 || d.reg === 1) {
          const sel = d.reg === 0 ? v.ldtr.sel : v.tr.sel;
          this.storeOperand(d, sel & 0xffff, osz);
          this.done(d, d.reg === 0 ? "sldt" : "str"); return null;
        }
        const sel = this.loadOperand(d);
        setZf(this.verx(sel, d.reg === 5));
        this.done(d, d.reg === 4 ? "verr" : "verw"); return null;
      }
      case 0x0f02: case 0x0f03: {
        const isLsl = d.op === 0x0f03;
        const sel = this.loadOperand(d);
        let ok = false, val = 0;
        if ((sel & 0xfffc) !== 0) {
          const de = this.desc(sel);
          if (de) {
            ok = this.m.rules.larLslOk(sel, de.hi, v.cpl, isLsl); // the CPU's rule (rules.ts)
            val = isLsl ? descLimit(de.lo, de.hi) : (de.hi & 0x00f0ff00) >>> 0;
          }
        }
        if (ok) this.setRegSized(d.reg, val, osz);
        setZf(ok);
        this.done(d, isLsl ? "lsl" : "lar"); return null;
      }
    }
    if (d.op === 0x8e || d.op === 0x17 || d.op === 0x0fb2) {
      if (this.privileged(d) === null) throw new GuestFault(A.VEC_GP, 0);
      return null;
    }
    throw new FatalGuest(`sensitive instruction at ${hex(d.addr)} (opcode ${hex(d.op)}) has no emulation`);
  }

  /**
   * Linear address of `d`'s memory operand for an access of `size` bytes, with the segment checks the CPU makes
   * (null or unusable segment, rights, limit: #GP(0), #SS(0) through SS — rules.ts segAccessCheck on the real
   * segment cache, which holds the guest's descriptor).
   */
  protected operand(d: Insn, size: number, write: boolean): number {
    let ea = d.disp;
    if (d.base >= 0) ea += this.reg(d.base);
    if (d.index >= 0) ea += this.reg(d.index) * d.scale;
    ea = d.addrsize16 ? ea & 0xffff : ea >>> 0;
    const s = this.m.getSegment(SEG_NAMES[d.segment]);
    const f = this.m.rules.segAccessCheck(s.attr, s.limit, ea, size, write, d.segment === SEG.ss);
    if (f) throw new GuestFault(f.vector, f.error);
    return (s.base + ea) >>> 0;
  }
  /** a selector/MSW store: a register gets `v` at the operand size (zero-extended), memory its low 16 bits */
  private storeOperand(d: Insn, v: number, osz: number): void {
    if (d.mod === 3) this.setRegSized(d.rm, osz === 2 ? v & 0xffff : v, osz);
    else this.write16(this.operand(d, 2, true), v & 0xffff);
  }
  /** a 16-bit selector operand (lar/lsl/verr/verw) */
  private loadOperand(d: Insn): number {
    return d.mod === 3 ? this.reg(d.rm, 2) : this.read16(this.operand(d, 2, false));
  }

  /**
   * The irq_save idiom `pushf ; pop r32 ; cli` costs three exits (pushf is handed over, cli traps). After an emulated
   * pushf with the virtual IF already clear, the following `pop r32` and `cli` are emulated in the same exit:
   * with IF=0 nothing could be delivered between them natively either, so interrupt timing is unchanged. Only on a
   * flat expand-up SS (so the pop can raise nothing but the guest's #PF, at the pop's EIP, as the CPU would) and
   * without TF. (The kit kernel's boot frees every page of RAM this way with interrupts off: 16 K exits fewer.)
   */
  protected fuseIrqSave(): void {
    const v = this.v;
    if (v.vif || this.m.eflags & A.FLAG_TF) return;
    const ss = this.m.getSegment("ss");
    if (ss.base !== 0 || (ss.limit >>> 0) !== 0xffffffff || (ss.attr & 0x0c) !== 0) return;
    for (let n = 0; n < 2; n++) {
      let d: Insn;
      try { d = this.fetchInsn(); } catch { return; }
      if (d.opsize16 || d.addrsize16 || d.rep || d.lock || d.seg >= 0) return;
      if (n === 0 && d.op >= 0x58 && d.op <= 0x5f) {
        const [val] = this.peekStack(1, 4);
        this.m.esp = (this.m.esp + 4) >>> 0;
        this.setRegSized(d.op - 0x58, val);
        this.done(d, "pop (fused)");
      } else if (d.op === 0xfa && v.cpl <= v.iopl) {
        this.done(d, "cli (fused)");
        return;
      } else return;
    }
  }

  /** verr/verw: the CPU's rule (rules.ts verOk) on the guest's descriptor at the virtual CPL */
  protected verx(sel: number, write: boolean): boolean {
    if ((sel & 0xfffc) === 0) return false;
    const de = this.desc(sel);
    return de !== null && this.m.rules.verOk(sel, de.hi, this.v.cpl, write);
  }
}
