// timer.c (para) -- replaces pit.c: a periodic virtual timer (HC_SET_TIMER)
// raising event port 0 (IRQ_TIMER).
#include "kit.h"

volatile u32 ticks;

void pit_init(u32 hz) {
  hypercall(HC_SET_TIMER, 1000000000u / hz, 0, 0);
  pic_unmask(IRQ_TIMER);
}
