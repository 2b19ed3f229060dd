// guestlog.ts — counting and rate-limited logging of guest misbehaviour.
// Devices never throw on guest-controlled input: they count the event under a short kind name
// and log the first few occurrences of each kind, so a guest hammering a bad port cannot flood the host.

export type LogFn = (message: string) => void;

/** Logged occurrences per kind before going quiet (after that only every 2^k-th is logged). */
const LOUD_LIMIT = 8;

export class GuestErrors {
  /** occurrences per kind, e.g. "ata.data-without-drq" → 3 */
  readonly counts = new Map<string, number>();
  total = 0;

  constructor(private readonly prefix: string, private readonly log?: LogFn) {}

  report(kind: string, detail: string): void {
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    this.total++;
    // log the first few, then 16, 32, 64, … so a storm remains visible but cheap
    if (this.log && (n <= LOUD_LIMIT || (n & (n - 1)) === 0)) {
      this.log(`${this.prefix}: ${detail}${n > LOUD_LIMIT ? ` (${n} times)` : ""}`);
    }
  }

  get(kind: string): number {
    return this.counts.get(kind) ?? 0;
  }
}

/** Injected interrupt line: the device drives its output pin level; the owner decides what it is wired to. */
export type IrqLine = (level: boolean) => void;

export const noIrq: IrqLine = () => {};

export function hex(v: number, digits = 2): string {
  return "0x" + (v >>> 0).toString(16).padStart(digits, "0");
}
