// recycle.ts — a machine's memory and instance made as good as new for the next machine (host/machine.ts pool):
// creating a WebAssembly.Memory costs V8 a garbage collection every few machines (external-memory pressure),
// reusing one costs zeroing what the last guest touched. Pages written are tracked in a bitmap (abi.ts DIRTY_*);
// everything else the CPU keeps below RAM is either cleared here or rebuilt by reset().
import { DIRTY_BASE, RAM_BASE, STATE_BASE, STATE_SIZE, BLOCK_ARENA_BASE } from "./abi";
import { arenaHigh, clearArenaHigh, flushBlocks } from "./cpu";
import { resetEpoch } from "./mmu";
import { backedNow } from "./ram-backing";

let dirtyTop: u32 = 0; // pages at and above it are clean

/** Guest-physical page `page` (inside RAM) may now differ from zero. */
@inline export function markDirty(page: u32): void {
  const a = DIRTY_BASE + (page >>> 3);
  const v = <u32>load<u8>(a);
  const bit: u32 = 1 << (page & 7);
  if (!(v & bit)) {
    store<u8>(a, <u8>(v | bit));
    if (page >= dirtyTop) dirtyTop = page + 1;
  }
}

/**
 * Zero RAM (every page if `allRam`: the host handed out raw views of it, else the dirty pages), the state block,
 * and the blocks built (reset() then invalidates the TLB); the host then writes its configuration and calls reset(), as for a new machine.
 */
export function recycle(allRam: u32, ramBytes: u32): void {
  if (allRam) {
    memory.fill(RAM_BASE, 0, backedNow(ramBytes)); // (RAM the memory never covered is zero: ram-backing.ts)
    memory.fill(DIRTY_BASE, 0, (dirtyTop + 7) >>> 3);
  } else {
    const n = (dirtyTop + 7) >>> 3;
    for (let i: u32 = 0; i < n; i++) {
      const v = <u32>load<u8>(DIRTY_BASE + i);
      if (!v) continue;
      store<u8>(DIRTY_BASE + i, 0);
      if (v == 0xFF) { memory.fill(RAM_BASE + (i << 15), 0, 8 << 12); continue; }
      for (let b: u32 = 0; b < 8; b++) if (v & (1 << b)) memory.fill(RAM_BASE + (((i << 3) + b) << 12), 0, 4096);
    }
  }
  dirtyTop = 0;
  flushBlocks(); // the block hash and page info
  memory.fill(BLOCK_ARENA_BASE, 0, arenaHigh() - BLOCK_ARENA_BASE);
  clearArenaHigh();
  memory.fill(STATE_BASE, 0, STATE_SIZE);
  resetEpoch(); // block headers record it
}
