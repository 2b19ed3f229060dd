// printf.c -- kernel console output (COM1), panic, and leaving the machine.
#include "kit.h"

static void putstr(const char *s) {
  while (*s) uart_putc(*s++);
}

static void putnum(u32 v, int base, int sign) {
  char buf[12];
  int i = 0;
  if (sign && (i32)v < 0) {
    uart_putc('-');
    v = -(i32)v;
  }
  do {
    buf[i++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  while (i) uart_putc(buf[--i]);
}

// %d %u %x %s %c %%
void kprintf(const char *fmt, ...) {
  __builtin_va_list ap;
  __builtin_va_start(ap, fmt);
  u32 fl = irq_save();
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      uart_putc(*fmt);
      continue;
    }
    switch (*++fmt) {
      case 'd': putnum(__builtin_va_arg(ap, u32), 10, 1); break;
      case 'u': putnum(__builtin_va_arg(ap, u32), 10, 0); break;
      case 'x': putnum(__builtin_va_arg(ap, u32), 16, 0); break;
      case 's': putstr(__builtin_va_arg(ap, const char *)); break;
      case 'c': uart_putc(__builtin_va_arg(ap, int)); break;
      case '%': uart_putc('%'); break;
      default: uart_putc('%'); uart_putc(*fmt); break;
    }
  }
  irq_restore(fl);
  __builtin_va_end(ap);
}

// isa-debug-exit (QEMU: -device isa-debug-exit,iobase=0xf4,iosize=4):
// status 0 = success. If no such device, just halt forever.
void machine_exit(u32 status) {
  cli();
  outl(0xf4, status);
  for (;;) hlt();
}

void panic(const char *msg) {
  cli();
  kprintf("panic: %s\n", msg);
  machine_exit(3);
}
