// jit.test.ts — the block compiler (host/jit/) must not change a single architectural result. With a
// threshold of 1 every block is compiled the first time it runs, so the real-CPU corpus, the random-byte
// fuzz, the QEMU-checked system guests and the workloads all run through compiled code, and must give
// exactly what the interpreter gives.
import { describe, it, expect } from "vitest";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine, MAX_JIT_BLOCKS_PER_MACHINE } from "../host/machine.ts";
import { runImage } from "../host/vm.ts";
import { Code, Op, assemble, I32 } from "../host/jit/wasm.ts";
import { readCorpus, CORPUS_FILE } from "./diff/oracle.ts";
import { checkCases } from "./diff/harness.ts";
import { fuzz } from "./diff/fuzz.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const haveCpu = existsSync(join(root, "build/cpu.wasm"));
const JIT_ALL = { jitThreshold: 1 };

describe("wasm encoder", () => {
  it("assembles a module that validates and runs", () => {
    // (func (result i32) i32.const -5 i32.const 1000000 i32.add) imported memory, no other imports
    const body = new Code().i32(-5).i32(1_000_000).op(Op.i32_add);
    const bytes = assemble({ types: [{ params: [], results: [I32] }], importFuncs: [], funcs: [{ type: 0, locals: 0, body, export: "f" }] });
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: new WebAssembly.Memory({ initial: 1 }) } });
    expect((inst.exports.f as () => number)()).toBe(999_995);
  });
});

describe.skipIf(!haveCpu)("compiled blocks give the interpreter's results", () => {
  it("a guest with more distinct blocks than the cap gets the cap compiled and the rest interpreted", () => {
    // 3 * MAX blocks of `inc eax; jmp +0` (40 EB 00): each jmp ends a block, every block runs once, then hlt
    const n = 3 * MAX_JIT_BLOCKS_PER_MACHINE;
    const code = new Uint8Array(3 * n + 1);
    for (let i = 0; i < n; i++) code.set([0x40, 0xeb, 0x00], 3 * i);
    code[3 * n] = 0xf4; // hlt
    const m = new Machine({ memSize: 1 << 20, jitThreshold: 1, exitOnHlt: true });
    m.setFlatProtectedMode();
    m.writeMem(0x10000, code);
    m.eip = 0x10000;
    expect(m.run(10 * n).reason).toBe("hlt");
    expect(m.eax).toBe(n);
    expect(m.jitStats.compiled).toBeLessThanOrEqual(MAX_JIT_BLOCKS_PER_MACHINE);
    expect(m.jitStats.compiled).toBeGreaterThan(0);
  });

  it("a compiled self-loop runs to the same state, and is entered", () => {
    const code = [
      0x01, 0xd8,       // add eax, ebx
      0x31, 0xc3,       // xor ebx, eax
      0xc1, 0xc0, 0x05, // rol eax, 5
      0x89, 0xda,       // mov edx, ebx
      0xc1, 0xe2, 0x03, // shl edx, 3
      0x29, 0xd0,       // sub eax, edx
      0x01, 0xcb,       // add ebx, ecx
      0x49,             // dec ecx
      0x75, 0xed,       // jnz -19
      0xf4,             // hlt
    ];
    const run = (jitThreshold: number) => {
      const m = new Machine({ memSize: 1 << 20, jitThreshold, exitOnHlt: true });
      m.setFlatProtectedMode();
      m.writeMem(0x1000, code);
      m.eip = 0x1000; m.eax = 1; m.ebx = 2; m.ecx = 100_000; m.esp = 0x8000;
      const e = m.run(10_000_000);
      return { e, regs: [m.eax, m.ebx, m.ecx, m.edx, m.eflags, m.instructions], jit: m.jitStats };
    };
    const interp = run(0), jit = run(1);
    expect(interp.e.reason).toBe("hlt");
    expect(jit.regs).toEqual(interp.regs);
    expect(jit.jit.compiled).toBeGreaterThan(0);
    expect(interp.jit.compiled).toBe(0);
  });

  it("the 8-bit, neg, shift-by-1, moffs and cmp-memory fast forms give the interpreter's results", () => {
    const body = [
      0x89, 0xc8,             // mov eax, ecx
      0xf7, 0xd8,             // neg eax
      0xd1, 0xe8,             // shr eax, 1
      0x88, 0x23,             // mov [ebx], ah
      0xc6, 0x43, 0x01, 0x80, // mov byte [ebx+1], 0x80
      0x80, 0x3b, 0x7f,       // cmp byte [ebx], 0x7f
      0x72, 0x02,             // jb +2
      0x01, 0xc2,             // add edx, eax
      0xf6, 0xc4, 0x10,       // test ah, 0x10
      0x74, 0x01,             // jz +1
      0x46,                   // inc esi
      0xf6, 0x43, 0x01, 0x01, // test byte [ebx+1], 1
      0xa3, 0x04, 0x30, 0x00, 0x00, // mov [0x3004], eax
      0xa1, 0x04, 0x30, 0x00, 0x00, // mov eax, [0x3004]
      0x83, 0x7b, 0x04, 0x05, // cmp dword [ebx+4], 5
      0x7c, 0x01,             // jl +1
      0x47,                   // inc edi
      0x39, 0x4b, 0x04,       // cmp [ebx+4], ecx
      0x83, 0xd7, 0x00,       // adc edi, 0 (through the handler: reads CF of the cmp)
      0xa8, 0x03,             // test al, 3
      0x75, 0x01,             // jnz +1
      0x45,                   // inc ebp
      0x49,                   // dec ecx
    ];
    const code = [0xbb, 0x00, 0x30, 0x00, 0x00, 0xb9, 0x88, 0x13, 0x00, 0x00, ...body, 0x75, (-(body.length + 2)) & 0xff, 0xf4];
    const run = (jitThreshold: number) => {
      const m = new Machine({ memSize: 1 << 20, jitThreshold, exitOnHlt: true });
      m.setFlatProtectedMode();
      m.writeMem(0x1000, code);
      m.eip = 0x1000; m.esp = 0x8000;
      const e = m.run(10_000_000);
      return { e, regs: [m.eax, m.ebx, m.ecx, m.edx, m.esi, m.edi, m.ebp, m.eflags, m.instructions], jit: m.jitStats };
    };
    const interp = run(0), jit = run(1);
    expect(interp.e.reason).toBe("hlt");
    expect(jit.regs).toEqual(interp.regs);
    expect(jit.jit.compiled).toBeGreaterThan(0);
  });

  it("push, pop, call and ret inline on a flat stack, through the CPU on a stack in a code page or a based SS", () => {
    // L: call F ; dec ecx ; jnz L ; hlt ; F: push ebx ; push ecx ; pop edx ; add ebx, edx ; pop eax ; ret
    const code = [
      0xe8, 0x05, 0x00, 0x00, 0x00, // call F (+5)
      0x49,                         // dec ecx
      0x75, 0xf8,                   // jnz L
      0xf4,                         // hlt
      0x90,                         // nop
      0x53,                         // F: push ebx
      0x51,                         // push ecx
      0x5a,                         // pop edx
      0x01, 0xd3,                   // add ebx, edx
      0x58,                         // pop eax
      0xc3,                         // ret
    ];
    // the stack: flat in its own page (inline), in the code's page (each push invalidates the blocks: the CPU's
    // path, stopping the block), and through an SS based at 0x100 (not flat: the CPU's segment rules)
    const stacks = [{ esp: 0x8000, ssBase: 0 }, { esp: 0x1800, ssBase: 0 }, { esp: 0x7f00, ssBase: 0x100 }];
    for (const st of stacks) {
      const run = (jitThreshold: number) => {
        const m = new Machine({ memSize: 1 << 20, jitThreshold, exitOnHlt: true });
        m.setFlatProtectedMode();
        if (st.ssBase) m.setSegment("ss", { selector: 0x10, base: st.ssBase, limit: 0xffffffff - st.ssBase, attr: 0xc093 });
        m.writeMem(0x1000, code);
        m.eip = 0x1000; m.ecx = st.esp === 0x1800 ? 100 : 3000; m.ebx = 7; m.esp = st.esp;
        const e = m.run(1_000_000);
        return { e: e.reason, regs: [m.eax, m.ebx, m.ecx, m.edx, m.esp, m.eflags, m.instructions], stack: [...m.readMem(st.ssBase + st.esp - 16, 16)], jit: m.jitStats };
      };
      const interp = run(0), jit = run(1);
      expect(interp.e).toBe("hlt");
      expect(jit.e).toBe("hlt");
      expect(jit.regs).toEqual(interp.regs);
      expect(jit.stack).toEqual(interp.stack);
      if (st.esp === 0x8000) expect(jit.jit.entries).toBeGreaterThan(3000);
    }
  });

  it("leave, push imm and mov [mem], imm32 compiled inline give the interpreter's results, also into a code page", () => {
    // L: call F ; dec ecx ; jnz L ; hlt ; F: push ebp ; mov ebp, esp ; push -2 ; push 0x12345678 ;
    //    mov dword [ebx+ecx*4], 0xdeadbeef ; mov dword [ebp-12], 0x55 ; pop eax ; pop edx ; leave ; ret
    const code = [
      0xe8, 0x05, 0x00, 0x00, 0x00, // call F
      0x49,                         // dec ecx
      0x75, 0xf8,                   // jnz L
      0xf4,                         // hlt
      0x90,                         // nop
      0x55,                         // F: push ebp
      0x89, 0xe5,                   // mov ebp, esp
      0x6a, 0xfe,                   // push -2
      0x68, 0x78, 0x56, 0x34, 0x12, // push 0x12345678
      0xc7, 0x04, 0x8b, 0xef, 0xbe, 0xad, 0xde, // mov dword [ebx+ecx*4], 0xdeadbeef
      0xc7, 0x45, 0xf4, 0x55, 0x00, 0x00, 0x00, // mov dword [ebp-12], 0x55
      0x58,                         // pop eax
      0x5a,                         // pop edx
      0xc9,                         // leave
      0xc3,                         // ret
    ];
    // the stores go to a data page (inline), then into the code's own page (the CPU's path: the blocks are invalidated)
    for (const ebx of [0x4000, 0x1400]) {
      const run = (jitThreshold: number) => {
        const m = new Machine({ memSize: 1 << 20, jitThreshold, exitOnHlt: true });
        m.setFlatProtectedMode();
        m.writeMem(0x1000, code);
        m.eip = 0x1000; m.ecx = ebx === 0x4000 ? 2000 : 100; m.ebx = ebx; m.esp = 0x8000; m.ebp = 0x777;
        const e = m.run(1_000_000);
        return { e: e.reason, regs: [m.eax, m.ebx, m.ecx, m.edx, m.esp, m.ebp, m.eflags, m.instructions], mem: [...m.readMem(ebx, 0x2000)], stack: [...m.readMem(0x7fe0, 32)], jit: m.jitStats };
      };
      const interp = run(0), jit = run(1);
      expect(interp.e).toBe("hlt");
      expect(jit.e).toBe("hlt");
      expect(jit.regs).toEqual(interp.regs);
      expect(jit.mem).toEqual(interp.mem);
      expect(jit.stack).toEqual(interp.stack);
      expect(jit.jit.compiled).toBeGreaterThan(0);
    }
  });

  it("forward branches inside a compiled block: the same state at every budget boundary, flags live across the join", () => {
    // a loop body with ifs: taken and not-taken forward jccs to records of the same block, a flag read after a join
    const body = [
      0x89, 0xc8,             // mov eax, ecx
      0x83, 0xe0, 0x03,       // and eax, 3
      0x74, 0x03,             // jz +3 (-> cmp)
      0x83, 0xc2, 0x05,       // add edx, 5
      0x39, 0xc6,             // cmp esi, eax
      0x72, 0x02,             // jb +2 (-> adc)
      0x01, 0xc3,             // add ebx, eax
      0x83, 0xd7, 0x00,       // adc edi, 0 (CF of the cmp on one path, of the add on the other)
      0xa8, 0x01,             // test al, 1
      0x75, 0x01,             // jnz +1 (-> dec)
      0x46,                   // inc esi
      0x49,                   // dec ecx
    ];
    const code = [0xb9, 0x10, 0x27, 0x00, 0x00, ...body, 0x75, (-(body.length + 2)) & 0xff, 0xf4]; // mov ecx, 10000 ; body ; jnz ; hlt
    const run = (jitThreshold: number, slice: number) => {
      const m = new Machine({ memSize: 1 << 20, jitThreshold, exitOnHlt: true });
      m.setFlatProtectedMode();
      m.writeMem(0x1000, code);
      m.eip = 0x1000; m.esp = 0x8000; m.esi = 1;
      const trace: number[][] = [];
      for (let k = 0; k < 1_000_000; k++) {
        const e = m.run(slice);
        trace.push([m.eip, m.eax, m.ebx, m.ecx, m.edx, m.esi, m.edi, m.eflags, m.instructions]);
        if (e.reason === "hlt") break;
      }
      return { trace, jit: m.jitStats };
    };
    for (const slice of [7, 1000]) {
      const interp = run(0, slice), jit = run(1, slice);
      expect(jit.trace.length).toBe(interp.trace.length);
      expect(jit.trace).toEqual(interp.trace);
      expect(jit.jit.compiled).toBeGreaterThan(0);
      // the body is one compiled loop: entered about once per run() call, not once per if (10,000 iterations)
      if (slice === 1000) expect(jit.jit.entries).toBeLessThan(2000);
    }
  });

  it("imul r, r/m, imm and op dword [mem], imm compiled inline give the interpreter's results (flags, overflow, code pages)", () => {
    const body = [
      0x69, 0xc1, 0x01, 0x00, 0x01, 0x00, // imul eax, ecx, 0x10001 (overflows for large ecx)
      0x83, 0xd6, 0x00,                   // adc esi, 0 (CF of the imul)
      0x6b, 0x13, 0xfd,                   // imul edx, [ebx], -3
      0x70, 0x01,                         // jo +1
      0x47,                               // inc edi
      0x83, 0x03, 0x07,                   // add dword [ebx], 7
      0x81, 0x73, 0x04, 0x78, 0x56, 0x34, 0x12, // xor dword [ebx+4], 0x12345678
      0x83, 0x6b, 0x08, 0x01,             // sub dword [ebx+8], 1
      0x83, 0xd5, 0x00,                   // adc ebp, 0 (CF of the sub)
      0x83, 0x23, 0x7f,                   // and dword [ebx], 0x7f
      0x83, 0x4b, 0x0c, 0x10,             // or dword [ebx+12], 0x10
      0x83, 0x7b, 0x04, 0x00,             // cmp dword [ebx+4], 0
      0x7c, 0x01,                         // jl +1
      0x45,                               // inc ebp
      0x49,                               // dec ecx
    ];
    const code = [0xb9, 0x00, 0x10, 0x00, 0x00, ...body, 0x75, (-(body.length + 2)) & 0xff, 0xf4]; // mov ecx, 4096 ; body ; jnz ; hlt
    // the data in its own page (inline), then in the code's page (each write invalidates the blocks: the CPU's path)
    for (const ebx of [0x4000, 0x1800]) {
      const run = (jitThreshold: number) => {
        const m = new Machine({ memSize: 1 << 20, jitThreshold, exitOnHlt: true });
        m.setFlatProtectedMode();
        m.writeMem(0x1000, code);
        m.eip = 0x1000; m.esp = 0x8000; m.ebx = ebx;
        if (ebx === 0x1800) m.writeMem(0x1000, [0xb9, 0x40, 0x00, 0x00, 0x00]); // mov ecx, 64
        const e = m.run(1_000_000);
        return { e: e.reason, regs: [m.eax, m.ebx, m.ecx, m.edx, m.esi, m.edi, m.ebp, m.eflags, m.instructions], mem: [...m.readMem(ebx, 16)], jit: m.jitStats };
      };
      const interp = run(0), jit = run(1);
      expect(interp.e).toBe("hlt");
      expect(jit.e).toBe("hlt");
      expect(jit.regs).toEqual(interp.regs);
      expect(jit.mem).toEqual(interp.mem);
      expect(jit.jit.compiled).toBeGreaterThan(0);
    }
  });

  it.skipIf(!existsSync(CORPUS_FILE))("the real-CPU corpus: 0 mismatches", () => {
    const { entries } = readCorpus();
    const st = checkCases(entries.map((e) => e.c), entries.map((e) => e.r), JIT_ALL);
    if (st.bad) console.log(st.mismatchReport(10));
    expect(st.bad).toBe(0);
  });

  it("random-byte fuzz: no host exception, hang or stray write", () => {
    const r = fuzz({ programs: 2000, programLen: 64, seed: 4242, machine: JIT_ALL, slowMs: 15_000 });
    expect(r.problems.slice(0, 10)).toEqual([]);
  });

  const guests = readdirSync(join(root, "fixtures/qemu")).filter((f) => f.endsWith(".out")).map((f) => f.slice(0, -4));
  for (const g of guests) {
    it(`system guest ${g} matches QEMU`, async () => {
      const elf = join(root, "build/guests/tests", `${g}.elf`);
      const r = await runImage({ image: new Uint8Array(readFileSync(elf)), memSize: 64 << 20, maxInstructions: 50_000_000, machine: JIT_ALL });
      expect(r.console.split("\n")).toEqual(readFileSync(join(root, "fixtures/qemu", `${g}.out`), "utf8").split("\n"));
    });
  }

  it("the peers workload prints the native binary's RESULT", async () => {
    const elf = join(root, "build/guests/peers/guest-1.elf");
    const r = await runImage({ image: new Uint8Array(readFileSync(elf)), memSize: 64 << 20, machine: JIT_ALL });
    expect(r.console).toBe("BEGIN\nRESULT e287c5f2 REPS 1\n");
    expect(r.exitStatus).toBe(1);
  });

  // RDTSC counts instructions, so even the `time` lines are deterministic: the interpreter and the compiled
  // blocks must agree on every line and on the instruction count (a compiled loop that faulted half way
  // once wrote back stale registers, visible only in these counts)
  for (const w of ["compute", "page_fault", "mmap", "ctxsw", "fork", "null_syscall"]) {
    it(`workload ${w}: compiled and interpreted runs are identical, instruction for instruction`, async () => {
      const image = new Uint8Array(readFileSync(join(root, "build/guests/workloads", `${w}.elf`)));
      const run = (jitThreshold: number) => runImage({ image, memSize: 64 << 20, maxInstructions: 400_000_000, cmdline: "iters=20", machine: { jitThreshold } });
      const [a, b] = [await run(0), await run(1)];
      expect(b.console).toBe(a.console);
      expect(b.stats.instructions).toBe(a.stats.instructions);
    });
  }

  for (const w of ["compute", "fork", "page_fault", "mmap"]) {
    it(`workload ${w} matches its fixture`, async () => {
      const args = readFileSync(join(root, "fixtures/workloads", `${w}.args`), "utf8").trim();
      const r = await runImage({
        image: new Uint8Array(readFileSync(join(root, "build/guests/workloads", `${w}.elf`))), memSize: 64 << 20,
        maxInstructions: 400_000_000, cmdline: args, machine: JIT_ALL,
      });
      const det = (s: string) => s.replace(/\r/g, "").split("\n").filter((l) => !l.startsWith("time ")).join("\n");
      expect(det(r.console)).toBe(det(readFileSync(join(root, "fixtures/workloads", `${w}.out`), "utf8")));
    });
  }
});
