// fuzz.ts — random bytes as code on the wasm CPU. Asserts: no host exception, every run() returns within
// its instruction budget (and in bounded wall time), and no byte of wasm memory outside guest RAM, the
// CPU state block, the TLB and the page-info area changes (the CPU must not scribble on host memory).
import { Machine, REG_NAMES, type MachineOptions } from "../../host/machine.ts";
import * as A from "../../host/abi.generated.ts";
import { Rng, val } from "./gen.ts";

export interface FuzzOptions {
  programs: number;
  /** bytes per program */
  programLen: number;
  seed: number;
  /** instruction budget per program (all its segments together) */
  budget?: number;
  /** guest RAM (small, so random addresses often fall outside it: MMIO exits) */
  memSize?: number;
  log?: (s: string) => void;
  /** extra Machine options (e.g. { jitThreshold: 1 }) */
  machine?: Partial<MachineOptions>;
  /** a run slice slower than this (ms) is reported as a possible hang (default 2000; compiling every block
   * on a loaded machine needs more) */
  slowMs?: number;
}
export interface FuzzResult { programs: number; instructions: number; exits: number; ms: number; problems: string[]; exitKinds: Record<string, number> }

/** Regions of wasm memory that must not change: everything but guest RAM, the state block, the TLB, page info. */
export function guardedRegions(ramSize: number): [number, number][] {
  // the CPU owns [STATE_BASE, MODULE_DATA_BASE) (state block) and [TLB_BASE, RAM_BASE) (TLB, page info,
  // predecoded-block caches: see the layout in assembly/abi.ts); everything else outside RAM is guarded
  void ramSize;
  return [
    [0, A.STATE_BASE],                // null guard
    [A.MODULE_DATA_BASE, A.TLB_BASE], // the module's static data
  ];
}
function checksum(u32: Uint32Array, regions: [number, number][]): number[] {
  return regions.map(([a, b]) => {
    let h = 0x811c9dc5 | 0;
    for (let i = a >>> 2; i < b >>> 2; i++) h = Math.imul(h ^ u32[i], 0x01000193);
    return h >>> 0;
  });
}

/**
 * The Machine API has no way to leave the HLT state (setting EIP does not): use the CPU's reset export and
 * restore the exit configuration. (Reported to the lead: KVM clears it with KVM_SET_MP_STATE.)
 */
function unhalt(m: Machine) {
  (m as unknown as { cpu: { reset(): void } }).cpu.reset();
  const dv = new DataView(m.memory.buffer);
  dv.setUint32(A.STATE_BASE + A.OFF_EXC_BITMAP, 0xffffffff, true);
  dv.setUint32(A.STATE_BASE + A.OFF_CTRL, A.CTRL_EXIT_SOFTINT | A.CTRL_EXIT_HLT, true);
}

function hexAt(m: Machine, a: number, memSize: number): string {
  return a + 16 <= memSize ? Buffer.from(m.readMem(a, 16)).toString("hex") : "(outside RAM)";
}

export function fuzz(o: FuzzOptions): FuzzResult {
  const memSize = o.memSize ?? 1 << 20;
  const budget = o.budget ?? 200;
  const r = new Rng(o.seed ^ 0x5eed);
  const problems: string[] = [];
  const counts = new Map<string, number>();
  /** at most 3 messages per kind of problem; the rest are counted */
  const report = (kind: string, msg: string) => {
    const n = (counts.get(kind) ?? 0) + 1;
    counts.set(kind, n);
    if (n <= 3) problems.push(msg);
  };
  const exitKinds: Record<string, number> = {};
  const t0 = Date.now();
  let m = new Machine({ memSize, exceptionBitmap: 0xffffffff, exitOnSoftInt: true, exitOnHlt: true, ...o.machine });
  // random RAM contents, so loads and jumps find more random code
  const ram = new Uint8Array(memSize);
  for (let i = 0; i < memSize; i += 4) { const v = r.u32(); ram[i] = v; ram[i + 1] = v >>> 8; ram[i + 2] = v >>> 16; ram[i + 3] = v >>> 24; }
  m.writeMem(0, ram);
  const regions = guardedRegions(memSize);
  let u32 = new Uint32Array(m.memory.buffer);
  let before = checksum(u32, regions);
  let instructions = 0, exits = 0;
  const CODE = 0x8000;
  const prog = new Uint8Array(o.programLen + 16);

  const check = (where: string) => {
    const after = checksum(u32, regions);
    after.forEach((h, i) => {
      if (h !== before[i]) {
        const [a, b] = regions[i];
        report("host-memory", `wasm memory outside guest RAM changed in [0x${a.toString(16)}, 0x${b.toString(16)}) (${where})`);
      }
    });
    before = after;
  };

  for (let p = 0; p < o.programs; p++) {
    for (let i = 0; i < prog.length; i++) prog[i] = r.int(256);
    // mostly flat 32-bit protected mode at CPL 0 (all of the ISA reachable), sometimes CPL 3
    try {
      m.setCr("cr0", A.CR0_PE | A.CR0_ET); m.setCr("cr3", 0); m.setCr("cr4", 0);
      m.setFlatProtectedMode();
      if (r.chance(0.25)) {
        m.setSegment("cs", { selector: 0x1b, base: 0, limit: 0xffffffff, attr: 0xc0fb });
        for (const s of ["ss", "ds", "es", "fs", "gs"] as const) m.setSegment(s, { selector: 0x23, base: 0, limit: 0xffffffff, attr: 0xc0f3 });
      }
      m.writeMem(CODE, prog);
      for (const reg of REG_NAMES) m.setReg(reg, r.chance(0.5) ? r.int(memSize) : val(r, 32));
      m.setReg("esp", 0x4000 + r.int(0x3000));
      m.setReg("eflags", (r.u32() & 0xcd5) | 2);
      m.setReg("eip", CODE);
    } catch (e) {
      report("host-exception", `program ${p}: host exception while setting up: ${(e as Error).stack ?? e}`);
      m = new Machine({ memSize, exceptionBitmap: 0xffffffff, exitOnSoftInt: true, exitOnHlt: true, ...o.machine });
      u32 = new Uint32Array(m.memory.buffer); before = checksum(u32, regions);
      continue;
    }
    let left = budget;
    let lastIo = "", sameIo = 0;
    for (let seg = 0; seg < 64 && left > 0; seg++) {
      const i0 = m.instructions, w0 = Date.now();
      let e;
      try {
        e = m.run(left);
      } catch (err) {
        report("host-exception", `program ${p} (seed ${o.seed}): host exception: ${(err as Error).message} at eip 0x${m.eip.toString(16)} bytes ${hexAt(m, m.eip, memSize)}`);
        m = new Machine({ memSize, exceptionBitmap: 0xffffffff, exitOnSoftInt: true, exitOnHlt: true, ...o.machine });
        u32 = new Uint32Array(m.memory.buffer); before = checksum(u32, regions);
        break;
      }
      const ran = m.instructions - i0, wall = Date.now() - w0;
      if (ran > left) report("budget", `program ${p}: run(${left}) retired ${ran} instructions`);
      if (wall > (o.slowMs ?? 2000)) report("slow", `program ${p}: run(${left}) took ${wall} ms`);
      instructions += ran; left -= Math.max(ran, 1);
      exitKinds[e.reason] = (exitKinds[e.reason] ?? 0) + 1;
      if (e.reason === "budget") break;
      exits++;
      if (e.reason === "shutdown") break;
      if (e.reason === "hlt") { unhalt(m); break; }
      // continue after the exit: complete I/O with a random value, otherwise skip a byte past the exit's EIP
      if (e.reason === "io-in" || e.reason === "mmio-read") {
        // the same read again with no instruction retired in between: the completion was not consumed
        // (a polling loop retires instructions between its reads, a REP string instruction moves ECX: no livelock)
        const key = `${e.reason}@${e.eip}:${e.port}/${e.size}#${m.instructions}/${m.ecx}/${m.esi}/${m.edi}`; // REP INS/OUTS make progress in ECX/ESI/EDI
        if (key === lastIo) {
          if (++sameIo === 8) {
            report("livelock", `program ${p} (seed ${o.seed}): livelock: ${e.reason} of ${e.size} byte(s) at 0x${(e.port ?? 0).toString(16)} ` +
              `exits again after each completion (eip 0x${e.eip.toString(16)}, bytes in RAM there ${hexAt(m, e.eip, memSize)})`);
          }
          if (sameIo >= 8) { m.setReg("eip", (e.eip + 1) >>> 0); continue; }
        } else { lastIo = key; sameIo = 0; }
        m.completeIo(r.u32()); continue;
      }
      const next = (e.reason === "io-out" || e.reason === "mmio-write") && e.insnLength ? e.eip + e.insnLength
        : e.reason === "softint" ? m.eip : e.eip + 1;
      if ((next >>> 0) >= memSize - 16) break; // ran off RAM: on to the next program
      m.setReg("eip", next >>> 0);
    }
    if ((p + 1) % 2000 === 0) { check(`after program ${p}`); o.log?.(`  fuzz: ${p + 1} programs, ${instructions} instructions`); }
  }
  check("at the end");
  for (const [kind, n] of counts) if (n > 3) problems.push(`... ${n - 3} more ${kind} problems`);
  return { programs: o.programs, instructions, exits, ms: Date.now() - t0, problems, exitKinds };
}
