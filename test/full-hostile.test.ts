// full-hostile.test.ts — hostile guests under the full-mode monitor: a guest kernel that points its IDT, GDT or
// page tables at the VMM's linear region or past its RAM, loads a garbage CR3, floods page-table writes, maps the
// VMM's linear region, or runs random bytes deprivileged. Each ends with the guest's own fault or a clear stop
// (shutdown / halted with a message); the host never throws, time stays bounded, the VMM's own tables are never
// written by the guest, and a second full-mode VM in the same process running a normal guest — interleaved slice
// by slice with all of them — prints exactly what it prints alone.
import { describe, it, expect } from "vitest";
import { readFileSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine, type Exit } from "../host/machine.ts";
import { GDT_K, IDT_REAL, VMM_PT, VMM_SIZE, type HandleResult, type Monitor } from "../host/full/monitor.ts";
import { VMM_LINEAR } from "../host/full/shadow.ts";
import { FullVm } from "../host/full/fullvm.ts";
import { miniVm, d32, d16, identityPaging, PAGING_ON, KDATA } from "./full-minivm.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const HLT = 0xf4;
const movImm = (addr: number, v: number) => [0xc7, 0x05, ...d32(addr), ...d32(v)];
const load = (addr: number) => [0xa1, ...d32(addr)];
const MOV_DS = [0x66, 0xb8, ...d16(KDATA), 0x8e, 0xd8];            // mov ax,0x10 ; mov ds,ax
const LGDT = (at: number) => [0x0f, 0x01, 0x15, ...d32(at)];
const LIDT = (at: number) => [0x0f, 0x01, 0x1d, ...d32(at)];
const MOV_CR3 = (v: number) => [0xb8, ...d32(v), 0x0f, 0x22, 0xd8];
const PAST_RAM = 0x10000000;

interface Hostile {
  name: string;
  body: number[];
  setup?: (g: (a: number, b: number[]) => void) => void;
  /** what must end it */
  expect: (r: HandleResult, h: ReturnType<typeof miniVm>) => void;
}

const shutdown = (re: RegExp) => (r: HandleResult) => expect(r).toMatchObject({ stop: "shutdown", message: expect.stringMatching(re) });
const guestFault = (vec: number, cr2?: number) => (r: HandleResult, h: ReturnType<typeof miniVm>) => {
  expect(r).toMatchObject({ stop: "halted" }); // the guest's handler ran (and halted with IF=0)
  expect(h.seen()).toBe(vec);
  if (cr2 !== undefined) expect(h.mo.v.cr2).toBe(cr2);
};

const HOSTILE: Hostile[] = [
  {
    name: "IDT at the VMM's linear region (unmapped in the guest's tables): triple fault",
    body: [...PAGING_ON, ...LIDT(0x3020), 0xcd, 0x80],
    setup: (g) => { identityPaging(g); g(0x3020, [...d16(0x7ff), ...d32(VMM_LINEAR + IDT_REAL)]); },
    expect: shutdown(/triple fault/),
  },
  {
    // the monitor delivers through the guest's own tables, so it reads the guest's (zeroed) RAM there, as the CPU
    // would natively: gate type 0 → #GP → #DF → triple fault. Only the CPU's own accesses hit the VMM mapping.
    name: "IDT at the VMM's linear region, mapped by the guest onto its own RAM: the guest's view (zeros), triple fault",
    body: [...PAGING_ON, ...LIDT(0x3020), 0x0f, 0x0b],
    setup: (g) => { identityPaging(g); g(0x10000 + 1023 * 4, d32(0x11000 | 7)); g(0x3020, [...d16(0x7ff), ...d32(VMM_LINEAR + IDT_REAL)]); },
    expect: shutdown(/triple fault/),
  },
  {
    name: "IDT past the end of RAM (paging off): stops with a message",
    body: [...LIDT(0x3020), 0x0f, 0x0b],
    setup: (g) => g(0x3020, [...d16(0x7ff), ...d32(PAST_RAM)]),
    expect: shutdown(/outside/),
  },
  {
    // the segment load is a #PF on the descriptor; delivering it needs the handler's CS descriptor from the same
    // unreachable GDT: #PF → #DF → triple fault, as native
    name: "GDT at the VMM's linear region (unmapped): #PF on the descriptor, undeliverable: triple fault",
    body: [...PAGING_ON, ...LGDT(0x3020), ...MOV_DS],
    setup: (g) => { identityPaging(g); g(0x3020, [...d16(0xffff), ...d32(VMM_LINEAR + GDT_K)]); },
    expect: (r, h) => { shutdown(/triple fault/)(r); expect(h.mo.v.cr2 >>> 0).toBe(VMM_LINEAR + GDT_K + (KDATA & ~7)); },
  },
  {
    name: "a GDT shrunk under the kernel (limit covers only the code segment): a load past it is the guest's #GP",
    // lgdt with limit 0x0f (null + KCODE) ; mov ds, 0x40 → #GP(0x40), delivered (KCODE is still inside the limit)
    body: [...PAGING_ON, ...LGDT(0x3020), 0x66, 0xb8, ...d16(0x40), 0x8e, 0xd8],
    setup: (g) => { identityPaging(g); g(0x3020, [...d16(0x0f), ...d32(0x4000)]); },
    expect: guestFault(13),
  },
  {
    name: "GDT past the end of RAM (paging off): stops with a message",
    body: [...LGDT(0x3020), ...MOV_DS],
    setup: (g) => g(0x3020, [...d16(0xffff), ...d32(PAST_RAM)]),
    expect: shutdown(/outside/),
  },
  {
    name: "CR3 past the end of RAM: stops with a message",
    body: [...PAGING_ON, ...MOV_CR3(PAST_RAM), HLT],
    setup: (g) => identityPaging(g),
    expect: shutdown(/CR3 0x10000000 points outside guest RAM/),
  },
  {
    name: "garbage CR3 (a page directory of random bytes): ends with a stop, never a host error",
    body: [...PAGING_ON, ...MOV_CR3(0x200000), HLT],
    setup: (g) => { identityPaging(g); g(0x200000, randomBytes(4096, 7)); },
    expect: (r) => expect(r).toMatchObject({ stop: expect.stringMatching(/shutdown|halted/) }),
  },
  {
    name: "a page table past the end of RAM: stops with a message",
    body: [...PAGING_ON, ...load(0x400000), HLT],
    setup: (g) => { identityPaging(g); g(0x10004, d32(PAST_RAM | 7)); },
    expect: shutdown(/outside guest RAM/),
  },
  {
    // device memory, as native: the CPU exits with the machine address past machine RAM (FullMode hands it to the
    // bus at the guest-physical address; this bare monitor has no bus); test/full-mmio.test.ts runs it end to end
    name: "a PTE mapping a page past the end of RAM: an MMIO exit past machine RAM (device memory), never RAM",
    body: [...PAGING_ON, ...load(0x200000), HLT],
    setup: (g) => identityPaging(g, (p) => (p === 0x200 ? (PAST_RAM - (0x200 << 12)) | 7 : 7)),
    expect: (r, h) => {
      expect(r).toMatchObject({ stop: "internal-error", message: expect.stringMatching(/unexpected mmio-read exit/) });
      const gpa = (0x200000 | (PAST_RAM - 0x200000)) >>> 0; // identityPaging ORs the page's frame into the value
      expect(lastExit.get(h.mo)).toMatchObject({ reason: "mmio-read", address: gpa + VMM_SIZE });
      expect(h.m.ramSize).toBeLessThanOrEqual(gpa + VMM_SIZE);
      expect(h.mo.shadow.mmioGuestAddr(gpa + VMM_SIZE)).toBe(gpa);
    },
  },
  {
    name: "the guest maps the VMM's linear region and writes to it: stops, the VMM's tables are untouched",
    body: [...PAGING_ON, ...movImm(VMM_LINEAR + GDT_K + 8, 0xffffffff), HLT],
    setup: (g) => { identityPaging(g); g(0x10000 + 1023 * 4, d32(0x11000 | 7)); },
    expect: shutdown(/0xffc01008, inside the VMM-reserved linear region/),
  },
  {
    name: "a flood of page-table writes (a live PTE rewritten 40000 times) completes, bounded, right",
    // PDE 1 → PT 0x12000 ; mov eax,[0x700000] ; mov ecx,20000 ; L: PTE 0x300 of that PT → 0x300000 ; → 0x200000 ; loop L ;
    // invlpg [0x700000] ; mov eax,[0x700000] ; hlt
    body: [...PAGING_ON, ...load(0x700000), 0xb9, ...d32(20000), ...movImm(0x12000 + 0x300 * 4, 0x300007), ...movImm(0x12000 + 0x300 * 4, 0x200007),
      0xe2, 256 - 22, 0x0f, 0x01, 0x3d, ...d32(0x700000), ...load(0x700000), HLT],
    setup: (g) => {
      identityPaging(g); g(0x10004, d32(0x12000 | 7)); g(0x12000 + 0x300 * 4, d32(0x300007));
      g(0x200000, d32(0x11111111)); g(0x300000, d32(0x22222222));
    },
    expect: (r, h) => {
      expect(r).toMatchObject({ stop: "halted" });
      expect(h.seen()).toBe(-1);
      expect(h.m.eax).toBe(0x11111111);
      expect(h.m.ecx).toBe(0);
      expect(h.mo.shadow.stats.unshadowed).toBeGreaterThan(0);
      expect(h.mo.stats.exits["protected write"]).toBeLessThan(100); // unshadowed: the rest run natively
    },
  },
];

function randomBytes(n: number, seed: number): number[] {
  let x = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; out.push(x & 0xff); }
  return out;
}

/** the VMM's own pages (real GDTs, IDT, the region's page table), to check the guest never wrote them; the CPU
 *  itself sets accessed/dirty bits in the region's page table when it walks it, those are masked */
function vmmTables(m: Machine): Uint8Array {
  const b = m.readMem(VMM_PT, IDT_REAL + 0x1000 - VMM_PT);
  for (let i = 0; i < 0x1000; i += 4) b[i] &= ~0x60;
  return b;
}

/** drives a monitor to its end, at most `maxExits`; any host exception escapes and fails the test */
const lastExit = new WeakMap<Monitor, Exit>();
function step(mo: Monitor, exits: number): HandleResult | undefined {
  for (let i = 0; i < exits; i++) {
    const e = mo.m.run(20_000);
    lastExit.set(mo, e);
    const r = mo.handle(e);
    if (r) return r;
  }
  return undefined;
}

describe("hostile guests end in a guest fault or a clear stop", () => {
  for (const h of HOSTILE) {
    it(h.name, () => {
      const vm = miniVm(h.body);
      h.setup?.(vm.g);
      const before = vmmTables(vm.m);
      const t0 = performance.now();
      const r = step(vm.mo, 5000);
      expect(r, "did not end").toBeDefined();
      expect(performance.now() - t0).toBeLessThan(10_000);
      h.expect(r!, vm);
      // the guest never wrote the VMM's tables (the monitor itself may have re-synced the GDT copies)
      const after = vmmTables(vm.m);
      expect(after.slice(IDT_REAL - VMM_PT)).toEqual(before.slice(IDT_REAL - VMM_PT));
      expect(after.slice(0, 0x1000)).toEqual(before.slice(0, 0x1000));
    });
  }

  it("random bytes run as the deprivileged kernel (paging on): no host exception, every run ends or is cut", () => {
    let ended = 0;
    const t0 = performance.now();
    for (let p = 0; p < 150; p++) {
      const vm = miniVm([...PAGING_ON, ...randomBytes(96, 1000 + p)]);
      identityPaging(vm.g);
      // random RAM around the code, so jumps and loads find more random state
      vm.g(0x20000, randomBytes(0x4000, 77 + p));
      const r = step(vm.mo, 300);
      if (r) ended++;
      if (r && "stop" in r) expect(r.message).toBeTruthy();
    }
    expect(ended).toBeGreaterThan(50);
    expect(performance.now() - t0).toBeLessThan(60_000);
  });
});

describe("a healthy VM beside the hostile ones", () => {
  const image = join(ROOT, "build/guests/workloads/compute.elf");
  it("prints exactly what it prints alone, interleaved slice by slice with every hostile guest", () => {
    if (!existsSync(image)) execFileSync("sh", [join(ROOT, "guests/workloads/build.sh")], { stdio: "inherit" });
    const bytes = new Uint8Array(readFileSync(image));
    const det = (s: string) => s.split("\n").filter((l) => !l.startsWith("time "));
    const solo = new FullVm({ memSize: 32 << 20 });
    solo.loadMultiboot(bytes, { cmdline: "iters=2" });
    const alone = solo.run({ maxInstructions: 100_000_000 });
    expect(alone.exitStatus).toBe(1);

    const vm = new FullVm({ memSize: 32 << 20 });
    vm.loadMultiboot(bytes, { cmdline: "iters=2" });
    const hostiles = HOSTILE.map((h) => { const x = miniVm(h.body); h.setup?.(x.g); return { h, x, r: undefined as HandleResult | undefined }; });
    let res = null;
    for (let round = 0; round < 1000; round++) {
      res = vm.run({ maxInstructions: 300_000 });
      for (const o of hostiles) if (!o.r) o.r = step(o.x.mo, 3);
      if (res.stopReason !== "max-instructions") break;
    }
    expect(res!.exitStatus).toBe(alone.exitStatus);
    expect(det(vm.console)).toEqual(det(solo.console));
    for (const o of hostiles) {
      if (!o.r) o.r = step(o.x.mo, 5000);
      expect(o.r, o.h.name).toBeDefined();
      o.h.expect(o.r!, o.x);
    }
  });
});
