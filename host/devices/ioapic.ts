// ioapic.ts — Intel 82093AA I/O APIC: 24 interrupt input pins, a redirection table, indirect register access
// through IOREGSEL (offset 00h) and IOWIN (offset 10h) at 0xFEC00000.
// Reference: 82093AA I/O Advanced Programmable Interrupt Controller (IOAPIC) datasheet (order 290566): 3.0 register
// description — IOREGSEL/IOWIN (3.1), IOAPICID (index 00h, bits 27:24), IOAPICVER (01h: version 11h, maximum
// redirection entry 17h in bits 23:16), IOAPICARB (02h), IOREDTBL[0..23] (10h-3Fh, two dwords each: vector 7:0,
// delivery mode 10:8, destination mode 11, delivery status 12 (RO), pin polarity 13, remote IRR 14 (RO), trigger
// mode 15, mask 16, destination 63:56).
//
// Pure state machine. Inputs are setPin(n, level) (an ISA line as the device drives it, active high); polarity
// (bit 13) inverts. Edge-triggered entries send a message on each inactive→active transition while unmasked (an
// edge on a masked pin is lost, as the datasheet says). Level-triggered entries send while the input is active,
// unmasked and Remote IRR is clear; Remote IRR is set when the local APIC accepts and cleared by the EOI broadcast
// for that vector (eoi(vector)), after which a still-active input is sent again. Unmasking an active level entry
// sends it. Messages go to an injected deliver() that returns whether some local APIC accepted it.
// Delivery status always reads 0 (messages are sent at once). Only Fixed and Lowest Priority delivery reach the CPU;
// SMI/NMI/INIT/ExtINT entries are counted and dropped (nothing in the PC wiring uses them).
import type { AccessSize, IoDevice } from "../bus.ts";
import { GuestErrors, hex, type LogFn } from "./guestlog.ts";
import { type ApicMessage, DM_FIXED, DM_LOWEST } from "./lapic.ts";
import { saveState, loadState, type Saved } from "../persist.ts";

export const IOAPIC_BASE = 0xfec00000;
/** IOREGSEL at 00h, IOWIN at 10h; the window covers both (the chip decodes 4 KiB; the rest reads 0) */
export const IOAPIC_SIZE = 0x20;
export const IOAPIC_PINS = 24;
export const IOAPIC_VERSION = 0x11;

export const RTE_MASKED = 1 << 16, RTE_LEVEL = 1 << 15, RTE_REMOTE_IRR = 1 << 14, RTE_ACTIVE_LOW = 1 << 13;
// bits 0..16 but delivery status (12) and remote IRR (14), which are read-only; 17..31 are reserved
const RTE_WRITABLE_LO = 0x1ffff & ~(RTE_REMOTE_IRR | (1 << 12));

export interface IoApicOptions {
  /** 4-bit I/O APIC ID as the firmware programmed it (MP table entry); default 1 */
  id?: number;
  /** send a message to the local APIC(s); true if accepted */
  deliver: (msg: ApicMessage) => boolean;
  log?: LogFn;
}

export class IoApic implements IoDevice {
  /** Device state for a snapshot (host/persist.ts): every field but the wiring the constructor makes. */
  save(): Saved { return saveState(this); }
  /** Puts saved state back into a IoApic built with the same options. */
  restore(s: Saved): void { loadState(this, s); }

  readonly errors: GuestErrors;
  readonly stats = { messages: 0, dropped: 0, eoi: 0 };
  id: number;
  ioregsel = 0;
  /** redirection table: low and high dwords */
  readonly lo = new Uint32Array(IOAPIC_PINS).fill(RTE_MASKED);
  readonly hi = new Uint32Array(IOAPIC_PINS);
  /** raw input levels as driven (before polarity) */
  private pins = 0;
  private readonly deliver: (msg: ApicMessage) => boolean;

  constructor(opts: IoApicOptions) {
    this.id = (opts.id ?? 1) & 0xf;
    this.deliver = opts.deliver;
    this.errors = new GuestErrors("ioapic", opts.log);
  }

  private active(n: number): boolean {
    const raw = (this.pins >>> n) & 1;
    return (raw ^ ((this.lo[n] & RTE_ACTIVE_LOW) ? 1 : 0)) === 1;
  }

  /** Drive input pin `n` to `level` (the raw signal; polarity is applied by the entry). */
  setPin(n: number, level: boolean): void {
    if (!Number.isInteger(n) || n < 0 || n >= IOAPIC_PINS) throw new RangeError(`wasmvisor ioapic: bad pin ${n}`);
    const before = this.active(n);
    if (level) this.pins |= 1 << n; else this.pins &= ~(1 << n);
    const after = this.active(n);
    if (before === after) return;
    const rte = this.lo[n];
    if (rte & RTE_MASKED) return;
    if (rte & RTE_LEVEL) this.serviceLevel(n);
    else if (after) this.send(n);
  }

  /** EOI broadcast from a local APIC for `vector` (10.8.5): clears Remote IRR of level entries with that vector. */
  eoi(vector: number): void {
    this.stats.eoi++;
    for (let n = 0; n < IOAPIC_PINS; n++) {
      const rte = this.lo[n];
      if ((rte & RTE_LEVEL) && (rte & RTE_REMOTE_IRR) && (rte & 0xff) === vector) {
        this.lo[n] = rte & ~RTE_REMOTE_IRR;
        this.serviceLevel(n);
      }
    }
  }

  private serviceLevel(n: number): void {
    const rte = this.lo[n];
    if ((rte & RTE_MASKED) || (rte & RTE_REMOTE_IRR) || !this.active(n)) return;
    if (this.send(n)) this.lo[n] |= RTE_REMOTE_IRR;
  }

  private send(n: number): boolean {
    const rte = this.lo[n];
    const mode = (rte >> 8) & 7;
    if (mode !== DM_FIXED && mode !== DM_LOWEST) {
      this.stats.dropped++;
      this.errors.report("delivery-mode", `pin ${n}: delivery mode ${mode} is not supported (interrupt dropped)`);
      return false;
    }
    this.stats.messages++;
    const ok = this.deliver({ vector: rte & 0xff, deliveryMode: mode, destMode: (rte >> 11) & 1, dest: this.hi[n] >>> 24, level: (rte & RTE_LEVEL) !== 0 });
    if (!ok) {
      this.stats.dropped++;
      this.errors.report("no-destination", `pin ${n}: no local APIC matches destination ${hex(this.hi[n] >>> 24)} (${(rte >> 11) & 1 ? "logical" : "physical"})`);
    }
    return ok;
  }

  // ---------------------------------------------------------------- registers

  private readIndexed(index: number): number {
    if (index === 0x00) return (this.id << 24) >>> 0;
    if (index === 0x01) return ((IOAPIC_PINS - 1) << 16) | IOAPIC_VERSION;
    if (index === 0x02) return (this.id << 24) >>> 0; // arbitration ID (loaded from the ID)
    if (index >= 0x10 && index < 0x10 + 2 * IOAPIC_PINS) {
      const n = (index - 0x10) >> 1;
      if (index & 1) return this.hi[n];
      // delivery status (bit 12) always 0: messages go out at once
      return this.lo[n];
    }
    this.errors.report("bad-index", `read of undefined register index ${hex(index)}`);
    return 0;
  }

  private writeIndexed(index: number, v: number): void {
    if (index === 0x00) { this.id = (v >>> 24) & 0xf; return; }
    if (index === 0x01 || index === 0x02) {
      this.errors.report("read-only", `write ${hex(v, 8)} to read-only register index ${hex(index)}`);
      return;
    }
    if (index >= 0x10 && index < 0x10 + 2 * IOAPIC_PINS) {
      const n = (index - 0x10) >> 1;
      if (index & 1) { this.hi[n] = v & 0xff000000; return; }
      const old = this.lo[n];
      const mode = (v >> 8) & 7;
      if (mode === 3 || mode === 6) this.errors.report("delivery-mode", `pin ${n}: reserved delivery mode ${mode}`);
      // an edge-triggered entry has no Remote IRR
      let nv = ((v & RTE_WRITABLE_LO) | (old & RTE_REMOTE_IRR)) >>> 0;
      if (!(nv & RTE_LEVEL)) nv &= ~RTE_REMOTE_IRR;
      this.lo[n] = nv >>> 0;
      // unmasking (or switching to level) an active level-triggered input sends it
      if ((nv & RTE_LEVEL) && !(nv & RTE_MASKED) && (old !== nv)) this.serviceLevel(n);
      return;
    }
    this.errors.report("bad-index", `write ${hex(v, 8)} to undefined register index ${hex(index)}`);
  }

  read(offset: number, size: AccessSize): number {
    if (offset === 0x00 && size === 4) return this.ioregsel;
    if (offset >= 0x10 && offset + size <= 0x14) {
      if (size !== 4) this.errors.report("access-width", `${size}-byte read of IOWIN (registers are 32-bit)`);
      const v = this.readIndexed(this.ioregsel);
      const sh = (offset - 0x10) * 8;
      return size === 4 ? v >>> 0 : (v >>> sh) & ((1 << (size * 8)) - 1);
    }
    if (offset < 4) {
      this.errors.report("access-width", `${size}-byte read of IOREGSEL at ${hex(offset)}`);
      return offset === 0 ? this.ioregsel & ((1 << (size * 8)) - 1) : 0;
    }
    this.errors.report("bad-offset", `read at offset ${hex(offset)}`);
    return 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (offset === 0x00) {
      if (size !== 4) this.errors.report("access-width", `${size}-byte write of IOREGSEL`);
      this.ioregsel = value & 0xff;
      return;
    }
    if (offset >= 0x10 && offset + size <= 0x14) {
      if (size !== 4) {
        this.errors.report("access-width", `${size}-byte write of IOWIN (registers are 32-bit)`);
        const sh = (offset - 0x10) * 8, mask = ((1 << (size * 8)) - 1) << sh;
        value = (this.readIndexed(this.ioregsel) & ~mask) | ((value << sh) & mask);
      }
      this.writeIndexed(this.ioregsel, value >>> 0);
      return;
    }
    this.errors.report("bad-offset", `write ${hex(value, 8)} at offset ${hex(offset)}`);
  }
}
