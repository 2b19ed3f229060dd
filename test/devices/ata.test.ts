import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Bus } from "../../host/bus.ts";
import { AtaChannel, defaultGeometry } from "../../host/devices/ata.ts";
import { type BlockBackend, FileBackend, MemoryBackend } from "../../host/devices/block.ts";

const DATA = 0x1f0, ERROR = 0x1f1, FEATURES = 0x1f1, COUNT = 0x1f2, LBA0 = 0x1f3, LBA1 = 0x1f4, LBA2 = 0x1f5, DEVICE = 0x1f6, STATUS = 0x1f7, COMMAND = 0x1f7, ALTSTATUS = 0x3f6, DEVCTL = 0x3f6;

/** Sector s is filled with (s*7 + i) & 0xff so every byte identifies its sector. */
function pattern(sectors: number): Uint8Array {
  const d = new Uint8Array(sectors * 512);
  for (let s = 0; s < sectors; s++) for (let i = 0; i < 512; i++) d[s * 512 + i] = (s * 7 + i) & 0xff;
  return d;
}

function make(backend: BlockBackend = new MemoryBackend(pattern(64)), opts = {}) {
  const bus = new Bus();
  let rising = 0;
  const ata = new AtaChannel(backend, { irq: (l) => { if (l) rising++; }, ...opts });
  bus.addPorts(0x1f0, 8, ata.command, "ata");
  bus.addPorts(0x3f6, 1, ata.control, "ata-ctl");
  const inb = (p: number) => bus.ioRead(p, 1);
  const outb = (p: number, v: number) => bus.ioWrite(p, 1, v);
  const inw = () => bus.ioRead(DATA, 2);
  const outw = (v: number) => bus.ioWrite(DATA, 2, v);
  const readBlock = () => { const b = new Uint8Array(512); for (let i = 0; i < 256; i++) { const w = inw(); b[2 * i] = w & 0xff; b[2 * i + 1] = w >> 8; } return b; };
  const writeBlock = (b: Uint8Array) => { for (let i = 0; i < 256; i++) outw(b[2 * i] | (b[2 * i + 1] << 8)); };
  const lba28 = (lba: number, count: number, cmd: number) => {
    outb(DEVICE, 0xe0 | ((lba >>> 24) & 0x0f));
    outb(COUNT, count); outb(LBA0, lba & 0xff); outb(LBA1, (lba >> 8) & 0xff); outb(LBA2, (lba >> 16) & 0xff);
    outb(COMMAND, cmd);
  };
  return { bus, ata, backend, inb, outb, inw, outw, readBlock, writeBlock, lba28, irqs: () => rising };
}

describe("ATA IDENTIFY DEVICE", () => {
  it("IDENTIFY returns capacity in words 60-61", () => {
    const t = make(new MemoryBackend(0x12345 * 512));
    t.outb(DEVICE, 0xa0);
    t.outb(COMMAND, 0xec);
    expect(t.inb(ALTSTATUS)).toBe(0x58); // DRDY|DSC|DRQ
    const id = new DataView(t.readBlock().buffer);
    const word = (n: number) => id.getUint16(n * 2, true);
    expect(word(60)).toBe(0x2345);
    expect(word(61)).toBe(0x0001);
    expect(word(100)).toBe(0x2345); // LBA48 capacity
    expect(word(101)).toBe(0x0001);
    expect(word(102)).toBe(0);
    expect(word(49) & 0x0200).toBe(0x0200); // LBA supported
    expect(word(83)).toBe(0x7400);
    expect(word(0)).toBe(0x0040);
    expect(t.inb(STATUS)).toBe(0x50); // DRQ gone after 256 words
    expect(t.irqs()).toBe(1);
  });

  it("model string is byte-swapped ASCII in words 27-46, padded with spaces", () => {
    const t = make(new MemoryBackend(512 * 100), { model: "ACME DISK", serial: "SN1" });
    t.outb(COMMAND, 0xec);
    const b = t.readBlock();
    // word 27 = 'A'<<8 | 'C' stored little-endian → bytes "CA"
    expect(String.fromCharCode(...b.subarray(54, 94))).toBe("CAEMD SI K" + " ".repeat(30));
    expect(String.fromCharCode(...b.subarray(20, 26))).toBe("NS 1  ");
  });

  it("CHS geometry words 1/3/6 and the integrity word checksum", () => {
    const t = make(new MemoryBackend(512 * 16 * 63 * 20));
    t.outb(COMMAND, 0xec);
    const b = t.readBlock();
    const w = (n: number) => b[2 * n] | (b[2 * n + 1] << 8);
    expect([w(1), w(3), w(6)]).toEqual([20, 16, 63]);
    expect(w(57) | (w(58) << 16)).toBe(20 * 16 * 63);
    expect(b[510]).toBe(0xa5);
    expect(b.reduce((s, x) => s + x, 0) & 0xff).toBe(0);
  });

  it("capacity above 2^28 sectors is capped in words 60-61, exact in 100-103", () => {
    const big: BlockBackend = { sectorCount: 2 ** 32 + 5, readonly: true, read: () => {}, write: () => {}, flush: () => {} };
    const ata = new AtaChannel(big);
    const id = new DataView(ata.identify().buffer);
    expect(id.getUint16(120, true) | (id.getUint16(122, true) << 16)).toBe(0x0fffffff);
    expect([id.getUint16(200, true), id.getUint16(202, true), id.getUint16(204, true)]).toEqual([5, 0, 1]);
    expect(defaultGeometry(2 ** 32).cylinders).toBe(16383);
  });
});

describe("ATA PIO data-in", () => {
  it("READ SECTORS of 3 sectors raises 3 IRQs", () => {
    const t = make();
    t.lba28(5, 3, 0x20);
    const got: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) {
      expect(t.irqs()).toBe(i + 1);
      expect(t.inb(STATUS)).toBe(0x58); // acknowledges the interrupt
      got.push(t.readBlock());
    }
    expect(t.irqs()).toBe(3); // none after the last block
    expect(t.inb(STATUS)).toBe(0x50);
    const src = (t.backend as MemoryBackend).data;
    for (let i = 0; i < 3; i++) expect(got[i]).toEqual(src.subarray((5 + i) * 512, (6 + i) * 512));
    // task file advanced past the transfer
    expect([t.inb(COUNT), t.inb(LBA0), t.inb(LBA1), t.inb(LBA2)]).toEqual([0, 8, 0, 0]);
  });

  it("reading Status clears the pending interrupt; Alternate Status does not", () => {
    const t = make();
    t.lba28(0, 1, 0x20);
    expect(t.ata.irqAsserted).toBe(true);
    t.inb(ALTSTATUS);
    expect(t.ata.irqAsserted).toBe(true);
    t.inb(STATUS);
    expect(t.ata.irqAsserted).toBe(false);
  });

  it("nIEN keeps INTRQ deasserted; clearing it exposes a pending interrupt", () => {
    const t = make();
    t.outb(DEVCTL, 0x02);
    t.lba28(0, 1, 0x20);
    expect(t.ata.irqAsserted).toBe(false);
    t.outb(DEVCTL, 0x00);
    expect(t.ata.irqAsserted).toBe(true);
  });

  it("sector count 0 means 256 sectors", () => {
    const t = make(new MemoryBackend(pattern(300)));
    t.lba28(10, 0, 0x20);
    for (let i = 0; i < 256; i++) { expect(t.inb(STATUS) & 0x08).toBe(0x08); t.readBlock(); }
    expect(t.inb(STATUS)).toBe(0x50);
    expect(t.ata.stats.sectorsRead).toBe(256);
  });

  it("32-bit data reads deliver two words each", () => {
    const t = make();
    t.lba28(1, 1, 0x20);
    const v = t.bus.ioRead(DATA, 4);
    expect(v).toBe((7 | 8 << 8 | 9 << 16 | 10 << 24) >>> 0);
    for (let i = 0; i < 127; i++) t.bus.ioRead(DATA, 4);
    expect(t.inb(STATUS)).toBe(0x50);
  });

  it("out-of-range LBA: IDNF with ERR, LBA registers at the failing sector", () => {
    const t = make();
    t.lba28(64, 1, 0x20);
    expect(t.inb(STATUS)).toBe(0x51);
    expect(t.inb(ERROR)).toBe(0x10);
    expect(t.irqs()).toBe(1);
    expect(t.ata.errors.get("command-error")).toBe(1);
  });

  it("a read running off the end transfers the valid sectors, then fails with IDNF at the first bad one", () => {
    const t = make();
    t.lba28(62, 4, 0x20);
    t.inb(STATUS); t.readBlock();
    t.inb(STATUS); t.readBlock();
    expect(t.inb(STATUS)).toBe(0x51);
    expect(t.inb(ERROR)).toBe(0x10);
    expect([t.inb(COUNT), t.inb(LBA0)]).toEqual([2, 64]);
    expect(t.irqs()).toBe(3);
  });

  it("CHS addressing (LBA bit clear) uses the default 16/63 translation", () => {
    const t = make(new MemoryBackend(pattern(16 * 63 * 2)));
    // C=1 H=2 S=3 → LBA (1*16+2)*63 + 2 = 1136
    t.outb(DEVICE, 0xa2); t.outb(COUNT, 1); t.outb(LBA0, 3); t.outb(LBA1, 1); t.outb(LBA2, 0);
    t.outb(COMMAND, 0x20);
    const b = t.readBlock();
    expect(b[0]).toBe((1136 * 7) & 0xff);
    expect(b[1]).toBe((1136 * 7 + 1) & 0xff);
    // sector 0 does not exist in CHS
    t.outb(LBA0, 0); t.outb(COUNT, 1); t.outb(COMMAND, 0x20);
    expect(t.inb(STATUS)).toBe(0x51);
    expect(t.inb(ERROR)).toBe(0x10);
  });

  it("INITIALIZE DEVICE PARAMETERS changes the CHS translation", () => {
    const t = make(new MemoryBackend(pattern(200)));
    t.outb(DEVICE, 0xa3); t.outb(COUNT, 17); t.outb(COMMAND, 0x91); // 4 heads, 17 sectors
    expect(t.inb(STATUS)).toBe(0x50);
    // C=1 H=1 S=1 → (1*4+1)*17 = 85
    t.outb(DEVICE, 0xa1); t.outb(COUNT, 1); t.outb(LBA0, 1); t.outb(LBA1, 1); t.outb(LBA2, 0);
    t.outb(COMMAND, 0x20);
    expect(t.readBlock()[0]).toBe((85 * 7) & 0xff);
  });

  it("READ SECTORS EXT takes a 48-bit LBA and 16-bit count from the HOB registers", () => {
    const t = make();
    t.outb(DEVICE, 0x40);
    t.outb(COUNT, 0); t.outb(COUNT, 2); // count 0x0002
    t.outb(LBA0, 0); t.outb(LBA0, 0x21); // LBA 33
    t.outb(LBA1, 0); t.outb(LBA1, 0);
    t.outb(LBA2, 0); t.outb(LBA2, 0);
    t.outb(COMMAND, 0x24);
    expect(t.readBlock()[0]).toBe((33 * 7) & 0xff);
    expect(t.readBlock()[0]).toBe((34 * 7) & 0xff);
    expect(t.inb(STATUS)).toBe(0x50);
    // HOB=1 reads the previous (high-order) bytes
    t.outb(DEVCTL, 0x80);
    expect(t.inb(LBA0)).toBe(0);
    t.outb(DEVCTL, 0x00);
    expect(t.inb(LBA0)).toBe(35);
  });

  it("a backend read failure is reported as UNC, not thrown", () => {
    const bad = new MemoryBackend(512 * 8);
    bad.read = () => { throw new Error("EIO"); };
    const t = make(bad);
    t.lba28(1, 1, 0x20);
    expect(t.inb(STATUS)).toBe(0x51);
    expect(t.inb(ERROR)).toBe(0x40);
  });

  it("data access without DRQ is counted and reads 0xffff", () => {
    const t = make();
    expect(t.inw()).toBe(0xffff);
    t.outw(1);
    expect(t.ata.errors.get("data-without-drq")).toBe(2);
    expect(t.inb(STATUS)).toBe(0x50);
  });
});

describe("ATA PIO data-out", () => {
  it("WRITE SECTORS: DRQ without IRQ for the first block, IRQ after each block", () => {
    const mem = new MemoryBackend(512 * 16);
    const t = make(mem);
    t.lba28(3, 2, 0x30);
    expect(t.inb(ALTSTATUS)).toBe(0x58);
    expect(t.irqs()).toBe(0);
    const a = new Uint8Array(512).fill(0xaa), b = new Uint8Array(512).fill(0xbb);
    t.writeBlock(a);
    expect(t.irqs()).toBe(1);
    expect(t.inb(STATUS)).toBe(0x58);
    t.writeBlock(b);
    expect(t.irqs()).toBe(2);
    expect(t.inb(STATUS)).toBe(0x50);
    expect(mem.data.subarray(3 * 512, 4 * 512)).toEqual(a);
    expect(mem.data.subarray(4 * 512, 5 * 512)).toEqual(b);
    expect(mem.data[5 * 512]).toBe(0);
    expect(t.ata.stats.sectorsWritten).toBe(2);
  });

  it("write to read-only image sets ERR/ABRT", () => {
    const mem = new MemoryBackend(pattern(8), { readonly: true });
    const before = mem.data.slice();
    const t = make(mem);
    t.lba28(1, 1, 0x30);
    expect(t.inb(STATUS)).toBe(0x51);
    expect(t.inb(ERROR)).toBe(0x04);
    expect(t.irqs()).toBe(1);
    t.outw(0x1234); // guest ignores the error and pushes data anyway
    expect(mem.data).toEqual(before);
  });

  it("write past the end: IDNF before any data is accepted", () => {
    const t = make(new MemoryBackend(512 * 4));
    t.lba28(4, 1, 0x30);
    expect(t.inb(STATUS)).toBe(0x51);
    expect(t.inb(ERROR)).toBe(0x10);
  });

  it("FLUSH CACHE calls the backend flush", () => {
    const mem = new MemoryBackend(512 * 4);
    const t = make(mem);
    t.outb(COMMAND, 0xe7);
    expect(mem.flushes).toBe(1);
    expect(t.inb(STATUS)).toBe(0x50);
    expect(t.irqs()).toBe(1);
    t.outb(COMMAND, 0xea);
    expect(mem.flushes).toBe(2);
  });

  it("SET FEATURES 82h (write cache off) makes every written sector flush", () => {
    const mem = new MemoryBackend(512 * 4);
    const t = make(mem);
    t.outb(FEATURES, 0x82); t.outb(COMMAND, 0xef);
    expect(t.inb(STATUS)).toBe(0x50);
    t.lba28(0, 2, 0x30);
    t.writeBlock(new Uint8Array(512)); t.writeBlock(new Uint8Array(512));
    expect(mem.flushes).toBe(2);
    const id = t.ata.identify();
    expect(id[85 * 2] & 0x20).toBe(0); // word 85: write cache disabled
  });

  it("SET FEATURES transfer mode: PIO accepted, UDMA aborted", () => {
    const t = make();
    t.outb(FEATURES, 0x03); t.outb(COUNT, 0x0c); t.outb(COMMAND, 0xef);
    expect(t.inb(STATUS)).toBe(0x50);
    t.outb(FEATURES, 0x03); t.outb(COUNT, 0x45); t.outb(COMMAND, 0xef);
    expect(t.inb(STATUS)).toBe(0x51);
    expect(t.inb(ERROR)).toBe(0x04);
  });
});

describe("ATA control and other commands", () => {
  it("unknown command and NOP abort with ABRT", () => {
    const t = make();
    t.outb(COMMAND, 0xc8); // READ DMA: no DMA here
    expect(t.inb(STATUS)).toBe(0x51);
    expect(t.inb(ERROR)).toBe(0x04);
    t.outb(COMMAND, 0x00);
    expect(t.inb(ERROR)).toBe(0x04);
    t.outb(COMMAND, 0xa1); // IDENTIFY PACKET DEVICE on a non-packet device
    expect(t.inb(STATUS)).toBe(0x51);
  });

  it("software reset: BSY while SRST=1, then signature, diagnostic 01h, no interrupt", () => {
    const t = make();
    t.lba28(0, 2, 0x20); // a transfer in progress
    t.inb(STATUS);
    t.outb(DEVCTL, 0x04);
    expect(t.inb(ALTSTATUS)).toBe(0x80);
    t.outb(COUNT, 9); // ignored during reset
    t.outb(DEVCTL, 0x00);
    expect(t.inb(STATUS)).toBe(0x50);
    expect([t.inb(ERROR), t.inb(COUNT), t.inb(LBA0), t.inb(LBA1), t.inb(LBA2)]).toEqual([0x01, 1, 1, 0, 0]);
    expect(t.irqs()).toBe(1); // only the read's
    expect(t.inw()).toBe(0xffff); // transfer aborted
  });

  it("EXECUTE DEVICE DIAGNOSTIC: error 01h (device 0 ok, no device 1), signature, IRQ", () => {
    const t = make();
    t.outb(DEVICE, 0xb0); // even with device 1 selected
    t.outb(COMMAND, 0x90);
    expect(t.inb(STATUS)).toBe(0x50);
    expect(t.inb(ERROR)).toBe(0x01);
    expect(t.inb(DEVICE)).toBe(0xa0); // device 0 selected by the signature
    expect(t.irqs()).toBe(1);
  });

  it("absent device 1: status 00h, commands ignored and counted, shared registers still latch", () => {
    const t = make();
    t.outb(DEVICE, 0xb0);
    expect(t.inb(STATUS)).toBe(0x00);
    expect(t.inb(ALTSTATUS)).toBe(0x00);
    t.outb(COUNT, 0x42);
    expect(t.inb(COUNT)).toBe(0x42);
    t.outb(COMMAND, 0xec);
    expect(t.irqs()).toBe(0);
    expect(t.ata.errors.get("absent-slave")).toBe(1);
    t.outb(DEVICE, 0xa0);
    expect(t.inb(STATUS)).toBe(0x50);
  });

  it("INTRQ is not driven while device 1 is selected", () => {
    const t = make();
    t.lba28(0, 1, 0x20);
    expect(t.ata.irqAsserted).toBe(true);
    t.outb(DEVICE, 0xb0);
    expect(t.ata.irqAsserted).toBe(false);
    t.outb(DEVICE, 0xe0);
    expect(t.ata.irqAsserted).toBe(true);
  });

  it("CHECK POWER MODE reports active (FFh); READ VERIFY checks the range", () => {
    const t = make();
    t.outb(COMMAND, 0xe5);
    expect(t.inb(COUNT)).toBe(0xff);
    t.lba28(60, 4, 0x40);
    expect(t.inb(STATUS)).toBe(0x50);
    t.lba28(60, 5, 0x40);
    expect(t.inb(STATUS)).toBe(0x51);
    expect(t.inb(ERROR)).toBe(0x10);
  });

  it("8-bit data access is counted and reads 0xff", () => {
    const t = make();
    t.lba28(0, 1, 0x20);
    expect(t.inb(DATA)).toBe(0xff);
    expect(t.ata.errors.get("data-byte")).toBe(1);
  });
});

describe("ATA over file backends", () => {
  const dir = mkdtempSync(join(tmpdir(), "wasmvisor-ata-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("FileBackend write-through: data is in the file at once", () => {
    const p = join(dir, "wt.img");
    writeFileSync(p, pattern(8));
    const f = new FileBackend(p);
    expect(f.sectorCount).toBe(8);
    const t = make(f);
    t.lba28(2, 1, 0x30);
    t.writeBlock(new Uint8Array(512).fill(0x5a));
    expect(readFileSync(p)[2 * 512]).toBe(0x5a);
    t.lba28(2, 1, 0x20);
    expect(t.readBlock()[7]).toBe(0x5a);
    f.close();
  });

  it("FileBackend write-back: reads see buffered writes; the file gets them on FLUSH CACHE", () => {
    const p = join(dir, "wb.img");
    writeFileSync(p, pattern(8));
    const f = new FileBackend(p, { cache: "writeback" });
    const t = make(f);
    t.lba28(1, 1, 0x30);
    t.writeBlock(new Uint8Array(512).fill(0x77));
    expect(f.dirtySectors).toBe(1);
    expect(readFileSync(p)[512]).toBe(7); // not yet in the file
    t.lba28(1, 1, 0x20);
    expect(t.readBlock()[0]).toBe(0x77);
    t.outb(COMMAND, 0xe7);
    expect(f.dirtySectors).toBe(0);
    expect(readFileSync(p)[512]).toBe(0x77);
    f.close();
  });

  it("read-only FileBackend: ATA write fails with ABRT, file untouched", () => {
    const p = join(dir, "ro.img");
    writeFileSync(p, pattern(4));
    const f = new FileBackend(p, { readonly: true });
    const t = make(f);
    t.lba28(0, 1, 0x30);
    expect(t.inb(STATUS)).toBe(0x51);
    expect(t.inb(ERROR)).toBe(0x04);
    expect(readFileSync(p)).toEqual(Buffer.from(pattern(4)));
    f.close();
  });

});
