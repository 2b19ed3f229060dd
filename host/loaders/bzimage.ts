// bzimage.ts — the Linux/x86 boot protocol (the kernel's Documentation/x86/boot.rst), 32-bit entry, in the role
// QEMU's `-kernel/-initrd/-append` plays for a bzImage: no real-mode setup code runs; the loader does what setup
// would have done and enters the protected-mode kernel.
//
//  - The image: a real-mode part of (setup_sects + 1) sectors (setup_sects 0 means 4) holding the setup header at
//    0x1F1 (boot_flag 0xAA55 at 0x1FE, "HdrS" at 0x202, the protocol version at 0x206), then the protected-mode
//    kernel. We need protocol ≥ 2.04 (bzImage, 32-bit syssize) and LOADED_HIGH (loadflags bit 0).
//  - The protected-mode kernel is loaded at 1 MiB (code32_start); a relocatable kernel decompresses itself to its
//    pref_address and needs init_size bytes there, so RAM must reach pref_address + init_size.
//  - boot_params ("zero page", 4 KiB, zeroed): the setup header copied from the image (0x1F1 up to
//    0x202 + the byte at 0x201), then type_of_loader = 0xFF (undefined loader), cmd_line_ptr, ramdisk_image/size,
//    an e820 map (e820_entries at 0x1E8, the table at 0x2D0, 20 bytes per entry) and alt_mem_k.
//  - The initrd goes as high as possible, page aligned, below initrd_addr_max and the end of RAM (as boot.rst
//    recommends), and above the area the kernel decompresses into.
//  - Entry (the "32-bit boot protocol" section): a GDT with flat 4 GiB __BOOT_CS = 0x10 (execute/read) and
//    __BOOT_DS = 0x18 (read/write); CS = __BOOT_CS, DS = ES = SS = __BOOT_DS; interrupts off; ESI = boot_params;
//    EBP = EDI = EBX = 0; EIP = code32_start.
//
// Low memory as this loader leaves it:
//   0x0_7000  the boot GDT (null, null, __BOOT_CS, __BOOT_DS)
//   0x0_7C00  initial ESP (the kernel's startup_32 takes its own stack from boot_params' scratch field at once)
//   0x1_0000  boot_params (4 KiB)
//   0x2_0000  the command line (at most cmdline_size bytes + NUL)
//   0x9_FC00  EBDA (reserved in the e820 map; the MP tables on the "mp" platform)
//   0xF_0000  the SMBIOS entry point and structure table (smbios.ts; in the reserved BIOS area)
//   0x10_0000 the protected-mode kernel
import type { GuestMemory } from "../elf.ts";
import { EBDA_ADDR, type MpConfig, writeMpTables } from "../devices/mptable.ts";
import { writeSmbios } from "./smbios.ts";

export const BOOT_PARAMS_ADDR = 0x10000;
export const BOOT_CMDLINE_ADDR = 0x20000;
export const BOOT_GDT_ADDR = 0x7000;
export const BOOT_ESP = 0x7c00;
export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;
const HIGH_MEM = 0x100000;
const LOW_MEM_END = EBDA_ADDR;
const BIOS_AREA = 0xf0000;

// setup header offsets (in the image and in boot_params alike)
const HDR = {
  SETUP_SECTS: 0x1f1, BOOT_FLAG: 0x1fe, JUMP: 0x200, HEADER: 0x202, VERSION: 0x206, TYPE_OF_LOADER: 0x210,
  LOADFLAGS: 0x211, CODE32_START: 0x214, RAMDISK_IMAGE: 0x218, RAMDISK_SIZE: 0x21c, HEAP_END_PTR: 0x224,
  CMD_LINE_PTR: 0x228, INITRD_ADDR_MAX: 0x22c, KERNEL_ALIGNMENT: 0x230, RELOCATABLE: 0x234, XLOADFLAGS: 0x236,
  CMDLINE_SIZE: 0x238, PREF_ADDRESS: 0x258, INIT_SIZE: 0x260,
} as const;
// other boot_params fields (zero-page.rst)
const BP_ALT_MEM_K = 0x1e0, BP_E820_ENTRIES = 0x1e8, BP_E820_TABLE = 0x2d0, E820_MAX_ENTRIES = 128;
export const HDRS_MAGIC = 0x53726448; // "HdrS"
const LOADED_HIGH = 1 << 0;
export const E820_RAM = 1, E820_RESERVED = 2;

export class BzImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BzImageError";
  }
}

const hex = (n: number) => "0x" + (n >>> 0).toString(16);

/** True if the bytes carry a Linux setup header ("HdrS" at 0x202 and the 0xAA55 boot flag). */
export function isBzImage(image: Uint8Array): boolean {
  if (image.length < 0x206) return false;
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  return dv.getUint32(HDR.HEADER, true) === HDRS_MAGIC && dv.getUint16(HDR.BOOT_FLAG, true) === 0xaa55;
}

export interface SetupHeader {
  version: number;
  setupSects: number;
  loadflags: number;
  code32Start: number;
  initrdAddrMax: number;
  kernelAlignment: number;
  relocatable: boolean;
  cmdlineSize: number;
  prefAddress: number;
  initSize: number;
  /** bytes of the header as the image has them, 0x1F1 .. 0x202 + jump[1] */
  end: number;
}

/** Parses and checks the setup header; throws BzImageError (one line) for anything this loader cannot boot. */
export function parseSetupHeader(image: Uint8Array): SetupHeader {
  if (!isBzImage(image)) throw new BzImageError(`not a Linux bzImage (no "HdrS" setup header at ${hex(HDR.HEADER)})`);
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const version = dv.getUint16(HDR.VERSION, true);
  const vs = `${version >> 8}.${(version & 0xff).toString().padStart(2, "0")}`;
  if (version < 0x204) throw new BzImageError(`Linux boot protocol ${vs} is too old (at least 2.04 is needed)`);
  const end = HDR.HEADER + image[HDR.JUMP + 1];
  if (end > image.length) {
    throw new BzImageError(`truncated bzImage: the setup header ends at ${hex(end)}, past the end of the file (${image.length} bytes)`);
  }
  const u32 = (o: number) => (o + 4 <= end ? dv.getUint32(o, true) : 0);
  const setupSects = image[HDR.SETUP_SECTS] || 4;
  const loadflags = image[HDR.LOADFLAGS];
  if (!(loadflags & LOADED_HIGH)) throw new BzImageError("not a bzImage: a zImage (loadflags LOADED_HIGH clear) must be loaded at 0x10000 by real-mode setup code");
  const h: SetupHeader = {
    version, setupSects, loadflags, end,
    code32Start: u32(HDR.CODE32_START),
    initrdAddrMax: version >= 0x203 ? u32(HDR.INITRD_ADDR_MAX) : 0x37ffffff,
    kernelAlignment: version >= 0x205 ? u32(HDR.KERNEL_ALIGNMENT) : 0,
    relocatable: version >= 0x205 && image[HDR.RELOCATABLE] !== 0,
    cmdlineSize: version >= 0x206 ? u32(HDR.CMDLINE_SIZE) : 255,
    prefAddress: version >= 0x20a && HDR.PREF_ADDRESS + 8 <= end ? dv.getUint32(HDR.PREF_ADDRESS, true) + dv.getUint32(HDR.PREF_ADDRESS + 4, true) * 2 ** 32 : HIGH_MEM,
    initSize: version >= 0x20a ? u32(HDR.INIT_SIZE) : 0,
  };
  if ((setupSects + 1) * 512 >= image.length) throw new BzImageError(`truncated bzImage: ${setupSects + 1} setup sectors and no protected-mode kernel after them (${image.length} bytes)`);
  if (h.code32Start !== HIGH_MEM) throw new BzImageError(`bzImage code32_start ${hex(h.code32Start)} is not 1 MiB`);
  return h;
}

export interface BzImageOptions {
  cmdline?: string;
  initrd?: Uint8Array;
  /** the "mp" platform: leave the Intel MP tables in the EBDA, as for a multiboot kernel */
  mpTables?: MpConfig;
}

export interface BzImageBoot {
  entry: number;
  bootParams: number;
  header: SetupHeader;
  kernel: { start: number; end: number };
  initrd?: { start: number; end: number };
  e820: { base: number; length: number; type: number }[];
}

/** Loads a bzImage (and an initrd) into guest memory and fills boot_params. Throws BzImageError (one line). */
export function loadBzImage(image: Uint8Array, mem: GuestMemory, opts: BzImageOptions = {}): BzImageBoot {
  const h = parseSetupHeader(image);
  const ram = mem.ramSize;
  const kernelBytes = image.subarray((h.setupSects + 1) * 512);
  const kernelEnd = HIGH_MEM + kernelBytes.length;
  // where the kernel decompresses itself: its preferred address (relocatable or not), init_size bytes
  const runStart = Math.max(HIGH_MEM, h.prefAddress);
  const runEnd = Math.max(kernelEnd, runStart + h.initSize);
  if (runEnd > ram) throw new BzImageError(`guest RAM (${ram >>> 20} MiB) is too small for this kernel: it needs up to ${hex(runEnd)} (${Math.ceil(runEnd / 2 ** 20)} MiB) to decompress itself; give the VM more memory (--mem)`);

  const cmd = new TextEncoder().encode(opts.cmdline ?? "");
  if (cmd.length > h.cmdlineSize) throw new BzImageError(`kernel command line too long (${cmd.length} bytes, this kernel takes at most ${h.cmdlineSize})`);
  if (cmd.includes(0)) throw new BzImageError("kernel command line contains a NUL byte");

  let initrd: BzImageBoot["initrd"];
  if (opts.initrd) {
    const size = opts.initrd.length;
    const top = Math.min(ram, h.initrdAddrMax + 1);
    const start = Math.floor((top - size) / 4096) * 4096;
    if (size === 0) throw new BzImageError("the initrd is empty");
    if (start < runEnd) throw new BzImageError(`the initrd (${size} bytes) does not fit in guest RAM above the kernel (ends at ${hex(runEnd)}) and below ${hex(top)}; give the VM more memory (--mem)`);
    initrd = { start, end: start + size };
  }

  // ---- memory ----
  mem.writeMem(HIGH_MEM, kernelBytes);
  if (initrd) mem.writeMem(initrd.start, opts.initrd!);
  const cmdz = new Uint8Array(cmd.length + 1);
  cmdz.set(cmd);
  mem.writeMem(BOOT_CMDLINE_ADDR, cmdz);

  // ---- boot_params ----
  const bp = new Uint8Array(4096);
  const dv = new DataView(bp.buffer);
  bp.set(image.subarray(HDR.SETUP_SECTS, h.end), HDR.SETUP_SECTS);
  bp[HDR.TYPE_OF_LOADER] = 0xff; // "undefined" boot loader
  // no real-mode setup code runs, so no heap: CAN_USE_HEAP stays as the image has it (clear), QUIET_FLAG untouched
  dv.setUint32(HDR.CMD_LINE_PTR, BOOT_CMDLINE_ADDR, true);
  if (initrd) {
    dv.setUint32(HDR.RAMDISK_IMAGE, initrd.start, true);
    dv.setUint32(HDR.RAMDISK_SIZE, initrd.end - initrd.start, true);
  }
  const e820: BzImageBoot["e820"] = [
    { base: 0, length: Math.min(ram, LOW_MEM_END), type: E820_RAM },
    { base: LOW_MEM_END, length: 0xa0000 - LOW_MEM_END, type: E820_RESERVED }, // EBDA
    { base: BIOS_AREA, length: HIGH_MEM - BIOS_AREA, type: E820_RESERVED }, // BIOS ROM
    { base: HIGH_MEM, length: ram - HIGH_MEM, type: E820_RAM },
  ];
  e820.forEach((e, i) => {
    const o = BP_E820_TABLE + i * 20;
    dv.setUint32(o, e.base, true);
    dv.setUint32(o + 8, e.length, true);
    dv.setUint32(o + 16, e.type, true);
  });
  if (e820.length > E820_MAX_ENTRIES) throw new BzImageError("e820 map too long");
  bp[BP_E820_ENTRIES] = e820.length;
  dv.setUint32(BP_ALT_MEM_K, Math.floor((ram - HIGH_MEM) / 1024), true); // KiB above 1 MiB, as BIOS int 15h E801
  mem.writeMem(BOOT_PARAMS_ADDR, bp);

  // ---- the boot GDT: flat 4 GiB code (0x10) and data (0x18) ----
  const gdt = new Uint8Array(32);
  const gv = new DataView(gdt.buffer);
  gv.setUint32(16, 0x0000ffff, true); gv.setUint32(20, 0x00cf9b00, true); // base 0, limit 0xFFFFF pages, code r/x
  gv.setUint32(24, 0x0000ffff, true); gv.setUint32(28, 0x00cf9300, true); // data r/w
  mem.writeMem(BOOT_GDT_ADDR, gdt);

  if (opts.mpTables) writeMpTables(mem, opts.mpTables);
  writeSmbios(mem); // DMI, as SeaBIOS leaves it for QEMU's -kernel
  return { entry: h.code32Start, bootParams: BOOT_PARAMS_ADDR, header: h, kernel: { start: HIGH_MEM, end: kernelEnd }, initrd, e820 };
}

/** The CPU side of the 32-bit entry (what a Machine offers). */
export interface BzImageCpu {
  setFlatProtectedMode(): void;
  setSegment(name: "cs" | "ds" | "es" | "ss" | "fs" | "gs", s: { selector: number; base: number; limit: number; attr: number }): void;
  setGdtr(base: number, limit: number): void;
  setReg(name: "eax" | "ebx" | "ecx" | "edx" | "esi" | "edi" | "ebp" | "esp" | "eip" | "eflags", value: number): void;
}

/** Puts the CPU in the protocol's 32-bit entry state for a loaded kernel. */
export function enterBzImage(cpu: BzImageCpu, boot: BzImageBoot): void {
  cpu.setFlatProtectedMode(); // CR0.PE, paging off, flat caches; the selectors follow
  cpu.setGdtr(BOOT_GDT_ADDR, 31);
  cpu.setSegment("cs", { selector: BOOT_CS, base: 0, limit: 0xffffffff, attr: 0xc09b });
  for (const s of ["ds", "es", "ss", "fs", "gs"] as const) cpu.setSegment(s, { selector: BOOT_DS, base: 0, limit: 0xffffffff, attr: 0xc093 });
  for (const r of ["eax", "ebx", "ecx", "edx", "edi", "ebp"] as const) cpu.setReg(r, 0);
  cpu.setReg("esi", boot.bootParams);
  cpu.setReg("esp", BOOT_ESP);
  cpu.setReg("eflags", 0x2); // IF = 0
  cpu.setReg("eip", boot.entry);
}
