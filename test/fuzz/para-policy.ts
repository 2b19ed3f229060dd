// para-policy.ts — the fuzz campaign of para mode's guest-memory policy (host/para/policy.ts, issue 9): random
// virtio requests and descriptor chains, and random mmu_update / mmuext_op batches, against a real ParaVm, with
// the policy's invariants checked after EVERY step from the actual memory:
//   * every page-table frame in use (type L1/L2) is walked: no present PTE maps a frame outside the guest, no
//     writable PTE maps a page-table, descriptor or VMM frame, PDEs point at L1s only (no PS), PDE 1023 of a pinned
//     L2 is the VMM's hole; the per-frame counts (writable mappings, type references) recomputed from the walk equal
//     the policy's; CR3 is a pinned L2;
//   * a virtio step changes no page-table frame; no step changes the VMM region (but the shared page's event bits)
//     nor, checked at the end of every batch, any byte of the wasm memory outside guest RAM (CPU state, caches);
//   * the CPU's GDT holds no ring-0 or system descriptor but the VMM's TSS, its IDT only gates into the guest
//     kernel at ring ≥ 1;
//   * 0 host exceptions (thrown out of a step, or caught by the virtio transport), 0 hangs (a step over 2 s).
// Used by test/fuzz/para-policy.test.ts (a small run in `npm test`) and scripts/fuzz-para.mjs (`npm run fuzz:para`).
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { ParaVm, SLOT_BLK, SLOT_CONSOLE } from "../../host/para/vm.ts";
import { E, HC, HOLE_PDX, MMUEXT, PAGE, SH, VMM_GDT, VMM_IDT, VMM_SHARED, VMM_SIZE, SEL, TSS_INDEX, GDT_ENTRIES } from "../../host/para/abi.ts";
import { FT } from "../../host/para/policy.ts";
import { PTE_P, PTE_W, PTE_U, PTE_PS } from "../../host/para/mmu.ts";
import { MemoryBackend } from "../../host/devices/block.ts";
import { type GuestMemory, type Seg, inRange } from "../../host/virtio/memory.ts";
import { MockDriver, type MockQueue } from "../../host/virtio/mock-driver.ts";
import { BLK_T } from "../../host/virtio/blk.ts";
import { MAX_CHAIN_BYTES, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from "../../host/virtio/chain.ts";
import { STATUS, type VirtioMmio } from "../../host/virtio/mmio.ts";
import { RAM_BASE, STATE_BASE, OFF_CR3, DIRTY_BASE } from "../../host/abi.generated.ts";

export interface FuzzOptions {
  /** random virtio requests (chains published and kicked) */
  requests: number;
  /** random mmu_update / mmuext_op batches */
  batches: number;
  seed?: number;
  /** steps between the full checks of host memory outside guest RAM */
  checkEvery?: number;
  image?: Uint8Array;
  /** called once the VM is built: lets a test break the VMM on purpose, to show the campaign notices */
  tamper?: (vm: ParaVm) => void;
}

export interface FuzzReport {
  seed: number;
  requests: number;
  descriptors: number;
  requestsRefusedByPolicy: number;
  queueErrors: Record<string, number>;
  deviceResets: number;
  mmuBatches: number;
  mmuEntries: number;
  mmuextOps: number;
  mmuAccepted: number;
  mmuRejected: number;
  pins: number;
  hypercallsOther: number;
  invariantChecks: number;
  hostMemoryChecks: number;
  hostExceptions: number;
  hangs: number;
  violations: string[];
  maxStepMs: number;
  ms: number;
  mmuStats?: unknown;
  policyStats?: unknown;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const MEM = 8 << 20;
const HANG_MS = 2000;

/** xorshift128+ — deterministic per seed */
class Rng {
  private a: number; private b: number; private c: number; private d: number;
  constructor(seed: number) { this.a = seed | 1; this.b = 0x9e3779b9; this.c = seed ^ 0x85ebca6b; this.d = 0xc2b2ae35; for (let i = 0; i < 16; i++) this.u32(); }
  u32(): number {
    let t = this.d;
    const s = this.a;
    this.d = this.c; this.c = this.b; this.b = s;
    t ^= t << 11; t ^= t >>> 8;
    this.a = (t ^ s ^ (s >>> 19)) >>> 0;
    return this.a;
  }
  int(n: number): number { return Math.floor((this.u32() / 2 ** 32) * n); }
  chance(p: number): boolean { return this.u32() / 2 ** 32 < p; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }
}

/**
 * The guest kernel's own stores (the mock driver's ring and buffer writes): what the CPU could do through the
 * guest's mappings, so a store into a frame that is not RAM is dropped (the CPU would fault on the read-only map).
 */
class GuestCpuMemory implements GuestMemory {
  dropped = 0;
  constructor(private readonly vm: ParaVm) {}
  get size(): number { return this.vm.vmmBase; }
  private ok(a: number, n: number): boolean {
    if (!inRange(this, a, n)) return false;
    if (this.vm.policy.deviceMayWrite(a, n)) return true;
    this.dropped++;
    return false;
  }
  read(a: number, n: number): Uint8Array { return inRange(this, a, n) ? this.vm.machine.readMem(a, n) : new Uint8Array(n); }
  write(a: number, d: Uint8Array): void { if (this.ok(a, d.length)) this.vm.machine.writeMem(a, d); }
  read16(a: number): number { return inRange(this, a, 2) ? this.vm.machine.read16(a) : 0; }
  read32(a: number): number { return inRange(this, a, 4) ? this.vm.machine.read32(a) : 0; }
  write16(a: number, v: number): void { if (this.ok(a, 2)) this.vm.machine.write16(a, v); }
  write32(a: number, v: number): void { if (this.ok(a, 4)) this.vm.machine.write32(a, v); }
  mayWrite(a: number, n: number): boolean { return inRange(this, a, n) && this.vm.policy.deviceMayWrite(a, n); }
  checkWrites(segs: readonly Seg[]): boolean { return segs.every((s) => this.mayWrite(s.addr, s.len)); }
  claim(): void {}
  release(): void {}
}

// guest-physical areas the fuzz's "kernel" uses (frames of ordinary RAM; the mmu fuzz may still pin them)
const DRIVER_HEAP = 0x10000, DRIVER_HEAP_END = 0x60000; // rings, headers, indirect tables (two devices)
const BATCH_AREA = 0x70000; // mmu_update / mmuext batches (2 pages)
const SCRATCH_LO = 0x80000, SCRATCH_FRAMES = 64; // frames the mmu fuzz turns into page tables

export function fuzzParaPolicy(opts: FuzzOptions): FuzzReport {
  const seed = opts.seed ?? 1;
  const rng = new Rng(seed);
  const t0 = performance.now();
  const rep: FuzzReport = {
    seed, requests: 0, descriptors: 0, requestsRefusedByPolicy: 0, queueErrors: {}, deviceResets: 0, mmuBatches: 0,
    mmuEntries: 0, mmuextOps: 0, mmuAccepted: 0, mmuRejected: 0, pins: 0, hypercallsOther: 0, invariantChecks: 0,
    hostMemoryChecks: 0, hostExceptions: 0, hangs: 0, violations: [], maxStepMs: 0, ms: 0,
  };
  const violation = (s: string) => { if (rep.violations.length < 20) rep.violations.push(s); };

  // ---- the VM: an 8 MiB para guest (layout built by the domain builder; the CPU does not run) and a random disk
  const disk = new Uint8Array(256 << 10);
  const vm = new ParaVm({ memSize: MEM, disk: new MemoryBackend(disk), captureConsole: false });
  const image = opts.image ?? new Uint8Array(readFileSync(join(ROOT, "build/guests/workloads-pv/null_syscall.elf"))); // (the script passes it: bundled, ROOT is elsewhere)
  vm.loadMultiboot(image, { cmdline: "iters=1" });
  opts.tamper?.(vm);
  const m = vm.machine, policy = vm.policy, mmu = vm.mmu;
  const gf = policy.guestFrames, vf = vm.vmmBase / PAGE;
  const holePde = mmu.holePde;
  const ptFrames = Array.from({ length: (vm.vmmBase - vm.ptBase) / PAGE }, (_, i) => vm.ptBase / PAGE + i);
  const descFrames = [VMM_GDT, VMM_IDT].map((o) => vf + o / PAGE);

  // a disk full of page-table bait: PTEs mapping page tables, VMM and descriptor frames writable
  const ddv = new DataView(disk.buffer);
  const baitFrame = (): number => rng.pick([...ptFrames, ...descFrames, vf, vf + rng.int(16), rng.int(gf), SCRATCH_LO / PAGE + rng.int(SCRATCH_FRAMES)]);
  for (let i = 0; i < disk.length; i += 4) ddv.setUint32(i, rng.chance(0.8) ? ((baitFrame() * PAGE) | PTE_P | PTE_W | PTE_U) >>> 0 : rng.u32(), true);

  // ---- direct views of the wasm memory, for the walks and the host-memory comparisons
  const buf = m.memory.buffer;
  const TOTAL = m.ramSize; // the machine's RAM: the guest's MEM, then its initial page tables and the VMM region
  const u32 = new Uint32Array(buf, RAM_BASE, TOTAL / 4);
  const wasm = new Uint8Array(buf);
  const vmmView = new Uint8Array(buf, RAM_BASE + vm.vmmBase, VMM_SIZE);
  const pendingOff = VMM_SHARED + SH.EVTCHN_PENDING;
  let vmmSnap = vmmView.slice();
  const hostOutside = () => [wasm.subarray(0, RAM_BASE), wasm.subarray(RAM_BASE + TOTAL)];
  let hostSnap = hostOutside().map((a) => a.slice());

  // ---- invariants
  const wcount = new Uint32Array(policy.ramFrames), rcount = new Uint32Array(policy.ramFrames);
  const typed: number[] = [];
  function checkInvariants(where: string): void {
    rep.invariantChecks++;
    wcount.fill(0); rcount.fill(0); typed.length = 0;
    for (let f = 0; f < gf; f++) if (policy.type[f] === FT.L1 || policy.type[f] === FT.L2) typed.push(f);
    for (const f of typed) {
      const t = policy.type[f], base = f * 1024;
      if (t === FT.L1) {
        for (let i = 0; i < 1024; i++) {
          const v = u32[base + i];
          if (!(v & PTE_P)) continue;
          const g = v >>> 12;
          if (g >= gf) { violation(`${where}: L1 ${hex(f)}[${i}] maps non-guest frame ${hex(g)}`); continue; }
          if (v & PTE_W) {
            wcount[g]++;
            if (policy.type[g] !== FT.RAM) violation(`${where}: L1 ${hex(f)}[${i}] maps frame ${hex(g)} (type ${policy.type[g]}) writable`);
          }
        }
      } else {
        for (let i = 0; i < HOLE_PDX; i++) {
          const v = u32[base + i];
          if (!(v & PTE_P)) continue;
          const g = v >>> 12;
          if (v & PTE_PS) violation(`${where}: L2 ${hex(f)}[${i}] is a large page`);
          if (g >= gf || policy.type[g] !== FT.L1) violation(`${where}: L2 ${hex(f)}[${i}] points at frame ${hex(g)} that is not an L1`);
          else rcount[g]++;
        }
        if (u32[base + HOLE_PDX] !== holePde) violation(`${where}: L2 ${hex(f)} hole entry ${hex(u32[base + HOLE_PDX])}`);
        if (!policy.pinned[f]) violation(`${where}: L2 ${hex(f)} in use but not pinned`);
      }
    }
    for (let f = 0; f < gf; f++) {
      if (wcount[f] !== policy.writable[f]) violation(`${where}: frame ${hex(f)} has ${wcount[f]} writable mappings, policy says ${policy.writable[f]}`);
      const t = policy.type[f];
      const refs = rcount[f] + policy.pinned[f];
      if ((t === FT.L1 || t === FT.L2) && refs !== policy.typeRefs[f]) violation(`${where}: frame ${hex(f)} has ${refs} type references, policy says ${policy.typeRefs[f]}`);
      if (t === FT.RAM && (policy.typeRefs[f] || policy.pinned[f] || rcount[f])) violation(`${where}: RAM frame ${hex(f)} referenced as a page table`);
      if (t !== FT.RAM && t !== FT.L1 && t !== FT.L2) violation(`${where}: guest frame ${hex(f)} has type ${t}`);
      if (policy.deviceWrites[f]) violation(`${where}: frame ${hex(f)} has a device write left in flight`);
    }
    const cr3 = m.getCr("cr3") >>> 12;
    if (!(cr3 < gf && policy.type[cr3] === FT.L2 && policy.pinned[cr3] && mmu.cr3Frame === cr3)) violation(`${where}: CR3 frame ${hex(cr3)} is not a pinned L2`);
    // the VMM region: unchanged but for the event bits the devices' interrupts set
    vmmSnap.set(vmmView.subarray(pendingOff, pendingOff + 4), pendingOff);
    if (Buffer.compare(vmmView, vmmSnap) !== 0) violation(`${where}: the VMM region changed`);
    // the descriptor tables the CPU uses
    for (let i = 1; i < GDT_ENTRIES; i++) {
      const hi = m.read32(vm.vmmBase + VMM_GDT + 8 * i + 4);
      if (!(hi & 0x8000)) continue;
      if (!(hi & 0x1000) ? i !== TSS_INDEX : ((hi >>> 13) & 3) === 0) violation(`${where}: GDT[${i}] = ${hex(hi)} (ring 0 or system)`);
    }
    for (let v = 0; v < 256; v++) {
      const lo = m.read32(vm.vmmBase + VMM_IDT + 8 * v), hi = m.read32(vm.vmmBase + VMM_IDT + 8 * v + 4);
      if ((hi & 0x8000) && ((lo >>> 16) !== (SEL.KCODE & ~3) || ((hi >>> 13) & 3) === 0)) violation(`${where}: IDT[${v}] = ${hex(hi)}:${hex(lo)}`);
    }
  }
  function checkHostMemory(where: string): void {
    rep.hostMemoryChecks++;
    const now = hostOutside();
    // CR3 is the one word a hypercall changes there (NEW_BASEPTR; checkInvariants checks its value)
    hostSnap[0].set(now[0].subarray(STATE_BASE + OFF_CR3, STATE_BASE + OFF_CR3 + 4), STATE_BASE + OFF_CR3);
    // the CPU's written-pages bitmap (abi.ts DIRTY_BASE) records host writes to guest RAM: only its bits for RAM pages may change
    const dirtyEnd = DIRTY_BASE + Math.ceil(TOTAL / PAGE / 8);
    hostSnap[0].set(now[0].subarray(DIRTY_BASE, dirtyEnd), DIRTY_BASE);
    now.forEach((a, i) => {
      if (Buffer.compare(a, hostSnap[i]) === 0) return;
      let k = 0;
      while (a[k] === hostSnap[i][k]) k++;
      violation(`${where}: host memory outside guest RAM changed at wasm offset ${hex(i === 0 ? k : RAM_BASE + TOTAL + k)}`);
    });
    hostSnap = now.map((a) => a.slice());
  }

  // ---- virtio drivers (the guest kernel's side), re-initialised after every NEEDS_RESET
  const gmem = new GuestCpuMemory(vm);
  interface Dev { dev: VirtioMmio; drv: MockDriver; qs: MockQueue[]; sizes: number[]; heap: number }
  const devs: Dev[] = [];
  function setup(slot: number, heap: number): Dev {
    const dev = vm.virtio[slot];
    const drv = new MockDriver(dev, gmem, heap);
    const sizes = dev.queues.map((q) => q.maxSize);
    const d: Dev = { dev, drv, qs: [], sizes, heap };
    reinit(d);
    return d;
  }
  function reinit(d: Dev): void {
    rep.deviceResets++;
    (d.drv as unknown as { brk: number }).brk = d.heap; // reuse the same area
    d.drv.init({ eventIdx: rng.chance(0.5), indirect: rng.chance(0.8) });
    d.qs = d.sizes.map((max, qi) => {
      const size = rng.chance(0.8) ? max : 1 << rng.int(Math.log2(max) + 1);
      // sometimes the rings go somewhere hostile: a page table, the VMM, past RAM
      const at = rng.chance(0.05) ? { [rng.pick(["desc", "avail", "used"] as const)]: target(rng) & ~15 } : undefined;
      return d.drv.setupQueue(qi, size, at);
    });
    d.drv.driverOk();
  }
  devs.push(setup(SLOT_CONSOLE, DRIVER_HEAP));
  devs.push(setup(SLOT_BLK, DRIVER_HEAP + 0x28000));

  /** a guest-physical address aimed at some frame type */
  function target(r: Rng): number {
    const off = r.pick([0, r.int(PAGE), PAGE - 1, PAGE - 4, PAGE - 16, r.int(16) * 16]);
    switch (r.int(11)) {
      case 0: case 9: return r.pick(ptFrames) * PAGE + off; // the initial (pinned) page tables
      case 1: case 10: { const f = SCRATCH_LO / PAGE + r.int(SCRATCH_FRAMES); return f * PAGE + off; } // frames the mmu fuzz pins
      case 2: return vm.vmmBase - r.int(3 * PAGE); // across the guest's end
      case 3: return vm.vmmBase + r.int(VMM_SIZE); // VMM / descriptor frames
      case 4: return r.pick([MEM, MEM - 1, 0xfffffff0, 0xffffffff, 0x80000000, 0xfeb00000]); // past RAM, MMIO, wrap
      case 5: return DRIVER_HEAP + r.int(DRIVER_HEAP_END - DRIVER_HEAP); // the rings themselves
      default: return r.int(gf) * PAGE + off; // any guest frame
    }
  }
  function length(r: Rng): number {
    return r.pick([0, 1, 2, 15, 16, 17, 512, 513, PAGE, 2 * PAGE, r.int(PAGE), r.int(64 << 10), 4 << 20, MAX_CHAIN_BYTES, MAX_CHAIN_BYTES + 1, 0xffffffff, 0x80000000]);
  }

  function virtioStep(): void {
    const d = devs[rng.chance(0.75) ? 1 : 0];
    if (d.dev.status & STATUS.NEEDS_RESET || !(d.dev.status & STATUS.DRIVER_OK) || rng.chance(0.002)) { d.dev.reset(); reinit(d); }
    const qi = rng.int(d.qs.length), q = d.qs[qi], drv = d.drv;
    rep.requests++;
    // the buffers: a blk header (random type and sector) then random segments
    const hdr = drv.alloc(16, 16);
    gmem.write32(hdr, rng.chance(0.9) ? rng.pick([BLK_T.IN, BLK_T.IN, BLK_T.OUT, BLK_T.FLUSH, BLK_T.GET_ID]) : rng.u32());
    gmem.write32(hdr + 8, rng.chance(0.9) ? rng.int(disk.length / 512) : rng.u32());
    gmem.write32(hdr + 12, rng.chance(0.95) ? 0 : rng.u32());
    const nseg = 1 + rng.int(5);
    const bufs = [{ addr: hdr, len: 16, write: false }];
    for (let i = 0; i < nseg; i++) {
      const wr = i > 0 || rng.chance(0.7);
      bufs.push({ addr: rng.chance(0.7) ? target(rng) : drv.alloc(1), len: rng.chance(0.8) ? rng.pick([1, 512, PAGE, 2 * PAGE]) : length(rng), write: wr });
    }
    rep.descriptors += bufs.length;
    const kind = rng.int(10);
    if (kind === 0 && rng.chance(0.5)) {
      drv.addIndirect(q, bufs);
    } else if (kind === 1) {
      // raw, hostile descriptors: random flags, next, addresses; indirect tables anywhere
      const n = 1 + rng.int(4);
      for (let i = 0; i < n; i++) {
        const idx = rng.int(q.size);
        const flags = rng.int(8), nx = rng.chance(0.8) ? rng.int(q.size) : rng.int(65536);
        const len = flags & VIRTQ_DESC_F_INDIRECT ? rng.pick([16, 32, 48, 17, 0, q.size * 16, 0xfffffff0]) : length(rng);
        drv.writeDesc(q.desc, idx, target(rng), len, flags, nx, rng.chance(0.03) ? 1 : 0);
      }
      drv.publish(q, rng.chance(0.9) ? rng.int(q.size) : rng.int(65536));
    } else if (kind === 2) {
      // a loop: a → b → a
      const a = rng.int(q.size), b = rng.int(q.size);
      drv.writeDesc(q.desc, a, target(rng), length(rng), VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, b);
      drv.writeDesc(q.desc, b, target(rng), length(rng), VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, a);
      drv.publish(q, a);
    } else if (kind === 3) {
      drv.add(q, bufs, { publish: false });
      drv.setAvailIdx(q, rng.chance(0.5) ? q.availIdx + 1 + rng.int(3 * q.size) : rng.int(65536)); // ring index games
    } else {
      drv.add(q, bufs);
    }
    if (d === devs[0] && qi === 0) vm.virtioConsole.receive(Uint8Array.of(...Array.from({ length: 1 + rng.int(32) }, () => rng.int(256))));
    const before = vm.blk!.stats.policyRefused + vm.virtioConsole.stats.rxPolicyRefused;
    if (rng.chance(0.5)) drv.kick(q); else vm.call(HC.VIRTIO_NOTIFY, d === devs[0] ? SLOT_CONSOLE : SLOT_BLK, rng.chance(0.95) ? qi : rng.u32());
    rep.requestsRefusedByPolicy += vm.blk!.stats.policyRefused + vm.virtioConsole.stats.rxPolicyRefused - before;
    drv.takeUsed(q);
    if (rng.chance(0.3)) drv.ackInterrupt();
    if (drv.alloc(0) > d.heap + 0x20000 || d.dev.status & STATUS.NEEDS_RESET) { d.dev.reset(); reinit(d); }
  }

  // ---- mmu batches
  const l1Of = (f: number) => ptFrames[1 + (f >> 10)] ?? ptFrames[1];
  function pteValue(): number {
    const f = rng.pick([rng.int(gf), rng.pick(ptFrames), SCRATCH_LO / PAGE + rng.int(SCRATCH_FRAMES), vf + rng.int(16), rng.int(0x100000)]);
    const flags = rng.chance(0.9) ? PTE_P | (rng.chance(0.5) ? PTE_W : 0) | (rng.chance(0.5) ? PTE_U : 0) | (rng.chance(0.05) ? PTE_PS : 0) : rng.int(0x1000);
    return ((f * PAGE) | flags) >>> 0;
  }
  function scratchFrame(): number { return SCRATCH_LO / PAGE + rng.int(SCRATCH_FRAMES); }
  function mmuStep(): void {
    rep.mmuBatches++;
    const writeBatch = (pairs: number[]) => {
      for (let i = 0; i < pairs.length; i++) gmem.write32(BATCH_AREA + 4 * i, pairs[i]);
    };
    const count = (r: number) => { if (r === 0) rep.mmuAccepted++; else rep.mmuRejected++; };
    const kind = rng.int(10);
    if (kind < 5) {
      // mmu_update: n entries aimed at page tables (initial, scratch, random), random values
      const n = 1 + rng.int(rng.chance(0.9) ? 8 : 200);
      const pairs: number[] = [];
      for (let i = 0; i < n; i++) {
        let ptr: number;
        switch (rng.int(6)) {
          case 0: case 1: { const f = scratchFrame(); ptr = l1Of(f) * PAGE + 4 * (f & 1023); break; } // (un)map a scratch frame in the identity map
          case 2: ptr = rng.pick(ptFrames) * PAGE + 4 * rng.int(1024); break;
          case 3: ptr = scratchFrame() * PAGE + 4 * rng.int(1024); break;
          case 4: ptr = rng.chance(0.5) ? target(rng) : rng.u32(); break;
          default: ptr = rng.int(gf) * PAGE + 4 * rng.int(1024);
        }
        let val = pteValue();
        if (rng.chance(0.3) && ptr < SCRATCH_LO + SCRATCH_FRAMES * PAGE && ptr >= ptFrames[0] * PAGE) val = ((ptr & ~0xfff) >>> 0) | PTE_P; // read-only self-ish
        pairs.push(ptr >>> 0, val >>> 0);
      }
      rep.mmuEntries += n;
      writeBatch(pairs);
      count(vm.call(HC.MMU_UPDATE, rng.chance(0.97) ? BATCH_AREA : target(rng), rng.chance(0.97) ? n : rng.u32()));
    } else if (kind < 8) {
      // prepare a scratch frame as a page table: map it read-only, fill it (while RAM) and pin it; or random ops
      const n = 1 + rng.int(4);
      const pairs: number[] = [];
      for (let i = 0; i < n; i++) {
        const f = scratchFrame();
        const op = rng.int(10);
        if (op < 3 && policy.type[f] === FT.RAM) {
          // fill it (an ordinary frame: the kernel writes it through its own mapping), map it read-only, pin it
          if (rng.chance(0.6)) for (let k = 0; k < 1024; k++) m.write32(f * PAGE + 4 * k, rng.chance(0.1) ? pteValue() : 0);
          else for (let k = 0; k < 1024; k++) m.write32(f * PAGE + 4 * k, rng.chance(0.01) ? (scratchFrame() * PAGE) | PTE_P : 0); // an L2 of scratch L1s
          const ro = [l1Of(f) * PAGE + 4 * (f & 1023), (f * PAGE) | PTE_P];
          writeBatch(ro); count(vm.call(HC.MMU_UPDATE, BATCH_AREA, 1));
          pairs.push(rng.chance(0.6) ? MMUEXT.PIN_L1 : MMUEXT.PIN_L2, f * PAGE);
          rep.pins++;
        } else if (op < 5) pairs.push(MMUEXT.UNPIN, (rng.chance(0.8) ? f : rng.pick(ptFrames)) * PAGE);
        else if (op < 7) pairs.push(MMUEXT.NEW_BASEPTR, (rng.chance(0.7) ? f : rng.pick(ptFrames)) * PAGE);
        else if (op < 8) pairs.push(rng.pick([MMUEXT.INVLPG, MMUEXT.TLB_FLUSH]), rng.u32());
        else pairs.push(rng.int(12), rng.chance(0.5) ? target(rng) : rng.u32());
      }
      rep.mmuextOps += n;
      writeBatch(pairs);
      count(vm.call(HC.MMUEXT_OP, BATCH_AREA, n));
    } else if (kind === 8) {
      // back to the initial directory, and unpin a scratch frame (so frames cycle between RAM and page table)
      const f = scratchFrame();
      writeBatch([MMUEXT.NEW_BASEPTR, vm.ptBase, MMUEXT.UNPIN, f * PAGE]);
      rep.mmuextOps += 2;
      count(vm.call(HC.MMUEXT_OP, BATCH_AREA, 2));
    } else {
      // the other hypercalls that read guest memory, with random buffers
      rep.hypercallsOther++;
      const nr = rng.pick([HC.CONSOLE_WRITE, HC.SET_GDT, HC.SET_TRAP_TABLE, HC.MMU_UPDATE, HC.MMUEXT_OP]);
      for (let k = 0; k < 64; k++) gmem.write32(BATCH_AREA + 4 * k, rng.chance(0.5) ? rng.u32() : pteValue());
      const r = vm.call(nr, rng.chance(0.5) ? BATCH_AREA : target(rng), rng.chance(0.7) ? rng.int(20) : rng.u32());
      if (nr === HC.MMU_UPDATE || nr === HC.MMUEXT_OP) count(r); else if (r < 0 && r !== E.FAULT && r !== E.PERM && r !== E.INVAL) violation(`hypercall ${nr} returned ${r}`);
      vmmSnap = vmmView.slice(); // SET_GDT / SET_TRAP_TABLE legitimately rewrite the VMM's tables (checked above)
    }
  }

  // ---- the campaign: requests and batches interleaved, every step checked
  const total = opts.requests + opts.batches;
  const checkEvery = opts.checkEvery ?? 1000;
  let leftR = opts.requests, leftB = opts.batches;
  checkInvariants("boot");
  checkHostMemory("boot");
  const ptSnap = new Map<number, Uint8Array>();
  for (let step = 0; step < total; step++) {
    const isVirtio = leftB === 0 || (leftR > 0 && rng.int(leftR + leftB) < leftR);
    if (isVirtio) leftR--; else leftB--;
    // the page-table frames before a virtio step: no device may change them
    if (isVirtio) { ptSnap.clear(); for (let f = 0; f < gf; f++) if (policy.type[f] === FT.L1 || policy.type[f] === FT.L2) ptSnap.set(f, m.readMem(f * PAGE, PAGE)); }
    const s0 = performance.now();
    try {
      if (isVirtio) virtioStep(); else mmuStep();
    } catch (e) {
      rep.hostExceptions++;
      violation(`step ${step}: host exception ${(e as Error).stack ?? e}`);
    }
    const dt = performance.now() - s0;
    if (dt > rep.maxStepMs) rep.maxStepMs = dt;
    if (dt > HANG_MS) { rep.hangs++; violation(`step ${step}: ${dt.toFixed(0)} ms`); }
    if (isVirtio) for (const [f, before] of ptSnap) if (Buffer.compare(before, m.readMem(f * PAGE, PAGE)) !== 0) violation(`step ${step}: a device changed page-table frame ${hex(f)}`);
    checkInvariants(`step ${step} (${isVirtio ? "virtio" : "mmu"})`);
    if ((step + 1) % checkEvery === 0 || step === total - 1) checkHostMemory(`step ${step}`);
    if (rep.violations.length >= 20) break;
  }
  for (const d of devs) {
    for (const q of d.dev.queues) for (const [k, v] of Object.entries(q.stats.errors)) rep.queueErrors[k] = (rep.queueErrors[k] ?? 0) + v;
    if (d.dev.stats.deviceErrors) { rep.hostExceptions += d.dev.stats.deviceErrors; violation(`virtio slot ${devs.indexOf(d)}: ${d.dev.stats.deviceErrors} device-model exceptions`); }
  }
  rep.ms = performance.now() - t0;
  rep.mmuStats = { ...mmu.stats, rejected: { ...mmu.stats.rejected } };
  rep.policyStats = { ...policy.stats, refusedByType: { ...policy.stats.refusedByType } };
  return rep;
}

function hex(n: number): string { return "0x" + (n >>> 0).toString(16); }
