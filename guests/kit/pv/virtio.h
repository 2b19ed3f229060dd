// virtio.h (para) -- a minimal virtio 1.x driver over virtio-mmio v2: split
// virtqueues, polled (VIRTQ_AVAIL_F_NO_INTERRUPT: the VMM completes requests
// during the doorbell write, so the used ring is ready when it returns).
#ifndef KIT_PV_VIRTIO_H
#define KIT_PV_VIRTIO_H
#include "kit.h"

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4

struct vdesc {
  u64 addr;
  u32 len;
  u16 flags, next;
};

struct vq {
  u32 size;
  volatile struct vdesc *desc;
  volatile u16 *avail;  // flags, idx, ring[size], used_event
  volatile u32 *used;   // (flags | idx << 16), {id, len}[size], avail_event
  u16 avail_idx, last_used;
  u32 qi;
  volatile u32 *regs;
};

volatile u32 *virtio_probe(int slot, u32 device_id);
// Status handshake and features (VERSION_1 | wanted); 0 on success.
int virtio_start(volatile u32 *regs, u32 wanted_lo);
// Queue qi with `size` entries in one 4 KiB page `mem` (page-aligned).
int virtio_queue(struct vq *q, volatile u32 *regs, u32 qi, u32 size, void *mem);
void virtio_ready(volatile u32 *regs);
// Publishes head (without kicking); virtio_kick rings the doorbell once.
void vq_publish(struct vq *q, u16 head);
void vq_kick(struct vq *q);
// Takes one used entry; -1 if none.
int vq_used(struct vq *q, u32 *len);
// Guest-physical address of a kernel or current-process virtual address.
u32 virt_to_phys(u32 va);
#endif
