// smbios.test.ts — the SMBIOS tables the bzImage loader leaves at 0xF0000 (host/loaders/smbios.ts), read the way
// Linux's dmi_scan_machine() reads them: a 16-byte-aligned "_SM_" anchor whose 31 bytes sum to 0, the "_DMI_"
// intermediate anchor whose 15 bytes sum to 0, then the structure table it points at, walked structure by structure
// (formatted area, then NUL-terminated strings ending with a double NUL) up to type 127.
import { describe, it, expect } from "vitest";
import { buildSmbios, SMBIOS_ADDR, SMBIOS_IDS } from "../host/loaders/smbios.ts";

function dmiScan(mem: Uint8Array, base: number) {
  const sum = (from: number, len: number) => mem.subarray(from, from + len).reduce((a, b) => a + b, 0) & 0xff;
  const dv = new DataView(mem.buffer);
  for (let q = 0; q + 32 <= 0x10000; q += 16) {
    const p = base + q;
    if (String.fromCharCode(...mem.subarray(p, p + 4)) !== "_SM_" || mem[p + 5] >= 32 || sum(p, mem[p + 5]) !== 0) continue;
    if (String.fromCharCode(...mem.subarray(p + 16, p + 21)) !== "_DMI_" || sum(p + 16, 15) !== 0) continue;
    const version = `${mem[p + 6]}.${mem[p + 7]}`;
    const len = dv.getUint16(p + 22, true), tableAddr = dv.getUint32(p + 24, true), num = dv.getUint16(p + 28, true);
    const structs: { type: number; length: number; handle: number; bytes: Uint8Array; strings: string[] }[] = [];
    let s = tableAddr - base + base; // (the table lies in the same scanned memory)
    for (let i = 0; i < num && s + 4 <= tableAddr + len; i++) {
      const type = mem[s], length = mem[s + 1], handle = dv.getUint16(s + 2, true);
      let e = s + length;
      const strings: string[] = [];
      while (mem[e] !== 0) { let t = e; while (mem[t] !== 0) t++; strings.push(String.fromCharCode(...mem.subarray(e, t))); e = t + 1; }
      if (!strings.length) e++;
      structs.push({ type, length, handle, bytes: mem.subarray(s, s + length), strings });
      s = e + 1;
      if (type === 127) break;
    }
    return { at: p, version, len, tableAddr, num, structs, end: s };
  }
  return null;
}

describe("SMBIOS tables (DMI) for Linux", () => {
  it("are found by Linux's scan of 0xF0000-0xFFFFF and decode to BIOS, System and end structures", () => {
    const mem = new Uint8Array(0x100000);
    const t = buildSmbios(SMBIOS_ADDR);
    mem.set(t, SMBIOS_ADDR);
    const d = dmiScan(mem, SMBIOS_ADDR)!;
    expect(d).not.toBeNull();
    expect(d.at).toBe(SMBIOS_ADDR);
    expect(d.version).toBe("2.8");
    expect(d.num).toBe(3);
    expect(d.end - d.tableAddr).toBe(d.len); // the table length covers exactly the structures
    expect(d.structs.map((s) => s.type)).toEqual([0, 1, 127]);
    const [bios, sys] = d.structs;
    expect(bios.length).toBe(0x18);
    // Linux: "DMI: <sys_vendor> <product_name>, BIOS <bios_version> <bios_date>"
    const str = (s: typeof bios, off: number) => s.strings[s.bytes[off] - 1];
    expect([str(bios, 4), str(bios, 5), str(bios, 8)]).toEqual([SMBIOS_IDS.vendor, SMBIOS_IDS.biosVersion, SMBIOS_IDS.biosDate]);
    expect(sys.length).toBe(0x1b);
    expect([str(sys, 4), str(sys, 5)]).toEqual([SMBIOS_IDS.vendor, SMBIOS_IDS.product]);
    expect(sys.bytes[7]).toBe(0); // no serial number string
    // the max structure size field covers the largest structure with its strings
    expect(new DataView(mem.buffer).getUint16(SMBIOS_ADDR + 8, true)).toBeGreaterThanOrEqual(sys.length + 2);
  });
});
