// gdt.c -- flat segments for ring 0 and ring 3, and the one TSS (its only
// job: tell the CPU which kernel stack to use on a trap from ring 3).
//
//   segment descriptor (8 bytes):
//   | base 31..24 | G D 0 A lim 19..16 | P DPL S type | base 23..0 | limit 15..0 |
#include "kit.h"

struct tss {
  u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
  u32 eax, ecx, edx, ebx, esp, ebp, esi, edi;
  u32 es, cs, ss, ds, fs, gs, ldt;
  u16 trap, iomap;
};

static u64 gdt[NSEGS];
static struct tss tss;

static u64 seg(u32 base, u32 limit, u32 access, u32 gran) {
  u64 d = (limit & 0xffff) | ((u64)(base & 0xffffff) << 16);
  d |= (u64)(access & 0xff) << 40;
  d |= (u64)((limit >> 16) & 0xf) << 48;
  d |= (u64)(gran & 0xf) << 52;
  d |= (u64)(base >> 24) << 56;
  return d;
}

void gdt_init(void) {
  gdt[0] = 0;
  gdt[SEG_KCODE] = seg(0, 0xfffff, 0x9a, 0xc);  // present, DPL0, code r/x; 4K gran, 32-bit
  gdt[SEG_KDATA] = seg(0, 0xfffff, 0x92, 0xc);  // DPL0 data r/w
  gdt[SEG_UCODE] = seg(0, 0xfffff, 0xfa, 0xc);  // DPL3 code
  gdt[SEG_UDATA] = seg(0, 0xfffff, 0xf2, 0xc);  // DPL3 data
  tss.ss0 = KDATA_SEL;
  tss.iomap = sizeof(tss);  // no I/O bitmap: ring 3 gets no port access
  gdt[SEG_TSS] = seg((u32)&tss, sizeof(tss) - 1, 0x89, 0x0);  // 32-bit TSS, available
  lgdt(gdt, sizeof(gdt));
  load_segments(KCODE_SEL, KDATA_SEL);
  ltr(TSS_SEL);
}

void tss_set_esp0(u32 esp0) { tss.esp0 = esp0; }
