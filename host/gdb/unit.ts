// unit.ts — the host's side of the CPU's guest-invisible debug unit (assembly/debug.ts): software breakpoints,
// hardware breakpoints/watchpoints and single-step, written into the STATE block the CPU re-reads at every
// run() entry. Nothing here touches guest memory or the guest's DR0-DR7.
import * as A from "../abi.generated.ts";
import type { Machine } from "../machine.ts";

export type WatchKind = "exec" | "write" | "read" | "access";
const KIND: Record<WatchKind, number> = {
  exec: A.DBG_KIND_EXEC, write: A.DBG_KIND_WRITE, read: A.DBG_KIND_READ, access: A.DBG_KIND_ACCESS,
};
const KIND_NAME: Record<number, WatchKind> = { 1: "exec", 2: "write", 3: "read", 4: "access" };

export type DebugStop =
  | { cause: "step" }
  | { cause: "breakpoint"; hardware: boolean }
  | { cause: "watch"; kind: WatchKind; addr: number };

interface Slot { addr: number; len: number; kind: WatchKind }

export class DebugUnit {
  private readonly dv: DataView;
  private readonly sw = new Set<number>();
  private readonly hw: (Slot | null)[] = new Array(A.DBG_HW_SLOTS).fill(null);

  constructor(readonly machine: Machine) {
    this.dv = new DataView(machine.memory.buffer);
    this.sync();
  }
  private st(off: number, v: number) { this.dv.setUint32(A.STATE_BASE + off, v >>> 0, true); }
  private ld(off: number) { return this.dv.getUint32(A.STATE_BASE + off, true); }

  /** Software breakpoint at a linear address; false if the table is full. */
  addBreakpoint(lin: number): boolean {
    if (this.sw.has(lin >>> 0)) return true;
    if (this.sw.size >= A.DBG_SW_MAX) return false;
    this.sw.add(lin >>> 0);
    this.sync();
    return true;
  }
  removeBreakpoint(lin: number): boolean { const had = this.sw.delete(lin >>> 0); this.sync(); return had; }

  /** A hardware slot: exec (len 1) or a data watch of 1..4096 bytes; false if the four slots are in use. */
  addWatch(addr: number, len: number, kind: WatchKind): boolean {
    if (!(len >= 1 && len <= 4096)) return false;
    if (this.hw.some((s) => s && s.addr === addr >>> 0 && s.len === len && s.kind === kind)) return true;
    const i = this.hw.indexOf(null);
    if (i < 0) return false;
    this.hw[i] = { addr: addr >>> 0, len, kind };
    this.sync();
    return true;
  }
  removeWatch(addr: number, len: number, kind: WatchKind): boolean {
    const i = this.hw.findIndex((s) => s && s.addr === addr >>> 0 && s.len === len && s.kind === kind);
    if (i < 0) return false;
    this.hw[i] = null;
    this.sync();
    return true;
  }
  clear(): void { this.sw.clear(); this.hw.fill(null); this.sync(); }
  get breakpoints(): number[] { return [...this.sw]; }
  get watches(): Slot[] { return this.hw.filter((s): s is Slot => s !== null); }

  /**
   * Arm the next resume: `step` stops after one instruction (or at the first instruction of the handler of
   * an exception it raised); breakpoints at the current EIP are ignored for the first instruction.
   */
  resume(step: boolean): void {
    this.st(A.OFF_DBG_CTRL, step ? A.DBG_STEP : 0);
    this.st(A.OFF_DBG_STEPPED, 0);
    const cs = this.machine.getSegment("cs");
    this.st(A.OFF_DBG_SKIP, (cs.base + this.machine.eip) >>> 0);
    this.st(A.OFF_DBG_CAUSE, 0);
  }
  /** Disarm stepping (the guest runs freely). */
  stopStepping(): void { this.st(A.OFF_DBG_CTRL, 0); }

  /** Why the CPU stopped with a "debug" exit. */
  lastStop(): DebugStop {
    switch (this.ld(A.OFF_DBG_CAUSE)) {
      case A.DBG_CAUSE_STEP: return { cause: "step" };
      case A.DBG_CAUSE_SWBP: return { cause: "breakpoint", hardware: false };
      case A.DBG_CAUSE_HWBP: return { cause: "breakpoint", hardware: true };
      default: return { cause: "watch", kind: KIND_NAME[this.ld(A.OFF_DBG_KIND_HIT)] ?? "access", addr: this.ld(A.OFF_DBG_ADDR) };
    }
  }

  private sync(): void {
    const list = [...this.sw];
    list.forEach((a, i) => this.st(A.OFF_DBG_SW + 4 * i, a));
    this.st(A.OFF_DBG_SW_COUNT, list.length);
    this.hw.forEach((s, i) => {
      const p = A.OFF_DBG_HW + i * A.DBG_HW_STRIDE;
      this.st(p, s ? s.addr : 0);
      this.st(p + 4, s ? (s.kind === "exec" ? 1 : s.len) : 0);
      this.st(p + 8, s ? KIND[s.kind] : A.DBG_KIND_NONE);
    });
  }
}
