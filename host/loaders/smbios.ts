// smbios.ts — the SMBIOS (DMI) tables a PC firmware leaves in the BIOS area, as SeaBIOS does for QEMU: a 32-bit
// entry point ("_SM_", SMBIOS 2.8) at the start of 0xF0000 (the range the OS scans in 16-byte steps, reserved in the
// e820 map) and a structure table right after it with the BIOS (type 0) and System (type 1) structures and the end
// marker (type 127). Linux reads them at boot ("SMBIOS 2.8 present.", "DMI: wasmvisor wasmvisor PC, BIOS …"), for its
// quirk tables and /sys/class/dmi/id.
// Reference: DMTF DSP0134 3.x, 5.2.1 (SMBIOS 2.1 32-bit entry point), 6.1 (structure header, strings), 7.1 (type 0),
// 7.2 (type 1), 7.45 (type 127).
import type { GuestMemory } from "../elf.ts";

export const SMBIOS_ADDR = 0xf0000;
/** What the tables say: the firmware (this loader) and the machine. */
export const SMBIOS_IDS = { vendor: "wasmvisor", biosVersion: "0.1", biosDate: "12/01/2026", product: "wasmvisor PC" } as const;

/** One structure: the formatted area (type, length, handle, then `body`) and its strings (1-based references). */
function structure(type: number, handle: number, body: number[], strings: string[]): number[] {
  const s = [type, 4 + body.length, handle & 0xff, handle >> 8, ...body];
  for (const str of strings) s.push(...Array.from(str, (c) => c.charCodeAt(0) & 0x7f), 0);
  if (!strings.length) s.push(0);
  s.push(0); // the string set ends with a double NUL
  return s;
}

const sum8 = (b: ArrayLike<number>, from: number, len: number) => { let s = 0; for (let i = 0; i < len; i++) s += b[from + i]; return s & 0xff; };

/** The entry point and structure table as they must appear at `addr` (the table follows the 31-byte entry point, 16-aligned). */
export function buildSmbios(addr = SMBIOS_ADDR): Uint8Array {
  const id = SMBIOS_IDS;
  const structs = [
    // type 0, BIOS: vendor(1), version(2), segment E800h, date(3), ROM size 64 KiB ((n+1)*64K → 0), characteristics:
    // bit 3 "not supported", no extension bits, release 0.1, no embedded controller (FFh FFh)
    structure(0, 0x0000, [1, 2, 0x00, 0xe8, 3, 0, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff], [id.vendor, id.biosVersion, id.biosDate]),
    // type 1, System: manufacturer(1), product(2), version(3), serial none, UUID unknown (zero), wake-up: power switch,
    // SKU none, family none
    structure(1, 0x0100, [1, 2, 3, 0, ...new Array(16).fill(0), 0x06, 0, 0], [id.vendor, id.product, id.biosVersion]),
    structure(127, 0x7f00, [], []),
  ];
  const table = structs.flat();
  const maxStruct = Math.max(...structs.map((s) => s.length));
  const tableAddr = addr + 0x20;
  const b = new Uint8Array(0x20 + table.length);
  const dv = new DataView(b.buffer);
  b.set([0x5f, 0x53, 0x4d, 0x5f], 0); // "_SM_"
  b[5] = 0x1f; // entry point length
  b[6] = 2; b[7] = 8; // SMBIOS 2.8
  dv.setUint16(8, maxStruct, true);
  b.set([0x5f, 0x44, 0x4d, 0x49, 0x5f], 0x10); // "_DMI_" (intermediate anchor)
  dv.setUint16(0x16, table.length, true);
  dv.setUint32(0x18, tableAddr, true);
  dv.setUint16(0x1c, structs.length, true);
  b[0x1e] = 0x28; // BCD revision
  b[0x15] = (256 - sum8(b, 0x10, 0x0f)) & 0xff; // intermediate checksum over 0x10..0x1E
  b[4] = (256 - sum8(b, 0, 0x1f)) & 0xff; // entry point checksum over its 31 bytes
  b.set(table, 0x20);
  return b;
}

export function writeSmbios(mem: GuestMemory, addr = SMBIOS_ADDR): void {
  mem.writeMem(addr, buildSmbios(addr));
}
