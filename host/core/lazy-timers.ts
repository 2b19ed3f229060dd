// lazy-timers.ts — the PC platform's timers brought up to the virtual clock lazily (issue 11, branch exit-rt).
//
// The run loop advances the timers after every slice, and a monitor's round trip is one slice per exit: the RTC's
// and the PIT's arithmetic was a tenth of a round trip. Their time is observable only through an access to their
// ports (the RTC's 0x70/0x71, the PIT's 0x40-0x43, port 0x61's OUT2 and refresh bits), an interrupt they raise (at
// a deadline the loop cuts its slices at), their saved state and their counters; so the instruction-equivalents
// they are owed accumulate, and they are advanced by all of them at once — before any access to their ports,
// when the owed time reaches the earlier of their next events, and when the loop's run() returns (Platform
// timers.settle: a snapshot, the stats and a caller peeking at a device between runs see them current). Their
// advance() and next-event arithmetic are exact and additive (integer tick and oscillator remainders, the PIT's
// instruction clock an exact accumulator), so one advance by a + b is the advances by a and b when no event lies
// in between: the guest sees the same counts, flags and interrupts at the same instructions (test/exit-rt.test.ts
// compares every interrupt's instruction count with the eager order). The local APIC stays eager: the CPU reads
// its current count in place (assembly/apic.ts) from OFF_APIC_NOW, which must be current at every run() entry.
import type { LocalApic, Rtc, Pit8254, InstructionClock } from "../devices/index.ts";
import type { IoDevice } from "../bus.ts";

/** Off only to compare against the eager order (tests); read when a platform is built. */
export const timerPolicy = { lazy: true };

export interface PcTimers {
  untilNext(): number;
  advance(n: number): void;
  /** bring the lazy timers to the clock (the loop calls it when run() returns; save/stats call it) */
  settle(): void;
  /** a restore replaced the devices' state: nothing is owed */
  restored(): void;
}

export function pcTimers(lapic: LocalApic | null | undefined, rtc: Rtc, pit: Pit8254, clock: InstructionClock, lapicTicksPerInsn: number): PcTimers {
  const advancePit = (n: number) => {
    while (n > 0) {
      const chunk = Math.min(n, 1e9); // InstructionClock.ticksFor takes at most 1e9 per call
      pit.advance(clock.ticksFor(chunk));
      n -= chunk;
    }
  };
  const lapicNext = () => (lapic ? Math.ceil(lapic.nextEventTicks() / lapicTicksPerInsn) : Infinity);
  if (!timerPolicy.lazy) {
    return {
      untilNext: () => Math.min(clock.instructionsFor(pit.nextEventTicks()), lapicNext(), rtc.nextEventTicks()),
      advance: (n) => { lapic?.advance(n * lapicTicksPerInsn); rtc.advance(n); advancePit(n); },
      settle: () => {},
      restored: () => {},
    };
  }
  // owed: instruction-equivalents the RTC and PIT have not seen; due: from their settled state to the earlier of
  // their next events (-1: not known since they changed)
  let owed = 0, due = -1;
  const settle = () => {
    const n = owed;
    if (n) { owed = 0; rtc.advance(n); advancePit(n); }
    due = -1;
  };
  const dueNow = () => (due >= 0 ? due : (due = Math.min(clock.instructionsFor(pit.nextEventTicks()), rtc.nextEventTicks())));
  // every access to their ports sees them current, and may reprogram them (their next event is asked again)
  const onAccess = (dev: IoDevice) => {
    const read = dev.read.bind(dev), write = dev.write.bind(dev);
    dev.read = (off, size) => { settle(); return read(off, size); };
    dev.write = (off, size, v) => { settle(); write(off, size, v); };
  };
  onAccess(rtc); onAccess(pit); onAccess(pit.port61);
  return {
    untilNext: () => Math.min(lapicNext(), dueNow() - owed),
    advance: (n) => {
      lapic?.advance(n * lapicTicksPerInsn);
      if (dueNow() - owed <= n) { owed += n; settle(); } else owed += n;
    },
    settle,
    restored: () => { owed = 0; due = -1; },
  };
}
