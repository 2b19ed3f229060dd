# entry.S -- multiboot v1 header and kernel entry.
# The loader jumps here in 32-bit protected mode, paging off, with
# eax = 0x2BADB002 and ebx = physical address of the multiboot info.
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003   /* page-align modules, give memory info */

.section .multiboot, "a"
.align 4
  .long MB_MAGIC
  .long MB_FLAGS
  .long -(MB_MAGIC + MB_FLAGS)

.text
.globl _start
_start:                     # IF=0 already (multiboot); kmain does the rest
  movl $boot_stack_top, %esp
  movl %eax, %esi           # keep magic / info across the bss clear
  movl %ebx, %ebp
  movl $__bss_start, %edi   # zero .bss (the loader may not)
  movl $_end, %ecx
  subl %edi, %ecx
  xorl %eax, %eax
  cld
  rep stosb
  pushl %ebp                # kmain(magic, info)
  pushl %esi
  call kmain
1:
  jmp 1b                    # kmain never returns

.bss
.align 16
boot_stack:
  .space 16384
.globl boot_stack_top
boot_stack_top:
