// ata.c -- ATA PIO, primary channel master only, LBA28, polled
// (the drive's interrupt is disabled with nIEN; IRQ 14 stays masked).
//
//   0x1f0 data (16-bit)   0x1f1 error     0x1f2 sector count
//   0x1f3 lba 7..0        0x1f4 lba 15..8 0x1f5 lba 23..16
//   0x1f6 1 L 1 DRV lba 27..24            0x1f7 status / command
//   0x3f6 alt status / device control (bit 1 nIEN)
#include "kit.h"

#define ATA_DATA 0x1f0
#define ATA_COUNT 0x1f2
#define ATA_LBA0 0x1f3
#define ATA_LBA1 0x1f4
#define ATA_LBA2 0x1f5
#define ATA_DRIVE 0x1f6
#define ATA_CMD 0x1f7  // status on read
#define ATA_CTRL 0x3f6

#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_DF 0x20
#define ST_BSY 0x80

#define CMD_READ 0x20
#define CMD_WRITE 0x30
#define CMD_FLUSH 0xe7
#define CMD_IDENTIFY 0xec

int ata_sectors = -1;

static void delay400(void) {
  for (int i = 0; i < 4; i++) inb(ATA_CTRL);
}

// wait for BSY clear; -1 on error/fault or timeout
static int wait_ready(void) {
  for (u32 i = 0; i < 10000000; i++) {
    u8 s = inb(ATA_CMD);
    if (s & ST_BSY) continue;
    if (s & (ST_ERR | ST_DF)) return -1;
    return s;
  }
  return -1;
}

static int wait_drq(void) {
  int s = wait_ready();
  if (s < 0 || !(s & ST_DRQ)) return -1;
  return 0;
}

int ata_init(void) {
  u16 id[256];
  outb(ATA_CTRL, 0x02);  // nIEN: polled
  u8 s = inb(ATA_CMD);
  if (s == 0xff) return -1;  // floating bus: no controller
  outb(ATA_DRIVE, 0xa0);     // select master
  delay400();
  outb(ATA_COUNT, 0);
  outb(ATA_LBA0, 0);
  outb(ATA_LBA1, 0);
  outb(ATA_LBA2, 0);
  outb(ATA_CMD, CMD_IDENTIFY);
  delay400();
  if (inb(ATA_CMD) == 0) return -1;  // no drive
  for (u32 i = 0; i < 1000000; i++) {
    s = inb(ATA_CMD);
    if (!(s & ST_BSY)) break;
  }
  if (s & ST_BSY) return -1;
  if (inb(ATA_LBA1) || inb(ATA_LBA2)) return -1;  // ATAPI / SATA, not ours
  if (wait_drq() < 0) return -1;
  insw(ATA_DATA, id, 256);
  ata_sectors = id[60] | ((u32)id[61] << 16);
  if (ata_sectors <= 0) ata_sectors = -1;
  return ata_sectors;
}

static void ata_cmd(u32 lba, u32 n, u8 cmd) {
  outb(ATA_DRIVE, 0xe0 | ((lba >> 24) & 0x0f));
  outb(ATA_COUNT, (u8)n);  // 0 means 256
  outb(ATA_LBA0, lba & 0xff);
  outb(ATA_LBA1, (lba >> 8) & 0xff);
  outb(ATA_LBA2, (lba >> 16) & 0xff);
  outb(ATA_CMD, cmd);
}

static int check(u32 lba, u32 n) {
  return ata_sectors > 0 && n >= 1 && n <= 256 && lba < (u32)ata_sectors &&
                 n <= (u32)ata_sectors - lba
             ? 0
             : -1;
}

int ata_read(u32 lba, void *buf, u32 n) {
  if (check(lba, n) < 0 || wait_ready() < 0) return -1;
  ata_cmd(lba, n, CMD_READ);
  for (u32 i = 0; i < n; i++) {
    delay400();
    if (wait_drq() < 0) return -1;
    insw(ATA_DATA, (u8 *)buf + i * 512, 256);
  }
  return 0;
}

int ata_write(u32 lba, const void *buf, u32 n) {
  if (check(lba, n) < 0 || wait_ready() < 0) return -1;
  ata_cmd(lba, n, CMD_WRITE);
  for (u32 i = 0; i < n; i++) {
    delay400();
    if (wait_drq() < 0) return -1;
    outsw(ATA_DATA, (const u8 *)buf + i * 512, 256);
  }
  delay400();
  if (wait_ready() < 0) return -1;
  outb(ATA_CMD, CMD_FLUSH);
  delay400();
  return wait_ready() < 0 ? -1 : 0;
}
