// virtio.c (para) -- see virtio.h.
#include "virtio.h"

#define R_MAGIC 0x00
#define R_VERSION 0x04
#define R_DEVICE_ID 0x08
#define R_DEV_FEATURES 0x10
#define R_DEV_FEATURES_SEL 0x14
#define R_DRV_FEATURES 0x20
#define R_DRV_FEATURES_SEL 0x24
#define R_QUEUE_SEL 0x30
#define R_QUEUE_NUM_MAX 0x34
#define R_QUEUE_NUM 0x38
#define R_QUEUE_READY 0x44
#define R_QUEUE_NOTIFY 0x50
#define R_STATUS 0x70
#define R_DESC_LO 0x80
#define R_DESC_HI 0x84
#define R_DRIVER_LO 0x90
#define R_DRIVER_HI 0x94
#define R_DEVICE_LO 0xa0
#define R_DEVICE_HI 0xa4
#define REG(r, off) ((r)[(off) / 4])

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8

volatile u32 *virtio_probe(int slot, u32 device_id) {
  volatile u32 *r = (volatile u32 *)(PV_MMIO_VA + 0x200 * slot);
  if ((u32)slot >= PV_SHARED->virtio_count) return NULL;
  if (REG(r, R_MAGIC) != 0x74726976 || REG(r, R_VERSION) != 2 || REG(r, R_DEVICE_ID) != device_id) return NULL;
  return r;
}

int virtio_start(volatile u32 *r, u32 wanted_lo) {
  REG(r, R_STATUS) = 0;
  REG(r, R_STATUS) = S_ACK;
  REG(r, R_STATUS) = S_ACK | S_DRIVER;
  REG(r, R_DEV_FEATURES_SEL) = 0;
  u32 lo = REG(r, R_DEV_FEATURES) & wanted_lo;
  REG(r, R_DRV_FEATURES_SEL) = 0;
  REG(r, R_DRV_FEATURES) = lo;
  REG(r, R_DRV_FEATURES_SEL) = 1;
  REG(r, R_DRV_FEATURES) = 1;  // VIRTIO_F_VERSION_1 (bit 32)
  REG(r, R_STATUS) = S_ACK | S_DRIVER | S_FEATURES_OK;
  return (REG(r, R_STATUS) & S_FEATURES_OK) ? 0 : -1;
}

int virtio_queue(struct vq *q, volatile u32 *r, u32 qi, u32 size, void *mem) {
  REG(r, R_QUEUE_SEL) = qi;
  if (REG(r, R_QUEUE_NUM_MAX) < size) return -1;
  // one page: descriptors (16 * size), avail (4 + 2 * size + 2), used at +2048 (4 + 8 * size + 2)
  if (16 * size + 6 + 2 * size > 2048 || 6 + 8 * size > 2048) return -1;
  memset(mem, 0, PGSIZE);
  q->size = size;
  q->desc = (volatile struct vdesc *)mem;
  q->avail = (volatile u16 *)((u8 *)mem + 16 * size);
  q->used = (volatile u32 *)((u8 *)mem + 2048);
  q->avail_idx = q->last_used = 0;
  q->qi = qi;
  q->regs = r;
  q->avail[0] = 1;  // VIRTQ_AVAIL_F_NO_INTERRUPT: we poll
  REG(r, R_QUEUE_NUM) = size;
  REG(r, R_DESC_LO) = (u32)q->desc;
  REG(r, R_DESC_HI) = 0;
  REG(r, R_DRIVER_LO) = (u32)q->avail;
  REG(r, R_DRIVER_HI) = 0;
  REG(r, R_DEVICE_LO) = (u32)q->used;
  REG(r, R_DEVICE_HI) = 0;
  REG(r, R_QUEUE_READY) = 1;
  return REG(r, R_QUEUE_READY) ? 0 : -1;
}

void virtio_ready(volatile u32 *r) { REG(r, R_STATUS) = REG(r, R_STATUS) | S_DRIVER_OK; }

void vq_publish(struct vq *q, u16 head) {
  q->avail[2 + q->avail_idx % q->size] = head;
  __asm__ volatile("" ::: "memory");
  q->avail_idx++;
  q->avail[1] = q->avail_idx;
}

void vq_kick(struct vq *q) {
  __asm__ volatile("" ::: "memory");
  REG(q->regs, R_QUEUE_NOTIFY) = q->qi;  // the one exit per batch
}

int vq_used(struct vq *q, u32 *len) {
  u16 idx = q->used[0] >> 16;
  if (idx == q->last_used) return -1;
  __asm__ volatile("" ::: "memory");
  volatile u32 *e = &q->used[1 + 2 * (q->last_used % q->size)];
  q->last_used++;
  if (len) *len = e[1];
  return e[0];
}

u32 virt_to_phys(u32 va) {
  if (va < USER_BASE) return va;  // the kernel's identity map
  u32 *pte = walk((u32 *)pv_cr3, va, 0);
  if (!pte || !(*pte & PTE_P)) return 0;
  return PTE_ADDR(*pte) | (va & (PGSIZE - 1));
}
