// vm.ts — the one run loop every mode runs in, like Firecracker's single vCPU loop over KVM's exits: slices cut at
// the next device deadline, a deterministic virtual clock, halt/idle, the console, stats, debug-exit, and
// snapshots. What differs between native, full and para mode is a Mode (core/mode.ts); the devices come from the
// one platform builder (core/platform.ts).
//
// Each slice: pump console input → mode.beforeSlice() (interrupt delivery: native raises INTR from the PIC/APIC,
// full injects through the guest IDT, para raises the lowest pending event) → machine.run(budget) →
// mode.afterSlice() (acknowledge what the CPU took) → bring the timers up to the virtual clock → mode.handle(exit).
//
// Time is deterministic: the virtual clock counts instruction-equivalents = instructions retired + instructions
// the mode emulated + time skipped while idle, at VIRTUAL_IPS (100 million per virtual second). Each slice is cut
// at the next device deadline, so a timer interrupt comes at the same instruction in every run and every mode.
//
// Idle (native HLT with IF=1, full HLT with the virtual IF set, para SCHEDOP_block): skip virtual time to the next
// device deadline, fire it, repeat until the mode has something for the CPU; with no deadline armed and nothing
// pending nothing can ever wake the CPU: stop with EXIT_STATUS.HALTED (likewise after MAX_IDLE_NS of idle virtual
// time in which deadlines fired but nothing became deliverable).
import type { PassThrough, Writable } from "node:stream";
import { runtime } from "../runtime/index.ts";
import type { Exit } from "../machine.ts";
import { detachExit } from "../exit-reuse.ts";
import type { Bus } from "../bus.ts";
import type { LogFn } from "../devices/index.ts";
import { VmStats } from "../stats.ts";
import type { MultibootBoot } from "../multiboot.ts";
import type { BzImageBoot, BzImageOptions } from "../loaders/bzimage.ts";
import { loadState, saveState, type Saved } from "../persist.ts";
import type { Mode, LoadOptions } from "./mode.ts";
import { buildPlatform, checkPlatformOptions, type Platform, type PlatformOptions } from "./platform.ts";
import {
  EXIT_STATUS, PAUSED, VmConfigError, INPUT_SETTLE_INSTRUCTIONS, INPUT_SLICE_INSTRUCTIONS, MAX_IDLE_NS, NS_PER_INSTRUCTION, hex,
  PAUSE_CHECK_INSTRUCTIONS,
  type RunOptions, type RunResult,
} from "./status.ts";
import { writeSnapshot, type SnapshotConfig } from "./snapshot.ts";

export interface CoreOptions extends PlatformOptions {
  /** guest RAM in bytes (multiple of 4 KiB) as the guest sees it, in every mode; default 64 MiB */
  memSize?: number;
  /** bytes for the console's receiver */
  stdin?: Uint8Array | string;
  /** called for every chunk of console output, flushed at newlines and when run() returns */
  onConsole?: (text: string) => void;
  /** keep the console output in Vm.console (default true) */
  captureConsole?: boolean;
  /** diagnostics (unclaimed ports, guest misbehaviour); default: none */
  log?: LogFn;
}

export class VmCore<M extends Mode = Mode> {
  readonly mode: M;
  readonly platform: Platform;
  readonly bus: Bus;
  readonly stats = new VmStats();
  /** console output so far (if captureConsole) */
  console = "";
  /** Console I/O as Node streams, in every mode: `consoleOut` is readable (the guest's console text, flushed at
   * newlines and when run() returns), `consoleIn` is writable (bytes for the console's receiver). */
  get consoleOut(): PassThrough {
    return (this.consoleStream ??= runtime.passThrough()); // created on first use: unread, it would keep the whole console
  }
  private consoleStream?: PassThrough;
  get consoleIn(): Writable { // created on first use (the browser has no Node streams: it calls platform.receive())
    return (this.consoleInStream ??= runtime.writable((b) => this.platform.receive(b)));
  }
  private consoleInStream?: Writable;
  /** the options this VM was built with (a snapshot records them) */
  readonly config: SnapshotConfig;

  protected readonly log: LogFn;
  private readonly onConsole?: (text: string) => void;
  private readonly capture: boolean;
  private readonly decoder = new TextDecoder();
  private pending: number[] = [];
  /** loop state that a snapshot carries: the debug-exit status, idle time, the clock the timers have seen */
  private readonly loop = { debugExit: null as number | null, debugMessage: "", haltedInsns: 0, timersAt: 0 };

  constructor(mode: M, opts: CoreOptions, config: SnapshotConfig) {
    this.mode = mode;
    this.config = config;
    this.onConsole = opts.onConsole;
    this.capture = opts.captureConsole ?? true;
    this.log = opts.log ?? (() => {});
    const kind = checkPlatformOptions(mode.name, opts);
    this.platform = buildPlatform(kind, opts, {
      onConsole: (b) => this.consoleByte(b),
      onDebugExit: (status, message?: string) => this.debugExit(status, message),
      log: this.log,
      memSize: opts.memSize ?? 64 << 20,
      ...mode.platformHooks?.(),
    });
    mode.attach(this.platform, this.stats, { consoleByte: (b) => this.consoleByte(b), debugExit: (s, msg) => this.debugExit(s, msg), clock: () => this.clock });
    if (this.platform.cpuid) mode.machine.setCpuidFeatures(this.platform.cpuid); // APIC platform
    this.bus = this.platform.bus;
    this.stats.mode = mode.name;
    this.stats.devices = () => ({ ...(this.platform.stats?.() ?? {}), [mode.name]: mode.stats() });
    if (opts.stdin !== undefined) {
      this.platform.receive(typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin);
    }
  }

  get machine() { return this.mode.machine; }
  /** Done with this VM: its machine's memory serves the next VM of the same size (Machine.release); any later use throws. */
  release(): void { this.machine.release(); }

  /** Console bytes the guest wrote that wait for a newline (or the end of run()) to be flushed. */
  get consolePending(): number { return this.pending.length; }

  /** Loads a multiboot kernel and puts the CPU in its entry state (Multiboot 0.6.96 §3.2). */
  loadMultiboot(image: Uint8Array, opts: LoadOptions = {}): MultibootBoot {
    return this.mode.load(image, opts);
  }

  /** Loads a Linux bzImage (and initrd) and enters it by the 32-bit boot protocol (host/loaders/bzimage.ts). */
  loadBzImage(image: Uint8Array, opts: Omit<BzImageOptions, "mpTables"> = {}): BzImageBoot {
    if (!this.mode.loadLinux) throw new VmConfigError(`booting a Linux bzImage is not supported in ${this.mode.name} mode (native only, for now)`);
    return this.mode.loadLinux(image, opts);
  }

  /** The guest (or the VMM on its behalf) ended the run: debug-exit status, first one wins. */
  debugExit(status: number, message?: string): void {
    if (this.loop.debugExit !== null) return;
    this.loop.debugExit = status;
    this.loop.debugMessage = message ?? `guest wrote ${hex(status >>> 1)} to isa-debug-exit`;
  }

  /** The virtual clock in instruction-equivalents: instructions retired + emulated + time skipped while idle. */
  get clock(): number {
    return this.machine.instructions + this.mode.emulatedInstructions + this.loop.haltedInsns;
  }

  /** The guest's TSC is the virtual clock, in every mode: the CPU counts the instructions it retires, so it is given
   * the rest — what the mode emulated and the time skipped while idle — as its TSC adjustment (abi.ts
   * AREA_TSC_ADJUST). A real TSC keeps counting through HLT; without the idle part Linux's TSC clocksource saw a
   * halted second as a few instructions while the PIT and APIC timers saw it pass. Set before every slice, from
   * state a snapshot carries (loop.haltedInsns, the mode's count), so a restored VM reads the same TSC. */
  private syncTsc(): void {
    this.machine.tscAdjust = this.mode.emulatedInstructions + this.loop.haltedInsns; // (= clock − instructions retired)
  }

  /** Brings the timers up to the virtual clock. */
  private advanceTimers(now = this.clock): void {
    if (now > this.loop.timersAt) {
      this.platform.timers.advance(now - this.loop.timersAt);
      this.loop.timersAt = now;
    }
  }

  /** Runs until the guest exits, halts for good, faults fatally, reaches maxInstructions or stopAt. */
  run(opts: RunOptions = {}): RunResult {
    const m = this.machine, mode = this.mode, pf = this.platform;
    const limit = opts.maxInstructions ?? Infinity;
    const stopAt = opts.stopAt ?? Infinity;
    const t0 = performance.now();
    const i0 = m.instructions;
    let result: RunResult | null = null;
    // maxInstructions counts the guest's instructions exactly — retired by the CPU plus emulated by the mode (full
    // mode's monitor) — so a run stops at the same instruction however it is sliced (snapshots rely on it). Work
    // that retires nothing is bounded by the CPU itself (a REP unit retires; deliveries in a row end run() with a
    // budget exit before the slice is used): such a short budget exit is charged as the whole slice, so a fault
    // loop cannot keep run() going forever either.
    const e0 = mode.emulatedInstructions;
    let stalls = 0;
    try {
      while (!result) {
        // (the clock's parts read once per slice: this loop runs once per exit, the monitor's round trip)
        const insns = m.instructions, emulated = mode.emulatedInstructions;
        const left = limit - (insns - i0) - (emulated - e0) - stalls;
        const toStop = stopAt - insns;
        if (toStop <= 0) {
          result = { exitStatus: 0, stopReason: "snapshot", message: `stopped at instruction ${m.instructions} for a snapshot` };
          break;
        }
        if (left <= 0) {
          result = { exitStatus: EXIT_STATUS.MAX_INSTRUCTIONS, stopReason: "max-instructions", message: `stopped after ${limit} instructions (--max-instructions)` };
          break;
        }
        pf.pump(insns + emulated + this.loop.haltedInsns);
        const cap = mode.beforeSlice();
        if (typeof cap !== "number") { result = cap; break; }
        // with console input waiting, come back often enough to hand it over at a typing pace
        const input = pf.inputPending?.() ? INPUT_SLICE_INSTRUCTIONS : Infinity;
        // with a pauseWhen, ask it often enough even when nothing exits (an idle loop that never leaves the CPU): a
        // fixed count, the same as the input pacing, so where slices end stays deterministic
        const ask = opts.pauseWhen ? PAUSE_CHECK_INSTRUCTIONS : Infinity;
        const slice = Math.min(left, toStop, cap, input, ask, Math.max(1, pf.timers.untilNext()));
        const ran0 = insns; // (nothing retires between the top of the loop and the slice)
        this.syncTsc();
        const exit = m.runReused(slice); // (objects the machine reuses: a result that keeps one detaches it below)
        mode.afterSlice();
        const ranTo = m.instructions;
        this.advanceTimers(ranTo + mode.emulatedInstructions + this.loop.haltedInsns);
        this.stats.countExit(exit.reason);
        // the debugger's stop (host/gdb/): the same in every mode, never a mode's business; run() again resumes
        if (exit.reason === "debug") { result = { exitStatus: 0, stopReason: "debug", message: "stopped for the debugger", exit }; break; }
        const action = mode.handle(exit);
        if (exit.reason === "budget") stalls += slice - (m.instructions - ran0); // 0 unless the CPU stopped a fault loop
        result = action === "idle" ? this.idle(exit) : action;
        if (!result && this.loop.debugExit !== null) {
          const st = this.loop.debugExit;
          result = { exitStatus: st & 0xff, stopReason: "debug-exit", message: `${this.loop.debugMessage} (status ${st & 0xff})` };
        }
        if (!result && opts.pauseWhen?.()) result = PAUSED;
      }
    } catch (e) {
      if (!(e instanceof Error) || !/CPU abort|wasmvisor full/.test(e.message)) throw e;
      result = { exitStatus: EXIT_STATUS.INTERNAL, stopReason: "internal-error", message: e.message.replace(/^wasmvisor: /, "") };
    } finally {
      pf.timers.settle?.(); // (lazy timers: a caller looking at a device between runs sees it at the clock)
      this.flushConsole();
      this.stats.instructions += m.instructions - i0;
      this.stats.wallMs += performance.now() - t0;
      this.stats.virtualNs = Math.round(this.clock * NS_PER_INSTRUCTION);
      this.stats.haltedNs = Math.round(this.loop.haltedInsns * NS_PER_INSTRUCTION);
    }
    this.stats.stopReason = result.stopReason;
    if (result.exit) result = { ...result, exit: detachExit(result.exit) };
    return result;
  }

  /** The guest waits for an interrupt: skip idle virtual time, firing device deadlines, until the mode wakes. */
  private idle(exit: Exit): RunResult | null {
    this.flushConsole(); // an idle guest may have printed a prompt without a newline
    const pf = this.platform;
    let idle = 0;
    for (;;) {
      pf.pump(this.clock);
      if (this.mode.wakeup()) return null;
      let next = pf.timers.untilNext();
      // input waiting for a listening receiver to settle: let virtual time pass for it
      if (next === Infinity && pf.inputPending?.() && idle < INPUT_SETTLE_INSTRUCTIONS * 4) next = INPUT_SLICE_INSTRUCTIONS;
      if (next === Infinity || (idle + next) * NS_PER_INSTRUCTION > MAX_IDLE_NS) {
        const why = next === Infinity ? "no timer armed, no interrupt pending" : `no deliverable interrupt for ${MAX_IDLE_NS / 1e9} s of virtual time`;
        return { exitStatus: EXIT_STATUS.HALTED, stopReason: "halted", message: `guest halted waiting for an interrupt that cannot come (at eip ${hex(exit.eip)}, ${why})`, exit };
      }
      const step = Math.max(1, next);
      idle += step;
      this.loop.haltedInsns += step;
      this.advanceTimers();
    }
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
    this.consoleStream?.write(text);
  }

  // ---- snapshots (core/snapshot.ts) ----
  /** The whole VM — vCPU, RAM, devices, disks, mode state, loop state — as one versioned, checksummed buffer. */
  snapshot(): Buffer {
    this.flushConsole();
    return writeSnapshot({
      config: this.config,
      machine: this.machine,
      disks: this.platform.disks,
      state: {
        loop: saveState(this.loop),
        platform: this.platform.save(),
        mode: this.mode.save(),
        stats: saveState(this.stats),
      },
    });
  }

  /** Puts the saved state of a VM built with the same config back (the machine's RAM and vCPU already loaded). */
  protected restoreState(state: Record<string, Saved>): void {
    loadState(this.loop, state.loop);
    this.platform.restore(state.platform);
    this.mode.restore(state.mode);
    loadState(this.stats, state.stats);
  }
}
