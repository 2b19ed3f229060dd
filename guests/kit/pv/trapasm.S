# trapasm.S (para) -- ../trapasm.S with the virtual interrupt flag carried in
# the trap frame. The CPU pushes the real EFLAGS, whose IF is always 1 in para
# mode (the kernel runs at ring 1, IOPL 0), so on entry IF in the frame is
# replaced by the virtual IF (!upcall_mask in the shared page), and on return
# upcall_mask is restored from it -- what Xen's PV iret does. Unmasking with an
# event pending asks the VMM to deliver it (HC_EVENT_POLL) before the iret.
#include "mmu.h"

#define UPCALL_MASK 0xffc04000
#define UPCALL_PENDING 0xffc04004
#define TF_EFLAGS 64
#define FL_IF 0x200
#define HC_EVENT_POLL 13

.text
.globl alltraps
alltraps:
  pushl %ds
  pushl %es
  pushl %fs
  pushl %gs
  pushal
  movw $KDATA_SEL, %ax
  movw %ax, %ds
  movw %ax, %es
  movw %ax, %fs
  movw %ax, %gs
  andl $~FL_IF, TF_EFLAGS(%esp)
  cmpl $0, UPCALL_MASK
  jne 1f
  orl $FL_IF, TF_EFLAGS(%esp)
1:
  pushl %esp               # trap(struct trapframe *tf)
  call trap
  addl $4, %esp
.globl trapret
trapret:
  testl $FL_IF, TF_EFLAGS(%esp)
  jz 2f
  movl $0, UPCALL_MASK
  cmpl $0, UPCALL_PENDING
  je 3f
  movl $HC_EVENT_POLL, %eax
  vmcall
  jmp 3f
2:
  movl $1, UPCALL_MASK
3:
  popal
  popl %gs
  popl %fs
  popl %es
  popl %ds
  addl $8, %esp            # trapno, err
  iret

# void swtch(struct context **save, struct context *load)
.globl swtch
swtch:
  movl 4(%esp), %eax
  movl 8(%esp), %edx
  pushl %ebp
  pushl %ebx
  pushl %esi
  pushl %edi
  movl %esp, (%eax)
  movl %edx, %esp
  popl %edi
  popl %esi
  popl %ebx
  popl %ebp
  ret
