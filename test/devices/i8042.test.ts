import { describe, expect, it } from "vitest";
import { I8042 } from "../../host/devices/i8042.ts";

function make() {
  const irq1: boolean[] = [], irq12: boolean[] = [];
  let resets = 0;
  const k = new I8042({ irq1: (l) => irq1.push(l), irq12: (l) => irq12.push(l), onReset: () => resets++ });
  const cmd = (v: number) => k.command.write(0, 1, v);
  const out = (v: number) => k.data.write(0, 1, v);
  const st = () => k.command.read(0, 1);
  const rd = () => k.data.read(0, 1);
  return { k, cmd, out, st, rd, irq1, irq12, resets: () => resets };
}

describe("8042 keyboard controller", () => {
  it("firmware state: command byte 45h, status: system flag, not inhibited, empty", () => {
    const t = make();
    expect(t.st()).toBe(0x14);
    t.cmd(0x20);
    expect(t.st() & 1).toBe(1);
    expect(t.rd()).toBe(0x45);
    expect(t.st() & 1).toBe(0);
  });

  it("self test 55h, interface tests 00h, status bit 3 follows the last port written", () => {
    const t = make();
    t.cmd(0xaa);
    expect(t.st() & 0x08).toBe(0x08);
    expect(t.rd()).toBe(0x55);
    t.cmd(0xab); expect(t.rd()).toBe(0x00);
    t.cmd(0xa9); expect(t.rd()).toBe(0x00);
  });

  it("keyboard bytes raise IRQ 1 while OBF holds them and command byte bit 0 is set", () => {
    const t = make();
    t.k.sendKeyboard([0x1e, 0x9e]); // 'a' make, break
    expect(t.irq1).toEqual([true]);
    expect(t.rd()).toBe(0x1e);
    expect(t.irq1).toEqual([true, false, true]);
    expect(t.rd()).toBe(0x9e);
    expect(t.irq1.at(-1)).toBe(false);
    t.cmd(0x60); t.out(0x44); // interrupts off
    t.k.sendKeyboard([0x1e]);
    expect(t.irq1.at(-1)).toBe(false);
    expect(t.st() & 1).toBe(1);
  });

  it("keyboard disabled (ADh) holds its bytes until AEh", () => {
    const t = make();
    t.cmd(0xad);
    t.k.sendKeyboard([0x10]);
    expect(t.st() & 1).toBe(0);
    t.cmd(0xae);
    expect(t.rd()).toBe(0x10);
  });

  it("keyboard commands: reset FA AA, identify FA AB 83, LEDs with parameter, echo, unknown → FE", () => {
    const t = make();
    const reply = () => { const b: number[] = []; while (t.st() & 1) b.push(t.rd()); return b; };
    t.out(0xff); expect(reply()).toEqual([0xfa, 0xaa]);
    t.out(0xf2); expect(reply()).toEqual([0xfa, 0xab, 0x83]);
    t.out(0xed); t.out(0x07); expect(reply()).toEqual([0xfa, 0xfa]);
    t.out(0xf0); t.out(0x00); expect(reply()).toEqual([0xfa, 0xfa, 0x02]);
    t.out(0xee); expect(reply()).toEqual([0xee]);
    t.out(0x01); expect(reply()).toEqual([0xfe]);
    expect(t.k.errors.get("kbd-command")).toBe(1);
  });

  it("D2h/D3h write the output buffer as keyboard/aux data; aux data sets status bit 5 and IRQ 12 (bit 1)", () => {
    const t = make();
    t.cmd(0xd2); t.out(0x5a);
    expect(t.irq1.at(-1)).toBe(true);
    expect(t.rd()).toBe(0x5a);
    t.cmd(0x60); t.out(0x47);
    t.cmd(0xd3); t.out(0x08);
    expect(t.st() & 0x20).toBe(0x20);
    expect(t.irq12.at(-1)).toBe(true);
    expect(t.rd()).toBe(0x08);
    t.cmd(0xd4); t.out(0xf2);
    expect([t.rd(), t.rd()]).toEqual([0xfa, 0x00]);
  });

  it("D2h/D3h bytes come from the controller: delivered with the interfaces disabled (Linux's aux loopback probe)", () => {
    const t = make();
    t.cmd(0xa7); t.cmd(0xad); // aux and keyboard interfaces disabled (command byte 75h), as Linux probes
    t.cmd(0x20); expect(t.rd()).toBe(0x75);
    t.cmd(0xd3); t.out(0x5a);
    expect(t.st() & 0x21).toBe(0x21); // OBF, and it is aux data
    expect(t.rd()).toBe(0x5a);
    t.cmd(0xd2); t.out(0xa5);
    expect(t.st() & 0x21).toBe(0x01); // keyboard data
    expect(t.rd()).toBe(0xa5);
    // the devices' own bytes still wait for their interface
    t.cmd(0xd4); t.out(0xf2);
    expect(t.st() & 1).toBe(0);
    t.cmd(0xa8);
    expect([t.rd(), t.rd()]).toEqual([0xfa, 0x00]);
  });

  it("reset pulses (FEh, output port bit 0 = 0) call onReset; A20 off is counted", () => {
    const t = make();
    t.cmd(0xfe);
    t.cmd(0xd1); t.out(0x00);
    expect(t.resets()).toBe(2);
    expect(t.k.errors.get("a20")).toBe(1);
    t.cmd(0xd0);
    expect(t.rd() & 2).toBe(2);
  });

  it("guest mistakes are counted: empty read, unknown command, wide access", () => {
    const t = make();
    expect(t.rd()).toBe(0);
    t.cmd(0x05);
    t.k.data.read(0, 2);
    expect(t.k.errors.get("read-empty")).toBe(2);
    expect(t.k.errors.get("bad-command")).toBe(1);
    expect(t.k.errors.get("access-width")).toBe(1);
  });
});
