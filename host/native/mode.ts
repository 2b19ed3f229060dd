// mode.ts — native mode: the guest kernel runs at ring 0 on the CPU as on bare metal; the VMM only answers device
// exits. Interrupts follow the INTR protocol (OFF_INTR_* in assembly/abi.ts):
//   1. before every slice (beforeSlice → syncIntr): if the CPU line is low, ask the controller for its
//      highest-priority deliverable request *without acknowledging it* (peek) and raise INTR with that vector; if
//      the line is already high, re-validate it (the guest may have masked the IRQ or a higher-priority one
//      arrived), so the vector is updated or the line lowered (an 8259 deasserting INT before INTA).
//   2. after every slice, first thing (afterSlice → syncAck): if the line we raised is now low, the CPU took the
//      interrupt (it clears OFF_INTR_LEVEL when it does), so the VM performs the controller side of INTA now.
// The controller is the local APIC on platform "mp" (the 8259's vector while LINT0 is in ExtINT mode: virtual
// wire), the 8259 pair on "pc". The window between "CPU took it" and "acknowledged" is invisible to the guest: it
// sees the controller only through exits, and step 2 runs before any exit is dispatched.
// HLT with IF=0 (the usual `cli; hlt`) stops at once with EXIT_STATUS.HALTED; with IF=1 the run loop idles.
import { Machine, type Exit, type MachineOptions } from "../machine.ts";
import * as A from "../abi.generated.ts";
import { deviceExit, enableStringIoBatches } from "../core/device-exits.ts";
import { shareApic } from "../core/apic-share.ts";
import type { VmStats } from "../stats.ts";
import { loadMultiboot, enterMultiboot, type MultibootBoot } from "../multiboot.ts";
import { loadBzImage, enterBzImage, type BzImageBoot, type BzImageOptions } from "../loaders/bzimage.ts";
import type { Saved } from "../persist.ts";
import type { ExitAction, LoadOptions, Mode } from "../core/mode.ts";
import type { Platform } from "../core/platform.ts";
import { EXIT_STATUS, hex, type RunResult } from "../core/status.ts";

export class NativeMode implements Mode {
  readonly name = "native";
  readonly machine: Machine;
  readonly emulatedInstructions = 0;
  private platform!: Platform;
  private vmStats!: VmStats;
  /** the vector we put on INTR and have not yet seen the CPU take, or -1 */
  private raised = -1;

  constructor(memSize: number, machine: Partial<MachineOptions> | undefined, private readonly log: (m: string) => void) {
    this.machine = new Machine({ ...machine, memSize });
  }

  attach(platform: Platform, stats: VmStats): void {
    this.platform = platform;
    this.vmStats = stats;
    // the local APIC's registers live in the CPU's STATE block: hot accesses never exit (assembly/apic.ts)
    shareApic(platform, this.machine); // (a view of the STATE block that follows the memory as RAM is backed)
    enableStringIoBatches(this.machine); // REP INS/OUTS: one exit per run of elements
  }

  load(image: Uint8Array, opts: LoadOptions): MultibootBoot {
    const boot = loadMultiboot(image, this.machine, { ...opts, mpTables: this.platform.mpTables });
    enterMultiboot(this.machine, boot);
    return boot;
  }

  loadLinux(image: Uint8Array, opts: BzImageOptions): BzImageBoot {
    const boot = loadBzImage(image, this.machine, { ...opts, mpTables: this.platform.mpTables });
    enterBzImage(this.machine, boot);
    return boot;
  }

  beforeSlice(): number { this.syncIntr(); return Infinity; }
  afterSlice(): void { this.syncAck(); }
  wakeup(): boolean { this.syncIntr(); return this.raised >= 0; }

  handle(exit: Exit): ExitAction {
    const m = this.machine, bus = this.platform.bus, st = this.vmStats;
    if (deviceExit(exit, m, bus, st)) return null;
    switch (exit.reason) {
      case "budget":
        return null;
      case "hlt":
        if (m.eflags & A.FLAG_IF) return "idle";
        return { exitStatus: EXIT_STATUS.HALTED, stopReason: "halted", message: `guest halted with interrupts disabled (hlt at eip ${hex(exit.eip)})`, exit };
      case "shutdown":
        return { exitStatus: EXIT_STATUS.TRIPLE_FAULT, stopReason: "shutdown", message: `triple fault (CPU shutdown) at eip ${hex(exit.eip)}`, exit };
      case "exception":
        return internal(exit, `unexpected exception exit: vector ${exit.vector}${exit.errorCode !== undefined ? ` error ${hex(exit.errorCode)}` : ""} at eip ${hex(exit.eip)}`);
      case "softint":
        return internal(exit, `unexpected software-interrupt exit: int ${hex(exit.vector ?? 0)} at eip ${hex(exit.eip)}`);
      default:
        return internal(exit, `unexpected ${exit.reason} exit at eip ${hex(exit.eip)}`);
    }
  }

  private syncIntr(): void {
    const v = this.platform.pic.peek();
    if (v === this.raised) return;
    if (v < 0) {
      this.machine.setIntr(false);
      this.raised = -1;
    } else {
      this.machine.setIntr(true, v);
      this.raised = v;
    }
  }

  private syncAck(): void {
    if (this.raised < 0 || this.machine.intrPending) return;
    const v = this.raised;
    this.raised = -1;
    const acked = this.platform.pic.acknowledge();
    if (acked !== v) this.log(`vm: interrupt controller acknowledged vector ${hex(acked)} but the CPU took ${hex(v)}`);
    this.vmStats.countInterrupt(v);
  }

  stats(): Record<string, unknown> { return {}; }
  save(): Saved { return { raised: this.raised }; }
  restore(s: Saved): void { this.raised = (s as { raised: number }).raised; }
}

function internal(exit: Exit, message: string): RunResult {
  return { exitStatus: EXIT_STATUS.INTERNAL, stopReason: "internal-error", message, exit };
}
