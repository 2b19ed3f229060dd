/* entry64.S — entry.S for the x86-64 build of the oracle (build/oracle/oracle64): process entry, the raw
 * syscall stub, the case trampoline and the signal restorer. Freestanding (no libc).
 * The case state is 32-bit: `mov m32, r32` zero-extends, so every register's upper half is 0 when the
 * case starts (addresses the case computes with an addr32 prefix then match the 32-bit run's). */
	.text
	.globl _start
_start:
	xor %ebp, %ebp
	and $-16, %rsp
	call oracle_main
	mov %eax, %edi
	mov $231, %eax          /* exit_group */
	syscall
	hlt

/* long sys6(nr, a, b, c, d, e, f): SysV arguments rdi rsi rdx rcx r8 r9 [rsp+8] -> syscall rax rdi rsi rdx r10 r8 r9 */
	.globl sys6
sys6:
	mov %rdi, %rax
	mov %rsi, %rdi
	mov %rdx, %rsi
	mov %rcx, %rdx
	mov %r8, %r10
	mov %r9, %r8
	mov 8(%rsp), %r9
	syscall
	ret

/* void run_case(void): loads the case state from in_regs/in_eflags and jumps to entry_addr.
 * It "returns" through resume_point, where the signal handler sends the CPU (with %rsp = saved_esp). */
	.globl run_case
	.globl resume_point
run_case:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, saved_esp(%rip)
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	xor %r12d, %r12d
	xor %r13d, %r13d
	xor %r14d, %r14d
	xor %r15d, %r15d
	mov in_eflags(%rip), %eax
	push %rax
	popfq
	mov in_regs+0(%rip), %eax
	mov in_regs+4(%rip), %ecx
	mov in_regs+8(%rip), %edx
	mov in_regs+12(%rip), %ebx
	mov in_regs+20(%rip), %ebp
	mov in_regs+24(%rip), %esi
	mov in_regs+28(%rip), %edi
	mov in_regs+16(%rip), %esp
	jmp *entry_addr(%rip)
resume_point:
	cld
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret

	.globl sig_restorer
sig_restorer:
	mov $15, %eax           /* rt_sigreturn */
	syscall
	hlt
	.section .note.GNU-stack,"",@progbits
