// full-lazy.test.ts — full and para mode on a lazily backed memory (issue 13, branch full-lazy): the full-mode
// monitor reads guest RAM through views of the live memory (Machine.stateView) and backs what is not backed yet as
// the CPU would, instead of taking Machine.memory (which backs all of RAM and keeps the memory from the pool); para
// mode and the virtio DMA window go through the Machine's accessors, which back on first touch.
import { describe, it, expect, beforeEach } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { Machine } from "../host/machine.ts";
import { Monitor, VMM_SIZE } from "../host/full/monitor.ts";
import { Vm, EXIT_STATUS } from "../host/vm.ts";
import { drainMachinePool } from "../host/cpu-instances.ts";
import { VMM_PAGES as PARA_VMM_PAGES, HC, VMM_GDT } from "../host/para/abi.ts";
import { ParaVm } from "../host/para/vm.ts";
import { MachineMemory, ArrayMemory, type GuestMemory } from "../host/virtio/memory.ts";
import { VirtioMmio, STATUS } from "../host/virtio/mmio.ts";
import { VirtioBlk, BLK_T, BLK_S } from "../host/virtio/blk.ts";
import { MockDriver } from "../host/virtio/mock-driver.ts";
import { MemoryBackend } from "../host/devices/block.ts";
import { writeLayout, go, d32, KCODE_AT, KSTACK, VEC_SEEN, PAGING_ON } from "./full-minivm.ts";

const HAVE_CPU = existsSync(new URL("../build/cpu.wasm", import.meta.url));
const ECHO = new URL("../build/guests/echo/echo.elf", import.meta.url);
const PV = new URL("../build/guests/workloads-pv/compute.elf", import.meta.url);
const MiB = 1 << 20;
const GUEST = 64 * MiB;
const HIGH = 0x03000000; // 48 MiB: past what a fresh machine backs

/** a full-mode monitor over 64 MiB of guest RAM; `backAll` takes Machine.memory first (all of RAM backed, as before) */
function fullMini(body: number[], backAll: boolean) {
  const m = new Machine({ memSize: GUEST + VMM_SIZE, exceptionBitmap: 0xffffffff, exitOnSoftInt: true, exitOnHlt: true });
  if (backAll) void m.memory;
  const mo = new Monitor(m, { guestRam: GUEST, fastPaths: false, io: { ioRead: () => 0xff, ioWrite: () => {} } });
  const g = (a: number, b: number[]) => m.writeMem(VMM_SIZE + a, b);
  writeLayout(g, body);
  m.setFlatProtectedMode();
  m.eip = KCODE_AT; m.esp = KSTACK; m.eflags = 0x2;
  mo.start();
  return { m, mo, g };
}

// the guest builds a page table in high RAM with paging off, maps linear 48 MiB through it, turns paging on and
// stores through it; then it pops EFLAGS from a stack in high RAM nobody touched (the monitor's emulated POPF reads
// it: zeros, as the CPU would read there), pushes them back and records what it saw.
//   C7 05 00 00 10 03 07 00 00 03   mov dword [0x03100000], 0x03000007   ; PTE 0 of a PT at 49 MiB: → 48 MiB
//   C7 05 04 00 10 03 07 00 C0 03   mov dword [0x03100004], 0x03c00007   ; PTE 1: → 60 MiB (the stack page)
//   C7 05 30 00 01 00 07 00 10 03   mov dword [0x00010030], 0x03100007   ; PDE 12 (linear 48 MiB) → that PT
//   (identity PD at 0x10000 / PT at 0x11000 for the first 4 MiB, written by the host)
//   PAGING_ON                                                             ; mov cr3 / mov cr0 (emulated)
//   C7 05 10 00 00 03 EF BE AD DE   mov dword [0x03000010], 0xdeadbeef   ; through the shadow of the high PT
//   A1 10 00 00 03                  mov eax, [0x03000010]
//   A3 00 31 00 00                  mov [0x3100], eax                    ; VEC_SEEN
//   BC FC 1F 00 03                  mov esp, 0x03001ffc                  ; → 60 MiB: not backed yet
//   9D                              popfd                                ; emulated: the monitor reads the stack
//   9C                              pushfd                               ; emulated: the monitor writes it
//   8B 1C 24                        mov ebx, [esp]
//   89 1D 04 31 00 00               mov [0x3104], ebx
//   F4                              hlt
const BODY = [
  0xc7, 0x05, ...d32(0x03100000), ...d32(0x03000007),
  0xc7, 0x05, ...d32(0x03100004), ...d32(0x03c00007),
  0xc7, 0x05, ...d32(0x00010030), ...d32(0x03100007),
  ...PAGING_ON,
  0xc7, 0x05, ...d32(HIGH + 0x10), ...d32(0xdeadbeef),
  0xa1, ...d32(HIGH + 0x10),
  0xa3, ...d32(VEC_SEEN),
  0xbc, ...d32(0x03001ffc),
  0x9d, 0x9c,
  0x8b, 0x1c, 0x24,
  0x89, 0x1d, ...d32(VEC_SEEN + 4),
  0xf4,
];
function identity4M(g: (a: number, b: number[]) => void) {
  g(0x10000, d32(0x11000 | 7));
  const pt: number[] = [];
  for (let i = 0; i < 1024; i++) pt.push(...d32((i << 12) | 7));
  g(0x11000, pt);
}

describe.skipIf(!HAVE_CPU)("full mode on a lazily backed memory", () => {
  beforeEach(() => { drainMachinePool(); });

  it("a monitor starts without backing all of RAM", () => {
    const { m } = fullMini([0xf4], false);
    expect(m.ramBacked).toBeLessThan(16 * MiB);
    m.release();
  });

  it("high RAM touched by the guest, read and written by the monitor and its shadow tables: as on a fully backed machine", () => {
    const results = [false, true].map((backAll) => {
      const { m, mo, g } = fullMini(BODY, backAll);
      identity4M(g);
      const before = m.ramBacked;
      const r = go(mo);
      expect(r && "stop" in r ? r.stop : r, JSON.stringify(r)).toBe("halted"); // hlt with IF=0: the end
      if (!backAll) { expect(before).toBeLessThan(HIGH); expect(m.ramBacked).toBeGreaterThan(VMM_SIZE + 0x03c00000); }
      const out = {
        seen: m.read32(VMM_SIZE + VEC_SEEN) >>> 0, flags: m.read32(VMM_SIZE + VEC_SEEN + 4) >>> 0,
        // the monitor's own reads: linear through the guest's tables (the PT in high RAM), and in place
        viaMonitor: mo.read32(HIGH + 0x10, false), stack: mo.read32(0x03001ffc, false),
        pte: m.read32(VMM_SIZE + 0x03100000) >>> 0, eax: m.eax >>> 0, ebx: m.ebx >>> 0, esp: m.esp >>> 0,
        shadowFaults: mo.stats.exits,
      };
      m.release();
      return out;
    });
    expect(results[0].seen).toBe(0xdeadbeef);
    expect(results[0].viaMonitor).toBe(0xdeadbeef);
    expect(results[0].pte & 0xfffff001).toBe(0x03000001); // the guest's PTE (the walk set A/D)
    expect(results[0].flags & ~0x10).toBe(0x2); // POPF of the zeros there (reserved bit 1 set)
    expect(results[0].stack).toBe(results[0].flags);
    expect(results[0]).toEqual(results[1]);
  });

  it("the monitor reads and writes unbacked guest RAM directly: zeros, then what it wrote", () => {
    const { m, mo } = fullMini([0xf4], false);
    const r = go(mo);
    expect(r && "stop" in r ? r.stop : r).toBe("halted");
    const top = GUEST - 4096;
    expect(m.ramBacked).toBeLessThan(VMM_SIZE + top);
    expect(mo.read32(top, false)).toBe(0); // paging off: guest-physical, past the backed part
    mo.write32(top + 8, 0x12345678, false);
    expect(m.read32(VMM_SIZE + top + 8)).toBe(0x12345678);
    expect(mo.read16(top + 8, false)).toBe(0x5678);
    // an instruction fetched from a page nobody backed yet: 00 00 = add [eax], al, as the CPU would fetch it
    const d = mo.fetchInsn(top + 0x100 - mo.segBase(1));
    expect(d.len).toBe(2);
    m.release();
  });
});

describe.skipIf(!HAVE_CPU || !existsSync(ECHO))("a full-mode Vm: launch, snapshot, release", () => {
  beforeEach(() => { drainMachinePool(); });

  it("new Vm + load + the first instruction back a few MiB, and release() recycles the memory", () => {
    const vm = new Vm({ mode: "full", memSize: 64 * MiB });
    vm.loadMultiboot(readFileSync(ECHO));
    expect(vm.run({ maxInstructions: 1 }).stopReason).toBe("max-instructions");
    expect(vm.machine.ramBacked).toBeLessThanOrEqual(32 * MiB);
    const mem = Reflect.get(vm.machine, "mem");
    vm.release();
    const again = new Vm({ mode: "full", memSize: 64 * MiB });
    expect(Reflect.get(again.machine, "mem")).toBe(mem); // from the pool
    again.loadMultiboot(readFileSync(ECHO));
    expect(again.run({ maxInstructions: 1 }).stopReason).toBe("max-instructions");
    again.release();
  });

  it("a full-mode snapshot restores into a recycled machine and continues identically", () => {
    const img = readFileSync(ECHO);
    const a = new Vm({ mode: "full", memSize: 64 * MiB, captureConsole: true });
    a.loadMultiboot(img);
    a.run({ maxInstructions: 20_000 });
    const snap = a.snapshot();
    const seen = a.console.length;
    const dirty = new Vm({ mode: "full", memSize: 64 * MiB });
    dirty.machine.writeMem(VMM_SIZE + 40 * MiB, [0xaa, 0xbb, 0xcc, 0xdd]);
    dirty.release();
    const b = Vm.restore(snap, { captureConsole: true });
    expect(b.machine.read32(VMM_SIZE + 40 * MiB)).toBe(0);
    const ra = a.run({ maxInstructions: 500_000 }), rb = b.run({ maxInstructions: 500_000 });
    expect(rb.exitStatus).toBe(ra.exitStatus);
    expect(b.console).toBe(a.console.slice(seen));
    expect(b.machine.instructions).toBe(a.machine.instructions);
    a.release();
    b.release();
  });
});

describe.skipIf(!HAVE_CPU || !existsSync(PV))("para mode on a lazily backed memory", () => {
  beforeEach(() => { drainMachinePool(); });

  it("para backs all of RAM at load (its VMM region is above guest RAM), writes a few VMM pages, and release() recycles the memory", () => {
    const vm = new Vm({ mode: "para", memSize: 64 * MiB });
    const before = vm.machine.ramBacked;
    expect(before).toBeLessThan(vm.machine.ramSize);
    vm.loadMultiboot(readFileSync(PV));
    expect(vm.run({ maxInstructions: 1 }).stopReason).toBe("max-instructions");
    // its VMM region and initial page tables sit above guest RAM (para/vm.ts paraLayout): a linear wasm memory that
    // covers them covers all of RAM (guest RAM is machine RAM from 0 in the PV ABI: it cannot move)
    expect(vm.machine.ramBacked).toBeGreaterThan(vm.machine.ramSize - PARA_VMM_PAGES * 4096);
    // the domain builder wrote the pages of its VMM region it fills in, not all of them (memory/zero.ts): release()
    // clears what was written only
    const para = vm.mode as unknown as { vmmBase: number };
    const w = vm.machine.writtenPages()!;
    let n = 0;
    for (let p = para.vmmBase / 4096; p < para.vmmBase / 4096 + PARA_VMM_PAGES; p++) n += (w[p >>> 3] >> (p & 7)) & 1;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(PARA_VMM_PAGES);
    const mem = Reflect.get(vm.machine, "mem");
    vm.release();
    const again = new Vm({ mode: "para", memSize: 64 * MiB });
    expect(Reflect.get(again.machine, "mem")).toBe(mem);
    again.release();
  });
});

describe.skipIf(!HAVE_CPU || !existsSync(PV))("para hypercalls on high RAM", () => {
  it("SET_GDT from a table at 48 MiB (hypercall arguments high in RAM) installs what the same table low in RAM does", () => {
    const installed = [0x20000, HIGH].map((gdt) => {
      const vm = new ParaVm({ memSize: 64 * MiB });
      vm.loadMultiboot(readFileSync(PV));
      const m = vm.machine;
      for (let i = 0; i < 8; i++) { m.write32(gdt + 8 * i, 0); m.write32(gdt + 8 * i + 4, 0); }
      m.write32(gdt + 8, 0xffff); m.write32(gdt + 12, 0x00cf9b00); // kernel code (DPL 0: compressed to 1)
      expect(vm.call(HC.SET_GDT, gdt, 8)).toBe(0);
      // a table that runs past guest RAM is refused (−EFAULT), the installed one unchanged
      expect(vm.call(HC.SET_GDT, 64 * MiB - 8, 8)).toBeLessThan(0);
      const out = [...m.readMem(vm.vmmBase + VMM_GDT, 64)];
      vm.machine.release();
      return out;
    });
    expect((installed[1][13] >>> 5) & 3).toBe(1); // entry 1, access byte: DPL 1
    expect(installed[1]).toEqual(installed[0]);
  });
});

describe.skipIf(!HAVE_CPU)("virtio DMA into a lazily backed machine", () => {
  beforeEach(() => { drainMachinePool(); });

  /** a blk write of 4 KiB from `src` then a read into `dst` through the device, on `mem` */
  function dma(mem: GuestMemory, src: number, dst: number) {
    const disk = new MemoryBackend(64 * 512);
    const dev = new VirtioMmio(new VirtioBlk(disk), mem, { irq: () => {} });
    const drv = new MockDriver(dev, mem);
    expect(drv.init()).toBe(true);
    const q = drv.setupQueue(0);
    drv.driverOk();
    const req = (type: number, data: number) => {
      const hdr = drv.alloc(16), status = drv.alloc(1, 1);
      mem.write32(hdr, type); mem.write32(hdr + 4, 0); mem.write32(hdr + 8, 0); mem.write32(hdr + 12, 0);
      mem.write(status, Uint8Array.of(0xff));
      drv.add(q, [{ addr: hdr, len: 16 }, { addr: data, len: 4096, write: type === BLK_T.IN } as never, { addr: status, len: 1, write: true } as never]);
      drv.kick(q);
      return mem.read(status, 1)[0];
    };
    return { out: req(BLK_T.OUT, src), disk, inn: req(BLK_T.IN, dst), dev };
  }

  it("descriptors pointing past the backed part read zeros and write for real; past the window they are refused", () => {
    const m = new Machine({ memSize: 64 * MiB });
    const win = new MachineMemory(m, 60 * MiB);
    expect(m.ramBacked).toBeLessThan(HIGH);
    m.writeMem(0x20000, Array.from({ length: 4096 }, (_, i) => (i * 7) & 0xff));
    // write from unbacked 48 MiB (zeros) to sector 0, then read it back into unbacked 52 MiB
    const a = dma(win, HIGH, HIGH + 4 * MiB);
    expect([a.out, a.inn]).toEqual([BLK_S.OK, BLK_S.OK]);
    const sector = new Uint8Array(4096);
    a.disk.read(0, sector);
    expect(sector.every((x) => x === 0)).toBe(true);
    // the same through a fully backed array: identical results
    const ref = new ArrayMemory(64 * MiB, 60 * MiB);
    const b = dma(ref, HIGH, HIGH + 4 * MiB);
    expect([b.out, b.inn]).toEqual([a.out, a.inn]);
    // data from low RAM into unbacked high RAM lands there
    const c = dma(win, 0x20000, HIGH + 8 * MiB);
    expect(c.inn).toBe(BLK_S.OK);
    expect(m.readMem(HIGH + 8 * MiB, 4096)).toEqual(m.readMem(0x20000, 4096));
    // a buffer past the DMA window (the VMM region's place in para mode): the device refuses it (needs a reset),
    // nothing is written there
    const d = dma(win, 0x20000, 62 * MiB);
    expect(d.dev.status & STATUS.NEEDS_RESET).toBe(STATUS.NEEDS_RESET);
    expect(m.readMem(62 * MiB, 4096).every((x) => x === 0)).toBe(true);
    m.release();
  });
});
