// vectors.S -- 256 generated trap stubs and the common entry (cf. xv6 vectors.pl).
// Stub n pushes a dummy error code when the CPU pushes none, then n, so every
// frame has the same shape (struct frame in lib.h):
//
//   high  ss, esp          (only on a privilege change)
//         eflags, cs, eip  (pushed by the CPU)
//         err, vec         (err by the CPU for 8,10-14,17; else 0 by the stub)
//         hfl              EFLAGS as the handler sees them (IF/TF after the gate)
//         ds es fs gs      the faulting code's selectors
//   low   pushal
#include "layout.h"

        .altmacro
        .macro stub n
        .p2align 3
vec\n:
        .if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17)
        .else
        pushl $0
        .endif
        pushl $\n
        jmp alltraps
        .endm

        .text
        .set i, 0
        .rept 256
        stub %i
        .set i, i + 1
        .endr

alltraps:
        pushfl                      // first: nothing has touched the flags yet
        cld                         // the probe may have left DF set
        pushl %ds
        pushl %es
        pushl %fs
        pushl %gs
        pushal
        mov $KDATA, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %fs
        mov %ax, %gs
        pushl %esp
        call trap                   // returns only when a hook resumes
        addl $4, %esp
        popal
        popl %gs
        popl %fs
        popl %es
        popl %ds
        addl $12, %esp              // hfl, vec, err
        iret

        .macro addr n
        .long vec\n
        .endm
        .data
        .globl vectors
vectors:
        .set i, 0
        .rept 256
        addr %i
        .set i, i + 1
        .endr
