// boot.S -- multiboot v1 header and entry of the gdb test guest.
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0
        .section .multiboot, "a"
        .p2align 2
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

        .bss
        .p2align 4
stack:  .skip 8192
stack_top:

        .text
        .globl _start
_start:
        cli
        mov $stack_top, %esp
        call kmain
1:      hlt
        jmp 1b
