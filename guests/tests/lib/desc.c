// desc.c -- GDT, IDT and TSS at the fixed addresses of layout.h.
#include "lib.h"

//  63      56 55  52 51   48 47     40 39      32
// | base31:24 | G D 0 A | lim19:16 | P DPL S type | base23:16 |
// | base15:0                       | limit15:0               |
u64 seg_desc(u32 base, u32 limit, u32 access, u32 flags) {
  u32 lo = (limit & 0xffff) | (base << 16);
  u32 hi = ((base >> 16) & 0xff) | (access << 8) | (limit & 0xf0000) |
           (flags << 20) | (base & 0xff000000);
  return ((u64)hi << 32) | lo;
}

// Gate: | off31:16 | P DPL 0 type | 000 params | sel | off15:0 |
u64 gate_desc(u16 sel, u32 off, u32 type, u32 dpl, u32 params) {
  u32 lo = (off & 0xffff) | ((u32)sel << 16);
  u32 hi = (off & 0xffff0000) | ((A_P | A_DPL(dpl) | type) << 8) | (params & 0x1f);
  return ((u64)hi << 32) | lo;
}

void set_gate(int vec, u32 type, u32 dpl) {
  IDT[vec] = gate_desc(KCODE, vectors[vec], type, dpl, 0);
}

static void load_dt(int idt, u32 base, u32 limit) {
  struct { u16 lim; u32 base; } __attribute__((packed)) d = { (u16)limit, base };
  if (idt) asm volatile("lidt %0" :: "m"(d));
  else asm volatile("lgdt %0" :: "m"(d));
}
void lidt_limit(u32 limit) { load_dt(1, IDT_ADDR, limit); }
void lgdt_limit(u32 limit) { load_dt(0, GDT_ADDR, limit); }

void sys_init(void) {
  // Known CR0/CR4: protected mode, ET (read-only 1 since the 486), nothing else.
  lcr0(CR0_PE | CR0_ET);
  lcr4(0);
  // Mask both PICs: the BIOS leaves the timer unmasked, and ring-3 probes run with IF=1.
  outb(0x21, 0xff);
  outb(0xa1, 0xff);

  memset(GDT, 0, 0x1000);
  GDT[KCODE >> 3] = seg_desc(0, 0xfffff, A_P | A_S | T_CODE_XR, F_G | F_DB);
  GDT[KDATA >> 3] = seg_desc(0, 0xfffff, A_P | A_S | T_DATA_RW, F_G | F_DB);
  GDT[UCODE >> 3] = seg_desc(0, 0xfffff, A_P | A_DPL(3) | A_S | T_CODE_XR, F_G | F_DB);
  GDT[UDATA >> 3] = seg_desc(0, 0xfffff, A_P | A_DPL(3) | A_S | T_DATA_RW, F_G | F_DB);
  // TSS limit covers the I/O bitmap and the 0xff byte after it (SDM 20.5.2).
  GDT[TSSSEL >> 3] = seg_desc(TSS_ADDR, 0x68 + 0x2000, A_P | T_TSS, 0);
  lgdt_limit(64 * 8 - 1);
  asm volatile("ljmp %0, $1f\n1:\n"
               "mov %1, %%ds\n mov %1, %%es\n mov %1, %%fs\n mov %1, %%gs\n mov %1, %%ss"
               :: "i"(KCODE), "r"(KDATA));

  memset(TSS, 0, 0x68);
  TSS->ss0 = KDATA;
  TSS->esp0 = KSTACK0;
  TSS->iomap = 0x68;
  memset(IOPB, 0xff, 0x2001);      // every port denied, plus the terminator
  ltr(TSSSEL);
  lldt(0);

  for (int v = 0; v < 256; v++) set_gate(v, T_INTGATE, 0);
  // Reachable from ring 3: int3, into, and the two "syscall" vectors.
  set_gate(3, T_INTGATE, 3);
  set_gate(4, T_INTGATE, 3);
  set_gate(0x80, T_TRAPGATE, 3);   // trap gate: IF stays as it was
  set_gate(0x81, T_INTGATE, 3);    // interrupt gate: IF cleared
  lidt_limit(256 * 8 - 1);
}
