// abi.test.ts — the STATE block layout of assembly/abi.ts, and that it holds the whole vCPU state:
// every area declared with its size, no two overlapping, every field inside one, nothing hand-placed elsewhere;
// and a guest copied (vCPU state + RAM) into a fresh Machine at any run() boundary continues identically.
import { describe, it, expect } from "vitest";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as A from "../host/abi.generated.ts";
import { Machine } from "../host/machine.ts";
import type { Exit } from "../host/machine.ts";
import { descriptor, gate } from "../host/traps.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const haveCpu = existsSync(join(root, "build/cpu.wasm"));
const abi = A as unknown as Record<string, number>;

interface Area { name: string; off: number; size: number }
const areas: Area[] = Object.keys(abi)
  .filter((k) => k.startsWith("AREA_") && !k.endsWith("_SIZE"))
  .map((k) => ({ name: k, off: abi[k], size: abi[`${k}_SIZE`] }))
  .sort((a, b) => a.off - b.off);

/** Field sizes of the STATE fields wider than one u32 (everything else is a u32). */
const WIDE: Record<string, number> = { OFF_DR0: 32, OFF_HV_SIGNATURE: 16, OFF_SEGS: 6 * 16, OFF_SEGOK: 6, OFF_FPU_REGS: 128 };

describe("STATE block layout (assembly/abi.ts)", () => {
  it("declares areas with sizes that do not overlap and fit in the block", () => {
    expect(areas.length).toBeGreaterThanOrEqual(12);
    for (const a of areas) {
      expect(a.size, `${a.name}_SIZE`).toBeGreaterThan(0);
      expect(a.off + a.size, a.name).toBeLessThanOrEqual(A.STATE_SIZE);
      // an area is vCPU state or scratch, never both
      expect(a.off >= A.VCPU_STATE_SIZE || a.off + a.size <= A.VCPU_STATE_SIZE, a.name).toBe(true);
    }
    for (let i = 1; i < areas.length; i++) {
      expect(areas[i - 1].off + areas[i - 1].size, `${areas[i - 1].name} runs into ${areas[i].name}`).toBeLessThanOrEqual(areas[i].off);
    }
    expect(A.STATE_BASE + A.STATE_SIZE).toBeLessThanOrEqual(A.MODULE_DATA_BASE);
  });

  it("places the string-I/O buffer between the module's data and the TLB, a unit of dwords long", () => {
    expect(A.IO_BUF_SIZE).toBe(A.REP_UNIT_ITERATIONS * 4);
    expect(A.IO_BUF_BASE).toBeGreaterThanOrEqual(A.MODULE_DATA_BASE + 0x10000);
    expect(A.IO_BUF_BASE + A.IO_BUF_SIZE).toBeLessThanOrEqual(A.TLB_BASE);
  });

  it("places every OFF_* field inside one area", () => {
    const fields = Object.keys(abi).filter((k) => k.startsWith("OFF_"));
    expect(fields.length).toBeGreaterThan(40);
    for (const f of fields) {
      const off = abi[f], size = WIDE[f] ?? 4;
      const a = areas.find((x) => off >= x.off && off < x.off + x.size);
      expect(a, `${f} = 0x${off.toString(16)} is in no area`).toBeDefined();
      expect(off + size, `${f} runs out of ${a!.name}`).toBeLessThanOrEqual(a!.off + a!.size);
    }
  });

  it("sizes each structure to fit its area", () => {
    expect(A.IOLOG_HDR + A.IOLOG_MAX * A.IOLOG_ENTRY).toBeLessThanOrEqual(A.AREA_IOLOG_SIZE);
    expect(A.WQ_HDR + A.WQ_MAX * A.WQ_ENTRY).toBeLessThanOrEqual(A.AREA_WQ_SIZE);
    expect(A.JC_SIZE).toBeGreaterThan(A.JC_TLBW);
    expect(A.JIT_CTX).toBe(A.AREA_JIT_CTX);
    expect(A.JC_SIZE).toBeLessThanOrEqual(A.AREA_JIT_CTX_SIZE);
    expect(A.REC_SIZE).toBeLessThanOrEqual(A.AREA_TMP_REC_SIZE);
    expect(A.OFF_SEGOK).toBe(A.AREA_SEGOK);
    expect(A.RESET_KEEP1_SIZE + A.RESET_KEEP2_SIZE).toBeLessThanOrEqual(A.AREA_RESET_SIZE);
    expect(A.RESET_KEEP1 + A.RESET_KEEP1_SIZE).toBeLessThanOrEqual(A.VCPU_STATE_SIZE);
    expect(A.RESET_KEEP2 + A.RESET_KEEP2_SIZE).toBeLessThanOrEqual(A.VCPU_STATE_SIZE);
  });

  it("has no STATE offset hand-placed outside abi.ts", () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith(".ts") && !p.endsWith("abi.ts") && !p.endsWith("abi.generated.ts")) files.push(p);
      }
    };
    walk(join(root, "assembly"));
    walk(join(root, "host"));
    // STATE_BASE plus a number, or plus a register index without its OFF_ field
    const bad = /STATE_BASE\s*\+\s*(0x[0-9a-f]+|\d+|\(?\s*\w+\s*<<|\w+\s*\*\s*4\b)/i;
    const hits = files.flatMap((f) => readFileSync(f, "utf8").split("\n").map((l, i) => [f, i + 1, l] as const))
      .filter(([, , l]) => bad.test(l)).map(([f, i, l]) => `${f.slice(root.length + 1)}:${i}: ${l.trim()}`);
    expect(hits).toEqual([]);
  });
});

// ---------------------------------------------------------------- a guest with events at awkward points
// Flat ring-0 protected mode. GDT at 0x800, IDT at 0x1000 (vector 1 #DB and 0x20 INTR), code at 0x2000.
const GDT = 0x800, IDT = 0x1000, CODE = 0x2000, INTR_HANDLER = 0x3000, DB_HANDLER = 0x3100, DATA = 0x5000;
const SRC = 0x10000, DST = 0x40000, REP_DWORDS = 10000; // rep movsd of 3 units (4096 iterations each)
const RAM = 1 << 20; // RAM ends at 0x100000: above it is device memory (MMIO exits)

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const PROGRAM: number[] = [
  0xbb, ...le32(0),                   // mov ebx, 0
  0xfb,                               // sti              (INTR raised here: the shadow holds it for one instruction)
  0x43,                               // inc ebx          <- the interrupt comes after this one
  0x66, 0xb8, 0x10, 0x00,             // mov ax, 0x10
  0x8e, 0xd0,                         // mov ss, ax       (INTR raised here: MOV SS shadow)
  0x43,                               // inc ebx
  0x9c,                               // pushfd
  0x81, 0x0c, 0x24, ...le32(0x100),   // or dword [esp], 0x100
  0x9d,                               // popfd            TF=1: single-step #DB after each instruction
  0x43,                               // inc ebx
  0x8e, 0xd0,                         // mov ss, ax       (holds the single-step trap back one instruction)
  0x43,                               // inc ebx
  0x9c,                               // pushfd
  0x81, 0x24, 0x24, ...le32(~0x100),  // and dword [esp], ~0x100
  0x9d,                               // popfd            TF=0 (it still traps once: TF was set when it began)
  0xf1,                               // int1             #DB trap
  0xbe, ...le32(SRC),                 // mov esi, SRC
  0xbf, ...le32(DST),                 // mov edi, DST
  0xb9, ...le32(REP_DWORDS),          // mov ecx, REP_DWORDS
  0xf3, 0xa5,                         // rep movsd        (INTR raised after its first unit)
  0xe4, 0x60,                         // in al, 0x60
  0xe6, 0x80,                         // out 0x80, al
  0x8b, 0x15, ...le32(0x10fffe),      // mov edx, [0x10fffe]   (device memory, 4 byte reads across the split)
  0xbe, ...le32(0x100ffe),            // mov esi, 0x100ffe
  0xbf, ...le32(0x102ffe),            // mov edi, 0x102ffe
  0xa7,                               // cmpsd            (both operands split over device pages: 8 reads)
  0x89, 0x15, ...le32(0x200ffe),      // mov [0x200ffe], edx   (split over device pages: 4 byte writes, 3 queued)
  0xf4,                               // hlt
];
const INTR_CODE = [
  0x89, 0x1d, ...le32(DATA),          // mov [DATA], ebx
  0xff, 0x05, ...le32(DATA + 4),      // inc dword [DATA+4]
  0x89, 0x0d, ...le32(DATA + 8),      // mov [DATA+8], ecx   (where a REP was interrupted)
  0xcf,                               // iret
];
const DB_CODE = [
  0xff, 0x05, ...le32(DATA + 12),     // inc dword [DATA+12]
  0xcf,                               // iret
];
/** EIPs after which the host raises INTR (the instruction at the EIP before has just retired). */
const STI_NEXT = CODE + 6, MOVSS_NEXT = CODE + 13;
const REP_AT = CODE + PROGRAM.indexOf(0xf3);
expect(PROGRAM[REP_AT - CODE + 1]).toBe(0xa5);

function guest(jitThreshold = 0): Machine {
  const m = new Machine({ memSize: RAM, exitOnHlt: true, jitThreshold });
  m.setFlatProtectedMode();
  m.esp = 0x8000;
  const put = (a: number, d: [number, number]) => { m.write32(a, d[0]); m.write32(a + 4, d[1]); };
  put(GDT + 8, descriptor({ base: 0, limit: 0xffffffff, access: 0x9b, flags: 0xc }));
  put(GDT + 16, descriptor({ base: 0, limit: 0xffffffff, access: 0x93, flags: 0xc }));
  m.setGdtr(GDT, 0x17);
  put(IDT + 8 * 1, gate(0x08, DB_HANDLER, 0xe, 0));
  put(IDT + 8 * 0x20, gate(0x08, INTR_HANDLER, 0xe, 0));
  m.setIdtr(IDT, 0x7ff);
  m.writeMem(CODE, PROGRAM);
  m.writeMem(INTR_HANDLER, INTR_CODE);
  m.writeMem(DB_HANDLER, DB_CODE);
  for (let i = 0; i < REP_DWORDS; i++) m.write32(SRC + 4 * i, (i * 0x9e3779b1) >>> 0);
  m.eip = CODE;
  return m;
}

type Event = string;
/** The host's side of one run() call: completes reads, records every exit; returns the trace entry or null at the end. */
function handle(m: Machine, e: Exit, trace: Event[]): boolean {
  const q = e as { port?: number; size?: number; value?: number };
  trace.push(`${m.instructions} ${e.reason} ${q.port ?? ""} ${q.size ?? ""} ${q.value ?? ""} eip=${m.eip.toString(16)}`);
  if (e.reason === "io-in") m.completeIo((e.port * 3) & 0xff);
  else if (e.reason === "mmio-read") m.completeIo(((e.port * 0x01010101) ^ 0x5a5a5a5a) >>> 0);
  else if (e.reason === "budget") {
    // deterministic interrupts keyed on where the guest stands
    const eip = m.eip;
    if (eip === STI_NEXT || eip === MOVSS_NEXT || (eip === REP_AT && m.ecx === REP_DWORDS - 4096 && m.read32(DATA + 4) === 2)) m.setIntr(true, 0x20);
  } else if (e.reason !== "io-out" && e.reason !== "mmio-write") return false;
  return true;
}
/** Run one instruction per call until HLT, calling `at(call)` before each run() call; returns the trace. */
function drive(m: Machine, at?: (call: number) => void, from = 0): Event[] {
  const trace: Event[] = [];
  for (let call = from; call < 2000; call++) {
    at?.(call);
    if (!handle(m, m.run(1), trace)) return trace;
  }
  throw new Error(`guest did not finish: ${trace.slice(-5).join(" | ")}`);
}
/** Everything but the counters that depend on the host's caches (TLB misses, JIT counters). */
function comparable(m: Machine): Uint8Array {
  const s = m.saveState();
  const dv = new DataView(s.buffer);
  for (const o of [A.OFF_TLB_MISSES, A.OFF_JIT_COMPILED, A.OFF_JIT_ENTRIES, A.OFF_JIT_THRESHOLD]) dv.setUint32(o, 0, true);
  return s;
}

describe.skipIf(!haveCpu)("vCPU state: saveState/loadState", () => {
  it("the reference run goes through every awkward point", () => {
    const m = guest();
    const trace = drive(m);
    expect(trace.at(-1)).toMatch(/ hlt /);
    expect(m.read32(DATA + 4)).toBe(3);            // three interrupts: after sti+1, mov ss+1, inside rep movsd
    expect(m.read32(DATA)).toBe(4);                // EBX at the last one
    expect(m.read32(DATA + 8)).toBe(REP_DWORDS - 4096); // ECX where the rep movsd was interrupted
    expect(m.read32(DATA + 12)).toBe(6);           // single steps: inc, (mov ss held back) inc, pushfd, and, popfd; int1
    expect(m.readMem(DST, 4 * REP_DWORDS)).toEqual(m.readMem(SRC, 4 * REP_DWORDS));
    expect(trace.filter((t) => / mmio-read /.test(t)).length).toBe(12);
    expect(trace.filter((t) => / mmio-write /.test(t)).length).toBe(4);
  });

  it("a copy of the vCPU state and RAM at every run() boundary continues exactly as the original", () => {
    const ref = guest();
    const total = drive(ref).length;
    const refState = comparable(ref);
    const refRam = ref.readMem(0, RAM);
    let checked = 0;
    for (let k = 0; k < total; k++) {
      const a = guest();
      let b: Machine | null = null;
      // run a to boundary k, then copy it into b
      const head = drive(a, (call) => {
        if (call !== k) return;
        b = new Machine({ memSize: RAM, exitOnHlt: true, jitThreshold: 0 });
        b.writeMem(0, a.readMem(0, RAM));
        b.loadState(a.saveState());
      });
      expect(b, `boundary ${k}`).not.toBeNull();
      const tail = drive(b!, undefined, k);
      expect(tail, `continuation from boundary ${k}`).toEqual(head.slice(k));
      expect(comparable(b!), `state after boundary ${k}`).toEqual(refState);
      expect(Buffer.compare(b!.readMem(0, RAM), refRam), `RAM after boundary ${k}`).toBe(0);
      checked++;
    }
    expect(checked).toBeGreaterThan(60);
  });

  it("right after STI / MOV SS with an interrupt pending, the copy keeps the interrupt shadow", () => {
    for (const [n, at] of [[2, STI_NEXT], [9, MOVSS_NEXT]] as const) {
      const a = guest();
      let calls = 0;
      while (a.eip !== at) { handle(a, a.run(1), []); if (++calls > 20) throw new Error("no"); }
      expect(a.instructions).toBe(n); // (the handler is 4 instructions)
      expect(a.intrPending).toBe(true);
      const b = new Machine({ memSize: RAM, exitOnHlt: true });
      b.writeMem(0, a.readMem(0, RAM));
      b.loadState(a.saveState());
      for (const m of [a, b]) {
        m.run(1); // the instruction in the shadow runs first
        expect(m.eip).toBe(at + 1);
        expect(m.getReg("ebx")).toBe(n === 2 ? 1 : 2);
        m.run(1); // then the interrupt, and its handler's first instruction
        expect(m.eip).toBe(INTR_HANDLER + 6);
        expect(m.read32(DATA)).toBe(n === 2 ? 1 : 2);
      }
    }
  });

  it("with the JIT on, a copy at any instruction count finishes like the uninterrupted run", () => {
    // ebx = 30 ; loop: mov esi, SRC ; mov edi, DST ; mov ecx, 5000 ; rep movsb ; rdtsc ; add [DATA], eax ;
    //                  dec ebx ; jnz loop ; hlt
    const code = [
      0xbb, ...le32(30),                  // mov ebx, 30
      0xbe, ...le32(SRC),                 // loop: mov esi, SRC
      0xbf, ...le32(DST),                 // mov edi, DST
      0xb9, ...le32(5000),                // mov ecx, 5000
      0xf3, 0xa4,                         // rep movsb (2 units)
      0x0f, 0x31,                         // rdtsc
      0x01, 0x05, ...le32(DATA),          // add [DATA], eax
      0x4b,                               // dec ebx
      0x75, 0x100 - 28,                   // jnz loop
      0xf4,                               // hlt
    ];
    const make = () => {
      const m = new Machine({ memSize: RAM, exitOnHlt: true, jitThreshold: 2 });
      m.setFlatProtectedMode();
      m.esp = 0x8000;
      m.writeMem(CODE, code);
      m.eip = CODE;
      return m;
    };
    const ref = make();
    expect(ref.run(100_000).reason).toBe("hlt");
    expect(ref.jitStats.compiled).toBeGreaterThan(0);
    expect(ref.instructions).toBe(1 + 30 * 9 + 1); // rep movsb of 5000 retires 2
    for (const k of [1, 4, 9, 40, 77, 150, 233]) {
      const a = make();
      expect(a.run(k).reason).toBe("budget");
      const b = make();
      b.writeMem(0, a.readMem(0, RAM));
      b.loadState(a.saveState());
      for (const m of [a, b]) {
        expect(m.run(100_000).reason, `copy at ${k}`).toBe("hlt");
        expect(comparable(m), `copy at ${k}`).toEqual(comparable(ref));
        expect(m.read32(DATA)).toBe(ref.read32(DATA));
      }
    }
  });

  it("drops the caches of the machine it loads into (TLB, predecoded blocks)", () => {
    // VA 0x400000 -> `target` through 2-level paging; code: mov eax, [0x400000] ; hlt
    const paged = (target: number, value: number) => {
      const m = new Machine({ memSize: RAM, exitOnHlt: true });
      m.setFlatProtectedMode();
      for (let i = 0; i < 256; i++) m.write32(0x11000 + 4 * i, (i << 12) | 3); // identity: first MiB
      m.write32(0x12000, target | 3);
      m.write32(0x10000, 0x11000 | 3);
      m.write32(0x10004, 0x12000 | 3);
      m.write32(target, value);
      m.writeMem(CODE, [0xa1, ...le32(0x400000), 0xf4]);
      m.setCr("cr3", 0x10000);
      m.setCr("cr0", m.getCr("cr0") | 0x80000000);
      m.eip = CODE;
      return m;
    };
    const a = paged(0x30000, 0x2222);
    const c = paged(0x20000, 0x1111);
    expect(c.run(10).reason).toBe("hlt");
    expect(c.eax).toBe(0x1111); // c's TLB now maps 0x400000 -> 0x20000, and its block cache holds the code
    c.writeMem(0, a.readMem(0, RAM));
    c.loadState(a.saveState());
    expect(c.run(10).reason).toBe("hlt");
    expect(c.eax).toBe(0x2222);
  });

  it("refuses a state of the wrong size or RAM size with one clear error", () => {
    const m = guest();
    expect(() => m.loadState(new Uint8Array(10))).toThrow(/vCPU state is \d+ bytes/);
    const other = new Machine({ memSize: 2 * RAM });
    expect(() => other.loadState(m.saveState())).toThrow(/RAM/);
  });
});
