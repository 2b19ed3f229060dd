// mptable.ts — the Intel MultiProcessor Specification 1.4 tables a firmware leaves for the OS: the MP floating
// pointer structure (4.1) and the MP configuration table (4.2) with its base entries (4.3: processor, bus, I/O APIC,
// I/O interrupt assignment, local interrupt assignment), plus a parser for tests and tools.
//
// Where they go (5.1 search order: first KiB of the EBDA, last KiB of base memory, BIOS ROM 0xF0000-0xFFFFF):
// writeMpTables() puts both in the first KiB of an EBDA at 0x9FC00 (the reserved range of the multiboot memory map)
// and fills the BIOS data area words an OS reads to find it: 40:0E = EBDA segment (0x9FC0), 40:13 = base memory in
// KiB (639), so the first search of 5.1 finds it (base memory then ends where the EBDA starts). The spec wants
// exactly one floating pointer, so the BIOS ROM range 0xF0000-0xFFFFF holds none.
//
// What the table describes (one CPU, PC/AT ISA wiring, virtual-wire mode, IMCR absent):
//   processor   APIC ID 0, version 14h, enabled, bootstrap processor
//   bus 0       "ISA   "
//   I/O APIC    ID 1, version 11h, enabled, at 0xFEC00000
//   I/O ints    INT ISA IRQ 0 → pin 2 (the timer override); ISA IRQ n → pin n for n = 1, 3..15 (conforming
//               polarity/trigger: ISA edge, active high). No ExtINT entry: the 8259's INTR reaches the CPU through
//               LINT0 only, no I/O APIC pin (ioapic.ts), as in QEMU's/SeaBIOS's table (an entry naming pin 0 made
//               Linux report "ExtINT not setup in hardware but reported by MP table").
//   local ints  ExtINT ISA IRQ 0 → LINT0 of all local APICs; NMI → LINT1 of all local APICs
import { IOAPIC_BASE, IOAPIC_VERSION } from "./ioapic.ts";
import { LAPIC_BASE, LAPIC_VERSION } from "./lapic.ts";

export const EBDA_ADDR = 0x9fc00;
export const BDA_EBDA_SEGMENT = 0x40e;
export const BDA_BASE_MEMORY_KIB = 0x413;
export const MP_SIGNATURE = "_MP_";
export const MPC_SIGNATURE = "PCMP";

export const MP_ENTRY = { PROCESSOR: 0, BUS: 1, IOAPIC: 2, IOINT: 3, LOCALINT: 4 } as const;
export const MP_INT = { INT: 0, NMI: 1, SMI: 2, EXTINT: 3 } as const;

export interface MpConfig {
  lapicAddr?: number;
  lapicId?: number;
  ioapicAddr?: number;
  ioapicId?: number;
  /** CPUID.1 EAX (signature) and EDX (features) for the processor entry */
  cpuSignature?: number;
  cpuFeatures?: number;
  oemId?: string;
  productId?: string;
}

/** ISA IRQ → I/O APIC input pin in the PC wiring this table describes (IRQ 0 → pin 2). */
export function isaIrqToIoApicPin(irq: number): number {
  return irq === 0 ? 2 : irq;
}

function checksum(b: Uint8Array, start: number, len: number): number {
  let s = 0;
  for (let i = start; i < start + len; i++) s = (s + b[i]) & 0xff;
  return (256 - s) & 0xff;
}

function ascii(b: Uint8Array, at: number, s: string, len: number): void {
  const p = s.padEnd(len, " ").slice(0, len);
  for (let i = 0; i < len; i++) b[at + i] = p.charCodeAt(i) & 0x7f;
}

/**
 * Builds the floating pointer (16 bytes at `addr`) followed by the configuration table (at addr + 16), as they
 * must appear in guest memory at `addr`.
 */
export function buildMpTables(addr: number, cfg: MpConfig = {}): Uint8Array {
  const lapicAddr = cfg.lapicAddr ?? LAPIC_BASE, ioapicAddr = cfg.ioapicAddr ?? IOAPIC_BASE;
  const lapicId = cfg.lapicId ?? 0, ioapicId = cfg.ioapicId ?? 1;
  const entries: number[][] = [];
  const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  // processor (20 bytes): type, APIC ID, APIC version, flags (EN=1, BP=2), signature, features, 8 reserved
  entries.push([MP_ENTRY.PROCESSOR, lapicId, LAPIC_VERSION & 0xff, 0x03, ...u32(cfg.cpuSignature ?? 0x600), ...u32(cfg.cpuFeatures ?? 0), 0, 0, 0, 0, 0, 0, 0, 0]);
  // bus (8 bytes): type, bus ID, type string (6)
  entries.push([MP_ENTRY.BUS, 0, ..."ISA   ".split("").map((c) => c.charCodeAt(0))]);
  // I/O APIC (8 bytes): type, ID, version, flags (EN), address
  entries.push([MP_ENTRY.IOAPIC, ioapicId, IOAPIC_VERSION, 0x01, ...u32(ioapicAddr)]);
  // I/O interrupt assignments (8 bytes): type, interrupt type, flags (16-bit: 0 = conforms to bus), source bus,
  // source bus IRQ, destination I/O APIC ID, destination INTIN#
  const ioint = (kind: number, irq: number, pin: number) => [MP_ENTRY.IOINT, kind, 0, 0, 0, irq, ioapicId, pin];
  for (let irq = 0; irq < 16; irq++) if (irq !== 2) entries.push(ioint(MP_INT.INT, irq, isaIrqToIoApicPin(irq)));
  // local interrupt assignments: destination local APIC ID 0xFF = all
  entries.push([MP_ENTRY.LOCALINT, MP_INT.EXTINT, 0, 0, 0, 0, 0xff, 0]);
  entries.push([MP_ENTRY.LOCALINT, MP_INT.NMI, 0, 0, 0, 0, 0xff, 1]);

  const body = entries.flat();
  const cfgLen = 44 + body.length;
  const b = new Uint8Array(16 + cfgLen);
  const dv = new DataView(b.buffer);
  // floating pointer (4.1)
  ascii(b, 0, MP_SIGNATURE, 4);
  dv.setUint32(4, addr + 16, true); // physical address of the configuration table
  b[8] = 1; // length in 16-byte paragraphs
  b[9] = 4; // spec revision 1.4
  b[11] = 0; // feature byte 1: 0 = a configuration table is present
  b[12] = 0; // feature byte 2: bit 7 IMCRP = 0 (virtual wire mode, no IMCR)
  b[10] = checksum(b, 0, 16);
  // configuration table header (4.2)
  const c = 16;
  ascii(b, c, MPC_SIGNATURE, 4);
  dv.setUint16(c + 4, cfgLen, true);
  b[c + 6] = 4; // spec revision
  ascii(b, c + 8, cfg.oemId ?? "WASMVISR", 8);
  ascii(b, c + 16, cfg.productId ?? "WASMVISOR PC", 12);
  dv.setUint32(c + 28, 0, true); // OEM table pointer
  dv.setUint16(c + 32, 0, true); // OEM table size
  dv.setUint16(c + 34, entries.length, true);
  dv.setUint32(c + 36, lapicAddr, true);
  dv.setUint16(c + 40, 0, true); // extended table length
  b[c + 42] = 0; // extended table checksum
  b.set(body, c + 44);
  b[c + 7] = checksum(b, c, cfgLen);
  return b;
}

export interface MpMemory {
  writeMem(addr: number, data: Uint8Array | number[]): void;
}

/** Puts the tables in the EBDA and points the BIOS data area at it (see the header). */
export function writeMpTables(mem: MpMemory, cfg: MpConfig = {}): { floating: number; config: number; length: number } {
  const t = buildMpTables(EBDA_ADDR, cfg);
  if (t.length > 1024) throw new RangeError("wasmvisor mptable: tables exceed the first KiB of the EBDA");
  mem.writeMem(EBDA_ADDR, t);
  mem.writeMem(BDA_EBDA_SEGMENT, [(EBDA_ADDR >> 4) & 0xff, EBDA_ADDR >> 12]);
  mem.writeMem(BDA_BASE_MEMORY_KIB, [(EBDA_ADDR >> 10) & 0xff, EBDA_ADDR >> 18]);
  return { floating: EBDA_ADDR, config: EBDA_ADDR + 16, length: t.length };
}

// ---------------------------------------------------------------- parsing (tests, tools)

export interface ParsedMp {
  floating: number;
  config: number;
  specRev: number;
  imcrp: boolean;
  lapicAddr: number;
  oemId: string;
  productId: string;
  processors: { apicId: number; version: number; flags: number; signature: number; features: number }[];
  buses: { id: number; type: string }[];
  ioapics: { id: number; version: number; flags: number; addr: number }[];
  ioints: { type: number; flags: number; bus: number; irq: number; apic: number; pin: number }[];
  localints: { type: number; flags: number; bus: number; irq: number; apic: number; lint: number }[];
}

const sum8 = (b: Uint8Array, at: number, len: number) => { let s = 0; for (let i = 0; i < len; i++) s += b[at + i]; return s & 0xff; };
const str = (b: Uint8Array, at: number, len: number) => String.fromCharCode(...b.subarray(at, at + len));

/** Finds the floating pointer the way an OS does (5.1) in a physical-memory reader; null if absent or corrupt. */
export function findMpTables(read: (addr: number, len: number) => Uint8Array): ParsedMp | null {
  const bda = read(0x400, 0x20);
  const scan = (start: number, len: number): number => {
    if (start <= 0) return -1;
    const b = read(start, len);
    for (let o = 0; o + 16 <= len; o += 16) if (str(b, o, 4) === MP_SIGNATURE && sum8(b, o, 16) === 0) return start + o;
    return -1;
  };
  const ebda = (bda[0x0e] | (bda[0x0f] << 8)) << 4;
  let fp = scan(ebda, 1024);
  if (fp < 0) fp = scan(((bda[0x13] | (bda[0x14] << 8)) * 1024) - 1024, 1024);
  if (fp < 0) fp = scan(0xf0000, 0x10000);
  if (fp < 0) return null;
  const f = read(fp, 16);
  const fdv = new DataView(f.buffer, f.byteOffset, 16);
  const cfgAddr = fdv.getUint32(4, true);
  const head = read(cfgAddr, 44);
  if (str(head, 0, 4) !== MPC_SIGNATURE) return null;
  const len = head[4] | (head[5] << 8);
  const t = read(cfgAddr, len);
  if (sum8(t, 0, len) !== 0) return null;
  const dv = new DataView(t.buffer, t.byteOffset, len);
  const out: ParsedMp = {
    floating: fp, config: cfgAddr, specRev: t[6], imcrp: (f[12] & 0x80) !== 0, lapicAddr: dv.getUint32(36, true),
    oemId: str(t, 8, 8), productId: str(t, 16, 12), processors: [], buses: [], ioapics: [], ioints: [], localints: [],
  };
  let o = 44;
  const count = dv.getUint16(34, true);
  for (let i = 0; i < count && o < len; i++) {
    switch (t[o]) {
      case MP_ENTRY.PROCESSOR:
        out.processors.push({ apicId: t[o + 1], version: t[o + 2], flags: t[o + 3], signature: dv.getUint32(o + 4, true), features: dv.getUint32(o + 8, true) });
        o += 20; break;
      case MP_ENTRY.BUS: out.buses.push({ id: t[o + 1], type: str(t, o + 2, 6) }); o += 8; break;
      case MP_ENTRY.IOAPIC: out.ioapics.push({ id: t[o + 1], version: t[o + 2], flags: t[o + 3], addr: dv.getUint32(o + 4, true) }); o += 8; break;
      case MP_ENTRY.IOINT: out.ioints.push({ type: t[o + 1], flags: dv.getUint16(o + 2, true), bus: t[o + 4], irq: t[o + 5], apic: t[o + 6], pin: t[o + 7] }); o += 8; break;
      case MP_ENTRY.LOCALINT: out.localints.push({ type: t[o + 1], flags: dv.getUint16(o + 2, true), bus: t[o + 4], irq: t[o + 5], apic: t[o + 6], lint: t[o + 7] }); o += 8; break;
      default: return out;
    }
  }
  return out;
}
