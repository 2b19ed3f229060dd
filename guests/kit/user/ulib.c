// ulib.c -- a tiny libc for user programs.
#include "user.h"

void exit(int status) {
  sys3(SYS_exit, status, 0, 0);
  for (;;)
    ;
}

// rep stosb / rep movsb (also keeps gcc from turning a loop into a call
// to the very function it is compiling)
void *memset(void *d, int c, u32 n) {
  void *p = d;
  __asm__ volatile("cld; rep stosb" : "+D"(p), "+c"(n) : "a"(c) : "memory");
  return d;
}

void *memcpy(void *d, const void *s, u32 n) {
  void *p = d;
  __asm__ volatile("cld; rep movsb" : "+D"(p), "+S"(s), "+c"(n) : : "memory");
  return d;
}

int memcmp(const void *a, const void *b, u32 n) {
  const u8 *p = a, *q = b;
  for (; n; n--, p++, q++)
    if (*p != *q) return *p - *q;
  return 0;
}

u32 strlen(const char *s) {
  u32 n = 0;
  while (s[n]) n++;
  return n;
}

// 64/32 -> 64 with two divl (the high quotient part first).
u64 udiv64(u64 n, u32 d) {
  u32 hi = n >> 32, lo = (u32)n;
  u32 qhi = hi / d, r = hi % d, qlo;
  __asm__("divl %4" : "=a"(qlo), "=d"(r) : "a"(lo), "d"(r), "rm"(d));
  return ((u64)qhi << 32) | qlo;
}

static char obuf[256];
static u32 olen;

static void flush(void) {
  if (olen) write(1, obuf, olen);
  olen = 0;
}

static void put(char c) {
  if (olen == sizeof(obuf)) flush();
  obuf[olen++] = c;
}

static void putu64(u64 v, u32 base) {
  char buf[24];
  int i = 0;
  do {
    u64 q = udiv64(v, base);
    buf[i++] = "0123456789abcdef"[(u32)(v - q * base)];
    v = q;
  } while (v);
  while (i) put(buf[--i]);
}

void printf(const char *fmt, ...) {
  __builtin_va_list ap;
  __builtin_va_start(ap, fmt);
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      put(*fmt);
      continue;
    }
    fmt++;
    if (fmt[0] == 'l' && fmt[1] == 'l' && fmt[2] == 'u') {
      putu64(__builtin_va_arg(ap, u64), 10);
      fmt += 2;
      continue;
    }
    switch (*fmt) {
      case 'd': {
        i32 v = __builtin_va_arg(ap, i32);
        if (v < 0) {
          put('-');
          putu64((u32)-v, 10);
        } else
          putu64(v, 10);
        break;
      }
      case 'u': putu64(__builtin_va_arg(ap, u32), 10); break;
      case 'x': putu64(__builtin_va_arg(ap, u32), 16); break;
      case 's': {
        const char *s = __builtin_va_arg(ap, const char *);
        while (*s) put(*s++);
        break;
      }
      case 'c': put((char)__builtin_va_arg(ap, int)); break;
      default: put('%'); put(*fmt); break;
    }
  }
  __builtin_va_end(ap);
  flush();  // one write per printf: whole lines, never interleaved
}

// Find "name=<decimal>" as a word of the command line.
u32 getarg(const char *name, u32 dflt) {
  static char cl[256];
  u32 nl = strlen(name);
  if (cmdline(cl, sizeof(cl)) < 0) return dflt;
  for (char *p = cl; *p; p++) {
    if ((p != cl && p[-1] != ' ') || memcmp(p, name, nl) || p[nl] != '=') continue;
    char *q = p + nl + 1;
    if (*q < '0' || *q > '9') return dflt;
    u32 v = 0;
    while (*q >= '0' && *q <= '9') v = v * 10 + (*q++ - '0');
    return v;
  }
  return dflt;
}

// CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320), bitwise.
u32 crc32(u32 crc, const void *buf, u32 n) {
  const u8 *p = buf;
  crc = ~crc;
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc;
}

static int wl_failed;
static const char *wl_name;

void wl_begin(const char *workload, u32 iters) {
  wl_name = workload;
  printf("workload %s\n", workload);
  printf("iters %u count\n", iters);
}
void wl_value(const char *name, u32 value, const char *unit) { printf("%s %u %s\n", name, value, unit); }
void wl_hex(const char *name, u32 value) { printf("%s 0x%x hex\n", name, value); }
void wl_time(const char *name, u64 cycles, u32 ops, const char *unit) {
  printf("time %s %llu %s\n", name, udiv64(cycles, ops ? ops : 1), unit);
}
void wl_check(int ok, const char *what) {
  if (!ok) {
    printf("check %s FAIL\n", what);
    wl_failed = 1;
  }
}
int wl_end(void) {
  printf("status %s %s\n", wl_failed ? "FAIL" : "ok", wl_name);
  return wl_failed;
}
