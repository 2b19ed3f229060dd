// entry.S -- setjmp/longjmp (how a trap handler unwinds back to the probe that
// caused it) and iret_to (how the guests drop to ring 3 with a chosen frame).
#include "layout.h"

// int setjmp(struct jb *j)    jb: ebx esi edi ebp esp eip eflags
        .globl setjmp
setjmp:
        mov 4(%esp), %eax
        mov %ebx, 0(%eax)
        mov %esi, 4(%eax)
        mov %edi, 8(%eax)
        mov %ebp, 12(%eax)
        lea 4(%esp), %ecx          // esp after our return
        mov %ecx, 16(%eax)
        mov (%esp), %ecx
        mov %ecx, 20(%eax)
        pushfl
        popl 24(%eax)
        xor %eax, %eax
        ret

// void longjmp(struct jb *j, int v) -- runs at CPL0 (inside a handler), so it can
// reload every segment register: the probe may have left any of them odd.
        .globl longjmp
longjmp:
        mov 4(%esp), %edx
        mov 8(%esp), %eax
        mov $KDATA, %cx
        mov %cx, %ds
        mov %cx, %es
        mov %cx, %fs
        mov %cx, %gs
        mov %cx, %ss
        mov 16(%edx), %esp         // (mov ss shields this from interrupts)
        mov 0(%edx), %ebx
        mov 4(%edx), %esi
        mov 8(%edx), %edi
        mov 12(%edx), %ebp
        pushl 24(%edx)
        popfl                      // back to the probe's IF/IOPL/TF/NT
        jmp *20(%edx)

// void iret_to(struct iretf *f)   f: eip cs eflags esp ss ds es fs gs
// Builds a 5-word iret frame (a 3-word one is enough when cs is ring 0; the
// extra words are never popped and the probe unwinds by longjmp anyway).
        .globl iret_to
iret_to:
        mov 4(%esp), %eax
        pushl 16(%eax)
        pushl 12(%eax)
        pushl 8(%eax)
        pushl 4(%eax)
        pushl 0(%eax)
        movw %ss:24(%eax), %es     // %ss: because ds is about to change
        movw %ss:28(%eax), %fs
        movw %ss:32(%eax), %gs
        movw %ss:20(%eax), %ds
        iret
