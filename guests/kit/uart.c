// uart.c -- 16550 on COM1 (0x3f8), polled output.
#include "kit.h"

#define COM1 0x3f8
// registers: +0 data / divisor lo, +1 IER / divisor hi, +2 FCR, +3 LCR,
//            +4 MCR, +5 LSR (bit 5: transmit holding register empty)

void uart_init(void) {
  outb(COM1 + 1, 0x00);  // no interrupts
  outb(COM1 + 3, 0x80);  // DLAB on
  outb(COM1 + 0, 0x01);  // 115200 baud
  outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x03);  // 8N1, DLAB off
  outb(COM1 + 2, 0x07);  // FIFO on, cleared
  outb(COM1 + 4, 0x03);  // DTR, RTS
}

void uart_putc(int c) {
  int spin = 100000;
  while (!(inb(COM1 + 5) & 0x20) && --spin)
    ;
  outb(COM1, (u8)c);
}
