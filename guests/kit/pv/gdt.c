// gdt.c (para) -- the same GDT as ../gdt.c, handed to the VMM (HC_SET_GDT:
// kernel descriptors are compressed to DPL 1, entry 5 becomes the VMM's TSS),
// and the kernel stack for traps from ring 3 set by HC_STACK_SWITCH instead
// of a write to our own TSS (Xen's stack_switch).
#include "kit.h"

static u64 gdt[NSEGS];

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
  gdt[SEG_KCODE] = seg(0, 0xfffff, 0x9a, 0xc);
  gdt[SEG_KDATA] = seg(0, 0xfffff, 0x92, 0xc);
  gdt[SEG_UCODE] = seg(0, 0xfffff, 0xfa, 0xc);
  gdt[SEG_UDATA] = seg(0, 0xfffff, 0xf2, 0xc);
  gdt[SEG_TSS] = seg(0, 0x67, 0x89, 0x0);  // replaced by the VMM's TSS
  lgdt(gdt, sizeof(gdt));
  load_segments(KCODE_SEL, KDATA_SEL);
  ltr(TSS_SEL);
}

void tss_set_esp0(u32 esp0) { hypercall(HC_STACK_SWITCH, KDATA_SEL, esp0, 0); }
