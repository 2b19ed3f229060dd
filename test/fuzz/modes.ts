// modes.ts — random guest kernels (guest.ts) run in every mode (native host/vm.ts, full host/full, para
// host/para), one fresh VM per program, each under an instruction budget and timed. After every program:
//  - no JS exception escaped the VM (construction, boot or run);
//  - the run ended with a documented outcome (budget, debug-exit, halted, shutdown); "internal-error" (status 12,
//    "a wasmvisor bug") is reported as a problem too;
//  - its wall time stayed bounded (a run that never returns is caught by the watchdog in driver.ts);
//  - no byte of the VM's wasm memory outside guest RAM, the CPU state block and the TLB changed, and a sentinel
//    Machine (another VM's memory) is unchanged;
//  - full: no shadow page table (all cached ones) gives the guest (real CPL 3) a user mapping of a VMM frame, and
//    no user-writable mapping of a frame the shadows derive from (a guest page table) or outside guest RAM;
//  - para: the CPU never runs at CPL 0; the VMM's GDT holds no DPL-0 code/data descriptor and its TSS descriptor
//    is the VMM's; every IDT gate leads to the ring-1 kernel selector below the hole; the hole page table is
//    unchanged; no writable mapping (current CR3) of a page-table frame or of a VMM frame but the shared page.
import { Machine } from "../../host/machine.ts";
import * as A from "../../host/abi.generated.ts";
import { Vm, type RunResult } from "../../host/vm.ts";
import { FullVm } from "../../host/full/fullvm.ts";
import { VMM_SIZE as FULL_VMM_SIZE } from "../../host/full/monitor.ts";
import { ParaVm } from "../../host/para/vm.ts";
import type { HwMode } from "../../host/hw/mode.ts";
import { HW_HOST_SIZE, EPT_DIR, EPT_TABLES } from "../../host/hw/ept.ts";
import { VAPIC_PAGE } from "../../host/hw/apicv.ts";
import { GDT_ENTRIES, HOLE_VA, SEL, TSS_INDEX, VMM_GDT, VMM_HOLE_PT, VMM_IDT, VMM_SHARED, VMM_SIZE as PARA_VMM_SIZE } from "../../host/para/abi.ts";
import { MemoryBackend } from "../../host/devices/index.ts";
import { Rng } from "../diff/gen.ts";
import { generate, GUEST_MEM, type Mode, type Program } from "./guest.ts";

export interface ProgramResult {
  instructions: number;
  exits: Record<string, number>;
  outcome: string;
  ms: number;
  problems: string[];
}

/** The RNG seed of program `i` of a campaign: each program can be regenerated alone. */
export function programSeed(seed: number, mode: Mode, i: number): number {
  let h = (seed ^ 0x9e3779b9 ^ (mode === "native" ? 0x1111 : mode === "full" ? 0x2222 : mode === "hw" ? 0x4444 : 0x3333)) >>> 0;
  h = Math.imul(h ^ (i >>> 0), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function checksum(u32: Uint32Array, a: number, b: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = a >>> 2; i < b >>> 2; i++) h = Math.imul(h ^ u32[i], 0x01000193);
  return h >>> 0;
}
/**
 * the VM's wasm memory that nothing may write: the null guard and the module's static data — but for the string-I/O
 * buffer the CPU fills on a REP OUTS (abi.ts IO_BUF_BASE, inside that range by design)
 */
function guarded(m: Machine): number[] {
  const u32 = new Uint32Array(m.memory.buffer);
  return [
    checksum(u32, 0, A.STATE_BASE),
    checksum(u32, A.MODULE_DATA_BASE, A.IO_BUF_BASE),
    checksum(u32, A.IO_BUF_BASE + A.IO_BUF_SIZE, A.TLB_BASE),
  ];
}
const hex = (n: number) => "0x" + (n >>> 0).toString(16);

interface AnyVm { machine: Machine; run(o: { maxInstructions: number }): RunResult; stats: { exits: Record<string, number>; instructions: number } }

function build(p: Program, r: Rng): AnyVm {
  const disk = new MemoryBackend(64 * 1024);
  if (p.mode === "native") {
    const vm = new Vm({ memSize: GUEST_MEM.native, disk, captureConsole: false, platformKind: r.chance(0.8) ? "mp" : "pc", machine: { jitThreshold: r.chance(0.9) ? 256 : 2 } });
    vm.loadMultiboot(p.image);
    return vm;
  }
  if (p.mode === "hw") {
    const vm = new Vm({ mode: "hw", memSize: GUEST_MEM.hw, disk, captureConsole: false, platformKind: r.chance(0.8) ? "mp" : "pc", machine: { jitThreshold: r.chance(0.9) ? 256 : 2 } });
    vm.loadMultiboot(p.image);
    return vm;
  }
  if (p.mode === "full") {
    const vm = new FullVm({ memSize: GUEST_MEM.full, disk, captureConsole: false, maxShadows: 1 + r.int(16) });
    vm.loadMultiboot(p.image);
    return vm;
  }
  const vm = new ParaVm({ memSize: GUEST_MEM.para, disk, captureConsole: false });
  vm.loadMultiboot(p.image);
  return vm;
}

/** Runs program `index` of campaign `seed` in `mode` and checks it. */
export function runProgram(mode: Mode, seed: number, index: number, budget: number, slowMs = 5000): ProgramResult {
  const r = new Rng(programSeed(seed, mode, index));
  const p = generate(mode, r);
  const where = `${mode} seed ${seed} program ${index}`;
  const problems: string[] = [];
  const t0 = performance.now();
  let vm: AnyVm;
  try {
    vm = build(p, r);
  } catch (e) {
    return { instructions: 0, exits: {}, outcome: "host-exception", ms: performance.now() - t0, problems: [`${where}: host exception while booting: ${(e as Error).stack ?? e}`] };
  }
  const m = vm.machine;
  const before = guarded(m);
  const paraHole = mode === "para" ? paraHolePt(vm as ParaVm) : 0;
  const hvBefore = mode === "hw" ? hypervisorImage(vm as Vm) : null;
  let res: RunResult | null = null;
  try {
    res = vm.run({ maxInstructions: budget });
  } catch (e) {
    problems.push(`${where}: host exception: ${(e as Error).stack ?? e} (eip ${hex(m.eip)})`);
  }
  const ms = performance.now() - t0;
  if (ms > slowMs) problems.push(`${where}: slow: ${Math.round(ms)} ms for a ${budget}-instruction budget`);
  if (res?.stopReason === "internal-error") problems.push(`${where}: internal error: ${res.message}`);
  const after = guarded(m);
  if (after.some((h, i) => h !== before[i])) problems.push(`${where}: wasm memory outside guest RAM changed (null guard / module data)`);
  try {
    if (mode === "full") problems.push(...fullInvariants(vm as FullVm).map((s) => `${where}: ${s}`));
    if (mode === "para") problems.push(...paraInvariants(vm as ParaVm, paraHole).map((s) => `${where}: ${s}`));
    if (mode === "hw") problems.push(...hwInvariants(vm as Vm, hvBefore!).map((s) => `${where}: ${s}`));
  } catch (e) {
    problems.push(`${where}: invariant check failed: ${(e as Error).stack ?? e}`);
  }
  let instructions = vm.stats.instructions;
  if (mode === "full") instructions += (vm as FullVm).monitor.stats.emulatedInstructions;
  return { instructions, exits: { ...vm.stats.exits }, outcome: res ? res.stopReason : "host-exception", ms, problems };
}

// ---------------------------------------------------------------- hw: the hypervisor's memory and the EPT
/** hw mode's host-physical memory below guest RAM (EPT, bitmaps), with the EPT's A/D flags (the CPU's) masked. */
export function hypervisorImage(vm: Vm): Uint8Array {
  const b = vm.machine.readMem(0, HW_HOST_SIZE);
  const tables = Math.ceil(((vm.mode as HwMode).guestRam) / (4 << 20));
  for (const [from, len] of [[EPT_DIR, 4096], [EPT_TABLES, tables * 4096]]) for (let i = from + 1; i < from + len; i += 4) b[i] &= ~3;
  b.fill(0, VAPIC_PAGE, VAPIC_PAGE + 4096); // the virtual-APIC page: the guest's APIC registers (VTPR is guest-written by design)
  return b;
}
/** Nothing a guest does changes the hypervisor's memory, the EPT's mapping of guest RAM or the VMCS controls. */
export function hwInvariants(vm: Vm, before: Uint8Array): string[] {
  const out: string[] = [];
  const after = hypervisorImage(vm);
  for (let i = 0; i < after.length; i++) if (after[i] !== before[i]) { out.push(`hypervisor memory changed at host-physical ${hex(i)}`); break; }
  const mode = vm.mode as HwMode;
  for (let gpa = 0; gpa < mode.guestRam; gpa += 4096) {
    const e = mode.ept.entry(gpa);
    if (e.hpa !== HW_HOST_SIZE + gpa || e.perms !== 7) { out.push(`EPT entry of guest-physical ${hex(gpa)} changed: ${JSON.stringify(e)}`); break; }
  }
  if (!mode.vmcs.guestMode || mode.vmcs.get(A.OFF_VMX_EPTP) !== mode.ept.pointer) out.push("VMCS controls changed");
  return out;
}

// ---------------------------------------------------------------- full: the shadow tables
export function fullInvariants(vm: FullVm): string[] {
  const m = vm.machine, out: string[] = [];
  const sh = vm.monitor.shadow;
  const shadows = (sh as unknown as { shadows: Map<string, { key: string; pd: number }> }).shadows;
  const ramLo = FULL_VMM_SIZE, ramHi = FULL_VMM_SIZE + vm.guestRam, machineRam = m.ramSize;
  const pse = (m.getCr("cr4") & 0x10) !== 0;
  const bad = (key: string, lin: number, frame: number, writable: boolean): string | null => {
    if (frame >= ramLo && frame < ramHi) {
      if (writable && sh.isProtected((frame - ramLo) >>> 12)) return `shadow ${key} maps ${hex(lin)} user-writable onto guest frame ${hex(frame - ramLo)}, which shadows derive from`;
      return null;
    }
    if (frame >= machineRam) return null; // MMIO: exits
    return `shadow ${key} maps ${hex(lin)} for the guest onto machine frame ${hex(frame)}, outside guest RAM${frame < ramLo ? " (the VMM's)" : ""}`;
  };
  for (const s of shadows.values()) {
    for (let pdi = 0; pdi < 1024 && out.length < 4; pdi++) {
      const pde = m.read32(s.pd + 4 * pdi) >>> 0;
      if ((pde & 5) !== 5) continue; // not present or supervisor-only: the guest runs at CPL 3
      if ((pde & 0x80) && pse) {
        const f = (pde & 0xffc00000) >>> 0;
        for (let k = 0; k < 1024; k++) { const e = bad(s.key, pdi << 22, f + k * 4096, (pde & 2) !== 0); if (e) { out.push(e); break; } }
        continue;
      }
      const pt = (pde & 0xfffff000) >>> 0;
      if (pt < ramLo === false && pt < machineRam) out.push(`shadow ${s.key}: PDE ${pdi} points to a page table at ${hex(pt)}, outside the VMM pool`);
      if (pt + 4096 > machineRam) continue;
      for (let i = 0; i < 1024; i++) {
        const pte = m.read32(pt + 4 * i) >>> 0;
        if ((pte & 5) !== 5) continue;
        const e = bad(s.key, ((pdi << 22) | (i << 12)) >>> 0, (pte & 0xfffff000) >>> 0, (pde & pte & 2) !== 0);
        if (e) { out.push(e); break; }
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- para: the VMM's tables
export function paraHolePt(vm: ParaVm): number {
  // the CPU sets accessed/dirty bits in it: those may change
  const m = vm.machine;
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < 1024; i++) h = Math.imul(h ^ (m.read32(vm.vmmBase + VMM_HOLE_PT + 4 * i) & ~0x60), 0x01000193);
  return h >>> 0;
}

export function paraInvariants(vm: ParaVm, holeSum: number): string[] {
  const m = vm.machine, out: string[] = [], vb = vm.vmmBase;
  if (m.cpl === 0) out.push(`the CPU runs at CPL 0 (eip ${hex(m.eip)}, cs ${hex(m.getSegment("cs").selector)})`);
  if (paraHolePt(vm) !== holeSum) out.push("the VMM's hole page table changed");
  const tss = [m.read32(vb + VMM_GDT + 8 * TSS_INDEX) >>> 0, m.read32(vb + VMM_GDT + 8 * TSS_INDEX + 4) >>> 0];
  const tssBase = HOLE_VA + 0x3000;
  const want = [(((tssBase & 0xffff) << 16) | 0x67) >>> 0, (((tssBase >>> 24) << 24) | 0x8b00 | ((tssBase >>> 16) & 0xff)) >>> 0];
  if (tss[0] !== want[0] || (tss[1] & ~0x200) !== (want[1] & ~0x200)) out.push(`the VMM's TSS descriptor changed: ${hex(tss[0])} ${hex(tss[1])}`);
  for (let i = 0; i < GDT_ENTRIES; i++) {
    if (i === TSS_INDEX) continue;
    const hi = m.read32(vb + VMM_GDT + 8 * i + 4) >>> 0;
    if (!(hi & 0x8000)) continue;
    const lo = m.read32(vb + VMM_GDT + 8 * i) >>> 0;
    const isVmmTss = lo === want[0] && (hi & ~0x200) === (want[1] & ~0x200); // set_gdt turns a guest TSS into the VMM's
    if (!(hi & 0x1000)) { if (!isVmmTss) out.push(`GDT entry ${i} is a system descriptor (${hex(lo)} ${hex(hi)})`); }
    else if (((hi >>> 13) & 3) === 0) out.push(`GDT entry ${i} is a DPL-0 ${hi & 0x800 ? "code" : "data"} descriptor (${hex(hi)})`);
  }
  for (let v = 0; v < 256; v++) {
    const lo = m.read32(vb + VMM_IDT + 8 * v) >>> 0, hi = m.read32(vb + VMM_IDT + 8 * v + 4) >>> 0;
    if (!(hi & 0x8000)) continue;
    const off = ((hi & 0xffff0000) | (lo & 0xffff)) >>> 0;
    if ((lo >>> 16 & ~3) !== (SEL.KCODE & ~3) || off >= HOLE_VA || ((hi >>> 8) & 0x1f) !== 0x0f) { out.push(`IDT gate ${v} is not a kernel trap gate: ${hex(lo)} ${hex(hi)}`); break; }
  }
  // writable mappings in the current address space
  const cr3 = (m.getCr("cr3") & ~0xfff) >>> 0;
  const shared = vb + VMM_SHARED;
  for (let pdi = 0; pdi < 1024 && out.length < 8; pdi++) {
    const pde = m.read32(cr3 + 4 * pdi) >>> 0;
    if (!(pde & 1)) continue;
    if (pde & 0x80) { out.push(`PDE ${pdi} is a large page (${hex(pde)})`); continue; }
    const pt = (pde & 0xfffff000) >>> 0;
    if (pt + 4096 > m.ramSize) { out.push(`PDE ${pdi} points outside RAM (${hex(pde)})`); continue; }
    for (let i = 0; i < 1024; i++) {
      const pte = m.read32(pt + 4 * i) >>> 0;
      if ((pte & 1) === 0 || !(pde & pte & 2)) continue;
      const f = (pte & 0xfffff000) >>> 0, lin = ((pdi << 22) | (i << 12)) >>> 0;
      if (f >= vb && f < vb + PARA_VMM_SIZE && f !== shared) { out.push(`${hex(lin)} maps VMM frame ${hex(f)} writable`); break; }
      if (f < vb && vm.mmu.type[f >>> 12] !== 0) { out.push(`${hex(lin)} maps page-table frame ${hex(f)} writable`); break; }
    }
  }
  return out;
}

// ---------------------------------------------------------------- campaigns
export interface CampaignOptions {
  mode: Mode;
  seed: number;
  /** stop after this many guest instructions (all programs together)... */
  instructions?: number;
  /** ...or this many programs */
  programs?: number;
  /** first program index (the watchdog restarts a campaign past a hung program) */
  first?: number;
  /** instruction budget per program */
  budget?: number;
  slowMs?: number;
  /** called before each program (the watchdog's heartbeat) */
  onProgram?: (index: number) => void;
  log?: (s: string) => void;
}
export interface CampaignResult {
  mode: Mode; seed: number; programs: number; instructions: number; ms: number;
  exits: Record<string, number>; outcomes: Record<string, number>; problems: string[]; nextProgram: number;
}

export function campaign(o: CampaignOptions): CampaignResult {
  const budget = o.budget ?? 20_000;
  const t0 = Date.now();
  const res: CampaignResult = { mode: o.mode, seed: o.seed, programs: 0, instructions: 0, ms: 0, exits: {}, outcomes: {}, problems: [], nextProgram: o.first ?? 0 };
  // another VM's memory: must never change
  const sentinel = new Machine({ memSize: 1 << 20 });
  const sr = new Rng(o.seed);
  const fill = new Uint8Array(1 << 20);
  for (let i = 0; i < fill.length; i++) fill[i] = sr.int(256);
  sentinel.writeMem(0, fill);
  const su32 = new Uint32Array(sentinel.memory.buffer);
  const sentinelSum = checksum(su32, 0, su32.length * 4);
  const checkSentinel = () => {
    if (checksum(su32, 0, su32.length * 4) !== sentinelSum) res.problems.push(`${o.mode} seed ${o.seed}: another Machine's memory changed (before program ${res.nextProgram})`);
  };
  let lastLog = Date.now();
  for (let i = o.first ?? 0; ; i++) {
    if (o.programs !== undefined && res.programs >= o.programs) break;
    if (o.instructions !== undefined && res.instructions >= o.instructions) break;
    o.onProgram?.(i);
    const p = runProgram(o.mode, o.seed, i, budget, o.slowMs);
    res.programs++; res.nextProgram = i + 1;
    res.instructions += p.instructions;
    for (const [k, n] of Object.entries(p.exits)) if (n) res.exits[k] = (res.exits[k] ?? 0) + n;
    res.outcomes[p.outcome] = (res.outcomes[p.outcome] ?? 0) + 1;
    res.problems.push(...p.problems);
    if (res.programs % 200 === 0) checkSentinel();
    if (o.log && Date.now() - lastLog > 10_000) { lastLog = Date.now(); o.log(`  ${o.mode}: ${res.programs} programs, ${res.instructions} instructions, ${res.problems.length} problems`); }
  }
  checkSentinel();
  res.ms = Date.now() - t0;
  return res;
}
