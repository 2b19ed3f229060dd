// bzimage.test.ts — the Linux/x86 boot protocol loader (host/loaders/bzimage.ts) on hand-built bzImages: the
// setup header checks, boot_params as the kernel reads it, initrd placement, and the 32-bit entry state seen by
// real guest code run in a Vm.
import { describe, it, expect, afterAll } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main, parseCliArgs } from "../host/cli.ts";
import { buildElf } from "../host/elf.ts";
import type { GuestMemory } from "../host/elf.ts";
import {
  loadBzImage, parseSetupHeader, isBzImage, BzImageError, BOOT_PARAMS_ADDR, BOOT_CMDLINE_ADDR, E820_RAM, E820_RESERVED,
} from "../host/loaders/bzimage.ts";
import { Vm, runImage } from "../host/vm.ts";
import { RESERVETOP } from "../host/full/fullvm.ts";
import { VMM_SIZE } from "../host/full/monitor.ts";
import { VMM_LINEAR } from "../host/full/shadow.ts";

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
  u16(p: number) { return this.dv.getUint16(p, true); }
}

// The protected-mode kernel of the test image: checks the 32-bit entry state, then prints the first byte of the
// command line and of the initrd on port 0xE9 and exits with status (0x2a << 1) | 1; any failed check exits 3.
const ENTRY_CHECK = [
  0x66, 0x8c, 0xc8, //                          mov ax, cs
  0x66, 0x83, 0xf8, 0x10, //                    cmp ax, 0x10        (__BOOT_CS)
  0x75, 0x4e, //                                jne fail
  0x66, 0x8c, 0xd8, //                          mov ax, ds
  0x66, 0x83, 0xf8, 0x18, //                    cmp ax, 0x18        (__BOOT_DS)
  0x75, 0x45, //                                jne fail
  0x66, 0x8c, 0xd0, //                          mov ax, ss
  0x66, 0x83, 0xf8, 0x18, //                    cmp ax, 0x18
  0x75, 0x3c, //                                jne fail
  0x81, 0xbe, 0x02, 0x02, 0, 0, 0x48, 0x64, 0x72, 0x53, // cmp dword [esi+0x202], "HdrS"
  0x75, 0x30, //                                jne fail
  0x80, 0xbe, 0x10, 0x02, 0, 0, 0xff, //        cmp byte [esi+0x210], 0xff  (type_of_loader)
  0x75, 0x27, //                                jne fail
  0x09, 0xdf, //                                or edi, ebx
  0x09, 0xef, //                                or edi, ebp
  0x75, 0x21, //                                jne fail             (EBX = EBP = EDI = 0)
  0x9c, //                                      pushf
  0x58, //                                      pop eax
  0xa9, 0x00, 0x02, 0, 0, //                    test eax, 0x200      (IF clear)
  0x75, 0x18, //                                jne fail
  0x8b, 0x9e, 0x28, 0x02, 0, 0, //              mov ebx, [esi+0x228] (cmd_line_ptr)
  0x8a, 0x03, //                                mov al, [ebx]
  0xe6, 0xe9, //                                out 0xe9, al
  0x8b, 0x9e, 0x18, 0x02, 0, 0, //              mov ebx, [esi+0x218] (ramdisk_image)
  0x8a, 0x03, //                                mov al, [ebx]
  0xe6, 0xe9, //                                out 0xe9, al
  0xb0, 0x2a, //                                mov al, 0x2a
  0xe6, 0xf4, //                                out 0xf4, al
  0xb0, 0x01, //                          fail: mov al, 1
  0xe6, 0xf4, //                                out 0xf4, al
  0xf4, //                                      hlt
];

interface ImageOpts { version?: number; setupSects?: number; loadflags?: number; prefAddress?: number; initSize?: number; initrdMax?: number; cmdlineSize?: number; magic?: number }

/** A bzImage: boot sector + setup sectors with the setup header, then the protected-mode code. */
function bzImage(o: ImageOpts = {}, code: number[] = ENTRY_CHECK): Uint8Array {
  const setupSects = o.setupSects ?? 1;
  const img = new Uint8Array((setupSects + 1) * 512 + code.length);
  const dv = new DataView(img.buffer);
  img[0x1f1] = setupSects;
  dv.setUint16(0x1fe, 0xaa55, true);
  img[0x200] = 0xeb; img[0x201] = 0x6a; // jmp to 0x26c: the header ends there (as in 6.1)
  dv.setUint32(0x202, o.magic ?? 0x53726448, true);
  dv.setUint16(0x206, o.version ?? 0x20f, true);
  img[0x211] = o.loadflags ?? 1;
  dv.setUint32(0x214, 0x100000, true);
  dv.setUint32(0x22c, o.initrdMax ?? 0x7fffffff, true);
  dv.setUint32(0x230, 0x1000000, true);
  img[0x234] = 1;
  dv.setUint32(0x238, o.cmdlineSize ?? 2047, true);
  dv.setUint32(0x258, o.prefAddress ?? 0x1000000, true);
  dv.setUint32(0x260, o.initSize ?? 0x100000, true);
  img.set(code, (setupSects + 1) * 512);
  return img;
}

const errorOf = (f: () => unknown): string => {
  try { f(); } catch (e) { expect(e).toBeInstanceOf(BzImageError); return (e as Error).message; }
  throw new Error("expected a BzImageError");
};

describe("setup header", () => {
  it("is recognised by HdrS and the boot flag", () => {
    expect(isBzImage(bzImage())).toBe(true);
    expect(isBzImage(bzImage({ magic: 0x12345678 }))).toBe(false);
    expect(isBzImage(new Uint8Array(100))).toBe(false);
    const h = parseSetupHeader(bzImage({ setupSects: 3 }));
    expect(h).toMatchObject({ version: 0x20f, setupSects: 3, code32Start: 0x100000, prefAddress: 0x1000000, cmdlineSize: 2047, relocatable: true });
  });
  it("refuses what it cannot boot, in one line", () => {
    expect(errorOf(() => parseSetupHeader(bzImage({ version: 0x203 })))).toMatch(/protocol 2\.03 is too old/);
    expect(errorOf(() => parseSetupHeader(bzImage({ loadflags: 0 })))).toMatch(/zImage/);
    expect(errorOf(() => parseSetupHeader(bzImage().subarray(0, 1024)))).toMatch(/truncated/);
    expect(errorOf(() => parseSetupHeader(new Uint8Array(4096)))).toMatch(/not a Linux bzImage/);
  });
  it("setup_sects 0 means 4", () => {
    const img = bzImage({ setupSects: 4 });
    img[0x1f1] = 0;
    const mem = new ArrayMemory(32 << 20);
    loadBzImage(img, mem, {});
    expect(Array.from(mem.bytes.subarray(0x100000, 0x100003))).toEqual(ENTRY_CHECK.slice(0, 3));
  });
});

describe("loadBzImage", () => {
  it("fills boot_params: the header copy, loader type, command line, initrd, e820", () => {
    const img = bzImage();
    const mem = new ArrayMemory(64 << 20);
    const initrd = new Uint8Array(10000).fill(7);
    const boot = loadBzImage(img, mem, { cmdline: "console=ttyS0 quiet", initrd });
    const bp = BOOT_PARAMS_ADDR;
    expect(mem.u32(bp + 0x202)).toBe(0x53726448);
    expect(mem.u16(bp + 0x206)).toBe(0x20f);
    expect(mem.bytes[bp + 0x210]).toBe(0xff);
    expect(mem.u32(bp + 0x228)).toBe(BOOT_CMDLINE_ADDR);
    expect(new TextDecoder().decode(mem.bytes.subarray(BOOT_CMDLINE_ADDR, BOOT_CMDLINE_ADDR + 20))).toBe("console=ttyS0 quiet\0");
    // the initrd: page aligned, as high as possible, whole
    const start = mem.u32(bp + 0x218);
    expect(start % 4096).toBe(0);
    expect(start).toBe(Math.floor(((64 << 20) - 10000) / 4096) * 4096);
    expect(mem.u32(bp + 0x21c)).toBe(10000);
    expect(mem.bytes[start]).toBe(7);
    expect(mem.bytes[start + 9999]).toBe(7);
    // e820: count at 0x1e8, 20-byte entries at 0x2d0
    expect(mem.bytes[bp + 0x1e8]).toBe(4);
    const e = (i: number) => [mem.u32(bp + 0x2d0 + i * 20), mem.u32(bp + 0x2d0 + i * 20 + 8), mem.u32(bp + 0x2d0 + i * 20 + 16)];
    expect(e(0)).toEqual([0, 0x9fc00, E820_RAM]);
    expect(e(1)).toEqual([0x9fc00, 0x400, E820_RESERVED]);
    expect(e(2)).toEqual([0xf0000, 0x10000, E820_RESERVED]);
    expect(e(3)).toEqual([0x100000, (64 << 20) - 0x100000, E820_RAM]);
    expect(boot.initrd).toEqual({ start, end: start + 10000 });
  });
  it("keeps the initrd below initrd_addr_max", () => {
    const mem = new ArrayMemory(64 << 20);
    loadBzImage(bzImage({ initrdMax: 0x2ffffff }), mem, { initrd: new Uint8Array(5000) });
    expect(mem.u32(BOOT_PARAMS_ADDR + 0x218)).toBe(0x3000000 - 8192);
  });
  it("refuses RAM too small for the decompressed kernel, an initrd that does not fit, an over-long command line", () => {
    expect(errorOf(() => loadBzImage(bzImage({ initSize: 0x2000000 }), new ArrayMemory(32 << 20)))).toMatch(/too small for this kernel.*--mem/);
    expect(errorOf(() => loadBzImage(bzImage(), new ArrayMemory(32 << 20), { initrd: new Uint8Array(16 << 20) }))).toMatch(/initrd .* does not fit/);
    expect(errorOf(() => loadBzImage(bzImage({ cmdlineSize: 10 }), new ArrayMemory(32 << 20), { cmdline: "console=ttyS0" }))).toMatch(/command line too long/);
  });
});

describe("the 32-bit entry state", () => {
  // hw: ring 0 in guest mode, the loader writing through the guest-physical view (guest RAM at host-physical
  // 8 MiB); full: the monitor's virtual CPU at virtual CPL 0 (guest RAM beside the monitor's region)
  it.each(["native", "hw", "full"] as const)("%s: the kernel is entered at code32_start with __BOOT_CS/__BOOT_DS, ESI = boot_params, IF = 0", (mode) => {
    const vm = new Vm({ mode, memSize: 32 << 20 });
    vm.loadBzImage(bzImage(), { cmdline: "Xyz", initrd: new TextEncoder().encode("Qinitrd") });
    const r = vm.run({ maxInstructions: 1000 });
    expect(vm.console, r.message).toBe("XQ");
    expect(r.exitStatus).toBe((0x2a << 1) | 1);
  });
  it("runImage() takes a bzImage and its initrd too", async () => {
    const r = await runImage({ image: bzImage(), initrd: new TextEncoder().encode("Q"), cmdline: "X", memSize: 32 << 20 });
    expect(r).toMatchObject({ console: "XQ", exitStatus: (0x2a << 1) | 1, stopReason: "debug-exit" });
  });
  it("full: the command line gains reservetop= (the kernel's fixmap moves below the monitor's linear region)", () => {
    const vm = new Vm({ mode: "full", memSize: 32 << 20 });
    vm.loadBzImage(bzImage(), { cmdline: "console=ttyS0" });
    const cmd = (m: Vm) => new TextDecoder().decode(m.machine.readMem(VMM_SIZE + BOOT_CMDLINE_ADDR, 64)).split("\0")[0];
    expect(cmd(vm)).toBe(`console=ttyS0 reservetop=${(2 ** 32 - VMM_LINEAR) >> 10}K`);
    expect(RESERVETOP).toBe("reservetop=4096K");
    const own = new Vm({ mode: "full", memSize: 32 << 20 });
    own.loadBzImage(bzImage(), { cmdline: "reservetop=8M quiet" });
    expect(cmd(own)).toBe("reservetop=8M quiet");
    expect(() => new Vm({ mode: "full", memSize: 32 << 20, translate: "static" }).loadBzImage(bzImage())).toThrow(/run-time translation only/);
  });
  it("is refused in modes without the loader", () => {
    expect(() => new Vm({ mode: "para", memSize: 32 << 20 }).loadBzImage(bzImage())).toThrow(/not supported in para mode/);
  });
});

describe("wasmvisor run with a bzImage (QEMU's -kernel/-initrd/-append)", () => {
  const tmp = mkdtempSync(join(tmpdir(), "wasmvisor-bzimage-test-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const file = (name: string, bytes: Uint8Array) => { const f = join(tmp, name); writeFileSync(f, bytes); return f; };
  async function run(...argv: string[]) {
    let out = "", err = "";
    const status = await main(["run", ...argv], { stdout: (t) => { out += t; }, stderr: (t) => { err += t; } });
    return { status, out, err };
  }

  it("parses --initrd and --append (the same as --cmdline)", () => {
    expect(parseCliArgs(["run", "vmlinuz", "--initrd", "i.cpio.gz", "--append", "console=ttyS0"])).toMatchObject({ image: "vmlinuz", initrd: "i.cpio.gz", cmdline: "console=ttyS0" });
  });
  it("detects the image by its setup header and boots it with the initrd and command line", async () => {
    const r = await run(file("vmlinuz", bzImage()), "--initrd", file("initrd", new TextEncoder().encode("Q")), "--append", "X", "--mem", "32M");
    expect(r).toEqual({ status: (0x2a << 1) | 1, out: "XQ", err: "" });
  });
  it("a malformed bzImage is one line and status 4", async () => {
    const r = await run(file("old", bzImage({ version: 0x202 })), "--mem", "32M");
    expect(r.status).toBe(4);
    expect(r.err).toMatch(/^wasmvisor: .*old: Linux boot protocol 2\.02 is too old \(at least 2\.04 is needed\)\n$/);
    const small = await run(file("big", bzImage({ initSize: 0x4000000 })), "--mem", "32M");
    expect(small.status).toBe(4);
    expect(small.err).toMatch(/too small for this kernel.*--mem\)\n$/);
    expect(small.err.split("\n")).toHaveLength(2);
  });
  it.for(["hw", "full"])("boots a bzImage in --mode %s", async (mode) => {
    const r = await run(file(`vmlinuz-${mode}`, bzImage()), "--mode", mode, "--initrd", file(`initrd-${mode}`, new TextEncoder().encode("Q")), "--append", "X", "--mem", "32M");
    expect(r).toEqual({ status: (0x2a << 1) | 1, out: "XQ", err: "" });
  });
  it("--initrd with a multiboot ELF, or a bzImage in para mode or with static translation, is a usage error (status 2)", async () => {
    const elf = file("k.elf", buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: new Uint8Array([0xf4]) }] }));
    const r = await run(elf, "--initrd", file("i2", new Uint8Array(4)));
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/--initrd is for a Linux bzImage/);
    const para = await run(file("vmlinuz2", bzImage()), "--mode", "para", "--mem", "32M");
    expect(para.status).toBe(2);
    expect(para.err).toMatch(/^wasmvisor: a Linux bzImage boots in native, hw, full modes only \(for now\), not --mode para\n$/);
    const stat = await run(file("vmlinuz3", bzImage()), "--mode", "full", "--full-translate", "static", "--mem", "32M");
    expect(stat.status).toBe(2);
    expect(stat.err).toMatch(/^wasmvisor: a Linux bzImage boots in full mode with run-time translation only .*\n$/);
  });
});
