// index.ts — the device models and createPcDevices(), which builds the standard PC set on a Bus:
//   PIC pair 0x20-0x21 / 0xa0-0xa1 (INT → opts.intr), PIT 0x40-0x43 (OUT0 → IRQ 0) and port 0x61,
//   COM1 16550A 0x3f8-0x3ff (IRQ 4), ATA primary 0x1f0-0x1f7 + 0x3f6 (IRQ 14, only with a disk),
//   POST code port 0x80, debugcon 0xe9, isa-debug-exit 0xf4-0xf7.
import { Bus } from "../bus.ts";
import { ATA_PRIMARY_BASE, ATA_PRIMARY_CTRL, ATA_PRIMARY_IRQ, AtaChannel, type AtaOptions } from "./ata.ts";
import type { BlockBackend } from "./block.ts";
import { DEBUGCON_PORT, DebugCon } from "./debugcon.ts";
import { DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, DebugExit } from "./debugexit.ts";
import type { IrqLine, LogFn } from "./guestlog.ts";
import { PIC_MASTER_BASE, PIC_SLAVE_BASE, Pic8259Pair } from "./pic8259.ts";
import { PIT_BASE, PIT_IRQ, PIT_PORT61, Pit8254 } from "./pit8254.ts";
import { POST_CODE_PORT, PostCodePort } from "./postcode.ts";
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
export { Bus, type IoDevice, type AccessSize } from "../bus.ts";

export interface PcDevicesOptions {
  /** register on this bus instead of a new one */
  bus?: Bus;
  /** the PIC's INT output → the CPU's INTR input */
  intr?: IrqLine;
  /** COM1 output (console) */
  onSerialTransmit?: (byte: number) => void;
  serial?: Omit<Uart16550Options, "irq" | "onTransmit" | "log">;
  /** the primary master disk; without one the ATA ports stay unclaimed (a floating bus reads 0xff: "no controller") */
  disk?: BlockBackend;
  ata?: Omit<AtaOptions, "irq" | "log">;
  onDebugExit?: (status: number) => void;
  onDebugcon?: (byte: number) => void;
  onPostCode?: (code: number) => void;
  /** guest-misbehaviour log shared by all devices (rate-limited per kind) */
  log?: LogFn;
}

export interface PcDevices {
  bus: Bus;
  pic: Pic8259Pair;
  pit: Pit8254;
  uart: Uart16550;
  ata: AtaChannel | null;
  debugExit: DebugExit;
  debugcon: DebugCon;
  postCode: PostCodePort;
}

export function createPcDevices(opts: PcDevicesOptions = {}): PcDevices {
  const bus = opts.bus ?? new Bus({ log: opts.log });
  const pic = new Pic8259Pair({ intr: opts.intr, log: opts.log });
  const pit = new Pit8254({ irq: pic.line(PIT_IRQ), log: opts.log });
  const uart = new Uart16550({ ...opts.serial, irq: pic.line(COM1_IRQ), onTransmit: opts.onSerialTransmit, log: opts.log });
  const ata = opts.disk ? new AtaChannel(opts.disk, { ...opts.ata, irq: pic.line(ATA_PRIMARY_IRQ), log: opts.log }) : null;
  const debugExit = new DebugExit(opts.onDebugExit);
  const debugcon = new DebugCon(opts.onDebugcon);
  const postCode = new PostCodePort(opts.onPostCode);

  bus.addPorts(PIC_MASTER_BASE, 2, pic.master, "pic-master");
  bus.addPorts(PIC_SLAVE_BASE, 2, pic.slave, "pic-slave");
  bus.addPorts(PIT_BASE, 4, pit, "pit");
  bus.addPorts(PIT_PORT61, 1, pit.port61, "port61");
  bus.addPorts(COM1_BASE, 8, uart, "com1");
  if (ata) {
    bus.addPorts(ATA_PRIMARY_BASE, 8, ata.command, "ata0");
    bus.addPorts(ATA_PRIMARY_CTRL, 1, ata.control, "ata0-ctl");
  }
  bus.addPorts(POST_CODE_PORT, 1, postCode, "post");
  bus.addPorts(DEBUGCON_PORT, 1, debugcon, "debugcon");
  bus.addPorts(DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, debugExit, "debug-exit");
  return { bus, pic, pit, uart, ata, debugExit, debugcon, postCode };
}
