// elf.ts — a strict reader for the one ELF flavour wasmvisor boots: 32-bit, little-endian, EM_386, ET_EXEC
// (System V ABI, "ELF header" and "Program header" chapters; Intel386 supplement for EM_386).
//
// Everything in the file is guest/user-supplied, so every offset and size is checked against the file length
// and 32-bit overflow before use; every problem is one ElfError with a one-line message. parseElf() never
// touches guest memory; loadElfSegments() copies PT_LOAD segments (at p_paddr) into a GuestMemory after
// checkElfFitsRam() has checked them against the RAM size.
//
//   ELF header (52 bytes)            program header (32 bytes each, at e_phoff + i*e_phentsize)
//   0x00 e_ident[16]  7f 'E' 'L' 'F' class data version ...
//   0x10 e_type u16   0x12 e_machine u16   0x14 e_version u32   0x18 e_entry u32
//   0x1c e_phoff u32  0x20 e_shoff u32     0x24 e_flags u32     0x28 e_ehsize u16
//   0x2a e_phentsize u16  0x2c e_phnum u16  0x2e e_shentsize u16  0x30 e_shnum u16  0x32 e_shstrndx u16
//                                    0x00 p_type 0x04 p_offset 0x08 p_vaddr 0x0c p_paddr
//                                    0x10 p_filesz 0x14 p_memsz 0x18 p_flags 0x1c p_align

export const ELF_MAGIC = 0x464c457f; // "\x7fELF" read little-endian
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;
export const ET_EXEC = 2;
export const EM_386 = 3;
export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;
export const ELF_HEADER_SIZE = 52;
export const PHDR_SIZE = 32;
/** Upper bound on program headers we look at: real kernels have a handful; this bounds the walk. */
export const MAX_PHNUM = 256;

export class ElfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ElfError";
  }
}

export interface ElfSegment {
  /** index in the program header table */
  index: number;
  type: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  flags: number;
  align: number;
}

export interface ElfImage {
  type: number;
  machine: number;
  entry: number;
  /** every program header, in table order */
  segments: ElfSegment[];
  /** the PT_LOAD headers with p_memsz > 0 */
  loads: ElfSegment[];
}

/** The part of Machine the loaders need (also implemented by plain byte arrays in tests). */
export interface GuestMemory {
  readonly ramSize: number;
  writeMem(paddr: number, data: ArrayLike<number>): void;
  fillMem(paddr: number, len: number, value?: number): void;
}

/** Guest-physical memory of `ramSize` bytes that sits at `offset` in `m` (full and hw mode put guest RAM above their own). */
export function guestRamAt(m: Omit<GuestMemory, "ramSize">, offset: number, ramSize: number): GuestMemory {
  return {
    ramSize,
    writeMem: (p, d) => m.writeMem(p + offset, d),
    fillMem: (p, len, v = 0) => m.fillMem(p + offset, len, v),
  };
}

const hex = (n: number) => "0x" + (n >>> 0).toString(16);
const ELF_MACHINES: Record<number, string> = { 3: "x86 (EM_386)", 8: "MIPS", 20: "PowerPC", 40: "ARM", 62: "x86-64", 183: "AArch64", 243: "RISC-V" };

/** True if the bytes start with the ELF magic. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

export function parseElf(bytes: Uint8Array): ElfImage {
  if (!isElf(bytes)) throw new ElfError("not an ELF file (bad magic)");
  if (bytes.length < 16) throw new ElfError(`truncated ELF: ${bytes.length} bytes, shorter than e_ident`);
  const cls = bytes[4];
  if (cls === ELFCLASS64) throw new ElfError("not a 32-bit ELF (ELFCLASS64); wasmvisor runs 32-bit x86 images");
  if (cls !== ELFCLASS32) throw new ElfError(`not a 32-bit ELF (EI_CLASS=${cls})`);
  if (bytes[5] !== ELFDATA2LSB) throw new ElfError(`not a little-endian ELF (EI_DATA=${bytes[5]})`);
  if (bytes.length < ELF_HEADER_SIZE) throw new ElfError(`truncated ELF: ${bytes.length} bytes, shorter than the 52-byte ELF header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => dv.getUint16(o, true);
  const u32 = (o: number) => dv.getUint32(o, true);

  const machine = u16(0x12);
  if (machine !== EM_386) {
    throw new ElfError(`not an x86 ELF (e_machine=${machine}${ELF_MACHINES[machine] ? ", " + ELF_MACHINES[machine] : ""}; expected EM_386)`);
  }
  const type = u16(0x10);
  if (type !== ET_EXEC) {
    const what = { 0: "ET_NONE", 1: "a relocatable object (ET_REL)", 3: "a shared object or PIE (ET_DYN)", 4: "a core file (ET_CORE)" }[type] ?? `e_type=${type}`;
    throw new ElfError(`not an executable ELF: ${what}; expected ET_EXEC`);
  }
  if (u32(0x14) !== EV_CURRENT && bytes[6] !== EV_CURRENT) throw new ElfError(`unsupported ELF version ${u32(0x14)}`);
  const entry = u32(0x18);
  const phoff = u32(0x1c);
  const phentsize = u16(0x2a);
  const phnum = u16(0x2c);
  if (phnum === 0) throw new ElfError("no program headers (e_phnum=0), so no PT_LOAD segment to load");
  if (phnum > MAX_PHNUM) throw new ElfError(`too many program headers (${phnum}, at most ${MAX_PHNUM})`);
  if (phentsize < PHDR_SIZE) throw new ElfError(`bad e_phentsize ${phentsize} (at least ${PHDR_SIZE})`);
  const phEnd = phoff + phnum * phentsize; // < 2^32 + 2^24: exact in a double
  if (phEnd > bytes.length) {
    throw new ElfError(`truncated ELF: program header table [${hex(phoff)}, ${hex(phEnd)}) extends past the end of the file (${bytes.length} bytes)`);
  }

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    segments.push({
      index: i, type: u32(o), offset: u32(o + 4), vaddr: u32(o + 8), paddr: u32(o + 12),
      filesz: u32(o + 16), memsz: u32(o + 20), flags: u32(o + 24), align: u32(o + 28),
    });
  }
  const loads: ElfSegment[] = [];
  for (const s of segments) {
    if (s.type !== PT_LOAD) continue;
    if (s.filesz > s.memsz) throw new ElfError(`segment ${s.index}: p_filesz ${hex(s.filesz)} > p_memsz ${hex(s.memsz)}`);
    if (s.offset + s.filesz > 2 ** 32) throw new ElfError(`segment ${s.index}: file range ${hex(s.offset)}+${hex(s.filesz)} overflows 32 bits`);
    if (s.offset + s.filesz > bytes.length) {
      throw new ElfError(`truncated ELF: segment ${s.index} data [${hex(s.offset)}, ${hex(s.offset + s.filesz)}) extends past the end of the file (${bytes.length} bytes)`);
    }
    if (s.paddr + s.memsz > 2 ** 32) throw new ElfError(`segment ${s.index}: physical range ${hex(s.paddr)}+${hex(s.memsz)} overflows 32 bits`);
    if (s.vaddr + s.memsz > 2 ** 32) throw new ElfError(`segment ${s.index}: virtual range ${hex(s.vaddr)}+${hex(s.memsz)} overflows 32 bits`);
    if (s.memsz > 0) loads.push(s);
  }
  if (!loads.length) throw new ElfError("no PT_LOAD segment with a non-zero size");
  return { type, machine, entry, segments, loads };
}

function mib(n: number): string {
  return n % (1 << 20) === 0 ? `${n / (1 << 20)} MiB` : `${n} bytes`;
}

/** Throws unless every PT_LOAD segment [p_paddr, p_paddr + p_memsz) lies inside guest RAM. */
export function checkElfFitsRam(elf: ElfImage, ramSize: number): void {
  for (const s of elf.loads) {
    if (s.paddr + s.memsz > ramSize) {
      throw new ElfError(`segment ${s.index} [${hex(s.paddr)}, ${hex(s.paddr + s.memsz)}) is outside guest RAM (${mib(ramSize)}); give the VM more memory (--mem)`);
    }
  }
}

/** Copies every PT_LOAD segment to p_paddr and zeroes its bss tail (p_memsz beyond p_filesz). */
export function loadElfSegments(elf: ElfImage, bytes: Uint8Array, mem: GuestMemory): void {
  checkElfFitsRam(elf, mem.ramSize);
  for (const s of elf.loads) {
    if (s.filesz) mem.writeMem(s.paddr, bytes.subarray(s.offset, s.offset + s.filesz));
    if (s.memsz > s.filesz) mem.fillMem(s.paddr + s.filesz, s.memsz - s.filesz, 0);
  }
}

/** Translates a virtual address inside a PT_LOAD segment to its physical address (identity if none contains it). */
export function elfVirtToPhys(elf: ElfImage, vaddr: number): number {
  for (const s of elf.loads) {
    if (vaddr >= s.vaddr && vaddr - s.vaddr < s.memsz) return (s.paddr + (vaddr - s.vaddr)) >>> 0;
  }
  return vaddr >>> 0;
}

export interface ElfBuildSegment {
  /** physical (= virtual, unless vaddr is given) load address */
  paddr: number;
  vaddr?: number;
  data: ArrayLike<number>;
  /** defaults to data.length; larger values add a zeroed bss tail */
  memsz?: number;
  flags?: number;
}

/**
 * Writes a minimal ET_EXEC EM_386 image: header, program headers, then each segment's data at a 16-byte
 * aligned file offset. For tests and for wrapping raw code into a bootable image.
 */
export function buildElf(opts: { entry: number; segments: ElfBuildSegment[]; machine?: number; type?: number }): Uint8Array {
  const phoff = ELF_HEADER_SIZE;
  let off = phoff + PHDR_SIZE * opts.segments.length;
  const offsets: number[] = [];
  for (const s of opts.segments) {
    off = (off + 15) & ~15;
    offsets.push(off);
    off += s.data.length;
  }
  const out = new Uint8Array(off);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, ELFCLASS32, ELFDATA2LSB, EV_CURRENT]);
  dv.setUint16(0x10, opts.type ?? ET_EXEC, true);
  dv.setUint16(0x12, opts.machine ?? EM_386, true);
  dv.setUint32(0x14, EV_CURRENT, true);
  dv.setUint32(0x18, opts.entry >>> 0, true);
  dv.setUint32(0x1c, phoff, true);
  dv.setUint16(0x28, ELF_HEADER_SIZE, true);
  dv.setUint16(0x2a, PHDR_SIZE, true);
  dv.setUint16(0x2c, opts.segments.length, true);
  dv.setUint16(0x2e, 40, true);
  opts.segments.forEach((s, i) => {
    const o = phoff + i * PHDR_SIZE;
    dv.setUint32(o, PT_LOAD, true);
    dv.setUint32(o + 4, offsets[i], true);
    dv.setUint32(o + 8, (s.vaddr ?? s.paddr) >>> 0, true);
    dv.setUint32(o + 12, s.paddr >>> 0, true);
    dv.setUint32(o + 16, s.data.length, true);
    dv.setUint32(o + 20, (s.memsz ?? s.data.length) >>> 0, true);
    dv.setUint32(o + 24, s.flags ?? PF_R | PF_W | PF_X, true);
    dv.setUint32(o + 28, 16, true);
    out.set(s.data, offsets[i]);
  });
  return out;
}
