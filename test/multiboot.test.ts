// multiboot.test.ts — the Multiboot v1 loader (spec 0.6.96) on hand-built images.
import { describe, it, expect } from "vitest";
import { buildElf, ElfError, type GuestMemory } from "../host/elf.ts";
import {
  findMultibootHeader, loadMultiboot, enterMultiboot, MultibootError, MULTIBOOT_HEADER_MAGIC, MULTIBOOT_BOOTLOADER_MAGIC,
  BOOT_INFO_ADDR, INITIAL_ESP, MBI_MEMORY, MBI_CMDLINE, MBI_MEM_MAP, MBI_BOOT_LOADER_NAME, MBI_MODS, MBH_AOUT_KLUDGE,
} from "../host/multiboot.ts";

class ArrayMemory implements GuestMemory {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  constructor(readonly ramSize: number) { this.bytes = new Uint8Array(ramSize); this.dv = new DataView(this.bytes.buffer); }
  writeMem(p: number, d: ArrayLike<number>) {
    if (p < 0 || p + d.length > this.ramSize) throw new RangeError("outside RAM");
    this.bytes.set(d, p);
  }
  fillMem(p: number, len: number, v = 0) { this.bytes.fill(v, p, p + len); }
  u32(p: number) { return this.dv.getUint32(p, true); }
  str(p: number) { let e = p; while (this.bytes[e]) e++; return new TextDecoder().decode(this.bytes.subarray(p, e)); }
}

/** A multiboot header (magic, flags, checksum[, address fields]) as bytes. */
function mbHeader(flags: number, addr?: number[], checksum?: number): Uint8Array {
  const words = [MULTIBOOT_HEADER_MAGIC, flags, checksum ?? -(MULTIBOOT_HEADER_MAGIC + flags), ...(addr ?? [])];
  const b = new Uint8Array(words.length * 4);
  const dv = new DataView(b.buffer);
  words.forEach((w, i) => dv.setUint32(i * 4, w >>> 0, true));
  return b;
}

// kernel text: header, then code at +12
//   100000: <multiboot header>
//   10000c: f4        hlt
const mbElf = (flags = 0, memsz = 0x2000) => {
  const text = new Uint8Array(16);
  text.set(mbHeader(flags));
  text[12] = 0xf4;
  return buildElf({ entry: 0x10000c, segments: [{ paddr: 0x100000, data: text, memsz }] });
};
const errorOf = (f: () => unknown): string => {
  try { f(); } catch (e) { expect(e instanceof MultibootError || e instanceof ElfError).toBe(true); return (e as Error).message; }
  throw new Error("expected a loader error");
};

describe("findMultibootHeader", () => {
  it("finds a 4-byte aligned header with a valid checksum in the first 8 KiB", () => {
    const img = new Uint8Array(8192);
    img.set(mbHeader(0, undefined, 1), 64); // bad checksum: skipped
    img.set(mbHeader(0), 130); // misaligned: skipped
    img.set(mbHeader(3), 8192 - 12); // last possible slot
    expect(findMultibootHeader(img)).toEqual({ offset: 8180, flags: 3 });
  });
  it("ignores headers beyond 8192 bytes", () => {
    const img = new Uint8Array(9000);
    img.set(mbHeader(0), 8192);
    expect(findMultibootHeader(img)).toBeNull();
  });
});

describe("loadMultiboot (ELF)", () => {
  it("loads PT_LOAD at p_paddr, zeroes bss and builds the info structure", () => {
    const mem = new ArrayMemory(4 << 20);
    mem.bytes.fill(0xaa, 0x100000, 0x103000);
    const boot = loadMultiboot(mbElf(), mem, { cmdline: "console=ttyS0 quiet" });
    expect(boot.method).toBe("elf");
    expect(boot.entry).toBe(0x10000c);
    expect(boot.infoAddr).toBe(BOOT_INFO_ADDR);
    expect(mem.u32(0x100000)).toBe(MULTIBOOT_HEADER_MAGIC);
    expect(mem.bytes[0x10000c]).toBe(0xf4);
    expect(mem.bytes.subarray(0x100010, 0x102000).every((b) => b === 0)).toBe(true); // bss
    expect(mem.bytes[0x102000]).toBe(0xaa);

    const mbi = BOOT_INFO_ADDR;
    const flags = mem.u32(mbi);
    expect(flags & (MBI_MEMORY | MBI_CMDLINE | MBI_MEM_MAP | MBI_BOOT_LOADER_NAME)).toBe(MBI_MEMORY | MBI_CMDLINE | MBI_MEM_MAP | MBI_BOOT_LOADER_NAME);
    expect(flags & MBI_MODS).toBe(0);
    expect(mem.u32(mbi + 4)).toBe(639); // mem_lower KiB
    expect(mem.u32(mbi + 8)).toBe(3 * 1024); // mem_upper KiB: 4 MiB - 1 MiB
    expect(mem.str(mem.u32(mbi + 16))).toBe("console=ttyS0 quiet");
    expect(mem.str(mem.u32(mbi + 64))).toBe("wasmvisor");
    expect(mem.u32(mbi + 16)).toBeLessThan(0x100000);

    // memory map: entries of {size=20, base u64, len u64, type}
    const len = mem.u32(mbi + 44), addr = mem.u32(mbi + 48);
    const entries: number[][] = [];
    for (let p = addr; p < addr + len; p += mem.u32(p) + 4) entries.push([mem.u32(p + 4), mem.u32(p + 12), mem.u32(p + 20)]);
    expect(entries).toEqual([[0, 0x9fc00, 1], [0x9fc00, 0x400, 2], [0xf0000, 0x10000, 2], [0x100000, 0x300000, 1]]);
  });

  it("places page-aligned modules after the kernel", () => {
    const mem = new ArrayMemory(4 << 20);
    const boot = loadMultiboot(mbElf(1), mem, { modules: [{ data: Uint8Array.of(1, 2, 3), string: "initrd" }, { data: new Uint8Array(5000) }] });
    expect(boot.modules).toEqual([{ start: 0x102000, end: 0x102003 }, { start: 0x103000, end: 0x103000 + 5000 }]);
    const mbi = BOOT_INFO_ADDR;
    expect(mem.u32(mbi) & MBI_MODS).toBe(MBI_MODS);
    expect(mem.u32(mbi + 20)).toBe(2);
    const m0 = mem.u32(mbi + 24);
    expect([mem.u32(m0), mem.u32(m0 + 4), mem.str(mem.u32(m0 + 8))]).toEqual([0x102000, 0x102003, "initrd"]);
    expect([...mem.bytes.subarray(0x102000, 0x102003)]).toEqual([1, 2, 3]);
  });

  it("sets the §3.2 register state", () => {
    const mem = new ArrayMemory(2 << 20);
    const boot = loadMultiboot(mbElf(), mem);
    const regs: Record<string, number> = {};
    let flat = false;
    enterMultiboot({ setFlatProtectedMode: () => { flat = true; }, setReg: (n, v) => { regs[n] = v; } }, boot);
    expect(flat).toBe(true);
    expect(regs).toEqual({ eax: MULTIBOOT_BOOTLOADER_MAGIC, ebx: BOOT_INFO_ADDR, esp: INITIAL_ESP, eflags: 2, eip: 0x10000c });
  });

  it("rejects bad images with clear messages", () => {
    const mem = () => new ArrayMemory(2 << 20);
    expect(errorOf(() => loadMultiboot(new Uint8Array(100), mem()))).toMatch(/no multiboot header in the first 8192 bytes/);
    const noHeader = buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: [0xf4] }] });
    expect(errorOf(() => loadMultiboot(noHeader, mem()))).toMatch(/no multiboot header/);
    const x64 = mbElf(); new DataView(x64.buffer).setUint16(0x12, 62, true);
    expect(errorOf(() => loadMultiboot(x64, mem()))).toMatch(/not an x86 ELF/);
    expect(errorOf(() => loadMultiboot(mbElf(0x8), mem()))).toMatch(/unsupported features \(flags bits 0x8\)/);
    expect(errorOf(() => loadMultiboot(mbElf(0, 0x200000), mem()))).toMatch(/outside guest RAM/);
    expect(errorOf(() => loadMultiboot(mbElf(), new ArrayMemory(0x80000)))).toMatch(/smaller than 1 MiB/);
    const low = buildElf({ entry: 0x8000, segments: [{ paddr: 0x8000, data: mbHeader(0) }] });
    expect(errorOf(() => loadMultiboot(low, mem()))).toMatch(/overlaps the boot information area/);
    const raw = new Uint8Array(64); raw.set(mbHeader(0));
    expect(errorOf(() => loadMultiboot(raw, mem()))).toMatch(/no address fields .* not an ELF/);
    expect(errorOf(() => loadMultiboot(mbElf(), mem(), { cmdline: "x".repeat(5000) }))).toMatch(/command line too long/);
  });
});

describe("loadMultiboot (address fields, flags bit 16)", () => {
  // A flat binary: 32 bytes of padding, the header at file offset 32, code after it.
  //   header_addr 0x200020, load_addr 0x200000 -> file offset 0 loads at 0x200000
  const flat = (fields: number[], total = 128) => {
    const img = new Uint8Array(total);
    img.set(mbHeader(MBH_AOUT_KLUDGE, fields), 32);
    img[64] = 0xf4;
    return img;
  };
  it("loads the file range the fields describe and zeroes bss", () => {
    const mem = new ArrayMemory(4 << 20);
    mem.bytes.fill(0xaa);
    const boot = loadMultiboot(flat([0x200020, 0x200000, 0x200080, 0x201000, 0x200040]), mem);
    expect(boot.method).toBe("address-fields");
    expect(boot.entry).toBe(0x200040);
    expect(mem.u32(0x200020)).toBe(MULTIBOOT_HEADER_MAGIC);
    expect(mem.bytes[0x200040]).toBe(0xf4);
    expect(mem.bytes.subarray(0x200080, 0x201000).every((b) => b === 0)).toBe(true);
    expect(mem.bytes[0x201000]).toBe(0xaa);
  });
  it("load_end_addr 0 loads to the end of the file; bss_end_addr 0 means no bss", () => {
    const mem = new ArrayMemory(4 << 20);
    mem.bytes.fill(0xaa);
    loadMultiboot(flat([0x200020, 0x200000, 0, 0, 0x200040], 100), mem);
    expect(mem.bytes[0x200063]).toBe(0);
    expect(mem.bytes[0x200064]).toBe(0xaa);
  });
  it("is used even when the image is also an ELF (as GRUB and QEMU do)", () => {
    const text = new Uint8Array(48);
    text.set(mbHeader(MBH_AOUT_KLUDGE, [0x300000, 0x300000, 0x300030, 0, 0x300020]));
    const img = buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: text }] });
    const boot = loadMultiboot(img, new ArrayMemory(4 << 20));
    expect(boot.method).toBe("address-fields");
    expect(boot.entry).toBe(0x300020);
  });
  it("rejects inconsistent fields", () => {
    const mem = () => new ArrayMemory(4 << 20);
    expect(errorOf(() => loadMultiboot(flat([0x200000, 0x200020, 0, 0, 0x200040]), mem()))).toMatch(/load_addr .* above header_addr/);
    expect(errorOf(() => loadMultiboot(flat([0x200100, 0x200000, 0, 0, 0x200040]), mem()))).toMatch(/before the start of the file/);
    expect(errorOf(() => loadMultiboot(flat([0x200020, 0x200000, 0x201000, 0, 0x200040]), mem()))).toMatch(/truncated image/);
    expect(errorOf(() => loadMultiboot(flat([0x200020, 0x200000, 0x1ff000, 0, 0x200040]), mem()))).toMatch(/load_end_addr .* below load_addr/);
    expect(errorOf(() => loadMultiboot(flat([0x200020, 0x200000, 0x200080, 0x200010, 0x200040]), mem()))).toMatch(/bss_end_addr .* below/);
    expect(errorOf(() => loadMultiboot(flat([0x200020, 0x200000, 0x200080, 0x500000, 0x200040]), mem()))).toMatch(/outside guest RAM/);
    expect(errorOf(() => loadMultiboot(flat([0x200020, 0x200000, 0x200080, 0, 0x300000]), mem()))).toMatch(/entry_addr .* outside the loaded kernel/);
    const cut = new Uint8Array(40); cut.set(mbHeader(MBH_AOUT_KLUDGE).subarray(0, 12), 16);
    expect(errorOf(() => loadMultiboot(cut, mem()))).toMatch(/truncated multiboot header/);
  });
});
