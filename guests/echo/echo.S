/*
 * echo.S -- a polled serial echo guest: reads characters from COM1 (waiting on LSR.DR), writes each back,
 * and exits through isa-debug-exit when it reads 'q' (status 0) -- for testing console input end to end.
 */
        .section .text
        .align 4
        .long 0x1BADB002, 0, -0x1BADB002   /* multiboot header: first thing in the image */
        .globl _start
_start:
        mov $stack_top, %esp
        mov $banner, %esi
1:      lodsb
        test %al, %al
        jz 2f
        call putc
        jmp 1b
2:      mov $0x3fd, %dx          /* LSR */
3:      in %dx, %al
        test $1, %al             /* DR: a character is waiting */
        jz 3b
        mov $0x3f8, %dx
        in %dx, %al
        cmp $'q', %al
        je 4f
        call putc
        jmp 2b
4:      mov $0, %al
        out %al, $0xf4
5:      hlt
        jmp 5b

putc:   push %eax
        mov $0x3fd, %dx
6:      in %dx, %al
        test $0x20, %al          /* THRE */
        jz 6b
        pop %eax
        mov $0x3f8, %dx
        out %al, %dx
        ret

        .section .rodata
banner: .asciz "echo> "

        .section .bss
        .align 16
        .skip 4096
stack_top:
