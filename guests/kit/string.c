// string.c -- the few string routines the kernel needs (gcc may also emit
// calls to memset/memcpy on its own).
#include "kit.h"

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

u32 strlen(const char *s) {
  u32 n = 0;
  while (s[n]) n++;
  return n;
}
