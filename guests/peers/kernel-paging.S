/*
 * kernel-paging.S -- the peer-benchmark guest (kernel.S, from /work/shared/peers) with paging ON:
 * identical to kernel.S except that, before printing BEGIN, it identity-maps the first 16 MiB with
 * 4 KiB pages (one page directory, four page tables, supervisor read/write), clears CR4.PSE and sets
 * CR0.PG|WP. The workload (workload.S) and the RESULT line are unchanged, so scripts/bench.mjs compares
 * wasmvisor's MIPS with paging on and off on the same instruction stream.
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
        .align 4096
pgdir:  .skip 4096                       /* page directory */
pt0:    .skip 4 * 4096                   /* page tables for 0..16 MiB */
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

        /* identity-map 0..16 MiB with 4 KiB pages: PTE = frame | P | RW */
        mov edi, offset pt0
        mov eax, 0x003
        mov ecx, 4096
6:      mov [edi], eax
        add eax, 4096
        add edi, 4
        dec ecx
        jnz 6b
        /* page directory: four tables, the other 1020 entries not present */
        mov edi, offset pgdir
        xor eax, eax
        mov ecx, 1024
        cld
        rep stosd
        mov edi, offset pgdir
        mov eax, offset pt0
        or eax, 0x003
        mov ecx, 4
7:      mov [edi], eax
        add eax, 4096
        add edi, 4
        dec ecx
        jnz 7b
        mov eax, cr4
        and eax, ~0x10                   /* CR4.PSE = 0: 4 KiB pages only */
        mov cr4, eax
        mov eax, offset pgdir
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80010000               /* CR0.PG | CR0.WP */
        mov cr0, eax
        jmp 8f
8:
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
