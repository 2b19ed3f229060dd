// tlb_miss -- random reads over a working set larger than the TLB: almost every read misses, so its cost is the
// page walk (2 memory references natively and with shadow paging, up to 8 under nested paging: the 2-D walk of
// Bhargava et al., ASPLOS 2008). The working set is faulted in first (constant cost: it cancels in the bench's
// difference method). One iteration = READS reads at pseudo-random pages (an LCG), one word each.
#include "user.h"

#define PG 4096
#define READS 4096

static u32 lcg(u32 x) { return x * 1664525u + 1013904223u; }

int main(void) {
  u32 n = getarg("iters", 16);
  u32 pages = getarg("pages", 4096); // 16 MiB: 4x the reach of the CPU's 1024-entry TLB (a power of two)
  wl_begin("tlb_miss", n);
  wl_check(pages && !(pages & (pages - 1)), "pages is a power of two");
  u8 *base = sbrk(pages * PG);
  wl_check(base != (u8 *)-1, "sbrk");
  if (base == (u8 *)-1 || !pages || (pages & (pages - 1))) return wl_end();
  for (u32 i = 0; i < pages; i++) *(u32 *)(base + i * PG) = i * 2654435761u;
  u32 x = 12345, sum = 0;
  u64 t0 = rdtsc();
  for (u32 it = 0; it < n; it++) {
    for (u32 k = 0; k < READS; k++) {
      x = lcg(x);
      sum += *(volatile u32 *)(base + ((x >> 12) & (pages - 1)) * PG);
    }
  }
  u64 t1 = rdtsc();
  wl_time("tlb_miss", t1 - t0, n * READS, "cycles/read");
  // the same sequence without touching memory: every read returned its page's word
  u32 y = 12345, want = 0;
  for (u32 i = 0; i < n * READS; i++) { y = lcg(y); want += ((y >> 12) & (pages - 1)) * 2654435761u; }
  wl_value("pages", pages, "pages");
  wl_value("reads", n * READS, "reads");
  wl_hex("checksum", sum);
  wl_check(sum == want, "every read saw its page");
  return wl_end();
}
