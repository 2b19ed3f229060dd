// fpu-fx-gen.ts — FXSAVE/FXRSTOR cases for the real-CPU oracle, in the shape of fpu-gen.ts's x87 cases (FNINIT,
// FRSTOR a random x87 state, the instruction with its 512-byte image at [edi], FNSAVE): FXSAVE's image and
// FXRSTOR's effect (seen in the FNSAVE image) are compared byte for byte; operands that are not 16-byte aligned
// fault (#GP) on both. Only the x87 part of the image is ours to match: there is no SSE here, so MXCSR_MASK
// (this CPU reports its own SSE features) and the XMM area are implementation-specific (IMPL_DEFINED_MEM).
import { Rng, SCRATCH_BASE, type Case } from "./gen.ts";
import { genFpuCase, val80, FPU_MEM, type FForm } from "./fpu-gen.ts";
import { ROOT } from "./oracle.ts";
import { join } from "node:path";

export const FX_CORPUS_FILE = join(ROOT, "fixtures/fpu-cases/fxsave.bin.gz");

export const FX_FORMS: FForm[] = [
  { name: "fxsave m512", bytes: () => [0x0f, 0xae, 0x07] },   // fxsave [edi]
  { name: "fxrstor m512", bytes: () => [0x0f, 0xae, 0x0f] },  // fxrstor [edi]
];
const le = (v: bigint, n: number) => Array.from({ length: n }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));

export function genFxCase(r: Rng, f: FForm): Case {
  const c = genFpuCase(r, f);
  const mem = SCRATCH_BASE + FPU_MEM + 16 * r.int(16) + (r.chance(0.1) ? r.pick([1, 4, 8, 12]) : 0);
  c.regs[7] = mem;
  if (f.name.startsWith("fxrstor")) {
    const d: number[] = [];
    const w16 = (v: number) => d.push(v & 0xff, (v >>> 8) & 0xff);
    const w32 = (v: number) => { w16(v & 0xffff); w16(v >>> 16); };
    const masks = r.chance(0.5) ? 0x3f : r.int(64);
    w16(masks | 0x40 | (r.pick([0, 2, 3]) << 8) | (r.int(4) << 10));
    const flags = r.chance(0.8) ? r.int(64) & masks : r.int(64);
    w16(flags | (r.int(16) << 8 & 0x4700) | (r.int(8) << 11) | (flags & ~masks & 0x3f ? 0x8080 : 0));
    d.push(r.int(256), r.chance(0.9) ? 0 : r.int(256));       // abridged tag, reserved
    w16(r.int(0x10000) & (r.chance(0.8) ? 0x7ff : 0xffff));   // FOP
    w32(r.u32()); w32(0x23 | (r.chance(0.9) ? 0 : r.u32() & 0xffff0000)); w32(r.u32()); w32(0x2b | (r.chance(0.9) ? 0 : r.u32() & 0xffff0000));
    w32(r.chance(0.95) ? 0x1f80 : (0x1f80 | (1 << (18 + r.int(14)))) >>> 0); // MXCSR (reserved bits: #GP)
    w32(r.u32());                                              // MXCSR_MASK (ignored)
    for (let i = 0; i < 8; i++) { const v = val80(r); d.push(...le(v.m, 8), v.se & 0xff, v.se >> 8, ...(r.chance(0.9) ? [0, 0, 0, 0, 0, 0] : [1, 2, 3, 4, 5, 6])); }
    for (let i = 0; i < 128; i++) d.push(0);                   // XMM0-7: zeros (the oracle process's own XMM state gets them)
    c.patches.push({ off: mem - SCRATCH_BASE, data: d });
  }
  return { ...c, desc: `${f.name} at +${(mem - SCRATCH_BASE).toString(16)}   [${f.bytes(r).map((b) => b.toString(16).padStart(2, "0")).join(" ")}]` };
}
export function genFxCases(seed: number, count: number): Case[] {
  const r = new Rng(seed);
  const out: Case[] = [];
  for (let i = 0; i < count; i++) out.push(genFxCase(r, FX_FORMS[i % FX_FORMS.length]));
  return out;
}
