/*
 * trap.S -- the trap round-trip micro-benchmark (scripts/bench, "trap round trip" table).
 * A bare multiboot v1 kernel that runs one sensitive instruction in a loop at (virtual) CPL 0 and exits:
 *   KIND_CLI     cli; sti           -- in full mode each traps (#GP at real CPL 3), is emulated, resumes
 *   KIND_IN      in al, 0x80        -- full: #GP + emulation + port dispatch; native: an io-in exit
 *   KIND_PUSHF   pushf; popf        -- full: patched to INT3 by the x86-hole translator, exits and is emulated
 *   KIND_VMCALL  vmcall (VERSION)   -- para (ring 1): one hypercall round trip
 *   KIND_PTEMOD  with paging on (identity map of 4 MiB, one page table): store a new value into the last PTE,
 *                then read through it -- "ptemod" (Adams & Agesen 2006). full: the page table is write-protected
 *                in the shadow, so the store exits (single-stepped, shadow entry dropped) and the read refills it
 *                (a hidden #PF; without a use in between, 24 writes would unshadow the frame); native: 2 instructions
 * The loop count N is the first decimal number in the multiboot command line ("n=100000"; default 1000), so
 * the bench takes two counts and divides the time difference by the count difference (boot cancels).
 * Exit: isa-debug-exit (port 0xf4, value 0) or, for KIND_VMCALL, HC_SHUTDOWN(0).
 */
        .section .multiboot, "a"
        .align 4
        .long 0x1BADB002, 0, -0x1BADB002

        .section .text
        .globl _start
_start:
        /* ecx = N from the command line */
        mov     $1000, %ecx
        testl   $4, (%ebx)              /* multiboot flags: cmdline present */
        jz      2f
        mov     16(%ebx), %esi
1:      movzbl  (%esi), %eax            /* skip to the first digit */
        inc     %esi
        test    %eax, %eax
        jz      2f
        sub     $'0', %eax
        cmp     $9, %eax
        ja      1b
        mov     %eax, %ecx
3:      movzbl  (%esi), %eax
        inc     %esi
        sub     $'0', %eax
        cmp     $9, %eax
        ja      2f
        imul    $10, %ecx, %ecx
        add     %eax, %ecx
        jmp     3b
2:
#if defined(KIND_PTEMOD)
        /* identity-map 4 MiB with one page table, paging on (the multiboot info is no longer needed) */
        xor     %eax, %eax
4:      mov     %eax, %edx
        shl     $12, %edx
        or      $3, %edx                /* P | W, supervisor */
        mov     %edx, pt0(,%eax,4)
        inc     %eax
        cmp     $1024, %eax
        jb      4b
        mov     $pt0, %eax
        or      $3, %eax
        mov     %eax, pd
        mov     $pd, %eax
        mov     %eax, %cr3
        mov     %cr0, %eax
        or      $0x80000000, %eax
        mov     %eax, %cr0
        mov     $(0x200000 | 3), %edx
#endif
        test    %ecx, %ecx
        jz      done
        .align 16
loop:
#if defined(KIND_CLI)
        cli
        sti
#elif defined(KIND_IN)
        inb     $0x80, %al
#elif defined(KIND_PUSHF)
        pushf
        popf
#elif defined(KIND_VMCALL)
        mov     %ecx, %edi
        xor     %eax, %eax              /* HC_VERSION */
        vmcall
        mov     %edi, %ecx
#elif defined(KIND_PTEMOD)
        xor     $0x1000, %edx           /* alternate frames 0x200000 / 0x201000 */
        mov     %edx, pt0 + 4 * 1023    /* the PTE for linear 0x3FF000 */
        mov     0x3FF000, %eax          /* use it */
#else
#error KIND_* not defined
#endif
        dec     %ecx
        jnz     loop
done:
#if defined(KIND_VMCALL)
        mov     $9, %eax                /* HC_SHUTDOWN(0) */
        xor     %ebx, %ebx
        vmcall
#else
        xor     %eax, %eax
        outb    %al, $0xf4
#endif
        hlt
        jmp     done

        .section .bss
        .align 4096
pd:     .skip   4096
pt0:    .skip   4096
