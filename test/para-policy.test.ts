// para-policy.test.ts — host/para/policy.ts, the guest-memory policy: frame types, what devices may write, the
// converse rules with the MMU (a frame with a device write in flight cannot become a page table), hypercall buffers.
import { describe, it, expect } from "vitest";
import { MemoryPolicy, FT } from "../host/para/policy.ts";
import { PvMmu, PTE_P, PTE_W } from "../host/para/mmu.ts";
import { E } from "../host/para/abi.ts";
import { ArrayMemory, MachineMemory } from "../host/virtio/memory.ts";
import { Machine } from "../host/machine.ts";

const P = 4096;
/** 64 guest frames + 16 VMM frames (GDT at 65); frame 10 = L2, 11 = L1 identity-mapping the guest, pinned */
function setup() {
  const mem = new ArrayMemory(80 * P);
  const policy = new MemoryPolicy(80, 64, [65]);
  const mmu = new PvMmu(mem, 64, (70 * P) | PTE_P | PTE_W, policy);
  mmu.buildInitial(10, [11], 64 * P);
  return { mem, policy, mmu };
}

describe("para: the guest-memory policy", () => {
  it("types every frame: RAM, the pinned page tables, the VMM region, its descriptor tables", () => {
    const { policy } = setup();
    expect(policy.type[0]).toBe(FT.RAM);
    expect(policy.type[10]).toBe(FT.L2);
    expect(policy.type[11]).toBe(FT.L1);
    expect(policy.type[64]).toBe(FT.VMM);
    expect(policy.type[65]).toBe(FT.DESC);
  });

  it("devices may write ordinary RAM only; a whole request is refused if one byte would hit a protected frame", () => {
    const { policy } = setup();
    expect(policy.deviceMayWrite(0, 10 * P)).toBe(true);
    expect(policy.deviceMayWrite(10 * P - 1, 1)).toBe(true);
    expect(policy.deviceMayWrite(10 * P - 1, 2)).toBe(false); // crosses into the L2
    expect(policy.deviceMayWrite(11 * P + 100, 4)).toBe(false);
    expect(policy.deviceMayWrite(63 * P, P)).toBe(true);
    expect(policy.deviceMayWrite(63 * P, P + 1)).toBe(false); // into the VMM
    expect(policy.deviceMayWrite(65 * P, 8)).toBe(false);
    expect(policy.deviceMayWrite(2 ** 32 - 4, 8)).toBe(false);
    expect(policy.deviceMayWrite(-1, 1)).toBe(false);
    expect(policy.checkDeviceWrite([{ addr: 0, len: 512 }, { addr: 11 * P, len: 1 }, { addr: 65 * P, len: 1 }])).toBe(false);
    expect(policy.checkDeviceWrite([{ addr: 0, len: 512 }, { addr: 20 * P, len: 1 }])).toBe(true);
    expect(policy.stats).toMatchObject({ deviceWrites: 1, deviceWritesRefused: 1, refusedByType: { l1: 1 } });
  });

  it("a frame becomes writable to devices again when it stops being a page table", () => {
    const { policy, mmu } = setup();
    expect(mmu.mmuUpdate([11 * P + 4 * 20, 20 * P | PTE_P], 1)).toBe(0); // map frame 20 read-only
    expect(mmu.pin(20, 1)).toBe(0);
    expect(policy.deviceMayWrite(20 * P, 4)).toBe(false);
    expect(mmu.unpin(20)).toBe(0);
    expect(policy.deviceMayWrite(20 * P, 4)).toBe(true);
  });

  it("a frame with a device write in flight cannot become a page table (−EBUSY), and can once it completes", () => {
    const { policy, mmu } = setup();
    expect(mmu.mmuUpdate([11 * P + 4 * 20, 20 * P | PTE_P], 1)).toBe(0);
    const req = [{ addr: 20 * P + 4000, len: 200 }]; // frames 20 and 21
    expect(policy.checkDeviceWrite(req)).toBe(true);
    policy.claim(req);
    expect(mmu.pin(20, 1)).toBe(E.BUSY);
    expect(mmu.stats.rejected["device write in flight"]).toBe(1);
    policy.release(req);
    expect(policy.deviceWrites[20] + policy.deviceWrites[21]).toBe(0);
    expect(mmu.pin(20, 1)).toBe(0);
  });

  it("a writable mapping of a page-table frame stays impossible, whoever asks", () => {
    const { mmu } = setup();
    expect(mmu.mmuUpdate([11 * P + 4 * 20, 11 * P | PTE_P | PTE_W], 1)).toBe(E.PERM);
    expect(mmu.mmuUpdate([11 * P + 4 * 20, 65 * P | PTE_P], 1)).toBe(E.PERM); // the VMM's GDT, even read-only
  });

  it("hypercall buffers must lie in the guest's frames (counted)", () => {
    const { policy } = setup();
    expect(policy.hypercallReadable(0, 64 * P)).toBe(true);
    expect(policy.hypercallReadable(11 * P, 8)).toBe(true); // the guest can read its page tables
    expect(policy.hypercallReadable(64 * P - 4, 8)).toBe(false);
    expect(policy.hypercallReadable(0xfffffff8, 16)).toBe(false);
    expect(policy.stats.hypercallBuffersRefused).toBe(2);
  });

  it("MachineMemory with a policy refuses a device store into a page table as a last line of defence", () => {
    const m = new Machine({ memSize: 80 * P });
    const policy = new MemoryPolicy(80, 64);
    const mmu = new PvMmu(m, 64, (70 * P) | PTE_P | PTE_W, policy);
    mmu.buildInitial(10, [11], 64 * P);
    const dma = new MachineMemory(m, 64 * P, policy);
    expect(dma.mayWrite(11 * P, 4)).toBe(false);
    expect(dma.checkWrites([{ addr: 0, len: 4 }, { addr: 11 * P, len: 4 }])).toBe(false);
    const before = m.read32(11 * P);
    expect(() => dma.write32(11 * P, 0xdead0007)).toThrow(/refused by the memory policy/);
    expect(m.read32(11 * P)).toBe(before);
    dma.write32(0, 1); // RAM: fine
    expect(m.read32(0)).toBe(1);
  });
});
