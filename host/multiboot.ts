// multiboot.ts — a Multiboot v1 boot loader (Multiboot Specification 0.6.96), in the role QEMU's `-kernel` plays.
//
// §3.1.1: the header is a 4-byte aligned {magic 0x1BADB002, flags, checksum} wholly inside the image's first
//         8192 bytes, with magic + flags + checksum = 0 (mod 2^32).
// §3.1.2: flags bits 0..15 are requirements (0: page-align modules, 1: memory info, 2: video mode table); a loader
//         that does not understand one of them must refuse the image. Bits 16..31 are optional.
// §3.1.3: flag bit 16: the header's address fields say where to load the image (used even for ELF images, as
//         GRUB and QEMU do); otherwise the image must be ELF and its PT_LOAD segments are loaded at p_paddr.
// §3.2:   machine state at entry: EAX=0x2BADB002, EBX=physical address of the multiboot information, CS a
//         flat 32-bit code segment, DS/ES/FS/GS/SS flat data segments, A20 on, CR0.PE=1, CR0.PG=0,
//         EFLAGS.VM=0, EFLAGS.IF=0; ESP, GDTR and IDTR are undefined (the OS must set its own).
// §3.3:   the multiboot information structure.
//
// Low memory as this loader leaves it (the boot information sits below 1 MiB, at 0x9000 as QEMU's does):
//
//   0x0000_0000 +--------------------------+
//               | (free; real-mode IVT/BDA |
//               |  on a PC — not filled,   |
//               |  but with mpTables: BDA  |
//               |  40:0E and 40:13 set)    |
//   0x0000_7C00 +--------------------------+ <- initial ESP (INITIAL_ESP; stack grows down into free memory)
//   0x0000_9000 +--------------------------+ BOOT_INFO_ADDR: multiboot_info (§3.3), 0x80 bytes
//   0x0000_9080 | memory map (mmap_*)      |
//   0x0000_9100 | module list (mods_*)     |
//   0x0000_9200 | "wasmvisor\0"            |
//   0x0000_9300 | command line, NUL-ended  | (at most MAX_CMDLINE bytes)
//   0x0000_A300 | module strings           |
//   0x0001_0000 +--------------------------+ BOOT_AREA_END: the kernel must not load below here
//               | ...                      |
//   0x0009_FC00 +--------------------------+ end of "low memory" (mem_lower = 639 KiB); EBDA (reserved):
//               |                          |   with mpTables, the MP floating pointer + config table
//   0x0010_0000 +--------------------------+ 1 MiB: kernels conventionally load here; modules follow the kernel
import { ElfError, type GuestMemory, parseElf, isElf, loadElfSegments, checkElfFitsRam, elfVirtToPhys } from "./elf.ts";
import { EBDA_ADDR, type MpConfig, writeMpTables } from "./devices/mptable.ts";

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** §3.1.1: the header must lie completely inside the first 8192 bytes */
export const MULTIBOOT_SEARCH = 8192;

// header flags (§3.1.2)
export const MBH_PAGE_ALIGN = 1 << 0;
export const MBH_MEMORY_INFO = 1 << 1;
export const MBH_VIDEO_MODE = 1 << 2;
export const MBH_AOUT_KLUDGE = 1 << 16;
/** the requirement bits (0..15) this loader understands */
const MBH_KNOWN_REQUIRED = MBH_PAGE_ALIGN | MBH_MEMORY_INFO | MBH_VIDEO_MODE;

// info flags (§3.3)
export const MBI_MEMORY = 1 << 0;
export const MBI_BOOTDEV = 1 << 1;
export const MBI_CMDLINE = 1 << 2;
export const MBI_MODS = 1 << 3;
export const MBI_MEM_MAP = 1 << 6;
export const MBI_BOOT_LOADER_NAME = 1 << 9;

// multiboot_info field offsets (§3.3)
const MBI_FLAGS = 0, MBI_MEM_LOWER = 4, MBI_MEM_UPPER = 8, MBI_CMDLINE_ADDR = 16, MBI_MODS_COUNT = 20, MBI_MODS_ADDR = 24;
const MBI_MMAP_LENGTH = 44, MBI_MMAP_ADDR = 48, MBI_LOADER_NAME = 64;

export const BOOT_INFO_ADDR = 0x9000;
const MMAP_ADDR = 0x9080;
const MODS_ADDR = 0x9100;
const LOADER_NAME_ADDR = 0x9200;
const CMDLINE_ADDR = 0x9300;
const MOD_STRINGS_ADDR = 0xa300;
export const BOOT_AREA_END = 0x10000;
/** command line bytes, including the NUL */
export const MAX_CMDLINE = MOD_STRINGS_ADDR - CMDLINE_ADDR;
/** 16 bytes per module entry between MODS_ADDR and LOADER_NAME_ADDR */
export const MAX_MODULES = (LOADER_NAME_ADDR - MODS_ADDR) / 16;
export const BOOT_LOADER_NAME = "wasmvisor";
/**
 * ESP at entry. §3.2 leaves it undefined; QEMU enters the kernel with whatever its option ROM's real-mode stack
 * left (a low-memory address below 0x7C00). We pick 0x7C00, the classic boot-sector address: below the boot
 * information, so a kernel that pushes before loading its own stack scribbles only on free low memory.
 */
export const INITIAL_ESP = 0x7c00;

/** Top of conventional memory and start of the BIOS area, as a PC with 639 KiB of low memory reports them. */
const LOW_MEM_END = 0x9fc00;
const BIOS_AREA = 0xf0000;
const HIGH_MEM = 0x100000;

export class MultibootError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MultibootError";
  }
}

export interface MultibootHeader {
  /** file offset of the magic */
  offset: number;
  flags: number;
  /** present when flags bit 16 is set */
  addr?: { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number };
}

export interface MultibootModule {
  data: Uint8Array;
  /** the module's string (§3.3 mods: "usually a command line") */
  string?: string;
}

export interface MultibootOptions {
  cmdline?: string;
  modules?: MultibootModule[];
  /**
   * Platform with APICs: also leave the Intel MP tables as a firmware would (MP spec 1.4 §4, found by the §5.1
   * search): floating pointer + configuration table in the first KiB of the EBDA at 0x9FC00 (already reserved in
   * the memory map) and the BIOS data area words 40:0E (EBDA segment) and 40:13 (base memory KiB). See
   * host/devices/mptable.ts.
   */
  mpTables?: MpConfig;
}

export interface LoadedRange { start: number; end: number; what: string }

export interface MultibootBoot {
  entry: number;
  /** EBX at entry */
  infoAddr: number;
  header: MultibootHeader;
  /** "elf" (PT_LOAD at p_paddr) or "address-fields" (flags bit 16) */
  method: "elf" | "address-fields";
  /** physical ranges written: kernel, bss, modules */
  ranges: LoadedRange[];
  /** module placement, in order */
  modules: { start: number; end: number }[];
}

const hex = (n: number) => "0x" + (n >>> 0).toString(16);

/** §3.1.1: the first 4-byte aligned header in the first 8192 bytes whose checksum holds; null if none. */
export function findMultibootHeader(image: Uint8Array): MultibootHeader | null {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const limit = Math.min(MULTIBOOT_SEARCH, image.length);
  for (let off = 0; off + 12 <= limit; off += 4) {
    if (dv.getUint32(off, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = dv.getUint32(off + 4, true);
    const checksum = dv.getUint32(off + 8, true);
    if (((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0) !== 0) continue; // a stray magic: keep looking
    const h: MultibootHeader = { offset: off, flags };
    if (flags & MBH_AOUT_KLUDGE) {
      if (off + 32 > image.length) throw new MultibootError(`truncated multiboot header at offset ${hex(off)}: the address fields (flags bit 16) extend past the end of the file`);
      h.addr = {
        headerAddr: dv.getUint32(off + 12, true), loadAddr: dv.getUint32(off + 16, true),
        loadEndAddr: dv.getUint32(off + 20, true), bssEndAddr: dv.getUint32(off + 24, true),
        entryAddr: dv.getUint32(off + 28, true),
      };
    }
    return h;
  }
  return null;
}

/**
 * Loads a multiboot kernel image and builds the multiboot information in low memory.
 * Throws MultibootError / ElfError with a one-line message for anything malformed or not fitting RAM.
 * Does not touch CPU state: see enterMultiboot() for that.
 */
export function loadMultiboot(image: Uint8Array, mem: GuestMemory, opts: MultibootOptions = {}): MultibootBoot {
  const ram = mem.ramSize;
  if (ram < HIGH_MEM) throw new MultibootError(`guest RAM (${ram} bytes) is smaller than 1 MiB; a multiboot guest needs at least 1 MiB`);
  const header = findMultibootHeader(image);
  if (!header) {
    const where = `no multiboot header in the first ${MULTIBOOT_SEARCH} bytes (magic ${hex(MULTIBOOT_HEADER_MAGIC)} with a valid checksum)`;
    if (!isElf(image)) throw new MultibootError(`not an ELF file (bad magic), and ${where}`);
    parseElf(image); // a non-x86 / 64-bit ELF gets the more useful ELF message
    throw new MultibootError(`not a multiboot kernel: ${where}`);
  }
  const unknown = header.flags & 0xffff & ~MBH_KNOWN_REQUIRED;
  if (unknown) throw new MultibootError(`multiboot header requires unsupported features (flags bits ${hex(unknown)})`);

  const ranges: LoadedRange[] = [];
  let entry: number;
  let method: MultibootBoot["method"];
  if (header.addr) {
    method = "address-fields";
    const { headerAddr, loadAddr, loadEndAddr, bssEndAddr, entryAddr } = header.addr;
    // §3.1.3: the file offset to load from is header offset - (header_addr - load_addr)
    if (loadAddr > headerAddr) throw new MultibootError(`multiboot load_addr ${hex(loadAddr)} is above header_addr ${hex(headerAddr)}`);
    const fileOff = header.offset - (headerAddr - loadAddr);
    if (fileOff < 0) throw new MultibootError(`multiboot header_addr - load_addr (${hex(headerAddr - loadAddr)}) reaches before the start of the file`);
    let size: number;
    if (loadEndAddr === 0) size = image.length - fileOff; // the text and data run to the end of the file
    else {
      if (loadEndAddr < loadAddr) throw new MultibootError(`multiboot load_end_addr ${hex(loadEndAddr)} is below load_addr ${hex(loadAddr)}`);
      size = loadEndAddr - loadAddr;
      if (fileOff + size > image.length) throw new MultibootError(`truncated image: load_end_addr - load_addr = ${hex(size)} bytes from file offset ${hex(fileOff)} runs past the end of the file (${image.length} bytes)`);
    }
    const loadEnd = loadAddr + size;
    let bssEnd = loadEnd;
    if (bssEndAddr !== 0) {
      if (bssEndAddr < loadEnd) throw new MultibootError(`multiboot bss_end_addr ${hex(bssEndAddr)} is below the end of the loaded data ${hex(loadEnd)}`);
      bssEnd = bssEndAddr;
    }
    if (bssEnd > ram) throw new MultibootError(`kernel [${hex(loadAddr)}, ${hex(bssEnd)}) is outside guest RAM (${ram} bytes); give the VM more memory (--mem)`);
    ranges.push({ start: loadAddr, end: loadEnd, what: "kernel" });
    if (bssEnd > loadEnd) ranges.push({ start: loadEnd, end: bssEnd, what: "bss" });
    checkBootAreaClear(ranges);
    mem.writeMem(loadAddr, image.subarray(fileOff, fileOff + size));
    if (bssEnd > loadEnd) mem.fillMem(loadEnd, bssEnd - loadEnd, 0);
    entry = entryAddr;
    if (entry < loadAddr || entry >= bssEnd) {
      // Not fatal for the spec, but a kernel entered outside what was loaded runs garbage: refuse it.
      throw new MultibootError(`multiboot entry_addr ${hex(entry)} is outside the loaded kernel [${hex(loadAddr)}, ${hex(bssEnd)})`);
    }
  } else {
    method = "elf";
    if (!isElf(image)) throw new MultibootError("multiboot header has no address fields (flags bit 16) and the image is not an ELF file");
    const elf = parseElf(image);
    checkElfFitsRam(elf, ram);
    for (const s of elf.loads) {
      ranges.push({ start: s.paddr, end: s.paddr + s.filesz, what: `segment ${s.index}` });
      if (s.memsz > s.filesz) ranges.push({ start: s.paddr + s.filesz, end: s.paddr + s.memsz, what: `segment ${s.index} bss` });
    }
    checkBootAreaClear(ranges);
    loadElfSegments(elf, image, mem);
    // Paging is off at entry, so a virtual e_entry (higher-half kernels) is translated through its segment.
    entry = elfVirtToPhys(elf, elf.entry);
  }

  // ---- modules (§3.3 mods_*): after the kernel, page-aligned (we always align, which satisfies flags bit 0) ----
  let next = pageUp(Math.max(HIGH_MEM, ...ranges.map((r) => r.end)));
  const mods = opts.modules ?? [];
  if (mods.length > MAX_MODULES) throw new MultibootError(`too many modules (${mods.length}, at most ${MAX_MODULES})`);
  const placed: { start: number; end: number }[] = [];
  for (const [i, m] of mods.entries()) {
    const start = next, end = start + m.data.length;
    if (end > ram) throw new MultibootError(`module ${i} (${m.data.length} bytes at ${hex(start)}) does not fit in guest RAM (${ram} bytes)`);
    mem.writeMem(start, m.data);
    placed.push({ start, end });
    ranges.push({ start, end, what: `module ${i}` });
    next = pageUp(end);
  }

  // ---- the information structure (§3.3) ----
  const info = new Uint8Array(BOOT_AREA_END - BOOT_INFO_ADDR);
  const dv = new DataView(info.buffer);
  const at = (addr: number) => addr - BOOT_INFO_ADDR;
  let flags = MBI_MEMORY | MBI_CMDLINE | MBI_MEM_MAP | MBI_BOOT_LOADER_NAME;
  // mem_lower: KiB from 0 (at most 640); mem_upper: KiB from 1 MiB to the first hole (here: the end of RAM).
  dv.setUint32(MBI_MEM_LOWER, Math.floor(Math.min(ram, LOW_MEM_END) / 1024), true);
  dv.setUint32(MBI_MEM_UPPER, Math.floor((ram - HIGH_MEM) / 1024), true);

  const cmdline = utf8z(opts.cmdline ?? "");
  if (cmdline.length > MAX_CMDLINE) throw new MultibootError(`command line too long (${cmdline.length - 1} bytes, at most ${MAX_CMDLINE - 1})`);
  info.set(cmdline, at(CMDLINE_ADDR));
  dv.setUint32(MBI_CMDLINE_ADDR, CMDLINE_ADDR, true);

  info.set(utf8z(BOOT_LOADER_NAME), at(LOADER_NAME_ADDR));
  dv.setUint32(MBI_LOADER_NAME, LOADER_NAME_ADDR, true);

  // memory map: size (of the rest, 20), base_addr u64, length u64, type (1 = available RAM, 2 = reserved)
  const map: [number, number, number][] = [
    [0, Math.min(ram, LOW_MEM_END), 1],
    [LOW_MEM_END, 0xa0000 - LOW_MEM_END, 2], // EBDA
    [BIOS_AREA, HIGH_MEM - BIOS_AREA, 2], // BIOS ROM
    [HIGH_MEM, ram - HIGH_MEM, 1],
  ];
  let m = at(MMAP_ADDR);
  for (const [base, len, type] of map) {
    if (len <= 0) continue;
    dv.setUint32(m, 20, true);
    dv.setUint32(m + 4, base, true); dv.setUint32(m + 8, 0, true);
    dv.setUint32(m + 12, len, true); dv.setUint32(m + 16, 0, true);
    dv.setUint32(m + 20, type, true);
    m += 24;
  }
  dv.setUint32(MBI_MMAP_ADDR, MMAP_ADDR, true);
  dv.setUint32(MBI_MMAP_LENGTH, m - at(MMAP_ADDR), true);

  if (placed.length) {
    flags |= MBI_MODS;
    let s = at(MOD_STRINGS_ADDR);
    placed.forEach((p, i) => {
      const str = utf8z(mods[i].string ?? "");
      if (s + str.length > info.length) throw new MultibootError("module strings too long (the boot information area is full)");
      info.set(str, s);
      const e = at(MODS_ADDR) + i * 16;
      dv.setUint32(e, p.start, true);
      dv.setUint32(e + 4, p.end, true);
      dv.setUint32(e + 8, BOOT_INFO_ADDR + s, true);
      s += str.length;
    });
    dv.setUint32(MBI_MODS_COUNT, placed.length, true);
    dv.setUint32(MBI_MODS_ADDR, MODS_ADDR, true);
  }
  dv.setUint32(MBI_FLAGS, flags, true);
  mem.writeMem(BOOT_INFO_ADDR, info);

  // ---- MP tables (platform "mp") ----
  if (opts.mpTables) {
    for (const r of ranges) {
      if (r.end > r.start && r.start < 0xa0000 && r.end > EBDA_ADDR) {
        throw new MultibootError(`kernel ${r.what} [${hex(r.start)}, ${hex(r.end)}) overlaps the EBDA at ${hex(EBDA_ADDR)} (MP tables)`);
      }
    }
    writeMpTables(mem, opts.mpTables);
  }

  return { entry, infoAddr: BOOT_INFO_ADDR, header, method, ranges, modules: placed };
}

/** The CPU side of §3.2 (what setFlatProtectedMode/setReg do on a Machine). */
export interface MultibootCpu {
  setFlatProtectedMode(): void;
  setReg(name: "eax" | "ebx" | "esp" | "eip" | "eflags", value: number): void;
}

/** Puts the CPU in the §3.2 entry state for a loaded kernel. */
export function enterMultiboot(cpu: MultibootCpu, boot: MultibootBoot): void {
  cpu.setFlatProtectedMode(); // CS=0x08, DS/ES/FS/GS/SS=0x10, base 0, limit 4 GiB, CR0.PE=1, CR0.PG=0
  cpu.setReg("eax", MULTIBOOT_BOOTLOADER_MAGIC);
  cpu.setReg("ebx", boot.infoAddr);
  cpu.setReg("esp", INITIAL_ESP);
  cpu.setReg("eflags", 0x2); // IF=0, VM=0; bit 1 is always set
  cpu.setReg("eip", boot.entry);
}

function checkBootAreaClear(ranges: LoadedRange[]): void {
  for (const r of ranges) {
    if (r.end > r.start && r.start < BOOT_AREA_END) {
      throw new MultibootError(`kernel ${r.what} [${hex(r.start)}, ${hex(r.end)}) overlaps the boot information area below ${hex(BOOT_AREA_END)}; link the kernel at 1 MiB`);
    }
  }
}

function pageUp(n: number): number {
  return Math.ceil(n / 4096) * 4096;
}

function utf8z(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

export { ElfError };
