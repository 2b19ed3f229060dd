// ctxsw -- context switches between two processes: (1) both just yield,
// (2) ping-pong a word through two pipes. First, a check that the timer
// preempts a process that never gives up the CPU.
#include "user.h"

int main(void) {
  u32 n = getarg("iters", 10000);
  wl_begin("ctxsw", n);
  int st = -1;

  // (0) preemption: the parent spins (no blocking) for 2 timer ticks; the
  // child reports the tick at which it first ran. Without preemption it
  // could only run once the parent blocks, after the spin.
  int pp[2];
  wl_check(pipe(pp) == 0, "pipe");
  u32 start = uptime();
  int pid = fork();
  if (pid == 0) {
    u32 t = uptime();
    write(pp[1], &t, 4);
    exit(0);
  }
  u32 k = 0;
  while (uptime() < start + 2 && k < 2000000) k++;  // bounded, should the timer be dead
  u32 end = uptime(), child_tick = ~0u;
  wl_check(read(pp[0], &child_tick, 4) == 4 && wait(&st) == pid, "preempt child");
  wl_check(end >= start + 2, "timer ticks");
  wl_check(child_tick < end, "preemption");
  wl_value("preempted", child_tick < end, "bool");
  close(pp[0]);
  close(pp[1]);

  // (1) yield ping-pong
  pid = fork();
  if (pid == 0) {
    for (u32 i = 0; i < n; i++) yield();
    exit(7);
  }
  wl_check(pid > 0, "fork");
  u64 t0 = rdtsc();
  for (u32 i = 0; i < n; i++) yield();
  u64 t1 = rdtsc();
  wl_check(wait(&st) == pid && st == 7, "yield child exit");
  wl_time("ctxsw_yield", t1 - t0, 2 * n, "cycles/switch");

  // (2) pipe ping-pong: parent sends i, child answers i*3+1
  int to_child[2], to_parent[2];
  wl_check(pipe(to_child) == 0 && pipe(to_parent) == 0, "pipe");
  pid = fork();
  if (pid == 0) {
    close(to_child[1]);
    close(to_parent[0]);
    u32 v;
    while (read(to_child[0], &v, 4) == 4) {
      v = v * 3 + 1;
      write(to_parent[1], &v, 4);
    }
    exit(0);
  }
  close(to_child[0]);
  close(to_parent[1]);
  u32 sum = 0, bad = 0;
  u64 t2 = rdtsc();
  for (u32 i = 0; i < n; i++) {
    u32 v = i;
    write(to_child[1], &v, 4);
    if (read(to_parent[0], &v, 4) != 4 || v != i * 3 + 1) bad++;
    sum += v;
  }
  u64 t3 = rdtsc();
  close(to_child[1]);  // child sees EOF and exits
  wl_check(wait(&st) == pid && st == 0, "pipe child exit");
  wl_check(read(to_parent[0], &st, 4) == 0, "pipe EOF");
  wl_time("ctxsw_pipe", t3 - t2, 2 * n, "cycles/switch");
  wl_value("roundtrips", n, "count");
  wl_hex("pipe_sum", sum);
  wl_check(bad == 0, "pipe replies");
  return wl_end();
}
