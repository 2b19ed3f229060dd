// gates.ts — far control transfers whose rules depend on privilege, emulated at the virtual CPL: CALL through
// a call gate (same level, or inward with the TSS stack and copied parameters), RETF and IRET (same level or
// outward, with the CPU's EFLAGS rules and the nulling of data segments the outer level may not use). Every
// decision is the CPU's own rule (Machine.rules = assembly/ops/rules.ts, which ops/system.ts applies too).
import { type DecodedInsn as Insn } from "../machine.ts";
import * as A from "../abi.generated.ts";
import { Reflection } from "./reflect.ts";
import { type RuleFault } from "../machine.ts";
import { GuestFault, descBase, descLimit, type GuestDesc } from "./vcpu.ts";

/** raise the fault a CPU rule (Machine.rules) reported */
function check(f: RuleFault | null): void { if (f) throw new GuestFault(f.vector, f.error); }

export abstract class GatesAndReturns extends Reflection {
  /**
   * CALL through a call gate (same privilege, or inward with the TSS stack and copied parameters), 32- or
   * 16-bit by the gate's type; every check and the privilege decision are the CPU's (rules.ts, as ops/system.ts).
   */
  protected callGate(d: Insn, sel: number, g: { lo: number; hi: number }, next: number): void {
    const v = this.v, r = this.m.rules;
    check(r.callGateCheck(sel, g.hi, v.cpl));
    const tsel = g.lo >>> 16, off = r.gateOffset(g.lo, g.hi), params = g.hi & 0x1f, gsz = r.gateSize(g.hi);
    let td: GuestDesc | null = null;
    if (tsel & 0xfffc) {
      td = this.desc(tsel);
      if (!td) throw new GuestFault(A.VEC_GP, tsel & 0xfffc);
    }
    check(r.gateTargetCheck(tsel, td?.lo ?? 0, td?.hi ?? 0, off, v.cpl, 0, false));
    const code = td as GuestDesc;
    const newCpl = r.gateTargetCpl(code.hi, v.cpl);
    const oldCs = this.vsel("cs");
    if (newCpl < v.cpl) {
      const { esp: nesp, ss: nss } = this.tssStack(newCpl);
      const sd = this.newSs(nss, newCpl);
      const oldSs = this.vsel("ss"), oldEsp = this.m.esp >>> 0;
      const ps = this.peekStack(params, gsz);
      const frame = [oldSs, oldEsp, ...ps.reverse(), oldCs, next]; // pushed in this order
      const sbase = descBase(sd.lo, sd.hi);
      let esp = nesp >>> 0;
      check(r.stackRoomCheck(descLimit(sd.lo, sd.hi), esp, frame.length * gsz, nss, (sd.hi & 0x400000) !== 0));
      const bytes: number[] = [];
      for (let i = frame.length - 1; i >= 0; i--) {
        const x = frame[i];
        bytes.push(x & 0xff, (x >>> 8) & 0xff);
        if (gsz === 4) bytes.push((x >>> 16) & 0xff, x >>> 24);
      }
      esp = (esp - bytes.length) >>> 0;
      this.writeLin((sbase + esp) >>> 0, bytes, newCpl === 3);
      v.cpl = newCpl;
      this.loadSegReal("ss", (nss & ~3) | newCpl, sd);
      this.loadSegReal("cs", (tsel & ~3) | newCpl, code);
      this.m.esp = esp;
      this.applyMode();
    } else {
      this.push(oldCs, gsz);
      this.push(next, gsz);
      this.loadSegReal("cs", (tsel & ~3) | v.cpl, code);
    }
    this.m.eip = off;
    this.count(this.counts.emulated, "lcall gate");
    this.totals.emulatedInstructions++;
  }

  /** IRET's flag rules at the CPL it ran at (rules.ts popFlags: IOPL only at CPL 0, IF only at CPL <= IOPL, …) */
  protected applyFlags(val: number, size: number, cpl: number): void {
    this.setGuestFlags(this.m.rules.popFlags(this.guestFlags(), val, size, cpl, true));
  }

  /** IRET / RETF at the virtual CPL: same-privilege or to an outer level. */
  protected farReturn(d: Insn, iret: boolean, imm: number): void {
    const v = this.v;
    const osz = d.opsize16 ? 2 : 4;
    if (iret && this.guestFlags() & A.FLAG_NT) {
      // a task return: the CPU's checks on the back link, then #GP (task switches are not implemented)
      const link = this.read32(v.tr.base, false) & 0xffff;
      if (link & 4) throw new GuestFault(A.VEC_TS, link & 0xfffc);
      const ld = this.desc(link);
      if (!ld) throw new GuestFault(A.VEC_TS, link & 0xfffc);
      check(this.m.rules.taskTargetCheck(link, ld.lo, ld.hi, true));
      throw new GuestFault(A.VEC_GP, link & 0xfffc); // not reached: the rule always reports a fault
    }
    const n = iret ? 3 : 2;
    const [off, selRaw, fl] = this.peekStack(n, osz);
    const sel = selRaw & 0xffff;
    if (iret && v.cpl === 0 && osz === 4 && fl & A.FLAG_VM) throw new GuestFault(A.VEC_GP, 0);
    const rpl = sel & 3;
    if (rpl < v.cpl) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    const desc = this.codeDesc(sel, osz === 2 ? off & 0xffff : off, false);
    const oldCpl = v.cpl;
    let esp = (this.m.esp + n * osz + imm) >>> 0;
    if (rpl > oldCpl) {
      // outer return: SS:ESP follow
      const base = this.ssBase();
      const nesp = osz === 4 ? this.read32(base + esp) : this.read16(base + esp);
      const nss = (osz === 4 ? this.read32(base + esp + osz) : this.read16(base + esp + osz)) & 0xffff;
      if ((nss & 0xfffc) === 0) throw new GuestFault(A.VEC_GP, 0);
      const sd = this.desc(nss);
      if (!sd) throw new GuestFault(A.VEC_GP, nss & 0xfffc);
      check(this.m.rules.returnSsCheck(nss, sd.hi, rpl));
      if (iret) this.applyFlags(fl, osz, oldCpl);
      this.v.cpl = rpl;
      this.loadSegReal("cs", sel, desc);
      this.loadSegReal("ss", nss, sd);
      this.m.esp = (nesp + imm) >>> 0;
      this.m.eip = off;
      // data segments the new level may not use become null: the CPU's rule on the segment caches (code and
      // data descriptors are copied exactly into the real tables, so the real caches hold the guest's DPLs)
      for (const s of ["es", "ds", "fs", "gs"] as const) {
        if (this.m.rules.nullsOnReturn(this.m.getSegment(s).attr, rpl)) this.m.setSegment(s, { selector: 0, base: 0, limit: 0, attr: 0 });
      }
      this.applyMode();
    } else {
      if (iret) this.applyFlags(fl, osz, oldCpl);
      this.loadSegReal("cs", sel, desc);
      this.m.esp = esp;
      this.m.eip = off;
    }
    this.count(this.counts.emulated, iret ? "iret" : "retf");
    this.totals.emulatedInstructions++;
  }
}
