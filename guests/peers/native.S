/*
 * Origin: copied unchanged (apart from this note) from /work/shared/peers/native.S, the
 * shared peer-benchmark workload written for this project (see shared/peers/README.md).
 *
 * native.S -- the same workload (workload.S) as a static 32-bit Linux user
 * process: prints "RESULT <hex> REPS <n>\n" to stdout and exits via int 0x80.
 * Written for this project; no third-party code.
 */
#include "workload.S"

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
        mov eax, 4                       /* write(1, msg, len) */
        mov ebx, 1
        mov ecx, offset msg_res
        mov edx, offset msg_end - msg_res
        int 0x80
        mov eax, 1                       /* exit(0) */
        xor ebx, ebx
        int 0x80
