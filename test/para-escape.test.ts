// para-escape.test.ts — issue 9 item 1: a para guest may not use a device to write what it may not write itself.
// The attack: write a crafted L1 to disk, read it back with virtio-blk into one of its own pinned (read-only) page
// tables, so that the L1 maps the VMM's GDT and TSS writable; then install a ring-0 code segment and a DPL-3 call
// gate to it and call through it: CPL 0, where `out` to isa-debug-exit works. The guest side of the virtio request
// is played by the mock driver on the guest's real RAM (exactly the stores a PV driver makes); the exploit itself
// is real ring-1 code run by the CPU.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { ParaVm, SLOT_BLK, SLOT_CONSOLE } from "../host/para/vm.ts";
import { HC, PAGE, VMM_GDT, VMM_TSS } from "../host/para/abi.ts";
import { PTE_P, PTE_W } from "../host/para/mmu.ts";
import { MemoryBackend } from "../host/devices/block.ts";
import { MachineMemory } from "../host/virtio/memory.ts";
import { MockDriver } from "../host/virtio/mock-driver.ts";
import { BLK_S, BLK_T } from "../host/virtio/blk.ts";
import { STATUS } from "../host/virtio/mmio.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const image = new Uint8Array(readFileSync(join(ROOT, "build/guests/workloads-pv/null_syscall.elf")));

/** A booted para VM (16 MiB) with a disk holding `disk`, and a mock virtio-blk driver on the guest's RAM. */
function boot(disk: Uint8Array) {
  const vm = new ParaVm({ memSize: 16 << 20, disk: new MemoryBackend(disk) });
  vm.loadMultiboot(image, { cmdline: "iters=1" });
  const ram = new MachineMemory(vm.machine, vm.vmmBase); // the guest's own stores (no policy: it is the CPU)
  const drv = new MockDriver(vm.virtio[SLOT_BLK], ram, 0x40000);
  expect(drv.init()).toBe(true);
  const q = drv.setupQueue(0, 16);
  drv.driverOk();
  return { vm, drv, q, ram };
}

/** virtio-blk IN of `len` bytes from sector 0 into guest-physical `dst`; returns the status byte. */
function blkRead(drv: MockDriver, q: ReturnType<MockDriver["setupQueue"]>, dst: number, len: number): number {
  const hdr = drv.alloc(16), st = drv.alloc(1);
  drv.mem.write32(hdr, BLK_T.IN); drv.mem.write32(hdr + 4, 0); drv.mem.write32(hdr + 8, 0); drv.mem.write32(hdr + 12, 0);
  drv.mem.write(st, Uint8Array.of(0xff));
  drv.add(q, [{ addr: hdr, len: 16 }, { addr: dst, len, write: true }, { addr: st, len: 1, write: true }]);
  drv.kick(q);
  return drv.mem.read(st, 1)[0];
}

// ring-1 exploit at 0x8000: VA 0x400000 = the VMM's GDT frame, VA 0x401000 = its TSS (through the crafted L1)
const CODE = 0x8000, TARGET = CODE + 8 * 10 + 7;
const movImm = (va: number, v: number) => [0xc7, 0x05, ...le32(va), ...le32(v)]; // mov dword [va], imm32
const EXPLOIT = [
  ...movImm(0x400030, 0x0000ffff), ...movImm(0x400034, 0x00cf9b00), // GDT[6]: ring-0 code, flat, accessed
  ...movImm(0x400038, (0x30 << 16) | (TARGET & 0xffff)), ...movImm(0x40003c, (TARGET & 0xffff0000) | 0xec00), // GDT[7]: call gate, DPL 3 → 0x30:TARGET
  ...movImm(0x400040, 0x0000ffff), ...movImm(0x400044, 0x00cf9300), // GDT[8]: ring-0 data
  ...movImm(0x401004, 0xf000), ...movImm(0x401008, 0x40), // TSS.esp0 / ss0
  0x9a, 0, 0, 0, 0, 0x3b, 0x00, // call far 0x3b:0 (through the gate)
  0xb0, 0x2a, // TARGET: mov al, 0x2a
  0xe6, 0xf4, // out 0xf4, al   (isa-debug-exit: status 0x55; #GP at CPL 1)
  0xf4, // hlt
];
function le32(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]; }

describe("para: no device writes what the guest may not write (issue 9 item 1)", () => {
  it("a crafted L1 read from disk into a pinned page table is refused: IOERR, the table unchanged, no CPL 0", () => {
    // the guest's second initial L1 (it maps [4 MiB, 8 MiB)), read-only and pinned by the VMM at boot
    const probe = new ParaVm({ memSize: 16 << 20 });
    probe.loadMultiboot(image);
    const l1 = probe.ptBase + 2 * PAGE;
    expect(probe.mmu.type[l1 / PAGE]).toBe(1);
    const crafted = probe.machine.readMem(l1, PAGE);
    const dv = new DataView(crafted.buffer);
    dv.setUint32(0, (probe.vmmBase + VMM_GDT) | PTE_P | PTE_W, true);
    dv.setUint32(4, (probe.vmmBase + VMM_TSS) | PTE_P | PTE_W, true);
    const disk = new Uint8Array(1 << 16);
    disk.set(crafted);

    const { vm, drv, q, ram } = boot(disk);
    const before = vm.machine.readMem(l1, PAGE);
    const status = blkRead(drv, q, l1, PAGE);
    expect(status).toBe(BLK_S.IOERR);
    expect(vm.machine.readMem(l1, PAGE)).toEqual(before); // nothing partially written
    expect(vm.blk!.stats.policyRefused).toBe(1);
    expect(vm.blk!.stats.reads).toBe(0);
    expect(vm.policy.stats.deviceWritesRefused).toBe(1);
    expect(vm.policy.stats.refusedByType.l1).toBe(1);
    expect(drv.takeUsed(q)).toEqual([{ id: 0, len: 1 }]);
    expect(vm.virtio[SLOT_BLK].status & STATUS.NEEDS_RESET).toBe(0); // an I/O error, not a broken device

    // the same read into ordinary RAM works (the device is fine, only the target was refused)
    expect(blkRead(drv, q, 0x100000 - PAGE, PAGE)).toBe(BLK_S.OK);
    expect(ram.read(0x100000 - PAGE, PAGE)).toEqual(crafted);

    // and the exploit, run for real at ring 1, does not reach ring 0
    vm.machine.writeMem(CODE, EXPLOIT);
    vm.machine.setReg("eip", CODE);
    const r = vm.run({ maxInstructions: 10_000 });
    expect(r.exitStatus).not.toBe(0x55);
    expect(r.stopReason).not.toBe("debug-exit");
    expect(vm.machine.read32(vm.vmmBase + VMM_GDT + 0x34)).toBe(0); // the VMM's GDT untouched
  });

  it("control: the same L1 stored behind the policy's back (what virtio-blk did before) gives the exploit CPL 0", () => {
    // proves the exploit above is a real one, so its failure there is the policy's doing
    const { vm } = boot(new Uint8Array(1 << 16));
    const l1 = vm.ptBase + 2 * PAGE;
    vm.machine.write32(l1, (vm.vmmBase + VMM_GDT) | PTE_P | PTE_W);
    vm.machine.write32(l1 + 4, (vm.vmmBase + VMM_TSS) | PTE_P | PTE_W);
    vm.machine.writeMem(CODE, EXPLOIT);
    vm.machine.setReg("eip", CODE);
    const r = vm.run({ maxInstructions: 10_000 });
    expect(r.message).toMatch(/isa-debug-exit/);
    expect(r.exitStatus).toBe(0x55);
    expect(vm.machine.cpl).toBe(0);
  });

  it("a used ring or console buffer in a page-table frame is refused without a store", () => {
    const { vm, drv, q } = boot(new Uint8Array(1 << 16));
    const l1 = vm.ptBase + PAGE;
    const before = vm.machine.readMem(l1, PAGE);
    // a GET_ID whose status byte lies in the L1: nothing can be written, not even IOERR — used length 0
    const hdr = drv.alloc(16), id = drv.alloc(20);
    drv.mem.write32(hdr, BLK_T.GET_ID);
    drv.add(q, [{ addr: hdr, len: 16 }, { addr: id, len: 20, write: true }, { addr: l1 + 8, len: 1, write: true }]);
    drv.kick(q);
    expect(drv.takeUsed(q)).toEqual([{ id: 0, len: 0 }]);
    expect(drv.mem.read(id, 20).every((b) => b === 0)).toBe(true);
    expect(vm.blk!.stats.policyRefused).toBe(1);
    // the blk queue is set up in RAM; a second queue configuration puts the used ring into the L1
    vm.virtio[SLOT_BLK].reset();
    expect(drv.init()).toBe(true);
    drv.setupQueue(0, 16, { used: l1 });
    expect(vm.virtio[SLOT_BLK].status & STATUS.NEEDS_RESET).toBeTruthy();
    expect(vm.virtio[SLOT_BLK].queues[0].stats.errors.policy).toBe(1);
    // console receive into the L1
    const con = new MockDriver(vm.virtio[SLOT_CONSOLE], drv.mem, 0x60000);
    expect(con.init()).toBe(true);
    const rx = con.setupQueue(0, 8);
    con.driverOk();
    vm.virtioConsole.receive(new TextEncoder().encode("PWNED"));
    con.add(rx, [{ addr: l1 + 64, len: 5, write: true }]);
    con.kick(rx);
    expect(con.takeUsed(rx)).toEqual([{ id: 0, len: 0 }]);
    expect(vm.virtioConsole.stats.rxPolicyRefused).toBe(1);
    expect(vm.machine.readMem(l1, PAGE)).toEqual(before);
  });
});

describe("para: a ring frame pinned as a page table after the queue was set up", () => {
  it("the device's ring stores (avail_event, used entries) are refused: the queue stops, the table is unchanged", () => {
    for (const eventIdx of [true, false]) {
      const vm = new ParaVm({ memSize: 16 << 20, disk: new MemoryBackend(1 << 16) });
      vm.loadMultiboot(image);
      const drv = new MockDriver(vm.virtio[SLOT_BLK], new MachineMemory(vm.machine, vm.vmmBase), 0x40000);
      expect(drv.init({ eventIdx })).toBe(true);
      const ring = 0x50000;
      const q = drv.setupQueue(0, 16, { used: ring });
      drv.driverOk();
      // the guest maps the used ring's frame read-only and pins it as an L1 (legal: no writable mapping is left)
      const l1 = vm.ptBase + PAGE;
      vm.machine.write32(0x30000, l1 + 4 * (ring / PAGE)); vm.machine.write32(0x30004, ring | PTE_P);
      expect(vm.call(HC.MMU_UPDATE, 0x30000, 1)).toBe(0);
      vm.machine.write32(0x30000, 1); vm.machine.write32(0x30004, ring); // MMUEXT PIN_L1
      expect(vm.call(HC.MMUEXT_OP, 0x30000, 1)).toBe(0);
      const before = vm.machine.readMem(ring, PAGE);
      const hdr = drv.alloc(16), st = drv.alloc(1);
      drv.mem.write32(hdr, BLK_T.GET_ID);
      drv.add(q, [{ addr: hdr, len: 16 }, { addr: st, len: 1, write: true }]);
      drv.kick(q);
      expect(vm.machine.readMem(ring, PAGE)).toEqual(before);
      expect(vm.virtio[SLOT_BLK].queues[0].stats.errors.policy).toBe(1);
      expect(vm.virtio[SLOT_BLK].status & STATUS.NEEDS_RESET).toBeTruthy();
    }
  });
});

describe("para: the CPU's descriptor tables hold no ring-0 or system descriptor the VMM did not put there", () => {
  it("SET_GDT refuses a TSS descriptor outside entry 5 (found by the policy fuzz: it became a second, DPL-0 TSS)", () => {
    const vm = new ParaVm({ memSize: 16 << 20 });
    vm.loadMultiboot(image);
    const m = vm.machine;
    const gdt = 0x20000;
    for (let i = 0; i < 8; i++) { m.write32(gdt + 8 * i, 0); m.write32(gdt + 8 * i + 4, 0); }
    m.write32(gdt + 8, 0xffff); m.write32(gdt + 12, 0x00cf9b00); // kernel code (DPL 0: compressed to 1)
    m.write32(gdt + 56, 0x0067); m.write32(gdt + 60, 0x00008900); // entry 7: an available 32-bit TSS
    expect(vm.call(HC.SET_GDT, gdt, 8)).toBe(-1); // −EPERM
    expect(m.read32(vm.vmmBase + VMM_GDT + 60)).toBe(0);
    m.write32(gdt + 60, 0);
    expect(vm.call(HC.SET_GDT, gdt, 8)).toBe(0);
    expect((m.read32(vm.vmmBase + VMM_GDT + 12) >>> 13) & 3).toBe(1);
  });
});
