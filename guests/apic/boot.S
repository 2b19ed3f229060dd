// boot.S -- multiboot v1 header, entry, a flat GDT and 256 interrupt stubs that call trap(vector).
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0

        .section .multiboot, "a"
        .p2align 2
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

        .bss
        .p2align 4
kstack: .skip 16384
kstack_top:
        .globl idt
        .p2align 3
idt:    .skip 256 * 8

        .data
        .p2align 3
gdt:    .quad 0
        .quad 0x00cf9a000000ffff        // 0x08: code, flat, 32-bit
        .quad 0x00cf92000000ffff        // 0x10: data, flat
gdtr:   .word gdtr - gdt - 1
        .long gdt
idtr:   .word 256 * 8 - 1
        .long idt

        .text
        .globl _start
_start:
        cli
        cld
        lgdt gdtr
        ljmp $0x08, $1f
1:      mov $0x10, %ax
        mov %ax, %ds; mov %ax, %es; mov %ax, %ss; mov %ax, %fs; mov %ax, %gs
        mov $kstack_top, %esp
        // fill the IDT: interrupt gate, selector 0x08, stub i
        xor %ecx, %ecx
2:      mov stubs(,%ecx,4), %eax
        mov %ax, idt(,%ecx,8)
        movw $0x08, idt+2(,%ecx,8)
        movw $0x8e00, idt+4(,%ecx,8)
        shr $16, %eax
        mov %ax, idt+6(,%ecx,8)
        inc %ecx
        cmp $256, %ecx
        jb 2b
        lidt idtr
        call main
3:      cli
        hlt
        jmp 3b

// stubs: errors codes ignored (only external interrupts are expected; exceptions end the test)
common:
        pusha
        push 32(%esp)           // the vector
        call trap
        add $4, %esp
        popa
        add $4, %esp
        iret

// one stub per vector: push the vector, join common; its address goes in the stubs table
        .macro stub v
        .text
stub\v:
        push $\v
        jmp common
        .section .rodata
        .long stub\v
        .endm

        .section .rodata
        .p2align 2
stubs:
        .altmacro
        .set i, 0
        .rept 256
        stub %i
        .set i, i + 1
        .endr
        .text
