/*
 * Origin: copied unchanged (apart from this note) from /work/shared/peers/workload.S, the
 * shared peer-benchmark workload written for this project (see shared/peers/README.md).
 *
 * workload.S -- the CPU-bound benchmark loop shared by the multiboot guest
 * (kernel.S) and the native Linux reference (native.S). Same bytes, same
 * instruction stream in both. Written for this project; no third-party code.
 *
 * Build-time parameter: REPS (outer repetitions), e.g. -DREPS=1000.
 *
 * Every loop below is branch-free inside its body, so the dynamic
 * instruction count is exact by construction (see INSTRUCTION COUNT below;
 * count.sh / stepcount.c verify it by single-stepping the native binary).
 *
 * Phases per outer repetition:
 *   A  register ALU loop (add/xor/rol/shl/sub/dec/jnz), 16384 iterations x 9
 *   B  memory read-modify-write over a 64 KiB buffer,   16384 dwords   x 9
 *   C  table-driven CRC32 over the same 64 KiB,         65536 bytes    x 8
 *
 * INSTRUCTION COUNT (x86 instructions retired inside `workload`, incl. ret):
 *   prologue (4 push)                                   4
 *   CRC table build: 1 + 256*(6 + 8*8)               17921
 *   buffer fill:     3 + 16384*5                     81923
 *   init regs + outer counter                           3
 *   per rep: A (1 + 16384*9)                        147457
 *            B (2 + 16384*9)                        147458
 *            C (3 + 65536*8 + 2)                    524293
 *            outer dec/jnz                              2
 *            = PER_REP                               819210
 *   epilogue (mov, 4 pop, ret)                          6
 *   TOTAL = 99857 + REPS * 819210
 */
#ifndef REPS
#define REPS 100
#endif

#define PER_REP  819210
#define FIXED    99857

        .intel_syntax noprefix

        .section .bss
        .align 4096
        .globl wl_buf
wl_buf:    .skip 65536
wl_crctab: .skip 1024

        .section .text
        .globl workload
        /* uint32_t workload(void)  -- cdecl, returns checksum in eax */
workload:
        push ebx
        push esi
        push edi
        push ebp

        /* --- CRC32 table (poly 0xEDB88320), branch-free bit loop --- */
        xor ecx, ecx
1:      mov edx, ecx
        mov edi, 8
2:      mov eax, edx
        and eax, 1
        neg eax
        and eax, 0xEDB88320
        shr edx, 1
        xor edx, eax
        dec edi
        jnz 2b
        mov [wl_crctab + ecx*4], edx
        inc ecx
        cmp ecx, 256
        jne 1b

        /* --- deterministic buffer contents --- */
        mov esi, offset wl_buf
        mov ecx, 16384
        mov eax, 0x12345678
3:      mov [esi], eax
        add eax, 0x9E3779B9
        add esi, 4
        dec ecx
        jnz 3b

        mov eax, 1
        mov ebx, 2
        mov ebp, REPS

outer:
        /* --- A: register-only ALU loop --- */
        mov ecx, 16384
4:      add eax, ebx
        xor ebx, eax
        rol eax, 5
        mov edx, ebx
        shl edx, 3
        sub eax, edx
        add ebx, ecx
        dec ecx
        jnz 4b

        /* --- B: 64 KiB dword read-modify-write --- */
        mov esi, offset wl_buf
        mov ecx, 16384
5:      mov edx, [esi]
        add edx, eax
        rol edx, 7
        xor edx, ebx
        mov [esi], edx
        add eax, edx
        add esi, 4
        dec ecx
        jnz 5b

        /* --- C: table CRC32 over the 64 KiB as bytes --- */
        mov esi, offset wl_buf
        mov ecx, 65536
        mov edi, -1
6:      movzx edx, byte ptr [esi]
        xor edx, edi
        and edx, 0xff
        shr edi, 8
        xor edi, [wl_crctab + edx*4]
        inc esi
        dec ecx
        jnz 6b
        not edi
        xor eax, edi

        dec ebp
        jnz outer

        xor eax, ebx
        pop ebp
        pop edi
        pop esi
        pop ebx
        ret

        /* wl_hex: eax = value, edi = destination; writes 8 hex digits.
           Not part of the timed/counted region. */
        .globl wl_hex
wl_hex:
        mov ecx, 8
7:      rol eax, 4
        mov edx, eax
        and edx, 15
        mov dl, [wl_hexdig + edx]
        mov [edi], dl
        inc edi
        dec ecx
        jnz 7b
        ret

        .section .rodata
wl_hexdig: .ascii "0123456789abcdef"
