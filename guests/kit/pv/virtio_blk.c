// virtio_blk.c (para) -- replaces ata.c behind the same interface (ata_init,
// ata_read, ata_write, ata_sectors): one request = one indirect descriptor
// table {header, data pages..., status}; a write is followed by a flush, both
// published before the single doorbell write.
#include "virtio.h"

#define VIRTIO_ID_BLOCK 2
#define F_INDIRECT (1u << 28)
#define QSIZE 8
#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define MAXSEG (256 * 512 / PGSIZE + 3)

struct blk_req {
  u32 type, reserved;
  u64 sector;
};

int ata_sectors = -1;
static struct vq q;
static u8 qmem[PGSIZE] __attribute__((aligned(PGSIZE)));
static struct vdesc tbl[2][MAXSEG] __attribute__((aligned(16)));
static struct blk_req hdr[2];
static volatile u8 status[2];

int ata_init(void) {
  volatile u32 *r = virtio_probe(PV_SLOT_BLK, VIRTIO_ID_BLOCK);
  if (!r || virtio_start(r, F_INDIRECT) < 0 || virtio_queue(&q, r, 0, QSIZE, qmem) < 0) return -1;
  virtio_ready(r);
  u32 cap_lo = r[0x100 / 4], cap_hi = r[0x104 / 4];
  ata_sectors = cap_hi || cap_lo > 0x7fffffff ? 0x7fffffff : (int)cap_lo;
  if (ata_sectors <= 0) ata_sectors = -1;
  return ata_sectors;
}

static int check(u32 lba, u32 n) {
  return ata_sectors > 0 && n >= 1 && n <= 256 && lba < (u32)ata_sectors && n <= (u32)ata_sectors - lba ? 0 : -1;
}

// Builds request k in descriptor slot k; returns 0 or -1 (unmapped buffer).
static int build(int k, u32 type, u32 lba, u32 buf, u32 bytes) {
  struct vdesc *t = tbl[k];
  u32 i = 0;
  hdr[k].type = type;
  hdr[k].reserved = 0;
  hdr[k].sector = lba;
  status[k] = 0xff;
  t[i] = (struct vdesc){(u32)&hdr[k], sizeof(hdr[k]), VIRTQ_DESC_F_NEXT, i + 1};
  i++;
  for (u32 off = 0; off < bytes;) {
    u32 va = buf + off, pa = virt_to_phys(va);
    u32 len = PGSIZE - (va & (PGSIZE - 1));
    if (len > bytes - off) len = bytes - off;
    if (!pa) return -1;
    t[i] = (struct vdesc){pa, len, (u16)(VIRTQ_DESC_F_NEXT | (type == T_IN ? VIRTQ_DESC_F_WRITE : 0)), (u16)(i + 1)};
    i++;
    off += len;
  }
  t[i] = (struct vdesc){(u32)&status[k], 1, VIRTQ_DESC_F_WRITE, 0};
  i++;
  q.desc[k] = (struct vdesc){(u32)t, i * sizeof(struct vdesc), VIRTQ_DESC_F_INDIRECT, 0};
  vq_publish(&q, k);
  return 0;
}

static int complete(int nreq) {
  int ok = 0;
  for (int i = 0; i < nreq; i++) {
    int id = vq_used(&q, NULL);
    if (id < 0 || id >= 2 || status[id] != 0) ok = -1;
  }
  return ok;
}

int ata_read(u32 lba, void *buf, u32 n) {
  if (check(lba, n) < 0) return -1;
  u32 fl = irq_save();
  int r = build(0, T_IN, lba, (u32)buf, n * 512);
  if (r == 0) {
    vq_kick(&q);
    r = complete(1);
  }
  irq_restore(fl);
  return r;
}

int ata_write(u32 lba, const void *buf, u32 n) {
  if (check(lba, n) < 0) return -1;
  u32 fl = irq_save();
  int r = build(0, T_OUT, lba, (u32)buf, n * 512);
  if (r == 0 && (r = build(1, T_FLUSH, 0, 0, 0)) == 0) {
    vq_kick(&q);  // write + flush: one doorbell
    r = complete(2);
  }
  irq_restore(fl);
  return r;
}
