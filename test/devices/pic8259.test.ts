import { describe, expect, it } from "vitest";
import { Pic8259Pair } from "../../host/devices/pic8259.ts";

/** The PC BIOS/Linux initialisation: ICW1 11h (edge, cascade, ICW4), ICW2 base, ICW3, ICW4 01h (8086). */
function make(masterBase = 0x20, slaveBase = 0x28) {
  const intr: boolean[] = [];
  const pic = new Pic8259Pair({ intr: (l) => intr.push(l) });
  const m = pic.master, s = pic.slave;
  m.write(0, 1, 0x11); m.write(1, 1, masterBase); m.write(1, 1, 0x04); m.write(1, 1, 0x01);
  s.write(0, 1, 0x11); s.write(1, 1, slaveBase); s.write(1, 1, 0x02); s.write(1, 1, 0x01);
  const readIrr = (c: typeof m) => { c.write(0, 1, 0x0a); return c.read(0, 1); };
  const readIsr = (c: typeof m) => { c.write(0, 1, 0x0b); return c.read(0, 1); };
  return { pic, m, s, intr, readIrr, readIsr };
}

describe("8259A initialisation", () => {
  it("ICW1-ICW4 sequence sets vector bases; IMR clear after ICW1; OCW1 masks", () => {
    const { pic, m, s } = make(0x08, 0x70);
    expect(m.vectorBase).toBe(0x08);
    expect(s.vectorBase).toBe(0x70);
    expect(m.icw3).toBe(0x04);
    expect(s.icw3).toBe(0x02);
    expect(m.read(1, 1)).toBe(0x00);
    m.write(1, 1, 0xfb);
    expect(m.read(1, 1)).toBe(0xfb);
    pic.setIrq(0, true);
    expect(pic.hasInterrupt()).toBe(false); // masked
    m.write(1, 1, 0xfa);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x08);
  });

  it("ICW2 low three bits are ignored in 8086 mode", () => {
    const { m } = make(0x27);
    expect(m.vectorBase).toBe(0x20);
  });

  it("single mode (ICW1.SNGL) skips ICW3; no ICW4 clears AEOI", () => {
    const pic = new Pic8259Pair();
    const m = pic.master;
    m.write(0, 1, 0x13); m.write(1, 1, 0x40); m.write(1, 1, 0x03); // ICW1 single+IC4, ICW2, ICW4 (AEOI)
    expect(m.autoEoi).toBe(true);
    m.write(1, 1, 0xfe); // now OCW1
    expect(m.imr).toBe(0xfe);
    m.write(0, 1, 0x12); m.write(1, 1, 0x40); // no ICW4 wanted
    expect(m.autoEoi).toBe(false);
    m.write(1, 1, 0x55);
    expect(m.imr).toBe(0x55);
  });

  it("re-initialisation clears ISR and IMR and needs a new edge", () => {
    const { pic, m, readIsr, readIrr } = make();
    pic.setIrq(1, true);
    pic.acknowledge();
    expect(readIsr(m)).toBe(0x02);
    m.write(1, 1, 0xff);
    m.write(0, 1, 0x11); m.write(1, 1, 0x20); m.write(1, 1, 0x04); m.write(1, 1, 0x01);
    expect(readIsr(m)).toBe(0);
    expect(m.read(1, 1)).toBe(0);
    expect(readIrr(m)).toBe(0); // still high, but no edge since ICW1
    pic.setIrq(1, false); pic.setIrq(1, true);
    expect(readIrr(m)).toBe(0x02);
  });
});

describe("8259A request handling", () => {
  it("edge-triggered IRR latching: set on a rising edge, one interrupt per edge", () => {
    const { pic, m, readIrr, intr } = make();
    pic.setIrq(3, true);
    expect(readIrr(m)).toBe(0x08);
    expect(intr).toEqual([true]);
    expect(pic.acknowledge()).toBe(0x23);
    expect(readIrr(m)).toBe(0x00);
    m.write(0, 1, 0x20); // EOI
    expect(pic.hasInterrupt()).toBe(false); // line still high: no new request without a new edge
    pic.setIrq(3, false); pic.setIrq(3, true);
    expect(pic.hasInterrupt()).toBe(true);
  });

  it("level-triggered mode (ICW1.LTIM) re-requests after EOI while the line stays high", () => {
    const pic = new Pic8259Pair();
    const m = pic.master;
    m.write(0, 1, 0x1b); m.write(1, 1, 0x20); m.write(1, 1, 0x01); // single, LTIM, IC4
    pic.setIrq(5, true);
    expect(pic.acknowledge()).toBe(0x25);
    expect(pic.hasInterrupt()).toBe(false); // in service
    m.write(0, 1, 0x20);
    expect(pic.hasInterrupt()).toBe(true);
    pic.setIrq(5, false);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it("priority resolution: lowest IR number wins; ISR blocks equal and lower levels only", () => {
    const { pic, m, readIsr } = make();
    pic.setIrq(4, true); pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x21);
    expect(pic.hasInterrupt()).toBe(false); // IR4 is lower than in-service IR1
    pic.setIrq(0, true);
    expect(pic.hasInterrupt()).toBe(true); // IR0 nests above IR1
    expect(pic.acknowledge()).toBe(0x20);
    expect(readIsr(m)).toBe(0x03);
    m.write(0, 1, 0x20); // non-specific EOI clears the highest (IR0)
    expect(readIsr(m)).toBe(0x02);
    m.write(0, 1, 0x20);
    expect(readIsr(m)).toBe(0x00);
    expect(pic.acknowledge()).toBe(0x24);
  });

  it("specific EOI clears only that ISR bit", () => {
    const { pic, m, readIsr } = make();
    pic.setIrq(5, true); pic.acknowledge();
    pic.setIrq(3, true); pic.acknowledge();
    pic.setIrq(1, true); pic.acknowledge();
    expect(readIsr(m)).toBe(0x2a);
    m.write(0, 1, 0x63); // specific EOI IR3
    expect(readIsr(m)).toBe(0x22);
    m.write(0, 1, 0x65);
    expect(readIsr(m)).toBe(0x02);
  });

  it("OCW3 selects IRR or ISR for reads at port 0; port 1 always reads IMR", () => {
    const { pic, m } = make();
    pic.setIrq(6, true); pic.setIrq(7, true);
    pic.acknowledge();
    m.write(0, 1, 0x0b);
    expect(m.read(0, 1)).toBe(0x40);
    expect(m.read(0, 1)).toBe(0x40); // selection is sticky
    m.write(0, 1, 0x0a);
    expect(m.read(0, 1)).toBe(0x80);
    m.write(1, 1, 0x11);
    expect(m.read(1, 1)).toBe(0x11);
  });

  it("request withdrawn before INTA gives the spurious IRQ7 vector without setting ISR", () => {
    const { pic, m, readIsr } = make();
    pic.setIrq(4, true);
    expect(pic.hasInterrupt()).toBe(true);
    pic.setIrq(4, false);
    expect(pic.hasInterrupt()).toBe(false);
    expect(pic.acknowledge()).toBe(0x27);
    expect(readIsr(m)).toBe(0x00);
    expect(pic.errors.get("spurious")).toBe(1);
  });

  it("cascade: slave IRQ 10 arrives as master IRQ2 with slave vector", () => {
    const { pic, m, s, readIsr, intr } = make(0x20, 0x28);
    pic.setIrq(10, true);
    expect(intr).toEqual([true]);
    expect(pic.acknowledge()).toBe(0x2a);
    expect(readIsr(m)).toBe(0x04);
    expect(readIsr(s)).toBe(0x04);
    s.write(0, 1, 0x20);
    m.write(0, 1, 0x20);
    expect(readIsr(m)).toBe(0);
    expect(readIsr(s)).toBe(0);
  });

  it("cascade: masked slave IRQ does not reach the master", () => {
    const { pic, s } = make();
    s.write(1, 1, 0x01);
    pic.setIrq(8, true);
    expect(pic.hasInterrupt()).toBe(false);
    s.write(1, 1, 0x00);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x28);
  });

  it("cascade: a slave request withdrawn before INTA is spurious IRQ15 with master ISR2 set", () => {
    const { pic, m, s, readIsr } = make();
    pic.setIrq(12, true);
    expect(pic.hasInterrupt()).toBe(true);
    // the slave loses its request between INTR and INTA (IMR changed without the slave re-resolving, as when a
    // mask write races the acknowledge cycle on hardware)
    s.imr = 0x10;
    expect(pic.acknowledge()).toBe(0x2f);
    expect(readIsr(m)).toBe(0x04);
    expect(readIsr(s)).toBe(0x00);
  });

  it("slave interrupts nest below master IRQ0/1 and above IRQ3-7", () => {
    const { pic } = make();
    pic.setIrq(3, true);
    pic.setIrq(9, true);
    expect(pic.acknowledge()).toBe(0x29); // IR2 (slave) beats IR3
    expect(pic.hasInterrupt()).toBe(false);
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x21);
  });

  it("setIrq(2) drives IRQ 9 (the AT's ISA IRQ2 pin redirect)", () => {
    const { pic } = make();
    pic.setIrq(2, true);
    expect(pic.acknowledge()).toBe(0x29);
  });

  it("automatic EOI leaves ISR clear", () => {
    const pic = new Pic8259Pair();
    const m = pic.master;
    m.write(0, 1, 0x13); m.write(1, 1, 0x50); m.write(1, 1, 0x03);
    pic.setIrq(6, true);
    expect(pic.acknowledge()).toBe(0x56);
    expect(m.isr).toBe(0);
    pic.setIrq(5, true);
    expect(pic.hasInterrupt()).toBe(true);
  });

  it("rotate on non-specific EOI makes the serviced level lowest priority", () => {
    const { pic, m } = make();
    pic.setIrq(0, true);
    pic.acknowledge();
    m.write(0, 1, 0xa0); // rotate on non-specific EOI: IR0 becomes lowest
    expect(m.lowestPriority).toBe(0);
    pic.setIrq(0, false); pic.setIrq(0, true);
    pic.setIrq(5, true);
    expect(pic.acknowledge()).toBe(0x25); // IR5 now beats IR0 (priority 1,2,...,7,0)
  });

  it("set priority command (OCW2 C0h+L) and rotate on specific EOI", () => {
    const { pic, m } = make();
    m.write(0, 1, 0xc4); // IR4 lowest → IR5 highest
    pic.setIrq(3, true); pic.setIrq(6, true);
    expect(pic.acknowledge()).toBe(0x26);
    m.write(0, 1, 0xe6); // rotate on specific EOI IR6 → IR6 lowest, IR7 highest
    expect(m.lowestPriority).toBe(6);
    expect(m.isr).toBe(0);
    expect(pic.acknowledge()).toBe(0x23);
  });

  it("special mask mode lets lower levels in while a masked level is in service", () => {
    const { pic, m } = make();
    pic.setIrq(1, true);
    pic.acknowledge();
    pic.setIrq(5, true);
    expect(pic.hasInterrupt()).toBe(false);
    m.write(1, 1, 0x02); // mask IR1 (in service)
    m.write(0, 1, 0x68); // OCW3 ESMM|SMM
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x25);
    m.write(0, 1, 0x48); // leave special mask mode
    expect(m.specialMask).toBe(false);
  });

  it("poll command: next read returns 80h|level and acts as INTA; 0 when nothing pending", () => {
    const { pic, m, readIsr } = make();
    pic.setIrq(6, true);
    m.write(0, 1, 0x0c);
    expect(m.read(0, 1)).toBe(0x86);
    expect(readIsr(m)).toBe(0x40);
    m.write(0, 1, 0x0c);
    expect(m.read(0, 1)).toBe(0x00);
    m.write(0, 1, 0x0a);
    expect(m.read(0, 1)).toBe(0x00); // back to normal register reads
  });

  it("peekVector reports the vector acknowledge() will return, without side effects", () => {
    const { pic, m, s, readIrr } = make();
    expect(pic.peekVector()).toBe(-1);
    pic.setIrq(11, true);
    pic.setIrq(4, true);
    expect(pic.peekVector()).toBe(0x2b);
    expect(readIrr(m)).toBe(0x14);
    expect(readIrr(s)).toBe(0x08);
    expect(pic.acknowledge()).toBe(0x2b);
    s.write(0, 1, 0x20); m.write(0, 1, 0x20);
    expect(pic.peekVector()).toBe(0x24);
    expect(pic.acknowledge()).toBe(0x24);
  });

  it("INTR line follows the master INT output", () => {
    const { pic, m, intr } = make();
    pic.setIrq(0, true);
    pic.acknowledge();
    m.write(0, 1, 0x20);
    expect(intr).toEqual([true, false]);
  });

  it("EOI with nothing in service is counted, not fatal", () => {
    const { pic, m } = make();
    m.write(0, 1, 0x20);
    m.write(0, 1, 0x61);
    expect(pic.errors.get("eoi-idle")).toBe(2);
  });

  it("bad IRQ numbers are host errors", () => {
    const { pic } = make();
    expect(() => pic.setIrq(16, true)).toThrow(RangeError);
  });
});
