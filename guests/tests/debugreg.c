// debugreg.c -- the debug registers armed for real (SDM Vol.3 17.2-17.3): instruction breakpoints (faults,
// EIP = the instruction, suppressed by EFLAGS.RF), data breakpoints (traps, EIP = the next instruction) with
// the R/W and LEN fields, L/G enables, DR6 B0-B3, REP string instructions stopping between elements.
// (DR7.GD and a data breakpoint under TF are in sdm.c: QEMU 7.2 does not implement GD, and reports the
// TF + data breakpoint #DB at another EIP.)
// Each probe clears DR6 first and disarms DR7 after; the line prints the trap, DR6 and what the check needs.
#include "lib.h"

static inline void ldr(int n, u32 v) {
  switch (n) {
    case 0: asm volatile("mov %0,%%dr0" :: "r"(v)); break;
    case 1: asm volatile("mov %0,%%dr1" :: "r"(v)); break;
    case 2: asm volatile("mov %0,%%dr2" :: "r"(v)); break;
    case 3: asm volatile("mov %0,%%dr3" :: "r"(v)); break;
  }
}
static inline void ldr7(u32 v) { asm volatile("mov %0,%%dr7" :: "r"(v)); }

#define L(n) (1u << (2 * (n)))
#define G(n) (2u << (2 * (n)))
#define RW(n, rw) ((u32)(rw) << (16 + 4 * (n)))
#define LEN(n, l) ((u32)(l) << (18 + 4 * (n)))
#define RW_X 0
#define RW_W 1
#define RW_RW 3
#define LEN1 0
#define LEN2 1
#define LEN4 3

asm(".data\n.p2align 4\n.globl dvar\ndvar: .long 0, 0, 0, 0\n.text");
extern volatile u32 dvar[4];

PROBE(x_bp, "", "nop", "nop");                       // instruction breakpoint at _at
PROBE(x_bp_g, "", "nop", "nop");                     // the same with G0
PROBE(x_bp_off, "", "nop", "nop");                   // enables clear: no #DB
PROBE(x_bp_dr3, "", "nop", "nop");                   // DR3 / B3
PROBE(x_bp_rf, "", "nop", "nop");                    // resumed with RF=1 by the handler: one #DB only
PROBE(x_bp_two, "", "nop", "nop");                   // DR0 and DR2 both at _at: B0|B2
PROBE(w_store, "", "movl $1, dvar", "nop");          // write breakpoint, dword store
PROBE(w_load, "", "movl dvar, %eax", "nop");         // write breakpoint: a load does not hit
PROBE(rw_load, "", "movl dvar, %eax", "nop");        // read/write breakpoint: a load hits
PROBE(w_byte_in, "", "movb $1, dvar+3", "nop");      // 4-byte breakpoint, byte store inside it
PROBE(w_byte_out, "", "movb $1, dvar+4", "nop");     // 4-byte breakpoint, byte store just after it
PROBE(w_len1, "", "movl $1, dvar", "nop");           // 1-byte breakpoint at dvar+2, dword store over it
PROBE(w_len2_miss, "", "movw $1, dvar", "nop");      // 2-byte breakpoint at dvar+2, word store before it
PROBE(w_rmw, "", "addl $1, dvar", "nop");            // read-modify-write: a write breakpoint hits
PROBE(w_rep, "lea dvar, %edi; mov $4, %ecx; xor %eax,%eax; cld", "rep stosl", "nop");

static int rf_hook(struct frame *f) { f->eflags |= FL_RF; return 1; } // resume at the breakpoint with RF

static void arm(int n, u32 addr, u32 dr7) { ldr6(0); ldr(n, addr); ldr7(dr7); }
static void disarm(void) { ldr7(0); }

static void line(const char *name, void *at, void *nx, u32 vec, u32 eipk, u32 b) {
  u32 dr6 = rdr6();
  begin(name);
  trapfields(at, nx, vec, 0, eipk);
  field_hex("dr6", dr6 & 0xe00f, 4, b);
  if (R.vec != NONE) field_hex("rf", (R.eflags >> 16) & 1, 1, ANY);
  end();
}
#define RUN(name, n, addr, dr7, vec, eipk, b) \
  do { arm(n, (u32)(addr), dr7); probe(name); disarm(); line(#name, name##_at, name##_nx, vec, eipk, b); } while (0)

int main(void) {
  sys_init();
  RUN(x_bp, 0, x_bp_at, L(0) | RW(0, RW_X), 1, AT, 1);
  RUN(x_bp_g, 0, x_bp_g_at, G(0) | RW(0, RW_X), 1, AT, 1);
  RUN(x_bp_off, 0, x_bp_off_at, RW(0, RW_X), NONE, ANY, 0);
  RUN(x_bp_dr3, 3, x_bp_dr3_at, L(3) | RW(3, RW_X), 1, AT, 8);

  R.n = 0;
  trap_hook = rf_hook;
  RUN(x_bp_rf, 0, x_bp_rf_at, L(0), 1, AT, 1);
  trap_hook = 0;
  begin("x_bp_rf_count"); field("traps", R.n, 0, 1); end();

  ldr(2, (u32)x_bp_two_at);
  RUN(x_bp_two, 0, x_bp_two_at, L(0) | L(2), 1, AT, 5);

  RUN(w_store, 1, &dvar[0], L(1) | RW(1, RW_W) | LEN(1, LEN4), 1, NX, 2);
  RUN(w_load, 1, &dvar[0], L(1) | RW(1, RW_W) | LEN(1, LEN4), NONE, ANY, 0);
  RUN(rw_load, 1, &dvar[0], L(1) | RW(1, RW_RW) | LEN(1, LEN4), 1, NX, 2);
  RUN(w_byte_in, 0, &dvar[0], L(0) | RW(0, RW_W) | LEN(0, LEN4), 1, NX, 1);
  RUN(w_byte_out, 0, &dvar[0], L(0) | RW(0, RW_W) | LEN(0, LEN4), NONE, ANY, 0);
  RUN(w_len1, 0, (u32)&dvar[0] + 2, L(0) | RW(0, RW_W) | LEN(0, LEN1), 1, NX, 1);
  RUN(w_len2_miss, 0, (u32)&dvar[0] + 2, L(0) | RW(0, RW_W) | LEN(0, LEN2), NONE, ANY, 0);
  RUN(w_rmw, 0, &dvar[0], L(0) | RW(0, RW_W) | LEN(0, LEN4), 1, NX, 1);
  RUN(w_rep, 0, &dvar[1], L(0) | RW(0, RW_W) | LEN(0, LEN4), 1, ANY, 1);
  begin("w_rep_ecx"); field("ecx", R.ecx, 0, ANY); end();

  disarm();
  finish();
}
