// disk -- write N KiB to the ATA disk (primary master) through system
// calls, read it back, verify. Needs a raw disk image of at least N KiB.
#include "user.h"

#define CHUNK 8  // sectors per request (4 KiB)

static u8 buf[CHUNK * 512];

static void fill(u32 lba, u8 *p) {
  u32 x = lba * 2654435761u + 12345;
  for (u32 i = 0; i < CHUNK * 512; i++) {
    x = x * 1103515245 + 12345;
    p[i] = x >> 16;
  }
}

int main(void) {
  u32 kib = getarg("iters", 1024);
  kib = (kib + 3) & ~3u;  // whole chunks
  wl_begin("disk", kib);
  u32 sectors = kib * 2;
  int have = disk_size();
  if (have < 0) {
    printf("disk: no disk found (attach a raw image as the primary master)\n");
    wl_check(0, "disk present");
    wl_end();
    return 2;
  }
  if ((u32)have < sectors) {
    printf("disk: disk too small: %u sectors, need %u\n", have, sectors);
    wl_check(0, "disk size");
    wl_end();
    return 2;
  }
  u32 wcrc = 0, rcrc = 0, bad = 0;
  u64 t0 = rdtsc();
  for (u32 lba = 0; lba < sectors; lba += CHUNK) {
    fill(lba, buf);
    wcrc = crc32(wcrc, buf, sizeof(buf));
    if (disk_write(lba, buf, CHUNK) != 0) bad++;
  }
  u64 t1 = rdtsc();
  static u8 want[CHUNK * 512];
  u64 tread = 0;
  for (u32 lba = 0; lba < sectors; lba += CHUNK) {
    memset(buf, 0, sizeof(buf));
    u64 a = rdtsc();
    if (disk_read(lba, buf, CHUNK) != 0) bad++;
    tread += rdtsc() - a;
    rcrc = crc32(rcrc, buf, sizeof(buf));
    fill(lba, want);
    if (memcmp(buf, want, sizeof(buf))) bad++;
  }
  wl_time("disk_write", t1 - t0, kib, "cycles/KiB");
  wl_time("disk_read", tread, kib, "cycles/KiB");
  wl_value("kib", kib, "KiB");
  wl_hex("write_crc", wcrc);
  wl_hex("read_crc", rcrc);
  wl_check(bad == 0 && wcrc == rcrc, "read back matches");
  wl_check(disk_read(have, buf, 1) != 0, "read past end refused");
  return wl_end();
}
