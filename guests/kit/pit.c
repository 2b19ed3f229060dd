// pit.c -- 8254 channel 0 as the periodic scheduler tick (IRQ 0).
#include "kit.h"

#define PIT_HZ 1193182

volatile u32 ticks;

void pit_init(u32 hz) {
  u32 div = PIT_HZ / hz;
  outb(0x43, 0x34);  // channel 0, lo/hi byte, mode 2 (rate generator)
  outb(0x40, div & 0xff);
  outb(0x40, div >> 8);
  pic_unmask(IRQ_TIMER);
}
