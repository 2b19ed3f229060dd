// proc.c -- process table, round-robin scheduler, fork/exit/wait, sbrk and
// demand paging. Single CPU: a critical section is irq_save()/irq_restore()
// (pushf; cli ... popf). The kernel itself is never preempted: the timer
// only reschedules when it interrupts ring 3.
#include "proc.h"

struct proc procs[NPROC];
static u8 kstacks[NPROC][KSTACK_SIZE] __attribute__((aligned(16)));
struct proc *cur;
static struct proc *initproc;
static int nextpid = 1;

extern void trapret(void);

// Header at the start of a user image (see user/crt0.S).
struct user_header {
  u32 magic, entry, end;
};
#define USER_MAGIC 0x4b495455  // "UTIK"

static struct proc *alloc_proc(void) {
  u32 fl = irq_save();
  struct proc *p = NULL;
  for (int i = 0; i < NPROC; i++)
    if (procs[i].state == UNUSED) {
      p = &procs[i];
      p->state = EMBRYO;
      p->pid = nextpid++;
      p->kstack = kstacks[i];
      break;
    }
  irq_restore(fl);
  if (!p) return NULL;
  u8 *sp = p->kstack + KSTACK_SIZE;
  sp -= sizeof(struct trapframe);
  p->tf = (struct trapframe *)sp;
  sp -= sizeof(struct context);
  p->ctx = (struct context *)sp;
  memset(p->ctx, 0, sizeof(struct context));
  p->ctx->eip = (u32)trapret;  // first swtch() "returns" into trapret
  p->parent = NULL;
  p->chan = NULL;
  p->status = 0;
  for (int i = 0; i < NOFILE; i++) p->ofile[i] = NULL;
  return p;
}

// Pick the next RUNNABLE process after cur (round-robin) and switch to it.
// Called with interrupts off, after the caller changed cur->state.
static void sched(void) {
  struct proc *old = cur, *next = NULL;
  int start = old - procs;
  for (int k = 1; k <= NPROC; k++) {
    struct proc *p = &procs[(start + k) % NPROC];
    if (p->state == RUNNABLE) {
      next = p;
      break;
    }
  }
  if (!next) panic("sched: no runnable process (deadlock)");
  next->state = RUNNING;
  if (next == old) return;
  cur = next;
  tss_set_esp0((u32)next->kstack + KSTACK_SIZE);
  switch_pgdir(next->pgdir);
  swtch(&old->ctx, next->ctx);
}

void yield(void) {
  u32 fl = irq_save();
  cur->state = RUNNABLE;
  sched();
  irq_restore(fl);
}

// Caller must have interrupts off (irq_save) so no wakeup is lost.
void sleep_on(void *chan) {
  cur->chan = chan;
  cur->state = SLEEPING;
  sched();
  cur->chan = NULL;
}

void wakeup(void *chan) {
  u32 fl = irq_save();
  for (int i = 0; i < NPROC; i++)
    if (procs[i].state == SLEEPING && procs[i].chan == chan) procs[i].state = RUNNABLE;
  irq_restore(fl);
}

int getpid(void) { return cur->pid; }

// Create pid 1 from a flat user image linked at USER_BASE and enter it.
void user_init(const u8 *image, u32 size) {
  const struct user_header *h = (const struct user_header *)image;
  if (size < sizeof(*h) || h->magic != USER_MAGIC || h->end < USER_BASE + size)
    panic("user_init: bad user image");
  struct proc *p = alloc_proc();
  if (!p || !(p->pgdir = pgdir_new())) panic("user_init: no memory");
  if (map_anon(p->pgdir, USER_BASE, PGROUNDUP(h->end - USER_BASE)) < 0)
    panic("user_init: no memory");
  switch_pgdir(p->pgdir);
  memcpy((void *)USER_BASE, image, size);  // the rest (bss) is already zero
  p->heap_base = p->brk = PGROUNDUP(h->end);
  memset(p->tf, 0, sizeof(*p->tf));
  p->tf->cs = UCODE_SEL;
  p->tf->ds = p->tf->es = p->tf->fs = p->tf->gs = p->tf->ss = UDATA_SEL;
  p->tf->eflags = FL_IF;
  p->tf->esp = USER_TOP;
  p->tf->eip = h->entry;
  file_init_proc(p);
  initproc = p;
  cur = p;
  p->state = RUNNING;
  tss_set_esp0((u32)p->kstack + KSTACK_SIZE);
  __asm__ volatile("movl %0, %%esp; jmp trapret" : : "r"(p->tf));
  __builtin_unreachable();
}

int fork(void) {
  struct proc *np = alloc_proc();
  if (!np) return -1;
  np->pgdir = pgdir_new();
  if (!np->pgdir || pgdir_copy(np->pgdir, cur->pgdir) < 0) {
    if (np->pgdir) pgdir_free(np->pgdir);
    np->state = UNUSED;
    return -1;
  }
  *np->tf = *cur->tf;
  np->tf->eax = 0;  // fork() returns 0 in the child
  np->heap_base = cur->heap_base;
  np->brk = cur->brk;
  np->parent = cur;
  file_dup_all(np, cur);
  u32 fl = irq_save();
  np->state = RUNNABLE;
  irq_restore(fl);
  return np->pid;
}

// Leaving pid 1 leaves the machine, with its exit status.
void exit(int status) {
  if (cur == initproc) machine_exit(status);
  file_close_all(cur);
  irq_save();
  for (int i = 0; i < NPROC; i++)
    if (procs[i].parent == cur) procs[i].parent = initproc;
  cur->status = status;
  cur->state = ZOMBIE;
  wakeup(initproc);
  wakeup(cur->parent);
  sched();
  panic("exit: zombie ran");
}

int wait(int *status) {
  u32 fl = irq_save();
  for (;;) {
    int have = 0;
    for (int i = 0; i < NPROC; i++) {
      struct proc *p = &procs[i];
      if (p->parent != cur) continue;
      have = 1;
      if (p->state != ZOMBIE) continue;
      int pid = p->pid;
      *status = p->status;
      pgdir_free(p->pgdir);
      p->pgdir = NULL;
      p->parent = NULL;
      p->pid = 0;
      p->state = UNUSED;
      irq_restore(fl);
      return pid;
    }
    if (!have) {
      irq_restore(fl);
      return -1;
    }
    sleep_on(cur);
  }
}

// Move the break; new heap pages appear on first touch (page_fault).
int sbrk(int incr) {
  u32 old = cur->brk, nb = old + incr;
  if (incr > 0 ? (nb < old || nb > USER_TOP - STACK_MAX) : (nb > old || nb < cur->heap_base))
    return -1;
  if (incr < 0) unmap_range(cur->pgdir, PGROUNDUP(nb), PGROUNDUP(old) - PGROUNDUP(nb));
  cur->brk = nb;
  return old;
}

// Demand paging: a fresh zeroed page for a touch of the heap or the stack.
// Returns -1 when the address is not one we grow on demand.
int page_fault(u32 va) {
  if (!cur) return -1;
  int heap = va >= cur->heap_base && va < cur->brk;
  int stack = va >= USER_TOP - STACK_MAX && va < USER_TOP;
  if (!heap && !stack) return -1;
  u32 *pte = walk(cur->pgdir, va, 0);
  if (pte && (*pte & PTE_P)) return -1;  // present: a protection fault
  return map_anon(cur->pgdir, PGROUNDDOWN(va), PGSIZE);
}

// Check that [va, va+len) is user memory, faulting in demand pages now so
// the kernel can access it directly.
int user_range(u32 va, u32 len) {
  if (va < USER_BASE || va + len < va || va + len > USER_TOP) return -1;
  if (len == 0) return 0;
  for (u32 a = PGROUNDDOWN(va); a < va + len && a >= PGROUNDDOWN(va); a += PGSIZE) {
    u32 *pte = walk(cur->pgdir, a, 0);
    if (pte && (*pte & PTE_P) && (*pte & PTE_U)) continue;
    if (page_fault(a) < 0) return -1;
  }
  return 0;
}
