// user.h -- what a user program sees: system calls and a tiny libc.
#ifndef KIT_USER_H
#define KIT_USER_H
#include "types.h"
#include "syscall.h"

static inline int sys3(int n, u32 a, u32 b, u32 c) {
  int r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
  return r;
}

void exit(int status) __attribute__((noreturn));
static inline int write(int fd, const void *buf, u32 n) { return sys3(SYS_write, fd, (u32)buf, n); }
static inline int read(int fd, void *buf, u32 n) { return sys3(SYS_read, fd, (u32)buf, n); }
static inline int getpid(void) { return sys3(SYS_getpid, 0, 0, 0); }
static inline int yield(void) { return sys3(SYS_yield, 0, 0, 0); }
static inline int fork(void) { return sys3(SYS_fork, 0, 0, 0); }
static inline int wait(int *status) { return sys3(SYS_wait, (u32)status, 0, 0); }
static inline void *sbrk(int incr) { return (void *)sys3(SYS_sbrk, incr, 0, 0); }
static inline int map(void *addr, u32 len) { return sys3(SYS_map, (u32)addr, len, 0); }
static inline int unmap(void *addr, u32 len) { return sys3(SYS_unmap, (u32)addr, len, 0); }
static inline int disk_read(u32 lba, void *buf, u32 n) { return sys3(SYS_disk_read, lba, (u32)buf, n); }
static inline int disk_write(u32 lba, const void *buf, u32 n) {
  return sys3(SYS_disk_write, lba, (u32)buf, n);
}
static inline int disk_size(void) { return sys3(SYS_disk_size, 0, 0, 0); }
static inline int pipe(int fds[2]) { return sys3(SYS_pipe, (u32)fds, 0, 0); }
static inline int close(int fd) { return sys3(SYS_close, fd, 0, 0); }
static inline int cmdline(char *buf, u32 n) { return sys3(SYS_cmdline, (u32)buf, n, 0); }
static inline u32 uptime(void) { return sys3(SYS_uptime, 0, 0, 0); }

static inline u64 rdtsc(void) {
  u32 lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((u64)hi << 32) | lo;
}

// ulib.c
void *memset(void *d, int c, u32 n);
void *memcpy(void *d, const void *s, u32 n);
int memcmp(const void *a, const void *b, u32 n);
u32 strlen(const char *s);
void printf(const char *fmt, ...);  // %d %u %x %s %c %llu, to fd 1
u64 udiv64(u64 n, u32 d);           // no libgcc here: 64/32 division
u32 getarg(const char *name, u32 dflt);  // "name=<n>" from the command line
u32 crc32(u32 crc, const void *buf, u32 n);

// Workload reporting: every line is "name value unit". Lines starting with
// "time " carry measurements (non-deterministic); all others are exact.
void wl_begin(const char *workload, u32 iters);
void wl_value(const char *name, u32 value, const char *unit);
void wl_hex(const char *name, u32 value);
void wl_time(const char *name, u64 cycles, u32 ops, const char *unit);
void wl_check(int ok, const char *what);
int wl_end(void);  // prints "status ok"/"status FAIL"; returns the exit status
#endif
