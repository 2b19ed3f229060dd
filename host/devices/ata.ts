// ata.ts — an ATA/IDE channel in PIO mode (primary: command block 0x1f0-0x1f7, control block 0x3f6, IRQ 14;
// secondary: 0x170-0x177, 0x376, IRQ 15) with up to two hard disks, device 0 (master) and device 1 (slave).
// Pure state machine over BlockBackends; commands complete synchronously, so BSY is only ever seen during a
// software reset.
// References: ATA/ATAPI-6 (T13 1410D) §5.2 (device selection, INTRQ), §6 register descriptions, §9 protocols (PIO
// data-in 9.5, PIO data-out 9.6, non-data 9.4, software reset 9.2/9.3), §8 command descriptions (IDENTIFY DEVICE
// 8.15 with its word table, EXECUTE DEVICE DIAGNOSTIC 8.11).
//
// Two devices: the command-block registers are written to both devices; each device keeps its own Status, Error,
// data buffer, transfer and interrupt-pending state, and the one selected by the DEV bit answers reads and drives
// INTRQ (only with nIEN=0; §5.2.11: otherwise high impedance). Simplification: the LBA/count registers are one
// shared copy (a command's progress written back by one device is visible with the other selected).
// Absent device 1 (per ATA-6 §6, device 0 responding for an absent device 1, and as QEMU does): with DEV=1 the
// Status and Alternate Status registers read 00h, the Error register reads 00h, the shared registers read what was
// written, and commands other than EXECUTE DEVICE DIAGNOSTIC are ignored (counted).
// Absent device 0 with device 1 present (as QEMU does, so that a driver polling for DRDY with device 0 selected
// does not hang): device 0 reads Status 50h and aborts every command except EXECUTE DEVICE DIAGNOSTIC (counted).
// Supported: IDENTIFY DEVICE, READ/WRITE SECTORS (+EXT, LBA48), READ VERIFY (+EXT), FLUSH CACHE (+EXT), SET FEATURES
// (write cache, PIO transfer modes), INITIALIZE DEVICE PARAMETERS, EXECUTE DEVICE DIAGNOSTIC, CHECK POWER MODE,
// IDLE/STANDBY (immediate), RECALIBRATE, SEEK; CHS and LBA28/LBA48 addressing. No DMA, no READ/WRITE MULTIPLE
// (IDENTIFY word 47 advertises 0), anything else is aborted (ABRT).
import type { AccessSize, IoDevice } from "../bus.ts";
import { type BlockBackend, SECTOR_SIZE } from "./block.ts";
import { GuestErrors, hex, type IrqLine, type LogFn, noIrq } from "./guestlog.ts";
import { saveState, loadState, type Saved } from "../persist.ts";
import { defaultGeometry, identifyBlock } from "./ata-identify.ts";

export { defaultGeometry };

export const ATA_PRIMARY_BASE = 0x1f0;
export const ATA_PRIMARY_CTRL = 0x3f6;
export const ATA_PRIMARY_IRQ = 14;
export const ATA_SECONDARY_BASE = 0x170;
export const ATA_SECONDARY_CTRL = 0x376;
export const ATA_SECONDARY_IRQ = 15;

// Status register (§6.14)
export const ST_BSY = 0x80, ST_DRDY = 0x40, ST_DF = 0x20, ST_DSC = 0x10, ST_DRQ = 0x08, ST_ERR = 0x01;
// Error register (§6.10)
export const ERR_AMNF = 0x01, ERR_ABRT = 0x04, ERR_IDNF = 0x10, ERR_UNC = 0x40;
// Device control (§6.9)
export const CTL_NIEN = 0x02, CTL_SRST = 0x04, CTL_HOB = 0x80;
// Device/head (§6.8)
export const DEV_LBA = 0x40, DEV_DEV = 0x10;

export const CMD = {
  RECALIBRATE: 0x10, READ_SECTORS: 0x20, READ_SECTORS_NR: 0x21, READ_SECTORS_EXT: 0x24,
  WRITE_SECTORS: 0x30, WRITE_SECTORS_NR: 0x31, WRITE_SECTORS_EXT: 0x34,
  READ_VERIFY: 0x40, READ_VERIFY_NR: 0x41, READ_VERIFY_EXT: 0x42, SEEK: 0x70,
  EXECUTE_DIAGNOSTIC: 0x90, INITIALIZE_PARAMS: 0x91, IDENTIFY_PACKET: 0xa1,
  STANDBY_IMMEDIATE: 0xe0, IDLE_IMMEDIATE: 0xe1, STANDBY: 0xe2, IDLE: 0xe3, CHECK_POWER_MODE: 0xe5,
  FLUSH_CACHE: 0xe7, FLUSH_CACHE_EXT: 0xea, IDENTIFY: 0xec, SET_FEATURES: 0xef,
} as const;

export interface AtaOptions {
  irq?: IrqLine;
  log?: LogFn;
  /** IDENTIFY strings (ASCII; padded with spaces, truncated to 40/20/8 characters) */
  model?: string;
  serial?: string;
  firmware?: string;
}

type Transfer = "none" | "in" | "out";

interface Addressing { mode: "chs" | "lba28" | "lba48" }

/** Per-device state: each device on the cable has its own status, error, buffer and transfer (ATA-6 §5.2). */
class AtaDrive {
  status = ST_DRDY | ST_DSC;
  error = 0x01; // diagnostic "passed" after power-on (§9.1)
  intPending = false;
  readonly buf = new Uint8Array(SECTOR_SIZE);
  pos = 0;
  xfer: Transfer = "none";
  xferLba = 0;
  xferLeft = 0;
  xferAddr: Addressing = { mode: "lba28" };
  writeCache = true;
  curHeads: number;
  curSpt: number;
  readonly geom: ReturnType<typeof defaultGeometry>;
  readonly identifyData = new Uint8Array(SECTOR_SIZE);

  /** backend null: device 0 absent while device 1 is present (answers registers, aborts commands) */
  constructor(readonly backend: BlockBackend | null, readonly index: 0 | 1) {
    this.geom = defaultGeometry(backend?.sectorCount ?? 1);
    this.curHeads = this.geom.heads;
    this.curSpt = this.geom.sectorsPerTrack;
  }
}

export interface AtaChannelOptions extends AtaOptions {
  /** the disk on device 1 (slave) */
  slave?: BlockBackend | null;
}

export class AtaChannel {
  /** Device state for a snapshot (host/persist.ts): every field but the wiring the constructor makes. */
  save(): Saved { return saveState(this); }
  /** Puts saved state back into a AtaChannel built with the same options. */
  restore(s: Saved): void { loadState(this, s); }

  /** IoDevice for the command block (8 ports at 0x1f0 / 0x170) */
  readonly command: IoDevice;
  /** IoDevice for the control block (1 port at 0x3f6 / 0x376: alternate status / device control) */
  readonly control: IoDevice;
  readonly errors: GuestErrors;
  readonly stats = { sectorsRead: 0, sectorsWritten: 0, commands: 0, interrupts: 0 };

  // task file (shared by both devices: writes go to both, §6); *Hob = previous value, for LBA48 (§6: "HOB")
  private features = 0;
  private count = 0; private countHob = 0;
  private lbaLow = 0; private lbaLowHob = 0;
  private lbaMid = 0; private lbaMidHob = 0;
  private lbaHigh = 0; private lbaHighHob = 0;
  private device = 0;
  private devControl = 0;
  private inReset = false;
  private irqLevel = false;

  /** [device 0, device 1]; device 0 is a "phantom" (backend null) when only device 1 has a disk */
  private readonly drives: [AtaDrive | null, AtaDrive | null];
  private readonly irq: IrqLine;
  private readonly opts: AtaOptions;

  /** `master` is the disk on device 0 (null: none); opts.slave the disk on device 1. At least one is required. */
  constructor(master: BlockBackend | null, opts: AtaChannelOptions = {}) {
    const slave = opts.slave ?? null;
    for (const b of [master, slave]) {
      if (b && (!Number.isSafeInteger(b.sectorCount) || b.sectorCount < 1)) throw new RangeError("wasmvisor ata: backend has no sectors");
    }
    if (!master && !slave) throw new RangeError("wasmvisor ata: a channel needs at least one disk");
    this.drives = [new AtaDrive(master, 0), slave ? new AtaDrive(slave, 1) : null];
    this.irq = opts.irq ?? noIrq;
    this.errors = new GuestErrors("ata", opts.log);
    this.opts = opts;
    this.command = {
      read: (o, s) => this.readCommand(o, s),
      write: (o, s, v) => this.writeCommand(o, s, v),
    };
    this.control = {
      read: (_o, s) => {
        const d = this.selected();
        const v = d ? d.status : 0; // alternate status: no interrupt side effect
        return s === 1 ? v : s === 2 ? v | 0xff00 : (v | 0xffffff00) >>> 0;
      },
      write: (_o, _s, v) => this.writeDeviceControl(v & 0xff),
    };
  }

  /** The disk on device 0 (null if only device 1 has one). */
  get backend(): BlockBackend | null {
    return this.drives[0]!.backend;
  }

  /** Current INTRQ pin level. */
  get irqAsserted(): boolean {
    return this.irqLevel;
  }

  /** The 512-byte IDENTIFY DEVICE block of device `dev` as the guest would read it (little-endian words). */
  identify(dev: 0 | 1 = 0): Uint8Array {
    const d = this.drives[dev];
    if (!d?.backend) throw new RangeError(`wasmvisor ata: no disk on device ${dev}`);
    return identifyBlock(d.identifyData, {
      sectors: d.backend.sectorCount, geom: d.geom, curHeads: d.curHeads, curSpt: d.curSpt, writeCache: d.writeCache,
      dev, otherPresent: dev === 0 && this.drives[1] !== null,
      serial: (this.opts.serial ?? "WVSR0001") + (dev ? "-1" : ""), firmware: this.opts.firmware ?? "0.1", model: this.opts.model ?? "WASMVISOR HARDDISK",
    });
  }

  // ---------------------------------------------------------------- register access

  /** The selected device, or null when device 1 is selected and absent. */
  private selected(): AtaDrive | null {
    return this.drives[(this.device & DEV_DEV) ? 1 : 0];
  }

  private readCommand(offset: number, size: AccessSize): number {
    if (offset === 0) return this.readData(size);
    if (size !== 1) {
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.readCommand(offset + i, 1) << (8 * i);
      return v >>> 0;
    }
    const hob = (this.devControl & CTL_HOB) !== 0;
    const d = this.selected();
    switch (offset) {
      case 1: return d ? d.error : 0;
      case 2: return hob ? this.countHob : this.count;
      case 3: return hob ? this.lbaLowHob : this.lbaLow;
      case 4: return hob ? this.lbaMidHob : this.lbaMid;
      case 5: return hob ? this.lbaHighHob : this.lbaHigh;
      case 6: return this.device | 0xa0; // bits 7 and 5 obsolete, read as one
      case 7:
        if (!d) return 0;
        // reading Status acknowledges the interrupt (§5.2.11 INTRQ)
        if (d.intPending) { d.intPending = false; this.updateIrq(); }
        return d.status;
    }
    this.errors.report("bad-offset", `read at offset ${offset}`);
    return 0xff;
  }

  private writeCommand(offset: number, size: AccessSize, value: number): void {
    if (offset === 0) return this.writeData(size, value);
    if (size !== 1) {
      for (let i = 0; i < size; i++) this.writeCommand(offset + i, 1, (value >>> (8 * i)) & 0xff);
      return;
    }
    value &= 0xff;
    if (this.inReset) {
      this.errors.report("write-in-reset", `write ${hex(value)} to offset ${offset} during SRST`);
      return;
    }
    // any command-block write clears HOB (§6.9)
    this.devControl &= ~CTL_HOB;
    switch (offset) {
      case 1: this.features = value; break;
      case 2: this.countHob = this.count; this.count = value; break;
      case 3: this.lbaLowHob = this.lbaLow; this.lbaLow = value; break;
      case 4: this.lbaMidHob = this.lbaMid; this.lbaMid = value; break;
      case 5: this.lbaHighHob = this.lbaHigh; this.lbaHigh = value; break;
      case 6: this.device = value & 0x5f; this.updateIrq(); break; // DEV selects who drives INTRQ
      case 7: this.executeCommand(value); break;
      default: this.errors.report("bad-offset", `write at offset ${offset}`);
    }
  }

  private writeDeviceControl(v: number): void {
    const wasReset = this.inReset;
    this.devControl = v & (CTL_NIEN | CTL_SRST | CTL_HOB);
    if (v & CTL_SRST) {
      if (!wasReset) {
        // §9.2: SRST asserted — abort everything on both devices, BSY until released
        this.inReset = true;
        for (const d of this.drives) {
          if (!d) continue;
          d.xfer = "none";
          d.status = ST_BSY;
          d.intPending = false;
        }
      }
    } else if (wasReset) {
      // §9.3: reset complete — diagnostic code 01h (device 0 passed, device 1 passed or absent), signature, no interrupt
      this.inReset = false;
      for (const d of this.drives) {
        if (!d) continue;
        d.status = ST_DRDY | ST_DSC;
        d.error = 0x01;
      }
      this.setSignature();
    }
    this.updateIrq();
  }

  private setSignature(): void {
    this.count = 1; this.lbaLow = 1; this.lbaMid = 0; this.lbaHigh = 0; this.device = 0;
  }

  // ---------------------------------------------------------------- data port

  private readData(size: AccessSize): number {
    if (size === 1) {
      this.errors.report("data-byte", "8-bit access to the 16-bit data register");
      return 0xff;
    }
    if (size === 4) return (this.readWord() | (this.readWord() << 16)) >>> 0;
    return this.readWord();
  }

  private readWord(): number {
    const d = this.selected();
    if (!d || d.xfer !== "in") {
      this.errors.report("data-without-drq", "data read without DRQ");
      return 0xffff;
    }
    const v = d.buf[d.pos] | (d.buf[d.pos + 1] << 8);
    d.pos += 2;
    if (d.pos >= SECTOR_SIZE) this.blockReadDone(d);
    return v;
  }

  private writeData(size: AccessSize, value: number): void {
    if (size === 1) {
      this.errors.report("data-byte", "8-bit access to the 16-bit data register");
      return;
    }
    this.writeWord(value & 0xffff);
    if (size === 4) this.writeWord(value >>> 16);
  }

  private writeWord(v: number): void {
    const d = this.selected();
    if (!d || d.xfer !== "out") {
      this.errors.report("data-without-drq", "data write without DRQ");
      return;
    }
    d.buf[d.pos] = v & 0xff;
    d.buf[d.pos + 1] = v >> 8;
    d.pos += 2;
    if (d.pos >= SECTOR_SIZE) this.blockWriteDone(d);
  }

  // ---------------------------------------------------------------- command completion (§9 protocols)

  private raise(d: AtaDrive): void {
    d.intPending = true;
    this.stats.interrupts++;
    this.updateIrq();
  }

  /** INTRQ is driven by the selected device only, and only with nIEN = 0 (§5.2.11: otherwise high impedance). */
  private updateIrq(): void {
    const d = this.selected();
    const level = !!d && d.intPending && (this.devControl & CTL_NIEN) === 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq(level);
    }
  }

  private complete(d: AtaDrive): void {
    d.xfer = "none";
    d.status = ST_DRDY | ST_DSC;
    d.error = 0;
    this.raise(d);
  }

  private fail(d: AtaDrive, err: number, why: string): void {
    this.errors.report("command-error", why);
    d.xfer = "none";
    d.status = ST_DRDY | ST_DSC | ST_ERR;
    d.error = err;
    this.raise(d);
  }

  /** PIO data-in: a block is ready — DRQ and an interrupt per block (§9.5). */
  private dataInReady(d: AtaDrive): void {
    d.pos = 0;
    d.xfer = "in";
    d.status = ST_DRDY | ST_DSC | ST_DRQ;
    d.error = 0;
    this.raise(d);
  }

  private executeCommand(cmd: number): void {
    const d = this.selected();
    if (cmd === CMD.EXECUTE_DIAGNOSTIC) return this.diagnostic();
    if (!d) {
      this.errors.report("absent-slave", `command ${hex(cmd)} to absent device 1 ignored`);
      return;
    }
    this.stats.commands++;
    if (d.xfer !== "none") this.errors.report("command-during-transfer", `command ${hex(cmd)} while DRQ; transfer aborted`);
    d.xfer = "none";
    d.intPending = false; // writing the Command register negates INTRQ
    this.updateIrq();
    const backend = d.backend;
    if (!backend) {
      // device 0 absent, device 1 present: commands to device 0 are aborted (as QEMU's IDE does)
      this.errors.report("absent-master", `command ${hex(cmd)} to absent device 0 aborted`);
      d.status = ST_DRDY | ST_DSC | ST_ERR;
      d.error = ERR_ABRT;
      this.raise(d);
      return;
    }
    switch (cmd) {
      case CMD.IDENTIFY:
        d.buf.set(this.identify(d.index));
        this.dataInReady(d);
        return;
      case CMD.READ_SECTORS: case CMD.READ_SECTORS_NR: case CMD.READ_SECTORS_EXT:
        if (this.beginTransfer(d, cmd === CMD.READ_SECTORS_EXT)) this.readBlock(d);
        return;
      case CMD.WRITE_SECTORS: case CMD.WRITE_SECTORS_NR: case CMD.WRITE_SECTORS_EXT:
        if (backend.readonly) return this.fail(d, ERR_ABRT, "write to a read-only image");
        if (!this.beginTransfer(d, cmd === CMD.WRITE_SECTORS_EXT)) return;
        if (d.xferLba >= backend.sectorCount) return this.fail(d, ERR_IDNF, `write LBA ${d.xferLba} beyond ${backend.sectorCount} sectors`);
        // PIO data-out: the first block is requested without an interrupt (§9.6)
        d.pos = 0;
        d.xfer = "out";
        d.status = ST_DRDY | ST_DSC | ST_DRQ;
        return;
      case CMD.READ_VERIFY: case CMD.READ_VERIFY_NR: case CMD.READ_VERIFY_EXT: {
        if (!this.beginTransfer(d, cmd === CMD.READ_VERIFY_EXT)) return;
        const end = d.xferLba + d.xferLeft;
        if (end > backend.sectorCount) {
          this.setAddress(d, Math.max(d.xferLba, backend.sectorCount));
          return this.fail(d, ERR_IDNF, `verify beyond ${backend.sectorCount} sectors`);
        }
        return this.complete(d);
      }
      case CMD.FLUSH_CACHE: case CMD.FLUSH_CACHE_EXT:
        try {
          backend.flush();
        } catch (e) {
          return this.fail(d, ERR_ABRT, `flush failed: ${(e as Error).message}`);
        }
        return this.complete(d);
      case CMD.SET_FEATURES:
        return this.setFeatures(d);
      case CMD.INITIALIZE_PARAMS: {
        const spt = this.count, heads = (this.device & 0x0f) + 1;
        if (spt === 0) return this.fail(d, ERR_ABRT, "INITIALIZE DEVICE PARAMETERS with 0 sectors per track");
        d.curSpt = spt;
        d.curHeads = heads;
        return this.complete(d);
      }
      case CMD.CHECK_POWER_MODE:
        this.count = 0xff; // active or idle
        return this.complete(d);
      case CMD.STANDBY_IMMEDIATE: case CMD.IDLE_IMMEDIATE: case CMD.STANDBY: case CMD.IDLE:
        return this.complete(d);
      default:
        if ((cmd & 0xf0) === CMD.RECALIBRATE || (cmd & 0xf0) === CMD.SEEK) return this.complete(d); // legacy, no-ops
        // NOP (00h) always aborts (§8.22); IDENTIFY PACKET DEVICE aborts on a non-packet device
        return this.fail(d, ERR_ABRT, `unsupported command ${hex(cmd)}`);
    }
  }

  /**
   * EXECUTE DEVICE DIAGNOSTIC (§8.11): addressed to both devices whichever is selected; device 0 reports 01h
   * (device 0 passed, device 1 passed or absent), device 1 01h; signatures; device 0 selected; interrupt.
   */
  private diagnostic(): void {
    this.stats.commands++;
    for (const d of this.drives) {
      if (!d) continue;
      d.xfer = "none";
      d.status = ST_DRDY | ST_DSC;
      d.error = 0x01;
      d.intPending = false;
    }
    this.setSignature();
    this.raise(this.drives[0]!);
  }

  private setFeatures(d: AtaDrive): void {
    switch (this.features) {
      case 0x02: d.writeCache = true; return this.complete(d);
      case 0x82: d.writeCache = false; return this.complete(d);
      case 0x03: { // set transfer mode: PIO default (00h/01h) and PIO flow-control modes 0-4 (08h-0Ch); no DMA
        const m = this.count;
        if (m === 0x00 || m === 0x01 || (m >= 0x08 && m <= 0x0c)) return this.complete(d);
        return this.fail(d, ERR_ABRT, `SET FEATURES transfer mode ${hex(m)} not supported`);
      }
      case 0x55: case 0xaa: case 0x66: case 0xcc: // read look-ahead off/on, revert to defaults off/on
        return this.complete(d);
      default:
        return this.fail(d, ERR_ABRT, `SET FEATURES subcommand ${hex(this.features)} not supported`);
    }
  }

  /** Decode the address and count of a read/write command. False if it already failed (bad CHS address). */
  private beginTransfer(d: AtaDrive, ext: boolean): boolean {
    if (ext) {
      d.xferAddr = { mode: "lba48" };
      d.xferLba = this.lbaHighHob * 2 ** 40 + this.lbaMidHob * 2 ** 32 + this.lbaLowHob * 2 ** 24 +
        this.lbaHigh * 2 ** 16 + this.lbaMid * 2 ** 8 + this.lbaLow;
      const n = (this.countHob << 8) | this.count;
      d.xferLeft = n === 0 ? 65536 : n;
      return true;
    }
    d.xferLeft = this.count === 0 ? 256 : this.count;
    if (this.device & DEV_LBA) {
      d.xferAddr = { mode: "lba28" };
      d.xferLba = ((this.device & 0x0f) << 24 | this.lbaHigh << 16 | this.lbaMid << 8 | this.lbaLow) >>> 0;
      return true;
    }
    d.xferAddr = { mode: "chs" };
    const cyl = (this.lbaHigh << 8) | this.lbaMid, head = this.device & 0x0f, sector = this.lbaLow;
    if (sector < 1 || sector > d.curSpt || head >= d.curHeads) {
      this.fail(d, ERR_IDNF, `bad CHS address ${cyl}/${head}/${sector}`);
      return false;
    }
    d.xferLba = (cyl * d.curHeads + head) * d.curSpt + sector - 1;
    return true;
  }

  /** Write an LBA back into the task file in the addressing mode of the command (error location / progress). */
  private setAddress(d: AtaDrive, lba: number): void {
    switch (d.xferAddr.mode) {
      case "lba48":
        this.lbaLow = lba & 0xff; this.lbaMid = (lba >>> 8) & 0xff; this.lbaHigh = (lba >>> 16) & 0xff;
        this.lbaLowHob = Math.floor(lba / 2 ** 24) & 0xff; this.lbaMidHob = Math.floor(lba / 2 ** 32) & 0xff; this.lbaHighHob = Math.floor(lba / 2 ** 40) & 0xff;
        break;
      case "lba28":
        this.lbaLow = lba & 0xff; this.lbaMid = (lba >>> 8) & 0xff; this.lbaHigh = (lba >>> 16) & 0xff;
        this.device = (this.device & 0xf0) | ((lba >>> 24) & 0x0f);
        break;
      case "chs": {
        const spt = d.curSpt, heads = d.curHeads;
        const cyl = Math.min(0xffff, Math.floor(lba / (spt * heads)));
        this.lbaLow = (lba % spt) + 1;
        this.device = (this.device & 0xf0) | (Math.floor(lba / spt) % heads);
        this.lbaMid = cyl & 0xff; this.lbaHigh = cyl >> 8;
        break;
      }
    }
  }

  private setRemaining(d: AtaDrive, n: number): void {
    this.count = n & 0xff;
    if (d.xferAddr.mode === "lba48") this.countHob = (n >> 8) & 0xff;
  }

  /** Fetch the next sector of a READ into the buffer and announce it, or fail at the first bad sector. */
  private readBlock(d: AtaDrive): void {
    const lba = d.xferLba, backend = d.backend!;
    if (lba >= backend.sectorCount) {
      this.setAddress(d, lba);
      return this.fail(d, ERR_IDNF, `read LBA ${lba} beyond ${backend.sectorCount} sectors`);
    }
    try {
      backend.read(lba, d.buf);
    } catch (e) {
      this.setAddress(d, lba);
      return this.fail(d, ERR_UNC, `backend read of LBA ${lba} failed: ${(e as Error).message}`);
    }
    this.stats.sectorsRead++;
    this.dataInReady(d);
  }

  private blockReadDone(d: AtaDrive): void {
    d.xferLba++;
    d.xferLeft--;
    this.setAddress(d, d.xferLba);
    this.setRemaining(d, d.xferLeft);
    if (d.xferLeft > 0) return this.readBlock(d);
    // last block taken: no further interrupt in PIO data-in (§9.5)
    d.xfer = "none";
    d.status = ST_DRDY | ST_DSC;
  }

  private blockWriteDone(d: AtaDrive): void {
    const lba = d.xferLba, backend = d.backend!;
    try {
      backend.write(lba, d.buf);
      if (!d.writeCache) backend.flush(); // write cache disabled by SET FEATURES: media before status
    } catch (e) {
      this.setAddress(d, lba);
      return this.fail(d, ERR_ABRT, `backend write of LBA ${lba} failed: ${(e as Error).message}`);
    }
    this.stats.sectorsWritten++;
    d.xferLba++;
    d.xferLeft--;
    this.setAddress(d, d.xferLba);
    this.setRemaining(d, d.xferLeft);
    if (d.xferLeft === 0) return this.complete(d); // interrupt after the last block (§9.6)
    if (d.xferLba >= backend.sectorCount) {
      return this.fail(d, ERR_IDNF, `write LBA ${d.xferLba} beyond ${backend.sectorCount} sectors`);
    }
    // next block: DRQ with an interrupt
    d.pos = 0;
    d.status = ST_DRDY | ST_DSC | ST_DRQ;
    this.raise(d);
  }
}
