// vm.c -- two-level page tables (see the layout in mmu.h).
// All page-table writes go through set_pte(), all TLB work through
// invlpg()/lcr3() (arch.h).
#include "kit.h"

u32 *kernel_pgdir;
static u32 kernel_pdes;  // number of PDEs that map the kernel (RAM / 4 MiB)

// Return the PTE for va, allocating a page table if create is set.
u32 *walk(u32 *pgdir, u32 va, int create) {
  u32 *pde = &pgdir[PDX(va)];
  u32 *pt;
  if (*pde & PTE_P) {
    pt = (u32 *)PTE_ADDR(*pde);
  } else {
    if (!create || !(pt = kalloc())) return NULL;
    // user bit on the directory entry: the PTE decides
    set_pte(pde, (u32)pt | PTE_P | PTE_W | (va >= USER_BASE ? PTE_U : 0));
  }
  return &pt[PTX(va)];
}

int map_page(u32 *pgdir, u32 va, u32 pa, u32 perm) {
  u32 *pte = walk(pgdir, va, 1);
  if (!pte) return -1;
  set_pte(pte, pa | perm | PTE_P);
  return 0;
}

// Identity-map RAM [0, mem_top) supervisor-only and turn paging on.
void vm_init(u32 mem_top) {
  kernel_pgdir = kalloc();
  if (!kernel_pgdir) panic("vm_init: no memory");
  for (u32 a = 0; a < mem_top; a += PGSIZE)
    if (map_page(kernel_pgdir, a, a, PTE_W) < 0) panic("vm_init: no memory");
  kernel_pdes = PDX(mem_top - 1) + 1;
  lcr3((u32)kernel_pgdir);
  lcr0(read_cr0() | CR0_PG | CR0_WP);
}

// A new address space: the kernel's page tables, no user pages.
u32 *pgdir_new(void) {
  u32 *pd = kalloc();
  if (!pd) return NULL;
  for (u32 i = 0; i < kernel_pdes; i++) set_pte(&pd[i], kernel_pgdir[i]);
  return pd;
}

// Free every user page, the user page tables and the directory.
void pgdir_free(u32 *pgdir) {
  for (u32 i = PDX(USER_BASE); i < 1024; i++) {
    if (!(pgdir[i] & PTE_P)) continue;
    u32 *pt = (u32 *)PTE_ADDR(pgdir[i]);
    for (u32 j = 0; j < 1024; j++)
      if (pt[j] & PTE_P) kfree((void *)PTE_ADDR(pt[j]));
    kfree(pt);
  }
  kfree(pgdir);
}

// Fresh zeroed user pages over [va, va+len); -1 if any is already mapped.
int map_anon(u32 *pgdir, u32 va, u32 len) {
  for (u32 a = va; a < va + len; a += PGSIZE) {
    u32 *pte = walk(pgdir, a, 0);
    if (pte && (*pte & PTE_P)) return -1;
  }
  for (u32 a = va; a < va + len; a += PGSIZE) {
    void *pg = kalloc();
    if (!pg) return -1;
    if (map_page(pgdir, a, (u32)pg, PTE_W | PTE_U) < 0) {
      kfree(pg);
      return -1;
    }
  }
  return 0;
}

// Unmap and free user pages over [va, va+len) (holes are fine).
void unmap_range(u32 *pgdir, u32 va, u32 len) {
  for (u32 a = va; a < va + len; a += PGSIZE) {
    u32 *pte = walk(pgdir, a, 0);
    if (!pte || !(*pte & PTE_P)) continue;
    kfree((void *)PTE_ADDR(*pte));
    set_pte(pte, 0);
    invlpg(a);
  }
}

// Eager fork: copy every user page of src into dst.
int pgdir_copy(u32 *dst, u32 *src) {
  for (u32 i = PDX(USER_BASE); i < 1024; i++) {
    if (!(src[i] & PTE_P)) continue;
    u32 *pt = (u32 *)PTE_ADDR(src[i]);
    for (u32 j = 0; j < 1024; j++) {
      if (!(pt[j] & PTE_P)) continue;
      void *pg = kalloc();
      if (!pg) return -1;
      memcpy(pg, (void *)PTE_ADDR(pt[j]), PGSIZE);
      if (map_page(dst, (i << 22) | (j << 12), (u32)pg, pt[j] & 0xfff) < 0) {
        kfree(pg);
        return -1;
      }
    }
  }
  return 0;
}

void switch_pgdir(u32 *pgdir) { lcr3((u32)pgdir); }
