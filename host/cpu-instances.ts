// cpu-instances.ts — where a Machine's wasm comes from: the CPU module (compiled once per process), the pool of
// released machines' memories and instances (Machine.release), and compiled blocks shared by content across
// machines, with the caps that bound what guests can make the JIT allocate.
import { runtime } from "./runtime/index.ts";
import * as A from "./abi.generated.ts";

/**
 * Compiled blocks are functions of wasm modules compiled in batches (jit/batch.ts), each module a code region of its
 * own (a memory mapping: Linux allows about 65,000 per process). Compiled blocks stay in their machine's function
 * table (invalidated ones too) until the CPU drops its whole block cache (a full block arena: blockGeneration()
 * changes), after which no block refers to them and their slots are reused. MAX_JIT_BLOCKS_PER_MACHINE bounds a machine's table slots per generation and the functions V8
 * compiles for it in all (blocks compiled again after a refill come from the cache), MAX_LIVE_JIT_MODULES the
 * live functions of the process (jit/batch.ts counts them): past them blocks are interpreted, which is always
 * correct. Functions of machines that are gone are counted out when the garbage collector frees their modules.
 */
export const MAX_JIT_BLOCKS_PER_MACHINE = 8192;
export const MAX_LIVE_JIT_MODULES = 24576;

let cachedModule: WebAssembly.Module | null = null;
export function cpuModule(): WebAssembly.Module {
  return (cachedModule ??= runtime.loadCpuWasm()); // Node: from disk; the browser: compiled by the worker
}

/**
 * The machine pool (Machine.release): memories and CPU instances a released machine gave back, by RAM size, zeroed
 * (assembly/recycle.ts) and ready for the next `new Machine`. Bounded: past the caps a released machine's memory
 * is left to the garbage collector.
 */
export interface PooledCpu {
  memory: WebAssembly.Memory;
  instance: WebAssembly.Instance;
  /** the function table's length when instantiated: compiled blocks go at tableBase.. */
  tableBase: number;
  /** the import env.jitCompile calls the machine that owns the instance now */
  owner: { compile: (block: number) => number };
}
const POOL_PER_SIZE = 8;
const POOL_MAX_BYTES = 1 << 30;
const pool = new Map<number, PooledCpu[]>();
let pooledBytes = 0;
/** the module's static data as instantiation leaves it, restored in a recycled memory */
let pristineData: Uint8Array | null = null;
/**
 * The module's static data (asc --memoryBase: a few hundred bytes of tables) as instantiation leaves it: up to its
 * last non-zero byte, in whole 4 KiB pages. Below IO_BUF_BASE nothing else lives there (abi.ts); the I/O buffer
 * above is zeroed apart. (Copying the whole 960 KiB up to the TLB was most of a release's time.)
 */
function moduleData(memory: WebAssembly.Memory): Uint8Array {
  const all = new Uint8Array(memory.buffer, A.MODULE_DATA_BASE, A.IO_BUF_BASE - A.MODULE_DATA_BASE);
  let end = all.length;
  while (end > 0 && all[end - 1] === 0) end--;
  return all.slice(0, Math.min(all.length, Math.ceil(end / 4096) * 4096));
}
export const notCompiling = (_block: number) => 0;

/**
 * RAM a new machine's memory covers at first; the rest is backed on first touch (assembly/ram-backing.ts by the CPU,
 * Machine.check by the host): V8 counts a memory's size as external memory and collects garbage for every 64 MiB
 * of it, so a machine created at full size paid a collection per launch.
 */
export const INITIAL_BACKED_RAM = 1 << 20;
export function freshCpu(ram: number): PooledCpu {
  const pages = Math.ceil((A.RAM_BASE + ram) / 65536);
  const initial = Math.ceil((A.RAM_BASE + Math.min(ram, INITIAL_BACKED_RAM)) / 65536);
  const memory = new WebAssembly.Memory({ initial, maximum: pages });
  const owner: PooledCpu["owner"] = { compile: notCompiling };
  const instance = new WebAssembly.Instance(cpuModule(), {
    env: {
      memory,
      jitCompile: (block: number) => owner.compile(block),
      abort: (_m: number, _f: number, line: number, col: number) => {
        throw new Error(`wasmvisor: CPU abort at ${line}:${col}`);
      },
    },
  });
  pristineData ??= moduleData(memory);
  return { memory, instance, tableBase: (instance.exports.table as WebAssembly.Table).length, owner };
}
export function takePooled(ram: number): PooledCpu | undefined {
  const p = pool.get(ram)?.pop();
  if (p) pooledBytes -= p.memory.buffer.byteLength;
  return p;
}
export function giveBack(p: PooledCpu, ram: number, allRam: boolean, shared: boolean): void {
  p.owner.compile = notCompiling;
  const bytes = p.memory.buffer.byteLength;
  const list = pool.get(ram) ?? [];
  // a Memory object someone else holds could reach the next machine's RAM: never reused
  if (shared || list.length >= POOL_PER_SIZE || pooledBytes + bytes > POOL_MAX_BYTES) { p.memory.grow(0); return; }
  (p.instance.exports.recycle as (all: number, ram: number) => void)(allRam ? 1 : 0, ram);
  const u8 = new Uint8Array(p.memory.buffer);
  u8.set(pristineData!, A.MODULE_DATA_BASE);
  u8.fill(0, A.IO_BUF_BASE, A.IO_BUF_BASE + A.IO_BUF_SIZE);
  p.memory.grow(0); // detaches every view of the old machine's memory (a stale view reads nothing, writes nowhere)
  list.push(p);
  pool.set(ram, list);
  pooledBytes += bytes;
}
/**
 * What a live machine holds of the pool. A machine the program drops without release() gives its memory and
 * instance back when the garbage collector frees it (a FinalizationRegistry: after the current job, so a test suite
 * that awaits between tests reuses memories; a synchronous loop cannot). The lease, not the machine, is what the
 * registry keeps, and nothing in it refers to the machine (the instance's jitCompile points at it only during run()).
 * Not when the host was handed the Memory or a view of RAM: whoever holds those may still use them.
 */
export interface Lease { cpu: PooledCpu; ram: number; rawViews: boolean; shared: boolean; registered?: boolean }
/** machines given back by the collector (for tests and the bench) */
export const leaseStats = { collected: 0 };
/**
 * Registered leases by RAM size, at most POOL_PER_SIZE: the registry keeps a lease's memory alive past its machine
 * until the callback runs, which is never inside one synchronous job, so a loop making machines would keep every
 * memory it made. Past the cap a dropped machine's memory is freed by the collector as before.
 */
const leased = new Map<number, number>();
const unreleased = new FinalizationRegistry<Lease>((l) => {
  l.registered = false;
  leased.set(l.ram, (leased.get(l.ram) ?? 1) - 1);
  if (l.rawViews || l.shared) return;
  leaseStats.collected++;
  giveBack(l.cpu, l.ram, false, false);
});
export function takeLease(machine: object, l: Lease): void {
  const n = leased.get(l.ram) ?? 0;
  if (n >= POOL_PER_SIZE) return;
  leased.set(l.ram, n + 1);
  l.registered = true;
  unreleased.register(machine, l, l);
}
/** The machine was released, or handed out its Memory or a view of RAM: the collector must not recycle it. */
export function endLease(l: Lease): void {
  if (!l.registered) return;
  l.registered = false;
  leased.set(l.ram, (leased.get(l.ram) ?? 1) - 1);
  unreleased.unregister(l);
}

/** Drop every pooled memory (the next machines are created fresh); returns how many were dropped. */
export function drainMachinePool(): number {
  let n = 0;
  for (const list of pool.values()) n += list.length;
  pool.clear();
  pooledBytes = 0;
  return n;
}
const released = () => { throw new Error("wasmvisor: this machine was released (Machine.release)"); };
export const releasedCpu = new Proxy({}, { get: () => released }) as unknown as CpuExports;

/** compiled functions, process-wide: compiled by V8, and taken from the cross-machine cache (jit/batch.ts) */
export const jitCacheStats = { compiled: 0, hits: 0 };

export interface CpuExports {
  table: WebAssembly.Table;
  run(budget: number): number;
  reset(): void;
  flushTlb(): void;
  invlpg(lin: number): void;
  notifyHostWrite(paddr: number, len: number): void;
  stateLoaded(): void;
  blockGeneration(): number;
  decodeAt(eip: number): number;
  hwCpuid(leaf: number, reg: number): number;
  invvpid(type: number, vpid: number, lin: number): void;
  backRamTo(end: number): void;
  tssStackSlot(attr: number, limit: number, n: number): number;
  newSsCheck(sel: number, hi: number, newCpl: number, ext: number): number;
  dataSegCheck(seg: number, sel: number, hi: number, cpl: number): number;
  larLslOk(sel: number, hi: number, cpl: number, isLsl: number): number;
  verOk(sel: number, hi: number, cpl: number, write: number): number;
  isDoubleFault(first: number, second: number): number;
  isFaultVector(v: number): number;
  escalation(first: number, second: number, soft: number): number;
  framePushesRf(vec: number, soft: number, external: number): number;
  idtLimitCheck(vec: number, idtLimit: number, ext: number): number;
  idtGateCheck(vec: number, hi: number, soft: number, cpl: number, ext: number): number;
  gateOffset(lo: number, hi: number): number;
  gateSize(hi: number): number;
  gateTargetCheck(sel: number, lo: number, hi: number, off: number, cpl: number, ext: number, isJmp: number): number;
  gateTargetCpl(hi: number, cpl: number): number;
  deliveryFrameSize(gateHi: number, inward: number, hasErr: number): number;
  deliveryFlags(flags: number, gateHi: number): number;
  callGateCheck(gateSel: number, hi: number, cpl: number): number;
  farTargetCheck(sel: number, lo: number, hi: number, off: number, cpl: number): number;
  returnCsCheck(sel: number, lo: number, hi: number, off: number, cpl: number): number;
  returnSsCheck(sel: number, hi: number, rpl: number): number;
  nullsOnReturn(attr: number, newCpl: number): number;
  popFlags(cur: number, val: number, size: number, cpl: number, iret: number): number;
  ioMapBaseSlot(trAttr: number, trLimit: number): number;
  ioBitmapSlot(mapBase: number, port: number, trLimit: number): number;
  ioBitsAllow(bits: number, port: number, size: number): number;
  taskTargetCheck(sel: number, lo: number, hi: number, wantBusy: number): number;
  stackRoomCheck(limit: number, sp: number, frame: number, errSel: number, big: number): number;
  sysSelCheck(sel: number): number;
  sysDescCheck(sel: number, hi: number, isTr: number): number;
  segAccessCheck(attr: number, limit: number, off: number, size: number, write: number, isSs: number): number;
}
