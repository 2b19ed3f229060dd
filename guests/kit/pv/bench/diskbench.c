// diskbench -- the disk I/O benchmark behind host/para/bench-disk.mjs: write
// then read `kib` KiB in requests of `chunk` sectors (system calls disk_write /
// disk_read), verify, report. Built for the native kit (ATA PIO) and the PV
// kit (virtio-blk) by guests/workloads/build.sh into build/guests/bench/.
#include "user.h"

static u8 buf[256 * 512];

int main(void) {
  u32 chunk = getarg("chunk", 8), kib = getarg("kib", 1024);
  if (chunk < 1 || chunk > 256) chunk = 8;
  u32 sectors = kib * 2 / chunk * chunk, bad = 0;
  if (disk_size() < (int)sectors) {
    printf("diskbench: disk too small\n");
    return 2;
  }
  for (u32 lba = 0; lba < sectors; lba += chunk) {
    for (u32 i = 0; i < chunk * 512; i++) buf[i] = (u8)(lba + i);
    if (disk_write(lba, buf, chunk) != 0) bad++;
  }
  printf("diskbench: phase read\n");
  for (u32 lba = 0; lba < sectors; lba += chunk) {
    if (disk_read(lba, buf, chunk) != 0) bad++;
    for (u32 i = 0; i < chunk * 512; i++)
      if (buf[i] != (u8)(lba + i)) bad++;
  }
  printf("diskbench: chunk %u sectors, %u KiB, %u errors\n", chunk, sectors / 2, bad);
  return bad ? 1 : 0;
}
