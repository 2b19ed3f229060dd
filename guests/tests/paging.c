// paging.c -- 32-bit paging: #PF error codes and CR2, U/S and R/W with CR0.WP,
// accessed/dirty bits, 4 MiB pages, TLB invalidation that the SDM requires,
// page-crossing data accesses and instruction fetches.
//
//  linear address (4 KiB page):  | dir 31:22 | table 21:12 | offset 11:0 |
//  PDE[0] -> PT_LOW : 0..4 MiB identity, U=1 W=1 (code/stacks; user probes run here)
//  PDE[1] -> PT_WIN : the test window WIN = 0x00400000, entry i -> PHYS_TEST + i*4K
//  PDE[2]           : a 4 MiB page at 0x00800000 (PSE tests)
// #PF error code (SDM 4.7): P=1 protection / 0 not present, W/R=2, U/S=4, RSVD=8
// (I/D=16 only with NX or SMEP, neither used here).
#include "lib.h"

#define PTE_P 0x001
#define PTE_W 0x002
#define PTE_U 0x004
#define PTE_A 0x020
#define PTE_D 0x040
#define PTE_PS 0x080
#define PTE_G 0x100
#define PD ((u32 *)PGDIR)
#define PTW ((u32 *)PT_WIN)

u32 pg_addr;   // the address the generic probes use
PROBE(k_read, "mov pg_addr,%eax", "mov (%eax),%ebx", "");
PROBE(k_write, "mov pg_addr,%eax", "movl $0x5a5a5a5a,(%eax)", "");
PROBE(k_write4_cross, "mov pg_addr,%eax", "movl $0x11223344,(%eax)", "");
PROBE(k_call, "mov pg_addr,%eax", "call *%eax", "");
UPROBE(u_read, "mov pg_addr,%eax", "mov (%eax),%ebx", "");
UPROBE(u_write, "mov pg_addr,%eax", "movl $0x5a5a5a5a,(%eax)", "");
UPROBE(u_call, "mov pg_addr,%eax", "call *%eax", "");

static void win(int i, u32 flags) {
  PTW[i] = flags ? ((PHYS_TEST + i * 0x1000) | flags) : 0;
  invlpg(WIN + i * 0x1000);
}

// Run a read/write probe at `a` (ring 0 or 3) and print vec/err/cr2/eip.
static u32 want_cr2 = NONE;   // set for page-crossing accesses: CR2 = start of the second page
static void pf(const char *name, void (*fn)(void), u32 a, u32 vec, u32 err) {
  pg_addr = a;
  lcr2(0);
  int user = fn == u_read || fn == u_write || fn == u_call;
  if (user) uprobe(fn, FL_IF | 2); else probe(fn);
  char *at = fn == k_read ? k_read_at : fn == k_write ? k_write_at : fn == u_read ? u_read_at
           : fn == u_write ? u_write_at : fn == k_call ? k_call_at : fn == u_call ? u_call_at : k_write4_cross_at;
  begin(name);
  if (vec == 14) {
    trapfields(at, at + 1, 14, err, fn == k_call || fn == u_call ? ANY : AT);
    field("cr2", R.cr2, 8, want_cr2 != NONE ? want_cr2 : a);
  } else {
    field("vec", R.vec, 0, vec);
  }
  end();
}

static void pf_noerr(const char *name, void (*fn)(void), u32 a) {
  pg_addr = a; lcr2(0);
  if (fn == u_write) uprobe(fn, FL_IF | 2); else probe(fn);
  begin(name); field("vec", R.vec, 0, 14); field("cr2", R.cr2, 8, a); end();
}

static void pte_line(const char *name, u32 pde, u32 pte, u32 wpde, u32 wpte) {
  begin(name); field("pde", pde & 0xfff, 3, wpde); field("pte", pte & 0xfff, 3, wpte); end();
}

static void paging_on(void) {
  memset(PD, 0, 0x1000);
  memset((void *)PT_WIN, 0, 0x1000);
  for (int i = 0; i < 1024; i++) ((u32 *)PT_LOW)[i] = (i << 12) | PTE_P | PTE_W | PTE_U;
  PD[0] = PT_LOW | PTE_P | PTE_W | PTE_U;
  PD[1] = PT_WIN | PTE_P | PTE_W | PTE_U;
  memset((void *)PHYS_TEST, 0xaa, 0x4000);
  memset((void *)BIGPAGE, 0, 0x3000);   // its first 4 KiB doubles as a (blank) page table
  lcr3(PGDIR);
  lcr0(rcr0() | CR0_PG);
}

int main(void) {
  sys_init();
  paging_on();
  puts("paging: 32-bit paging, 4 KiB and 4 MiB pages\n");

  // ---- error codes and CR2 ----
  win(0, 0); win(1, 0);
  pf("pf_k_np_read", k_read, WIN, 14, 0x0);
  pf("pf_k_np_write", k_write, WIN + 0x10, 14, 0x2);
  pf("pf_u_np_read", u_read, WIN + 0x1ffc, 14, 0x4);
  pf("pf_u_np_write", u_write, WIN + 0x1ffc, 14, 0x6);
  win(1, PTE_P | PTE_W);
  pf("pf_u_read_super", u_read, WIN + 0x1000, 14, 0x5);
  pf("pf_u_write_super", u_write, WIN + 0x1000, 14, 0x7);
  win(1, PTE_P | PTE_U);
  pf("pf_u_write_ro", u_write, WIN + 0x1000, 14, 0x7);
  pf("u_read_ro_ok", u_read, WIN + 0x1000, 0x80, 0);
  win(1, PTE_P | PTE_W | PTE_U);
  pf("u_write_rw_ok", u_write, WIN + 0x1000, 0x80, 0);
  win(1, PTE_P | PTE_U);
  pf("k_read_user_page_ok", k_read, WIN + 0x1000, NONE, 0);
  // The PDE's U/S and R/W combine with the PTE's (most restrictive wins, SDM 4.6).
  win(1, PTE_P | PTE_W | PTE_U);
  PD[1] &= ~PTE_U; invlpg(WIN + 0x1000);
  pf("pf_u_read_pde_super", u_read, WIN + 0x1000, 14, 0x5);
  PD[1] |= PTE_U; PD[1] &= ~PTE_W; invlpg(WIN + 0x1000);
  pf("pf_u_write_pde_ro", u_write, WIN + 0x1000, 14, 0x7);
  pf("k_write_pde_ro_wp0", k_write, WIN + 0x1000, NONE, 0);
  lcr0(rcr0() | CR0_WP);
  pf("pf_k_write_pde_ro_wp1", k_write, WIN + 0x1000, 14, 0x3);
  lcr0(rcr0() & ~CR0_WP);
  PD[1] |= PTE_W; invlpg(WIN + 0x1000);

  // ---- CR0.WP: supervisor writes to read-only pages (SDM 4.6.1) ----
  win(2, PTE_P | PTE_U);
  pf("k_write_ro_user_wp0", k_write, WIN + 0x2000, NONE, 0);
  begin("k_write_ro_user_wp0_value"); field("mem", *(u32 *)(WIN + 0x2000), 8, 0x5a5a5a5a); end();
  win(3, PTE_P);
  pf("k_write_ro_super_wp0", k_write, WIN + 0x3000, NONE, 0);
  lcr0(rcr0() | CR0_WP);
  pf("pf_k_write_ro_user_wp1", k_write, WIN + 0x2000, 14, 0x3);
  pf("pf_k_write_ro_super_wp1", k_write, WIN + 0x3000, 14, 0x3);
  lcr0(rcr0() & ~CR0_WP);

  // ---- accessed / dirty (SDM 4.8): A on any use, D on a write, PDE D untouched ----
  PD[1] &= ~(PTE_A | PTE_D);
  win(4, PTE_P | PTE_W | PTE_U);
  pf("ad_read", k_read, WIN + 0x4000, NONE, 0);
  pte_line("ad_after_read", PD[1], PTW[4], 0x027, 0x027);
  pf("ad_write", k_write, WIN + 0x4000, NONE, 0);
  pte_line("ad_after_write", PD[1], PTW[4], 0x027, 0x067);
  win(5, PTE_P | PTE_U);                         // read-only, A=D=0
  pf("pf_ad_faulting_write", u_write, WIN + 0x5000, 14, 0x7);
  pte_line("ad_after_faulting_write", PD[1], PTW[5], 0x027, 0x005);
  PD[1] &= ~PTE_A; win(6, 0);
  lcr3(PGDIR);
  pf("pf_ad_np_pte", k_read, WIN + 0x6000, 14, 0x0);
  pte_line("ad_after_np_pte", PD[1], PTW[6], 0x027, 0x000);

  // ---- 4 MiB pages (CR4.PSE) ----
  lcr4(CR4_PSE);
  PD[2] = BIGPAGE | PTE_PS | PTE_P | PTE_W | PTE_U;
  lcr3(PGDIR);
  pf("big_read", k_read, BIGPAGE + 0x2004, NONE, 0);
  begin("big_after_read"); field("pde", PD[2] & 0xfff, 3, 0x0a7); end();
  pf("big_write", u_write, BIGPAGE + 0x2008, 0x80, 0);
  begin("big_after_write"); field("pde", PD[2] & 0xfff, 3, 0x0e7);
  field("mem", *(u32 *)(BIGPAGE + 0x2008), 8, 0x5a5a5a5a); end();
  // Bit 21 of a 4 MiB PDE is reserved whatever MAXPHYADDR is (<= 40; SDM table 4-4).
  // Only vector and CR2 here: QEMU 7.2 reports RSVD without P (0x8); the SDM's
  // error code (P=1, RSVD=1: 0x9 / 0xf) is checked in sdm.c.
  PD[2] |= 1 << 21; lcr3(PGDIR);
  pf_noerr("pf_big_rsvd_read", k_read, BIGPAGE + 0x2004);
  pf_noerr("pf_big_rsvd_u_write", u_write, BIGPAGE + 0x2004);
  PD[2] &= ~(1u << 21);
  // With CR4.PSE=0, PS is ignored: the PDE points to a page table (the zeroed first 4 KiB).
  lcr4(0); lcr3(PGDIR);
  pf("pf_ps_ignored_without_pse", k_read, BIGPAGE + 0x2004, 14, 0x0);
  PD[2] = 0; lcr3(PGDIR);

  // ---- TLB invalidation the SDM requires (4.10.4) ----
  *(u32 *)(PHYS_TEST + 0x7000) = 0x77777777;
  *(u32 *)(PHYS_TEST + 0x8000) = 0x88888888;
  win(7, PTE_P | PTE_W);
  u32 v1 = *(volatile u32 *)(WIN + 0x7000);
  PTW[7] = (PHYS_TEST + 0x8000) | PTE_P | PTE_W; invlpg(WIN + 0x7000);
  u32 v2 = *(volatile u32 *)(WIN + 0x7000);
  begin("tlb_invlpg"); field("before", v1, 8, 0x77777777); field("after", v2, 8, 0x88888888); end();
  PTW[7] = (PHYS_TEST + 0x7000) | PTE_P | PTE_W; lcr3(PGDIR);
  begin("tlb_cr3_reload"); field("after", *(volatile u32 *)(WIN + 0x7000), 8, 0x77777777); end();
  lcr4(CR4_PGE);
  PTW[7] = (PHYS_TEST + 0x8000) | PTE_P | PTE_W | PTE_G; invlpg(WIN + 0x7000);
  v1 = *(volatile u32 *)(WIN + 0x7000);
  PTW[7] = (PHYS_TEST + 0x7000) | PTE_P | PTE_W | PTE_G;
  lcr4(0); lcr4(CR4_PGE);                          // toggling PGE flushes global entries
  begin("tlb_global_pge_toggle"); field("before", v1, 8, 0x88888888);
  field("after", *(volatile u32 *)(WIN + 0x7000), 8, 0x77777777); end();
  PTW[7] = (PHYS_TEST + 0x8000) | PTE_P | PTE_W | PTE_G; invlpg(WIN + 0x7000);
  begin("tlb_global_invlpg"); field("after", *(volatile u32 *)(WIN + 0x7000), 8, 0x88888888); end();
  lcr4(0);

  // ---- page-crossing accesses: the fault is on the second page, nothing is written ----
  win(8, PTE_P | PTE_W); win(9, 0);
  memset((void *)(WIN + 0x8ff0), 0xaa, 0x10);
  want_cr2 = WIN + 0x9000;
  pf("pf_cross_write", k_write4_cross, WIN + 0x8ffe, 14, 0x2);
  begin("pf_cross_write_first_page"); field("mem", *(u16 *)(WIN + 0x8ffe), 4, 0xaaaa); end();
  pf("pf_cross_read", k_read, WIN + 0x8ffd, 14, 0x0);
  // Instruction fetch: mov $imm32,%eax (5 bytes) straddling into the absent page.
  u8 *code = (u8 *)(WIN + 0x8ffd);
  code[0] = 0xb8; code[1] = 0x44; code[2] = 0x33;
  pf("pf_fetch_cross", k_call, WIN + 0x8ffd, 14, 0x0);
  want_cr2 = NONE;
  begin("pf_fetch_cross_eip"); field("eip", R.eip, 8, WIN + 0x8ffd); end();
  pf("pf_fetch_np", k_call, WIN + 0x9000, 14, 0x0);
  begin("pf_fetch_np_where"); field("eip", R.eip, 8, WIN + 0x9000); end();
  win(9, PTE_P | PTE_W);
  *(u8 *)(WIN + 0x9000) = 0xc3;                     // ret
  pf("pf_u_fetch_super", u_call, WIN + 0x9000, 14, 0x5);
  begin("pf_u_fetch_super_frame"); field("eip", R.eip, 8, WIN + 0x9000); field("cs", R.cs, 4, UCODE);
  field("ss", R.ss, 4, UDATA); field("esp", R.esp, 8, USTACK - 4); end();

  // ---- #PF whose delivery raises #GP (null CS in gate 14) -> #DF (SDM table 6-5) ----
  u64 g = IDT[14];
  IDT[14] = gate_desc(0, vectors[14], T_INTGATE, 0, 0);
  win(10, 0);
  pg_addr = WIN + 0xa000; lcr2(0);
  probe(k_read);
  IDT[14] = g;
  begin("df_pf_then_gp"); field("vec", R.vec, 0, 8); field("err", R.err, 4, 0);
  field("cr2", R.cr2, 8, WIN + 0xa000); end();
  finish();
}
