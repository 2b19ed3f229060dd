// arch.h (para) -- the paravirtualized replacement of guests/kit/include/arch.h:
// the same functions, built on hypercalls (hypercall.h) instead of privileged
// instructions. The kernel runs at ring 1 (host/para/README.md).
//
//   interrupts   the virtual IF is PV_SHARED->upcall_mask, written directly:
//                cli/sti/pushf/popf never trap; sti with an event pending
//                asks the VMM to deliver it (HC_EVENT_POLL). hlt = block.
//   port I/O     there is none: devices are virtio. outl(0xf4, status), the
//                kit's isa-debug-exit power-off, becomes HC_SHUTDOWN; other
//                ports read as all-ones and ignore writes.
//   descriptors  lgdt -> HC_SET_GDT, lidt -> HC_SET_TRAP_TABLE, ltr: the VMM's
//                TSS is already loaded; segments are reloaded with RPL 1.
//   MMU          lcr3 -> MMUEXT_NEW_BASEPTR, invlpg -> MMUEXT_INVLPG,
//                set_pte -> HC_MMU_UPDATE, read_cr2 -> HC_READ_CR2; paging is
//                on from the start (the VMM built the first page tables).
#ifndef KIT_ARCH_H
#define KIT_ARCH_H
#include "types.h"
#include "hypercall.h"

#define FL_IF 0x200  // EFLAGS.IF

static inline int hypercall(u32 nr, u32 a, u32 b, u32 c) {
  int r;
  __asm__ volatile("vmcall" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
  return r;
}

static inline void cli(void) {
  PV_SHARED->upcall_mask = 1;
  __asm__ volatile("" ::: "memory");
}
static inline void sti(void) {
  __asm__ volatile("" ::: "memory");
  PV_SHARED->upcall_mask = 0;
  __asm__ volatile("" ::: "memory");
  if (PV_SHARED->upcall_pending) hypercall(HC_EVENT_POLL, 0, 0, 0);
}
static inline void hlt(void) {
  pv_console_flush();
  hypercall(HC_SCHED_OP, SCHEDOP_BLOCK, 0, 0);
}

static inline u32 save_flags(void) {
  u32 f;
  __asm__ volatile("pushfl; popl %0" : "=r"(f) : : "memory");
  return (f & ~FL_IF) | (PV_SHARED->upcall_mask ? 0 : FL_IF);
}
static inline void restore_flags(u32 f) {
  __asm__ volatile("pushl %0; popfl" : : "r"(f | FL_IF) : "memory", "cc");  // DF etc.; IF cannot change at ring 1
  if (f & FL_IF) sti(); else cli();
}
static inline u32 irq_save(void) {
  u32 f = save_flags();
  cli();
  return f;
}
static inline void irq_restore(u32 f) { restore_flags(f); }

// atomic with respect to event delivery (one instruction)
static inline void pv_clear_bit(volatile u32 *w, u32 bit) {
  __asm__ volatile("andl %1, %0" : "+m"(*w) : "r"(~(1u << bit)) : "memory");
}

static inline u8 inb(u16 port) { (void)port; return 0xff; }
static inline void outb(u16 port, u8 v) { (void)port; (void)v; }
static inline u16 inw(u16 port) { (void)port; return 0xffff; }
static inline void outw(u16 port, u16 v) { (void)port; (void)v; }
static inline u32 inl(u16 port) { (void)port; return 0xffffffffu; }
static inline void outl(u16 port, u32 v) {
  if (port == 0xf4) {
    pv_console_flush();
    hypercall(HC_SHUTDOWN, v, 0, 0);
  }
}
static inline void insw(u16 port, void *dst, u32 count) { (void)port; (void)dst; (void)count; }
static inline void outsw(u16 port, const void *src, u32 count) { (void)port; (void)src; (void)count; }

static inline void lgdt(void *base, u16 size) { hypercall(HC_SET_GDT, (u32)base, size / 8, 0); }
static inline void lidt(void *base, u16 size) { hypercall(HC_SET_TRAP_TABLE, (u32)base, size / 8, 0); }
static inline void ltr(u16 sel) { (void)sel; }
// Reload CS (far return, RPL 1) and the data segment registers.
static inline void load_segments(u16 code, u16 data) {
  __asm__ volatile(
      "pushl %0\n\t"
      "pushl $1f\n\t"
      "lret\n"
      "1:\n\t"
      "movw %w1, %%ds\n\t"
      "movw %w1, %%es\n\t"
      "movw %w1, %%fs\n\t"
      "movw %w1, %%gs\n\t"
      "movw %w1, %%ss\n\t"
      :
      : "r"((u32)code | 1), "r"((u32)data | 1)
      : "memory");
}

static inline void pv_mmuext(u32 cmd, u32 arg) {
  u32 op[2] = {cmd, arg};
  hypercall(HC_MMUEXT_OP, (u32)op, 1, 0);
}
static inline void lcr3(u32 pa) {
  pv_mmuext(MMUEXT_NEW_BASEPTR, pa);
  pv_cr3 = pa;
}
static inline u32 read_cr3(void) { return pv_cr3; }
static inline u32 read_cr0(void) { return PV_CR0; }
static inline void lcr0(u32 v) { (void)v; }  // paging is on from the start
static inline u32 read_cr2(void) { return (u32)hypercall(HC_READ_CR2, 0, 0, 0); }
static inline void invlpg(u32 va) { pv_mmuext(MMUEXT_INVLPG, va); }
// One validated PTE/PDE write (pv/vm.c batches them instead).
static inline void set_pte(u32 *pte, u32 val) {
  u32 req[2] = {(u32)pte, val};
  hypercall(HC_MMU_UPDATE, (u32)req, 1, 0);
}

static inline u64 rdtsc(void) {
  u32 lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((u64)hi << 32) | lo;
}
#endif
