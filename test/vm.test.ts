// vm.test.ts — the run loop on tiny multiboot guests assembled with gcc -m32 in the test: console over COM1 and
// port 0xe9, isa-debug-exit, IN completion, MMIO exits, HLT wake-up by the PIT through the PIC, the INTR protocol
// (no acknowledge while IF=0), triple fault, halt with IF=0, --max-instructions, determinism.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Vm, runImage, peekPicVector, EXIT_STATUS } from "../host/vm.ts";
import { Pic8259Pair } from "../host/devices/index.ts";

const HAVE_CPU = existsSync(new URL("../build/cpu.wasm", import.meta.url));
let HAVE_GCC = false;
try { execFileSync("gcc", ["-m32", "-c", "-x", "assembler", "-", "-o", "/dev/null"], { input: "nop\n", stdio: ["pipe", "ignore", "ignore"] }); HAVE_GCC = true; } catch { /* skip */ }

const dir = mkdtempSync(join(tmpdir(), "wasmvisor-vm-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Shared guest prelude: multiboot header (flags 0, ELF load), own flat GDT, a stack, putc/puts/exit helpers.
const PRELUDE = `
  .text
  .globl _start
  .align 4
  .long 0x1BADB002, 0, -0x1BADB002
_start:
  lgdt gdtr
  ljmp $0x08, $1f
1: mov $0x10, %ax
  mov %ax, %ds; mov %ax, %es; mov %ax, %ss; mov %ax, %fs; mov %ax, %gs
  mov $stack_top, %esp
  jmp main
# putc: %al -> COM1, polling LSR.THRE (each poll is an IN exit the host completes)
putc:
  push %edx; push %eax
2: mov $0x3fd, %dx; in %dx, %al; test $0x20, %al; jz 2b
  pop %eax; mov $0x3f8, %dx; out %al, %dx; pop %edx; ret
# puts: %esi -> NUL-terminated string
puts:
  push %eax
3: lodsb; test %al, %al; jz 4f; call putc; jmp 3b
4: pop %eax; ret
# exit: %al -> isa-debug-exit
exit:
  mov $0xf4, %dx; out %al, %dx
5: cli; hlt; jmp 5b
  .data
  .align 8
gdt: .quad 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF
gdtr: .word 23
  .long gdt
  .bss
  .align 16
  .space 8192
stack_top:
  .text
`;

function guest(name: string, body: string): Uint8Array {
  const src = join(dir, `${name}.S`), obj = join(dir, `${name}.o`), elf = join(dir, `${name}.elf`);
  writeFileSync(src, PRELUDE + body);
  execFileSync("gcc", ["-m32", "-c", "-nostdlib", "-fno-pic", src, "-o", obj]);
  execFileSync("ld", ["-m", "elf_i386", "-Ttext=0x100000", "-e", "_start", "--build-id=none", "-z", "noexecstack", "-o", elf, obj]);
  return readFileSync(elf);
}

const images: Record<string, Uint8Array> = {};
const enabled = HAVE_CPU && HAVE_GCC;

beforeAll(() => {
  if (!enabled) return;
  images.hello = guest("hello", `
main:
  mov $msg, %esi; call puts
  mov $0xe9, %dx; mov $'E', %al; out %al, %dx; mov $'\\n', %al; out %al, %dx
  mov $0x21, %al; jmp exit
  .data
msg: .asciz "Hello from the guest\\n"
`);
  images.cliHlt = guest("clihlt", `
main:
  mov $'x', %al; call putc
  cli; hlt
`);
  images.stiHlt = guest("stihlt", `
main:
  sti; hlt
`);
  images.spin = guest("spin", `
main:
6: jmp 6b
`);
  // lidt with limit 0: int3 -> #GP (gate beyond the limit) -> #DF -> shutdown
  images.triple = guest("triple", `
main:
  lidt idtr0
  int3
  mov $1, %al; jmp exit
  .data
idtr0: .word 0
  .long 0
`);
  // MMIO above RAM: an unclaimed read floats high (all ones); a write is dropped. Both exit to the host.
  images.mmio = guest("mmio", `
main:
  movl $0x12345678, 0xfebff000
  mov 0xfebff000, %eax
  cmp $0xffffffff, %eax
  jne 7f
  mov $'M', %al; call putc; mov $'\\n', %al; call putc
  mov $0, %al; jmp exit
7: mov $3, %al; jmp exit
`);
  // PIT channel 0 at 100 Hz through the 8259 (vector 0x20): sti; hlt until three ticks, EOI each
  images.timer = guest("timer", `
main:
  call setup_idt
  call setup_pic
  mov $0x34, %al; out %al, $0x43       # counter 0, lobyte/hibyte, mode 2
  mov $11932 & 0xff, %al; out %al, $0x40
  mov $11932 >> 8, %al; out %al, $0x40
  sti
8: hlt
  cmpl $3, ticks
  jb 8b
  cli
  mov $msg, %esi; call puts
  mov $0, %al; jmp exit
timer_isr:
  push %eax
  incl ticks
  mov $0x20, %al; out %al, $0x20      # non-specific EOI
  pop %eax
  iret
setup_idt:
  mov $timer_isr, %eax
  mov %ax, idt + 0x20*8
  movw $0x08, idt + 0x20*8 + 2
  movw $0x8e00, idt + 0x20*8 + 4
  shr $16, %eax
  mov %ax, idt + 0x20*8 + 6
  lidt idtr
  ret
setup_pic:
  mov $0x11, %al; out %al, $0x20; out %al, $0xa0   # ICW1: edge, cascade, ICW4
  mov $0x20, %al; out %al, $0x21                   # ICW2: master base 0x20
  mov $0x28, %al; out %al, $0xa1                   # ICW2: slave base 0x28
  mov $0x04, %al; out %al, $0x21                   # ICW3: slave on IR2
  mov $0x02, %al; out %al, $0xa1
  mov $0x01, %al; out %al, $0x21; out %al, $0xa1   # ICW4: 8086 mode
  mov $0xfe, %al; out %al, $0x21                   # unmask IRQ 0 only
  mov $0xff, %al; out %al, $0xa1
  ret
  .data
msg: .asciz "T3\\n"
ticks: .long 0
  .align 8
idt: .space 0x21*8
idtr: .word 0x21*8 - 1
  .long idt
`);
  // Echo COM1 input until a '.', polling LSR.DR (the VM feeds stdin into the 16-byte FIFO as it drains)
  images.echo = guest("echo", `
main:
11: mov $0x3fd, %dx; in %dx, %al; test $0x01, %al; jz 11b
  mov $0x3f8, %dx; in %dx, %al
  call putc
  cmp $'.', %al; jne 11b
  mov $0, %al; jmp exit
`);
  // ATA PIO: READ SECTORS (0x20) of LBA 0 on the primary master, print its first 8 bytes
  images.disk = guest("disk", `
main:
  mov $0x1f6, %dx; mov $0xe0, %al; out %al, %dx     # LBA, master, LBA[27:24]=0
  mov $0x1f2, %dx; mov $1, %al; out %al, %dx        # one sector
  mov $0x1f3, %dx; xor %al, %al; out %al, %dx
  inc %dx; out %al, %dx; inc %dx; out %al, %dx
  mov $0x1f7, %dx; mov $0x20, %al; out %al, %dx
12: in %dx, %al; test $0x80, %al; jnz 12b           # BSY
  test $0x08, %al; jz 13f                          # DRQ
  mov $buf, %edi; mov $256, %ecx; mov $0x1f0, %dx; rep insw
  mov $buf, %esi; movb $0, 8(%esi); call puts
  mov $0, %al; jmp exit
13: mov $7, %al; jmp exit
  .bss
buf: .space 512
`);
  // With IF=0 the timer's request must stay in IRR, not be acknowledged into ISR behind the CPU's back.
  images.noAck = guest("noack", `
main:
  call setup_pic
  mov $0x34, %al; out %al, $0x43
  mov $100, %al; out %al, $0x40       # a short period: many edges during the loop below
  mov $0, %al; out %al, $0x40
  mov $200000, %ecx
9: dec %ecx; jnz 9b
  mov $0x0a, %al; out %al, $0x20; in $0x20, %al; mov %al, %bl   # OCW3: read IRR
  mov $0x0b, %al; out %al, $0x20; in $0x20, %al; mov %al, %bh   # OCW3: read ISR
  cmp $0x01, %bl; jne 10f
  cmp $0x00, %bh; jne 10f
  mov $msg, %esi; call puts
  mov $0, %al; jmp exit
10: mov $5, %al; jmp exit
setup_pic:
  mov $0x11, %al; out %al, $0x20; out %al, $0xa0
  mov $0x20, %al; out %al, $0x21
  mov $0x28, %al; out %al, $0xa1
  mov $0x04, %al; out %al, $0x21
  mov $0x02, %al; out %al, $0xa1
  mov $0x01, %al; out %al, $0x21; out %al, $0xa1
  mov $0xfe, %al; out %al, $0x21
  mov $0xff, %al; out %al, $0xa1
  ret
  .data
msg: .asciz "IRR only\\n"
`);
});

describe.skipIf(!enabled)("Vm (needs build/cpu.wasm and gcc -m32)", () => {
  it("prints over COM1 and port 0xe9 and exits through isa-debug-exit", async () => {
    const r = await runImage({ image: images.hello, mode: "native" });
    expect(r.console).toBe("Hello from the guest\nE\n");
    expect(r.exitStatus).toBe((0x21 << 1) | 1);
    expect(r.stopReason).toBe("debug-exit");
    expect(r.stats.exits["io-out"]).toBeGreaterThanOrEqual(23);
    expect(r.stats.exits["io-in"]).toBeGreaterThanOrEqual(21); // one LSR poll per COM1 byte at least
    expect(r.stats.ports["0x03fd"].reads).toBe(r.stats.exits["io-in"]);
    expect(r.stats.ports["0x00e9"].writes).toBe(2);
    expect(r.stats.ports["0x00f4"].writes).toBe(1);
    expect(r.stats.instructions).toBeGreaterThan(100);
  });

  it("streams console output through onConsole", async () => {
    const chunks: string[] = [];
    await runImage({ image: images.hello, onConsole: (t) => chunks.push(t) });
    expect(chunks.join("")).toBe("Hello from the guest\nE\n");
    expect(chunks[0]).toBe("Hello from the guest\n"); // flushed at the newline
  });

  it("stops on hlt with interrupts disabled", async () => {
    const r = await runImage({ image: images.cliHlt });
    expect(r.console).toBe("x");
    expect(r.exitStatus).toBe(EXIT_STATUS.HALTED);
    expect(r.message).toMatch(/guest halted with interrupts disabled/);
  });

  it("stops on hlt when nothing can ever raise an interrupt", async () => {
    const r = await runImage({ image: images.stiHlt });
    expect(r.exitStatus).toBe(EXIT_STATUS.HALTED);
    expect(r.message).toMatch(/interrupt that cannot come/);
  });

  it("honours maxInstructions exactly", async () => {
    const r = await runImage({ image: images.spin, maxInstructions: 123457 });
    expect(r.exitStatus).toBe(EXIT_STATUS.MAX_INSTRUCTIONS);
    expect(r.stopReason).toBe("max-instructions");
    expect(r.stats.instructions).toBe(123457);
  });

  it("reports a triple fault", async () => {
    const r = await runImage({ image: images.triple });
    expect(r.exitStatus).toBe(EXIT_STATUS.TRIPLE_FAULT);
    expect(r.stopReason).toBe("shutdown");
    expect(r.message).toMatch(/triple fault/);
  });

  it("routes MMIO exits to the bus", async () => {
    const r = await runImage({ image: images.mmio });
    expect(r.console).toBe("M\n");
    expect(r.exitStatus).toBe(1);
    expect(r.stats.exits["mmio-read"]).toBe(1);
    expect(r.stats.exits["mmio-write"]).toBe(1);
    expect(r.stats.mmioPages["0xfebff000"]).toEqual({ reads: 1, writes: 1 });
  });

  it("wakes a halted CPU with PIT interrupts through the PIC, deterministically", async () => {
    const a = await runImage({ image: images.timer });
    expect(a.console).toBe("T3\n");
    expect(a.exitStatus).toBe(1);
    expect(a.stats.interruptsDelivered).toBe(3);
    expect(a.stats.interruptsByVector).toEqual({ "32": 3 });
    // Programming mode 2 raises OUT0 at once (a first edge right after sti); then two 10 ms periods, halted.
    expect(a.stats.exits.hlt).toBeGreaterThanOrEqual(2);
    expect(a.stats.haltedNs).toBeGreaterThan(19e6);
    expect(a.stats.virtualNs).toBeLessThan(31e6);
    const b = await runImage({ image: images.timer });
    expect(b.stats.instructions).toBe(a.stats.instructions);
    expect(b.stats.virtualNs).toBe(a.stats.virtualNs);
    expect(b.stats.exits).toEqual(a.stats.exits);
  });

  it("does not acknowledge the PIC while the CPU has interrupts disabled", async () => {
    const r = await runImage({ image: images.noAck });
    expect(r.console).toBe("IRR only\n");
    expect(r.exitStatus).toBe(1);
    expect(r.stats.interruptsDelivered).toBe(0);
  });

  it("feeds stdin to COM1's receiver as the guest drains it", async () => {
    const text = "more than sixteen bytes of input.";
    const r = await runImage({ image: images.echo, stdin: text + "ignored" });
    expect(r.console).toBe(text);
    expect(r.exitStatus).toBe(1);
    expect((r.stats.devices as { uart: { overruns: number } }).uart.overruns).toBe(0);
  });

  it("reads a disk sector through the ATA controller", async () => {
    const disk = new Uint8Array(4096);
    disk.set(new TextEncoder().encode("SECTOR0!rest"));
    const r = await runImage({ image: images.disk, disk });
    expect(r.console).toBe("SECTOR0!");
    expect(r.exitStatus).toBe(1);
  });

  it("exposes the machine, bus and stats on Vm", () => {
    const vm = new Vm({ memSize: 4 << 20 });
    const boot = vm.loadMultiboot(images.hello, { cmdline: "hello" });
    expect(vm.machine.eip).toBe(boot.entry);
    expect(vm.machine.eax).toBe(0x2badb002);
    expect(vm.machine.ebx).toBe(boot.infoAddr);
    const r = vm.run();
    expect(r.exitStatus).toBe(0x43);
    expect(vm.console).toBe("Hello from the guest\nE\n");
    expect(vm.stats.toJSON().stopReason).toBe("debug-exit");
  });

  it("runs hw mode and rejects unknown modes", async () => {
    const hw = await runImage({ image: images.hello, mode: "hw" });
    expect(hw.console).toBe((await runImage({ image: images.hello })).console);
    await expect(runImage({ image: images.hello, mode: "warp" })).rejects.toThrow(/unknown mode 'warp'/);
  });
});

describe("peekPicVector", () => {
  // The INTR protocol raises the line with the vector the PIC *would* deliver, then acknowledges only once the
  // CPU has taken it: the peek must always agree with the acknowledge that follows, and must not change state.
  it("predicts Pic8259Pair.acknowledge() for master, cascaded and withdrawn requests", () => {
    const pic = new Pic8259Pair();
    const out = (port: number, v: number) => (port < 0xa0 ? pic.master : pic.slave).write(port & 1, 1, v);
    out(0x20, 0x11); out(0x21, 0x20); out(0x21, 0x04); out(0x21, 0x01);
    out(0xa0, 0x11); out(0xa1, 0x28); out(0xa1, 0x02); out(0xa1, 0x01);
    out(0x21, 0x00); out(0xa1, 0x00);
    expect(peekPicVector(pic)).toBe(-1);
    pic.setIrq(14, true); // slave IR6
    pic.setIrq(3, true);
    expect(peekPicVector(pic)).toBe(0x2e); // IR2 (cascade) outranks IR3
    expect(peekPicVector(pic)).toBe(0x2e); // no side effects
    expect(pic.acknowledge()).toBe(0x2e);
    expect(peekPicVector(pic)).toBe(-1); // IR3 is blocked by IR2 in service
    out(0xa0, 0x20); out(0x20, 0x20); // EOI slave, then master
    expect(peekPicVector(pic)).toBe(0x23);
    out(0x21, 0x08); // mask IRQ 3: the line must drop
    expect(peekPicVector(pic)).toBe(-1);
    out(0x21, 0x00);
    expect(peekPicVector(pic)).toBe(0x23);
    expect(pic.acknowledge()).toBe(0x23);
  });
});

describe.skipIf(enabled)("Vm (skipped)", () => {
  it("needs build/cpu.wasm (npm run build:wasm) and gcc -m32", () => {
    expect(enabled).toBe(false);
  });
});
