// para.test.ts — para mode pieces: the validated page-table updates (host/para/mmu.ts) against a hostile guest,
// the descriptor-table hypercalls, and a PV guest's disk I/O costing one doorbell per request.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { ArrayMemory } from "../host/virtio/memory.ts";
import { PvMmu, PTE_P, PTE_W, PTE_U } from "../host/para/mmu.ts";
import { E, HC, HOLE_PDX, HOLE_VA, PV_SIGNATURE, SH, VMM_SHARED } from "../host/para/abi.ts";
import { ParaVm } from "../host/para/vm.ts";
import { MemoryBackend } from "../host/devices/block.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const P = 4096;
const FRAMES = 64; // guest frames; the "VMM region" starts at frame 64
const HOLE = (100 * P) | PTE_P | PTE_W;

/** memory with frame 10 = L2, 11 = L1 mapping frames 0..63 (frames 10, 11 read-only), pinned, current */
function setup() {
  const mem = new ArrayMemory(128 * P);
  const mmu = new PvMmu(mem, FRAMES, HOLE);
  mmu.buildInitial(10, [11], FRAMES * P);
  return { mem, mmu };
}
const pte = (l1: number, i: number) => l1 * P + 4 * i;

describe("para: validated direct paging (mmu_update)", () => {
  it("builds the initial tables: page tables read-only, the hole installed, pinned and current", () => {
    const { mem, mmu } = setup();
    expect(mem.read32(pte(11, 10))).toBe(10 * P | PTE_P);
    expect(mem.read32(pte(11, 12))).toBe(12 * P | PTE_P | PTE_W);
    expect(mem.read32(10 * P + 4 * HOLE_PDX)).toBe(HOLE);
    expect(mmu.cr3Frame).toBe(10);
    expect(mmu.writable[12]).toBe(1);
    expect(mmu.writable[10]).toBe(0);
  });

  it("maps a frame and unmaps it", () => {
    const { mem, mmu } = setup();
    expect(mmu.mmuUpdate([pte(11, 40), 0], 1)).toBe(0);
    expect(mmu.writable[40]).toBe(0);
    expect(mmu.mmuUpdate([pte(11, 40), 40 * P | PTE_P | PTE_W | PTE_U], 1)).toBe(0);
    expect(mem.read32(pte(11, 40))).toBe(40 * P | 7);
    expect(mmu.writable[40]).toBe(1);
  });

  it("refuses to map a frame of the VMM region or beyond RAM, and changes nothing", () => {
    const { mem, mmu } = setup();
    const before = mem.read32(pte(11, 5));
    expect(mmu.mmuUpdate([pte(11, 5), FRAMES * P | PTE_P], 1)).toBe(E.PERM);
    expect(mmu.mmuUpdate([pte(11, 5), 0xfffff000 | PTE_P], 1)).toBe(E.PERM);
    expect(mem.read32(pte(11, 5))).toBe(before);
    expect(mmu.stats.rejected["foreign frame"]).toBe(2);
  });

  it("refuses a writable mapping of a page table", () => {
    const { mmu } = setup();
    expect(mmu.mmuUpdate([pte(11, 5), 11 * P | PTE_P | PTE_W], 1)).toBe(E.PERM);
    expect(mmu.mmuUpdate([pte(11, 5), 10 * P | PTE_P | PTE_W], 1)).toBe(E.PERM);
    expect(mmu.mmuUpdate([pte(11, 5), 11 * P | PTE_P], 1)).toBe(0); // read-only is fine
  });

  it("refuses to make a writably-mapped frame a page table; accepts it once read-only", () => {
    const { mem, mmu } = setup();
    mem.write32(20 * P, 30 * P | PTE_P | PTE_W); // frame 20 will be an L1
    expect(mmu.mmuUpdate([10 * P + 4 * 300, 20 * P | PTE_P | PTE_W | PTE_U], 1)).toBe(E.PERM);
    expect(mmu.mmuUpdate([pte(11, 20), 20 * P | PTE_P], 1)).toBe(0);
    expect(mmu.mmuUpdate([10 * P + 4 * 300, 20 * P | PTE_P | PTE_W | PTE_U], 1)).toBe(0);
    expect(mmu.type[20]).toBe(1);
    expect(mmu.writable[30]).toBe(2);
    // now frame 20 can never be made writable again while it is an L1
    expect(mmu.mmuUpdate([pte(11, 20), 20 * P | PTE_P | PTE_W], 1)).toBe(E.PERM);
  });

  it("a batch is all-or-nothing", () => {
    const { mem, mmu } = setup();
    const a = mem.read32(pte(11, 40)), b = mem.read32(pte(11, 41));
    expect(mmu.mmuUpdate([pte(11, 40), 0, pte(11, 41), 0, pte(11, 42), 11 * P | PTE_P | PTE_W], 3)).toBe(E.PERM);
    expect(mem.read32(pte(11, 40))).toBe(a);
    expect(mem.read32(pte(11, 41))).toBe(b);
    expect(mmu.writable[40]).toBe(1);
    expect(mmu.writable[41]).toBe(1);
  });

  it("refuses updates of ordinary frames, the hole PDE, large pages and L2-as-L1", () => {
    const { mmu } = setup();
    expect(mmu.mmuUpdate([30 * P, 0], 1)).toBe(E.INVAL);
    expect(mmu.mmuUpdate([10 * P + 4 * HOLE_PDX, 0], 1)).toBe(E.PERM);
    expect(mmu.mmuUpdate([10 * P + 4 * 300, 0x400000 | PTE_P | 0x80], 1)).toBe(E.INVAL);
    expect(mmu.mmuUpdate([10 * P + 4 * 300, 10 * P | PTE_P], 1)).toBe(E.INVAL);
    expect(mmu.mmuUpdate([pte(11, 3) + 1, 0], 1)).toBe(E.INVAL);
    expect(mmu.mmuUpdate([FRAMES * P, 0], 1)).toBe(E.PERM);
  });

  it("pins, switches and unpins address spaces with exact reference counts", () => {
    const { mem, mmu } = setup();
    // a second directory at frame 21 sharing the kernel L1 (11); it must be read-only first
    mem.write32(21 * P, 11 * P | PTE_P | PTE_W);
    expect(mmu.pin(21, 2)).toBe(E.PERM);
    expect(mmu.mmuUpdate([pte(11, 21), 21 * P | PTE_P], 1)).toBe(0);
    expect(mmu.newBaseptr(21)).toBe(E.INVAL); // not pinned yet
    expect(mmu.pin(21, 2)).toBe(0);
    expect(mem.read32(21 * P + 4 * HOLE_PDX)).toBe(HOLE);
    expect(mmu.typeRefs[11]).toBe(2);
    expect(mmu.newBaseptr(21)).toBe(0);
    expect(mmu.unpin(21)).toBe(E.BUSY);
    expect(mmu.newBaseptr(10)).toBe(0);
    expect(mmu.unpin(21)).toBe(0);
    expect(mmu.typeRefs[11]).toBe(1);
    expect(mmu.type[21]).toBe(0);
    expect(mem.read32(21 * P + 4 * HOLE_PDX)).toBe(0);
    expect(mmu.mmuUpdate([pte(11, 21), 21 * P | PTE_P | PTE_W], 1)).toBe(0); // an ordinary page again
  });

  it("a guest-provided hole entry is refused at pin time", () => {
    const { mem, mmu } = setup();
    mem.write32(22 * P + 4 * HOLE_PDX, 30 * P | PTE_P | PTE_W);
    mmu.mmuUpdate([pte(11, 22), 22 * P | PTE_P], 1);
    expect(mmu.pin(22, 2)).toBe(E.PERM);
  });
});

describe("para: a PV guest", () => {
  const image = (w: string) => new Uint8Array(readFileSync(join(ROOT, `build/guests/workloads-pv/${w}.elf`)));

  it("announces the hypervisor by CPUID and refuses hostile descriptor tables", () => {
    const vm = new ParaVm({ memSize: 16 << 20 });
    vm.loadMultiboot(image("null_syscall"), { cmdline: "iters=10" });
    expect(PV_SIGNATURE).toHaveLength(12);
    const call = (nr: number, b: number, c: number) => (vm as unknown as { call(n: number, b: number, c: number): number }).call(nr, b, c);
    const m = vm.machine;
    // a gate into the hole, a gate with a user code selector, a call gate in the GDT, tables in the VMM region
    m.write32(0x20000, 0x00080000 | 0x1000); m.write32(0x20004, (HOLE_VA & 0xffff0000) | 0x8e00);
    expect(call(HC.SET_TRAP_TABLE, 0x20000, 1)).toBe(E.PERM);
    m.write32(0x20000, 0x001b0000 | 0x1000); m.write32(0x20004, 0x8e00);
    expect(call(HC.SET_TRAP_TABLE, 0x20000, 1)).toBe(E.PERM);
    m.write32(0x20008, 0); m.write32(0x2000c, 0x8c00);
    expect(call(HC.SET_GDT, 0x20000, 2)).toBe(E.PERM);
    expect(call(HC.SET_TRAP_TABLE, vm.vmmBase, 256)).toBe(E.FAULT);
    expect(call(HC.CONSOLE_WRITE, vm.vmmBase - 4, 8)).toBe(E.FAULT);
    expect(call(HC.STACK_SWITCH, 0x1b, 0x1000)).toBe(E.INVAL);
    expect(call(99, 0, 0)).toBe(E.NOSYS);
    expect(m.read32(vm.vmmBase + VMM_SHARED + SH.MAGIC)).toBe(0x56505657);
  });

  it("disk I/O: one doorbell (MMIO exit) per request, no port I/O", () => {
    const disk = new MemoryBackend(1 << 20);
    const vm = new ParaVm({ memSize: 64 << 20, disk });
    vm.loadMultiboot(image("disk"), { cmdline: "iters=64" });
    const r = vm.run({ maxInstructions: 400_000_000 });
    expect(r.exitStatus).toBe(1);
    const blk = vm.virtio[1];
    // 16 writes (each write + flush published together) + 16 reads + 1 past-the-end read refused by the driver
    expect(vm.blk!.stats.writes).toBe(16);
    expect(vm.blk!.stats.reads).toBe(16);
    expect(vm.blk!.stats.flushes).toBe(16);
    expect(blk.stats.notifies).toBe(32);
    expect(blk.stats.interrupts).toBe(0); // the driver polls (VIRTQ_AVAIL_F_NO_INTERRUPT)
    const ex = vm.stats.toJSON().exits;
    expect(ex["io-in"] + ex["io-out"]).toBe(0);
  });
});
