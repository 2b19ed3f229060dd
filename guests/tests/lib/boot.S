// boot.S -- multiboot v1 header and entry.  The loader (QEMU -kernel, or
// wasmvisor) enters in 32-bit protected mode, paging off, with a GDT we must
// not rely on; sys_init() loads our own tables.
#include "layout.h"
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0

        .section .multiboot, "a"
        .p2align 2
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

        .bss
        .p2align 4
        .globl kstack_top
kstack: .skip 16384
kstack_top:

        .text
        .globl _start
_start:
        cli
        cld
        mov $kstack_top, %esp
        call main          // main never returns (it ends with finish())
1:      hlt
        jmp 1b
