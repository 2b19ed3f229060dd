// pvtimer.ts — the paravirtual one-shot-periodic timer of para mode (HC_SET_TIMER, host/para/README.md): a period in
// instruction-equivalents of the virtual clock and the next deadline; each deadline raises the timer event once
// (deadlines missed while the guest was not running are merged, as a Xen periodic timer does).
export class PvTimer {
  /** period in instruction-equivalents, 0 = stopped */
  period = 0;
  /** the next deadline, virtual clock; Infinity when stopped */
  next = Infinity;
  /** the virtual clock this timer has been advanced to */
  now = 0;
  /** events raised */
  fired = 0;

  constructor(private readonly onFire: () => void) {}

  /** Program the timer: the first event one period from now; 0 stops it. */
  set(period: number): void {
    if (period <= 0) { this.period = 0; this.next = Infinity; return; }
    this.period = period;
    this.next = this.now + period;
  }

  untilNext(): number {
    return this.next === Infinity ? Infinity : Math.max(0, this.next - this.now);
  }

  advance(n: number): void {
    this.now += n;
    if (this.now < this.next) return;
    this.fired++;
    this.onFire();
    const missed = Math.floor((this.now - this.next) / this.period);
    this.next += (missed + 1) * this.period;
  }
}
