// jit-refill.test.ts — the JIT across block-cache refills, as Linux makes them: its boot runs ~600 M instructions
// through a code footprint larger than the block arena, so the CPU drops every predecoded block about every 30 M
// instructions (19 times in one boot). A block compiled again afterwards must (1) still get a compiled function —
// the slots of the dropped blocks are reused, so the per-machine cap counts one generation, not the whole run — and
// (2) compile to the same bytes wherever the arena put it this time, so the module cache answers instead of V8
// compiling it again (compiled code addresses its records relative to the block, abi.ts OFF_JIT_BLOCK). New code
// (a module V8 must compile) stays bounded per machine: a guest that keeps writing code gains nothing from refills.
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine, MAX_JIT_BLOCKS_PER_MACHINE } from "../host/machine.ts";
import { jitCacheStats } from "../host/cpu-instances.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const haveCpu = existsSync(join(root, "build/cpu.wasm"));

// a block with a record the compiler hands to the CPU's handler (jitExec): imul has no fast form
const HOT = [
  0x0f, 0xaf, 0xc3, //  imul eax, ebx
  0x40, //              inc eax
  0xf4, //              hlt
];
// a block run first after a refill, so that HOT lands elsewhere in the arena
const SHIFT = [
  0x43, //              inc ebx
  0xeb, 0x00, //        jmp +0
  0x90, //              nop
  0xe9, 0xf7, 0x0f, 0x00, 0x00, // jmp 0x11000 (HOT)
];

function machine(): Machine {
  const m = new Machine({ memSize: 1 << 20, jitThreshold: 1, exitOnHlt: true });
  m.setFlatProtectedMode();
  m.writeMem(0x10000, SHIFT);
  m.writeMem(0x11000, HOT);
  return m;
}

describe.skipIf(!haveCpu)("JIT across block-cache refills", () => {
  it("a block compiled again after a refill, at another arena address, comes from the module cache", () => {
    const m = machine();
    const fresh = m.saveState(); // (before any hlt: the halted state is vCPU state)
    m.eip = 0x11000; m.eax = 3; m.ebx = 5;
    expect(m.run(100).reason).toBe("hlt");
    expect(m.eax).toBe(16);
    expect(m.jitStats.compiled).toBe(1);
    const before = { ...jitCacheStats };
    // the vCPU state loaded back: the CPU drops every block; SHIFT's blocks now come first in the arena
    m.loadState(fresh);
    m.eip = 0x10000; m.eax = 3; m.ebx = 4;
    expect(m.run(100).reason).toBe("hlt");
    expect(m.eax).toBe(16);
    // SHIFT's two blocks compiled (new code) and HOT again, whose bytes are the same as before although its records
    // are elsewhere in the arena: the module cache answers
    expect(m.jitStats.compiled).toBe(3);
    expect(jitCacheStats.compiled - before.compiled).toBeLessThanOrEqual(2);
    expect(jitCacheStats.hits - before.hits).toBeGreaterThanOrEqual(1);
    m.release();
  });

  it("past the per-machine cap of compiled blocks, a refill makes room: the block is compiled again", () => {
    const m = machine();
    m.eip = 0x11000;
    const state = m.saveState();
    const rounds = MAX_JIT_BLOCKS_PER_MACHINE + 100;
    let hitsNearEnd = 0;
    for (let i = 0; i < rounds; i++) {
      if (i === rounds - 100) hitsNearEnd = jitCacheStats.hits;
      m.loadState(state); // drops every block (a refill; the JIT counters are vCPU state and come back too)
      expect(m.run(10).reason).toBe("hlt");
      expect(m.jitStats.compiled).toBe(1);
    }
    // the last 100 rounds, past MAX_JIT_BLOCKS_PER_MACHINE compiles in this machine, still compiled HOT (from the cache)
    expect(jitCacheStats.hits - hitsNearEnd).toBe(100);
    m.release();
  });

  it("refills give back slots, not compile work: new code past the cap of new modules is interpreted", () => {
    const m = machine();
    m.eip = 0x12000;
    const state = m.saveState();
    const compiled0 = jitCacheStats.compiled;
    const rounds = MAX_JIT_BLOCKS_PER_MACHINE + 50;
    for (let i = 0; i < rounds; i++) {
      m.loadState(state);
      // new code every round: mov eax, 0x40000000 + i; hlt
      const v = 0x40000000 + i;
      m.writeMem(0x12000, [0xb8, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24, 0xf4]);
      expect(m.run(10).reason).toBe("hlt");
      expect(m.eax).toBe(v);
    }
    expect(jitCacheStats.compiled - compiled0).toBe(MAX_JIT_BLOCKS_PER_MACHINE);
    m.release();
  });
});
