// jit-batch.test.ts — batched compiles (host/jit/batch.ts): with the default threshold, blocks that reach it are
// queued and compiled several per WebAssembly.Module. Counts the modules V8 compiles (a counting subclass of
// WebAssembly.Module) and compares the full state — registers, EFLAGS, EIP, instruction count, stack and code
// bytes — with the interpreter's at every slice boundary, also when code changes while its block is queued and when
// the block cache is dropped with blocks in the queue.
import { describe, it, expect, afterEach } from "vitest";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine, JIT_THRESHOLD } from "../host/machine.ts";
import { BATCH_MAX } from "../host/jit/batch.ts";
import { jitCacheStats } from "../host/cpu-instances.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const haveCpu = existsSync(join(root, "build/cpu.wasm"));

const FN = 0x20000, NFN = 20;
/** the function the patch rewrites: the last, whose blocks reach the threshold after a full queue was compiled, so
 *  they wait in the queue until one of them asks again */
const PATCHED = NFN - 1;
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/**
 * A loop calling NFN functions, each in its own page (each its own block; a region may follow a call into it):
 *   base:   mov ecx, iters            b9 imm32
 *   loop:   [patch]                   (optional: at one iteration, rewrite function 3's immediate)
 *           call f0 … call f19        e8 rel32 (each return site starts a block)
 *           dec ecx                   49
 *           jnz loop                  0f 85 rel32
 *           hlt                       f4
 *   f_i:    add eax, imm_i            05 imm32
 *           xor edx, eax              31 c2
 *           rol edx, 1                d1 c2
 *           ret                       c3
 * The immediates and the loop's address come from `seed`, so each test's blocks are new code for V8 (the function
 * cache is process-wide).
 */
function program(iters: number, seed: number, patchAt = -1, patchImm = 0): { base: number; code: number[]; fns: number[][] } {
  const CODE = 0x10000 + seed * 0x40;
  const code = [0xb9, ...le32(iters)];
  const loop = code.length;
  if (patchAt >= 0) {
    code.push(0x81, 0xf9, ...le32(patchAt)); //                            cmp ecx, patchAt
    code.push(0x75, 10); //                                                jne +10
    code.push(0xc7, 0x05, ...le32(FN + PATCHED * 0x1000 + 1), ...le32(patchImm)); // mov dword [f19+1], patchImm
  }
  for (let i = 0; i < NFN; i++) {
    const at = CODE + code.length;
    code.push(0xe8, ...le32((FN + i * 0x1000 - (at + 5)) >>> 0));
  }
  code.push(0x49);
  const at = CODE + code.length;
  code.push(0x0f, 0x85, ...le32((CODE + loop - (at + 6)) >>> 0));
  code.push(0xf4);
  const fns = [];
  for (let i = 0; i < NFN; i++) fns.push([0x05, ...le32((seed * 0x9e3779b1 + i * 0x85ebca6b) >>> 0), 0x31, 0xc2, 0xd1, 0xc2, 0xc3]);
  return { base: CODE, code, fns };
}

interface Result { states: number[][]; compiled: number; modules: number; functions: number; retired: number; instructions: number }
/** Run the program in slices (threshold undefined = the default, batched; 0 = the interpreter); `between(k, m)` runs
 *  after slice k. */
function run(p: ReturnType<typeof program>, threshold: number | undefined, slice: number, between?: (k: number, m: Machine) => void): Result {
  const m = new Machine({ memSize: 1 << 20, jitThreshold: threshold, exitOnHlt: true });
  m.setFlatProtectedMode();
  m.writeMem(p.base, p.code);
  p.fns.forEach((f, i) => m.writeMem(FN + i * 0x1000, f));
  m.eip = p.base; m.esp = 0x8000; m.eflags = 0x202;
  const states: number[][] = [];
  const modules0 = modulesMade, functions0 = jitCacheStats.compiled;
  for (let k = 0; k < 100_000; k++) {
    const e = m.run(slice);
    const stack = m.readMem(0x8000 - 16, 16), fp = m.readMem(FN + PATCHED * 0x1000, 8);
    states.push([m.eax, m.ebx, m.ecx, m.edx, m.esi, m.edi, m.ebp, m.esp, m.eip, m.eflags, m.instructions,
      ...new Uint32Array(stack.slice().buffer), ...new Uint32Array(fp.slice().buffer)]);
    if (e.reason === "hlt") break;
    expect(e.reason).toBe("budget");
    between?.(k, m);
  }
  const r = { states, compiled: m.jitStats.compiled, modules: modulesMade - modules0, functions: jitCacheStats.compiled - functions0,
    retired: m.jitStats.retired, instructions: m.instructions };
  m.release();
  return r;
}

// count the modules V8 compiles: a subclass of WebAssembly.Module in its place while a test runs
let modulesMade = 0;
const RealModule = WebAssembly.Module;
function countModules() {
  (WebAssembly as { Module: unknown }).Module = class extends RealModule {
    constructor(bytes: BufferSource) { super(bytes); modulesMade++; }
  };
}
afterEach(() => { (WebAssembly as { Module: unknown }).Module = RealModule; });

describe.skipIf(!haveCpu)("batched compiles", () => {
  it("compiles the blocks that get hot together in a few modules, with the interpreter's state at every slice", () => {
    countModules();
    const p = program(1500, 1);
    const jit = run(p, undefined, 997);
    const ref = run(p, 0, 997);
    expect(jit.states).toEqual(ref.states);
    // 2 + NFN blocks in the loop (the loop head, a return site per call, the tail) and NFN functions: all hot; a
    // region follows calls into the other pages and back (up to 8 blocks: region.ts), so fewer functions than blocks
    expect(jit.compiled).toBeGreaterThanOrEqual(NFN);
    expect(jit.functions).toBeGreaterThanOrEqual(NFN - 1); // (new code: the loop's tail may be another test's)
    expect(jit.modules).toBeLessThan(jit.functions);
    // one module per BATCH_MAX blocks, and one for the rest when one of them asks again: not one per block
    expect(BATCH_MAX).toBeGreaterThan(8);
    expect(jit.modules).toBeGreaterThanOrEqual(1);
    expect(jit.modules).toBeLessThanOrEqual(Math.ceil(jit.functions / BATCH_MAX) + 1);
    expect(ref.modules).toBe(0);
    // instructions retired in compiled code (jitStats.retired): none in the interpreter; most of the loop here, which
    // runs 1,500 passes and is compiled after ~2 × JIT_THRESHOLD
    expect(ref.retired).toBe(0);
    expect(jit.retired).toBeGreaterThan(0.5 * jit.instructions);
    expect(jit.retired).toBeLessThan(jit.instructions);
  });

  it("a block rewritten while it waits in the queue runs its new code (exact against the interpreter)", () => {
    const iters = 1200;
    // the patch lands when function PATCHED has run JIT_THRESHOLD + 40 times: queued, not yet compiled
    const patchAt = iters - JIT_THRESHOLD - 40;
    const p = program(iters, 2, patchAt, 0x01020304);
    for (const slice of [997, 50_000]) {
      const jit = run(p, undefined, slice);
      const ref = run(p, 0, slice);
      expect(jit.states).toEqual(ref.states);
      expect(jit.compiled).toBeGreaterThanOrEqual(NFN);
      const last = jit.states[jit.states.length - 1];
      expect(last[last.length - 2]).toBe(0x02030405); // (the patched bytes: 05 04 03 02 01 …)
    }
  });

  it("dropping every block with blocks in the queue (state loaded back) stays exact", () => {
    const p = program(1000, 3);
    // after ~300 passes (blocks queued), the vCPU state saved at slice 0 is loaded back: every block is dropped
    let saved: ReturnType<Machine["saveState"]> | null = null;
    const between = (k: number, m: Machine) => {
      if (k === 0) saved = m.saveState();
      if (k === 10) m.loadState(saved!);
    };
    const slice = 30 * (3 * NFN + 3);
    const jit = run(p, undefined, slice, between);
    const ref = run(p, 0, slice, between);
    expect(jit.states).toEqual(ref.states);
    expect(jit.compiled).toBeGreaterThanOrEqual(NFN);
  });

  it("a threshold the user set compiles each block when it reaches it, one module each", () => {
    countModules();
    const p = program(50, 4);
    const jit = run(p, 20, 997);
    const ref = run(p, 0, 997);
    expect(jit.states).toEqual(ref.states);
    expect(jit.compiled).toBeGreaterThanOrEqual(NFN / 2);
    expect(jit.functions).toBeGreaterThanOrEqual(NFN / 2 - 1);
    expect(jit.modules).toBe(jit.functions);
  });
});
