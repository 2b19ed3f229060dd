import { describe, expect, it } from "vitest";
import { DM_EXTINT, LAPIC_REG as R, LocalApic, LVT_MASKED } from "../../host/devices/lapic.ts";

function make(ext?: { peek(): number; acknowledge(): number }) {
  const eois: number[] = [];
  const a = new LocalApic({ extInt: ext, onEoi: (v) => eois.push(v) });
  const w = (reg: number, v: number) => a.write(reg, 4, v);
  const r = (reg: number) => a.read(reg, 4);
  return { a, w, r, eois };
}

describe("local APIC registers (SDM 10.4)", () => {
  it("reset state: ID 0, version 14h with 6 LVT entries, enabled with spurious vector FFh, virtual wire LINT0/LINT1", () => {
    const { r } = make();
    expect(r(R.ID)).toBe(0);
    expect(r(R.VER)).toBe(0x00050014);
    expect(r(R.SVR)).toBe(0x1ff);
    expect(r(R.LVT_LINT0)).toBe(DM_EXTINT << 8);
    expect(r(R.LVT_LINT1)).toBe(0x400);
    expect(r(R.LVT_TIMER)).toBe(LVT_MASKED);
    expect(r(R.DFR)).toBe(0xffffffff);
  });

  it("ID and LDR are writable; read-only registers count writes", () => {
    const { a, w, r } = make();
    w(R.ID, 0x05000000);
    expect(r(R.ID)).toBe(0x05000000);
    w(R.VER, 0);
    w(R.PPR, 0xff);
    expect(r(R.VER)).toBe(0x00050014);
    expect(a.errors.get("read-only")).toBe(2);
  });

  it("reserved register: ESR bit 7 once latched by an ESR write", () => {
    const { a, w, r } = make();
    w(0x2f0, 1); // CMCI: not offered (max LVT 5)
    expect(r(R.ESR)).toBe(0);
    w(R.ESR, 0);
    expect(r(R.ESR)).toBe(0x80);
    w(R.ESR, 0);
    expect(r(R.ESR)).toBe(0);
    expect(a.errors.get("bad-register")).toBe(1);
  });

  it("partial-width accesses are counted, never fatal", () => {
    const { a, w } = make();
    expect(a.read(R.SVR, 1)).toBe(0xff);
    expect(a.read(R.SVR + 1, 1)).toBe(0x01);
    w(R.TPR, 0x20);
    a.write(R.TPR, 1, 0x30);
    expect(a.tpr).toBe(0x30);
    expect(a.errors.get("access-width")).toBe(3);
  });
});

describe("local APIC interrupt acceptance, priority and EOI (SDM 10.8)", () => {
  it("fixed interrupts: highest IRR first, IRR→ISR at INTA, EOI clears the highest ISR", () => {
    const { a, w } = make();
    a.accept(0x31, false);
    a.accept(0x52, false);
    expect(a.peek()).toBe(0x52);
    expect(a.acknowledge()).toBe(0x52);
    // 0x31 is a lower class than the in-service 0x52: held back
    expect(a.peek()).toBe(-1);
    expect(a.ppr).toBe(0x50);
    w(R.EOI, 0);
    expect(a.peek()).toBe(0x31);
  });

  it("same priority class waits for the EOI", () => {
    const { a, w } = make();
    a.accept(0x40, false);
    expect(a.acknowledge()).toBe(0x40);
    a.accept(0x45, false);
    expect(a.peek()).toBe(-1);
    w(R.EOI, 0);
    expect(a.peek()).toBe(0x45);
  });

  it("TPR masks classes at or below it; PPR follows TPR and the ISR", () => {
    const { a, w, r } = make();
    w(R.TPR, 0x50);
    a.accept(0x5f, false);
    expect(a.peek()).toBe(-1);
    expect(r(R.PPR)).toBe(0x50);
    w(R.TPR, 0x4f);
    expect(a.peek()).toBe(0x5f);
  });

  it("a request that is masked by TPR between peek and INTA yields the spurious vector", () => {
    const { a, w } = make();
    a.accept(0x30, false);
    w(R.TPR, 0x30);
    expect(a.acknowledge()).toBe(0xff);
    expect(a.stats.spurious).toBe(1);
  });

  it("level-triggered vectors set TMR and broadcast their EOI", () => {
    const { a, w, r, eois } = make();
    a.accept(0x61, true);
    expect(r(R.TMR + 0x30) & 2).toBe(2);
    a.acknowledge();
    w(R.EOI, 0);
    expect(eois).toEqual([0x61]);
    a.accept(0x62, false);
    a.acknowledge();
    w(R.EOI, 0);
    expect(eois).toEqual([0x61]);
  });

  it("illegal vectors (< 16) set ESR 'receive illegal vector' and raise the error LVT", () => {
    const { a, w, r } = make();
    w(R.LVT_ERROR, 0xfe);
    a.accept(3, false);
    expect(a.peek()).toBe(0xfe);
    w(R.ESR, 0);
    expect(r(R.ESR)).toBe(0x40);
  });

  it("software disable masks every LVT and keeps them masked; no fixed delivery while disabled", () => {
    const { a, w, r } = make();
    a.accept(0x80, false);
    w(R.SVR, 0xff);
    expect(a.peek()).toBe(-1);
    expect(r(R.LVT_LINT0) & LVT_MASKED).toBe(LVT_MASKED);
    w(R.LVT_TIMER, 0x20);
    expect(r(R.LVT_TIMER)).toBe(LVT_MASKED | 0x20);
    w(R.SVR, 0x1ff);
    expect(a.peek()).toBe(0x80);
  });

  it("ExtINT through LINT0 passes the 8259's vector (and INTA) while unmasked", () => {
    let pending = 0x20, acks = 0;
    const { a, w } = make({ peek: () => pending, acknowledge: () => { acks++; const v = pending; pending = -1; return v; } });
    a.accept(0x90, false);
    expect(a.peek()).toBe(0x20); // ExtINT first
    expect(a.acknowledge()).toBe(0x20);
    expect(acks).toBe(1);
    expect(a.peek()).toBe(0x90);
    pending = 0x21;
    w(R.LVT_LINT0, LVT_MASKED | 0x700);
    expect(a.peek()).toBe(0x90);
  });
});

describe("local APIC timer (SDM 10.5.4)", () => {
  it("one-shot: counts down at bus/divide, fires once, current count stays 0", () => {
    const { a, w, r } = make();
    w(R.TIMER_DCR, 0x0); // divide by 2
    w(R.LVT_TIMER, 0x30);
    w(R.TIMER_ICR, 100);
    expect(a.nextEventTicks()).toBe(200);
    a.advance(50);
    expect(r(R.TIMER_CCR)).toBe(75);
    a.advance(150);
    expect(a.peek()).toBe(0x30);
    expect(r(R.TIMER_CCR)).toBe(0);
    expect(a.nextEventTicks()).toBe(Infinity);
  });

  it("periodic: reloads; expiries skipped in one step coalesce into one request", () => {
    const { a, w, r } = make();
    w(R.TIMER_DCR, 0xb); // divide by 1
    w(R.LVT_TIMER, 0x20000 | 0x31);
    w(R.TIMER_ICR, 1000);
    a.advance(1000);
    expect(a.stats.timerFired).toBe(1);
    expect(a.acknowledge()).toBe(0x31);
    w(R.EOI, 0);
    a.advance(2500);
    expect(a.stats.timerFired).toBe(2);
    expect(r(R.TIMER_CCR)).toBe(500);
    expect(a.nextEventTicks()).toBe(Infinity); // 0x31 still pending: the next expiry would change nothing
    a.acknowledge();
    expect(a.nextEventTicks()).toBe(500);
  });

  it("divide configuration values (Figure 10-10)", () => {
    const { a, w } = make();
    w(R.LVT_TIMER, 0x31);
    const cases: [number, number][] = [[0x0, 2], [0x1, 4], [0x2, 8], [0x3, 16], [0x8, 32], [0x9, 64], [0xa, 128], [0xb, 1]];
    for (const [dcr, div] of cases) {
      w(R.TIMER_DCR, dcr);
      w(R.TIMER_ICR, 10);
      expect(a.nextEventTicks()).toBe(10 * div);
    }
  });

  it("masked timer keeps counting without requesting; ICR 0 stops it", () => {
    const { a, w } = make();
    w(R.TIMER_DCR, 0xb);
    w(R.LVT_TIMER, LVT_MASKED | 0x20000 | 0x31);
    w(R.TIMER_ICR, 10);
    a.advance(25);
    expect(a.peek()).toBe(-1);
    expect(a.stats.timerFired).toBe(1);
    w(R.TIMER_ICR, 0);
    expect(a.nextEventTicks()).toBe(Infinity);
  });
});

describe("local APIC ICR (SDM 10.6)", () => {
  it("self IPI (shorthand 01) and physical destination = own ID deliver fixed vectors", () => {
    const { a, w } = make();
    w(R.ICR_LO, 0x40000 | 0x50);
    expect(a.peek()).toBe(0x50);
    w(R.ICR_HI, 0);
    w(R.ICR_LO, 0x61);
    expect(a.acknowledge()).toBe(0x61);
  });

  it("INIT/STARTUP to other APICs and 'all excluding self' go nowhere (counted); delivery status idle", () => {
    const { a, w, r } = make();
    w(R.ICR_HI, 0x01000000);
    w(R.ICR_LO, 0x4500); // INIT, assert
    w(R.ICR_LO, 0x0600 | 0x08); // STARTUP at 0x8000
    w(R.ICR_LO, 0xc0000 | 0x4500); // all excluding self
    expect(a.stats.ipiIgnored).toBe(3);
    expect(r(R.ICR_LO) & 0x1000).toBe(0);
    expect(a.peek()).toBe(-1);
    w(R.ICR_LO, 0x88500); // INIT level de-assert (xv6's lapicinit)
    expect(a.stats.initDeassert).toBe(1);
  });

  it("IPI with an illegal vector sets ESR 'send illegal vector'", () => {
    const { w, r } = make();
    w(R.ICR_LO, 0x40000 | 0x05);
    w(R.ESR, 0);
    expect(r(R.ESR)).toBe(0x20);
  });

  it("logical destinations: flat and cluster models", () => {
    const { a, w } = make();
    w(R.LDR, 0x04000000);
    expect(a.matches(1, 0x04)).toBe(true);
    expect(a.matches(1, 0x03)).toBe(false);
    w(R.DFR, 0x0fffffff); // cluster
    w(R.LDR, 0x21000000);
    expect(a.matches(1, 0x21)).toBe(true);
    expect(a.matches(1, 0x11)).toBe(false);
    expect(a.matches(0, 0)).toBe(true);
    expect(a.matches(0, 0xff)).toBe(true);
    expect(a.matches(0, 1)).toBe(false);
  });
});

describe("local APIC timer deadlines", () => {
  it("no deadline while the timer is masked or its vector is still pending (a halted guest cannot spin)", () => {
    const { a, w, r } = make();
    w(R.TIMER_DCR, 0xb);
    w(R.LVT_TIMER, LVT_MASKED | 0x20000 | 0x31);
    w(R.TIMER_ICR, 1);
    expect(a.nextEventTicks()).toBe(Infinity);
    a.advance(1_000_000_007);
    expect(r(R.TIMER_CCR)).toBe(1);
    w(R.LVT_TIMER, 0x20000 | 0x31);
    expect(a.nextEventTicks()).toBe(1);
    a.advance(1);
    expect(a.peek()).toBe(0x31);
    expect(a.nextEventTicks()).toBe(Infinity);
    a.acknowledge();
    expect(a.nextEventTicks()).toBe(1);
  });
});
