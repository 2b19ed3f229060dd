// reflect.ts — reflection: exceptions, INT n and external interrupts delivered through the guest's own IDT as
// the CPU does it (gate checks, inward stack switch from the guest TSS with the CPU's TSS and new-SS rules,
// the virtual frame, #DF and triple-fault escalation), and external interrupt injection.
import * as A from "../abi.generated.ts";
import { GuestRangeError } from "./shadow.ts";
import { ModeSwitch } from "./mode.ts";
import { GuestFault, FatalGuest, FL_IF, descAttr, descBase, type GuestDesc, type HandleResult } from "./vcpu.ts";

export abstract class Reflection extends ModeSwitch {
  /**
   * SSn:ESPn for privilege `n` from the guest's TSS, with the CPU's rule (rules.ts tssStackSlot): a 32-bit or
   * 16-bit TSS by its type, #TS(TR selector) when TR is not present or the slot lies past the TSS limit.
   */
  protected tssStack(n: number): { ss: number; esp: number } {
    const tr = this.v.tr;
    const off = this.m.rules.tssStackSlot(tr.attr, tr.limit, n);
    if (off < 0) throw new GuestFault(A.VEC_TS, tr.sel & 0xfffc);
    const at = (tr.base + off) >>> 0;
    if (tr.attr & 8) return { esp: this.read32(at, false), ss: this.read32(at + 4, false) & 0xffff };
    const w = this.read32(at, false);
    return { esp: w & 0xffff, ss: w >>> 16 };
  }

  /** the CPU's new-SS checks (rules.ts newSsCheck) for an inward transfer to `newCpl`; returns the descriptor */
  protected newSs(sel: number, newCpl: number): GuestDesc {
    if ((sel & 0xfffc) === 0) throw new GuestFault(A.VEC_TS, 0);
    const sd = this.desc(sel);
    if (!sd) throw new GuestFault(A.VEC_TS, sel & 0xfffc);
    const f = this.m.rules.newSsCheck(sel, sd.hi, newCpl, 0);
    if (f) throw new GuestFault(f.vector, f.error);
    return sd;
  }

  /**
   * Delivers vector `vec` to the guest kernel through its IDT, as the CPU would (interrupt/trap gates, stack
   * switch from the guest TSS on a privilege change). `soft`: INT n / INT3 / INTO (gate DPL checked).
   */
  deliver(vec: number, err: number | undefined, retEip: number, soft: boolean, cr2?: number, ext = false, faultEip = retEip): void {
    const v = this.v;
    this.count(this.stats.reflected, String(vec));
    if (vec === A.VEC_PF && cr2 !== undefined) v.cr2 = cr2 >>> 0;
    this.delivering++;
    try {
      const idtErr = vec * 8 + 2 + (soft ? 0 : 1);
      if (vec * 8 + 7 > v.idtr.limit) throw new GuestFault(A.VEC_GP, idtErr);
      const lo = this.read32(v.idtr.base + vec * 8, false), hi = this.read32(v.idtr.base + vec * 8 + 4, false);
      const type = (hi >>> 8) & 0x1f, gdpl = (hi >>> 13) & 3;
      if (type !== 0x0e && type !== 0x0f && type !== 0x06 && type !== 0x07) throw new GuestFault(A.VEC_GP, idtErr);
      if (soft && gdpl < v.cpl) throw new GuestFault(A.VEC_GP, idtErr);
      if (!(hi & 0x8000)) throw new GuestFault(A.VEC_NP, idtErr);
      const gsz = type & 8 ? 4 : 2;
      const sel = lo >>> 16;
      const off = gsz === 4 ? ((lo & 0xffff) | (hi & 0xffff0000)) >>> 0 : lo & 0xffff;
      if ((sel & 0xfffc) === 0) throw new GuestFault(A.VEC_GP, 0);
      const cd = this.desc(sel);
      if (!cd) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
      const cattr = descAttr(cd.hi), cdpl = (cattr >> 5) & 3;
      if ((cattr & 0x18) !== 0x18 || cdpl > v.cpl) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
      if (!(cattr & 0x80)) throw new GuestFault(A.VEC_NP, sel & 0xfffc);
      const newCpl = cattr & 4 ? v.cpl : cdpl;
      let flags = this.guestFlags();
      // faults push RF=1 (SDM 17.3.1.1); traps, software and external interrupts do not
      if (!soft && !ext && this.m.rules.isFaultVector(vec)) flags |= A.FLAG_RF; // the CPU's rule (rules.ts)
      const oldCs = this.vsel("cs"), oldSs = this.vsel("ss"), oldEsp = this.m.esp >>> 0;
      const frame: number[] = [];
      let ssSel = oldSs, ssDesc: GuestDesc | null = null, esp = oldEsp;
      if (newCpl < v.cpl) {
        const st = this.tssStack(newCpl);
        esp = st.esp;
        ssSel = st.ss;
        ssDesc = this.newSs(ssSel, newCpl);
        frame.push(oldSs, oldEsp);
      }
      frame.push(flags, oldCs, retEip >>> 0);
      if (err !== undefined) frame.push(err);
      const ssBase = ssDesc ? descBase(ssDesc.lo, ssDesc.hi) : this.ssBase();
      const bytes: number[] = [];
      for (let i = frame.length - 1; i >= 0; i--) {
        const x = frame[i];
        if (gsz === 4) bytes.push(x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24);
        else bytes.push(x & 0xff, (x >>> 8) & 0xff);
      }
      const newEsp = (esp - bytes.length) >>> 0;
      this.writeLin((ssBase + newEsp) >>> 0, bytes, newCpl === 3);
      // commit
      if (newCpl !== v.cpl) {
        v.cpl = newCpl;
        this.loadSegReal("ss", ssSel, ssDesc);
      }
      this.loadSegReal("cs", (sel & ~3) | newCpl, cd);
      this.m.esp = newEsp;
      this.m.eip = off;
      let nf = this.guestFlags() & ~(A.FLAG_TF | A.FLAG_NT | A.FLAG_RF | A.FLAG_VM);
      if ((type & 7) === 6) nf &= ~FL_IF; // interrupt gate
      this.setGuestFlags(nf);
      this.applyMode();
    } catch (e) {
      if (!(e instanceof GuestFault)) throw e;
      this.delivering--;
      // a fault while delivering: #DF for contributory/#PF combinations, shutdown if #DF itself fails
      if (vec === A.VEC_DF) throw new FatalGuest(`triple fault: exception while delivering #DF`);
      if (this.m.rules.isDoubleFault(vec, e.vector)) {
        this.deliver(A.VEC_DF, 0, faultEip, false, undefined, true);
      } else {
        const ee = e.error !== undefined && e.vector !== A.VEC_PF && !soft ? e.error | 1 : e.error;
        this.deliver(e.vector, ee, faultEip, false, e.cr2, true);
      }
      return;
    }
    this.delivering--;
  }

  /** Injects an external interrupt (the PIC has acknowledged `vector`). */
  injectInterrupt(vector: number): void {
    this.stats.interruptsInjected++;
    this.deliver(vector, undefined, this.m.eip, false, undefined, true);
  }

  /** injectInterrupt() with the monitor's stop handling (a triple fault while delivering stops the VM) */
  injectExternal(vector: number): HandleResult {
    try { this.injectInterrupt(vector); return null; } catch (e) {
      if (e instanceof FatalGuest || e instanceof GuestRangeError) return { stop: "shutdown", message: `full mode: ${e.message}` };
      throw e;
    }
  }

  /** may an external interrupt be injected now? */
  get interruptible(): boolean { return this.v.vif && !this.stiShadow; }
}
