import { describe, expect, it } from "vitest";
import { Uart16550, type Uart16550Options } from "../../host/devices/uart16550.ts";

const RBR = 0, THR = 0, IER = 1, DLL = 0, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

function make(opts: Uart16550Options = {}) {
  const tx: number[] = [];
  const irq: boolean[] = [];
  const u = new Uart16550({ onTransmit: (b) => tx.push(b), irq: (l) => irq.push(l), ...opts });
  const r = (o: number) => u.read(o, 1);
  const w = (o: number, v: number) => u.write(o, 1, v);
  return { u, tx, irq, r, w };
}

describe("16550A registers", () => {
  it("reset values: IER 0, IIR 01 (none pending), LCR 0, MCR 0, LSR 60 (THRE|TEMT)", () => {
    const { r } = make();
    expect([r(IER), r(IIR), r(LCR), r(MCR), r(LSR)]).toEqual([0x00, 0x01, 0x00, 0x00, 0x60]);
  });

  it("DLAB=1 maps 0x3f8/0x3f9 to DLL/DLM", () => {
    const { u, r, w, tx } = make();
    w(IER, 0x05);
    w(LCR, 0x83); // DLAB + 8N1
    w(DLL, 0x01);
    w(DLM, 0x00);
    expect(r(DLL)).toBe(0x01);
    expect(r(DLM)).toBe(0x00);
    expect(tx).toEqual([]); // the DLL write did not transmit
    expect(u.baud).toBe(115200);
    w(LCR, 0x03);
    expect(r(IER)).toBe(0x05); // IER untouched by the DLM write
    w(LCR, 0x83); w(DLL, 0x0c); w(LCR, 0x03);
    expect(u.baud).toBe(9600);
  });

  it("IER keeps only bits 0-3; MCR bits 5-7 read 0; SCR stores any byte", () => {
    const { r, w } = make();
    w(IER, 0xff); w(MCR, 0xff); w(SCR, 0xa5);
    expect([r(IER), r(MCR), r(SCR)]).toEqual([0x0f, 0x1f, 0xa5]);
  });

  it("THR write goes to onTransmit; LSR.THRE set after THR write drains", () => {
    const { r, w, tx, u } = make();
    w(THR, 0x48); w(THR, 0x69);
    expect(tx).toEqual([0x48, 0x69]);
    expect(r(LSR) & 0x60).toBe(0x60);
    expect(u.stats.transmitted).toBe(2);
  });

  it("16-bit access is two byte cycles (IER then IIR)", () => {
    const { u } = make();
    u.write(0, 2, 0x0141); // THR=0x41, IER=0x01
    expect(u.read(1, 1)).toBe(0x01);
    expect(u.read(1, 2)).toBe(0x0101); // IER=01, IIR=01
  });
});

describe("16550A receive path", () => {
  it("receive sets LSR.DR; RBR read returns bytes in order and clears DR", () => {
    const { u, r } = make();
    u.receive([0x61]);
    expect(r(LSR)).toBe(0x61);
    expect(r(RBR)).toBe(0x61);
    expect(r(LSR)).toBe(0x60);
  });

  it("16450 mode (FIFO off): a second byte overruns, overwrites RBR, sets OE once", () => {
    const { u, r } = make();
    expect(u.receive([1, 2])).toBe(1);
    expect(u.stats.overruns).toBe(1);
    expect(r(LSR)).toBe(0x63); // DR|OE|THRE|TEMT
    expect(r(LSR)).toBe(0x61); // OE cleared by the read
    expect(r(RBR)).toBe(2);
  });

  it("FIFO mode holds 16 bytes; the 17th is lost with OE and the FIFO keeps its contents", () => {
    const { u, r, w } = make();
    w(FCR, 0x01);
    const bytes = Array.from({ length: 17 }, (_, i) => 0x30 + i);
    expect(u.receive(bytes)).toBe(16);
    expect(u.rxFree()).toBe(0);
    expect(r(LSR) & 0x03).toBe(0x03);
    const got: number[] = [];
    while (r(LSR) & 1) got.push(r(RBR));
    expect(got).toEqual(bytes.slice(0, 16));
    expect(u.rxFree()).toBe(16);
  });

  it("FCR bit 1 clears the RX FIFO; disabling the FIFO also clears it", () => {
    const { u, r, w } = make();
    w(FCR, 0x01);
    u.receive([1, 2, 3]);
    w(FCR, 0x03);
    expect(r(LSR) & 1).toBe(0);
    u.receive([4, 5]);
    w(FCR, 0x00);
    expect(r(LSR) & 1).toBe(0);
    expect(r(IIR)).toBe(0x01); // FIFO bits 7:6 clear when FIFOs disabled
  });
});

describe("16550A interrupts", () => {
  it("IRQ pin is gated by MCR.OUT2", () => {
    const { u, w, irq } = make();
    w(IER, 0x01);
    u.receive([0x41]);
    expect(u.irqAsserted).toBe(false);
    w(MCR, 0x08);
    expect(u.irqAsserted).toBe(true);
    expect(irq).toEqual([true]);
  });

  it("without the OUT2 gate option the pin follows IIR directly", () => {
    const { u, w } = make({ gateIrqWithOut2: false });
    w(IER, 0x01);
    u.receive([0x41]);
    expect(u.irqAsserted).toBe(true);
  });

  it("RX data available: IIR 04, cleared by reading RBR", () => {
    const { u, r, w, irq } = make();
    w(MCR, 0x08); w(IER, 0x01);
    u.receive([0x41]);
    expect(r(IIR)).toBe(0x04);
    expect(r(IIR)).toBe(0x04); // reading IIR does not clear RDA
    r(RBR);
    expect(r(IIR)).toBe(0x01);
    expect(irq).toEqual([true, false]);
  });

  it("THRE interrupt when ETBEI is enabled with THR empty; cleared by reading IIR", () => {
    const { u, r, w } = make();
    w(MCR, 0x08);
    w(IER, 0x02);
    expect(u.irqAsserted).toBe(true);
    expect(r(IIR)).toBe(0x02);
    expect(r(IIR)).toBe(0x01); // the read that reported THRE cleared it
    expect(u.irqAsserted).toBe(false);
  });

  it("THRE interrupt cleared by writing THR, then set again when THR empties", () => {
    const { u, r, w, irq } = make();
    w(MCR, 0x08); w(IER, 0x02);
    expect(r(IIR)).toBe(0x02);
    expect(u.irqAsserted).toBe(false);
    w(THR, 0x41);
    // the (instant) transmission emptied THR again: THRE pending once more
    expect(u.irqAsserted).toBe(true);
    expect(irq).toEqual([true, false, true]);
    expect(r(IIR)).toBe(0x02);
  });

  it("THRE is not re-armed by a THR write while ETBEI is off", () => {
    const { r, w } = make();
    w(THR, 0x41);
    w(IER, 0x01);
    expect(r(IIR)).toBe(0x01);
  });

  it("priority: line status (06) > RX data (04) > THRE (02) > modem status (00)", () => {
    const { u, r, w } = make();
    w(MCR, 0x08);
    w(IER, 0x0f); // all sources; ETBEI enable arms THRE
    u.setModemLines({ cts: false }); // DCTS
    u.receive([1, 2]); // 16450 mode: overrun → OE
    expect(r(IIR)).toBe(0x06);
    r(LSR); // clears OE → line status source gone
    expect(r(IIR)).toBe(0x04);
    r(RBR);
    expect(r(IIR)).toBe(0x02); // reported, hence cleared
    expect(r(IIR)).toBe(0x00);
    expect(r(MSR)).toBe(0xa1); // DCD|DSR + DCTS
    expect(r(IIR)).toBe(0x01);
    expect(u.irqAsserted).toBe(false);
  });

  it("line status interrupt needs ELSI", () => {
    const { u, r, w } = make();
    w(IER, 0x00);
    u.receive([1, 2]);
    expect(r(IIR)).toBe(0x01);
    w(IER, 0x04);
    expect(r(IIR)).toBe(0x06);
  });

  it("FIFO trigger level 4: RDA (C4) at 4 bytes; below it the timeout indication (CC)", () => {
    const { u, r, w } = make();
    w(FCR, 0x41); // enable, trigger 4
    w(IER, 0x01);
    u.receive([1, 2, 3]);
    expect(r(IIR)).toBe(0xcc);
    u.receive([4]);
    expect(r(IIR)).toBe(0xc4);
    r(RBR);
    expect(r(IIR)).toBe(0xcc);
    r(RBR); r(RBR); r(RBR);
    expect(r(IIR)).toBe(0xc1);
  });

  it("trigger levels 1/4/8/14 from FCR bits 7:6", () => {
    for (const [fcr, level] of [[0x01, 1], [0x41, 4], [0x81, 8], [0xc1, 14]] as const) {
      const { u, r, w } = make();
      w(FCR, fcr); w(IER, 0x01);
      u.receive(new Array(level - 1).fill(0));
      expect(r(IIR) & 0x0f).toBe(level === 1 ? 0x01 : 0x0c);
      u.receive([0]);
      expect(r(IIR)).toBe(0xc4);
    }
  });

  it("FCR trigger bits are ignored when written with FCR0 = 0", () => {
    const { u, r, w } = make();
    w(FCR, 0x01); w(FCR, 0xc0); // disables FIFO; trigger not programmed
    w(FCR, 0x01); w(IER, 0x01);
    u.receive([7]);
    expect(r(IIR)).toBe(0xc4); // trigger still 1
  });
});

describe("16550A loopback and modem status", () => {
  it("loopback routes THR to RBR, not to the console", () => {
    const { r, w, tx } = make();
    w(MCR, 0x10);
    w(THR, 0xae);
    expect(tx).toEqual([]);
    expect(r(LSR) & 1).toBe(1);
    expect(r(RBR)).toBe(0xae);
  });

  it("loopback: MSR bits 4-7 follow MCR (RTS→CTS, DTR→DSR, OUT1→RI, OUT2→DCD) with deltas", () => {
    const { r, w } = make();
    w(MCR, 0x10);
    r(MSR); // clear deltas caused by entering loopback
    expect(r(MSR)).toBe(0x00);
    w(MCR, 0x1f);
    expect(r(MSR)).toBe(0xfb); // all lines, DCTS|DDSR|DDCD; no TERI on a rising RI
    w(MCR, 0x1b); // OUT1 off: RI trailing edge
    expect(r(MSR)).toBe(0xb4);
    w(MCR, 0x10 | 0x02);
    expect(r(MSR)).toBe(0x1a); // CTS only; DDSR, DDCD
  });

  it("loopback forces the IRQ pin inactive even with OUT2 set; IIR still reports", () => {
    const { u, r, w } = make();
    w(MCR, 0x18);
    w(IER, 0x01);
    w(THR, 0x55);
    expect(r(IIR)).toBe(0x04);
    expect(u.irqAsserted).toBe(false);
  });

  it("default cable: CTS, DSR, DCD asserted; host line changes set deltas and MSI", () => {
    const { u, r, w } = make();
    expect(r(MSR)).toBe(0xb0);
    w(MCR, 0x08); w(IER, 0x08);
    u.setModemLines({ ri: true });
    expect(r(IIR)).toBe(0x01); // rising RI is not a TERI
    u.setModemLines({ ri: false });
    expect(r(IIR)).toBe(0x00);
    expect(r(MSR)).toBe(0xb4);
    expect(r(IIR)).toBe(0x01);
  });

  it("writes to LSR/MSR are ignored and counted", () => {
    const { u, r, w } = make();
    w(LSR, 0x01);
    expect(r(LSR)).toBe(0x60);
    expect(u.errors.get("write-status")).toBe(1);
  });
});
