// page_fault -- demand paging: grow the heap with sbrk, then touch each
// fresh page once; every touch is a #PF the kernel fills with a zero page.
#include "user.h"

#define PG 4096

int main(void) {
  u32 n = getarg("iters", 4096);  // pages
  wl_begin("page_fault", n);
  u8 *base = sbrk(n * PG);
  wl_check(base != (u8 *)-1, "sbrk");
  if (base == (u8 *)-1) return wl_end();
  u64 t0 = rdtsc();
  for (u32 i = 0; i < n; i++) *(u32 *)(base + i * PG) = i * 2654435761u;
  u64 t1 = rdtsc();
  wl_time("page_fault", t1 - t0, n, "cycles/fault");
  // second pass: the pages are mapped now, no faults
  u64 t2 = rdtsc();
  for (u32 i = 0; i < n; i++) *(u32 *)(base + i * PG + 64) = i;
  u64 t3 = rdtsc();
  wl_time("page_touch_mapped", t3 - t2, n, "cycles/page");
  u32 sum = 0, zero_ok = 1;
  for (u32 i = 0; i < n; i++) {
    u32 *w = (u32 *)(base + i * PG);
    sum = sum * 31 + w[0] + w[16];
    if (w[1] != 0 || w[PG / 4 - 1] != 0) zero_ok = 0;
  }
  wl_value("pages", n, "pages");
  wl_hex("checksum", sum);
  wl_check(zero_ok, "fresh pages are zero");
  wl_check(sbrk(-(int)(n * PG)) == base + n * PG && sbrk(0) == base, "sbrk shrink");
  // the freed range can be grown and faulted in again
  u8 *again = sbrk(PG);
  wl_check(again == base && again[5] == 0, "regrow");
  return wl_end();
}
