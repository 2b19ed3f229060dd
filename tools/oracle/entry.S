/* entry.S — process entry, the case trampoline and the signal restorer for the wasmvisor oracle.
 * 32-bit, freestanding (no libc): everything goes through int $0x80. */
	.text
	.globl _start
_start:
	xor %ebp, %ebp
	and $-16, %esp
	call oracle_main
	mov %eax, %ebx
	mov $252, %eax          /* exit_group */
	int $0x80
	hlt

/* int sys6(nr, a, b, c, d, e) */
	.globl sys6
sys6:
	push %ebp
	push %edi
	push %esi
	push %ebx
	mov 20(%esp), %eax
	mov 24(%esp), %ebx
	mov 28(%esp), %ecx
	mov 32(%esp), %edx
	mov 36(%esp), %esi
	mov 40(%esp), %edi
	mov 44(%esp), %ebp
	int $0x80
	pop %ebx
	pop %esi
	pop %edi
	pop %ebp
	ret

/* void run_case(void): loads the case state from in_regs/in_eflags and jumps to entry_addr.
 * It "returns" through resume_point, where the signal handler sends the CPU (with %esp = saved_esp). */
	.globl run_case
	.globl resume_point
run_case:
	push %ebp
	push %ebx
	push %esi
	push %edi
	mov %esp, saved_esp
	pushl in_eflags
	popfl
	mov in_regs+0, %eax
	mov in_regs+4, %ecx
	mov in_regs+8, %edx
	mov in_regs+12, %ebx
	mov in_regs+20, %ebp
	mov in_regs+24, %esi
	mov in_regs+28, %edi
	mov in_regs+16, %esp
	jmp *entry_addr
resume_point:
	cld
	pop %edi
	pop %esi
	pop %ebx
	pop %ebp
	ret

	.globl sig_restorer
sig_restorer:
	mov $173, %eax          /* rt_sigreturn */
	int $0x80
	hlt
	.section .note.GNU-stack,"",@progbits
