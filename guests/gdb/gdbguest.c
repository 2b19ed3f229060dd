// gdbguest.c -- the guest the gdb tests debug (built with -g -O0, so gdb sees its functions and variables):
// turns paging on with a page mapped at a virtual address that is not its physical one (WINDOW), fills it
// with a pattern, calls tick() ten times (counter = 55), prints the result and exits through isa-debug-exit
// with 0 (status 1). test/gdb.test.ts breaks in tick, reads WINDOW, steps, watches counter.
typedef unsigned int u32;
typedef unsigned char u8;

#define WINDOW 0x40000000u
#define COM1 0x3f8

static inline void outb(unsigned short port, u8 v) { __asm__ volatile("outb %0,%1" :: "a"(v), "Nd"(port)); }

u32 page_dir[1024] __attribute__((aligned(4096)));
u32 low_table[1024] __attribute__((aligned(4096)));
u32 window_table[1024] __attribute__((aligned(4096)));
u32 window_page[1024] __attribute__((aligned(4096)));
volatile u32 counter;

static void puts(const char *s) { while (*s) outb(COM1, (u8)*s++); }
static void putdec(u32 v) {
  char b[12]; int n = 0;
  do { b[n++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (n) outb(COM1, (u8)b[--n]);
}

void tick(u32 step) {
  counter = counter + step;
}

static void paging_on(void) {
  for (u32 i = 0; i < 1024; i++) low_table[i] = (i << 12) | 3;   // identity 0..4 MiB
  window_table[0] = (u32)window_page | 3;                         // WINDOW -> window_page
  page_dir[0] = (u32)low_table | 3;
  page_dir[WINDOW >> 22] = (u32)window_table | 3;
  __asm__ volatile("mov %0,%%cr3" :: "r"(page_dir));
  u32 cr0;
  __asm__ volatile("mov %%cr0,%0" : "=r"(cr0));
  __asm__ volatile("mov %0,%%cr0" :: "r"(cr0 | 0x80000000u));
}

void kmain(void) {
  paging_on();
  volatile u32 *w = (volatile u32 *)WINDOW;
  for (u32 i = 0; i < 8; i++) w[i] = 0x11111111u * (i + 1);
  for (u32 i = 1; i <= 10; i++) tick(i);
  puts("gdb guest: counter=");
  putdec(counter);
  puts("\n");
  outb(0xf4, 0); // isa-debug-exit: status 1
  for (;;) __asm__ volatile("hlt");
}
