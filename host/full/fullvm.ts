// fullvm.ts — `full` mode: an unmodified kernel run deprivileged at ring 3 by the Monitor (monitor.ts), inside the
// one run loop (host/core/vm.ts) with the same devices (platform "mp" or "pc", as native), console, clock and exit
// statuses as every mode. The Machine has VMM_SIZE bytes more than the guest's RAM: machine-physical [0, VMM_SIZE) is the VMM's,
// guest-physical X is machine-physical X + VMM_SIZE.
//
// Interrupts: the CPU's INTR line is never raised. Before every slice, if the virtual IF allows (and no STI shadow
// is pending), the controller's highest request (the local APIC's on "mp", the 8259's on "pc") is acknowledged and delivered through the guest IDT by the
// monitor. A guest STI with a request pending runs exactly one more instruction first (the STI interrupt shadow).
// The instructions the monitor emulates count in the virtual clock.
import { Machine, type Exit, type MachineOptions } from "../machine.ts";
import type { AccessSize } from "../bus.ts";
import type { VmStats } from "../stats.ts";
import { loadMultiboot, enterMultiboot, type MultibootBoot } from "../multiboot.ts";
import { loadBzImage, enterBzImage, type BzImageBoot, type BzImageOptions } from "../loaders/bzimage.ts";
import { guestRamAt, type GuestMemory } from "../elf.ts";
import { parseElf, elfVirtToPhys } from "../elf.ts";
import { saveState, loadState, type Saved } from "../persist.ts";
import type { ExitAction, LoadOptions, Mode, ModeHost } from "../core/mode.ts";
import type { Platform } from "../core/platform.ts";
import { shareApic } from "../core/apic-share.ts";
import { VmCore, type CoreOptions } from "../core/vm.ts";
import { EXIT_STATUS, VmConfigError, type RunResult } from "../core/status.ts";
import { Monitor, VMM_SIZE, type HandleResult } from "./monitor.ts";
import type { TranslateMode } from "./vcpu.ts";
import { elfCodeRegions } from "./patcher.ts";
import { VMM_LINEAR } from "./shadow.ts";

/** the kernel parameter that keeps a Linux guest's fixmap out of the monitor's linear region (loadLinux) */
export const RESERVETOP = `reservetop=${(2 ** 32 - VMM_LINEAR) >> 10}K`;

export interface FullModeOptions {
  /** handle the sensitive-but-unprivileged instructions (the x86 hole); default true */
  closeHole?: boolean;
  /** "runtime" (default): the CPU hands each sensitive instruction over as it runs; "static": the INT3 sweep */
  translate?: TranslateMode;
  /** address spaces × modes whose shadows are cached; default 16 */
  maxShadows?: number;
  /** handle the hot traps inside the CPU (default true): README.md "Fast paths" */
  fastPaths?: boolean;
  /** CPU options (the intercepts are full mode's own) */
  machine?: Partial<MachineOptions>;
}

export class FullMode implements Mode {
  readonly name = "full";
  readonly machine: Machine;
  readonly monitor: Monitor;
  readonly guestRam: number;
  private platform!: Platform;
  private vmStats!: VmStats;

  constructor(memSize: number, o: FullModeOptions, log: (m: string) => void) {
    this.guestRam = memSize;
    this.machine = new Machine({ ...o.machine, memSize: memSize + VMM_SIZE, exceptionBitmap: 0xffffffff, exitOnSoftInt: true, exitOnHlt: true });
    this.monitor = new Monitor(this.machine, {
      guestRam: memSize, closeHole: o.closeHole, translate: o.translate, maxShadows: o.maxShadows, fastPaths: o.fastPaths, log,
      io: {
        ioRead: (port, size) => { this.vmStats.countPort(port, false); return this.platform.bus.ioRead(port, size as AccessSize); },
        ioWrite: (port, size, v) => { this.vmStats.countPort(port, true); this.platform.bus.ioWrite(port, size as AccessSize, v); },
        mmioRead: (gpa, size) => { this.vmStats.countMmio(gpa, false); return this.platform.bus.mmioRead(gpa, size as AccessSize); },
        mmioWrite: (gpa, size, v) => { this.vmStats.countMmio(gpa, true); this.platform.bus.mmioWrite(gpa, size as AccessSize, v); },
      },
    });
  }

  attach(platform: Platform, stats: VmStats, host: ModeHost): void {
    this.platform = platform;
    this.vmStats = stats;
    this.monitor.clock = host.clock; // the guest's TSC, as the run loop gives it to the CPU
    // the local APIC's hot registers answered inside the CPU, as in native mode (assembly/apic.ts), at the machine
    // address the shadow tables map the APIC page to (shadow.ts mmioMachineAddr)
    // (the view of the STATE block without backing guest RAM, remade when the memory grows: core/apic-share.ts)
    shareApic(platform, this.machine, VMM_SIZE);
  }

  get emulatedInstructions(): number { return this.monitor.emulatedCount; }

  /** Guest-physical memory as the loaders write it: guest RAM sits at machine-physical VMM_SIZE + gpa. */
  private guestMemory(): GuestMemory { return guestRamAt(this.machine, VMM_SIZE, this.guestRam); }

  /** Loads a Linux bzImage (+ initrd, boot_params) into guest RAM, enters the boot protocol's 32-bit entry state
   * (ring 0, flat segments) and lets the monitor deprivilege it: the kernel starts at virtual CPL 0. Run-time
   * translation only (a compressed kernel has no code to sweep before it runs).
   *
   * The monitor owns the top of every address space (VMM_LINEAR up), where an i386 kernel puts its fixmap (the
   * local and I/O APIC mappings, early ioremap): the command line gains `reservetop=`, the kernel's own parameter
   * for "a hypervisor lives up there" (arch/x86/mm/pgtable_32.c), which moves the fixmap below it, as hypervisors
   * loaded under a running i386 kernel did. The kernel itself is unmodified. */
  loadLinux(image: Uint8Array, opts: BzImageOptions): BzImageBoot {
    if (this.monitor.translation !== "runtime") throw new VmConfigError("a Linux bzImage boots in full mode with run-time translation only (its code is compressed: there is nothing to sweep before it runs)");
    const cmdline = /(^|\s)reservetop=/.test(opts.cmdline ?? "") ? opts.cmdline : `${opts.cmdline ?? ""} ${RESERVETOP}`.trim();
    const boot = loadBzImage(image, this.guestMemory(), { ...opts, cmdline, mpTables: this.platform.mpTables });
    enterBzImage(this.machine, boot);
    this.monitor.start();
    return boot;
  }

  /** Loads a multiboot kernel into guest RAM, (static translation only) sweeps its code, deprivileges the entry state. */
  load(image: Uint8Array, opts: LoadOptions): MultibootBoot {
    const m = this.machine;
    const boot = loadMultiboot(image, this.guestMemory(), { ...opts, mpTables: this.platform.mpTables });
    enterMultiboot(m, boot);
    if (boot.method === "elf" && this.monitor.translation === "static") {
      const elf = parseElf(image);
      for (const r of elfCodeRegions(image, elf.entry, (va) => elfVirtToPhys(elf, va))) {
        if (r.end <= this.guestRam) this.monitor.patcher.addRegion(r.start, r.end, r.entries);
      }
    }
    this.monitor.start();
    return boot;
  }

  beforeSlice(): number | RunResult {
    const mo = this.monitor, pic = this.platform.pic;
    mo.adoptFastSwitches();
    if (mo.stiShadow) {
      mo.stiShadow = false;
      const p = pic.peek() >= 0;
      mo.interruptPending = p;
      mo.publishFast();
      return p ? 1 : Infinity;
    }
    let pending = pic.peek() >= 0;
    if (pending && mo.interruptible) {
      const v = pic.acknowledge();
      this.vmStats.countInterrupt(v);
      const r = mo.injectExternal(v);
      if (r && !("hlt" in r)) return stop(r);
      pending = pic.peek() >= 0;
    }
    // the CPU's fast sti/popf/iret exit instead of opening the interrupt window past a waiting interrupt
    mo.interruptPending = pending;
    mo.publishFast();
    return Infinity;
  }

  afterSlice(): void {}

  handle(exit: Exit): ExitAction {
    this.monitor.adoptFastSwitches();
    // A guest access to a page mapped outside guest RAM (shadow.ts mmioMachineAddr): the CPU reports the
    // machine-physical address; the devices see the guest-physical one, as in native mode.
    if (this.monitor.mmioExit(exit)) { this.monitor.countExit("mmio"); return null; }
    const r: HandleResult = this.monitor.handle(exit);
    if (!r) return null;
    if ("hlt" in r) return "idle";
    return stop(r, exit);
  }

  wakeup(): boolean { return this.platform.pic.peek() >= 0; }

  /** exits by cause, emulated instructions, reflections, shadow paging, translator */
  stats(): Record<string, unknown> {
    const mo = this.monitor;
    return {
      exitsByCause: { ...mo.stats.exits },
      inCpu: mo.inCpuCounts(),
      emulated: { ...mo.stats.emulated },
      emulatedInstructions: mo.stats.emulatedInstructions,
      reflectedByVector: { ...mo.stats.reflected },
      interruptsInjected: mo.stats.interruptsInjected,
      shadow: { ...mo.shadow.stats, shadowsCached: mo.shadow.shadowCount, freePages: mo.shadow.freePages },
      translator: { mode: mo.translation, ...mo.patcher.stats, byKind: { ...mo.patcher.stats.byKind }, codeFrames: mo.patcher.codeFrameCount, closeHole: mo.patcher.closeHole },
    };
  }

  /** The monitor's state: virtual CPU, STI shadow, shadow-table bookkeeping (the tables are in machine RAM), the
   * patcher's side tables and counters (empty unless static); the sensitive-exit controls are in the CPU state. */
  save(): Saved { return saveState(this.monitor); }
  restore(s: Saved): void { loadState(this.monitor, s); }
}

function stop(r: { stop: "halted" | "shutdown" | "internal-error"; message: string }, exit?: Exit): RunResult {
  const exitStatus = r.stop === "halted" ? EXIT_STATUS.HALTED : r.stop === "shutdown" ? EXIT_STATUS.TRIPLE_FAULT : EXIT_STATUS.INTERNAL;
  return { exitStatus, stopReason: r.stop, message: r.message, exit };
}

export interface FullVmOptions extends CoreOptions, FullModeOptions {}

/** A full-mode VM: the one run loop around a FullMode (what `new Vm({ mode: "full" })` builds). */
export class FullVm extends VmCore<FullMode> {
  constructor(opts: FullVmOptions = {}) {
    const memSize = opts.memSize ?? 64 << 20;
    super(new FullMode(memSize, opts, opts.log ?? (() => {})), opts, { mode: "full", options: { memSize, platformKind: opts.platformKind, rtcStart: opts.rtcStart, closeHole: opts.closeHole, translate: opts.translate, maxShadows: opts.maxShadows, fastPaths: opts.fastPaths } });
  }
  get monitor(): Monitor { return this.mode.monitor; }
  get guestRam(): number { return this.mode.guestRam; }
  fullStats() { return this.mode.stats(); }
}
