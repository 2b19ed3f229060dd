// mmio.ts — the virtio-mmio transport, version 2 (virtio 1.x §4.2 "Virtio Over MMIO"), as QEMU's and
// Firecracker's virtio-mmio devices present it. One 0x200-byte register window per device:
//
//   0x000 MagicValue  R  0x74726976 "virt"      0x050 QueueNotify      W  queue index (the doorbell)
//   0x004 Version     R  2                       0x060 InterruptStatus  R  bit 0 used buffer, bit 1 config change
//   0x008 DeviceID    R  2 blk, 3 console        0x064 InterruptACK     W  clears the bits written
//   0x00c VendorID    R  "WVSR"                  0x070 Status           RW device status (0 = reset)
//   0x010 DeviceFeatures     R (32 bits, by sel) 0x080/0x084 QueueDescLow/High    W
//   0x014 DeviceFeaturesSel  W                   0x090/0x094 QueueDriverLow/High  W (available ring)
//   0x020 DriverFeatures     W (32 bits, by sel) 0x0a0/0x0a4 QueueDeviceLow/High  W (used ring)
//   0x024 DriverFeaturesSel  W                   0x0fc ConfigGeneration R
//   0x030 QueueSel    W                          0x100… device configuration space
//   0x034 QueueNumMax R  (0: no such queue)
//   0x038 QueueNum    W
//   0x044 QueueReady  RW
//
// Registers are 32-bit; a narrower access to them is a driver error (counted, read as 0 / ignored), except in
// the configuration space, which allows 8/16/32-bit accesses. The queue registers may only be written while the
// queue is not ready; the features only before FEATURES_OK. Setting FEATURES_OK with a feature the device does not
// offer, or without VIRTIO_F_VERSION_1, leaves the bit clear (§3.1.1: the driver re-reads it and gives up).
//
// Errors: a driver mistake in a virtqueue (a malformed chain, a queue configured outside guest memory...) sets
// DEVICE_NEEDS_RESET (0x40) in Status and raises a configuration-change interrupt (§2.1.2); the device then
// processes nothing until the driver writes 0 to Status. Every such event is counted in `errors`.
//
// The interrupt output is a level: high while InterruptStatus != 0 (QEMU's and Firecracker's behaviour).
import type { AccessSize, IoDevice } from "../bus.ts";
import { GuestErrors, type IrqLine, type LogFn, noIrq } from "../devices/guestlog.ts";
import type { GuestMemory } from "./memory.ts";
import { Queue, QueueError } from "./queue.ts";
import { saveState, loadState, type Saved } from "../persist.ts";

export const VIRTIO_MMIO_MAGIC = 0x74726976;
export const VIRTIO_MMIO_VERSION = 2;
export const VIRTIO_VENDOR_ID = 0x52535657; // "WVSR"
export const VIRTIO_MMIO_SIZE = 0x200;
/** Where the para platform puts its devices: device i at VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_SIZE (IRQ VIRTIO_IRQ_BASE + i). */
export const VIRTIO_MMIO_BASE = 0xfeb00000;
export const VIRTIO_IRQ_BASE = 5;

export const R = {
  MAGIC: 0x000, VERSION: 0x004, DEVICE_ID: 0x008, VENDOR_ID: 0x00c,
  DEVICE_FEATURES: 0x010, DEVICE_FEATURES_SEL: 0x014, DRIVER_FEATURES: 0x020, DRIVER_FEATURES_SEL: 0x024,
  QUEUE_SEL: 0x030, QUEUE_NUM_MAX: 0x034, QUEUE_NUM: 0x038, QUEUE_READY: 0x044, QUEUE_NOTIFY: 0x050,
  INTERRUPT_STATUS: 0x060, INTERRUPT_ACK: 0x064, STATUS: 0x070,
  QUEUE_DESC_LOW: 0x080, QUEUE_DESC_HIGH: 0x084, QUEUE_DRIVER_LOW: 0x090, QUEUE_DRIVER_HIGH: 0x094,
  QUEUE_DEVICE_LOW: 0x0a0, QUEUE_DEVICE_HIGH: 0x0a4, CONFIG_GENERATION: 0x0fc, CONFIG: 0x100,
} as const;

export const STATUS = { ACKNOWLEDGE: 1, DRIVER: 2, DRIVER_OK: 4, FEATURES_OK: 8, NEEDS_RESET: 0x40, FAILED: 0x80 } as const;
export const INT_USED = 1;
export const INT_CONFIG = 2;

/** Feature bits common to all devices (§6). Bits >= 32 are in the high word. */
export const F = { INDIRECT_DESC: 28, EVENT_IDX: 29, VERSION_1: 32 } as const;

/** What a device type implements; the transport does the rest. */
export interface VirtioDeviceModel {
  readonly deviceId: number;
  /** device-type feature bits (the transport adds VERSION_1, INDIRECT_DESC and EVENT_IDX) */
  readonly features: bigint;
  /** max size of each virtqueue */
  readonly queueSizes: readonly number[];
  readonly configSize: number;
  readConfig(offset: number): number; // one byte
  writeConfig?(offset: number, value: number): void;
  /**
   * The driver kicked queue `q` (or the device is polled): take chains with queue.pop(mem), complete them with
   * queue.addUsed(). Return a QueueError to put the device in NEEDS_RESET.
   */
  process(q: number, queue: Queue, mem: GuestMemory): QueueError | null | void;
  reset?(): void;
}

export interface VirtioMmioOptions {
  irq?: IrqLine;
  log?: LogFn;
  name?: string;
}

export interface MmioStats {
  notifies: number;
  interrupts: number;
  needsReset: number;
  configAccesses: number;
  /** exceptions thrown by the device model, caught here (a host bug: always 0 unless something is wrong) */
  deviceErrors: number;
}

export class VirtioMmio implements IoDevice {
  /** Device state for a snapshot (host/persist.ts): every field but the wiring the constructor makes. */
  save(): Saved { return saveState(this); }
  /** Puts saved state back into a VirtioMmio built with the same options. */
  restore(s: Saved): void { loadState(this, s); }

  readonly queues: Queue[];
  readonly errors: GuestErrors;
  readonly stats: MmioStats = { notifies: 0, interrupts: 0, needsReset: 0, configAccesses: 0, deviceErrors: 0 };
  status = 0;
  interruptStatus = 0;
  configGeneration = 0;
  driverFeatures = 0n;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private queueSel = 0;
  private irqLevel = false;
  private readonly irq: IrqLine;
  readonly offered: bigint;

  constructor(readonly device: VirtioDeviceModel, readonly mem: GuestMemory, opts: VirtioMmioOptions = {}) {
    this.queues = device.queueSizes.map((s) => new Queue(s));
    this.irq = opts.irq ?? noIrq;
    this.errors = new GuestErrors(opts.name ?? `virtio-mmio(${device.deviceId})`, opts.log);
    this.offered = device.features | (1n << BigInt(F.VERSION_1)) | (1n << BigInt(F.INDIRECT_DESC)) | (1n << BigInt(F.EVENT_IDX));
  }

  has(bit: number): boolean { return (this.driverFeatures >> BigInt(bit)) & 1n ? true : false; }

  // ---------------------------------------------------------------- registers
  read(off: number, size: AccessSize): number {
    if (off >= R.CONFIG) {
      this.stats.configAccesses++;
      let v = 0;
      for (let i = 0; i < size; i++) {
        const o = off - R.CONFIG + i;
        v |= (o < this.device.configSize ? this.device.readConfig(o) & 0xff : 0) << (8 * i);
      }
      return v >>> 0;
    }
    if (size !== 4 || off % 4) { this.errors.report("narrow-read", `${size}-byte read of register 0x${off.toString(16)}`); return 0; }
    const q = this.queues[this.queueSel];
    switch (off) {
      case R.MAGIC: return VIRTIO_MMIO_MAGIC;
      case R.VERSION: return VIRTIO_MMIO_VERSION;
      case R.DEVICE_ID: return this.device.deviceId;
      case R.VENDOR_ID: return VIRTIO_VENDOR_ID;
      case R.DEVICE_FEATURES: return this.deviceFeaturesSel > 1 ? 0 : Number((this.offered >> BigInt(32 * this.deviceFeaturesSel)) & 0xffffffffn);
      case R.QUEUE_NUM_MAX: return q ? q.maxSize : 0;
      case R.QUEUE_READY: return q && q.ready ? 1 : 0;
      case R.INTERRUPT_STATUS: return this.interruptStatus;
      case R.STATUS: return this.status;
      case R.CONFIG_GENERATION: return this.configGeneration;
      default:
        this.errors.report("bad-read", `read of write-only or reserved register 0x${off.toString(16)}`);
        return 0;
    }
  }

  write(off: number, size: AccessSize, value: number): void {
    if (off >= R.CONFIG) {
      this.stats.configAccesses++;
      for (let i = 0; i < size; i++) {
        const o = off - R.CONFIG + i;
        if (o < this.device.configSize && this.device.writeConfig) this.device.writeConfig(o, (value >>> (8 * i)) & 0xff);
      }
      return;
    }
    if (size !== 4 || off % 4) { this.errors.report("narrow-write", `${size}-byte write of register 0x${off.toString(16)}`); return; }
    value >>>= 0;
    const q = this.queues[this.queueSel];
    switch (off) {
      case R.DEVICE_FEATURES_SEL: this.deviceFeaturesSel = value; return;
      case R.DRIVER_FEATURES_SEL: this.driverFeaturesSel = value; return;
      case R.DRIVER_FEATURES:
        if (this.status & STATUS.FEATURES_OK) { this.errors.report("late-features", "driver features written after FEATURES_OK"); return; }
        if (this.driverFeaturesSel > 1) return;
        {
          const shift = BigInt(32 * this.driverFeaturesSel);
          this.driverFeatures = (this.driverFeatures & ~(0xffffffffn << shift)) | (BigInt(value) << shift);
        }
        return;
      case R.QUEUE_SEL: this.queueSel = value; return;
      case R.QUEUE_NUM: if (this.queueWritable(q)) q!.size = value; return;
      case R.QUEUE_DESC_LOW: if (this.queueWritable(q)) q!.descTable = value; return;
      case R.QUEUE_DESC_HIGH: if (this.queueWritable(q)) q!.descHi = value; return;
      case R.QUEUE_DRIVER_LOW: if (this.queueWritable(q)) q!.availRing = value; return;
      case R.QUEUE_DRIVER_HIGH: if (this.queueWritable(q)) q!.availHi = value; return;
      case R.QUEUE_DEVICE_LOW: if (this.queueWritable(q)) q!.usedRing = value; return;
      case R.QUEUE_DEVICE_HIGH: if (this.queueWritable(q)) q!.usedHi = value; return;
      case R.QUEUE_READY:
        if (!q) { this.errors.report("no-queue", `QueueReady for queue ${this.queueSel}, which does not exist`); return; }
        if ((value & 1) && !q.ready) {
          const e = q.validate(this.mem);
          if (e) { q.fail(e); this.needsReset(e); return; }
          q.eventIdx = this.has(F.EVENT_IDX);
          q.indirect = this.has(F.INDIRECT_DESC);
          q.ready = true;
        } else if (!(value & 1)) q.ready = false;
        return;
      case R.QUEUE_NOTIFY:
        this.stats.notifies++;
        this.notify(value & 0xffff);
        return;
      case R.INTERRUPT_ACK:
        this.interruptStatus &= ~value;
        this.updateIrq();
        return;
      case R.STATUS:
        this.setStatus(value & 0xff);
        return;
      default:
        this.errors.report("bad-write", `write of read-only or reserved register 0x${off.toString(16)}`);
    }
  }

  private queueWritable(q: Queue | undefined): boolean {
    if (!q) { this.errors.report("no-queue", `queue register write for queue ${this.queueSel}, which does not exist`); return false; }
    if (q.ready) { this.errors.report("queue-live", `queue ${this.queueSel} reconfigured while ready`); return false; }
    return true;
  }

  private setStatus(v: number): void {
    if (v === 0) { this.reset(); return; }
    if ((v & STATUS.FEATURES_OK) && !(this.status & STATUS.FEATURES_OK)) {
      const unsupported = this.driverFeatures & ~this.offered;
      if (unsupported || !this.has(F.VERSION_1)) {
        this.errors.report("features", `driver accepted features the device does not offer or not VERSION_1 (0x${this.driverFeatures.toString(16)})`);
        v &= ~STATUS.FEATURES_OK;
      }
    }
    // the driver cannot clear bits (other than by reset) nor set NEEDS_RESET itself
    this.status = (this.status & STATUS.NEEDS_RESET) | (this.status | v) & ~STATUS.NEEDS_RESET;
  }

  reset(): void {
    this.status = 0;
    this.interruptStatus = 0;
    this.driverFeatures = 0n;
    this.deviceFeaturesSel = this.driverFeaturesSel = this.queueSel = 0;
    for (const q of this.queues) q.reset();
    this.device.reset?.();
    this.updateIrq();
  }

  // ---------------------------------------------------------------- the doorbell

  get live(): boolean {
    return (this.status & STATUS.DRIVER_OK) !== 0 && !(this.status & (STATUS.NEEDS_RESET | STATUS.FAILED));
  }

  /** Processes queue q (a QueueNotify write, or a hypercall doorbell): one interrupt at most for the whole batch. */
  notify(qi: number): void {
    const q = this.queues[qi];
    if (!q) { this.errors.report("no-queue", `notify for queue ${qi}, which does not exist`); return; }
    if (!this.live || !q.ready || q.broken) { this.errors.report("notify-idle", `notify for queue ${qi} while it is not live`); return; }
    let err: QueueError | null | void = null;
    try {
      err = this.device.process(qi, q, this.mem);
    } catch (e) {
      // a device-model bug must not take the VMM down; the guest sees a broken device
      this.stats.deviceErrors++;
      err = new QueueError("config", `device error: ${(e as Error).message}`);
      q.broken = true;
    }
    if (err) this.needsReset(err);
    if (q.needsInterrupt(this.mem)) this.raise(INT_USED);
  }

  private needsReset(e: QueueError): void {
    this.stats.needsReset++;
    this.errors.report(`queue.${e.code}`, e.message);
    this.status |= STATUS.NEEDS_RESET;
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    this.raise(INT_CONFIG);
  }

  raise(bits: number): void {
    this.interruptStatus |= bits;
    this.stats.interrupts++;
    this.updateIrq();
  }

  private updateIrq(): void {
    const level = this.interruptStatus !== 0;
    if (level !== this.irqLevel) { this.irqLevel = level; this.irq(level); }
  }

  get irqAsserted(): boolean { return this.irqLevel; }
}
