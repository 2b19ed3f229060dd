// multiboot.c -- read what the multiboot v1 loader tells us.
//
// multiboot info (ebx):        memory map entry (mmap_addr):
//   +0  flags                    -4  size (of the rest of the entry)
//   +4  mem_lower (KiB)          +0  base (u64)
//   +8  mem_upper (KiB above 1M) +8  length (u64)
//   +16 cmdline  (flags bit 2)   +16 type (1 = usable RAM)
//   +44 mmap_length, +48 mmap_addr (flags bit 6)
//
// Everything we need is copied out before the page allocator starts,
// because the loader may have put these structures just past our bss.
#include "kit.h"

#define MB_BOOT_MAGIC 0x2BADB002

char boot_cmdline[256];

struct mb_info {
  u32 flags, mem_lower, mem_upper, boot_device, cmdline;
  u32 mods_count, mods_addr, syms[4], mmap_length, mmap_addr;
};

struct mb_mmap {
  u32 size;
  u32 base_lo, base_hi, len_lo, len_hi;
  u32 type;
} __attribute__((packed));

void multiboot_parse(u32 magic, u32 info, u32 *mem_top) {
  struct mb_info *mb = (struct mb_info *)info;
  u32 top = 0x100000 + 4 * 1024 * 1024;  // assume 5 MiB if told nothing
  if (magic != MB_BOOT_MAGIC) panic("not booted by a multiboot loader");
  if (mb->flags & 1) top = 0x100000 + mb->mem_upper * 1024;
  if (mb->flags & (1 << 6)) {
    // the usable region that starts at 1 MiB bounds the RAM we use
    u32 a = mb->mmap_addr;
    while (a < mb->mmap_addr + mb->mmap_length) {
      struct mb_mmap *e = (struct mb_mmap *)a;
      if (e->type == 1 && e->base_hi == 0 && e->base_lo <= 0x100000 &&
          (e->len_hi || e->base_lo + e->len_lo > 0x100000)) {
        u64 end = ((u64)e->base_lo) + (((u64)e->len_hi << 32) | e->len_lo);
        top = end > KERN_LIMIT ? KERN_LIMIT : (u32)end;
      }
      a += e->size + 4;
    }
  }
  if (top > KERN_LIMIT) top = KERN_LIMIT;
  *mem_top = PGROUNDDOWN(top);
  boot_cmdline[0] = 0;
  if (mb->flags & (1 << 2)) {
    const char *s = (const char *)mb->cmdline;
    u32 i = 0;
    while (s[i] && i < sizeof(boot_cmdline) - 1) {
      boot_cmdline[i] = s[i];
      i++;
    }
    boot_cmdline[i] = 0;
  }
}
