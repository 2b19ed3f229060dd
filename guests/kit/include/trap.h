// trap.h -- the trap frame built by vectors.S + trapasm.S on the kernel stack.
//
//   high  +------------+
//         | ss         |  \ pushed by the CPU only when the trap came
//         | esp        |  / from ring 3
//         | eflags     |
//         | cs         |   pushed by the CPU
//         | eip        |
//         | err        |   CPU error code, or 0 pushed by the stub
//         | trapno     |   pushed by the stub
//         | ds es fs gs|   pushed by alltraps
//         | eax .. edi |   pushal
//   low   +------------+ <- struct trapframe *tf
#ifndef KIT_TRAP_H
#define KIT_TRAP_H
#include "types.h"

struct trapframe {
  u32 edi, esi, ebp, oesp, ebx, edx, ecx, eax;  // pushal
  u32 gs, fs, es, ds;
  u32 trapno, err;
  u32 eip, cs, eflags;
  u32 esp, ss;  // only valid from user mode
};

#define T_PGFLT 14
#define T_IRQ0 32
#define IRQ_TIMER 0
#define IRQ_COM1 4
#define IRQ_ATA 14
#endif
