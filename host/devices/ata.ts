// ata.ts — ATA/IDE primary channel in PIO mode (command block 0x1f0-0x1f7, control block 0x3f6, IRQ 14) with one
// hard disk as device 0. Pure state machine over a BlockBackend; commands complete synchronously, so BSY is only
// ever seen during a software reset.
// References: ATA/ATAPI-6 (T13 1410D) §6 register descriptions, §9 protocols (PIO data-in 9.5, PIO data-out 9.6,
// non-data 9.4, software reset 9.2/9.3), §8 command descriptions (IDENTIFY DEVICE 8.15 with its word table).
//
// Device 1 is absent. Per ATA-6 §6 (device 0 responding for an absent device 1) and as QEMU does: with DEV=1 the
// Status and Alternate Status registers read 00h, the Error register reads 00h, the shared command-block registers
// read what was written, and commands other than EXECUTE DEVICE DIAGNOSTIC are ignored (counted). INTRQ is only
// driven while device 0 is selected and nIEN=0 (§5.2.11: otherwise high impedance).
// Supported: IDENTIFY DEVICE, READ/WRITE SECTORS (+EXT, LBA48), READ VERIFY (+EXT), FLUSH CACHE (+EXT), SET FEATURES
// (write cache, PIO transfer modes), INITIALIZE DEVICE PARAMETERS, EXECUTE DEVICE DIAGNOSTIC, CHECK POWER MODE,
// IDLE/STANDBY (immediate), RECALIBRATE, SEEK; CHS and LBA28/LBA48 addressing. No DMA, no READ/WRITE MULTIPLE
// (IDENTIFY word 47 advertises 0), anything else is aborted (ABRT).
import type { AccessSize, IoDevice } from "../bus.ts";
import { type BlockBackend, SECTOR_SIZE } from "./block.ts";
import { GuestErrors, hex, type IrqLine, type LogFn, noIrq } from "./guestlog.ts";

export const ATA_PRIMARY_BASE = 0x1f0;
export const ATA_PRIMARY_CTRL = 0x3f6;
export const ATA_PRIMARY_IRQ = 14;

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

const LBA28_MAX = 0x0fffffff;

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

/** Default CHS geometry for the IDENTIFY words 1/3/6: 16 heads, 63 sectors, cylinders capped at 16383 (ATA-6 §8.15). */
export function defaultGeometry(sectors: number): { cylinders: number; heads: number; sectorsPerTrack: number } {
  const heads = 16, spt = 63;
  const cylinders = Math.max(1, Math.min(16383, Math.floor(sectors / (heads * spt))));
  return { cylinders, heads, sectorsPerTrack: spt };
}

/** Put an ASCII string into IDENTIFY words: two characters per word, the first in the high byte (§8.15.x). */
function putString(words: Uint16Array, first: number, count: number, s: string): void {
  const padded = s.padEnd(count * 2, " ").slice(0, count * 2);
  for (let i = 0; i < count; i++) {
    const hi = padded.charCodeAt(2 * i) & 0x7f, lo = padded.charCodeAt(2 * i + 1) & 0x7f;
    words[first + i] = (hi << 8) | lo;
  }
}

export class AtaChannel {
  /** IoDevice for the command block (8 ports at 0x1f0) */
  readonly command: IoDevice;
  /** IoDevice for the control block (1 port at 0x3f6: alternate status / device control) */
  readonly control: IoDevice;
  readonly errors: GuestErrors;
  readonly stats = { sectorsRead: 0, sectorsWritten: 0, commands: 0, interrupts: 0 };

  // task file (shared by both devices); *Hob = previous value, for LBA48 (§6: "HOB")
  private features = 0;
  private count = 0; private countHob = 0;
  private lbaLow = 0; private lbaLowHob = 0;
  private lbaMid = 0; private lbaMidHob = 0;
  private lbaHigh = 0; private lbaHighHob = 0;
  private device = 0;
  private status = ST_DRDY | ST_DSC;
  private error = 0x01; // diagnostic "passed" after power-on (§9.1)
  private devControl = 0;
  private inReset = false;

  private intPending = false;
  private irqLevel = false;

  // PIO transfer state
  private readonly buf = new Uint8Array(SECTOR_SIZE);
  private pos = 0;
  private xfer: Transfer = "none";
  private xferLba = 0;
  private xferLeft = 0;
  private xferAddr: Addressing = { mode: "lba28" };

  // settings
  private writeCache = true;
  private curHeads: number;
  private curSpt: number;
  private readonly geom: ReturnType<typeof defaultGeometry>;
  private readonly identifyData: Uint8Array;

  private readonly irq: IrqLine;
  private readonly opts: AtaOptions;

  constructor(readonly backend: BlockBackend, opts: AtaOptions = {}) {
    if (!Number.isSafeInteger(backend.sectorCount) || backend.sectorCount < 1) throw new RangeError("wasmvisor ata: backend has no sectors");
    this.irq = opts.irq ?? noIrq;
    this.errors = new GuestErrors("ata", opts.log);
    this.geom = defaultGeometry(backend.sectorCount);
    this.curHeads = this.geom.heads;
    this.curSpt = this.geom.sectorsPerTrack;
    this.identifyData = new Uint8Array(SECTOR_SIZE);
    this.opts = opts;
    this.command = {
      read: (o, s) => this.readCommand(o, s),
      write: (o, s, v) => this.writeCommand(o, s, v),
    };
    this.control = {
      read: (_o, s) => {
        const v = this.slaveSelected() ? 0 : this.status; // alternate status: no interrupt side effect
        return s === 1 ? v : s === 2 ? v | 0xff00 : (v | 0xffffff00) >>> 0;
      },
      write: (_o, _s, v) => this.writeDeviceControl(v & 0xff),
    };
  }

  /** Current INTRQ pin level. */
  get irqAsserted(): boolean {
    return this.irqLevel;
  }

  /** The 512-byte IDENTIFY DEVICE block as the guest would read it (little-endian words). */
  identify(): Uint8Array {
    const w = new Uint16Array(256);
    const n = this.backend.sectorCount;
    const g = this.geom;
    w[0] = 0x0040; // ATA device, fixed (bit 15 = 0; bit 6 obsolete "not removable", kept as drives report it)
    w[1] = g.cylinders;
    w[3] = g.heads;
    w[6] = g.sectorsPerTrack;
    putString(w, 10, 10, this.opts.serial ?? "WVSR0001");
    putString(w, 23, 4, this.opts.firmware ?? "0.1");
    putString(w, 27, 20, this.opts.model ?? "WASMVISOR HARDDISK");
    w[47] = 0x8000; // READ/WRITE MULTIPLE: 0 sectors (not supported)
    w[49] = 0x0200; // LBA supported (bit 9); no DMA (bit 8 = 0)
    w[50] = 0x4000; // bit 14 shall be one
    w[51] = 0x0200; // PIO timing mode 2 (obsolete field)
    w[53] = 0x0003; // words 54-58 and 64-70 valid
    const curCyl = Math.min(0xffff, Math.floor(Math.min(n, 16383 * 16 * 63) / (this.curHeads * this.curSpt)));
    w[54] = curCyl;
    w[55] = this.curHeads;
    w[56] = this.curSpt;
    const curCap = curCyl * this.curHeads * this.curSpt;
    w[57] = curCap & 0xffff;
    w[58] = curCap >>> 16;
    const lba28 = Math.min(n, LBA28_MAX);
    w[60] = lba28 & 0xffff; // words 60-61: total user-addressable sectors for 28-bit commands
    w[61] = lba28 >>> 16;
    w[64] = 0x0003; // PIO modes 3 and 4
    w[65] = 120; w[66] = 120; w[67] = 120; w[68] = 120; // cycle times (ns)
    w[80] = 0x0070; // ATA-4, ATA-5, ATA-6
    w[82] = 0x4020; // NOP, write cache
    w[83] = 0x7400; // bit 14 one; FLUSH CACHE EXT, FLUSH CACHE, 48-bit address
    w[84] = 0x4000;
    w[85] = 0x4000 | (this.writeCache ? 0x0020 : 0);
    w[86] = 0x3400;
    w[87] = 0x4000;
    w[93] = 0x400b; // device 0, jumper-selected, passed diagnostics (bit 14 one)
    // words 100-103: 48-bit capacity
    w[100] = n & 0xffff;
    w[101] = Math.floor(n / 0x10000) & 0xffff;
    w[102] = Math.floor(n / 0x100000000) & 0xffff;
    w[103] = Math.floor(n / 0x1000000000000) & 0xffff;
    const b = this.identifyData;
    for (let i = 0; i < 255; i++) { b[2 * i] = w[i] & 0xff; b[2 * i + 1] = w[i] >> 8; }
    // word 255: integrity word — signature A5h, checksum making the byte sum of the block 0 (§8.15.63)
    b[510] = 0xa5;
    let sum = 0;
    for (let i = 0; i < 511; i++) sum += b[i];
    b[511] = (256 - (sum & 0xff)) & 0xff;
    return b.slice();
  }

  // ---------------------------------------------------------------- register access

  private slaveSelected(): boolean {
    return (this.device & DEV_DEV) !== 0;
  }

  private readCommand(offset: number, size: AccessSize): number {
    if (offset === 0) return this.readData(size);
    if (size !== 1) {
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.readCommand(offset + i, 1) << (8 * i);
      return v >>> 0;
    }
    const hob = (this.devControl & CTL_HOB) !== 0;
    switch (offset) {
      case 1: return this.slaveSelected() ? 0 : this.error;
      case 2: return hob ? this.countHob : this.count;
      case 3: return hob ? this.lbaLowHob : this.lbaLow;
      case 4: return hob ? this.lbaMidHob : this.lbaMid;
      case 5: return hob ? this.lbaHighHob : this.lbaHigh;
      case 6: return this.device | 0xa0; // bits 7 and 5 obsolete, read as one
      case 7:
        if (this.slaveSelected()) return 0;
        // reading Status acknowledges the interrupt (§5.2.11 INTRQ)
        if (this.intPending) { this.intPending = false; this.updateIrq(); }
        return this.status;
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
        // §9.2: SRST asserted — abort everything, BSY until released
        this.inReset = true;
        this.xfer = "none";
        this.status = ST_BSY;
        this.intPending = false;
      }
    } else if (wasReset) {
      // §9.3: reset complete — diagnostic code 01h (device 0 passed, device 1 absent), ATA signature, no interrupt
      this.inReset = false;
      this.status = ST_DRDY | ST_DSC;
      this.error = 0x01;
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
    if (this.xfer !== "in" || this.slaveSelected()) {
      this.errors.report("data-without-drq", "data read without DRQ");
      return 0xffff;
    }
    const v = this.buf[this.pos] | (this.buf[this.pos + 1] << 8);
    this.pos += 2;
    if (this.pos >= SECTOR_SIZE) this.blockReadDone();
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
    if (this.xfer !== "out" || this.slaveSelected()) {
      this.errors.report("data-without-drq", "data write without DRQ");
      return;
    }
    this.buf[this.pos] = v & 0xff;
    this.buf[this.pos + 1] = v >> 8;
    this.pos += 2;
    if (this.pos >= SECTOR_SIZE) this.blockWriteDone();
  }

  // ---------------------------------------------------------------- command completion (§9 protocols)

  private raise(): void {
    this.intPending = true;
    this.stats.interrupts++;
    this.updateIrq();
  }

  private updateIrq(): void {
    const level = this.intPending && (this.devControl & CTL_NIEN) === 0 && !this.slaveSelected();
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq(level);
    }
  }

  private complete(): void {
    this.xfer = "none";
    this.status = ST_DRDY | ST_DSC;
    this.error = 0;
    this.raise();
  }

  private fail(err: number, why: string): void {
    this.errors.report("command-error", why);
    this.xfer = "none";
    this.status = ST_DRDY | ST_DSC | ST_ERR;
    this.error = err;
    this.raise();
  }

  /** PIO data-in: a block is ready — DRQ and an interrupt per block (§9.5). */
  private dataInReady(): void {
    this.pos = 0;
    this.xfer = "in";
    this.status = ST_DRDY | ST_DSC | ST_DRQ;
    this.error = 0;
    this.raise();
  }

  private executeCommand(cmd: number): void {
    if (this.slaveSelected() && cmd !== CMD.EXECUTE_DIAGNOSTIC) {
      this.errors.report("absent-slave", `command ${hex(cmd)} to absent device 1 ignored`);
      return;
    }
    this.stats.commands++;
    if (this.xfer !== "none") this.errors.report("command-during-transfer", `command ${hex(cmd)} while DRQ; transfer aborted`);
    this.xfer = "none";
    this.intPending = false; // writing the Command register negates INTRQ
    this.updateIrq();
    switch (cmd) {
      case CMD.IDENTIFY:
        this.buf.set(this.identify());
        this.dataInReady();
        return;
      case CMD.READ_SECTORS: case CMD.READ_SECTORS_NR: case CMD.READ_SECTORS_EXT:
        if (this.beginTransfer(cmd === CMD.READ_SECTORS_EXT)) this.readBlock();
        return;
      case CMD.WRITE_SECTORS: case CMD.WRITE_SECTORS_NR: case CMD.WRITE_SECTORS_EXT:
        if (this.backend.readonly) return this.fail(ERR_ABRT, "write to a read-only image");
        if (!this.beginTransfer(cmd === CMD.WRITE_SECTORS_EXT)) return;
        if (this.xferLba >= this.backend.sectorCount) return this.fail(ERR_IDNF, `write LBA ${this.xferLba} beyond ${this.backend.sectorCount} sectors`);
        // PIO data-out: the first block is requested without an interrupt (§9.6)
        this.pos = 0;
        this.xfer = "out";
        this.status = ST_DRDY | ST_DSC | ST_DRQ;
        return;
      case CMD.READ_VERIFY: case CMD.READ_VERIFY_NR: case CMD.READ_VERIFY_EXT: {
        if (!this.beginTransfer(cmd === CMD.READ_VERIFY_EXT)) return;
        const end = this.xferLba + this.xferLeft;
        if (end > this.backend.sectorCount) {
          this.setAddress(Math.max(this.xferLba, this.backend.sectorCount));
          return this.fail(ERR_IDNF, `verify beyond ${this.backend.sectorCount} sectors`);
        }
        return this.complete();
      }
      case CMD.FLUSH_CACHE: case CMD.FLUSH_CACHE_EXT:
        try {
          this.backend.flush();
        } catch (e) {
          return this.fail(ERR_ABRT, `flush failed: ${(e as Error).message}`);
        }
        return this.complete();
      case CMD.SET_FEATURES:
        return this.setFeatures();
      case CMD.INITIALIZE_PARAMS: {
        const spt = this.count, heads = (this.device & 0x0f) + 1;
        if (spt === 0) return this.fail(ERR_ABRT, "INITIALIZE DEVICE PARAMETERS with 0 sectors per track");
        this.curSpt = spt;
        this.curHeads = heads;
        return this.complete();
      }
      case CMD.EXECUTE_DIAGNOSTIC:
        // §8.11: always answered by device 0; result 01h = device 0 passed, device 1 absent
        this.setSignature();
        this.status = ST_DRDY | ST_DSC;
        this.error = 0x01;
        this.raise();
        return;
      case CMD.CHECK_POWER_MODE:
        this.count = 0xff; // active or idle
        return this.complete();
      case CMD.STANDBY_IMMEDIATE: case CMD.IDLE_IMMEDIATE: case CMD.STANDBY: case CMD.IDLE:
        return this.complete();
      default:
        if ((cmd & 0xf0) === CMD.RECALIBRATE || (cmd & 0xf0) === CMD.SEEK) return this.complete(); // legacy, no-ops
        // NOP (00h) always aborts (§8.22); IDENTIFY PACKET DEVICE aborts on a non-packet device
        return this.fail(ERR_ABRT, `unsupported command ${hex(cmd)}`);
    }
  }

  private setFeatures(): void {
    switch (this.features) {
      case 0x02: this.writeCache = true; return this.complete();
      case 0x82: this.writeCache = false; return this.complete();
      case 0x03: { // set transfer mode: PIO default (00h/01h) and PIO flow-control modes 0-4 (08h-0Ch); no DMA
        const m = this.count;
        if (m === 0x00 || m === 0x01 || (m >= 0x08 && m <= 0x0c)) return this.complete();
        return this.fail(ERR_ABRT, `SET FEATURES transfer mode ${hex(m)} not supported`);
      }
      case 0x55: case 0xaa: case 0x66: case 0xcc: // read look-ahead off/on, revert to defaults off/on
        return this.complete();
      default:
        return this.fail(ERR_ABRT, `SET FEATURES subcommand ${hex(this.features)} not supported`);
    }
  }

  /** Decode the address and count of a read/write command. False if it already failed (bad CHS address). */
  private beginTransfer(ext: boolean): boolean {
    if (ext) {
      this.xferAddr = { mode: "lba48" };
      this.xferLba = this.lbaHighHob * 2 ** 40 + this.lbaMidHob * 2 ** 32 + this.lbaLowHob * 2 ** 24 +
        this.lbaHigh * 2 ** 16 + this.lbaMid * 2 ** 8 + this.lbaLow;
      const n = (this.countHob << 8) | this.count;
      this.xferLeft = n === 0 ? 65536 : n;
      return true;
    }
    this.xferLeft = this.count === 0 ? 256 : this.count;
    if (this.device & DEV_LBA) {
      this.xferAddr = { mode: "lba28" };
      this.xferLba = ((this.device & 0x0f) << 24 | this.lbaHigh << 16 | this.lbaMid << 8 | this.lbaLow) >>> 0;
      return true;
    }
    this.xferAddr = { mode: "chs" };
    const cyl = (this.lbaHigh << 8) | this.lbaMid, head = this.device & 0x0f, sector = this.lbaLow;
    if (sector < 1 || sector > this.curSpt || head >= this.curHeads) {
      this.fail(ERR_IDNF, `bad CHS address ${cyl}/${head}/${sector}`);
      return false;
    }
    this.xferLba = (cyl * this.curHeads + head) * this.curSpt + sector - 1;
    return true;
  }

  /** Write an LBA back into the task file in the addressing mode of the command (error location / progress). */
  private setAddress(lba: number): void {
    switch (this.xferAddr.mode) {
      case "lba48":
        this.lbaLow = lba & 0xff; this.lbaMid = (lba >>> 8) & 0xff; this.lbaHigh = (lba >>> 16) & 0xff;
        this.lbaLowHob = Math.floor(lba / 2 ** 24) & 0xff; this.lbaMidHob = Math.floor(lba / 2 ** 32) & 0xff; this.lbaHighHob = Math.floor(lba / 2 ** 40) & 0xff;
        break;
      case "lba28":
        this.lbaLow = lba & 0xff; this.lbaMid = (lba >>> 8) & 0xff; this.lbaHigh = (lba >>> 16) & 0xff;
        this.device = (this.device & 0xf0) | ((lba >>> 24) & 0x0f);
        break;
      case "chs": {
        const spt = this.curSpt, heads = this.curHeads;
        const cyl = Math.min(0xffff, Math.floor(lba / (spt * heads)));
        this.lbaLow = (lba % spt) + 1;
        this.device = (this.device & 0xf0) | (Math.floor(lba / spt) % heads);
        this.lbaMid = cyl & 0xff; this.lbaHigh = cyl >> 8;
        break;
      }
    }
  }

  private setRemaining(n: number): void {
    this.count = n & 0xff;
    if (this.xferAddr.mode === "lba48") this.countHob = (n >> 8) & 0xff;
  }

  /** Fetch the next sector of a READ into the buffer and announce it, or fail at the first bad sector. */
  private readBlock(): void {
    const lba = this.xferLba;
    if (lba >= this.backend.sectorCount) {
      this.setAddress(lba);
      return this.fail(ERR_IDNF, `read LBA ${lba} beyond ${this.backend.sectorCount} sectors`);
    }
    try {
      this.backend.read(lba, this.buf);
    } catch (e) {
      this.setAddress(lba);
      return this.fail(ERR_UNC, `backend read of LBA ${lba} failed: ${(e as Error).message}`);
    }
    this.stats.sectorsRead++;
    this.dataInReady();
  }

  private blockReadDone(): void {
    this.xferLba++;
    this.xferLeft--;
    this.setAddress(this.xferLba);
    this.setRemaining(this.xferLeft);
    if (this.xferLeft > 0) return this.readBlock();
    // last block taken: no further interrupt in PIO data-in (§9.5)
    this.xfer = "none";
    this.status = ST_DRDY | ST_DSC;
  }

  private blockWriteDone(): void {
    const lba = this.xferLba;
    try {
      this.backend.write(lba, this.buf);
      if (!this.writeCache) this.backend.flush(); // write cache disabled by SET FEATURES: media before status
    } catch (e) {
      this.setAddress(lba);
      return this.fail(ERR_ABRT, `backend write of LBA ${lba} failed: ${(e as Error).message}`);
    }
    this.stats.sectorsWritten++;
    this.xferLba++;
    this.xferLeft--;
    this.setAddress(this.xferLba);
    this.setRemaining(this.xferLeft);
    if (this.xferLeft === 0) return this.complete(); // interrupt after the last block (§9.6)
    if (this.xferLba >= this.backend.sectorCount) {
      return this.fail(ERR_IDNF, `write LBA ${this.xferLba} beyond ${this.backend.sectorCount} sectors`);
    }
    // next block: DRQ with an interrupt
    this.pos = 0;
    this.status = ST_DRDY | ST_DSC | ST_DRQ;
    this.raise();
  }
}
