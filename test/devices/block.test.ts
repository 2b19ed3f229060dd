import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DiskImageError, FileBackend, MemoryBackend, ReadOnlyError } from "../../host/devices/block.ts";
import { execFileSync } from "node:child_process";

function pattern(sectors: number): Uint8Array {
  const d = new Uint8Array(sectors * 512);
  for (let s = 0; s < sectors; s++) for (let i = 0; i < 512; i++) d[s * 512 + i] = (s * 7 + i) & 0xff;
  return d;
}

describe("block backends", () => {
  const dir = mkdtempSync(join(tmpdir(), "wasmvisor-block-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("MemoryBackend reads and writes whole sectors in place; read-only throws ReadOnlyError", () => {
    const img = pattern(4);
    const m = new MemoryBackend(img);
    const buf = new Uint8Array(1024);
    m.read(1, buf);
    expect(buf[0]).toBe(7);
    expect(buf[512]).toBe(14);
    m.write(3, new Uint8Array(512).fill(9));
    expect(img[3 * 512]).toBe(9);
    const ro = new MemoryBackend(pattern(1), { readonly: true });
    expect(() => ro.write(0, new Uint8Array(512))).toThrow(ReadOnlyError);
  });

  it("FileBackend refuses devices, FIFOs and files under one sector; reports a trailing partial sector", () => {
    expect(() => new FileBackend("/dev/zero")).toThrow(DiskImageError);
    expect(() => new FileBackend("/dev/zero", { readonly: true })).toThrow(/not a regular file/);
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    expect(() => new FileBackend(fifo, { readonly: true })).toThrow(/not a regular file/); // and does not block
    writeFileSync(join(dir, "empty.img"), "");
    expect(() => new FileBackend(join(dir, "empty.img"))).toThrow(/the file is empty/);
    writeFileSync(join(dir, "small.img"), new Uint8Array(511));
    expect(() => new FileBackend(join(dir, "small.img"))).toThrow(/511 bytes, less than one 512-byte sector/);
    writeFileSync(join(dir, "odd.img"), new Uint8Array(1300));
    const f = new FileBackend(join(dir, "odd.img"));
    expect(f.sectorCount).toBe(2);
    expect(f.trailingBytes).toBe(276);
    f.close();
  });

  it("FileBackend write-through: multi-sector write lands at the right offset", () => {
    const p = join(dir, "wt.img");
    writeFileSync(p, new Uint8Array(512 * 4));
    const f = new FileBackend(p);
    const data = pattern(2);
    f.write(1, data);
    const file = readFileSync(p);
    expect(file.subarray(512, 1536)).toEqual(Buffer.from(data));
    expect(file[0]).toBe(0);
    f.flush();
    f.close();
    f.close(); // idempotent
  });

  it("FileBackend write-back overlays dirty sectors on a multi-sector read", () => {
    const p = join(dir, "wb-overlay.img");
    writeFileSync(p, pattern(4));
    const f = new FileBackend(p, { cache: "writeback" });
    f.write(2, new Uint8Array(512).fill(0xee));
    const buf = new Uint8Array(512 * 3);
    f.read(1, buf);
    expect([buf[0], buf[512], buf[1024]]).toEqual([7, 0xee, 21]);
    f.close();
  });

  it("read-only FileBackend refuses writes and never modifies the file", () => {
    const p = join(dir, "ro.img");
    writeFileSync(p, pattern(2));
    const f = new FileBackend(p, { readonly: true });
    expect(() => f.write(0, new Uint8Array(512))).toThrow(ReadOnlyError);
    f.flush();
    f.close();
    expect(readFileSync(p)).toEqual(Buffer.from(pattern(2)));
  });

  it("MemoryBackend rejects partial-sector images and out-of-range access", () => {
    expect(() => new MemoryBackend(1000)).toThrow(RangeError);
    const m = new MemoryBackend(1024);
    expect(() => m.read(2, new Uint8Array(512))).toThrow(RangeError);
    expect(() => m.read(1, new Uint8Array(1024))).toThrow(RangeError);
  });
  it("FileBackend write-back: close() writes what is still buffered", () => {
    const p = join(dir, "wb2.img");
    writeFileSync(p, pattern(4));
    const f = new FileBackend(p, { cache: "writeback" });
    f.write(3, new Uint8Array(512).fill(0x33));
    f.close();
    expect(readFileSync(p)[3 * 512 + 100]).toBe(0x33);
    expect(() => f.read(0, new Uint8Array(512))).toThrow(/closed/);
  });
  it("FileBackend write-back: exceeding maxDirtyBytes writes out early", () => {
    const p = join(dir, "wb3.img");
    writeFileSync(p, pattern(8));
    const f = new FileBackend(p, { cache: "writeback", maxDirtyBytes: 1024 });
    for (let i = 0; i < 3; i++) f.write(i, new Uint8Array(512).fill(0x10 + i));
    expect(f.dirtySectors).toBe(0);
    expect(readFileSync(p)[2 * 512]).toBe(0x12);
    f.close();
  });
  it("a trailing partial sector is not addressable", () => {
    const p = join(dir, "odd.img");
    writeFileSync(p, new Uint8Array(512 * 3 + 100));
    const f = new FileBackend(p, { readonly: true });
    expect(f.sectorCount).toBe(3);
    f.close();
  });
});
