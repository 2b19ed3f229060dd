// compute -- pure user-mode work: CRC-32, a prime sieve and a sort, each
// with a self-check against known answers.
#include "user.h"

#define CRC_BYTES 16384
#define SIEVE_N 65536  // pi(65536) = 6542
#define SORT_N 4096

static u8 data[CRC_BYTES];
static u8 composite[SIEVE_N];
static u32 arr[SORT_N];

static u32 sieve(void) {
  u32 count = 0;
  memset(composite, 0, sizeof(composite));
  for (u32 i = 2; i < SIEVE_N; i++) {
    if (composite[i]) continue;
    count++;
    for (u32 j = i * i; j < SIEVE_N; j += i) composite[j] = 1;
  }
  return count;
}

static void sift(u32 *a, u32 root, u32 n) {
  for (;;) {
    u32 c = 2 * root + 1;
    if (c >= n) return;
    if (c + 1 < n && a[c + 1] > a[c]) c++;
    if (a[root] >= a[c]) return;
    u32 t = a[root];
    a[root] = a[c];
    a[c] = t;
    root = c;
  }
}

static void heapsort(u32 *a, u32 n) {
  for (u32 i = n / 2; i-- > 0;) sift(a, i, n);
  for (u32 end = n - 1; end > 0; end--) {
    u32 t = a[0];
    a[0] = a[end];
    a[end] = t;
    sift(a, 0, end);
  }
}

int main(void) {
  u32 n = getarg("iters", 20);
  wl_begin("compute", n);
  wl_check(crc32(0, "123456789", 9) == 0xcbf43926, "crc32 reference");
  u32 x = 1;
  for (u32 i = 0; i < CRC_BYTES; i++) {
    x = x * 1664525 + 1013904223;
    data[i] = x >> 24;
  }

  u32 crc = 0;
  u64 t0 = rdtsc();
  for (u32 r = 0; r < n; r++) crc = crc32(crc, data, CRC_BYTES);
  u64 t1 = rdtsc();
  wl_time("crc32", t1 - t0, n * (CRC_BYTES / 1024), "cycles/KiB");
  wl_hex("crc32", crc);

  u32 primes = 0;
  t0 = rdtsc();
  for (u32 r = 0; r < n; r++) primes = sieve();
  t1 = rdtsc();
  wl_time("sieve", t1 - t0, n, "cycles/run");
  wl_value("primes_below_65536", primes, "primes");
  wl_check(primes == 6542, "sieve");

  u32 sorted_ok = 1, hash = 0;
  u64 tsort = 0;
  for (u32 r = 0; r < n; r++) {
    u32 sum_in = 0, sum_out = 0;
    for (u32 i = 0; i < SORT_N; i++) {
      x = x * 1664525 + 1013904223;
      arr[i] = x;
      sum_in += x;
    }
    u64 a = rdtsc();
    heapsort(arr, SORT_N);
    tsort += rdtsc() - a;
    for (u32 i = 0; i < SORT_N; i++) {
      sum_out += arr[i];
      if (i && arr[i - 1] > arr[i]) sorted_ok = 0;
      hash = hash * 31 + arr[i];
    }
    if (sum_in != sum_out) sorted_ok = 0;
  }
  wl_time("heapsort", tsort, n, "cycles/run");
  wl_hex("sort_hash", hash);
  wl_check(sorted_ok, "sorted");
  return wl_end();
}
