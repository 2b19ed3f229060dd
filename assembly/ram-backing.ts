// ram-backing.ts — guest RAM backed by the wasm memory on first touch (branch launch, issue 13 "allocate lazily"):
// the host creates a machine's memory with the CPU tables and a little RAM (host/cpu-instances.ts freshCpu) and
// it grows as the guest reaches further. V8 counts a memory's whole size as external memory and collects garbage
// every 64 MiB of it, so a 64 MiB machine created at full size cost a garbage collection per launch.
// Every access to RAM passes mmu.ts inRam first (physical reads/writes, TLB installs, the EPT and VMX bitmaps), so
// the one check there stays the only per-access cost: below ramBacked nothing changes, past it backRam grows.
import { RAM_BASE, OFF_RAM_SIZE } from "./abi";
import { st } from "./state";

/** bytes of guest RAM the wasm memory covers now (<= the guest's RAM size) */
export let ramBacked: u32 = 0;

const GROW_MIN: u64 = 1 << 20;

/** RAM the memory covers now, at most `ram` (the host may have grown it since the last look). */
export function backedNow(ram: u32): u32 {
  const top = (<u64>memory.size() << 16) - <u64>RAM_BASE;
  return top < <u64>ram ? <u32>top : ram;
}
export function setRamBacked(ram: u32): void { ramBacked = backedNow(ram); }

/**
 * Cover guest RAM up to `end` (<= ram). Grows geometrically (at least double what is backed), so a guest that
 * touches all of its RAM grows the memory a few times. Returns true (inRam's answer); traps when the host cannot
 * commit the memory (the same failure as creating the machine at full size).
 */
export function backRam(end: u64, ram: u32): bool {
  let have = backedNow(ram);
  if (end > <u64>have) {
    let want: u64 = <u64>have * 2;
    if (want < end) want = end;
    if (want < GROW_MIN) want = GROW_MIN;
    if (want > <u64>ram) want = <u64>ram;
    const pages = <i32>((<u64>RAM_BASE + want + 0xFFFF) >> 16) - memory.size();
    if (pages > 0 && memory.grow(pages) < 0) unreachable();
    have = backedNow(ram);
  }
  ramBacked = have;
  return true;
}

/** The host's access past the backed part (host/machine.ts): the same growth as the CPU's own first touch. */
export function backRamTo(end: u32): void { backRam(<u64>end, st(OFF_RAM_SIZE) & ~0xFFF); }
