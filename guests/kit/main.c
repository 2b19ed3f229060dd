// main.c -- boot: console, multiboot info, descriptors, interrupts, memory,
// paging, devices, then the first user process.
#include "kit.h"

extern u8 _end[];
extern const u8 user_image[], user_image_end[];  // blob.S (one per workload)

void kmain(u32 magic, u32 info) {
  u32 mem_top;
  restore_flags(0);  // IF=0, DF=0: a known EFLAGS
  uart_init();
  multiboot_parse(magic, info, &mem_top);
  gdt_init();
  idt_init();
  pic_init();
  kalloc_init((u32)_end, mem_top);
  vm_init(mem_top);
  ata_init();
  pit_init(100);
  user_init(user_image, user_image_end - user_image);
}
