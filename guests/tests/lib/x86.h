// x86.h -- inline wrappers for the instructions the guests need, and bit names.
#ifndef X86_H
#define X86_H
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define CR0_PE 0x00000001
#define CR0_MP 0x00000002
#define CR0_EM 0x00000004
#define CR0_TS 0x00000008
#define CR0_ET 0x00000010
#define CR0_WP 0x00010000
#define CR0_PG 0x80000000
#define CR4_TSD 0x004
#define CR4_DE  0x008
#define CR4_PSE 0x010
#define CR4_PGE 0x080
#define CR4_PCE 0x100

#define FL_CF   0x00000001
#define FL_TF   0x00000100
#define FL_IF   0x00000200
#define FL_DF   0x00000400
#define FL_OF   0x00000800
#define FL_IOPL 0x00003000
#define FL_NT   0x00004000
#define FL_RF   0x00010000
#define FL_AC   0x00040000

static inline void outb(u16 p, u8 v) { asm volatile("outb %0,%1" :: "a"(v), "Nd"(p)); }
static inline u8 inb(u16 p) { u8 v; asm volatile("inb %1,%0" : "=a"(v) : "Nd"(p)); return v; }
static inline u32 rcr0(void) { u32 v; asm volatile("mov %%cr0,%0" : "=r"(v)); return v; }
static inline u32 rcr2(void) { u32 v; asm volatile("mov %%cr2,%0" : "=r"(v)); return v; }
static inline u32 rcr3(void) { u32 v; asm volatile("mov %%cr3,%0" : "=r"(v)); return v; }
static inline u32 rcr4(void) { u32 v; asm volatile("mov %%cr4,%0" : "=r"(v)); return v; }
static inline void lcr0(u32 v) { asm volatile("mov %0,%%cr0" :: "r"(v) : "memory"); }
static inline void lcr2(u32 v) { asm volatile("mov %0,%%cr2" :: "r"(v) : "memory"); }
static inline void lcr3(u32 v) { asm volatile("mov %0,%%cr3" :: "r"(v) : "memory"); }
static inline void lcr4(u32 v) { asm volatile("mov %0,%%cr4" :: "r"(v) : "memory"); }
static inline void invlpg(u32 va) { asm volatile("invlpg (%0)" :: "r"(va) : "memory"); }
static inline u32 rdr6(void) { u32 v; asm volatile("mov %%dr6,%0" : "=r"(v)); return v; }
static inline void ldr6(u32 v) { asm volatile("mov %0,%%dr6" :: "r"(v)); }
static inline u32 reflags(void) { u32 v; asm volatile("pushfl; popl %0" : "=r"(v)); return v; }
static inline void leflags(u32 v) { asm volatile("pushl %0; popfl" :: "r"(v) : "memory", "cc"); }
static inline void ltr(u16 s) { asm volatile("ltr %0" :: "r"(s)); }
static inline void lldt(u16 s) { asm volatile("lldt %0" :: "r"(s)); }
static inline u16 rds(void) { u16 v; asm volatile("mov %%ds,%0" : "=r"(v)); return v; }

static inline void *memset(void *d, int c, u32 n) {
  u8 *p = d; while (n--) *p++ = (u8)c; return d;
}
#endif
