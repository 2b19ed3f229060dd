import { describe, expect, it } from "vitest";
import { buildMpTables, EBDA_ADDR, findMpTables, MP_INT, writeMpTables } from "../../host/devices/mptable.ts";
import { loadMultiboot } from "../../host/multiboot.ts";

function memory(size = 1 << 20) {
  const ram = new Uint8Array(size);
  return {
    ram,
    ramSize: size,
    writeMem: (a: number, d: ArrayLike<number>) => ram.set(d, a),
    fillMem: (a: number, n: number, v = 0) => ram.fill(v, a, a + n),
    read: (a: number, n: number) => ram.slice(a, a + n),
  };
}
const sum = (b: Uint8Array) => b.reduce((s, x) => (s + x) & 0xff, 0);

describe("MP tables (MP spec 1.4)", () => {
  it("floating pointer: _MP_, 16 bytes, rev 1.4, checksum 0, points just after itself, no IMCR", () => {
    const t = buildMpTables(0x9fc00);
    expect(String.fromCharCode(...t.subarray(0, 4))).toBe("_MP_");
    expect(sum(t.subarray(0, 16))).toBe(0);
    expect(new DataView(t.buffer).getUint32(4, true)).toBe(0x9fc10);
    expect([t[8], t[9], t[11], t[12]]).toEqual([1, 4, 0, 0]);
  });

  it("configuration table: PCMP, length and checksum, entries sorted by type", () => {
    const t = buildMpTables(0x9fc00).subarray(16);
    const dv = new DataView(t.buffer, t.byteOffset);
    expect(String.fromCharCode(...t.subarray(0, 4))).toBe("PCMP");
    expect(dv.getUint16(4, true)).toBe(t.length);
    expect(sum(t)).toBe(0);
    expect(dv.getUint32(36, true)).toBe(0xfee00000);
    const types: number[] = [];
    let o = 44;
    for (let i = 0; i < dv.getUint16(34, true); i++) { types.push(t[o]); o += t[o] === 0 ? 20 : 8; }
    expect(o).toBe(t.length);
    expect(types).toEqual([...types].sort((a, b) => a - b));
  });

  it("written to the EBDA with the BDA pointing at it; the §5.1 search finds it and parses what a kernel needs", () => {
    const m = memory();
    const w = writeMpTables(m);
    expect(w.floating).toBe(EBDA_ADDR);
    expect(m.ram[0x40e] | (m.ram[0x40f] << 8)).toBe(0x9fc0);
    expect(m.ram[0x413] | (m.ram[0x414] << 8)).toBe(639);
    const p = findMpTables(m.read)!;
    expect(p).not.toBeNull();
    expect(p.floating).toBe(EBDA_ADDR);
    expect(p.processors).toEqual([{ apicId: 0, version: 0x14, flags: 3, signature: 0x600, features: 0 }]);
    expect(p.buses).toEqual([{ id: 0, type: "ISA   " }]);
    expect(p.ioapics).toEqual([{ id: 1, version: 0x11, flags: 1, addr: 0xfec00000 }]);
    const pin = (irq: number) => p.ioints.filter((e) => e.type === MP_INT.INT && e.irq === irq).map((e) => e.pin);
    expect(pin(0)).toEqual([2]);
    expect(pin(2)).toEqual([]);
    for (const irq of [1, 3, 4, 8, 12, 14, 15]) expect(pin(irq)).toEqual([irq]);
    // the 8259 reaches the CPU through LINT0 only: no I/O APIC pin carries ExtINT (as in SeaBIOS's table)
    expect(p.ioints.filter((e) => e.type === MP_INT.EXTINT)).toEqual([]);
    expect(p.localints).toEqual([
      { type: MP_INT.EXTINT, flags: 0, bus: 0, irq: 0, apic: 0xff, lint: 0 },
      { type: MP_INT.NMI, flags: 0, bus: 0, irq: 0, apic: 0xff, lint: 1 },
    ]);
  });

  it("a corrupted checksum is not found", () => {
    const m = memory();
    writeMpTables(m);
    m.ram[EBDA_ADDR + 16 + 44] ^= 1;
    expect(findMpTables(m.read)).toBeNull();
  });

  it("the multiboot loader writes them only when asked, and refuses a kernel overlapping the EBDA", () => {
    // minimal multiboot image with address fields (flags bit 16) loading at 1 MiB
    const img = new Uint8Array(64);
    const dv = new DataView(img.buffer);
    const flags = 1 << 16;
    dv.setUint32(0, 0x1badb002, true); dv.setUint32(4, flags, true); dv.setUint32(8, (-(0x1badb002 + flags)) >>> 0, true);
    const at = (load: number) => { dv.setUint32(12, load, true); dv.setUint32(16, load, true); dv.setUint32(20, 0, true); dv.setUint32(24, 0, true); dv.setUint32(28, load + 32, true); };
    at(0x100000);
    const m1 = memory(2 << 20);
    loadMultiboot(img, m1);
    expect(findMpTables(m1.read)).toBeNull();
    const m2 = memory(2 << 20);
    loadMultiboot(img, m2, { mpTables: {} });
    expect(findMpTables(m2.read)?.lapicAddr).toBe(0xfee00000);
    at(0x9fbf0);
    expect(() => loadMultiboot(img, memory(2 << 20), { mpTables: {} })).toThrow(/EBDA/);
  });
});
