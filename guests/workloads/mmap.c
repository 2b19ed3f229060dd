// mmap -- map/touch/unmap churn: every iteration maps 4 anonymous pages
// (PTE writes), touches them, and unmaps them (PTE clears + invlpg).
#include "user.h"

#define PAGES 4
#define AREA ((u8 *)0x80000000)

int main(void) {
  u32 n = getarg("iters", 10000);
  wl_begin("mmap", n);
  u32 sum = 0, bad = 0;
  u64 t0 = rdtsc();
  for (u32 i = 0; i < n; i++) {
    u8 *a = AREA + (i % 8) * PAGES * 4096;
    if (map(a, PAGES * 4096) != 0) {
      bad++;
      continue;
    }
    for (u32 p = 0; p < PAGES; p++) {
      u32 *w = (u32 *)(a + p * 4096);
      if (w[0] != 0 || w[1023] != 0) bad++;  // fresh pages are zero
      w[0] = i + p;
      w[1023] = ~(i + p);
      sum += w[0] ^ w[1023];
    }
    if (unmap(a, PAGES * 4096) != 0) bad++;
  }
  u64 t1 = rdtsc();
  wl_time("mmap_churn", t1 - t0, n, "cycles/iter");
  // mapping twice fails; unmapping what is not mapped is fine
  wl_check(map(AREA, 4096) == 0 && map(AREA, 4096) != 0, "double map refused");
  wl_check(unmap(AREA, 8192) == 0, "unmap");
  wl_value("pages_mapped", n * PAGES, "pages");
  wl_hex("checksum", sum);
  wl_check(bad == 0, "map/zero/unmap");
  return wl_end();
}
