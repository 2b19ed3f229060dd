// vm.ts — the minimal machine: a Machine (the wasm CPU), a Bus, the standard PC devices, and the run loop that
// dispatches the CPU's exits, like a KVM VMM's vCPU thread (kvm-ioctls' run() → one exit enum → handle → run).
//
// Exits (host/machine.ts Exit):
//   io-out / mmio-write  the CPU has completed the instruction (EIP is past it); the value goes to the bus.
//   io-in / mmio-read    EIP is still at the instruction; the bus supplies the value, machine.completeIo(value),
//                        and the next run() re-executes the instruction, which consumes it.
//   hlt                  the CPU is halted (it keeps that state itself) with no interrupt to take: the VM
//                        advances virtual time to the next device event until the PIC has something for the CPU;
//                        see HLT below.
//   shutdown             triple fault: stop, status EXIT_STATUS.TRIPLE_FAULT (QEMU would reset; we do not reboot).
//   exception / softint  only when intercepted (exception bitmap / CTRL_EXIT_SOFTINT), which native mode never
//                        asks for: treated as a VMM bug, status EXIT_STATUS.INTERNAL.
//   hypercall / intr-window   not requested in native mode either: same.
//
// Interrupts (INTR protocol, see OFF_INTR_* in assembly/abi.ts). The 8259 raises INT; the CPU answers with an INTA
// cycle when it actually accepts the interrupt (IF=1, no interrupt shadow, instruction boundary), and only then
// does the PIC move the request from IRR to ISR and put the vector on the bus. Here:
//   1. before every run slice, syncIntr(): if the CPU line is low, ask the PIC for its highest-priority
//      deliverable request *without acknowledging it* (peek) and raise INTR with that vector. If the line is
//      already high, re-validate it: the guest may have masked the IRQ or a higher-priority one may have arrived
//      since, so the vector is updated or the line lowered (an 8259 deasserting INT before INTA).
//   2. after every run slice (first thing, before any exit is handled), syncAck(): if the line we raised is now
//      low, the CPU took the interrupt during the slice (it clears OFF_INTR_LEVEL when it does), so the VM performs
//      the PIC side of INTA now: pic.acknowledge() (IRR→ISR).
// Platform "mp" (the default; host/devices/index.ts): the controller in this protocol is the local APIC
// (host/devices/lapic.ts) — peek = its highest IRR vector above the processor priority, or the 8259's vector while
// LINT0 is in ExtINT mode (virtual wire, as the firmware leaves it); acknowledge = IRR→ISR (or the 8259's INTA).
// With IF=0 for a long time nothing is acknowledged: the request stays in IRR and can still be masked or
// preempted. The window between "CPU took it" and "PIC acknowledged" is invisible to the guest, because the
// guest can look at the PIC only through I/O exits and step 2 runs before an exit is dispatched; device time
// also only moves between slices, after step 2.
//
// Time is deterministic: the virtual clock counts instruction-equivalents = instructions retired + time skipped
// while halted, at VIRTUAL_IPS (100 million per virtual second, 10 ns each: the PIT's InstructionClock default, a
// plausible speed for a guest to see). Each run slice is cut at the next device deadline (the PIT's next output
// edge, the local APIC timer's expiry, the RTC's next interrupt), so a timer interrupt is raised at the same
// instruction in every run, whatever the host's speed.
//
// HLT with IF=1: skip virtual time to the next device deadline, fire it, repeat until the PIC has a request for the
// CPU; if no deadline is armed and no request is pending, nothing can ever wake the CPU (QEMU would sit there
// forever): stop with EXIT_STATUS.HALTED, "guest halted waiting for an interrupt that cannot come" (likewise
// after MAX_IDLE_NS of idle virtual time in which deadlines fired but nothing became deliverable).
// HLT with IF=0 (the usual `cli; hlt` "stop here"): stop at once with EXIT_STATUS.HALTED, "guest halted with
// interrupts disabled".
import { PassThrough, Writable } from "node:stream";
import { Machine, type Exit, type MachineOptions } from "./machine.ts";
import * as A from "./abi.generated.ts";
import type { Bus, AccessSize } from "./bus.ts";
import {
  createPcDevices, InstructionClock, MemoryBackend, type BlockBackend, type LogFn, type PcDevices, type Pic8259Pair,
  type MpConfig, type PcPlatformKind,
} from "./devices/index.ts";
import { VmStats } from "./stats.ts";
import { loadMultiboot, enterMultiboot, type MultibootBoot, type MultibootModule } from "./multiboot.ts";

/**
 * Process exit statuses. Odd values belong to the guest (isa-debug-exit: (value << 1) | 1, as QEMU exits);
 * wasmvisor's own outcomes are even, so they never collide with a guest's status.
 */
export const EXIT_STATUS = {
  /** bad command line (unknown option, bad --mem...) */
  USAGE: 2,
  /** the image or disk cannot be used (missing, not an ELF, not 32-bit x86, does not fit RAM...) */
  BAD_INPUT: 4,
  /** --max-instructions reached before the guest exited */
  MAX_INSTRUCTIONS: 6,
  /** HLT with interrupts disabled, or with no interrupt that could ever wake the CPU */
  HALTED: 8,
  /** triple fault (shutdown) */
  TRIPLE_FAULT: 10,
  /** an exit native mode never asks for, or a CPU abort: a wasmvisor bug */
  INTERNAL: 12,
} as const;

// "debug": the CPU's host debug unit stopped (a gdb breakpoint, watchpoint or step: host/gdb/); run() again resumes
export type StopReason = "debug-exit" | "max-instructions" | "halted" | "shutdown" | "internal-error" | "debug";

/** Instructions per virtual second: the virtual clock the PIT sees (host/devices/pit8254.ts InstructionClock). */
export const VIRTUAL_IPS = 100_000_000;
export const NS_PER_INSTRUCTION = 1e9 / VIRTUAL_IPS;
/** Console input: a receiver that enabled its interrupt gets its first character after this long (see pump). */
export const INPUT_SETTLE_INSTRUCTIONS = 2_000_000;
/** Console input: the longest run slice while characters are waiting. */
export const INPUT_SLICE_INSTRUCTIONS = 200_000;
/**
 * A halted CPU whose timers keep firing without ever producing a deliverable interrupt (say IRQ 0 masked in the
 * PIC) would spin the host forever, as QEMU would sit forever: give up after this much idle virtual time.
 */
export const MAX_IDLE_NS = 60e9;

/** The interrupt controller as the run loop needs it (the master 8259 with its cascaded slave). */
export interface InterruptController {
  /** the vector the PIC would deliver on INTA now, or -1; no side effects */
  peek(): number;
  /** the INTA cycle: IRR → ISR for the highest-priority request; returns its vector (or the spurious vector) */
  acknowledge(): number;
}

/** Devices with time-driven behaviour (the PIT). Time is in instruction-equivalents of the virtual clock. */
export interface TimedDevices {
  /** instruction-equivalents from now until the next event (>= 0), or Infinity if none is armed */
  untilNext(): number;
  /** `n` instruction-equivalents have elapsed: fire everything due (raising IRQs on the PIC) */
  advance(n: number): void;
}

/** What the VM needs from the device set, whatever builds it. */
export interface Platform {
  bus: Bus;
  pic: InterruptController;
  timers: TimedDevices;
  /** queue bytes for COM1's receiver (stdin) */
  receive(bytes: Uint8Array): void;
  /** move queued input into the receiver when it is ready for it (called before every run slice; `now` is
   * virtual time in instructions) */
  pump(now: number): void;
  /** console input is waiting to be delivered */
  inputPending?(): boolean;
  /** device counters for the stats file */
  stats?(): Record<string, unknown>;
  // ---- APIC platform: the MP tables the loader leaves in memory (host/devices/mptable.ts) and the CPUID bits
  // the platform adds (CPUID.1:EDX.APIC) ----
  mpTables?: MpConfig;
  cpuid?: { apic?: boolean };
}

export interface PlatformHooks {
  /** a byte the guest sent to a console (COM1 transmit, port 0xe9) */
  onConsole(byte: number): void;
  /** the guest wrote to isa-debug-exit: status = (value << 1) | 1 */
  onDebugExit(status: number): void;
  log: LogFn;
  disk?: BlockBackend;
  // ---- APIC platform options (pcPlatform) ----
  /** the primary slave disk */
  disk2?: BlockBackend;
  /** "mp" (default): local APIC + I/O APIC + MP tables; "pc": 8259 only */
  platformKind?: PcPlatformKind;
  /** RTC time at virtual time 0, seconds since 1970 (default: 2000-01-01 00:00:00 UTC) */
  rtcStart?: number;
  memSize?: number;
}

export interface VmOptions {
  /** guest RAM in bytes (multiple of 4 KiB); default 64 MiB */
  memSize?: number;
  /** disk for the ATA primary master: raw image bytes (used in place) or a block backend (e.g. FileBackend) */
  disk?: Uint8Array | BlockBackend;
  /** disk for the ATA primary slave (device 1) */
  disk2?: Uint8Array | BlockBackend;
  /** device set of the default platform: "mp" (default; APICs + MP tables) or "pc" (8259 only) */
  platformKind?: PcPlatformKind;
  /** RTC time at virtual time 0, seconds since 1970 (default: 2000-01-01 00:00:00 UTC) */
  rtcStart?: number;
  /** bytes for COM1's receiver */
  stdin?: Uint8Array | string;
  /** called for every chunk of console output (COM1 and port 0xe9), flushed at newlines and when run() returns */
  onConsole?: (text: string) => void;
  /** keep the console output in Vm.console (default true) */
  captureConsole?: boolean;
  /** diagnostics (unclaimed ports, guest misbehaviour); default: none */
  log?: LogFn;
  /** builds the device set; default: the standard PC set (host/devices) */
  platform?: (hooks: PlatformHooks) => Platform;
  /** CPU options passed to the Machine (e.g. { jitThreshold: 0 } for the interpreter only) */
  machine?: Partial<MachineOptions>;
}

export interface RunOptions {
  /** stop after this many instructions (status EXIT_STATUS.MAX_INSTRUCTIONS); default: no limit */
  maxInstructions?: number;
}

export interface RunResult {
  exitStatus: number;
  stopReason: StopReason;
  /** one line describing why the run stopped */
  message: string;
  /** the exit that stopped it, if one did */
  exit?: Exit;
}

export class Vm {
  readonly machine: Machine;
  readonly platform: Platform;
  readonly bus: Bus;
  readonly stats = new VmStats();
  /** console output so far (if captureConsole) */
  console = "";
  /** Console I/O as Node streams: `consoleOut` is readable (COM1 and port 0xE9 text, flushed at newlines and
   * when run() returns), `consoleIn` is writable (bytes for COM1's receiver, paced like keystrokes). */
  readonly consoleOut = new PassThrough();
  readonly consoleIn = new Writable({
    write: (chunk: Buffer, _enc, done) => { this.platform.receive(new Uint8Array(chunk)); done(); },
  });

  private readonly onConsole?: (text: string) => void;
  private readonly log: LogFn;
  private readonly capture: boolean;
  private readonly decoder = new TextDecoder();
  private pending: number[] = [];
  private debugExit: number | null = null;
  /** the vector we put on INTR and have not yet seen the CPU take, or -1 */
  private raised = -1;
  /** virtual-clock instruction-equivalents skipped while halted */
  private haltedInsns = 0;
  /** the virtual clock value the timers have been advanced to */
  private timersAt = 0;

  constructor(opts: VmOptions = {}) {
    this.machine = new Machine({ ...opts.machine, memSize: opts.memSize });
    this.onConsole = opts.onConsole;
    this.capture = opts.captureConsole ?? true;
    this.log = opts.log ?? (() => {});
    const hooks: PlatformHooks = {
      onConsole: (b) => this.consoleByte(b),
      onDebugExit: (status) => { if (this.debugExit === null) this.debugExit = status; },
      log: this.log,
      disk: opts.disk instanceof Uint8Array ? diskFromBytes(opts.disk) : opts.disk,
      disk2: opts.disk2 instanceof Uint8Array ? diskFromBytes(opts.disk2) : opts.disk2,
      platformKind: opts.platformKind,
      rtcStart: opts.rtcStart,
      memSize: this.machine.ramSize,
    };
    this.platform = (opts.platform ?? pcPlatform)(hooks);
    if (this.platform.cpuid) this.machine.setCpuidFeatures(this.platform.cpuid); // APIC platform
    this.bus = this.platform.bus;
    this.stats.devices = () => this.platform.stats?.() ?? {};
    if (opts.stdin !== undefined) {
      this.platform.receive(typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin);
    }
  }

  /** Loads a multiboot kernel and puts the CPU in its entry state (Multiboot 0.6.96 §3.2). */
  loadMultiboot(image: Uint8Array, opts: { cmdline?: string; modules?: MultibootModule[] } = {}): MultibootBoot {
    const boot = loadMultiboot(image, this.machine, { ...opts, mpTables: this.platform.mpTables });
    enterMultiboot(this.machine, boot);
    return boot;
  }

  /** The virtual clock in instruction-equivalents: instructions retired + time skipped while halted. */
  get clock(): number {
    return this.machine.instructions + this.haltedInsns;
  }

  /** Brings the timers up to the virtual clock. */
  private advanceTimers(): void {
    const now = this.clock;
    if (now > this.timersAt) {
      this.platform.timers.advance(now - this.timersAt);
      this.timersAt = now;
    }
  }

  /** Runs until the guest exits, halts for good, faults fatally or reaches maxInstructions. */
  run(opts: RunOptions = {}): RunResult {
    const m = this.machine;
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
        this.platform.pump(m.instructions + this.haltedInsns);
        this.syncIntr();
        // with console input waiting, come back often enough to hand it over at a typing pace
        const cap = this.platform.inputPending?.() ? INPUT_SLICE_INSTRUCTIONS : Infinity;
        const exit = m.run(Math.min(left, cap, Math.max(1, this.platform.timers.untilNext())));
        this.syncAck();
        this.advanceTimers();
        this.stats.countExit(exit.reason);
        result = this.dispatch(exit);
        if (!result && this.debugExit !== null) {
          const st = this.debugExit;
          result = { exitStatus: st & 0xff, stopReason: "debug-exit", message: `guest wrote ${hex(st >>> 1)} to isa-debug-exit (status ${st})` };
        }
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

  /** Handles one exit; returns a result to stop, or null to keep running. */
  private dispatch(exit: Exit): RunResult | null {
    const m = this.machine;
    switch (exit.reason) {
      case "budget":
        return null;
      case "io-out":
        this.stats.countPort(exit.port!, true);
        this.bus.ioWrite(exit.port!, exit.size as AccessSize, exit.value!);
        return null;
      case "io-in":
        this.stats.countPort(exit.port!, false);
        m.completeIo(this.bus.ioRead(exit.port!, exit.size as AccessSize));
        return null;
      case "mmio-write":
        this.stats.countMmio(exit.port!, true);
        this.bus.mmioWrite(exit.port!, exit.size as AccessSize, exit.value!);
        return null;
      case "mmio-read":
        this.stats.countMmio(exit.port!, false);
        m.completeIo(this.bus.mmioRead(exit.port!, exit.size as AccessSize));
        return null;
      case "hlt":
        return this.halt(exit);
      case "debug": // the debugger's stop (host/gdb/server.ts resumes with run())
        return { exitStatus: 0, stopReason: "debug", message: "stopped for the debugger", exit };
      case "shutdown":
        return { exitStatus: EXIT_STATUS.TRIPLE_FAULT, stopReason: "shutdown", message: `triple fault (CPU shutdown) at eip ${hex(exit.eip)}`, exit };
      case "exception":
        return this.internal(exit, `unexpected exception exit: vector ${exit.vector}${exit.errorCode !== undefined ? ` error ${hex(exit.errorCode)}` : ""} at eip ${hex(exit.eip)}`);
      case "softint":
        return this.internal(exit, `unexpected software-interrupt exit: int ${hex(exit.vector ?? 0)} at eip ${hex(exit.eip)}`);
      default:
        return this.internal(exit, `unexpected ${exit.reason} exit at eip ${hex(exit.eip)}`);
    }
  }

  private halt(exit: Exit): RunResult | null {
    this.flushConsole(); // an idle guest may have printed a prompt without a newline
    if (!(this.machine.eflags & A.FLAG_IF)) {
      return { exitStatus: EXIT_STATUS.HALTED, stopReason: "halted", message: `guest halted with interrupts disabled (hlt at eip ${hex(exit.eip)})`, exit };
    }
    // Skip idle time: fire device deadlines until the PIC has something for the CPU.
    let idle = 0;
    for (;;) {
      this.platform.pump(this.machine.instructions + this.haltedInsns);
      this.syncIntr();
      if (this.raised >= 0) return null;
      let next = this.platform.timers.untilNext();
      // input waiting for a listening receiver to settle: let virtual time pass for it
      if (next === Infinity && this.platform.inputPending?.() && idle < INPUT_SETTLE_INSTRUCTIONS * 4) next = INPUT_SLICE_INSTRUCTIONS;
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

  private internal(exit: Exit, message: string): RunResult {
    return { exitStatus: EXIT_STATUS.INTERNAL, stopReason: "internal-error", message, exit };
  }

  // ---- interrupts (protocol in the header comment) ----
  private syncIntr(): void {
    const v = this.platform.pic.peek();
    if (v === this.raised) return;
    if (v < 0) {
      this.machine.setIntr(false);
      this.raised = -1;
    } else {
      this.machine.setIntr(true, v);
      this.raised = v;
    }
  }

  private syncAck(): void {
    if (this.raised < 0 || this.machine.intrPending) return;
    const v = this.raised;
    this.raised = -1;
    const acked = this.platform.pic.acknowledge();
    if (acked !== v) this.log(`vm: PIC acknowledged vector ${hex(acked)} but the CPU took ${hex(v)}`);
    this.stats.countInterrupt(v);
  }

  // ---- console ----
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
    this.consoleOut.write(text);
  }
}

// ---------------------------------------------------------------- runImage

/** The Vm options (the disk, platform and RTC ones apply to native mode) plus the image and how to run it. */
export interface RunImageOptions
  extends Pick<VmOptions, "memSize" | "disk" | "disk2" | "platformKind" | "rtcStart" | "stdin" | "onConsole" | "log" | "machine"> {
  /** the multiboot ELF kernel */
  image: Uint8Array;
  /** "native" (default), "full" (host/full/) or "para" (host/para/) */
  mode?: string;
  maxInstructions?: number;
  cmdline?: string;
}

export interface RunImageResult {
  console: string;
  exitStatus: number;
  stopReason: StopReason;
  message: string;
  stats: ReturnType<VmStats["toJSON"]>;
}

export const MODES = ["native", "full", "para", "hw"] as const;
export const IMPLEMENTED_MODES = ["native", "full", /* para: */ "para"];

export class VmConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VmConfigError";
  }
}

export function checkMode(mode: string): void {
  if (IMPLEMENTED_MODES.includes(mode)) return;
  if ((MODES as readonly string[]).includes(mode)) throw new VmConfigError(`mode '${mode}' is not implemented yet`);
  throw new VmConfigError(`unknown mode '${mode}' (modes: ${MODES.join(", ")})`);
}

/** Boots a multiboot image in a fresh VM and runs it to the end. Load errors throw (ElfError / MultibootError / VmConfigError). */
export async function runImage(opts: RunImageOptions): Promise<RunImageResult> {
  checkMode(opts.mode ?? "native");
  // full mode: trap-and-emulate with shadow page tables (host/full/)
  if (opts.mode === "full") return (await import("./full/fullvm.ts")).runImageFull(opts);
  // ---- para mode (host/para/): a PV kernel (build/guests/workloads-pv/*.elf), hypercalls + virtio ----
  if (opts.mode === "para") return (await import("./para/vm.ts")).runImagePara(opts);
  // ---- end para ----
  const { image, mode: _mode, maxInstructions, cmdline, ...vmOptions } = opts;
  const vm = new Vm(vmOptions);
  vm.loadMultiboot(image, { cmdline });
  const r = vm.run({ maxInstructions });
  return { console: vm.console, exitStatus: r.exitStatus, stopReason: r.stopReason, message: r.message, stats: vm.stats.toJSON() };
}

// ---------------------------------------------------------------- devices

function diskFromBytes(bytes: Uint8Array): BlockBackend {
  try {
    return new MemoryBackend(bytes);
  } catch (e) {
    throw new VmConfigError(`disk image: ${(e as Error).message.replace(/^wasmvisor block: /, "")}`);
  }
}

/**
 * The vector Pic8259Pair.acknowledge() would return now, without acknowledging: what an 8259 drives as INT plus
 * the vector it will put on the bus at INTA. Mirrors acknowledge(): the master's highest deliverable IR; for the
 * cascade IR the slave's (its IR7 vector if its request went away). Uses a public peekVector() if the PIC has one.
 */
export function peekPicVector(pic: Pic8259Pair): number {
  const p = pic as Pic8259Pair & { peekVector?: () => number };
  if (typeof p.peekVector === "function") return p.peekVector();
  type Chip = { resolve(): number; vectorBase: number; icw3: number; single: boolean };
  const master = pic.master as unknown as Chip, slave = pic.slave as unknown as Chip;
  const n = master.resolve();
  if (n < 0) return -1;
  if (!master.single && master.icw3 & (1 << n)) {
    const s = slave.resolve();
    return (slave.vectorBase | (s < 0 ? 7 : s)) & 0xff;
  }
  return (master.vectorBase | n) & 0xff;
}

/** The standard PC set (host/devices createPcDevices) behind the Platform interface. */
export function pcPlatform(h: PlatformHooks): Platform & { devices: PcDevices } {
  const d = createPcDevices({
    onSerialTransmit: h.onConsole,
    onDebugcon: h.onConsole,
    onDebugExit: h.onDebugExit,
    disk: h.disk,
    // ---- APIC platform ----
    disk2: h.disk2,
    platform: h.platformKind,
    rtc: { startTime: h.rtcStart, ticksPerSecond: VIRTUAL_IPS, memSize: h.memSize },
    onReset: () => h.log("i8042: the guest pulsed the CPU reset line (not supported: ignored)"),
    // ---- end APIC platform ----
    log: h.log,
  });
  const clock = new InstructionClock(VIRTUAL_IPS);
  let input: number[] = [];
  let listeningSince = -1; // virtual time the receive interrupt was seen enabled
  let lsrReadsAtFeed = -1;
  // ---- APIC platform: the CPU's INTR is the local APIC's (the 8259 behind LINT0/ExtINT) or, platform "pc", the 8259's.
  // The local APIC timer's bus clock is the virtual clock itself (one count per instruction-equivalent: 100 MHz);
  // the RTC counts the same virtual time. ----
  const lapic = d.lapic, rtc = d.rtc;
  return {
    devices: d,
    bus: d.bus,
    pic: lapic ? d.cpu : { peek: () => peekPicVector(d.pic), acknowledge: () => d.pic.acknowledge() },
    mpTables: d.mpConfig ?? undefined,
    cpuid: lapic ? { apic: true } : undefined,
    timers: {
      untilNext: () => {
        let n = clock.instructionsFor(d.pit.nextEventTicks());
        if (lapic) n = Math.min(n, lapic.nextEventTicks());
        return Math.min(n, rtc.nextEventTicks());
      },
      advance: (n) => {
        lapic?.advance(n);
        rtc.advance(n);
        while (n > 0) {
          const chunk = Math.min(n, 1e9); // InstructionClock.ticksFor takes at most 1e9 per call
          d.pit.advance(clock.ticksFor(chunk));
          n -= chunk;
        }
      },
    },
    receive: (bytes) => { input = input.concat(Array.from(bytes)); },
    pump: (now: number) => {
      if (!input.length) return;
      // Console input arrives like keystrokes on a line, one character at a time and only when the receiver
      // is empty, so each character raises its own interrupt edge. It waits until a driver is listening:
      // one that enabled the receive interrupt a while ago (an edge before its I/O APIC pin is unmasked
      // would be lost, on hardware as in QEMU), or one that is polling LSR.
      const u = d.uart;
      if (u.rxPending > 0) return;
      if (u.rxInterruptEnabled) {
        if (listeningSince < 0) listeningSince = now;
        if (now - listeningSince < INPUT_SETTLE_INSTRUCTIONS) return;
      } else {
        listeningSince = -1;
        if (u.lsrReads === lsrReadsAtFeed) return;
      }
      lsrReadsAtFeed = u.lsrReads;
      u.receive(input.splice(0, 1));
    },
    inputPending: () => input.length > 0,
    stats: () => ({
      bus: {
        unclaimedReads: d.bus.stats.unclaimedReads, unclaimedWrites: d.bus.stats.unclaimedWrites,
        unclaimedMmioReads: d.bus.stats.unclaimedMmioReads, unclaimedMmioWrites: d.bus.stats.unclaimedMmioWrites,
        ranges: Object.fromEntries(d.bus.ranges().map((r) => [r.name, { reads: r.reads, writes: r.writes }])),
      },
      uart: { ...d.uart.stats },
      pit: { ...d.pit.stats },
      ...(lapic ? { lapic: { ...lapic.stats }, ioapic: { ...d.ioapic!.stats } } : {}),
      guestErrors: {
        pic: Object.fromEntries(d.pic.errors.counts),
        pit: Object.fromEntries(d.pit.errors.counts),
        uart: Object.fromEntries(d.uart.errors.counts),
        ...(lapic ? { lapic: Object.fromEntries(lapic.errors.counts), ioapic: Object.fromEntries(d.ioapic!.errors.counts) } : {}),
        i8042: Object.fromEntries(d.kbc.errors.counts),
        rtc: Object.fromEntries(d.rtc.errors.counts),
        ...(d.ata ? { ata: Object.fromEntries(d.ata.errors.counts) } : {}),
      },
    }),
  };
}

function hex(n: number): string {
  return "0x" + (n >>> 0).toString(16);
}
