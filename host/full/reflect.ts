// reflect.ts — reflection: exceptions, INT n and external interrupts delivered through the guest's own IDT as
// the CPU does it (gate checks, inward stack switch from the guest TSS with the CPU's TSS and new-SS rules,
// the virtual frame, #DF and triple-fault escalation), and external interrupt injection.
import * as A from "../abi.generated.ts";
import { GuestRangeError } from "./shadow.ts";
import { ModeSwitch } from "./mode.ts";
import { type RuleFault } from "../machine.ts";
import { GuestFault, FatalGuest, descBase, descLimit, type GuestDesc, type HandleResult } from "./vcpu.ts";

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
   * switch from the guest TSS on a privilege change). `soft`: INT n / INT3 / INTO (gate DPL checked);
   * `external`: an interrupt from the PIC (no RF in its frame). Every decision — gate checks, handler checks,
   * privilege change, frame, EFLAGS, RF, #DF and triple fault — is the CPU's rule (`Machine.rules`,
   * assembly/ops/rules.ts, the one assembly/ops/interrupt.ts applies); this function does the accesses.
   */
  deliver(vec: number, err: number | undefined, retEip: number, soft: boolean, cr2?: number, external = false, faultEip = retEip): void {
    const v = this.v, r = this.m.rules;
    const ext = soft ? 0 : 1; // EXT in the error codes of faults raised while delivering
    const check = (f: RuleFault | null) => { if (f) throw new GuestFault(f.vector, f.error); };
    this.count(this.counts.reflected, String(vec));
    if (vec === A.VEC_PF && cr2 !== undefined) v.cr2 = cr2 >>> 0;
    this.delivering++;
    try {
      check(r.idtLimitCheck(vec, v.idtr.limit, ext));
      const lo = this.read32(v.idtr.base + vec * 8, false), hi = this.read32(v.idtr.base + vec * 8 + 4, false);
      check(r.idtGateCheck(vec, hi, soft, v.cpl, ext));
      const sel = lo >>> 16, off = r.gateOffset(lo, hi), gsz = r.gateSize(hi);
      let cd: GuestDesc | null = null;
      if (sel & 0xfffc) {
        cd = this.desc(sel);
        if (!cd) throw new GuestFault(A.VEC_GP, (sel & 0xfffc) | ext);
      }
      check(r.gateTargetCheck(sel, cd?.lo ?? 0, cd?.hi ?? 0, off, v.cpl, ext, false));
      const code = cd as GuestDesc;
      const newCpl = r.gateTargetCpl(code.hi, v.cpl);
      let flags = this.guestFlags();
      if (r.framePushesRf(vec, soft, external)) flags |= A.FLAG_RF;
      const oldCs = this.vsel("cs"), oldSs = this.vsel("ss"), oldEsp = this.m.esp >>> 0;
      const inward = newCpl < v.cpl;
      const frame: number[] = [];
      let ssSel = oldSs, ssDesc: GuestDesc | null = null, esp = oldEsp;
      if (inward) {
        const st = this.tssStack(newCpl);
        esp = st.esp;
        ssSel = st.ss;
        ssDesc = this.newSs(ssSel, newCpl);
        frame.push(oldSs, oldEsp);
      }
      frame.push(flags, oldCs, retEip >>> 0);
      if (err !== undefined) frame.push(err);
      const size = r.deliveryFrameSize(hi, inward, err !== undefined);
      if (ssDesc) check(r.stackRoomCheck(descLimit(ssDesc.lo, ssDesc.hi), esp, size, ssSel | ext, (ssDesc.hi & 0x400000) !== 0));
      else { const ss = this.m.getSegment("ss"); check(r.stackRoomCheck(ss.limit, esp, size, ext, (ss.attr & 0x4000) !== 0)); }
      const ssBase = ssDesc ? descBase(ssDesc.lo, ssDesc.hi) : this.ssBase();
      const bytes: number[] = [];
      for (let i = frame.length - 1; i >= 0; i--) {
        const x = frame[i];
        if (gsz === 4) bytes.push(x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24);
        else bytes.push(x & 0xff, (x >>> 8) & 0xff);
      }
      if (bytes.length !== size) throw new Error(`full mode: interrupt frame of ${bytes.length} bytes, the CPU pushes ${size}`);
      const newEsp = (esp - size) >>> 0;
      this.writeLin((ssBase + newEsp) >>> 0, bytes, newCpl === 3);
      // commit
      if (newCpl !== v.cpl) {
        v.cpl = newCpl;
        this.loadSegReal("ss", ssSel, ssDesc);
      }
      this.loadSegReal("cs", (sel & ~3) | newCpl, code);
      this.m.esp = newEsp;
      this.m.eip = off;
      this.setGuestFlags(r.deliveryFlags(flags, hi));
      this.applyMode();
    } catch (e) {
      if (!(e instanceof GuestFault)) throw e;
      this.delivering--;
      // a fault while delivering: #DF for contributory/#PF combinations, a triple fault if #DF itself fails
      const next = r.escalation(vec, e.vector, soft);
      if (next < 0) throw new FatalGuest(`triple fault: exception while delivering #DF`);
      if (next === A.VEC_DF && e.vector !== A.VEC_DF) {
        this.deliver(A.VEC_DF, 0, faultEip, false);
      } else {
        const ee = e.error !== undefined && e.vector !== A.VEC_PF && !soft ? e.error | 1 : e.error;
        this.deliver(e.vector, ee, faultEip, false, e.cr2);
      }
      return;
    }
    this.delivering--;
  }

  /** Injects an external interrupt (the PIC has acknowledged `vector`). */
  injectInterrupt(vector: number): void {
    this.totals.interruptsInjected++;
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
