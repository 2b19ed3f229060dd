/*
 * Origin: copied unchanged (apart from this note) from /work/shared/peers/kernel.S, the
 * shared peer-benchmark workload written for this project (see shared/peers/README.md).
 *
 * kernel.S -- multiboot v1 ELF guest for the peer benchmarks.
 * Loaded by QEMU (-kernel) or v86 ({multiboot: ...}) in 32-bit protected mode.
 * Loads its own flat GDT, prints "BEGIN\n" on COM1, runs `workload`
 * (workload.S), prints "RESULT <hex> REPS <n>\n", then writes 0 to the
 * isa-debug-exit port 0xf4 (QEMU exits with status 1; v86 stops with "HALT").
 * Written for this project; no third-party code.
 */
#include "workload.S"

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000000

        .intel_syntax noprefix

        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        .section .data
        .align 8
gdt:    .quad 0                          /* null */
        .quad 0x00CF9A000000FFFF         /* 0x08: code, flat 4 GiB, 32-bit */
        .quad 0x00CF92000000FFFF         /* 0x10: data, flat 4 GiB */
gdt_end:
gdtr:   .word gdt_end - gdt - 1
        .long gdt

msg_begin:  .ascii "BEGIN\n"
            .byte 0
msg_res:    .ascii "RESULT "
res_hex:    .ascii "00000000 REPS "
res_reps:   .ascii REPS_STR
            .ascii "\n"
            .byte 0

        .section .bss
        .align 16
stack:  .skip 16384
stack_top:

        .section .text
        .globl _start
_start:
        cli
        lgdt [gdtr]
        ljmp 0x08, offset 1f
1:      mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, offset stack_top

        mov esi, offset msg_begin
        call puts

        call workload

        mov edi, offset res_hex
        call wl_hex
        mov esi, offset msg_res
        call puts

        mov al, 0
        out 0xf4, al                     /* isa-debug-exit */
2:      cli
        hlt
        jmp 2b

        /* puts: esi = NUL-terminated string -> COM1 (polls LSR.THRE) */
puts:
3:      mov bl, [esi]
        test bl, bl
        jz 5f
        mov dx, 0x3fd
4:      in al, dx
        test al, 0x20
        jz 4b
        mov dx, 0x3f8
        mov al, bl
        out dx, al
        inc esi
        jmp 3b
5:      ret
