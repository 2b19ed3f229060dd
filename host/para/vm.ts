// vm.ts — `para` mode: a paravirtualized guest (guests/kit/pv) on the same CPU, cooperating with the VMM through
// hypercalls (VMCALL), validated direct paging (mmu.ts), event channels in a shared page and virtio-mmio devices.
// The design and the ABI are in README.md beside this file.
//
// Run loop (compare host/vm.ts): before each slice, deliverEvents() raises INTR with the vector of the lowest
// pending, unmasked, not-in-service event port if the guest's virtual IF (shared page upcall_mask) allows it; the
// CPU's real IF is pinned at 1 (the kernel runs at ring 1 with IOPL 0, where cli/sti fault and popf/iret cannot
// change IF), so the CPU takes it at the next instruction boundary, through the VMM's IDT copy of the guest's trap
// table, straight into the guest kernel. Slices are cut at the virtual timer's deadline, so time is deterministic.
import { Machine, type Exit } from "../machine.ts";
import * as A from "../abi.generated.ts";
import { Bus, type AccessSize } from "../bus.ts";
import { VmStats } from "../stats.ts";
import { loadMultiboot, type MultibootBoot, MULTIBOOT_BOOTLOADER_MAGIC, INITIAL_ESP } from "../multiboot.ts";
import { EXIT_STATUS, NS_PER_INSTRUCTION, MAX_IDLE_NS, type RunOptions, type RunResult } from "../vm.ts";
import { DebugExit, DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE } from "../devices/debugexit.ts";
import { DebugCon, DEBUGCON_PORT } from "../devices/debugcon.ts";
import type { BlockBackend, LogFn } from "../devices/index.ts";
import { MachineMemory } from "../virtio/memory.ts";
import { VirtioMmio, VIRTIO_MMIO_BASE, VIRTIO_MMIO_SIZE } from "../virtio/mmio.ts";
import { VirtioBlk } from "../virtio/blk.ts";
import { VirtioConsole } from "../virtio/console.ts";
import {
  E, EVENT_VECTOR_BASE, EVTCHNOP, GDT_ENTRIES, HC, HC_NAMES, HOLE_MMIO_VA, HOLE_PDX, HOLE_VA, MMUEXT, PAGE, PORT_TIMER,
  PV_ABI_VERSION, PV_SIGNATURE, SCHEDOP, SEL, SH, SHARED_MAGIC, SHARED_VA, TSS_INDEX, VIRTIO_PORT_BASE, VMM_GDT,
  VMM_HOLE_PT, VMM_IDT, VMM_PAGES, VMM_SHARED, VMM_SIZE, VMM_TSS,
} from "./abi.ts";
import { PvMmu, PTE_P, PTE_W } from "./mmu.ts";
import { MemoryPolicy } from "./policy.ts";

export interface ParaVmOptions {
  memSize?: number;
  disk?: BlockBackend;
  stdin?: Uint8Array | string;
  onConsole?: (text: string) => void;
  captureConsole?: boolean;
  log?: LogFn;
}

/** Virtio slots in the MMIO window: console first, then the disk (if any). */
export const SLOT_CONSOLE = 0;
export const SLOT_BLK = 1;
const MAX_BATCH = 4096;

export interface ParaStats {
  hypercalls: Record<string, number>;
  hypercallErrors: number;
  eventsDelivered: number;
  timerEvents: number;
}

export class ParaVm {
  readonly machine: Machine;
  readonly bus: Bus;
  readonly stats = new VmStats();
  readonly para: ParaStats = { hypercalls: {}, hypercallErrors: 0, eventsDelivered: 0, timerEvents: 0 };
  readonly mmu: PvMmu;
  /** the guest-memory policy (frame types) every device access and hypercall consults */
  readonly policy: MemoryPolicy;
  readonly virtio: VirtioMmio[] = [];
  readonly console: VirtioConsole;
  readonly blk: VirtioBlk | null;
  consoleText = "";

  readonly vmmBase: number;
  readonly guestTop: number;
  readonly ptBase: number;
  private readonly ptFrames: number;
  private readonly dv: DataView;
  private readonly onConsole?: (text: string) => void;
  private readonly capture: boolean;
  private readonly log: LogFn;
  private readonly decoder = new TextDecoder();
  private pending: number[] = [];
  private stop: RunResult | null = null;
  private raised = -1;
  private haltedInsns = 0;
  /** virtual timer: period and next deadline in instruction-equivalents of the virtual clock */
  private timerPeriod = 0;
  private timerNext = Infinity;

  constructor(opts: ParaVmOptions = {}) {
    const mem = opts.memSize ?? 64 << 20;
    this.machine = new Machine({ memSize: mem, hypervisorSignature: PV_SIGNATURE });
    this.dv = new DataView(this.machine.memory.buffer);
    this.onConsole = opts.onConsole;
    this.capture = opts.captureConsole ?? true;
    this.log = opts.log ?? (() => {});
    // ---- layout: [0, guestTop) guest | initial page tables | VMM region ----
    this.vmmBase = mem - VMM_SIZE;
    const nL1 = Math.ceil(this.vmmBase / (4 << 20));
    this.ptFrames = 1 + nL1;
    this.ptBase = this.vmmBase - this.ptFrames * PAGE;
    this.guestTop = this.ptBase;
    const holePde = (this.vmmBase + VMM_HOLE_PT) | PTE_P | PTE_W;
    const vf = this.vmmBase / PAGE;
    this.policy = new MemoryPolicy(mem / PAGE, vf, [VMM_GDT, VMM_IDT, VMM_TSS].map((o) => vf + o / PAGE));
    this.mmu = new PvMmu(this.machine, vf, holePde, this.policy);
    // ---- devices: DMA only into the guest's frames the policy lets devices write ----
    this.bus = new Bus({ log: this.log });
    const dma = new MachineMemory(this.machine, this.vmmBase, this.policy);
    this.console = new VirtioConsole((bytes) => { for (const b of bytes) this.consoleByte(b); });
    this.addVirtio(this.console, dma, "virtio-console");
    this.blk = opts.disk ? new VirtioBlk(opts.disk) : null;
    if (this.blk) this.addVirtio(this.blk, dma, "virtio-blk");
    this.bus.addPorts(DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, new DebugExit((st) => this.finish(st, `guest wrote ${hex(st >>> 1)} to isa-debug-exit`)), "debug-exit");
    this.bus.addPorts(DEBUGCON_PORT, 1, new DebugCon((b) => this.consoleByte(b)), "debugcon");
    if (opts.stdin !== undefined) this.console.receive(typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin);
    this.stats.devices = () => this.deviceStats();
  }

  private addVirtio(model: VirtioBlk | VirtioConsole, dma: MachineMemory, name: string): void {
    const slot = this.virtio.length;
    const port = VIRTIO_PORT_BASE + slot;
    let level = false;
    const dev = new VirtioMmio(model, dma, { name, log: this.log, irq: (l) => { if (l && !level) this.raiseEvent(port); level = l; } });
    this.virtio.push(dev);
    this.bus.addMmio(VIRTIO_MMIO_BASE + slot * VIRTIO_MMIO_SIZE, VIRTIO_MMIO_SIZE, dev, name);
  }

  // ---------------------------------------------------------------- boot (the "domain builder")

  loadMultiboot(image: Uint8Array, opts: { cmdline?: string } = {}): MultibootBoot {
    const m = this.machine;
    // the guest sees RAM up to guestTop: its page tables and the VMM region are not RAM it may allocate
    const boot = loadMultiboot(image, { ramSize: this.guestTop, writeMem: (a, d) => m.writeMem(a, d), fillMem: (a, n, v) => m.fillMem(a, n, v) }, opts);
    const vb = this.vmmBase;
    m.fillMem(vb, VMM_SIZE, 0);
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
    m.write32(sh + SH.VIRTIO_COUNT, this.virtio.length);
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
    if (this.raised >= 0) return;
    const ev = this.deliverable();
    if (!ev) { this.shWrite(SH.UPCALL_PENDING, 0); return; }
    if (this.shRead(SH.UPCALL_MASK) & 1) { this.shWrite(SH.UPCALL_PENDING, 1); return; }
    const port = 31 - Math.clz32(ev & -ev);
    this.shWrite(SH.EVTCHN_PENDING, this.shRead(SH.EVTCHN_PENDING) & ~(1 << port));
    this.shWrite(SH.EVTCHN_IN_SERVICE, this.shRead(SH.EVTCHN_IN_SERVICE) | (1 << port));
    this.shWrite(SH.UPCALL_PENDING, 0);
    this.raised = EVENT_VECTOR_BASE + port;
    this.machine.setIntr(true, this.raised);
  }

  // ---------------------------------------------------------------- time
  get clock(): number { return this.machine.instructions + this.haltedInsns; }
  private untilNext(): number { return this.timerNext === Infinity ? Infinity : Math.max(0, this.timerNext - this.clock); }
  private fireTimers(): void {
    const now = this.clock;
    if (now < this.timerNext) return;
    this.raiseEvent(PORT_TIMER);
    this.para.timerEvents++;
    const missed = Math.floor((now - this.timerNext) / this.timerPeriod);
    this.timerNext += (missed + 1) * this.timerPeriod;
  }

  // ---------------------------------------------------------------- the run loop
  run(opts: RunOptions = {}): RunResult {
    const m = this.machine;
    const limit = opts.maxInstructions ?? Infinity;
    const t0 = performance.now(), i0 = m.instructions;
    let result: RunResult | null = null;
    try {
      while (!result) {
        const left = limit - (m.instructions - i0);
        if (left <= 0) {
          result = { exitStatus: EXIT_STATUS.MAX_INSTRUCTIONS, stopReason: "max-instructions", message: `stopped after ${limit} instructions (--max-instructions)` };
          break;
        }
        this.deliverEvents();
        const exit = m.run(Math.min(left, Math.max(1, this.untilNext())));
        if (this.raised >= 0 && !m.intrPending) { this.stats.countInterrupt(this.raised); this.para.eventsDelivered++; this.raised = -1; }
        this.fireTimers();
        this.stats.countExit(exit.reason);
        result = this.dispatch(exit) ?? this.stop;
      }
    } catch (e) {
      if (!(e instanceof Error) || !/CPU abort/.test(e.message)) throw e;
      result = { exitStatus: EXIT_STATUS.INTERNAL, stopReason: "internal-error", message: e.message.replace(/^wasmvisor: /, "") };
    } finally {
      this.flushConsole();
      this.stats.instructions += m.instructions - i0;
      this.stats.wallMs += performance.now() - t0;
      this.stats.virtualNs = Math.round(this.clock * NS_PER_INSTRUCTION);
      this.stats.haltedNs = Math.round(this.haltedInsns * NS_PER_INSTRUCTION);
    }
    this.stats.stopReason = result.stopReason;
    return result;
  }

  private finish(status: number, message: string): void {
    if (!this.stop) this.stop = { exitStatus: status & 0xff, stopReason: "debug-exit", message: `${message} (status ${status & 0xff})` };
  }

  private dispatch(exit: Exit): RunResult | null {
    const m = this.machine;
    switch (exit.reason) {
      case "budget": return null;
      case "hypercall": this.hypercall(); return null;
      case "mmio-write": this.stats.countMmio(exit.port!, true); this.bus.mmioWrite(exit.port!, exit.size as AccessSize, exit.value!); return null;
      case "mmio-read": this.stats.countMmio(exit.port!, false); m.completeIo(this.bus.mmioRead(exit.port!, exit.size as AccessSize)); return null;
      case "io-out": this.stats.countPort(exit.port!, true); this.bus.ioWrite(exit.port!, exit.size as AccessSize, exit.value!); return null;
      case "io-in": this.stats.countPort(exit.port!, false); m.completeIo(this.bus.ioRead(exit.port!, exit.size as AccessSize)); return null;
      case "hlt": return { exitStatus: EXIT_STATUS.HALTED, stopReason: "halted", message: `guest halted (hlt at eip ${hex(exit.eip)})`, exit };
      case "shutdown": return { exitStatus: EXIT_STATUS.TRIPLE_FAULT, stopReason: "shutdown", message: `triple fault (CPU shutdown) at eip ${hex(exit.eip)}`, exit };
      case "debug": return { exitStatus: 0, stopReason: "debug", message: "stopped for the debugger", exit }; // host/gdb/
      default:
        return { exitStatus: EXIT_STATUS.INTERNAL, stopReason: "internal-error", message: `unexpected ${exit.reason} exit at eip ${hex(exit.eip)}${exit.vector !== undefined ? ` vector ${exit.vector}` : ""}`, exit };
    }
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
        for (const x of m.readMem(b, c)) this.consoleByte(x);
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
        if (b === 0) { this.timerPeriod = 0; this.timerNext = Infinity; return 0; }
        if (b < 10_000) return E.INVAL; // at most 100 kHz
        this.timerPeriod = Math.round(b / NS_PER_INSTRUCTION);
        this.timerNext = this.clock + this.timerPeriod;
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
        this.finish(((b << 1) | 1) >>> 0, `guest shut down with code ${b}`);
        return 0;
      case HC.READ_CR2: return m.getCr("cr2") | 0;
      case HC.VIRTIO_NOTIFY: {
        const dev = this.virtio[b];
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

  /** SCHEDOP_BLOCK: enable events and wait (skipping virtual time) until one is deliverable. */
  private block(): number {
    this.flushConsole();
    this.shWrite(SH.UPCALL_MASK, 0);
    let idle = 0;
    while (!this.deliverable()) {
      const next = this.untilNext();
      if (next === Infinity || (idle + next) * NS_PER_INSTRUCTION > MAX_IDLE_NS) {
        this.stop ??= { exitStatus: EXIT_STATUS.HALTED, stopReason: "halted", message: "guest blocked waiting for an event that cannot come" };
        return 0;
      }
      const step = Math.max(1, next);
      idle += step;
      this.haltedInsns += step;
      this.fireTimers();
    }
    return 0;
  }

  // ---------------------------------------------------------------- console, stats
  private consoleByte(b: number): void {
    this.pending.push(b & 0xff);
    if (b === 0x0a || this.pending.length >= 4096) this.flushConsole();
  }
  private flushConsole(): void {
    if (!this.pending.length) return;
    const text = this.decoder.decode(Uint8Array.from(this.pending), { stream: true });
    this.pending = [];
    if (this.capture) this.consoleText += text;
    this.onConsole?.(text);
  }

  deviceStats(): Record<string, unknown> {
    return {
      para: { ...this.para, mmu: this.mmu.stats, policy: this.policy.stats },
      virtio: Object.fromEntries(this.virtio.map((d, i) => [i === SLOT_CONSOLE ? "console" : "blk", {
        ...d.stats, queues: d.queues.map((q) => q.stats), errors: Object.fromEntries(d.errors.counts),
        device: (d.device as VirtioBlk | VirtioConsole).stats,
      }])),
    };
  }
}

function hex(n: number): string { return "0x" + (n >>> 0).toString(16); }
// HOLE_PDX is part of the ABI surface re-exported for tests
export { HOLE_PDX };

// ---------------------------------------------------------------- runImage for `--mode para`
import type { RunImageOptions, RunImageResult } from "../vm.ts";
import { MemoryBackend } from "../devices/block.ts";

/** runImage() for para mode: the image must be a PV kernel (build/guests/workloads-pv/*.elf). */
export async function runImagePara(opts: RunImageOptions): Promise<RunImageResult> {
  const disk = opts.disk instanceof Uint8Array ? new MemoryBackend(opts.disk) : opts.disk;
  const vm = new ParaVm({ memSize: opts.memSize, disk, stdin: opts.stdin, onConsole: opts.onConsole, log: opts.log });
  vm.loadMultiboot(opts.image, { cmdline: opts.cmdline });
  const r = vm.run({ maxInstructions: opts.maxInstructions });
  return { console: vm.consoleText, exitStatus: r.exitStatus, stopReason: r.stopReason, message: r.message, stats: vm.stats.toJSON() };
}
