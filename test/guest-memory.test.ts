// guest-memory.test.ts — the one guest-physical memory object (host/memory/guest-memory.ts): bounds, the
// offset of guest RAM inside the machine (full mode), code-cache coherence of writes, and linear accesses through
// the side-effect-free walker (no accessed/dirty bits, #PF as the CPU would raise it).
import { describe, it, expect } from "vitest";
import { Machine } from "../host/machine.ts";
import { GuestPhysMemory, GuestRangeError, GuestPageFault } from "../host/memory/guest-memory.ts";
import { PTE_P, PTE_W, PTE_U, PTE_A, PTE_D, PF_P, PF_W, PF_U, READ, USER_READ } from "../host/memory/paging.ts";
import * as A from "../host/abi.generated.ts";
import { miniVm, go, identityPaging, PAGING_ON, d32 } from "./full-minivm.ts";

const MB = 1 << 20;

describe("GuestPhysMemory", () => {
  it("bounds-checks every access against the guest's RAM (one clear error, nothing written)", () => {
    const m = new Machine({ memSize: 2 * MB });
    const g = new GuestPhysMemory(m, 0x100000, 0x80000);
    expect(g.contains(0x7fffc, 4)).toBe(true);
    expect(g.contains(0x7fffd, 4)).toBe(false);
    expect(() => g.read32(0x7fffd)).toThrow(GuestRangeError);
    expect(() => g.write(0x7fff0, new Uint8Array(17))).toThrow(/outside guest RAM/);
    expect(() => g.read8(-1)).toThrow(GuestRangeError);
    expect(() => g.read8(1.5)).toThrow(GuestRangeError);
    expect(g.peek32(0x80000)).toBeUndefined();
    g.poke32(0x80000, 0x12345678); // ignored, as the CPU's physical writes past RAM are
    expect(m.read32(0x180000)).toBe(0);
    expect(() => new GuestPhysMemory(m, MB, 2 * MB)).toThrow(RangeError);
  });

  it("guest-physical X is machine-physical base + X", () => {
    const m = new Machine({ memSize: 2 * MB });
    const g = new GuestPhysMemory(m, 0x100000);
    expect(g.size).toBe(MB);
    g.write32(0x10, 0xcafef00d);
    g.write16(0x20, 0x1234);
    g.write8(0x30, 0x99);
    expect(m.read32(0x100010)).toBe(0xcafef00d);
    expect([g.read16(0x20), g.read8(0x30), g.peek32(0x10)]).toEqual([0x1234, 0x99, 0xcafef00d]);
    g.fill(0x40, 8, 0xab);
    expect(Array.from(g.read(0x3f, 10))).toEqual([0, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0]);
  });

  it("writes keep the CPU's predecoded code coherent", () => {
    const m = new Machine({ memSize: MB });
    m.setFlatProtectedMode();
    const g = new GuestPhysMemory(m);
    g.write(0x1000, [0xb8, 0x01, 0x00, 0x00, 0x00, 0xe6, 0x80]); // mov eax, 1 ; out 0x80, al (an exit)
    m.eip = 0x1000; expect(m.run(100).reason).toBe("io-out");
    expect(m.getReg("eax")).toBe(1);
    g.write8(0x1001, 2); // mov eax, 2
    m.eip = 0x1000; m.run(100);
    expect(m.getReg("eax")).toBe(2);
    // the same patch behind the CPU's back (no notification) runs the stale block: coherence is not free
    new Uint8Array(m.memory.buffer)[A.RAM_BASE + 0x1001] = 3;
    m.eip = 0x1000; m.run(100);
    expect(m.getReg("eax")).toBe(2);
  });

  describe("linear accesses", () => {
    // PD at 0x10000; PDE 1 → PT at 0x11000; linear 0x400000 → 0x20000 (user, RW), 0x401000 → 0x21000 (supervisor, RO)
    function setup() {
      const m = new Machine({ memSize: MB });
      m.setFlatProtectedMode();
      const g = new GuestPhysMemory(m);
      g.write32(0x10004, 0x11000 | PTE_P | PTE_W | PTE_U);
      g.write32(0x11000, 0x20000 | PTE_P | PTE_W | PTE_U);
      g.write32(0x11004, 0x21000 | PTE_P);
      m.setCr("cr3", 0x10000);
      m.setCr("cr0", (m.getCr("cr0") | A.CR0_PG | A.CR0_WP) >>> 0);
      return { m, g };
    }

    it("read and write across pages through the machine's paging, setting no accessed/dirty bit", () => {
      const { g } = setup();
      g.write(0x20ffe, [1, 2]);
      g.write(0x21000, [3, 4]);
      expect(Array.from(g.readLinear(0x400ffe, 4))).toEqual([1, 2, 3, 4]);
      g.writeLinear(0x400ff0, [9, 9]);
      expect(Array.from(g.read(0x20ff0, 2))).toEqual([9, 9]);
      expect(g.read32(0x10004) & (PTE_A | PTE_D)).toBe(0);
      expect(g.read32(0x11000) & (PTE_A | PTE_D)).toBe(0);
      expect(g.translate(0x401234, READ)).toBe(0x21234);
    });

    it("refuses what the CPU would refuse, with its #PF error code; a refused write changes nothing", () => {
      const { g } = setup();
      const pf = (f: () => unknown) => { try { f(); } catch (e) { return e as GuestPageFault; } return null; };
      expect(pf(() => g.translate(0x401000, USER_READ))).toMatchObject({ linear: 0x401000, errorCode: PF_P | PF_U });
      expect(pf(() => g.readLinear(0x402000, 1))).toMatchObject({ linear: 0x402000, errorCode: 0 });
      // the first page is writable, the second is not (CR0.WP): nothing of the write lands
      expect(pf(() => g.writeLinear(0x400ffe, [7, 7, 7, 7]))).toMatchObject({ linear: 0x401000, errorCode: PF_P | PF_W });
      expect(Array.from(g.read(0x20ffe, 2))).toEqual([0, 0]);
      // explicit registers (e.g. a monitor's virtual CR0 without WP)
      g.writeLinear(0x401000, [5], false, { cr0: A.CR0_PG, cr3: 0x10000, cr4: 0 });
      expect(g.read8(0x21000)).toBe(5);
    });

    it("a page table past the guest's RAM reads as an open bus, and a mapping past RAM is refused as a range error", () => {
      const { g } = setup();
      g.write32(0x10008, 0x40000000 | PTE_P | PTE_W | PTE_U); // PDE 2: its table is beyond RAM
      const w = g.walk(0x800000, READ);
      expect(w).toMatchObject({ ok: true, outside: 0x40000000, phys: 0xfffff000 });
      expect(() => g.readLinear(0x800000, 4)).toThrow(GuestRangeError);
    });
  });

  it("full mode: the monitor's guestPhys and the guest's own paging registers show the guest's view, not the shadow's", () => {
    // the guest maps linear 0x200000 → guest-physical 0x300000, reads it, halts
    const f = miniVm([...PAGING_ON, 0xa1, ...d32(0x200000), 0xf4]);
    identityPaging(f.g, (p) => (p === 0x200 ? 0x100 : 0) | 7);
    f.g(0x11000 + 0x200 * 4, d32(0x300000 | 7));
    f.g(0x300000, d32(0x600df00d));
    go(f.mo);
    expect(f.m.eax >>> 0).toBe(0x600df00d);
    const regs = f.mo.guestPagingRegs();
    expect(regs.cr3 >>> 0).toBe(0x10000);
    expect(f.m.getCr("cr3") >>> 0).not.toBe(0x10000); // the CPU walks a shadow
    const pte = f.mo.guestPhys.read32(0x11000 + 0x200 * 4);
    expect(pte & PTE_A).toBe(PTE_A); // the guest's access, through the monitor, set A (as the CPU would)
    f.mo.guestPhys.write32(0x11000 + 0x200 * 4, pte & ~PTE_A);
    f.mo.guestPhys.write32(0x10000, f.mo.guestPhys.read32(0x10000) & ~PTE_A);
    const w = f.mo.guestPhys.walk(0x200004, USER_READ, regs);
    expect(w).toMatchObject({ ok: true, phys: 0x300004, pteAddr: 0x11800 });
    expect(Array.from(f.mo.guestPhys.readLinear(0x200000, 4, READ, regs))).toEqual(d32(0x600df00d));
    // the debugger's look set no accessed bit
    expect(f.mo.guestPhys.read32(0x11000 + 0x200 * 4) & PTE_A).toBe(0);
    expect(f.mo.guestPhys.read32(0x10000) & PTE_A).toBe(0);
    expect(() => f.mo.guestPhys.read32(4 << 20)).toThrow(GuestRangeError); // the VMM's memory lies beyond
  });
});
