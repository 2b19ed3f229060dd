// platform.ts — the one platform builder: every mode's devices come from buildPlatform(), so an option means the
// same in every mode that has the device, and a mode that cannot honour one refuses it in one line
// (checkPlatformOptions).
//   "mp" (default for native and full): the SMP-style PC — 8259s, PIT, RTC, 8042, COM1, ATA (--disk master, --disk2
//        slave), VGA CRTC registers, local APIC + I/O APIC, MP tables for the loader (host/devices/index.ts)
//   "pc": the same without the APICs and MP tables
//   "pv": para mode's — virtio-mmio console and virtio-blk (--disk, then --disk2), the PV timer, debug-exit,
//        debugcon; no PC devices, so --platform and --rtc do not apply
import { Bus } from "../bus.ts";
import {
  createPcDevices, InstructionClock, MemoryBackend, PC_PLATFORMS, type BlockBackend, type LogFn, type MpConfig, type PcDevices,
  type PcPlatformKind, type Pic8259Pair, LAPIC_BASE, DebugExit, DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, DebugCon, DEBUGCON_PORT,
} from "../devices/index.ts";
import { PvTimer } from "../devices/pvtimer.ts";
import type { GuestMemory } from "../virtio/memory.ts";
import { VirtioMmio, VIRTIO_MMIO_BASE, VIRTIO_MMIO_SIZE } from "../virtio/mmio.ts";
import { VirtioBlk } from "../virtio/blk.ts";
import { VirtioConsole } from "../virtio/console.ts";
import { saveState, loadState, type Saved } from "../persist.ts";
import { INPUT_SETTLE_INSTRUCTIONS, VIRTUAL_IPS, VmConfigError } from "./status.ts";
import { pcTimers } from "./lazy-timers.ts";

export type PlatformKind = PcPlatformKind | "pv";

/** The interrupt controller as the run loop needs it (the master 8259 with its cascaded slave, or a local APIC). */
export interface InterruptController {
  /** the vector the controller would deliver on INTA now, or -1; no side effects */
  peek(): number;
  /** the INTA cycle: IRR → ISR for the highest-priority request; returns its vector (or the spurious vector) */
  acknowledge(): number;
}

/** Devices with time-driven behaviour. Time is in instruction-equivalents of the virtual clock. */
export interface TimedDevices {
  /** instruction-equivalents from now until the next event (>= 0), or Infinity if none is armed */
  untilNext(): number;
  /** `n` instruction-equivalents have elapsed: fire everything due (raising IRQs) */
  advance(n: number): void;
  /** bring devices that advance lazily up to the clock (core/lazy-timers.ts): the loop calls it when run() returns */
  settle?(): void;
}

/**
 * The local APIC timer's bus clock in ticks per instruction-equivalent of the virtual clock (VIRTUAL_IPS = 100 M/s):
 * 1 GHz, as QEMU's APIC (hw/intc/apic.c counts virtual nanoseconds >> the divide shift), so a guest calibrated for
 * QEMU ticks at the same rate (xv6: TDCR=1, TICR=10,000,000 -> 100 Hz). An integer ratio: still deterministic.
 */
export const LAPIC_BUS_TICKS_PER_INSTRUCTION = 1e9 / VIRTUAL_IPS;

/** What the run loop needs from the device set, whatever builds it. */
export interface Platform {
  kind: PlatformKind;
  bus: Bus;
  pic: InterruptController;
  timers: TimedDevices;
  /** queue bytes for the console's receiver (COM1 or virtio-console) */
  receive(bytes: Uint8Array): void;
  /** move queued input into the receiver when it is ready for it (before every run slice; `now` = virtual clock) */
  pump(now: number): void;
  /** console input is waiting to be delivered */
  inputPending?(): boolean;
  /** device counters for the stats file */
  stats?(): Record<string, unknown>;
  /** the disks by position: [--disk, --disk2], undefined where none is attached (snapshots keep the positions) */
  disks: (BlockBackend | undefined)[];
  /** device state for a snapshot, and back into a platform built with the same options */
  save(): Saved;
  restore(s: Saved): void;
  // ---- APIC platform: the MP tables the loader leaves in memory and the CPUID bits it adds (CPUID.1:EDX.APIC) ----
  mpTables?: MpConfig;
  cpuid?: { apic?: boolean };
  /**
   * move the local APIC's registers into the CPU's AREA_APIC (a view of it), so it answers hot accesses itself;
   * `machineOffset`: where the CPU sees guest-physical addresses (full mode's shadow tables map the APIC page at
   * its guest-physical address + 8 MiB)
   */
  shareApic?(area: Uint32Array, machineOffset?: number): void;
  /** the same area as a new view after the CPU's memory grew (the old view detached): core/apic-share.ts */
  rebindApic?(area: Uint32Array): void;
  // ---- pv platform ----
  virtio?: VirtioMmio[];
  virtioConsole?: VirtioConsole;
  virtioBlk?: VirtioBlk[];
  pvTimer?: PvTimer;
}

/** The options that choose and fill the platform: the same names in every mode (CLI --platform, --disk, ...). */
export interface PlatformOptions {
  /** device set: "mp" (default) or "pc"; para mode builds "pv" */
  platformKind?: PcPlatformKind;
  /** the first disk: ATA primary master, or virtio-blk; raw image bytes (used in place) or a block backend */
  disk?: Uint8Array | BlockBackend;
  /** the second disk: ATA primary slave, or a second virtio-blk */
  disk2?: Uint8Array | BlockBackend;
  /** RTC time at virtual time 0, seconds since 1970 (default: 2000-01-01 00:00:00 UTC) */
  rtcStart?: number;
}

/** What the VM gives the devices it builds. */
export interface PlatformHooks {
  /** a byte the guest sent to a console (COM1 transmit, port 0xe9, virtio-console) */
  onConsole(byte: number): void;
  /** the guest wrote to isa-debug-exit: status = (value << 1) | 1 */
  onDebugExit(status: number, message?: string): void;
  log: LogFn;
  /** guest RAM as the guest sees it (CMOS memory size) */
  memSize: number;
  /** pv platform: guest memory for virtqueue DMA, and the event lines (virtio slot i, the timer) */
  pv?: { dma: GuestMemory; virtioIrq(slot: number): void; timerIrq(): void };
}

/** What each mode can build; anything else is refused with one line. */
const MODE_PLATFORMS: Record<string, { kinds: PlatformKind[]; fallback: PlatformKind; why?: string }> = {
  native: { kinds: ["mp", "pc"], fallback: "mp" },
  full: { kinds: ["mp", "pc"], fallback: "mp" },
  para: { kinds: ["pv"], fallback: "pv", why: "para mode's devices are virtio (no PC platform)" },
};

/** Checks the options against the mode and returns the platform kind to build; throws VmConfigError (one line). */
export function checkPlatformOptions(mode: string, o: PlatformOptions): PlatformKind {
  const m = MODE_PLATFORMS[mode] ?? MODE_PLATFORMS.native;
  if (o.platformKind !== undefined && !(PC_PLATFORMS as readonly string[]).includes(o.platformKind)) {
    throw new VmConfigError(`unknown platform '${o.platformKind}' (platforms: ${PC_PLATFORMS.join(", ")})`);
  }
  if (o.platformKind !== undefined && !m.kinds.includes(o.platformKind)) {
    throw new VmConfigError(`--platform ${o.platformKind} is not available in ${mode} mode: ${m.why}`);
  }
  if (m.fallback === "pv" && o.rtcStart !== undefined) throw new VmConfigError(`--rtc is not available in para mode: it has no RTC (no PC platform)`);
  return o.platformKind ?? m.fallback;
}

export function diskFromBytes(bytes: Uint8Array | BlockBackend | undefined): BlockBackend | undefined {
  if (!(bytes instanceof Uint8Array)) return bytes;
  try {
    return new MemoryBackend(bytes);
  } catch (e) {
    throw new VmConfigError(`disk image: ${(e as Error).message.replace(/^wasmvisor block: /, "")}`);
  }
}

/** Builds the device set `kind` with the disks and RTC of `o`. */
export function buildPlatform(kind: PlatformKind, o: PlatformOptions, h: PlatformHooks): Platform {
  const disks = [diskFromBytes(o.disk), diskFromBytes(o.disk2)];
  return kind === "pv" ? pvPlatform(disks, h) : pcPlatform(kind, disks, o.rtcStart, h);
}

/**
 * The vector Pic8259Pair.acknowledge() would return now, without acknowledging: what an 8259 drives as INT plus
 * the vector it will put on the bus at INTA.
 */
export function peekPicVector(pic: Pic8259Pair): number {
  return pic.peekVector();
}

/** The standard PC set (host/devices createPcDevices) behind the Platform interface. */
export function pcPlatform(kind: PcPlatformKind, [disk, disk2]: (BlockBackend | undefined)[], rtcStart: number | undefined, h: PlatformHooks): Platform & { devices: PcDevices } {
  const d = createPcDevices({
    onSerialTransmit: h.onConsole,
    onDebugcon: h.onConsole,
    onDebugExit: h.onDebugExit,
    disk,
    disk2,
    platform: kind,
    rtc: { startTime: rtcStart, ticksPerSecond: VIRTUAL_IPS, memSize: h.memSize },
    onReset: () => h.log("i8042: the guest pulsed the CPU reset line (not supported: ignored)"),
    log: h.log,
  });
  const clock = new InstructionClock(VIRTUAL_IPS);
  // console input: queued bytes, the virtual time the receive interrupt was seen enabled, LSR reads at last feed
  const input = { bytes: [] as number[], listeningSince: -1, lsrReadsAtFeed: 0 };
  // The CPU's INTR is the local APIC's (the 8259 behind LINT0/ExtINT) or, platform "pc", the 8259's. The local APIC
  // timer's bus clock runs at LAPIC_BUS_TICKS_PER_INSTRUCTION bus ticks per instruction-equivalent; the RTC counts the virtual clock.
  const lapic = d.lapic, rtc = d.rtc;
  const timers = pcTimers(lapic, rtc, d.pit, clock, LAPIC_BUS_TICKS_PER_INSTRUCTION);
  const stateful = { pic: d.pic, pit: d.pit, uart: d.uart, ata: d.ata, ata2: d.ata2, kbc: d.kbc, rtc: d.rtc, lapic: d.lapic, ioapic: d.ioapic, debugExit: d.debugExit, debugcon: d.debugcon, postCode: d.postCode, crtc: d.crtc };
  return {
    kind,
    devices: d,
    bus: d.bus,
    disks: [disk, disk2],
    pic: d.cpu,
    mpTables: d.mpConfig ?? undefined,
    cpuid: lapic ? { apic: true } : undefined,
    shareApic: lapic ? (area, off = 0) => lapic.shareWith(area, LAPIC_BASE + off, LAPIC_BUS_TICKS_PER_INSTRUCTION) : undefined,
    rebindApic: lapic ? (area) => lapic.rebind(area) : undefined,
    timers, // (the RTC and PIT advanced lazily: core/lazy-timers.ts)
    receive: (bytes) => { for (const b of bytes) input.bytes.push(b); },
    pump: (now: number) => {
      if (!input.bytes.length) return;
      // Console input arrives like keystrokes on a line, one character at a time and only when the receiver
      // is empty, so each character raises its own interrupt edge. It waits until a driver is listening:
      // one that enabled the receive interrupt a while ago (an edge before its I/O APIC pin is unmasked
      // would be lost, on hardware as in QEMU), or one that is polling LSR.
      const u = d.uart;
      if (u.rxPending > 0) return;
      if (u.rxInterruptEnabled) {
        if (input.listeningSince < 0) input.listeningSince = now;
        if (now - input.listeningSince < INPUT_SETTLE_INSTRUCTIONS) return;
      } else {
        input.listeningSince = -1;
        if (u.lsrReads === input.lsrReadsAtFeed) return;
      }
      input.lsrReadsAtFeed = u.lsrReads;
      u.receive(input.bytes.splice(0, 1));
    },
    inputPending: () => input.bytes.length > 0,
    save: () => (timers.settle(), { devices: Object.fromEntries(Object.entries(stateful).map(([k, dev]) => [k, dev ? dev.save() : null])), clock: saveState(clock), input: saveState(input), bus: d.bus.save() }),
    restore: (s) => {
      const st = s as { devices: Record<string, Saved>; clock: Saved; input: Saved; bus: Saved };
      for (const [k, dev] of Object.entries(stateful)) if (dev && st.devices[k]) dev.restore(st.devices[k]);
      loadState(clock, st.clock);
      loadState(input, st.input);
      d.bus.restore(st.bus);
      timers.restored();
    },
    stats: () => (timers.settle(), {
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

/** Para mode's set: virtio-mmio v2 devices at VIRTIO_MMIO_BASE + 0x200·slot (console, then the disks). */
function pvPlatform(disks: (BlockBackend | undefined)[], h: PlatformHooks): Platform {
  if (!h.pv) throw new Error("wasmvisor: the pv platform needs the para mode's hooks");
  const pv = h.pv;
  const bus = new Bus({ log: h.log });
  const virtio: VirtioMmio[] = [];
  const levels: boolean[] = [];
  const add = (model: VirtioBlk | VirtioConsole, name: string) => {
    const slot = virtio.length;
    levels.push(false);
    const dev = new VirtioMmio(model, pv.dma, { name, log: h.log, irq: (l) => { if (l && !levels[slot]) pv.virtioIrq(slot); levels[slot] = l; } });
    virtio.push(dev);
    bus.addMmio(VIRTIO_MMIO_BASE + slot * VIRTIO_MMIO_SIZE, VIRTIO_MMIO_SIZE, dev, name);
  };
  const con = new VirtioConsole((bytes) => { for (const b of bytes) h.onConsole(b); });
  add(con, "virtio-console");
  const attached = disks.filter((x): x is BlockBackend => !!x);
  const blks = attached.map((b) => new VirtioBlk(b));
  blks.forEach((b, i) => add(b, i === 0 ? "virtio-blk" : `virtio-blk${i}`));
  const debugExit = new DebugExit(h.onDebugExit), debugcon = new DebugCon(h.onConsole);
  bus.addPorts(DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, debugExit, "debug-exit");
  bus.addPorts(DEBUGCON_PORT, 1, debugcon, "debugcon");
  const timer = new PvTimer(pv.timerIrq);
  return {
    kind: "pv",
    bus,
    disks,
    pic: { peek: () => -1, acknowledge: () => -1 }, // events go through the shared page (para mode)
    timers: timer,
    receive: (bytes) => con.receive(bytes),
    pump: () => {},
    virtio, virtioConsole: con, virtioBlk: blks, pvTimer: timer,
    save: () => ({ virtio: virtio.map((v) => v.save()), levels: [...levels], timer: saveState(timer), debugExit: debugExit.save(), debugcon: debugcon.save(), bus: bus.save() }),
    restore: (s) => {
      const st = s as { virtio: Saved[]; levels: boolean[]; timer: Saved; debugExit: Saved; debugcon: Saved; bus: Saved };
      virtio.forEach((v, i) => v.restore(st.virtio[i]));
      st.levels.forEach((l, i) => { levels[i] = l; });
      loadState(timer, st.timer);
      debugExit.restore(st.debugExit);
      debugcon.restore(st.debugcon);
      bus.restore(st.bus);
    },
    stats: () => ({
      virtio: Object.fromEntries(virtio.map((d, i) => [i === 0 ? "console" : i === 1 ? "blk" : `blk${i - 1}`, {
        ...d.stats, queues: d.queues.map((q) => q.stats), errors: Object.fromEntries(d.errors.counts),
        device: (d.device as VirtioBlk | VirtioConsole).stats,
      }])),
    }),
  };
}
