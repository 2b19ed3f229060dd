# crt0.S -- user program start. The image header comes first: the kernel
# checks the magic, maps [USER_BASE, _end) and jumps to the entry.
.section .uheader, "a"
  .long 0x4b495455    # "UTIK"
  .long _start
  .long _end

.text
.globl _start
_start:
  call main
  pushl %eax
  call exit
1:
  jmp 1b
