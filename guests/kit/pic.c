// pic.c -- the two 8259A PICs, remapped so IRQ 0..15 -> vectors 32..47.
#include "kit.h"

#define PIC1 0x20
#define PIC2 0xa0

static u16 mask = 0xffff & ~(1 << 2);  // all masked but the cascade

static void pic_write_mask(void) {
  outb(PIC1 + 1, mask & 0xff);
  outb(PIC2 + 1, mask >> 8);
}

void pic_init(void) {
  outb(PIC1, 0x11);  // ICW1: edge, cascade, ICW4 follows
  outb(PIC2, 0x11);
  outb(PIC1 + 1, T_IRQ0);      // ICW2: vector base
  outb(PIC2 + 1, T_IRQ0 + 8);
  outb(PIC1 + 1, 1 << 2);  // ICW3: slave on IRQ2
  outb(PIC2 + 1, 2);
  outb(PIC1 + 1, 1);  // ICW4: 8086 mode
  outb(PIC2 + 1, 1);
  pic_write_mask();
}

void pic_unmask(int irq) {
  u32 fl = irq_save();
  mask &= ~(1 << irq);
  pic_write_mask();
  irq_restore(fl);
}

void pic_eoi(int irq) {
  if (irq >= 8) outb(PIC2, 0x20);
  outb(PIC1, 0x20);
}
