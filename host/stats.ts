// stats.ts — what a VM run did: instructions retired, wall time, MIPS, exits by reason, I/O by port,
// interrupts delivered. Counted by the one run loop (host/core/vm.ts), the same shape in every mode; serialised by toJSON() for --stats-file.
import { EXIT_NAMES, type ExitName } from "./machine.ts";

export interface PortCount { reads: number; writes: number }

export interface StatsJson {
  /** the mode that ran: native, full or para (its counters are devices[mode]) */
  mode: string;
  instructions: number;
  wallMs: number;
  mips: number;
  /** virtual time in ns (instructions plus halted time), see host/vm.ts "Time" */
  virtualNs: number;
  /** virtual ns spent halted (HLT waiting for an interrupt) */
  haltedNs: number;
  exits: Record<string, number>;
  exitsTotal: number;
  /** I/O port accesses that exited to the host, keyed "0x03f8" */
  ports: Record<string, PortCount>;
  /** MMIO exits, keyed by 4 KiB page "0xfee00000" */
  mmioPages: Record<string, PortCount>;
  interruptsDelivered: number;
  /** interrupts delivered per vector, keyed by decimal vector */
  interruptsByVector: Record<string, number>;
  stopReason: string;
  /** device counters (bus, uart, pit...; virtio in para mode) and, under the mode's name, the mode's own */
  devices?: Record<string, unknown>;
}

const portKey = (p: number) => "0x" + p.toString(16).padStart(4, "0");

export class VmStats {
  mode = "";
  instructions = 0;
  wallMs = 0;
  virtualNs = 0;
  haltedNs = 0;
  readonly exits: Record<ExitName, number> = Object.fromEntries(EXIT_NAMES.map((n) => [n, 0])) as Record<ExitName, number>;
  readonly ports = new Map<number, PortCount>();
  readonly mmioPages = new Map<number, PortCount>();
  interruptsDelivered = 0;
  readonly interruptsByVector = new Map<number, number>();
  stopReason = "";
  devices?: () => Record<string, unknown>;

  get mips(): number {
    return this.wallMs > 0 ? this.instructions / (this.wallMs * 1000) : 0;
  }

  countExit(reason: ExitName): void {
    this.exits[reason]++;
  }

  countPort(port: number, write: boolean): void {
    let c = this.ports.get(port);
    if (!c) this.ports.set(port, (c = { reads: 0, writes: 0 }));
    if (write) c.writes++; else c.reads++;
  }

  countMmio(addr: number, write: boolean): void {
    const page = addr & ~0xfff;
    let c = this.mmioPages.get(page);
    if (!c) this.mmioPages.set(page, (c = { reads: 0, writes: 0 }));
    if (write) c.writes++; else c.reads++;
  }

  countInterrupt(vector: number): void {
    this.interruptsDelivered++;
    this.interruptsByVector.set(vector, (this.interruptsByVector.get(vector) ?? 0) + 1);
  }

  toJSON(): StatsJson {
    const sorted = <V>(m: Map<number, V>, key: (n: number) => string) =>
      Object.fromEntries([...m.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => [key(k), v]));
    const j: StatsJson = {
      mode: this.mode,
      instructions: this.instructions,
      wallMs: round(this.wallMs, 3),
      mips: round(this.mips, 2),
      virtualNs: this.virtualNs,
      haltedNs: this.haltedNs,
      exits: { ...this.exits },
      exitsTotal: Object.values(this.exits).reduce((a, b) => a + b, 0),
      ports: sorted(this.ports, portKey),
      mmioPages: sorted(this.mmioPages, (a) => "0x" + (a >>> 0).toString(16).padStart(8, "0")),
      interruptsDelivered: this.interruptsDelivered,
      interruptsByVector: sorted(this.interruptsByVector, String),
      stopReason: this.stopReason,
    };
    if (this.devices) j.devices = this.devices();
    return j;
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
