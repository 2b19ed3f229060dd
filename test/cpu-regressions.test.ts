// cpu-regressions.test.ts — corner cases found by review and by the trap-lab/hostile suites, each with the
// raw bytes that showed it. They guard the CPU's exit protocol and the single-step/MOV SS interaction.
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine } from "../host/machine.ts";

const haveCpu = existsSync(join(dirname(fileURLToPath(import.meta.url)), "../build/cpu.wasm"));

function flat(opts: ConstructorParameters<typeof Machine>[0] = {}) {
  const m = new Machine({ memSize: 1 << 20, ...opts });
  m.setFlatProtectedMode();
  m.esp = 0x8000;
  return m;
}

describe.skipIf(!haveCpu)("CPU regressions", () => {
  it("a store split between RAM and device memory hands every device byte to the host, in order", () => {
    const m = flat({ exitOnHlt: true });
    m.writeMem(0x1000, [
      0xa3, 0xfe, 0xff, 0x0f, 0x00, // mov [0xffffe], eax   (RAM ends at 0x100000)
      0x90,                         // nop
      0xf4,                         // hlt
    ]);
    m.eip = 0x1000; m.eax = 0xaabbccdd;
    const writes: [number, number, number][] = [];
    for (let i = 0; i < 10; i++) {
      const e = m.run(100);
      if (e.reason !== "mmio-write") { expect(e.reason).toBe("hlt"); break; }
      writes.push([e.port!, e.size!, e.value!]);
    }
    expect(writes).toEqual([[0x100000, 1, 0xbb], [0x100001, 1, 0xaa]]);
    expect([m.read8(0xffffe), m.read8(0xfffff)]).toEqual([0xdd, 0xcc]);
  });

  it("a store split across two device pages reaches the host as all its bytes", () => {
    const m = flat({ exitOnHlt: true });
    m.writeMem(0x1000, [0xa3, 0xfe, 0xff, 0x10, 0x00, 0xf4]); // mov [0x10fffe], eax ; hlt
    m.eip = 0x1000; m.eax = 0xaabbccdd;
    const bytes: number[] = [];
    for (let i = 0; i < 10; i++) {
      const e = m.run(100);
      if (e.reason !== "mmio-write") break;
      for (let k = 0; k < e.size!; k++) bytes.push((e.value! >>> (8 * k)) & 0xff);
    }
    expect(bytes).toEqual([0xdd, 0xcc, 0xbb, 0xaa]);
  });

  it("an IDT in device memory reads as open bus during delivery: #GP through a garbage gate, no spurious vector", () => {
    const m = flat({ exceptionBitmap: 0xffffffff });
    m.writeMem(0x1000, [0x90, 0x90]); // nop; nop
    m.eip = 0x1000; m.eflags = 0x202;
    m.setIdtr(0xf0000000, 0x7ff);
    m.setIntr(true, 0x20);
    const e = m.run(10);
    // the gate reads as all-ones: type 0x1f is not a gate → #GP(vector*8 + 2 + EXT)
    expect(e).toMatchObject({ reason: "exception", vector: 13, errorCode: (0x20 << 3) | 2 | 1 });
  });

  it("MOV SS holds back the single-step trap until after the next instruction (SDM Vol. 3A 6.8.3)", () => {
    const m = flat({ exceptionBitmap: 1 << 1 });
    // GDT at 0x500: null, 0x08 flat code, 0x10 flat data (what `mov ss, ax` loads)
    m.writeMem(0x500, [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0]);
    m.setGdtr(0x500, 23);
    m.writeMem(0x1000, [
      0x8e, 0xd0, // mov ss, ax
      0x40,       // inc eax
      0x40,       // inc eax
    ]);
    m.eip = 0x1000; m.eax = 0x10; m.eflags = 0x102; // TF
    const e = m.run(10);
    expect(e).toMatchObject({ reason: "exception", vector: 1 });
    expect(m.eip).toBe(0x1003); // the trap comes after `inc eax`, not after `mov ss`
    expect(m.eax).toBe(0x11);
  });
});
