// jit/batch.ts — compiles hot blocks in batches: several blocks' functions in one WebAssembly.Module.
//
// Why: V8 pays a fixed cost per module (decoding, a code space, an instance with its imports) that is larger than
// compiling one small function, and Linux's kernel phase asks for ~3,400 compiles, most of blocks that run a few
// hundred times (docs/RESULTS.md, branch jit-tier). So a block that reaches the threshold is queued (the CPU gets
// JIT_QUEUED, keeps interpreting it and counts its runs again from 0); the queue is compiled as one module when a
// queued block asks again (it is still hot: it ran another threshold's worth of times) or when the queue is full.
// Every function of the batch goes into its block's BLK_JIT at once, so the blocks that were hot together (a
// kernel path's callees) are compiled together.
//
// Functions are cached one by one across machines (their bytes do not depend on the machine or where the block
// arena put the block: abi.ts OFF_JIT_BLOCK), so a block compiled again after a block-arena refill, or in another
// machine, takes the function from the module it was first compiled in; a machine instantiates each module once.
//
// Exactness: when a block is compiled does not change what it computes (compiled code and the interpreter agree);
// a queued block is installed only while its block is still the one the block hash maps its address to, in the
// generation it was queued in (a refill drops the queue: the arena is reused).
import * as A from "../abi.generated.ts";
import { runtime } from "../runtime/index.ts";
import { Code, assemble } from "./wasm.ts";
import { HELPERS, TYPES, HELPER_TYPES, NLOCALS } from "./layout.ts";
import type { BlockCompiler } from "./compiler.ts";
import { MAX_LIVE_JIT_MODULES, jitCacheStats } from "../cpu-instances.ts";

/** blocks compiled in one module at most (a full queue compiles) */
export const BATCH_MAX = 32;
/** functions kept in the process-wide cache (FIFO; the bound the module cache had: Linux's boot compiles ~1,800) */
const FN_CACHE_MAX = 8192;

interface CachedFn { module: WebAssembly.Module; name: string }
const fnCache = new Map<string, CachedFn>();
/** functions in modules still alive, process-wide: past MAX_LIVE_JIT_MODULES nothing more is compiled (a guest that
 *  keeps writing new code cannot exhaust the host; blocks are then interpreted, which is always correct) */
let liveFns = 0;
const liveModules = new FinalizationRegistry<number>((n) => { liveFns -= n; });
/** process-wide: modules V8 compiled for batches, blocks queued, batches compiled because a queued block asked again
 *  or because the queue was full (cpu-instances.ts jitCacheStats counts the functions: compiled by V8, and taken from
 *  the cache) */
export const batchStats = { modules: 0, queued: 0, askedAgain: 0, fullQueue: 0 };

/** One module exporting the bodies as f0, f1, … */
export function batchModule(bodies: Code[]): Uint8Array<ArrayBuffer> {
  return assemble({
    types: TYPES,
    importFuncs: HELPERS.map((name, i) => ({ name, type: HELPER_TYPES[i] })),
    funcs: bodies.map((body, i) => ({ type: 0, locals: NLOCALS, body, export: `f${i}` })),
  });
}

export interface BatchHost {
  compiler: BlockCompiler;
  mem: () => DataView;
  /** may V8 compile `n` more functions for this machine */
  mayCompile: (n: number) => boolean;
  /** `n` functions were compiled by V8 for this machine */
  compiledFresh: (n: number) => void;
  instantiate: (m: WebAssembly.Module) => WebAssembly.Instance;
  /** put a function in the table: its index, or 0 past the machine's slots */
  install: (fn: unknown) => number;
  /** a block other than the requesting one got a function */
  installedOther: () => void;
}

export class CompileQueue {
  private readonly queue: number[] = [];
  /** queued block → its EIP when the CPU asked (the region compiler finds blocks of other pages from it) */
  private readonly queued = new Map<number, number>();
  private readonly instances = new WeakMap<WebAssembly.Module, WebAssembly.Instance>();
  constructor(private readonly host: BatchHost) {}

  /** The block cache was dropped: queued blocks are gone. */
  clear(): void { this.queue.length = 0; this.queued.clear(); }

  /** env.jitCompile for a block that reached the threshold: a table index, JIT_QUEUED, or 0 (not compiled) */
  request(b: number, batch = true): number {
    if (!batch) return this.compileAll([b]);
    if (!this.queued.has(b) && this.queue.length + 1 < BATCH_MAX) {
      this.queue.push(b); this.queued.set(b, this.host.mem().getUint32(A.STATE_BASE + A.OFF_JIT_COMPILE_EIP, true));
      batchStats.queued++;
      return A.JIT_QUEUED;
    }
    if (this.queued.has(b)) batchStats.askedAgain++; else batchStats.fullQueue++;
    const blocks = this.queue.filter((q) => q !== b && this.current(q));
    const eips = blocks.map((q) => this.queued.get(q));
    blocks.push(b); // (last: the one the CPU waits for, at the EIP the CPU stored now)
    eips.push(undefined);
    this.clear();
    return this.compileAll(blocks, eips);
  }

  /** the block hash still maps the block's address to it (no write to its page rebuilt it) */
  private current(b: number): boolean {
    const dv = this.host.mem();
    const phys = dv.getUint32(b, true);
    const slot = A.BLOCK_HASH_BASE + ((((phys >>> 16) ^ phys) & 0xffff) << 3);
    return dv.getUint32(slot, true) === ((phys + 1) >>> 0) && dv.getUint32(slot + 4, true) === b && dv.getUint32(b + A.BLK_JIT, true) === 0;
  }

  /** Compile and install the blocks' functions; returns the last block's table index (0 if not compiled). */
  private compileAll(blocks: number[], eips: (number | undefined)[] = []): number {
    const h = this.host;
    const keys: (string | null)[] = [];
    const fresh = new Map<string, Code>();
    for (const [k, b] of blocks.entries()) {
      const body = h.compiler.body(b, eips[k]);
      if (!body) { keys.push(null); continue; }
      const v = body.bytesView();
      const key = runtime.Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("latin1");
      keys.push(key);
      if (!fnCache.has(key)) fresh.set(key, body);
    }
    if (fresh.size && h.mayCompile(fresh.size) && liveFns + fresh.size <= MAX_LIVE_JIT_MODULES) {
      const mod = new WebAssembly.Module(batchModule([...fresh.values()]));
      liveFns += fresh.size;
      liveModules.register(mod, fresh.size);
      {
        batchStats.modules++; jitCacheStats.compiled += fresh.size;
        h.compiledFresh(fresh.size);
        let i = 0;
        for (const key of fresh.keys()) {
          if (fnCache.size >= FN_CACHE_MAX) fnCache.delete(fnCache.keys().next().value!);
          fnCache.set(key, { module: mod, name: `f${i++}` });
        }
      }
    }
    const dv = h.mem();
    let last = 0;
    blocks.forEach((b, k) => {
      const key = keys[k];
      const hit = key === null ? undefined : fnCache.get(key);
      let idx = 0;
      if (hit) {
        if (!fresh.has(key!)) jitCacheStats.hits++;
        let inst = this.instances.get(hit.module);
        if (!inst) { inst = h.instantiate(hit.module); this.instances.set(hit.module, inst); }
        idx = h.install(inst.exports[hit.name]);
      }
      if (k === blocks.length - 1) { last = idx; return; } // (the CPU stores the requester's own result)
      dv.setUint32(b + A.BLK_JIT, idx, true);
      dv.setUint32(b + A.BLK_JIT_STATE, idx ? 1 : 2, true);
      if (idx) h.installedOther();
    });
    return last;
  }
}
