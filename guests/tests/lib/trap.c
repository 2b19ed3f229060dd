// trap.c -- the one C trap handler: record what the CPU pushed, then either let
// a hook resume the code (iret) or unwind to the probe that is waiting (longjmp).
#include "lib.h"

struct rec R;
int (*trap_hook)(struct frame *f);
static struct jb catcher;
static int catching;

void trap(struct frame *f) {
  R.n++;
  R.vec = f->vec; R.err = f->err; R.eip = f->eip; R.cs = f->cs & 0xffff;
  R.eflags = f->eflags; R.hfl = f->hfl; R.cr2 = rcr2();
  // ss:esp were pushed only if the trap came from an outer ring.
  int outer = (f->cs & 3) != 0;
  R.esp = outer ? f->esp : NONE;
  R.ss = outer ? f->ss & 0xffff : NONE;
  R.ds = f->ds & 0xffff; R.es = f->es & 0xffff; R.fs = f->fs & 0xffff; R.gs = f->gs & 0xffff;
  R.eax = f->eax; R.ecx = f->ecx; R.edx = f->edx; R.ebx = f->ebx; R.esi = f->esi; R.edi = f->edi;
  R.at = (u32)&f->eip;
  if (trap_hook && trap_hook(f)) return;
  if (catching) { catching = 0; longjmp(&catcher, 1); }
  printf("UNEXPECTED trap vec=%d err=%x eip=%08x cs=%x cr2=%08x\n",
         f->vec, f->err, f->eip, f->cs & 0xffff, R.cr2);
  exit_qemu(1);
}

static void clear(void) { R.vec = R.err = R.eip = R.cs = R.eflags = R.cr2 = NONE; }

void probe(void (*fn)(void)) {
  clear();
  if (setjmp(&catcher)) return;
  catching = 1;
  fn();
  catching = 0;
}

void uprobe_f(struct iretf *f) {
  clear();
  if (setjmp(&catcher)) return;
  catching = 1;
  iret_to(f);
}

void uprobe(void (*fn)(void), u32 eflags) {
  struct iretf f = { (u32)fn, UCODE, eflags | 2, USTACK, UDATA, UDATA, UDATA, UDATA, UDATA };
  uprobe_f(&f);
}
