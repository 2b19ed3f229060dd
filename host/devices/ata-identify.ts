// ata-identify.ts — the IDENTIFY DEVICE block of an ATA hard disk (ATA/ATAPI-6 T13 1410D §8.15 and its word
// table) and the default CHS geometry it reports: a pure function of the disk's size and settings, kept apart
// from the channel's register state machine (ata.ts).

const LBA28_MAX = 0x0fffffff;

/** Default CHS geometry for the IDENTIFY words 1/3/6: 16 heads, 63 sectors, cylinders capped at 16383 (ATA-6 §8.15). */
export function defaultGeometry(sectors: number): { cylinders: number; heads: number; sectorsPerTrack: number } {
  const heads = 16, spt = 63;
  const cylinders = Math.max(1, Math.min(16383, Math.floor(sectors / (heads * spt))));
  return { cylinders, heads, sectorsPerTrack: spt };
}

/** Put an ASCII string into IDENTIFY words: two characters per word, the first in the high byte (§8.15.x). */
function putString(words: Uint16Array, first: number, count: number, s: string): void {
  const padded = s.padEnd(count * 2, " ").slice(0, count * 2);
  for (let i = 0; i < count; i++) {
    const hi = padded.charCodeAt(2 * i) & 0x7f, lo = padded.charCodeAt(2 * i + 1) & 0x7f;
    words[first + i] = (hi << 8) | lo;
  }
}

export interface IdentifyArgs {
  /** user-addressable sectors */
  sectors: number;
  geom: ReturnType<typeof defaultGeometry>;
  /** current translation (INITIALIZE DEVICE PARAMETERS) */
  curHeads: number;
  curSpt: number;
  writeCache: boolean;
  dev: 0 | 1;
  /** device 0 only: device 1 is present (word 93 PDIAG-/DASP- seen) */
  otherPresent: boolean;
  serial: string;
  firmware: string;
  model: string;
}

/** Fills `b` (512 bytes) with the IDENTIFY DEVICE block as the guest reads it (little-endian words) and returns a copy. */
export function identifyBlock(b: Uint8Array, a: IdentifyArgs): Uint8Array {
  const w = new Uint16Array(256);
  const n = a.sectors, g = a.geom;
  w[0] = 0x0040; // ATA device, fixed (bit 15 = 0; bit 6 obsolete "not removable", kept as drives report it)
  w[1] = g.cylinders;
  w[3] = g.heads;
  w[6] = g.sectorsPerTrack;
  putString(w, 10, 10, a.serial);
  putString(w, 23, 4, a.firmware);
  putString(w, 27, 20, a.model);
  w[47] = 0x8000; // READ/WRITE MULTIPLE: 0 sectors (not supported)
  w[49] = 0x0200; // LBA supported (bit 9); no DMA (bit 8 = 0)
  w[50] = 0x4000; // bit 14 shall be one
  w[51] = 0x0200; // PIO timing mode 2 (obsolete field)
  w[53] = 0x0003; // words 54-58 and 64-70 valid
  const curCyl = Math.min(0xffff, Math.floor(Math.min(n, 16383 * 16 * 63) / (a.curHeads * a.curSpt)));
  w[54] = curCyl;
  w[55] = a.curHeads;
  w[56] = a.curSpt;
  const curCap = curCyl * a.curHeads * a.curSpt;
  w[57] = curCap & 0xffff;
  w[58] = curCap >>> 16;
  const lba28 = Math.min(n, LBA28_MAX);
  w[60] = lba28 & 0xffff; // words 60-61: total user-addressable sectors for 28-bit commands
  w[61] = lba28 >>> 16;
  w[64] = 0x0003; // PIO modes 3 and 4
  w[65] = 120; w[66] = 120; w[67] = 120; w[68] = 120; // cycle times (ns)
  w[80] = 0x0070; // ATA-4, ATA-5, ATA-6
  w[82] = 0x4020; // NOP, write cache
  w[83] = 0x7400; // bit 14 one; FLUSH CACHE EXT, FLUSH CACHE, 48-bit address
  w[84] = 0x4000;
  w[85] = 0x4000 | (a.writeCache ? 0x0020 : 0);
  w[86] = 0x3400;
  w[87] = 0x4000;
  // word 93 (§8.15.50, hardware reset result): device 0 — bit 0 one, bits 2:1 = 01 jumper, bit 3 passed diagnostics,
  // bits 4/5 PDIAG-/DASP- seen (device 1 present); device 1 — bit 8 one, bits 10:9 = 01 jumper, bit 11 PDIAG- asserted
  w[93] = a.dev === 0 ? 0x400b | (a.otherPresent ? 0x0030 : 0) : 0x4b00;
  // words 100-103: 48-bit capacity
  w[100] = n & 0xffff;
  w[101] = Math.floor(n / 0x10000) & 0xffff;
  w[102] = Math.floor(n / 0x100000000) & 0xffff;
  w[103] = Math.floor(n / 0x1000000000000) & 0xffff;
  for (let i = 0; i < 255; i++) { b[2 * i] = w[i] & 0xff; b[2 * i + 1] = w[i] >> 8; }
  // word 255: integrity word — signature A5h, checksum making the byte sum of the block 0 (§8.15.63)
  b[510] = 0xa5;
  let sum = 0;
  for (let i = 0; i < 511; i++) sum += b[i];
  b[511] = (256 - (sum & 0xff)) & 0xff;
  return b.slice();
}
