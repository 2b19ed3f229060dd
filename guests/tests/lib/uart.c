// uart.c -- COM1 output by polling (no interrupts), a tiny printf, and the exit.
#include "lib.h"

#define COM1 0x3f8
#define LSR  (COM1 + 5)
#define LSR_THRE 0x20   /* transmit holding register empty */

void putc(int c) {
  while (!(inb(LSR) & LSR_THRE))
    ;
  outb(COM1, (u8)c);
}

void puts(const char *s) { while (*s) putc(*s++); }

void putnum(u32 v, int base, int width) {
  char buf[12]; int n = 0;
  do { buf[n++] = "0123456789abcdef"[v % base]; v /= base; } while (v);
  while (n < width) buf[n++] = '0';
  while (n) putc(buf[--n]);
}

void printf(const char *fmt, ...) {
  u32 *ap = (u32 *)&fmt + 1;           // cdecl: arguments follow fmt on the stack
  for (; *fmt; fmt++) {
    if (*fmt != '%') { putc(*fmt); continue; }
    int width = 0;
    fmt++;
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    switch (*fmt) {
    case 's': puts((const char *)*ap++); break;
    case 'c': putc((int)*ap++); break;
    case 'd': putnum(*ap++, 10, width); break;
    case 'x': putnum(*ap++, 16, width); break;
    default: putc(*fmt);
    }
  }
}

// isa-debug-exit at 0xf4: QEMU exits with status (value << 1) | 1.
void exit_qemu(int fail) {
  outb(0xf4, fail ? 1 : 0);
  for (;;) asm volatile("cli; hlt");
}
