// vm.c (para) -- ../vm.c for validated direct paging (host/para/mmu.ts, as
// Xen's PV MMU): the CPU walks our own page tables, but every entry of a live
// table is written by HC_MMU_UPDATE, and a frame that is a page table is
// mapped read-only in the kernel's identity map. The VMM built the first page
// directory (identity map of all RAM below its region) and pinned it.
//
// Batching: entries are queued and sent in one HC_MMU_UPDATE per operation
// (map_anon of n pages: 1 call; unmap_range: 1 call; fork: the child's page
// tables are filled while they are still ordinary pages, then made read-only
// and hooked into the new directory in one call).
#include "kit.h"

u32 *kernel_pgdir;
u32 pv_cr3;
static u32 kernel_pdes;

#define QMAX 256
static struct {
  u32 ptr, val;
} mq[QMAX];
static u32 nq;

static void mmu_flush(void) {
  if (!nq) return;
  if (hypercall(HC_MMU_UPDATE, (u32)mq, nq, 0) < 0) panic("mmu_update refused");
  nq = 0;
}

static void mmu_queue(u32 *ptr, u32 val) {
  if (nq == QMAX) mmu_flush();
  mq[nq].ptr = (u32)ptr;
  mq[nq].val = val;
  nq++;
}

static void mmuext(u32 cmd, u32 arg) {
  u32 op[2] = {cmd, arg};
  if (hypercall(HC_MMUEXT_OP, (u32)op, 1, 0) < 0) panic("mmuext_op refused");
}

// The identity-map PTE that maps physical page pa in the kernel.
static u32 *ident_pte(u32 pa) { return &((u32 *)PTE_ADDR(kernel_pgdir[PDX(pa)]))[PTX(pa)]; }

// Queue: page pa becomes read-only (before it turns into a page table) or
// writable again (after it stopped being one).
static void make_ro(void *pa) { mmu_queue(ident_pte((u32)pa), (u32)pa | PTE_P); }
static void make_rw(void *pa) { mmu_queue(ident_pte((u32)pa), (u32)pa | PTE_P | PTE_W); }

u32 *walk(u32 *pgdir, u32 va, int create) {
  u32 *pde = &pgdir[PDX(va)];
  if (*pde & PTE_P) return &((u32 *)PTE_ADDR(*pde))[PTX(va)];
  u32 *pt;
  if (!create || !(pt = kalloc())) return NULL;
  make_ro(pt);
  mmu_queue(pde, (u32)pt | PTE_P | PTE_W | (va >= USER_BASE ? PTE_U : 0));
  mmu_flush();
  return &pt[PTX(va)];
}

static int map_page_q(u32 *pgdir, u32 va, u32 pa, u32 perm) {
  u32 *pte = walk(pgdir, va, 1);
  if (!pte) return -1;
  mmu_queue(pte, pa | perm | PTE_P);
  return 0;
}

int map_page(u32 *pgdir, u32 va, u32 pa, u32 perm) {
  int r = map_page_q(pgdir, va, pa, perm);
  mmu_flush();
  return r;
}

void vm_init(u32 mem_top) {
  (void)mem_top;  // the VMM's identity map already covers RAM
  kernel_pgdir = (u32 *)PV_SHARED->pt_base;
  pv_cr3 = PV_SHARED->pt_base;
  kernel_pdes = PDX(PV_SHARED->ident_top - 1) + 1;
}

u32 *pgdir_new(void) {
  u32 *pd = kalloc();
  if (!pd) return NULL;
  for (u32 i = 0; i < kernel_pdes; i++) pd[i] = kernel_pgdir[i];  // still an ordinary page
  make_ro(pd);
  mmu_flush();
  mmuext(MMUEXT_PIN_L2, (u32)pd);
  return pd;
}

void pgdir_free(u32 *pgdir) {
  mmuext(MMUEXT_UNPIN, (u32)pgdir);  // the VMM drops its page-table types
  for (u32 i = PDX(USER_BASE); i < PDX(USER_TOP); i++) {
    if (!(pgdir[i] & PTE_P)) continue;
    u32 *pt = (u32 *)PTE_ADDR(pgdir[i]);
    for (u32 j = 0; j < 1024; j++)
      if (pt[j] & PTE_P) kfree((void *)PTE_ADDR(pt[j]));
    make_rw(pt);
  }
  make_rw(pgdir);
  mmu_flush();
  for (u32 i = PDX(USER_BASE); i < PDX(USER_TOP); i++)
    if (pgdir[i] & PTE_P) kfree((void *)PTE_ADDR(pgdir[i]));
  kfree(pgdir);
}

int map_anon(u32 *pgdir, u32 va, u32 len) {
  for (u32 a = va; a < va + len; a += PGSIZE) {
    u32 *pte = walk(pgdir, a, 0);
    if (pte && (*pte & PTE_P)) return -1;
  }
  for (u32 a = va; a < va + len; a += PGSIZE) {
    void *pg = kalloc();
    if (!pg) {
      mmu_flush();
      return -1;
    }
    if (map_page_q(pgdir, a, (u32)pg, PTE_W | PTE_U) < 0) {
      kfree(pg);
      mmu_flush();
      return -1;
    }
  }
  mmu_flush();
  return 0;
}

void unmap_range(u32 *pgdir, u32 va, u32 len) {
  for (u32 a = va; a < va + len; a += PGSIZE) {
    u32 *pte = walk(pgdir, a, 0);
    if (!pte || !(*pte & PTE_P)) continue;
    kfree((void *)PTE_ADDR(*pte));
    mmu_queue(pte, 0);
  }
  mmu_flush();  // the VMM flushes the TLB after every batch: no invlpg needed
}

int pgdir_copy(u32 *dst, u32 *src) {
  for (u32 i = PDX(USER_BASE); i < PDX(USER_TOP); i++) {
    if (!(src[i] & PTE_P)) continue;
    u32 *pt = (u32 *)PTE_ADDR(src[i]);
    u32 *npt = kalloc();
    if (!npt) goto fail;
    for (u32 j = 0; j < 1024; j++) {
      if (!(pt[j] & PTE_P)) continue;
      void *pg = kalloc();
      if (!pg) {
        for (u32 k = 0; k < j; k++)
          if (npt[k] & PTE_P) kfree((void *)PTE_ADDR(npt[k]));
        kfree(npt);
        goto fail;
      }
      memcpy(pg, (void *)PTE_ADDR(pt[j]), PGSIZE);
      npt[j] = (u32)pg | (pt[j] & 0xfff);  // npt is not a page table yet
    }
    make_ro(npt);
    mmu_queue(&dst[i], (u32)npt | PTE_P | PTE_W | PTE_U);
  }
  mmu_flush();
  return 0;
fail:
  mmu_flush();  // what was built is consistent: pgdir_free(dst) releases it
  return -1;
}

void switch_pgdir(u32 *pgdir) { lcr3((u32)pgdir); }
