// jit-chain.test.ts — compiled regions (host/jit/region.ts): a hot block's compiled function goes on into the
// blocks after it in the same page (an unconditional jump, a call, the fall-through of a backward jcc) and loops
// back to its start, instead of returning to the CPU's chain loop at every block end. Every test compares the
// full architectural state with the interpreter's. Also the decoder's `cmp [m], r32` fast form (decoder.ts).
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine } from "../host/machine.ts";
import * as A from "../host/abi.generated.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const haveCpu = existsSync(join(root, "build/cpu.wasm"));

describe.skipIf(!haveCpu)("decoder fast forms", () => {
  it("cmp [m], r32 (39 /r) is decoded as its fast form and gives the handler's flags", () => {
    const code = [
      0x39, 0x0b, //  cmp [ebx], ecx
      0x9c, //        pushf
      0xf4, //        hlt
    ];
    const cases: [number, number][] = [[5, 5], [3, 7], [0x80000000, 1], [7, 0xffffffff], [0x7fffffff, 0xffffffff]];
    for (const [mv, cv] of cases) {
      const m = new Machine({ memSize: 1 << 20, jitThreshold: 0, exitOnHlt: true });
      m.setFlatProtectedMode();
      m.writeMem(0x10000, code);
      m.writeMem(0x20000, new Uint8Array(new Uint32Array([mv]).buffer));
      m.eip = 0x10000; m.ebx = 0x20000; m.ecx = cv; m.esp = 0x8000;
      expect(m.run(100).reason).toBe("hlt");
      // the first block the CPU decoded is at the arena's base: its first record's fast form
      const dv = m.stateView;
      const rec = A.BLOCK_ARENA_BASE + A.BLK_HDR;
      expect(dv.getUint16(rec + A.REC_OP, true)).toBe(0x39);
      expect(dv.getUint8(rec + A.REC_FAST)).toBe(A.F_CMP_MR);
      const r = (mv - cv) >>> 0;
      const cf = mv >>> 0 < cv >>> 0 ? 1 : 0;
      const zf = r === 0 ? 0x40 : 0;
      const sf = r >>> 31 ? 0x80 : 0;
      const of = ((mv ^ cv) & (mv ^ r)) >>> 31 ? 0x800 : 0;
      const flags = m.readMem(0x8000 - 4, 4);
      const f = new DataView(flags.buffer, flags.byteOffset).getUint32(0, true);
      expect(f & 0x8c1).toBe(cf | zf | sf | of);
    }
  });
});
