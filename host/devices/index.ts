// index.ts — the device models and createPcDevices(), which builds the standard PC set on a Bus:
//   PIC pair 0x20-0x21 / 0xa0-0xa1 (INT → opts.intr), PIT 0x40-0x43 (OUT0 → IRQ 0) and port 0x61,
//   8042 keyboard controller 0x60/0x64 (IRQ 1, aux IRQ 12), MC146818 RTC/CMOS 0x70-0x71 (IRQ 8),
//   COM1 16550A 0x3f8-0x3ff (IRQ 4), ATA primary 0x1f0-0x1f7 + 0x3f6 (IRQ 14, only with a disk: master and/or
//   slave), ATA secondary 0x170-0x177 + 0x376 (IRQ 15, only with a disk), POST code port 0x80, debugcon 0xe9,
//   isa-debug-exit 0xf4-0xf7.
//   platform "mp" (default) adds the SMP-style interrupt system: a local APIC at 0xFEE00000 (ID 0) in front of the
//   CPU's INTR (the 8259 INT reaches it through LINT0 in ExtINT mode: virtual wire) and an I/O APIC at 0xFEC00000
//   (ID 1) whose pins see the same ISA lines as the 8259 (ISA IRQ n → pin n, except IRQ 0 → pin 2); the MP tables
//   describing this (mptable.ts) are written by the loader. Platform "pc" is the 8259-only set.
import { Bus } from "../bus.ts";
import {
  ATA_PRIMARY_BASE, ATA_PRIMARY_CTRL, ATA_PRIMARY_IRQ, ATA_SECONDARY_BASE, ATA_SECONDARY_CTRL, ATA_SECONDARY_IRQ, AtaChannel, type AtaOptions,
} from "./ata.ts";
import { AUX_IRQ, I8042, I8042_DATA_PORT, I8042_STATUS_PORT, KBD_IRQ } from "./i8042.ts";
import { IOAPIC_BASE, IoApic } from "./ioapic.ts";
import { LAPIC_BASE, LAPIC_SIZE, LocalApic } from "./lapic.ts";
import { isaIrqToIoApicPin, type MpConfig } from "./mptable.ts";
import { RTC_INDEX_PORT, RTC_IRQ, Rtc, type RtcOptions } from "./rtc.ts";
import type { BlockBackend } from "./block.ts";
import { DEBUGCON_PORT, DebugCon } from "./debugcon.ts";
import { DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, DebugExit } from "./debugexit.ts";
import type { IrqLine, LogFn } from "./guestlog.ts";
import { PIC_MASTER_BASE, PIC_SLAVE_BASE, Pic8259Pair } from "./pic8259.ts";
import { PIT_BASE, PIT_IRQ, PIT_PORT61, Pit8254 } from "./pit8254.ts";
import { POST_CODE_PORT, PostCodePort } from "./postcode.ts";
import { VgaCrtc, VGA_CRTC_COLOR, VGA_CRTC_MONO, VGA_MISC_WRITE, VGA_MISC_READ } from "./vgacrtc.ts";
import { COM1_BASE, COM1_IRQ, Uart16550, type Uart16550Options } from "./uart16550.ts";

export * from "./guestlog.ts";
export * from "./block.ts";
export * from "./uart16550.ts";
export * from "./pic8259.ts";
export * from "./pit8254.ts";
export * from "./ata.ts";
export * from "./debugexit.ts";
export * from "./debugcon.ts";
export * from "./postcode.ts";
export * from "./lapic.ts";
export * from "./ioapic.ts";
export * from "./mptable.ts";
export * from "./i8042.ts";
export * from "./rtc.ts";
export { Bus, type IoDevice, type AccessSize } from "../bus.ts";

export interface PcDevicesOptions {
  /** register on this bus instead of a new one */
  bus?: Bus;
  /** the PIC's INT output → the CPU's INTR input */
  intr?: IrqLine;
  /** COM1 output (console) */
  onSerialTransmit?: (byte: number) => void;
  serial?: Omit<Uart16550Options, "irq" | "onTransmit" | "log">;
  /** the primary master disk; without it and disk2 the ATA ports stay unclaimed (a floating bus reads 0xff: "no controller") */
  disk?: BlockBackend;
  /** the primary slave disk (device 1) */
  disk2?: BlockBackend;
  /** disks on the secondary channel (0x170, IRQ 15) */
  secondary?: { master?: BlockBackend; slave?: BlockBackend };
  /** "mp" (default): local APIC + I/O APIC in front of the CPU; "pc": the 8259 pair only */
  platform?: PcPlatformKind;
  /** RTC start time and CMOS memory size */
  rtc?: Omit<RtcOptions, "irq" | "log">;
  /** the guest pulsed the reset line (8042) */
  onReset?: () => void;
  ata?: Omit<AtaOptions, "irq" | "log">;
  onDebugExit?: (status: number) => void;
  onDebugcon?: (byte: number) => void;
  onPostCode?: (code: number) => void;
  /** guest-misbehaviour log shared by all devices (rate-limited per kind) */
  log?: LogFn;
}

export type PcPlatformKind = "pc" | "mp";
export const PC_PLATFORMS: readonly PcPlatformKind[] = ["pc", "mp"];

export interface PcDevices {
  bus: Bus;
  pic: Pic8259Pair;
  pit: Pit8254;
  uart: Uart16550;
  ata: AtaChannel | null;
  ata2: AtaChannel | null;
  kbc: I8042;
  rtc: Rtc;
  /** platform "mp" only */
  lapic: LocalApic | null;
  ioapic: IoApic | null;
  /** what the CPU's INTR line sees: the local APIC ("mp") or the master 8259 ("pc") */
  cpu: { peek(): number; acknowledge(): number };
  /** the MP tables the firmware must leave in memory (platform "mp"), else null */
  mpConfig: MpConfig | null;
  debugExit: DebugExit;
  debugcon: DebugCon;
  postCode: PostCodePort;
  /** the VGA CRT controller's registers (a text console's cursor), no display */
  crtc: VgaCrtc;
}

export function createPcDevices(opts: PcDevicesOptions = {}): PcDevices {
  const bus = opts.bus ?? new Bus({ log: opts.log });
  const kind = opts.platform ?? "mp";
  if (!PC_PLATFORMS.includes(kind)) throw new RangeError(`wasmvisor devices: unknown platform '${kind}'`);
  const pic = new Pic8259Pair({ intr: opts.intr, log: opts.log });
  let ioapic: IoApic | null = null, lapic: LocalApic | null = null;
  if (kind === "mp") {
    lapic = new LocalApic({
      id: 0,
      extInt: { peek: () => pic.peekVector(), acknowledge: () => pic.acknowledge() },
      onEoi: (v) => ioapic!.eoi(v),
      log: opts.log,
    });
    const la = lapic;
    ioapic = new IoApic({ id: 1, deliver: (msg) => { if (!la.matches(msg.destMode, msg.dest)) return false; la.receive(msg); return true; }, log: opts.log });
  }
  const io = ioapic;
  /** an ISA interrupt line: the 8259 input and (platform "mp") the I/O APIC pin */
  const isa = (irq: number): IrqLine => {
    const pin = isaIrqToIoApicPin(irq);
    return io ? (level) => { pic.setIrq(irq, level); io.setPin(pin, level); } : pic.line(irq);
  };
  const pit = new Pit8254({ irq: isa(PIT_IRQ), log: opts.log });
  // Platform "mp" wires COM1's interrupt output straight to IRQ 4, not through the MCR.OUT2 buffer: that is QEMU's
  // PC, which the SMP teaching kernels are written against (xv6's uartinit leaves MCR = 0). Platform "pc" keeps
  // the PC/AT gate. An explicit serial.gateIrqWithOut2 wins.
  const uart = new Uart16550({
    ...opts.serial, gateIrqWithOut2: opts.serial?.gateIrqWithOut2 ?? kind === "pc",
    irq: isa(COM1_IRQ), onTransmit: opts.onSerialTransmit, log: opts.log,
  });
  const ata = opts.disk || opts.disk2
    ? new AtaChannel(opts.disk ?? null, { ...opts.ata, slave: opts.disk2, irq: isa(ATA_PRIMARY_IRQ), log: opts.log })
    : null;
  const sec = opts.secondary;
  const ata2 = sec && (sec.master || sec.slave)
    ? new AtaChannel(sec.master ?? null, { ...opts.ata, slave: sec.slave, irq: isa(ATA_SECONDARY_IRQ), log: opts.log })
    : null;
  const kbc = new I8042({ irq1: isa(KBD_IRQ), irq12: isa(AUX_IRQ), onReset: opts.onReset, log: opts.log });
  const rtc = new Rtc({ ...opts.rtc, irq: isa(RTC_IRQ), log: opts.log });
  const debugExit = new DebugExit(opts.onDebugExit);
  const debugcon = new DebugCon(opts.onDebugcon);
  const postCode = new PostCodePort(opts.onPostCode);
  const crtc = new VgaCrtc();

  bus.addPorts(PIC_MASTER_BASE, 2, pic.master, "pic-master");
  bus.addPorts(PIC_SLAVE_BASE, 2, pic.slave, "pic-slave");
  bus.addPorts(PIT_BASE, 4, pit, "pit");
  bus.addPorts(I8042_DATA_PORT, 1, kbc.data, "i8042-data");
  bus.addPorts(PIT_PORT61, 1, pit.port61, "port61");
  bus.addPorts(I8042_STATUS_PORT, 1, kbc.command, "i8042-cmd");
  bus.addPorts(RTC_INDEX_PORT, 2, rtc, "rtc");
  bus.addPorts(COM1_BASE, 8, uart, "com1");
  if (ata) {
    bus.addPorts(ATA_PRIMARY_BASE, 8, ata.command, "ata0");
    bus.addPorts(ATA_PRIMARY_CTRL, 1, ata.control, "ata0-ctl");
  }
  if (ata2) {
    bus.addPorts(ATA_SECONDARY_BASE, 8, ata2.command, "ata1");
    bus.addPorts(ATA_SECONDARY_CTRL, 1, ata2.control, "ata1-ctl");
  }
  bus.addPorts(POST_CODE_PORT, 1, postCode, "post");
  bus.addPorts(VGA_CRTC_COLOR, 2, crtc.pair, "vga-crtc");
  bus.addPorts(VGA_CRTC_MONO, 2, crtc.pair, "vga-crtc-mono");
  bus.addPorts(VGA_MISC_WRITE, 1, crtc.miscWrite, "vga-misc");
  bus.addPorts(VGA_MISC_READ, 1, crtc.miscRead, "vga-misc-read");
  bus.addPorts(DEBUGCON_PORT, 1, debugcon, "debugcon");
  bus.addPorts(DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, debugExit, "debug-exit");
  if (lapic && ioapic) {
    bus.addMmio(LAPIC_BASE, LAPIC_SIZE, lapic, "lapic");
    bus.addMmio(IOAPIC_BASE, 0x1000, ioapic, "ioapic");
  }
  const cpu = lapic
    ? { peek: () => lapic!.peek(), acknowledge: () => lapic!.acknowledge() }
    : { peek: () => pic.peekVector(), acknowledge: () => pic.acknowledge() };
  // the processor entry repeats CPUID.1 (EAX family 6; EDX: PSE TSC MSR CX8 APIC PGE CMOV, as the CPU reports
  // with the APIC bit set by the VM: Machine.setCpuidFeatures({ apic: true }))
  const mpConfig: MpConfig | null = lapic ? { lapicId: 0, ioapicId: 1, cpuSignature: 0x600, cpuFeatures: 0xa338 } : null;
  return { bus, pic, pit, uart, ata, ata2, kbc, rtc, lapic, ioapic, cpu, mpConfig, debugExit, debugcon, postCode, crtc };
}
