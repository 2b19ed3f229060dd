// arch.h -- EVERY privileged operation the kit performs lives here, as inline
// functions. A paravirtualized build replaces this one header (and nothing
// else) with hypercall-based versions.
//
//   interrupts   cli sti hlt save_flags restore_flags irq_save irq_restore
//   port I/O     inb outb inw outw inl outl insw outsw
//   descriptors  lgdt lidt ltr load_segments
//   MMU          lcr3 read_cr3 read_cr0 lcr0 read_cr2 invlpg set_pte
//   misc         rdtsc
#ifndef KIT_ARCH_H
#define KIT_ARCH_H
#include "types.h"

#define FL_IF 0x200  // EFLAGS.IF

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }

// pushf/popf: the real way kernels save and restore the interrupt flag.
static inline u32 save_flags(void) {
  u32 f;
  __asm__ volatile("pushfl; popl %0" : "=r"(f) : : "memory");
  return f;
}
static inline void restore_flags(u32 f) {
  __asm__ volatile("pushl %0; popfl" : : "r"(f) : "memory", "cc");
}
// Enter a critical section: returns the old EFLAGS (to hand to irq_restore).
static inline u32 irq_save(void) {
  u32 f = save_flags();
  cli();
  return f;
}
static inline void irq_restore(u32 f) { restore_flags(f); }

static inline u8 inb(u16 port) {
  u8 v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u16 inw(u16 port) {
  u16 v;
  __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline u32 inl(u16 port) {
  u32 v;
  __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline void insw(u16 port, void *dst, u32 count) {
  __asm__ volatile("cld; rep insw" : "+D"(dst), "+c"(count) : "d"(port) : "memory");
}
static inline void outsw(u16 port, const void *src, u32 count) {
  __asm__ volatile("cld; rep outsw" : "+S"(src), "+c"(count) : "d"(port) : "memory");
}

struct __attribute__((packed)) dtr {
  u16 limit;
  u32 base;
};
static inline void lgdt(void *base, u16 size) {
  struct dtr d = {(u16)(size - 1), (u32)base};
  __asm__ volatile("lgdt %0" : : "m"(d));
}
static inline void lidt(void *base, u16 size) {
  struct dtr d = {(u16)(size - 1), (u32)base};
  __asm__ volatile("lidt %0" : : "m"(d));
}
static inline void ltr(u16 sel) { __asm__ volatile("ltr %0" : : "r"(sel)); }
// Reload CS (far jump) and the data segment registers after lgdt.
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
      : "r"((u32)code), "r"((u32)data)
      : "memory");
}

static inline void lcr3(u32 pa) { __asm__ volatile("movl %0, %%cr3" : : "r"(pa) : "memory"); }
static inline u32 read_cr3(void) {
  u32 v;
  __asm__ volatile("movl %%cr3, %0" : "=r"(v));
  return v;
}
static inline u32 read_cr0(void) {
  u32 v;
  __asm__ volatile("movl %%cr0, %0" : "=r"(v));
  return v;
}
static inline void lcr0(u32 v) { __asm__ volatile("movl %0, %%cr0" : : "r"(v) : "memory"); }
static inline u32 read_cr2(void) {
  u32 v;
  __asm__ volatile("movl %%cr2, %0" : "=r"(v));
  return v;
}
static inline void invlpg(u32 va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
// Every write to a page-directory or page-table entry goes through here.
static inline void set_pte(u32 *pte, u32 val) { *(volatile u32 *)pte = val; }

static inline u64 rdtsc(void) {
  u32 lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((u64)hi << 32) | lo;
}
#endif
