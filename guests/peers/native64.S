/*
 * Origin: copied unchanged (apart from this note) from /work/shared/peers/native64.S, the
 * shared peer-benchmark workload written for this project (see shared/peers/README.md).
 *
 * native64.S -- the same workload (workload.S) as a static x86-64 Linux process, for hosts that
 * cannot execute 32-bit binaries. The loop bodies assemble to the same 32-bit-operand instructions
 * (addresses get an addr32 prefix); only the prologue/epilogue push/pop are widened to 64 bits, so
 * the dynamic instruction count is the same as native.S's. Written for this project.
 */
#define push push_q
#define pop pop_q
        .intel_syntax noprefix
        .macro push_q r
        .ifc \r,ebx
        push rbx
        .endif
        .ifc \r,esi
        push rsi
        .endif
        .ifc \r,edi
        push rdi
        .endif
        .ifc \r,ebp
        push rbp
        .endif
        .endm
        .macro pop_q r
        .ifc \r,ebx
        pop rbx
        .endif
        .ifc \r,esi
        pop rsi
        .endif
        .ifc \r,edi
        pop rdi
        .endif
        .ifc \r,ebp
        pop rbp
        .endif
        .endm
#include "workload.S"
#undef push
#undef pop
        .intel_syntax noprefix
        .section .data
msg_res:    .ascii "RESULT "
res_hex:    .ascii "00000000 REPS "
res_reps:   .ascii REPS_STR
            .ascii "\n"
msg_end:
        .section .text
        .globl _start
_start:
        call workload
        mov edi, offset res_hex
        call wl_hex
        mov eax, 1                       /* write(1, msg, len) */
        mov edi, 1
        lea rsi, [msg_res]
        mov edx, offset msg_end - msg_res
        syscall
        mov eax, 60                      /* exit(0) */
        xor edi, edi
        syscall
