// gates.ts — far control transfers whose rules depend on privilege, emulated at the virtual CPL: CALL through
// a call gate (same level, or inward with the TSS stack and copied parameters), RETF and IRET (same level or
// outward, with the CPU's EFLAGS rules and the nulling of data segments the outer level may not use).
import { type DecodedInsn as Insn } from "../machine.ts";
import * as A from "../abi.generated.ts";
import { Reflection } from "./reflect.ts";
import { GuestFault, FL_IF, FL_IOPL, descAttr, descBase, descLimit } from "./vcpu.ts";

export abstract class GatesAndReturns extends Reflection {
  /** CALL through a 32-bit call gate (same privilege, or inward with the TSS stack and copied parameters). */
  protected callGate(d: Insn, sel: number, g: { lo: number; hi: number }, next: number): void {
    const v = this.v;
    const gdpl = (g.hi >>> 13) & 3;
    if (gdpl < v.cpl || gdpl < (sel & 3)) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    if (!(g.hi & 0x8000)) throw new GuestFault(A.VEC_NP, sel & 0xfffc);
    const tsel = g.lo >>> 16, off = ((g.lo & 0xffff) | (g.hi & 0xffff0000)) >>> 0, params = g.hi & 0x1f;
    if ((tsel & 0xfffc) === 0) throw new GuestFault(A.VEC_GP, 0);
    const td = this.desc(tsel);
    if (!td) throw new GuestFault(A.VEC_GP, tsel & 0xfffc);
    const tattr = descAttr(td.hi), tdpl = (tattr >> 5) & 3;
    if ((tattr & 0x18) !== 0x18 || tdpl > v.cpl) throw new GuestFault(A.VEC_GP, tsel & 0xfffc);
    if (!(tattr & 0x80)) throw new GuestFault(A.VEC_NP, tsel & 0xfffc);
    const oldCs = this.vsel("cs");
    if (!(tattr & 4) && tdpl < v.cpl) {
      const { esp: nesp, ss: nss } = this.tssStack(tdpl);
      const sd = this.newSs(nss, tdpl);
      const oldSs = this.vsel("ss"), oldEsp = this.m.esp >>> 0;
      const ps = this.peekStack(params, 4);
      const frame = [oldSs, oldEsp, ...ps.reverse(), oldCs, next]; // pushed in this order
      const sbase = descBase(sd.lo, sd.hi);
      let esp = nesp >>> 0;
      const bytes: number[] = [];
      for (let i = frame.length - 1; i >= 0; i--) { const x = frame[i]; bytes.push(x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24); }
      esp = (esp - bytes.length) >>> 0;
      this.writeLin((sbase + esp) >>> 0, bytes, tdpl === 3);
      v.cpl = tdpl;
      this.loadSegReal("ss", nss, sd);
      this.loadSegReal("cs", (tsel & ~3) | tdpl, td);
      this.m.esp = esp;
      this.applyMode();
    } else {
      this.push(oldCs);
      this.push(next);
      this.loadSegReal("cs", (tsel & ~3) | v.cpl, td);
    }
    this.m.eip = off;
    this.count(this.stats.emulated, "lcall gate");
    this.stats.emulatedInstructions++;
  }

  /** IRET/POPF flag rules (as the CPU: IOPL only at CPL 0, IF only at CPL <= IOPL). */
  protected applyFlags(val: number, size: number, cpl: number, iret: boolean): void {
    const cur = this.guestFlags();
    let m = 0x00000dd5 | A.FLAG_TF | A.FLAG_NT | A.FLAG_AC | A.FLAG_ID;
    if (cpl === 0) m |= FL_IOPL | (iret ? A.FLAG_VIF | A.FLAG_VIP : 0);
    if (cpl <= ((cur & FL_IOPL) >> 12)) m |= FL_IF;
    if (iret) m |= A.FLAG_RF; // IRET loads RF: it suppresses the instruction breakpoint it returns to (debug.ts)
    if (size === 2) m &= 0xffff;
    this.setGuestFlags((((cur & ~m) | (val & m)) & (iret ? ~0 : ~A.FLAG_RF)) >>> 0);
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
      const la = descAttr(ld.hi), t = la & 0x1f;
      if (t !== 0x0b && t !== 0x03) throw new GuestFault(A.VEC_TS, link & 0xfffc);
      if (!(la & 0x80)) throw new GuestFault(A.VEC_NP, link & 0xfffc);
      if (descLimit(ld.lo, ld.hi) < (t & 8 ? 0x67 : 0x2b)) throw new GuestFault(A.VEC_TS, link & 0xfffc);
      throw new GuestFault(A.VEC_GP, link & 0xfffc);
    }
    const n = iret ? 3 : 2;
    const [off, selRaw, fl] = this.peekStack(n, osz);
    const sel = selRaw & 0xffff;
    if (iret && v.cpl === 0 && osz === 4 && fl & A.FLAG_VM) throw new GuestFault(A.VEC_GP, 0);
    const rpl = sel & 3;
    if (rpl < v.cpl) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    const desc = this.codeDesc(sel, rpl, false);
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
      const sattr = descAttr(sd.hi);
      if ((nss & 3) !== rpl || (sattr & 0x18) !== 0x10 || !(sattr & 2) || ((sattr >> 5) & 3) !== rpl) throw new GuestFault(A.VEC_GP, nss & 0xfffc);
      if (!(sattr & 0x80)) throw new GuestFault(A.VEC_SS, nss & 0xfffc);
      if (iret) this.applyFlags(fl, osz, oldCpl, true);
      this.v.cpl = rpl;
      this.loadSegReal("cs", sel, desc);
      this.loadSegReal("ss", nss, sd);
      this.m.esp = (nesp + imm) >>> 0;
      this.m.eip = off;
      // data segments the new level may not use become null
      for (const s of ["es", "ds", "fs", "gs"] as const) {
        const seg = this.m.getSegment(s);
        // the guest's DPL (the real cache may hold the kernel view's DPL 3)
        let gattr = seg.attr;
        if (seg.selector & 0xfffc) { try { const gd = this.desc(seg.selector); if (gd) gattr = descAttr(gd.hi); } catch { /* keep */ } }
        const dpl = (gattr >> 5) & 3;
        const conformingCode = (gattr & 0x1c) === 0x1c;
        if ((seg.selector & 0xfffc) === 0 || (!conformingCode && dpl < rpl)) this.m.setSegment(s, { selector: 0, base: 0, limit: 0, attr: 0 });
      }
      this.applyMode();
    } else {
      if (iret) this.applyFlags(fl, osz, oldCpl, true);
      this.loadSegReal("cs", sel, desc);
      this.m.esp = esp;
      this.m.eip = off;
    }
    this.count(this.stats.emulated, iret ? "iret" : "retf");
    this.stats.emulatedInstructions++;
  }
}
