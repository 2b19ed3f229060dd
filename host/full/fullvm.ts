// fullvm.ts — the `full` mode VM: the same devices, console, deterministic clock and exit statuses as host/vm.ts
// (native mode), around a deprivileged guest run by the Monitor (monitor.ts). The Machine is created with
// VMM_SIZE bytes more than the guest's RAM: machine-physical [0, VMM_SIZE) is the VMM's, guest-physical X is
// machine-physical X + VMM_SIZE.
//
// Interrupts: the CPU's INTR line is never raised. Before every run slice, if the virtual IF allows (and no STI
// shadow is pending), the PIC's highest request is acknowledged and delivered through the guest IDT by the monitor.
// A guest STI with a request pending runs exactly one more instruction first (the STI interrupt shadow).
// Virtual time = instructions retired + instructions emulated by the monitor + time skipped while halted.
import { Machine, type Exit } from "../machine.ts";
import { VmStats } from "../stats.ts";
import type { AccessSize } from "../bus.ts";
import { MemoryBackend, type BlockBackend, type LogFn } from "../devices/index.ts";
import { loadMultiboot, enterMultiboot, type MultibootBoot, type MultibootModule } from "../multiboot.ts";
import { parseElf, elfVirtToPhys } from "../elf.ts";
import {
  EXIT_STATUS, MAX_IDLE_NS, NS_PER_INSTRUCTION, pcPlatform, VmConfigError,
  type Platform, type PlatformHooks, type RunOptions, type RunResult, type VmOptions, type RunImageOptions, type RunImageResult,
} from "../vm.ts";
import { Monitor, VMM_SIZE } from "./monitor.ts";
import { elfCodeRegions } from "./patcher.ts";

export interface FullVmOptions extends VmOptions {
  /** patch the sensitive-but-unprivileged instructions (the x86 hole); default true */
  closeHole?: boolean;
  /** address spaces × modes whose shadows are cached; default 16 */
  maxShadows?: number;
}

const hex = (n: number) => "0x" + (n >>> 0).toString(16);

export class FullVm {
  readonly machine: Machine;
  readonly monitor: Monitor;
  readonly platform: Platform;
  readonly stats = new VmStats();
  readonly guestRam: number;
  console = "";
  private readonly onConsole?: (text: string) => void;
  private readonly log: LogFn;
  private readonly capture: boolean;
  private readonly decoder = new TextDecoder();
  private pending: number[] = [];
  private debugExit: number | null = null;
  private haltedInsns = 0;
  private timersAt = 0;

  constructor(opts: FullVmOptions = {}) {
    this.guestRam = opts.memSize ?? 64 * 1024 * 1024;
    this.machine = new Machine({ memSize: this.guestRam + VMM_SIZE, exceptionBitmap: 0xffffffff, exitOnSoftInt: true, exitOnHlt: true });
    this.onConsole = opts.onConsole;
    this.capture = opts.captureConsole ?? true;
    this.log = opts.log ?? (() => {});
    const hooks: PlatformHooks = {
      onConsole: (b) => this.consoleByte(b),
      onDebugExit: (status) => { if (this.debugExit === null) this.debugExit = status; },
      log: this.log,
      disk: opts.disk instanceof Uint8Array ? diskFromBytes(opts.disk) : opts.disk,
    };
    this.platform = (opts.platform ?? pcPlatform)(hooks);
    const bus = this.platform.bus;
    this.monitor = new Monitor(this.machine, {
      guestRam: this.guestRam,
      closeHole: opts.closeHole,
      maxShadows: opts.maxShadows,
      log: this.log,
      io: {
        ioRead: (port, size) => { this.stats.countPort(port, false); return bus.ioRead(port, size as AccessSize); },
        ioWrite: (port, size, v) => { this.stats.countPort(port, true); bus.ioWrite(port, size as AccessSize, v); },
      },
    });
    this.stats.devices = () => ({ ...(this.platform.stats?.() ?? {}), full: this.fullStats() });
    if (opts.stdin !== undefined) {
      this.platform.receive(typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin);
    }
  }

  /** full-mode counters: exits by cause, emulated instructions, reflections, shadow paging, translator */
  fullStats() {
    const mo = this.monitor;
    return {
      exitsByCause: { ...mo.stats.exits },
      emulated: { ...mo.stats.emulated },
      emulatedInstructions: mo.stats.emulatedInstructions,
      reflectedByVector: { ...mo.stats.reflected },
      interruptsInjected: mo.stats.interruptsInjected,
      shadow: { ...mo.shadow.stats, shadowsCached: mo.shadow.shadowCount, freePages: mo.shadow.freePages },
      translator: { ...mo.patcher.stats, byKind: { ...mo.patcher.stats.byKind }, codeFrames: mo.patcher.codeFrameCount, closeHole: mo.patcher.closeHole },
    };
  }

  /** Loads a multiboot kernel into guest RAM, scans its code and deprivileges the entry state. */
  loadMultiboot(image: Uint8Array, opts: { cmdline?: string; modules?: MultibootModule[] } = {}): MultibootBoot {
    const m = this.machine;
    const mem = {
      ramSize: this.guestRam,
      writeMem: (p: number, d: ArrayLike<number>) => m.writeMem(p + VMM_SIZE, d),
      fillMem: (p: number, len: number, v = 0) => m.fillMem(p + VMM_SIZE, len, v),
    };
    const boot = loadMultiboot(image, mem, opts);
    enterMultiboot(m, boot);
    if (boot.method === "elf") {
      const elf = parseElf(image);
      for (const r of elfCodeRegions(image, elf.entry, (va) => elfVirtToPhys(elf, va))) {
        if (r.end <= this.guestRam) this.monitor.patcher.addRegion(r.start, r.end, r.entries);
      }
    }
    this.monitor.start();
    return boot;
  }

  get clock(): number {
    return this.machine.instructions + this.monitor.stats.emulatedInstructions + this.haltedInsns;
  }

  private advanceTimers(): void {
    const now = this.clock;
    if (now > this.timersAt) {
      this.platform.timers.advance(now - this.timersAt);
      this.timersAt = now;
    }
  }

  run(opts: RunOptions = {}): RunResult {
    const m = this.machine, mo = this.monitor;
    const limit = opts.maxInstructions ?? Infinity;
    const t0 = performance.now();
    const i0 = m.instructions;
    let result: RunResult | null = null;
    try {
      while (!result) {
        const left = limit - (m.instructions - i0);
        if (left <= 0) {
          result = { exitStatus: EXIT_STATUS.MAX_INSTRUCTIONS, stopReason: "max-instructions", message: `stopped after ${limit} instructions (--max-instructions)` };
          break;
        }
        this.platform.pump(this.machine.instructions);
        let budget = Math.min(left, Math.max(1, this.platform.timers.untilNext()));
        if (mo.stiShadow) {
          mo.stiShadow = false;
          if (this.platform.pic.peek() >= 0) budget = 1;
        } else if (mo.interruptible && this.platform.pic.peek() >= 0) {
          const v = this.platform.pic.acknowledge();
          this.stats.countInterrupt(v);
          const r = mo.injectExternal(v);
          if (r && !("hlt" in r)) { result = this.stop(r); break; }
        }
        const exit = m.run(budget);
        this.advanceTimers();
        this.stats.countExit(exit.reason);
        if (exit.reason === "debug") { result = { exitStatus: 0, stopReason: "debug", message: "stopped for the debugger", exit }; break; } // host/gdb/
        const r = mo.handle(exit);
        if (r && "hlt" in r) result = this.halt(exit);
        else if (r) result = this.stop(r, exit);
        if (!result && this.debugExit !== null) {
          const st = this.debugExit;
          result = { exitStatus: st & 0xff, stopReason: "debug-exit", message: `guest wrote ${hex(st >>> 1)} to isa-debug-exit (status ${st})` };
        }
      }
    } catch (e) {
      if (!(e instanceof Error) || !/CPU abort|wasmvisor full/.test(e.message)) throw e;
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

  private stop(r: { stop: "halted" | "shutdown" | "internal-error"; message: string }, exit?: Exit): RunResult {
    const exitStatus = r.stop === "halted" ? EXIT_STATUS.HALTED : r.stop === "shutdown" ? EXIT_STATUS.TRIPLE_FAULT : EXIT_STATUS.INTERNAL;
    return { exitStatus, stopReason: r.stop, message: r.message, exit };
  }

  /** The guest executed HLT with the virtual IF set: skip idle time until the PIC has something. */
  private halt(exit: Exit): RunResult | null {
    this.flushConsole();
    let idle = 0;
    for (;;) {
      this.platform.pump(this.machine.instructions);
      if (this.platform.pic.peek() >= 0) return null;
      const next = this.platform.timers.untilNext();
      if (next === Infinity || (idle + next) * NS_PER_INSTRUCTION > MAX_IDLE_NS) {
        const why = next === Infinity ? "no timer armed, no interrupt pending" : `no deliverable interrupt for ${MAX_IDLE_NS / 1e9} s of virtual time`;
        return { exitStatus: EXIT_STATUS.HALTED, stopReason: "halted", message: `guest halted waiting for an interrupt that cannot come (hlt at eip ${hex(exit.eip)}, ${why})`, exit };
      }
      const step = Math.max(1, next);
      idle += step;
      this.haltedInsns += step;
      this.advanceTimers();
    }
  }

  private consoleByte(b: number): void {
    this.pending.push(b & 0xff);
    if (b === 0x0a || this.pending.length >= 4096) this.flushConsole();
  }
  private flushConsole(): void {
    if (!this.pending.length) return;
    const text = this.decoder.decode(Uint8Array.from(this.pending), { stream: true });
    this.pending = [];
    if (this.capture) this.console += text;
    this.onConsole?.(text);
  }
}

function diskFromBytes(bytes: Uint8Array): BlockBackend {
  try {
    return new MemoryBackend(bytes);
  } catch (e) {
    throw new VmConfigError(`disk image: ${(e as Error).message.replace(/^wasmvisor block: /, "")}`);
  }
}

/** runImage() for mode "full" (host/vm.ts dispatches here). */
export async function runImageFull(opts: RunImageOptions & { closeHole?: boolean }): Promise<RunImageResult> {
  const vm = new FullVm({ memSize: opts.memSize, disk: opts.disk, stdin: opts.stdin, onConsole: opts.onConsole, log: opts.log, closeHole: opts.closeHole });
  vm.loadMultiboot(opts.image, { cmdline: opts.cmdline });
  const r = vm.run({ maxInstructions: opts.maxInstructions });
  return { console: vm.console, exitStatus: r.exitStatus, stopReason: r.stopReason, message: r.message, stats: vm.stats.toJSON() };
}
