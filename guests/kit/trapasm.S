# trapasm.S -- common trap entry/exit and the kernel context switch.
#include "mmu.h"

.text
# Every vector stub (vectors.S) jumps here with trapno and err pushed.
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
  pushl %esp               # trap(struct trapframe *tf)
  call trap
  addl $4, %esp
.globl trapret
trapret:
  popal
  popl %gs
  popl %fs
  popl %es
  popl %ds
  addl $8, %esp            # trapno, err
  iret

# void swtch(struct context **save, struct context *load)
# Push callee-saved registers, store esp in *save, switch to load, pop.
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
