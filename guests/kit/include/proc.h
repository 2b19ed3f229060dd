// proc.h -- processes.
//
// Each process owns a page directory (kernel half shared), a fixed 8 KiB
// kernel stack and a small file table. Its kernel stack while it is not
// running:
//
//   kstack + KSTACK_SIZE +------------------+
//                        | struct trapframe |  <- p->tf (user state)
//                        +------------------+
//                        | ... kernel frames|
//                        +------------------+
//                        | struct context   |  <- p->ctx (saved by swtch)
//                        +------------------+
//   kstack               |                  |
#ifndef KIT_PROC_H
#define KIT_PROC_H
#include "kit.h"

#define NPROC 16
#define NOFILE 8
#define KSTACK_SIZE 8192

enum pstate { UNUSED, EMBRYO, RUNNABLE, RUNNING, SLEEPING, ZOMBIE };

// callee-saved registers, as pushed by swtch()
struct context {
  u32 edi, esi, ebx, ebp, eip;
};

struct file;

struct proc {
  enum pstate state;
  int pid;
  struct proc *parent;
  u32 *pgdir;
  u8 *kstack;
  struct context *ctx;
  struct trapframe *tf;
  void *chan;  // sleeping on
  u32 heap_base, brk;
  int status;  // exit status
  struct file *ofile[NOFILE];
};

void swtch(struct context **save, struct context *load);
#endif
