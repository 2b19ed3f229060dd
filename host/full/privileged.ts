// privileged.ts — trap and emulate: the privileged instructions that fault (#GP) at the real CPL 3, emulated
// against the virtual CPU (cli/sti/hlt, I/O with the TSS bitmap, descriptor-table and control/debug-register
// instructions, MSRs, segment loads, far jmp), and the fused runs of segment loads.
import { type DecodedInsn as Insn, type SegName } from "../machine.ts";
import * as A from "../abi.generated.ts";
import { PageTableWrites } from "./ptwrite.ts";
import { GuestFault, FatalGuest, SEG, hex, descAttr, descBase, descLimit, type HandleResult } from "./vcpu.ts";

export abstract class PrivilegedInsns extends PageTableWrites {
  protected generalProtection(err: number, insn?: Insn): HandleResult {
    const d = insn ?? this.fetchInsn();
    this.fusedFault = null;
    const name = this.privileged(d);
    if (name === null) {
      this.count(this.counts.exits, "#GP reflected");
      this.deliver(A.VEC_GP, err, this.m.eip, false);
      return null;
    }
    this.count(this.counts.exits, name);
    if (this.fusedFault) { const f = this.fusedFault; this.fusedFault = null; throw f; }
    return this.lastResult;
  }

  /** a guest fault raised by an instruction emulated in the same exit as the one that trapped (at its EIP) */
  protected fusedFault: GuestFault | null = null;
  /**
   * Segment-register reloads come in runs (a trap entry loads DS, ES, FS and GS with the kernel data selector
   * one after another): after a trapped `mov sreg` is emulated, the directly following `mov ds/es/fs/gs, r/m16`
   * are emulated in the same exit, each with the full checks at the virtual CPL against the guest's own
   * descriptor (exactly what the trapping path does for each, so nothing the guest can observe changes: a
   * fault on one is raised at its EIP after the earlier ones completed, as the CPU would). One exit instead of
   * four per kernel entry. Interrupts are only ever injected between exits, so none is held back longer than
   * a few instructions; not with TF set (each instruction must trap).
   */
  protected fuseSegLoads(): void {
    const names: SegName[] = ["es", "cs", "ss", "ds", "fs", "gs"];
    for (let n = 0; n < 5; n++) {
      if (this.m.eflags & A.FLAG_TF) return;
      let d: Insn;
      try { d = this.fetchInsn(); } catch { return; }
      if (d.op !== 0x8e || d.rep || d.lock || d.reg === 1 || d.reg === 2 || d.reg > 5) return;
      try {
        this.loadDataSeg(names[d.reg], this.rmRead(d, 2));
      } catch (e) {
        if (e instanceof GuestFault) { this.fusedFault = e; return; }
        throw e;
      }
      this.done(d, `mov ${names[d.reg]} (fused)`);
    }
  }

  protected lastResult: HandleResult = null;
  protected needCpl0(): void { if (this.v.cpl !== 0) throw new GuestFault(A.VEC_GP, 0); }
  /** the I/O permission bitmap of the guest TSS at CPL > IOPL, with the CPU's rules (rules.ts, as ops/io.ts) */
  protected ioAllowed(port: number, size: number): boolean {
    if (this.v.cpl <= this.v.iopl) return true;
    const tr = this.v.tr, r = this.m.rules;
    const mb = r.ioMapBaseSlot(tr.attr, tr.limit);
    if (mb < 0) return false;
    const slot = r.ioBitmapSlot(this.read16(tr.base + mb, false), port, tr.limit);
    if (slot < 0) return false;
    return r.ioBitsAllow(this.read16(tr.base + slot, false), port, size);
  }

  /** Emulates a privileged instruction that trapped with #GP; returns its name, or null if not one (reflect). */
  protected privileged(d: Insn): string | null {
    this.lastResult = null;
    const v = this.v;
    const osz = d.opsize16 ? 2 : 4;
    switch (d.op) {
      case 0xfa: case 0xfb:
        if (v.cpl > v.iopl) return null;
        if (d.op === 0xfb && !v.vif) this.stiShadow = true;
        v.vif = d.op === 0xfb;
        return this.done(d, d.op === 0xfa ? "cli" : "sti");
      case 0xf4:
        this.needCpl0();
        this.done(d, "hlt");
        if (!v.vif) { this.lastResult = { stop: "halted", message: `guest halted with interrupts disabled (hlt at eip ${hex(d.addr)})` }; return "hlt"; }
        this.lastResult = { hlt: true };
        return "hlt";
      case 0xe4: case 0xe5: case 0xec: case 0xed: {
        const size = (d.op & 1 ? osz : 1) as 1 | 2 | 4;
        const port = d.op < 0xe8 ? d.imm & 0xff : this.reg(2, 2);
        if (!this.ioAllowed(port, size)) return null;
        this.setRegSized(0, this.io.ioRead(port, size), size);
        return this.done(d, "in");
      }
      case 0xe6: case 0xe7: case 0xee: case 0xef: {
        const size = (d.op & 1 ? osz : 1) as 1 | 2 | 4;
        const port = d.op < 0xe8 ? d.imm & 0xff : this.reg(2, 2);
        if (!this.ioAllowed(port, size)) return null;
        this.io.ioWrite(port, size, this.reg(0, size));
        return this.done(d, "out");
      }
      case 0x6c: case 0x6d: case 0x6e: case 0x6f: {
        const size = (d.op & 1 ? osz : 1) as 1 | 2 | 4;
        const port = this.reg(2, 2);
        if (!this.ioAllowed(port, size)) return null;
        const isIn = d.op < 0x6e;
        const step = this.m.eflags & A.FLAG_DF ? -size : size;
        const amask = d.addrsize16 ? 0xffff : 0xffffffff;
        let count = d.rep ? this.reg(1, d.addrsize16 ? 2 : 4) : 1;
        // at most one REP unit per exit, then the guest re-executes the instruction (ECX/ESI/EDI hold the
        // progress), as the CPU's own REP units: budgets, interrupts and time apply inside a 4G-element rep ins
        let unit = A.REP_UNIT_ITERATIONS;
        while (count > 0 && unit-- > 0) {
          if (isIn) {
            const di = this.reg(7) & amask;
            const a = (this.segBase(SEG.es) + di) >>> 0;
            // translate first so a fault leaves the port unread
            this.translateAny(a, true, v.cpl === 3);
            const val = this.io.ioRead(port, size);
            this.writeLin(a, [val & 0xff, (val >>> 8) & 0xff, (val >>> 16) & 0xff, val >>> 24].slice(0, size));
            this.setRegSized(7, (di + step) & amask, d.addrsize16 ? 2 : 4);
          } else {
            const si = this.reg(6) & amask;
            const a = (this.segBase(d.seg >= 0 ? d.seg : SEG.ds) + si) >>> 0;
            const b = this.readLin(a, size);
            this.io.ioWrite(port, size, (b[0] | ((b[1] ?? 0) << 8) | ((b[2] ?? 0) << 16) | ((b[3] ?? 0) << 24)) >>> 0);
            this.setRegSized(6, (si + step) & amask, d.addrsize16 ? 2 : 4);
          }
          count--;
          if (d.rep) this.setRegSized(1, count, d.addrsize16 ? 2 : 4);
        }
        if (count > 0) {
          // an unfinished unit retires as one instruction, as on the CPU (assembly/ops/string.ts); EIP stays
          this.count(this.counts.emulated, isIn ? "ins (unit)" : "outs (unit)");
          this.totals.emulatedInstructions++;
          return isIn ? "ins" : "outs";
        }
        return this.done(d, isIn ? "ins" : "outs");
      }
      case 0x0f01: {
        if (d.mod === 3) {
          if (d.reg === 6) { this.needCpl0(); this.lmsw(this.reg(d.rm, 2)); return this.done(d, "lmsw"); }
          return null;
        }
        if (d.reg === 2 || d.reg === 3) {
          this.needCpl0();
          const a = this.lin(d);
          const limit = this.read16(a);
          let base = this.read32(a + 2);
          if (d.opsize16) base &= 0xffffff;
          if (d.reg === 2) { v.gdtr = { base, limit }; this.syncTables(); return this.done(d, "lgdt"); }
          v.idtr = { base, limit };
          return this.done(d, "lidt");
        }
        if (d.reg === 7) { this.needCpl0(); this.shadow.invlpg(this.lin(d)); return this.done(d, "invlpg"); }
        if (d.reg === 6) { this.needCpl0(); this.lmsw(this.rmRead(d, 2)); return this.done(d, "lmsw"); }
        return null;
      }
      case 0x0f00: {
        if (d.reg !== 2 && d.reg !== 3) return null;
        this.needCpl0();
        const sel = this.rmRead(d, 2);
        if (d.reg === 2) { this.lldt(sel); return this.done(d, "lldt"); }
        this.ltr(sel);
        return this.done(d, "ltr");
      }
      case 0x0f20: case 0x0f22: {
        this.needCpl0();
        if (d.op === 0x0f20) {
          const val = [v.cr0, 0, v.cr2, v.cr3, v.cr4][d.reg];
          if (d.reg === 1 || d.reg > 4) throw new GuestFault(A.VEC_UD);
          this.setRegSized(d.rm, val);
          return this.done(d, `mov from cr${d.reg}`);
        }
        this.movToCr(d.reg, this.reg(d.rm));
        return this.done(d, `mov to cr${d.reg}`);
      }
      case 0x0f21: case 0x0f23: {
        this.needCpl0();
        const n = d.reg === 4 ? 6 : d.reg === 5 ? 7 : d.reg;
        // the debug registers live in the real state block, where the CPU arms them (assembly/debug.ts);
        // DR7.GD: the access is a #DB fault with DR6.BD, and GD is cleared (SDM 17.2.4)
        const dr7 = this.m.getDr(7);
        if (dr7 & 0x2000) { this.m.setDr(7, dr7 & ~0x2000); this.m.setDr(6, this.m.getDr(6) | 0x2000); throw new GuestFault(A.VEC_DB); }
        if (d.op === 0x0f21) { this.setRegSized(d.rm, this.m.getDr(n)); return this.done(d, "mov from dr"); }
        let val = this.reg(d.rm);
        if (n === 6) val = ((val & 0xe00f) | 0xffff0ff0) >>> 0; // fixed bits, as the CPU's MOV DR6/DR7
        if (n === 7) val = ((val & 0xffff2bff) | 0x400) >>> 0;
        this.m.setDr(n, val);
        return this.done(d, "mov to dr");
      }
      case 0x0f06: this.needCpl0(); v.cr0 = (v.cr0 & ~A.CR0_TS) >>> 0; this.applyCr0(); return this.done(d, "clts");
      case 0x0f08: case 0x0f09: this.needCpl0(); return this.done(d, "wbinvd");
      case 0x0f30: this.needCpl0(); throw new GuestFault(A.VEC_GP, 0); // no writable MSR
      case 0x0f32: {
        this.needCpl0();
        if (this.reg(1) !== 0x10) throw new GuestFault(A.VEC_GP, 0);
        const t = this.tsc;
        this.setRegSized(0, t >>> 0); this.setRegSized(2, Math.floor(t / 2 ** 32));
        return this.done(d, "rdmsr");
      }
      case 0x0f31: {
        this.needCpl0();
        const t = this.tsc;
        this.setRegSized(0, t >>> 0); this.setRegSized(2, Math.floor(t / 2 ** 32));
        return this.done(d, "rdtsc");
      }
      case 0x8e: case 0x17: case 0x0fb2: {
        // a segment load that faulted: maybe the real table was stale; else the SS RPL rule at virtual CPL 0
        if (this.syncTables()) { this.count(this.counts.emulated, "gdt resync"); return "gdt resync"; }
        if (d.op === 0x8e) {
          const names: SegName[] = ["es", "cs", "ss", "ds", "fs", "gs"];
          if (d.reg === 1 || d.reg > 5) return null;
          this.loadDataSeg(names[d.reg], this.rmRead(d, 2));
          const r = this.done(d, `mov ${names[d.reg]}`);
          if (d.reg !== 2) this.fuseSegLoads();
          return r;
        }
        if (d.op === 0x17) {
          const [sel] = this.peekStack(1, osz);
          this.loadDataSeg("ss", sel & 0xffff);
          this.m.esp = (this.m.esp + osz) >>> 0;
          return this.done(d, "pop ss");
        }
        const a = this.lin(d);
        const off = osz === 4 ? this.read32(a) : this.read16(a);
        const sel = this.read16(a + osz);
        this.loadDataSeg("ss", sel);
        this.setRegSized(d.reg, off, osz);
        return this.done(d, "lss");
      }
      case 0xc4: case 0xc5: case 0x0fb4: case 0x0fb5: {
        // far-pointer loads into ES/DS/FS/GS that trapped (a DPL < 3 descriptor at real CPL 3)
        if (d.mod === 3) return null;
        if (this.syncTables()) { this.count(this.counts.emulated, "gdt resync"); return "gdt resync"; }
        if (v.cpl === 3) return null;
        const name: SegName = d.op === 0xc4 ? "es" : d.op === 0xc5 ? "ds" : d.op === 0x0fb4 ? "fs" : "gs";
        const a = this.lin(d);
        const off = osz === 4 ? this.read32(a) : this.read16(a);
        const sel = this.read16(a + osz);
        this.loadDataSeg(name, sel);
        this.setRegSized(d.reg, off, osz);
        return this.done(d, `l${name}`);
      }
      case 0x1f: case 0x07: case 0x0fa1: case 0x0fa9: {
        if (this.syncTables()) { this.count(this.counts.emulated, "gdt resync"); return "gdt resync"; }
        if (v.cpl === 3) return null;
        const name: SegName = d.op === 0x1f ? "ds" : d.op === 0x07 ? "es" : d.op === 0x0fa1 ? "fs" : "gs";
        const [sel] = this.peekStack(1, osz);
        this.loadDataSeg(name, sel & 0xffff);
        this.m.esp = (this.m.esp + osz) >>> 0;
        return this.done(d, `pop ${name}`);
      }
      case 0xea: case 0xff: {
        // far jmp to a kernel code segment (DPL < 3 in the real GDT): same privilege only
        if (d.op === 0xff && (d.reg !== 5 || d.mod === 3)) return null;
        if (v.cpl === 3) return null;
        let off: number, sel: number;
        if (d.op === 0xea) { off = d.imm; sel = d.imm2; } else {
          const a = this.lin(d);
          off = osz === 4 ? this.read32(a) : this.read16(a);
          sel = this.read16(a + osz);
        }
        const g = (sel & 0xfffc) ? this.desc(sel) : null;
        const t = g ? (g.hi >>> 8) & 0x1f : 0;
        if (g && (t === 0x0c || t === 0x04)) { this.jmpGate(sel, g); return "ljmp gate"; }
        if (g && !(g.hi & 0x1000)) return null; // TSS / task gates: the CPU's own checks already ran (DPL 3 copy)
        const desc = this.codeDesc(sel, osz === 2 ? off & 0xffff : off, true);
        this.loadSegReal("cs", (sel & ~3) | v.cpl, desc);
        this.count(this.counts.emulated, "ljmp");
        this.totals.emulatedInstructions++;
        this.m.eip = off;
        return "ljmp";
      }
    }
    return null;
  }

  /**
   * JMP through a call gate (16- or 32-bit) at virtual CPL 0-2: the real CPU at CPL 3 rejected the kernel's target
   * (DPL < 3); same privilege only, with the CPU's rules (rules.ts callGateCheck, gateTargetCheck for a JMP).
   */
  protected jmpGate(sel: number, g: { lo: number; hi: number }): void {
    const v = this.v, r = this.m.rules;
    let f = r.callGateCheck(sel, g.hi, v.cpl);
    if (f) throw new GuestFault(f.vector, f.error);
    const tsel = g.lo >>> 16, off = r.gateOffset(g.lo, g.hi);
    let td = null;
    if (tsel & 0xfffc) {
      td = this.desc(tsel);
      if (!td) throw new GuestFault(A.VEC_GP, tsel & 0xfffc);
    }
    f = r.gateTargetCheck(tsel, td?.lo ?? 0, td?.hi ?? 0, off, v.cpl, 0, true);
    if (f) throw new GuestFault(f.vector, f.error);
    this.loadSegReal("cs", (tsel & ~3) | v.cpl, td);
    this.m.eip = off;
    this.count(this.counts.emulated, "ljmp gate");
    this.totals.emulatedInstructions++;
  }

  protected lmsw(src: number): void {
    const v = this.v;
    v.cr0 = ((v.cr0 & ~0xe) | (src & 0xf) | (v.cr0 & 1)) >>> 0;
    this.applyCr0();
  }

  protected movToCr(n: number, val: number): void {
    const v = this.v;
    val >>>= 0;
    switch (n) {
      case 0: {
        if ((val & A.CR0_PG) && !(val & A.CR0_PE)) throw new GuestFault(A.VEC_GP, 0);
        if ((val & A.CR0_NW) && !(val & A.CR0_CD)) throw new GuestFault(A.VEC_GP, 0);
        if (!(val & A.CR0_PE)) throw new FatalGuest("the guest left protected mode (CR0.PE=0): real mode is not supported");
        const old = v.cr0;
        v.cr0 = (val | A.CR0_ET) >>> 0;
        if ((old ^ v.cr0) & (A.CR0_PG | A.CR0_WP)) { this.shadow.flushAll(); }
        this.applyCr0();
        this.applyMode();
        return;
      }
      case 2:
        v.cr2 = val;
        return;
      case 3:
        v.cr3 = val;
        this.applyMode();
        return;
      case 4: {
        if (val & ~0x1ff & ~0x600) throw new GuestFault(A.VEC_GP, 0);
        const old = v.cr4;
        v.cr4 = val;
        if ((old ^ val) & (A.CR4_PSE | A.CR4_PGE)) { this.shadow.flushAll(); this.applyMode(); }
        this.applyCr0();
        return;
      }
      default:
        throw new GuestFault(A.VEC_UD);
    }
  }

  protected lldt(sel: number): void {
    if ((sel & 0xfffc) === 0) { this.v.ldtr = { sel, base: 0, limit: 0, attr: 0 }; this.syncTables(); return; }
    const r = this.m.rules;
    let f = r.sysSelCheck(sel);
    if (f) throw new GuestFault(f.vector, f.error);
    const d = this.desc(sel);
    if (!d) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    f = r.sysDescCheck(sel, d.hi, false); // the CPU's rules (rules.ts), as ops/system.ts lldt
    if (f) throw new GuestFault(f.vector, f.error);
    const attr = descAttr(d.hi);
    this.v.ldtr = { sel, base: descBase(d.lo, d.hi), limit: descLimit(d.lo, d.hi), attr };
    this.syncTables();
  }

  protected ltr(sel: number): void {
    if ((sel & 0xfffc) === 0) throw new GuestFault(A.VEC_GP, 0);
    const r = this.m.rules;
    let f = r.sysSelCheck(sel);
    if (f) throw new GuestFault(f.vector, f.error);
    const d = this.desc(sel);
    if (!d) throw new GuestFault(A.VEC_GP, sel & 0xfffc);
    f = r.sysDescCheck(sel, d.hi, true); // the CPU's rules (rules.ts), as ops/system.ts ltr
    if (f) throw new GuestFault(f.vector, f.error);
    const attr = descAttr(d.hi);
    this.write32(d.addr + 4, d.hi | 0x200, false);
    this.v.tr = { sel, base: descBase(d.lo, d.hi), limit: descLimit(d.lo, d.hi), attr: attr | 2 };
    this.syncTables();
  }
}
