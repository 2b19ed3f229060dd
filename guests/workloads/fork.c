// fork -- fork + exit + wait, N times. Fork copies the whole address space
// (eagerly), so the parent keeps a 64 KiB heap to make the copy real.
#include "user.h"

#define HEAP_PAGES 16

int main(void) {
  u32 n = getarg("iters", 1000);
  wl_begin("fork", n);
  u32 *heap = sbrk(HEAP_PAGES * 4096);
  for (u32 i = 0; i < HEAP_PAGES * 1024; i++) heap[i] = i ^ 0x5a5a5a5a;
  u32 status_sum = 0, bad = 0;
  u64 t0 = rdtsc();
  for (u32 i = 0; i < n; i++) {
    int pid = fork();
    if (pid == 0) {
      // the child sees a private copy of the heap
      u32 k = (i * 97) % (HEAP_PAGES * 1024);
      int ok = heap[k] == (k ^ 0x5a5a5a5a);
      heap[k] = 0;  // must not be visible to the parent
      exit(ok ? (int)(i & 0x7f) : 255);
    }
    int st = -1;
    if (pid < 0 || wait(&st) != pid || st != (int)(i & 0x7f)) bad++;
    status_sum += st;
  }
  u64 t1 = rdtsc();
  wl_time("fork_exit_wait", t1 - t0, n, "cycles/op");
  u32 intact = 1;
  for (u32 i = 0; i < HEAP_PAGES * 1024; i++)
    if (heap[i] != (i ^ 0x5a5a5a5a)) intact = 0;
  int st;
  wl_value("status_sum", status_sum, "sum");
  wl_check(bad == 0, "child status");
  wl_check(intact, "parent heap intact");
  wl_check(wait(&st) == -1, "no children left");
  return wl_end();
}
