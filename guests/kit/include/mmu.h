// mmu.h -- segments, paging and the address-space layout.
//
// Every page directory maps the kernel (identity map of physical RAM,
// supervisor-only, shared page tables) and the process's own user pages:
//
//   0xFFFFFFFF +---------------------------+
//              |  (unused)                 |
//   0xC0000000 +---------------------------+ USER_TOP
//              |  user stack (grows down,  |  demand-paged,
//              |  at most STACK_MAX)       |  [USER_TOP-STACK_MAX, USER_TOP)
//              +---------------------------+
//              |  map()/unmap() area:      |  anonymous pages wherever the
//              |  free for the program     |  program asks (e.g. 0x80000000)
//              +---------------------------+ brk (sbrk moves it)
//              |  heap, demand-paged       |
//              +---------------------------+ heap_base = PGROUNDUP(_end)
//              |  program text/data/bss    |
//   0x40000000 +---------------------------+ USER_BASE
//              |  kernel: identity map of  |  PTE_P|PTE_W, no PTE_U:
//              |  physical RAM (<= 1 GiB)  |  same page tables in every
//              |  kernel image at 1 MiB    |  page directory (PDEs 0..255)
//   0x00000000 +---------------------------+
//
// A virtual address splits as   | 31..22 PDX | 21..12 PTX | 11..0 offset |
// PDE/PTE:                       | 31..12 frame address  | flags: P W U ... |
#ifndef KIT_MMU_H
#define KIT_MMU_H

#define PGSIZE 4096
#define PGROUNDUP(a) (((a) + PGSIZE - 1) & ~(PGSIZE - 1))
#define PGROUNDDOWN(a) ((a) & ~(PGSIZE - 1))
#define PDX(va) (((u32)(va) >> 22) & 0x3ff)
#define PTX(va) (((u32)(va) >> 12) & 0x3ff)
#define PTE_ADDR(e) ((u32)(e) & ~0xfff)

#define PTE_P 0x001  // present
#define PTE_W 0x002  // writable
#define PTE_U 0x004  // user

#define USER_BASE 0x40000000u
#define USER_TOP 0xC0000000u
#define STACK_MAX (1u << 20)
#define KERN_LIMIT USER_BASE  // RAM identity-mapped up to here at most

#define CR0_PG 0x80000000u
#define CR0_WP 0x00010000u

// GDT layout (selector = index * 8 | RPL):
//   0 null | 1 kernel code | 2 kernel data | 3 user code | 4 user data | 5 TSS
#define SEG_KCODE 1
#define SEG_KDATA 2
#define SEG_UCODE 3
#define SEG_UDATA 4
#define SEG_TSS 5
#define NSEGS 6
#define KCODE_SEL (SEG_KCODE << 3)
#define KDATA_SEL (SEG_KDATA << 3)
#define UCODE_SEL ((SEG_UCODE << 3) | 3)
#define UDATA_SEL ((SEG_UDATA << 3) | 3)
#define TSS_SEL (SEG_TSS << 3)
#endif
