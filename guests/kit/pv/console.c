// console.c (para) -- replaces uart.c: kernel and user console output through
// virtio-console's transmitq, a line (or 1 KiB) per doorbell. Before the
// device is up, or if it fails, output goes through HC_CONSOLE_WRITE.
#include "virtio.h"

#define VIRTIO_ID_CONSOLE 3
#define TXQ 1
#define QSIZE 16
#define BUFSZ 1024

static struct vq txq;
static int ready;
static u8 qmem[PGSIZE] __attribute__((aligned(PGSIZE)));
static char buf[BUFSZ];
static u32 n;

void uart_init(void) {
  volatile u32 *r = virtio_probe(PV_SLOT_CONSOLE, VIRTIO_ID_CONSOLE);
  if (!r || virtio_start(r, 0) < 0 || virtio_queue(&txq, r, TXQ, QSIZE, qmem) < 0) return;
  virtio_ready(r);
  ready = 1;
}

void pv_console_flush(void) {
  if (!n) return;
  if (ready) {
    txq.desc[0].addr = (u32)buf;
    txq.desc[0].len = n;
    txq.desc[0].flags = 0;
    vq_publish(&txq, 0);
    vq_kick(&txq);
    if (vq_used(&txq, NULL) >= 0) {
      n = 0;
      return;
    }
    ready = 0;  // the device is broken: fall back
  }
  hypercall(HC_CONSOLE_WRITE, (u32)buf, n, 0);
  n = 0;
}

void uart_putc(int c) {
  u32 fl = irq_save();
  buf[n++] = (char)c;
  if (c == '\n' || n == BUFSZ) pv_console_flush();
  irq_restore(fl);
}
