// kalloc.c -- physical page allocator: a free list threaded through the
// free pages themselves (all RAM is identity-mapped, so pa == kernel va).
//
//   0 ... 1M ... _end [kernel] | free pages ............... | mem_top
#include "kit.h"

struct run {
  struct run *next;
};

static struct run *freelist;
u32 kalloc_free_pages;

void kfree(void *page) {
  u32 fl = irq_save();
  struct run *r = page;
  r->next = freelist;
  freelist = r;
  kalloc_free_pages++;
  irq_restore(fl);
}

void kalloc_init(u32 start, u32 end) {
  // hand pages out in ascending address order: free them from the top down
  for (u32 p = PGROUNDDOWN(end) - PGSIZE; p >= PGROUNDUP(start); p -= PGSIZE) kfree((void *)p);
}

void *kalloc(void) {
  u32 fl = irq_save();
  struct run *r = freelist;
  if (r) {
    freelist = r->next;
    kalloc_free_pages--;
  }
  irq_restore(fl);
  if (r) memset(r, 0, PGSIZE);
  return r;
}
