// monitor.ts — the full-mode virtual machine monitor: a deprivileged guest kernel (real CPL 3), a virtual CPU
// and the exit dispatch. Each concern lives in its own file, stacked as one class (vcpu.ts → memory.ts →
// mode.ts → reflect.ts → gates.ts → ptwrite.ts → privileged.ts → sensitive.ts → here). See README.md.
import { type Exit } from "../machine.ts";
import * as A from "../abi.generated.ts";
import { GuestRangeError } from "./shadow.ts";
import { SensitiveInsns } from "./sensitive.ts";
import { sensitiveKind } from "./patcher.ts";
import { GuestFault, FatalGuest, SEG, hex, type HandleResult } from "./vcpu.ts";
export {
  VMM_SIZE, VMM_PT, GDT_K, GDT_U, LDT_K, LDT_U, IDT_REAL, POOL_START, GuestFault, FatalGuest,
  type MonitorIo, type SegState, type VirtualCpu, type HandleResult, type FullStats, type MonitorOptions,
} from "./vcpu.ts";

export class Monitor extends SensitiveInsns {
  /** Handles one exit from the deprivileged guest. */
  handle(exit: Exit): HandleResult {
    this.adoptFastSwitches(); // (the CPU may have entered or left the guest kernel itself: mode.ts)
    if (exit.reason === "budget") { this.publishFast(); return null; }
    const r = this.dispatch(exit);
    this.applySensitiveExits(); // (the emulation may have changed the virtual CPL, IF or IOPL)
    this.publishFast();
    return r;
  }

  private dispatch(exit: Exit): HandleResult {
    try {
      switch (exit.reason) {
        case "exception": {
          const vec = exit.vector;
          // the CPU hands over the faulting instruction it decoded: the monitor does not decode it again
          if (vec === A.VEC_PF) { this.count(this.counts.exits, "#PF"); return this.pageFault(exit.errorCode ?? 0, this.m.getCr("cr2"), exit.insn); }
          if (vec === A.VEC_GP) return this.generalProtection(exit.errorCode ?? 0, exit.insn);
          this.count(this.counts.exits, `exception ${vec}`);
          this.deliver(vec, exit.errorCode, this.m.eip, false);
          return null;
        }
        case "sensitive": {
          // the CPU stopped before a sensitive instruction (EIP on it) and hands over its decoding
          const d = exit.insn ?? this.fetchInsn(exit.eip);
          this.count(this.counts.exits, `sensitive ${sensitiveKind(d) ?? hex(d.op)}`);
          return this.emulateSensitive(d);
        }
        case "softint": {
          const vec = exit.vector;
          if (vec === 3) {
            let g = -1;
            try { g = this.translate((this.segBase(SEG.cs) + exit.eip) >>> 0, false, this.v.cpl === 3); } catch { /* not ours */ }
            const p = g >= 0 ? this.patcher.patches.get(g) : undefined;
            if (p) {
              this.count(this.counts.exits, `patched ${p.kind}`);
              this.m.eip = exit.eip;
              return this.emulateSensitive(this.fetchInsn());
            }
          }
          this.count(this.counts.exits, vec === 0x80 ? "int 0x80" : `int ${hex(vec)}`);
          const fromUser = this.v.cpl === 3;
          this.deliver(vec, undefined, this.m.eip, true, undefined, false, exit.eip);
          if (fromUser) this.prefillFastInt(vec); // (the next one is done in the CPU: mode.ts)
          return null;
        }
        case "shutdown":
          return { stop: "shutdown", message: `triple fault (CPU shutdown) at eip ${hex(exit.eip)}` };
        default:
          return { stop: "internal-error", message: `full mode: unexpected ${exit.reason} exit at eip ${hex(exit.eip)}` };
      }
    } catch (e) {
      if (e instanceof GuestFault) {
        // a fault while emulating: the instruction did not complete (EIP still at it). Delivering it may itself
        // end in a triple fault or reach past guest RAM: that is a stop, never a host exception.
        try {
          this.deliver(e.vector, e.error, this.m.eip, false, e.cr2);
        } catch (e2) {
          if (e2 instanceof FatalGuest || e2 instanceof GuestRangeError) return { stop: "shutdown", message: `full mode: ${e2.message}` };
          throw e2;
        }
        return null;
      }
      if (e instanceof FatalGuest || e instanceof GuestRangeError) return { stop: "shutdown", message: `full mode: ${e.message}` };
      throw e;
    }
  }
}
