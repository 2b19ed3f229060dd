// cpu-sensitive.test.ts — the sensitive-instruction exit controls on a bare Machine (assembly/ops/sensitive.ts,
// abi.ts CTRL_EXIT_SENSITIVE / CTRL_EXIT_PRIV_XFER / CTRL_EXIT_DESC_READ, exit "sensitive" = EXIT_SENSITIVE):
// with a class's control set, each of its instructions exits BEFORE executing (EIP on it, nothing changed, the
// decoded instruction in the exit); with it clear the instruction runs; the same in interpreted and compiled
// blocks, whichever way the control was when the block was built or compiled.
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine } from "../host/machine.ts";
import * as A from "../host/abi.generated.ts";

const haveCpu = existsSync(join(dirname(fileURLToPath(import.meta.url)), "../build/cpu.wasm"));
const CODE = 0x1000;
const d32 = (x: number) => [x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24];

function flat(code: number[], ctl = 0, opts: ConstructorParameters<typeof Machine>[0] = {}) {
  const m = new Machine({ memSize: 1 << 20, exitOnHlt: true, ...opts });
  m.setFlatProtectedMode();
  m.esp = 0x8000;
  m.writeMem(CODE, code);
  m.eip = CODE;
  m.sensitiveExits = ctl;
  return m;
}

describe.skipIf(!haveCpu)("sensitive-instruction exits", () => {
  it("pushf exits before executing with the control set, and runs with it clear", () => {
    const m = flat([0x9c, 0x58, 0xf4], A.CTRL_EXIT_SENSITIVE); // pushf ; pop eax ; hlt
    const e = m.run(100);
    expect(e.reason).toBe("sensitive");
    expect(e.code).toBe(A.EXIT_SENSITIVE);
    expect(e.eip).toBe(CODE);
    expect(m.eip).toBe(CODE);           // not executed: EIP on it
    expect(m.esp).toBe(0x8000);         // nothing pushed
    expect(m.instructions).toBe(0);     // nothing retired
    if (e.reason !== "sensitive") return;
    expect(e.insn?.op).toBe(0x9c);      // the CPU's decoding comes with the exit
    expect(e.insnLength).toBe(1);
    expect(m.run(100).reason).toBe("sensitive"); // still set: exits again, at the same place
    m.sensitiveExits = 0;
    expect(m.run(100).reason).toBe("hlt");
    expect(m.eax & 0x2).toBe(0x2);      // pushf ran: EFLAGS bit 1 is always set
    expect(m.instructions).toBe(3);
  });

  it("each instruction exits under its own class only", () => {
    const cases: [string, number[], number][] = [
      // [name, bytes, class]
      ["pushf", [0x9c], A.CTRL_EXIT_SENSITIVE],
      ["popf", [0x9d], A.CTRL_EXIT_SENSITIVE],
      ["push cs", [0x0e], A.CTRL_EXIT_SENSITIVE],
      ["push ss", [0x16], A.CTRL_EXIT_SENSITIVE],
      ["mov eax, cs", [0x8c, 0xc8], A.CTRL_EXIT_SENSITIVE],
      ["mov [0x3000], ss", [0x8c, 0x15, ...d32(0x3000)], A.CTRL_EXIT_SENSITIVE],
      ["lar eax, ecx", [0x0f, 0x02, 0xc1], A.CTRL_EXIT_SENSITIVE],
      ["lsl eax, ecx", [0x0f, 0x03, 0xc1], A.CTRL_EXIT_SENSITIVE],
      ["verr cx", [0x0f, 0x00, 0xe1], A.CTRL_EXIT_SENSITIVE],
      ["verw cx", [0x0f, 0x00, 0xe9], A.CTRL_EXIT_SENSITIVE],
      ["sgdt [0x3000]", [0x0f, 0x01, 0x05, ...d32(0x3000)], A.CTRL_EXIT_SENSITIVE | A.CTRL_EXIT_DESC_READ],
      ["sidt [0x3000]", [0x0f, 0x01, 0x0d, ...d32(0x3000)], A.CTRL_EXIT_SENSITIVE | A.CTRL_EXIT_DESC_READ],
      ["sldt ax", [0x0f, 0x00, 0xc0], A.CTRL_EXIT_SENSITIVE | A.CTRL_EXIT_DESC_READ],
      ["str ax", [0x0f, 0x00, 0xc8], A.CTRL_EXIT_SENSITIVE | A.CTRL_EXIT_DESC_READ],
      ["smsw eax", [0x0f, 0x01, 0xe0], A.CTRL_EXIT_SENSITIVE | A.CTRL_EXIT_DESC_READ],
      ["iret", [0xcf], A.CTRL_EXIT_PRIV_XFER],
      ["retf", [0xcb], A.CTRL_EXIT_PRIV_XFER],
      ["retf 8", [0xca, 8, 0], A.CTRL_EXIT_PRIV_XFER],
      ["call far 0x08:0x2000", [0x9a, ...d32(0x2000), 0x08, 0x00], A.CTRL_EXIT_PRIV_XFER],
      ["call far [0x3000]", [0xff, 0x1d, ...d32(0x3000)], A.CTRL_EXIT_PRIV_XFER],
      ["mov ss, ax", [0x8e, 0xd0], A.CTRL_EXIT_PRIV_XFER],
      ["pop ss", [0x17], A.CTRL_EXIT_PRIV_XFER],
      ["lss esp, [0x3000]", [0x0f, 0xb2, 0x25, ...d32(0x3000)], A.CTRL_EXIT_PRIV_XFER],
    ];
    const all = [A.CTRL_EXIT_SENSITIVE, A.CTRL_EXIT_PRIV_XFER, A.CTRL_EXIT_DESC_READ];
    for (const [name, bytes, cls] of cases) {
      for (const ctl of all) {
        const m = flat(bytes, ctl);
        const e = m.run(1);
        const want = (cls & ctl) !== 0;
        expect([name, ctl, e.reason === "sensitive"]).toEqual([name, ctl, want]);
        if (want) {
          expect(m.eip).toBe(CODE);
          if (e.reason === "sensitive") expect([name, e.insnLength]).toEqual([name, bytes.length]);
        }
      }
    }
  });

  it("the same opcodes' other forms run normally, and invalid forms still raise #UD", () => {
    const every = A.CTRL_EXIT_SENSITIVE | A.CTRL_EXIT_PRIV_XFER | A.CTRL_EXIT_DESC_READ;
    const runs: [string, number[]][] = [
      ["push ds", [0x1e]], ["pop ds", [0x1f]], ["mov eax, ds", [0x8c, 0xd8]], ["mov ds, ax", [0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8]],
      ["lds eax, [0x3000]", [0x3e, 0xc5, 0x05, ...d32(0x3000)]], ["call [0x3000] (near)", [0xff, 0x15, ...d32(0x3000)]],
    ];
    for (const [name, bytes] of runs) {
      const m = flat(bytes, every);
      // a GDT with a flat data segment at 0x10 (null, code, data)
      m.writeMem(0x5000, [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0]);
      m.setGdtr(0x5000, 23);
      m.writeMem(0x3000, [...d32(0x2000), 0x10, 0x00]);
      const e = m.run(bytes[0] === 0x66 ? 2 : 1);
      expect([name, e.reason]).toEqual([name, "budget"]);
    }
    // sgdt with a register operand and mov cs (8E /1) are #UD, not handed over
    for (const bytes of [[0x0f, 0x01, 0xc0], [0x8e, 0xc8]]) {
      const m = flat(bytes, every, { exceptionBitmap: 1 << A.VEC_UD });
      const e = m.run(1);
      expect(e.reason).toBe("exception");
      if (e.reason === "exception") expect(e.vector).toBe(A.VEC_UD);
    }
  });

  it("leaves the other controls alone", () => {
    const m = new Machine({ memSize: 1 << 20, exitOnHlt: true, exitOnSoftInt: true });
    m.sensitiveExits = A.CTRL_EXIT_SENSITIVE | A.CTRL_EXIT_PRIV_XFER | 1 | 2; // (soft-int / hlt bits ignored)
    expect(m.sensitiveExits).toBe(A.CTRL_EXIT_SENSITIVE | A.CTRL_EXIT_PRIV_XFER);
    m.setFlatProtectedMode();
    m.writeMem(CODE, [0xcc]); // int3
    m.eip = CODE;
    expect(m.run(10).reason).toBe("softint");
    m.sensitiveExits = 0;
    expect(m.sensitiveExits).toBe(0);
  });

  for (const jit of [false, true]) {
    it(`${jit ? "compiled" : "interpreted"} blocks: the control is checked when the instruction runs, not when the block was built`, () => {
      // L: nop ; inc edx ; pushf ; pop eax ; dec ecx ; jnz L ; hlt — one block with pushf in its middle, run 600
      // times with the control clear (compiled after 2 runs when the JIT is on), then the control is set: the
      // next pushf exits, with EIP on it and the instructions before it done; cleared: it runs
      const code = [0x90, 0x42, 0x9c, 0x58, 0x49, 0x75, 0xf9, 0xf4];
      const m = flat(code, 0, { jitThreshold: jit ? 2 : 0 });
      m.ecx = 1000;
      expect(m.run(6 * 600).reason).toBe("budget");
      expect([m.ecx, m.edx]).toEqual([400, 600]);
      expect(m.jitStats.compiled > 0).toBe(jit);
      m.sensitiveExits = A.CTRL_EXIT_SENSITIVE;
      const e = m.run(100_000);
      expect(e.reason).toBe("sensitive");
      expect(e.eip).toBe(CODE + 2);
      expect(m.eip).toBe(CODE + 2);
      expect([m.ecx, m.edx]).toEqual([400, 601]);
      const i0 = m.instructions;
      // emulate it by hand (push the flags) and go on: the next iteration exits again
      m.esp -= 4; m.write32(m.esp, m.eflags); m.eip = CODE + 3;
      expect(m.run(100_000).reason).toBe("sensitive");
      expect([m.ecx, m.edx]).toEqual([399, 602]);
      expect(m.instructions - i0).toBe(5); // pop, dec, jnz, nop, inc: the pushf itself never retires
      m.sensitiveExits = 0;
      expect(m.run(100_000).reason).toBe("hlt");
      expect(m.ecx).toBe(0);
    });
  }
});
