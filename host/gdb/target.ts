// target.ts — the debug-target interface the GDB stub drives, over a Machine, and its three implementations:
// native (the CPU's own state), full (the guest's view kept by the monitor: virtual CPL/IF/IOPL/CR*, guest RAM
// above the VMM region, original bytes under the translator's patches, page-table writes through the shadow
// MMU) and para (the CPU's state; writes only where para's memory policy lets a device write).
//
// Virtual memory is reached through a page walk of the guest's own tables that has no side effects: no
// accessed/dirty bits, no TLB fill, no permission checks (a debugger sees what the kernel could map).
import * as A from "../abi.generated.ts";
import type { Machine } from "../machine.ts";
import type { Monitor } from "../full/monitor.ts";
import { VMM_SIZE } from "../full/monitor.ts";
import type { MemoryPolicy } from "../para/policy.ts";
import type { VmCore } from "../core/vm.ts";
import { FullMode } from "../full/fullvm.ts";
import { ParaMode } from "../para/vm.ts";
import { HwMode } from "../hw/mode.ts";
import { HW_HOST_SIZE } from "../hw/ept.ts";

export const GPR_NAMES = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"] as const;
export const SEG_ORDER = ["cs", "ss", "ds", "es", "fs", "gs"] as const; // gdb's i386 order
export type CrName = "cr0" | "cr2" | "cr3" | "cr4";

export interface Walk {
  lin: number;
  paging: boolean;
  pde?: { addr: number; value: number };
  pte?: { addr: number; value: number };
  /** guest-physical address, or null if not mapped */
  phys: number | null;
  large?: boolean;
}

export interface DebugTarget {
  readonly mode: string;
  readonly machine: Machine;
  getGpr(i: number): number;
  setGpr(i: number, v: number): void;
  getEip(): number;
  setEip(v: number): void;
  getEflags(): number;
  setEflags(v: number): void;
  getSel(name: (typeof SEG_ORDER)[number]): number;
  getCr(name: CrName): number;
  /** guest-physical memory (the guest's RAM only); null where there is none */
  readPhys(pa: number, len: number): Uint8Array | null;
  /** false if refused (outside the guest's RAM, or memory the mode protects) */
  writePhys(pa: number, data: Uint8Array): boolean;
  /** wasmvisor's own state for `monitor` commands: extra lines for `monitor info`, the shadow entry of an address */
  info(): string[];
  shadowOf?(lin: number): string;
}

/** The guest page walk (32-bit paging, 4 KiB and 4 MiB pages), side-effect free. */
export function walk(t: DebugTarget, lin: number): Walk {
  lin >>>= 0;
  const cr0 = t.getCr("cr0"), cr4 = t.getCr("cr4");
  if (!(cr0 & A.CR0_PG)) return { lin, paging: false, phys: lin };
  const rd32 = (pa: number) => { const b = t.readPhys(pa, 4); return b ? (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0 : null; };
  const pdeAddr = ((t.getCr("cr3") & 0xfffff000) + ((lin >>> 22) << 2)) >>> 0;
  const pde = rd32(pdeAddr);
  if (pde === null) return { lin, paging: true, phys: null };
  const w: Walk = { lin, paging: true, pde: { addr: pdeAddr, value: pde }, phys: null };
  if (!(pde & 1)) return w;
  if ((pde & 0x80) && (cr4 & A.CR4_PSE)) {
    w.large = true;
    w.phys = ((pde & 0xffc00000) | (lin & 0x3fffff)) >>> 0;
    return w;
  }
  const pteAddr = ((pde & 0xfffff000) + (((lin >>> 12) & 0x3ff) << 2)) >>> 0;
  const pte = rd32(pteAddr);
  if (pte === null) return w;
  w.pte = { addr: pteAddr, value: pte };
  if (pte & 1) w.phys = ((pte & 0xfffff000) | (lin & 0xfff)) >>> 0;
  return w;
}

/** Read guest-virtual memory; stops at the first unmapped byte (returns what was read, possibly empty). */
export function readVirt(t: DebugTarget, lin: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let done = 0;
  while (done < len) {
    const a = (lin + done) >>> 0;
    const n = Math.min(len - done, 0x1000 - (a & 0xfff));
    const w = walk(t, a);
    if (w.phys === null) break;
    const b = t.readPhys(w.phys, n);
    if (!b) break;
    out.set(b, done);
    done += n;
  }
  return out.subarray(0, done);
}
/** Write guest-virtual memory page by page; false at the first unmapped or refused page. */
export function writeVirt(t: DebugTarget, lin: number, data: Uint8Array): boolean {
  let done = 0;
  while (done < data.length) {
    const a = (lin + done) >>> 0;
    const n = Math.min(data.length - done, 0x1000 - (a & 0xfff));
    const w = walk(t, a);
    if (w.phys === null || !t.writePhys(w.phys, data.subarray(done, done + n))) return false;
    done += n;
  }
  return true;
}

/** native mode: the CPU's own state is the guest's. */
export class MachineTarget implements DebugTarget {
  constructor(readonly machine: Machine, readonly mode = "native") {}
  getGpr(i: number) { return this.machine.getReg(GPR_NAMES[i]); }
  setGpr(i: number, v: number) { this.machine.setReg(GPR_NAMES[i], v >>> 0); }
  getEip() { return this.machine.eip; }
  setEip(v: number) { this.machine.eip = v >>> 0; }
  getEflags() { return this.machine.eflags; }
  setEflags(v: number) { this.machine.eflags = v >>> 0; }
  getSel(name: (typeof SEG_ORDER)[number]) { return this.machine.getSegment(name).selector; }
  getCr(name: CrName) { return this.machine.getCr(name); }
  readPhys(pa: number, len: number): Uint8Array | null {
    if (pa < 0 || len < 0 || pa + len > this.machine.ramSize) return null;
    return this.machine.readMem(pa, len);
  }
  writePhys(pa: number, data: Uint8Array): boolean {
    if (pa < 0 || pa + data.length > this.machine.ramSize) return false;
    this.machine.writeMem(pa, data); // keeps the predecoded-block cache coherent
    return true;
  }
  info(): string[] { return []; }
}

/** para mode: the CPU's state; debugger writes follow the same policy as device DMA (no page tables, no VMM). */
export class ParaTarget extends MachineTarget {
  constructor(machine: Machine, private readonly policy: MemoryPolicy) { super(machine, "para"); }
  override readPhys(pa: number, len: number): Uint8Array | null {
    return this.policy.inGuest(pa, len) ? super.readPhys(pa, len) : null;
  }
  override writePhys(pa: number, data: Uint8Array): boolean {
    return this.policy.inGuest(pa, data.length) && this.policy.deviceMayWrite(pa, data.length) && super.writePhys(pa, data);
  }
}

/** hw mode: guest-physical X is host-physical HW_HOST_SIZE + X (how hw mode's EPT maps guest RAM); nothing else is the guest's. */
export class HwTarget extends MachineTarget {
  /** `guestCrs`: with --npt off the guest's CR0/CR3/CR4 are the hypervisor's (the real ones are its shadows') */
  constructor(machine: Machine, private readonly guestRam: number, private readonly guestCrs: { cr0: number; cr3: number; cr4: number } | null = null) { super(machine, "hw"); }
  override getCr(name: CrName) { return this.guestCrs && name !== "cr2" ? this.guestCrs[name] : super.getCr(name); }
  override readPhys(pa: number, len: number): Uint8Array | null {
    return pa >= 0 && len >= 0 && pa + len <= this.guestRam ? super.readPhys(pa + HW_HOST_SIZE, len) : null;
  }
  override writePhys(pa: number, data: Uint8Array): boolean {
    return pa >= 0 && pa + data.length <= this.guestRam && super.writePhys(pa + HW_HOST_SIZE, data);
  }
}

/** full mode: the guest's view kept by the monitor. */
export class FullTarget implements DebugTarget {
  readonly mode = "full";
  constructor(readonly machine: Machine, private readonly mon: Monitor, private readonly guestRam: number) {}
  getGpr(i: number) { return this.machine.getReg(GPR_NAMES[i]); }
  setGpr(i: number, v: number) { this.machine.setReg(GPR_NAMES[i], v >>> 0); }
  getEip() { return this.machine.eip; }
  setEip(v: number) { this.machine.eip = v >>> 0; }
  getEflags() { return this.mon.guestFlags(); }
  setEflags(v: number) { this.mon.setGuestFlags(v >>> 0); }
  getSel(name: (typeof SEG_ORDER)[number]) {
    return name === "cs" || name === "ss" ? this.mon.vsel(name) : this.machine.getSegment(name).selector;
  }
  getCr(name: CrName) { return this.mon.v[name] >>> 0; }
  readPhys(pa: number, len: number): Uint8Array | null {
    if (pa < 0 || len < 0 || pa + len > this.guestRam) return null;
    const b = this.machine.readMem(pa + VMM_SIZE, len);
    // the translator's INT3 patches are wasmvisor's, not the guest's: show the original bytes
    for (let i = 0; i < len; i++) if (b[i] === 0xcc) b[i] = this.mon.patcher.origByte(pa + i);
    return b;
  }
  writePhys(pa: number, data: Uint8Array): boolean {
    if (pa < 0 || pa + data.length > this.guestRam) return false;
    const frame = pa >>> 12;
    if (this.mon.shadow.isProtected(frame)) { this.mon.shadow.writeEntries(pa, data); return true; } // a page table
    if (this.mon.patcher.isCodeFrame(frame)) {
      const before = this.machine.readMem(frame * 4096 + VMM_SIZE, 4096);
      this.machine.writeMem(pa + VMM_SIZE, data);
      this.mon.patcher.onWrite(frame, before); // re-scan the code the debugger changed
      return true;
    }
    this.machine.writeMem(pa + VMM_SIZE, data);
    return true;
  }
  info(): string[] {
    const v = this.mon.v, s = this.mon.shadow.stats as unknown as Record<string, number>;
    return [
      `virtual CPU: cpl ${v.cpl} if ${v.vif ? 1 : 0} iopl ${v.iopl}`,
      `monitor exits: ${Object.entries(this.mon.stats.exits).map(([k, n]) => `${k} ${n}`).join(", ") || "none"}`,
      `shadow paging: ${Object.entries(s).map(([k, n]) => `${k} ${n}`).join(", ")}`,
    ];
  }
  /** The shadow PTE the CPU really uses for `lin` (machine-physical frame = guest frame + VMM_SIZE). */
  shadowOf(lin: number): string {
    const a = this.mon.shadow.spteAddr(lin >>> 0);
    if (a < 0) return "shadow: no shadow page table for this address (not yet faulted in)";
    const e = this.machine.read32(a);
    const frame = e & 1 ? `guest-physical 0x${(((e & 0xfffff000) >>> 0) - VMM_SIZE + (lin & 0xfff)).toString(16)}` : "not present";
    return `shadow PTE at machine 0x${a.toString(16)}: 0x${(e >>> 0).toString(16).padStart(8, "0")} (${frame}${e & 2 ? ", writable" : ", read-only"}${e & 4 ? ", user" : ""})`;
  }
}

/** The debug target of a VM: the guest's view of its CPU and memory in its mode (vm.mode). */
export function targetFor(vm: VmCore): DebugTarget {
  const mode = vm.mode;
  if (mode instanceof FullMode) return new FullTarget(vm.machine, mode.monitor, mode.guestRam);
  if (mode instanceof ParaMode) return new ParaTarget(vm.machine, mode.policy);
  if (mode instanceof HwMode) return new HwTarget(vm.machine, mode.guestRam, mode.shadow);
  return new MachineTarget(vm.machine);
}
