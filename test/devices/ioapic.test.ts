import { describe, expect, it } from "vitest";
import { IoApic, RTE_LEVEL, RTE_MASKED, RTE_REMOTE_IRR } from "../../host/devices/ioapic.ts";
import type { ApicMessage } from "../../host/devices/lapic.ts";

function make(accept = true) {
  const msgs: ApicMessage[] = [];
  const io = new IoApic({ deliver: (m) => { msgs.push(m); return accept; } });
  const w = (idx: number, v: number) => { io.write(0, 4, idx); io.write(0x10, 4, v); };
  const r = (idx: number) => { io.write(0, 4, idx); return io.read(0x10, 4); };
  return { io, msgs, w, r };
}

describe("82093AA I/O APIC", () => {
  it("ID, version (11h, 24 entries), arbitration; entries reset masked", () => {
    const { io, w, r } = make();
    expect(r(0) >>> 24).toBe(1);
    expect(r(1)).toBe(0x00170011);
    w(0, 0x0a000000);
    expect(r(0)).toBe(0x0a000000);
    expect(r(2)).toBe(0x0a000000);
    for (let n = 0; n < 24; n++) expect(r(0x10 + 2 * n) & RTE_MASKED).toBe(RTE_MASKED);
    w(1, 0);
    expect(io.errors.get("read-only")).toBe(1);
    expect(io.read(0, 4)).toBe(1);
  });

  it("edge-triggered: one message per rising edge while unmasked; edges on a masked pin are lost", () => {
    const { io, msgs, w } = make();
    io.setPin(4, true); // masked: lost
    io.setPin(4, false);
    w(0x10 + 8, 0x24);
    w(0x11 + 8, 0x00000000);
    io.setPin(4, true);
    io.setPin(4, true);
    io.setPin(4, false);
    io.setPin(4, true);
    expect(msgs.map((m) => m.vector)).toEqual([0x24, 0x24]);
    expect(msgs[0]).toEqual({ vector: 0x24, deliveryMode: 0, destMode: 0, dest: 0, level: false });
  });

  it("a guest masks an entry by writing it with the mask bit (Linux's clear_IO_APIC_pin); reserved bits read 0", () => {
    const { io, msgs, w, r } = make();
    w(0x10 + 8, 0x24); // unmasked, vector 0x24
    w(0x10 + 8, RTE_MASKED); // masked, vector 0: must stay masked (a vector-0 message is illegal at the local APIC)
    expect(r(0x10 + 8)).toBe(RTE_MASKED);
    io.setPin(4, true);
    expect(msgs).toEqual([]);
    w(0x10 + 8, 0xfffe0000 | RTE_MASKED | 0x31);
    expect(r(0x10 + 8)).toBe(RTE_MASKED | 0x31);
  });

  it("level-triggered: Remote IRR holds further messages until the EOI; a still-active input is resent", () => {
    const { io, msgs, w, r } = make();
    w(0x10 + 2 * 10, RTE_LEVEL | 0x3a);
    io.setPin(10, true);
    expect(msgs.length).toBe(1);
    expect(r(0x10 + 2 * 10) & RTE_REMOTE_IRR).toBe(RTE_REMOTE_IRR);
    io.eoi(0x3a);
    expect(msgs.length).toBe(2);
    io.setPin(10, false);
    io.eoi(0x3a);
    expect(msgs.length).toBe(2);
    expect(r(0x10 + 2 * 10) & RTE_REMOTE_IRR).toBe(0);
  });

  it("unmasking an active level input sends it; active-low polarity inverts", () => {
    const { io, msgs, w } = make();
    io.setPin(9, true);
    w(0x10 + 18, RTE_MASKED | RTE_LEVEL | 0x39);
    w(0x10 + 18, RTE_LEVEL | 0x39);
    expect(msgs.length).toBe(1);
    const t = make();
    t.w(0x10 + 2 * 5, (1 << 13) | 0x35); // edge, active low
    t.io.setPin(5, true);
    expect(t.msgs.length).toBe(0);
    t.io.setPin(5, false);
    expect(t.msgs.length).toBe(1);
  });

  it("destination and logical mode travel in the message; unaccepted messages are counted", () => {
    const { io, msgs, w } = make(false);
    w(0x10 + 2, (1 << 11) | 0x41);
    w(0x11 + 2, 0x03000000);
    io.setPin(1, true);
    expect(msgs[0]).toMatchObject({ destMode: 1, dest: 3 });
    expect(io.stats.dropped).toBe(1);
    expect(io.errors.get("no-destination")).toBe(1);
  });

  it("NMI/INIT/ExtINT delivery modes are dropped and counted; bad offsets and widths never throw", () => {
    const { io, msgs, w } = make();
    w(0x10, (4 << 8) | 0x02);
    io.setPin(0, true);
    expect(msgs.length).toBe(0);
    expect(io.errors.get("delivery-mode")).toBe(1);
    expect(io.read(0x40, 4)).toBe(0);
    io.write(0x40, 4, 1);
    expect(io.errors.get("bad-offset")).toBe(2);
    w(0x7f, 1);
    expect(io.errors.get("bad-index")).toBe(1);
    io.write(0, 4, 0x10);
    io.write(0x10, 1, 0x55);
    expect(io.read(0x10, 1)).toBe(0x55);
  });
});
