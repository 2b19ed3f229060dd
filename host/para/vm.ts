// vm.ts — `para` mode: a paravirtualized guest (guests/kit/pv) on the same CPU, cooperating with the VMM through
// hypercalls (VMCALL), validated direct paging (mmu.ts), event channels in a shared page and virtio-mmio devices
// (the one platform builder's "pv" set, host/core/platform.ts), inside the one run loop (host/core/vm.ts).
// The design and the ABI are in README.md beside this file.
//
// Before each slice, deliverEvents() raises INTR with the vector of the lowest pending, unmasked, not-in-service
// event port if the guest's virtual IF (shared page upcall_mask) allows it; the CPU's real IF is pinned at 1 (the
// kernel runs at ring 1 with IOPL 0, where cli/sti fault and popf/iret cannot change IF), so the CPU takes it at the
// next instruction boundary, through the VMM's IDT copy of the guest's trap table, straight into the guest kernel.
// SCHEDOP_block is the run loop's idle: virtual time skips to the PV timer's deadline until an event is deliverable.
//
// Memory: the guest sees --mem bytes of RAM [0, guestTop); its initial page tables and the VMM region lie above.
import { Machine, type Exit, type MachineOptions } from "../machine.ts";
import * as A from "../abi.generated.ts";
import { deviceExit } from "../core/device-exits.ts";
import type { VmStats } from "../stats.ts";
import { loadMultiboot, type MultibootBoot, MULTIBOOT_BOOTLOADER_MAGIC, INITIAL_ESP } from "../multiboot.ts";
import { saveState, loadState, type Saved } from "../persist.ts";
import type { ExitAction, LoadOptions, Mode, ModeHost } from "../core/mode.ts";
import type { Platform, PlatformHooks } from "../core/platform.ts";
import { VmCore, type CoreOptions } from "../core/vm.ts";
import { EXIT_STATUS, NS_PER_INSTRUCTION, VmConfigError, type RunResult } from "../core/status.ts";
import { MachineMemory } from "../virtio/memory.ts";
import { zeroRam } from "../memory/zero.ts";
import { VIRTIO_MMIO_BASE, type VirtioMmio } from "../virtio/mmio.ts";
import type { VirtioBlk } from "../virtio/blk.ts";
import {
  E, EVENT_VECTOR_BASE, EVTCHNOP, GDT_ENTRIES, HC, HC_NAMES, HOLE_MMIO_VA, HOLE_PDX, HOLE_VA, MMUEXT, PAGE, PORT_TIMER,
  PV_ABI_VERSION, PV_SIGNATURE, SCHEDOP, SEL, SH, SHARED_MAGIC, SHARED_VA, TSS_INDEX, VIRTIO_PORT_BASE, VMM_GDT,
  VMM_HOLE_PT, VMM_IDT, VMM_PAGES, VMM_SHARED, VMM_SIZE, VMM_TSS,
} from "./abi.ts";
import { PvMmu, PTE_P, PTE_W } from "./mmu.ts";
import type { VirtioConsole } from "../virtio/console.ts";
import { MemoryPolicy } from "./policy.ts";
import { MAX_RAM_SIZE } from "../abi.generated.ts";

/** Virtio slots in the MMIO window: console first, then the disks (--disk, --disk2). */
export const SLOT_CONSOLE = 0;
export const SLOT_BLK = 1;
const MAX_BATCH = 4096;
const L1_SPAN = 4 << 20;

export interface ParaStats {
  hypercalls: Record<string, number>;
  hypercallErrors: number;
  eventsDelivered: number;
}

/** Machine layout for `memSize` bytes of guest RAM: guest | initial page tables (L2 + the L1s that identity-map
 * everything below the VMM region) | VMM region. */
export function paraLayout(memSize: number): { guestTop: number; ptBase: number; ptFrames: number; vmmBase: number; machineSize: number } {
  let ptFrames = 1 + Math.ceil(memSize / L1_SPAN), vmmBase = 0;
  for (;;) {
    vmmBase = memSize + ptFrames * PAGE;
    const need = 1 + Math.ceil(vmmBase / L1_SPAN);
    if (need <= ptFrames) break;
    ptFrames = need;
  }
  return { guestTop: memSize, ptBase: memSize, ptFrames, vmmBase, machineSize: vmmBase + VMM_SIZE };
}

export class ParaMode implements Mode {
  readonly name = "para";
  readonly machine: Machine;
  readonly emulatedInstructions = 0;
  readonly para: ParaStats = { hypercalls: {}, hypercallErrors: 0, eventsDelivered: 0 };
  readonly mmu: PvMmu;
  /** the guest-memory policy (frame types) every device access and hypercall consults */
  readonly policy: MemoryPolicy;
  readonly vmmBase: number;
  readonly guestTop: number;
  readonly ptBase: number;
  private readonly ptFrames: number;
  private platform!: Platform;
  private vmStats!: VmStats;
  private host!: ModeHost;
  /** loop state: the event vector raised on INTR and not yet taken (-1), SCHEDOP_block pending */
  private readonly ev = { raised: -1, blocked: false };

  constructor(memSize: number, private readonly log: (m: string) => void, machine?: Partial<MachineOptions>) {
    const l = paraLayout(memSize);
    if (l.machineSize > MAX_RAM_SIZE) throw new VmConfigError(`--mem ${memSize >> 20}M is too large for para mode (its VMM region and page tables need ${(l.machineSize - memSize) >> 20}M more)`);
    this.machine = new Machine({ ...machine, memSize: l.machineSize, hypervisorSignature: PV_SIGNATURE });
    this.vmmBase = l.vmmBase;
    this.ptFrames = l.ptFrames;
    this.ptBase = l.ptBase;
    this.guestTop = l.guestTop;
    const holePde = (this.vmmBase + VMM_HOLE_PT) | PTE_P | PTE_W;
    const vf = this.vmmBase / PAGE;
    this.policy = new MemoryPolicy(l.machineSize / PAGE, vf, [VMM_GDT, VMM_IDT, VMM_TSS].map((o) => vf + o / PAGE));
    this.mmu = new PvMmu(this.machine, vf, holePde, this.policy);
  }

  platformHooks(): Partial<PlatformHooks> {
    return {
      memSize: this.guestTop,
      pv: {
        dma: new MachineMemory(this.machine, this.vmmBase, this.policy), // DMA only into frames the policy lets devices write
        virtioIrq: (slot) => this.raiseEvent(VIRTIO_PORT_BASE + slot),
        timerIrq: () => this.raiseEvent(PORT_TIMER),
      },
    };
  }

  attach(platform: Platform, stats: VmStats, host: ModeHost): void { this.platform = platform; this.vmStats = stats; this.host = host; }

  beforeSlice(): number { this.deliverEvents(); return Infinity; }

  afterSlice(): void {
    if (this.ev.raised >= 0 && !this.machine.intrPending) { this.vmStats.countInterrupt(this.ev.raised); this.para.eventsDelivered++; this.ev.raised = -1; }
  }

  wakeup(): boolean { return this.deliverable() !== 0; }

  handle(exit: Exit): ExitAction {
    const m = this.machine, bus = this.platform.bus, st = this.vmStats;
    if (deviceExit(exit, m, bus, st)) return null;
    switch (exit.reason) {
      case "budget": return null;
      case "hypercall":
        this.hypercall();
        if (this.ev.blocked) { this.ev.blocked = false; return "idle"; }
        return null;
      case "hlt": return { exitStatus: EXIT_STATUS.HALTED, stopReason: "halted", message: `guest halted (hlt at eip ${hex(exit.eip)})`, exit };
      case "shutdown": return { exitStatus: EXIT_STATUS.TRIPLE_FAULT, stopReason: "shutdown", message: `triple fault (CPU shutdown) at eip ${hex(exit.eip)}`, exit };
      default:
        return { exitStatus: EXIT_STATUS.INTERNAL, stopReason: "internal-error", message: `unexpected ${exit.reason} exit at eip ${hex(exit.eip)}${"vector" in exit ? ` vector ${exit.vector}` : ""}`, exit };
    }
  }

  stats(): Record<string, unknown> {
    return { ...this.para, timerEvents: this.platform.pvTimer!.fired, mmu: this.mmu.stats, policy: this.policy.stats };
  }

  /** Hypercall counters, the event line, and the PV MMU's page types, pins and writable counts. */
  save(): Saved { return { para: saveState(this.para), ev: saveState(this.ev), mmu: saveState(this.mmu) }; }
  restore(s: Saved): void {
    const st = s as { para: Saved; ev: Saved; mmu: Saved };
    loadState(this.para, st.para);
    loadState(this.ev, st.ev);
    loadState(this.mmu, st.mmu);
  }

  // ---------------------------------------------------------------- boot (the "domain builder")

  load(image: Uint8Array, opts: LoadOptions): MultibootBoot {
    const m = this.machine;
    // the guest sees RAM up to guestTop: its page tables and the VMM region are not RAM it may allocate
    const boot = loadMultiboot(image, { ramSize: this.guestTop, writeMem: (a, d) => m.writeMem(a, d), fillMem: (a, n, v) => m.fillMem(a, n, v) }, opts);
    const vb = this.vmmBase;
    zeroRam(m, vb, VMM_SIZE); // (only what was written: a fresh or recycled machine's VMM region is zero already)
    // the hole's page table: VMM pages (read-only but the shared page), and the virtio-mmio window
    for (let i = 0; i < VMM_PAGES; i++) {
      m.write32(vb + VMM_HOLE_PT + 4 * i, (vb + i * PAGE) | PTE_P | (i * PAGE === VMM_SHARED ? PTE_W : 0));
    }
    const mmioIdx = (HOLE_MMIO_VA - HOLE_VA) / PAGE;
    m.write32(vb + VMM_HOLE_PT + 4 * mmioIdx, VIRTIO_MMIO_BASE | PTE_P | PTE_W);
    // GDT: null, ring-1 kernel code/data, ring-3 user code/data, the TSS (accessed bits preset: the pages are RO)
    const gdt = [[0, 0], [0xffff, 0x00cfbb00], [0xffff, 0x00cfb300], [0xffff, 0x00cffb00], [0xffff, 0x00cff300], this.tssDesc()];
    gdt.forEach(([lo, hi], i) => { m.write32(vb + VMM_GDT + 8 * i, lo); m.write32(vb + VMM_GDT + 8 * i + 4, hi); });
    m.write32(vb + VMM_TSS + 16, SEL.KDATA); // ss1
    m.write32(vb + VMM_TSS + 100, 104 << 16); // I/O map base past the limit: no port access from ring 1/3
    // initial page tables: identity map of [0, vmmBase), the tables themselves read-only; pinned; CR3
    const l2 = this.ptBase / PAGE;
    const l1s = Array.from({ length: this.ptFrames - 1 }, (_, i) => l2 + 1 + i);
    this.mmu.buildInitial(l2, l1s, this.vmmBase);
    // shared info + start info
    const sh = vb + VMM_SHARED;
    m.write32(sh + SH.UPCALL_MASK, 1);
    m.write32(sh + SH.EVTCHN_MASK, 0xffffffff);
    m.write32(sh + SH.MAGIC, SHARED_MAGIC);
    m.write32(sh + SH.VERSION, PV_ABI_VERSION);
    m.write32(sh + SH.GUEST_TOP, this.guestTop);
    m.write32(sh + SH.PT_BASE, this.ptBase);
    m.write32(sh + SH.PT_FRAMES, this.ptFrames);
    m.write32(sh + SH.IDENT_TOP, this.vmmBase);
    m.write32(sh + SH.MMIO_VA, HOLE_MMIO_VA);
    m.write32(sh + SH.VIRTIO_COUNT, this.platform.virtio!.length);
    m.write32(sh + SH.EVENT_VECTOR_BASE, EVENT_VECTOR_BASE);
    // CPU: ring 1, paging on with WP, the VMM's descriptor tables in the hole
    m.setGdtr(HOLE_VA + VMM_GDT, GDT_ENTRIES * 8 - 1);
    m.setIdtr(HOLE_VA + VMM_IDT, 256 * 8 - 1);
    this.setTr();
    m.setCr("cr3", this.ptBase);
    m.setCr("cr0", (m.getCr("cr0") | A.CR0_PE | A.CR0_ET | A.CR0_PG | A.CR0_WP) >>> 0);
    m.setSegment("cs", { selector: SEL.KCODE, base: 0, limit: 0xffffffff, attr: 0xc0bb });
    for (const s of ["ss", "ds", "es", "fs", "gs"] as const) m.setSegment(s, { selector: SEL.KDATA, base: 0, limit: 0xffffffff, attr: 0xc0b3 });
    m.setReg("eax", MULTIBOOT_BOOTLOADER_MAGIC);
    m.setReg("ebx", boot.infoAddr);
    m.setReg("esp", INITIAL_ESP);
    m.setReg("eflags", A.FLAG_IF | 2); // real IF stays 1 for good; the guest's IF is the shared upcall_mask
    m.setReg("eip", boot.entry);
    return boot;
  }

  private tssDesc(): [number, number] {
    const base = HOLE_VA + VMM_TSS;
    return [((base & 0xffff) << 16) | 0x67, ((base >>> 24) << 24) | 0x8b00 | ((base >>> 16) & 0xff)];
  }

  private setTr(): void {
    this.machine.setTr({ selector: SEL.TSS, base: HOLE_VA + VMM_TSS, limit: 0x67, attr: 0x8b });
  }

  // ---------------------------------------------------------------- shared page
  private shRead(off: number): number { return this.machine.read32(this.vmmBase + VMM_SHARED + off); }
  private shWrite(off: number, v: number): void { this.machine.write32(this.vmmBase + VMM_SHARED + off, v); }

  private raiseEvent(port: number): void {
    this.shWrite(SH.EVTCHN_PENDING, this.shRead(SH.EVTCHN_PENDING) | (1 << port));
  }

  private deliverable(): number {
    return this.shRead(SH.EVTCHN_PENDING) & ~this.shRead(SH.EVTCHN_MASK) & ~this.shRead(SH.EVTCHN_IN_SERVICE);
  }

  private deliverEvents(): void {
    if (this.ev.raised >= 0) return;
    const ev = this.deliverable();
    if (!ev) { this.shWrite(SH.UPCALL_PENDING, 0); return; }
    if (this.shRead(SH.UPCALL_MASK) & 1) { this.shWrite(SH.UPCALL_PENDING, 1); return; }
    const port = 31 - Math.clz32(ev & -ev);
    this.shWrite(SH.EVTCHN_PENDING, this.shRead(SH.EVTCHN_PENDING) & ~(1 << port));
    this.shWrite(SH.EVTCHN_IN_SERVICE, this.shRead(SH.EVTCHN_IN_SERVICE) | (1 << port));
    this.shWrite(SH.UPCALL_PENDING, 0);
    this.ev.raised = EVENT_VECTOR_BASE + port;
    this.machine.setIntr(true, this.ev.raised);
  }

  // ---------------------------------------------------------------- hypercalls
  /** guest-physical [pa, pa+len) inside the guest's own RAM (never the VMM region)? */
  private guestRange(pa: number, len: number): boolean {
    return this.policy.hypercallReadable(pa, len);
  }

  private hypercall(): void {
    const m = this.machine;
    const nr = m.eax, b = m.ebx, c = m.ecx;
    const name = HC_NAMES[nr] ?? `unknown-${nr}`;
    this.para.hypercalls[name] = (this.para.hypercalls[name] ?? 0) + 1;
    let r: number;
    if (m.cpl === 3) r = E.PERM; // hypercalls are for the guest kernel only
    else r = this.call(nr, b, c);
    if (r < 0 && nr !== HC.READ_CR2 && this.para.hypercallErrors++ < 8) this.log(`para: hypercall ${name}(${hex(b)}, ${hex(c)}) from eip ${hex(m.eip)} failed: ${r}${this.mmu.lastError ? ` (${this.mmu.lastError})` : ""}`);
    m.eax = r >>> 0;
  }

  /** One hypercall from the guest kernel (public for the policy fuzz, test/fuzz/para-policy.ts). */
  call(nr: number, b: number, c: number): number {
    const m = this.machine;
    switch (nr) {
      case HC.VERSION: return PV_ABI_VERSION;
      case HC.CONSOLE_WRITE: {
        if (c > 65536 || !this.guestRange(b, c)) return E.FAULT;
        for (const x of m.readMem(b, c)) this.host.consoleByte(x);
        return c;
      }
      case HC.SET_TRAP_TABLE: return this.setTrapTable(b, c);
      case HC.SET_GDT: return this.setGdt(b, c);
      case HC.STACK_SWITCH: {
        const idx = b >>> 3;
        if (idx !== SEL.KDATA >>> 3 || c >= HOLE_VA) return E.INVAL;
        m.write32(this.vmmBase + VMM_TSS + 12, c); // esp1
        m.write32(this.vmmBase + VMM_TSS + 16, (b & ~3) | 1); // ss1
        return 0;
      }
      case HC.MMU_UPDATE: {
        if (c > MAX_BATCH || !this.guestRange(b, 8 * c)) return E.FAULT;
        const bytes = m.readMem(b, 8 * c);
        const r = this.mmu.mmuUpdate(new Uint32Array(bytes.buffer, bytes.byteOffset, 2 * c), c);
        if (r === 0) this.flushTlb();
        return r;
      }
      case HC.MMUEXT_OP: {
        if (c > MAX_BATCH || !this.guestRange(b, 8 * c)) return E.FAULT;
        for (let i = 0; i < c; i++) {
          const r = this.mmuext(m.read32(b + 8 * i), m.read32(b + 8 * i + 4));
          if (r < 0) return r;
        }
        return 0;
      }
      case HC.SET_TIMER: {
        // b = period in ns (0: stop). The first event comes one period from now.
        if (b === 0) { this.platform.pvTimer!.set(0); return 0; }
        if (b < 10_000) return E.INVAL; // at most 100 kHz
        this.platform.pvTimer!.set(Math.round(b / NS_PER_INSTRUCTION));
        return 0;
      }
      case HC.SCHED_OP:
        if (b === SCHEDOP.YIELD) return 0;
        if (b === SCHEDOP.BLOCK) return this.block();
        return E.INVAL;
      case HC.EVTCHN_OP: {
        if (c >= 32) return E.INVAL;
        const bit = 1 << c;
        if (b === EVTCHNOP.UNMASK) this.shWrite(SH.EVTCHN_MASK, this.shRead(SH.EVTCHN_MASK) & ~bit);
        else if (b === EVTCHNOP.MASK) this.shWrite(SH.EVTCHN_MASK, this.shRead(SH.EVTCHN_MASK) | bit);
        else if (b === EVTCHNOP.EOI) this.shWrite(SH.EVTCHN_IN_SERVICE, this.shRead(SH.EVTCHN_IN_SERVICE) & ~bit);
        else return E.INVAL;
        return 0;
      }
      case HC.SHUTDOWN:
        this.host.debugExit(((b << 1) | 1) >>> 0, `guest shut down with code ${b}`);
        return 0;
      case HC.READ_CR2: return m.getCr("cr2") | 0;
      case HC.VIRTIO_NOTIFY: {
        const dev = this.platform.virtio![b];
        if (!dev) return E.NOENT;
        dev.notify(c);
        return 0;
      }
      case HC.EVENT_POLL: return 0; // the exit itself lets deliverEvents() run
      default: return E.NOSYS;
    }
  }

  private mmuext(cmd: number, arg: number): number {
    const f = Math.floor((arg >>> 0) / PAGE);
    switch (cmd) {
      case MMUEXT.PIN_L1: return this.mmu.pin(f, 1);
      case MMUEXT.PIN_L2: return this.mmu.pin(f, 2);
      case MMUEXT.UNPIN: return this.mmu.unpin(f);
      case MMUEXT.NEW_BASEPTR: {
        const r = this.mmu.newBaseptr(f);
        if (r === 0) this.machine.setCr("cr3", f * PAGE); // flushes the TLB
        return r;
      }
      case MMUEXT.INVLPG: // the CPU offers no single-entry invalidation to the host: a full flush
      case MMUEXT.TLB_FLUSH: this.flushTlb(); return 0;
      default: return E.INVAL;
    }
  }

  private flushTlb(): void { this.mmu.stats.flushes++; this.machine.flushTlb(); }

  /** HC_SET_TRAP_TABLE: the guest's IDT (pa, entries) is validated and copied into the VMM's IDT. */
  private setTrapTable(pa: number, n: number): number {
    const m = this.machine;
    if (n > 256 || !this.guestRange(pa, 8 * n)) return E.FAULT;
    const out: [number, number][] = [];
    for (let v = 0; v < n; v++) {
      const lo = m.read32(pa + 8 * v), hi = m.read32(pa + 8 * v + 4);
      if (!(hi & 0x8000)) { out.push([0, 0]); continue; }
      const type = (hi >>> 8) & 0x1f, dpl = (hi >>> 13) & 3, sel = lo >>> 16;
      const off = ((hi & 0xffff0000) | (lo & 0xffff)) >>> 0;
      if (type !== 0x0e && type !== 0x0f) return E.INVAL; // 32-bit interrupt / trap gates only
      if ((sel & ~3) !== (SEL.KCODE & ~3) || off >= HOLE_VA) return E.PERM; // into the guest kernel, never the hole
      // every gate becomes a trap gate (the real IF stays 1; see README); DPL 0 is compressed to 1
      const gdpl = dpl === 0 ? 1 : dpl;
      out.push([(SEL.KCODE & ~3) << 16 | (off & 0xffff), (off & 0xffff0000) | 0x8000 | (gdpl << 13) | (0x0f << 8)]);
    }
    out.forEach(([lo, hi], v) => { m.write32(this.vmmBase + VMM_IDT + 8 * v, lo); m.write32(this.vmmBase + VMM_IDT + 8 * v + 4, hi); });
    return 0;
  }

  /** HC_SET_GDT: code/data descriptors only, DPL 0 compressed to 1, accessed preset; entry 5 is the VMM's TSS. */
  private setGdt(pa: number, n: number): number {
    const m = this.machine;
    if (n > GDT_ENTRIES || !this.guestRange(pa, 8 * n)) return E.FAULT;
    const out: [number, number][] = [];
    for (let i = 0; i < GDT_ENTRIES; i++) {
      if (i === TSS_INDEX) { out.push(this.tssDesc()); continue; }
      if (i >= n || i === 0) { out.push([0, 0]); continue; }
      const lo = m.read32(pa + 8 * i);
      let hi = m.read32(pa + 8 * i + 4);
      if (!(hi & 0x8000)) { out.push([0, 0]); continue; }
      if (!(hi & 0x1000)) return E.PERM; // system descriptors (TSS, LDT, gates): no — the only one is the VMM's TSS, at TSS_INDEX
      if (((hi >>> 13) & 3) === 0) hi |= 1 << 13; // ring compression
      hi |= 0x100; // accessed
      out.push([lo, hi >>> 0]);
    }
    out.forEach(([lo, hi], i) => { m.write32(this.vmmBase + VMM_GDT + 8 * i, lo); m.write32(this.vmmBase + VMM_GDT + 8 * i + 4, hi); });
    return 0;
  }

  /** SCHEDOP_BLOCK: enable events and wait; the run loop idles (skipping virtual time) until one is deliverable. */
  private block(): number {
    this.shWrite(SH.UPCALL_MASK, 0);
    this.ev.blocked = true;
    return 0;
  }
}

function hex(n: number): string { return "0x" + (n >>> 0).toString(16); }
// HOLE_PDX is part of the ABI surface re-exported for tests
export { HOLE_PDX };

export interface ParaVmOptions extends CoreOptions {}

/** A para-mode VM: the one run loop around a ParaMode (what `new Vm({ mode: "para" })` builds). */
export class ParaVm extends VmCore<ParaMode> {
  constructor(opts: ParaVmOptions = {}) {
    const memSize = opts.memSize ?? 64 << 20;
    super(new ParaMode(memSize, opts.log ?? (() => {})), opts, { mode: "para", options: { memSize } });
  }
  get vmmBase(): number { return this.mode.vmmBase; }
  get guestTop(): number { return this.mode.guestTop; }
  get ptBase(): number { return this.mode.ptBase; }
  get mmu(): PvMmu { return this.mode.mmu; }
  get policy(): MemoryPolicy { return this.mode.policy; }
  get virtioConsole(): VirtioConsole { return this.platform.virtioConsole!; }
  get virtio(): VirtioMmio[] { return this.platform.virtio!; }
  get blk(): VirtioBlk | null { return this.platform.virtioBlk?.[0] ?? null; }
  call(nr: number, b: number, c: number): number { return this.mode.call(nr, b, c); }
}
