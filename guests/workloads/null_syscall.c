// null_syscall -- cost of the cheapest system call (getpid) round trip.
#include "user.h"

int main(void) {
  u32 n = getarg("iters", 100000);
  wl_begin("null_syscall", n);
  u32 sum = 0;
  u64 t0 = rdtsc();
  for (u32 i = 0; i < n; i++) sum += getpid();
  u64 t1 = rdtsc();
  wl_time("null_syscall", t1 - t0, n, "cycles/op");
  wl_value("pid_sum", sum, "sum");
  wl_check(sum == n, "pid_sum");
  return wl_end();
}
