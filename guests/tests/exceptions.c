// exceptions.c -- one probe per exception class at CPL0, paging off.
// Checks vector, error code and fault/trap classification (saved EIP = the
// faulting instruction for faults, the next one for traps; SDM Vol.3 6.5).
// Error code layout (SDM 6.13):  | selector index 15:3 | TI 2 | IDT 1 | EXT 0 |
#include "lib.h"

// GDT slots used only here.
#define S_DATA_NP3 0x30  /* RW data, DPL3, not present */
#define S_DATA_NP  0x38  /* RW data, DPL0, not present */
#define S_CODE_NP  0x40  /* code, not present */
#define S_DATA_RO  0x48  /* read-only data */
#define S_CODE_X   0x50  /* execute-only code */
#define S_TSS_SHORT 0x58 /* available TSS with limit 0x50 < 0x67 */
#define S_LDT_NP   0x60  /* LDT, not present */
#define S_TSS_NP   0x68  /* available TSS, not present */
#define S_CODE_XR  0x70  /* readable code */

static void gdt_slots(void) {
  GDT[S_DATA_NP3 >> 3] = seg_desc(0, 0xfffff, A_DPL(3) | A_S | T_DATA_RW, F_G | F_DB);
  GDT[S_DATA_NP >> 3] = seg_desc(0, 0xfffff, A_S | T_DATA_RW, F_G | F_DB);
  GDT[S_CODE_NP >> 3] = seg_desc(0, 0xfffff, A_S | T_CODE_XR, F_G | F_DB);
  GDT[S_DATA_RO >> 3] = seg_desc(0, 0xfffff, A_P | A_S | T_DATA_R, F_G | F_DB);
  GDT[S_CODE_X >> 3] = seg_desc(0, 0xfffff, A_P | A_S | T_CODE_X, F_G | F_DB);
  GDT[S_TSS_SHORT >> 3] = seg_desc(TSS_ADDR + 0x3000, 0x50, A_P | T_TSS, 0);
  GDT[S_LDT_NP >> 3] = seg_desc(LDT_ADDR, 0x7f, T_LDT, 0);
  GDT[S_TSS_NP >> 3] = seg_desc(TSS_ADDR + 0x3000, 0x67, T_TSS, 0);
  GDT[S_CODE_XR >> 3] = seg_desc(0, 0xfffff, A_P | A_S | T_CODE_XR, F_G | F_DB);
}

// ---- #DE (fault) ----
PROBE(de_div, "xor %edx,%edx; mov $1,%eax; xor %ecx,%ecx", "div %ecx", "");
PROBE(de_div_ovf, "mov $2,%edx; xor %eax,%eax; mov $1,%ecx", "div %ecx", "");
PROBE(de_idiv_ovf, "mov $0x80000000,%eax; mov $-1,%edx; mov $-1,%ecx", "idiv %ecx", "");
PROBE(de_idiv8_ovf, "mov $0x8000,%eax; mov $-1,%ecx", "idiv %cl", "");
PROBE(de_aam0, "", ".byte 0xd4,0x00", "");           // aam 0
PROBE(de_div_ok, "xor %edx,%edx; mov $7,%eax; mov $2,%ecx", "div %ecx", "");
// ---- #DB (trap) ----
// TF set by popf: the instruction after popf runs, then #DB (SDM 17.3.1.4).
PROBE(db_tf, "pushf; orl $0x100,(%esp); popf", "nop", "nop");
// ---- #BP, #OF (traps), #BR (fault) ----
PROBE(bp_int3, "", "int3", "");
PROBE(bp_int_3, "", "int $3", "");
PROBE(of_into, "mov $0x7fffffff,%eax; add $1,%eax", "into", "");
PROBE(of_into_nof, "xor %eax,%eax", "into", "");
asm(".data\n.p2align 3\nbnd_pair: .long 0, 3\n.text");
PROBE(br_bound, "mov $4,%eax", "bound %eax, bnd_pair", "");
PROBE(br_bound_ok, "mov $3,%eax", "bound %eax, bnd_pair", "");
// ---- #UD (fault) ----
PROBE(ud_ud2, "", "ud2", "");
PROBE(ud_ud1, "", ".byte 0x0f,0xb9,0xc0", "");        // ud1 eax,eax
PROBE(ud_fe_7, "", ".byte 0xfe,0xf8", "");            // group 4 /7: undefined
PROBE(ud_lea_reg, "", ".byte 0x8d,0xc0", "");         // lea with a register operand
PROBE(ud_mov_to_cs, "", ".byte 0x8e,0xc8", "");       // mov cs, ax
PROBE(ud_lock_nop, "", ".byte 0xf0,0x90", "");        // lock nop
PROBE(ud_lock_add_reg, "", ".byte 0xf0,0x01,0xc3", ""); // lock add ebx,eax: no memory dest
PROBE(lock_add_mem_ok, "mov $bnd_pair,%eax", "lock addl $0,(%eax)", "");
// ---- #NM (fault): CR0.TS / EM / MP, SDM 2.5 table 2-2 ----
PROBE(fpu_init, "", "fninit", "");   // probed: a CPU without x87 fails only the #NM lines
PROBE(nm_ts_fnop, "", "fnop", "");
PROBE(nm_ts_fwait_mp0, "", "fwait", "");
PROBE(nm_ts_fwait_mp1, "", "fwait", "");
PROBE(nm_em_fnop, "", "fnop", "");
// ---- #DF: contributory during contributory (SDM 6.15, table 6-5) ----
PROBE(df_gp_np13, "mov $0xfff8,%ax", "mov %ax,%ds", "");   // #GP -> gate 13 absent (#NP) -> #DF
PROBE(df_de_np0, "xor %edx,%edx; xor %ecx,%ecx", "div %ecx", "");
PROBE(nodf_ud_np6, "", "ud2", "");                           // benign then #NP: no #DF
PROBE(np_int3_gate, "", "int3", "");
PROBE(np_int40_gate, "", "int $0x40", "");
PROBE(gp_int40_beyond_idt, "", "int $0x40", "");
PROBE(gp_int40_callgate, "", "int $0x40", "");
PROBE(gp_int40_cs_null, "", "int $0x40", "");
PROBE(gp_int40_cs_data, "", "int $0x40", "");
PROBE(np_int40_cs_np, "", "int $0x40", "");
// ---- #TS ----
PROBE(ts_iret_nt_data, "pushf; orl $0x4000,(%esp); popf", "iret", "");
PROBE(ts_iret_nt_ldt, "pushf; orl $0x4000,(%esp); popf", "iret", "");
PROBE(ts_ljmp_short_tss, "", "ljmp $0x58,$0", "");
PROBE(gp_ljmp_busy_tss, "", "ljmp $0x28,$0", "");
PROBE(np_ljmp_tss_np, "", "ljmp $0x68,$0", "");
// ---- #NP / #SS on segment loads: error = selector without RPL ----
PROBE(np_ds, "mov $0x33,%ax", "mov %ax,%ds", "");
PROBE(np_es, "mov $0x38,%ax", "mov %ax,%es", "");
PROBE(ss_np_ss, "mov $0x38,%ax", "mov %ax,%ss", "");
PROBE(np_ljmp_code, "", "ljmp $0x40,$0", "");
PROBE(np_lldt, "mov $0x60,%ax", "lldt %ax", "");
PROBE(np_ltr, "mov $0x68,%ax", "ltr %ax", "");
// ---- #GP on segment loads and system instructions ----
PROBE(gp_sel_beyond_gdt, "mov $0xfff8,%ax", "mov %ax,%ds", "");
PROBE(gp_ldt_sel_no_ldt, "mov $0x0f,%ax", "mov %ax,%fs", "");
PROBE(gp_null_ss, "xor %eax,%eax", "mov %ax,%ss", "");
PROBE(null_ds_ok, "xor %eax,%eax", "mov %ax,%ds", "mov $0x10,%ax; mov %ax,%ds");
PROBE(gp_ss_readonly, "mov $0x48,%ax", "mov %ax,%ss", "");
PROBE(gp_ss_dpl3, "mov $0x23,%ax", "mov %ax,%ss", "");
PROBE(gp_ss_rpl3, "mov $0x13,%ax", "mov %ax,%ss", "");
PROBE(gp_ss_code, "mov $0x08,%ax", "mov %ax,%ss", "");
PROBE(gp_ds_xonly, "mov $0x50,%ax", "mov %ax,%gs", "");
PROBE(ds_xr_code_ok, "mov $0x70,%ax", "mov %ax,%gs", "");
PROBE(gp_ds_tss, "mov $0x28,%ax", "mov %ax,%ds", "");
PROBE(gp_ds_rpl_dpl, "mov $0x13,%ax", "mov %ax,%es", "");
PROBE(gp_ljmp_data, "", "ljmp $0x10,$0", "");
PROBE(gp_lcall_null, "", "lcall $0,$0", "");
PROBE(gp_lldt_data, "mov $0x10,%ax", "lldt %ax", "");
PROBE(gp_ltr_busy, "mov $0x28,%ax", "ltr %ax", "");
PROBE(gp_too_long, "", ".fill 15,1,0x3e; nop", "");   // 16 bytes > the 15-byte limit

static u64 saved;
static void gate_off(int v) { saved = IDT[v]; IDT[v] &= ~((u64)A_P << 40); }
static void gate_put(int v, u64 g) { saved = IDT[v]; IDT[v] = g; }
static void gate_back(int v) { IDT[v] = saved; }

#define T(name, vec, err, eipk) do { probe(name); CHECK_TRAP(name, vec, err, eipk); } while (0)

// #DF's saved CS:EIP are undefined (SDM 6.15 "Interrupt 8"): print vector and error only.
static void df_line(const char *name) {
  begin(name); field("vec", R.vec, 0, 8); field("err", R.err, 4, 0); end();
}

int main(void) {
  sys_init();
  gdt_slots();
  puts("exceptions: CPL0, paging off\n");

  T(de_div, 0, 0, AT);
  T(de_div_ovf, 0, 0, AT);
  T(de_idiv_ovf, 0, 0, AT);
  T(de_idiv8_ovf, 0, 0, AT);
  T(de_aam0, 0, 0, AT);
  T(de_div_ok, NONE, 0, 0);

  ldr6(0);
  probe(db_tf);
  u32 dr6 = rdr6();
  begin("db_tf"); trapfields(db_tf_at, db_tf_nx, 1, 0, NX);
  field("pushed_tf", (R.eflags >> 8) & 1, 0, 1);
  field("handler_tf", (R.hfl >> 8) & 1, 0, 0);
  field("dr6_bs", (dr6 >> 14) & 1, 0, 1);
  end();
  T(bp_int3, 3, 0, NX);
  T(bp_int_3, 3, 0, NX);
  T(of_into, 4, 0, NX);
  T(of_into_nof, NONE, 0, 0);
  T(br_bound, 5, 0, AT);
  T(br_bound_ok, NONE, 0, 0);

  T(ud_ud2, 6, 0, AT);
  T(ud_ud1, 6, 0, AT);
  T(ud_fe_7, 6, 0, AT);
  T(ud_lea_reg, 6, 0, AT);
  T(ud_mov_to_cs, 6, 0, AT);
  T(ud_lock_nop, 6, 0, AT);
  T(ud_lock_add_reg, 6, 0, AT);
  T(lock_add_mem_ok, NONE, 0, 0);

  probe(fpu_init);
  u32 cr0 = rcr0();
  lcr0(cr0 | CR0_TS);
  T(nm_ts_fnop, 7, 0, AT);
  T(nm_ts_fwait_mp0, NONE, 0, 0);
  lcr0(cr0 | CR0_TS | CR0_MP);
  T(nm_ts_fwait_mp1, 7, 0, AT);
  asm volatile("clts");
  begin("clts"); field("cr0", rcr0(), 8, cr0 | CR0_MP); end();
  lcr0(cr0 | CR0_EM);
  T(nm_em_fnop, 7, 0, AT);
  lcr0(cr0);

  gate_off(13); probe(df_gp_np13); gate_back(13); df_line("df_gp_np13");
  gate_off(0); probe(df_de_np0); gate_back(0); df_line("df_de_np0");
  gate_off(6); probe(nodf_ud_np6); gate_back(6);
  // No #DF: benign then contributory.  The error code (0x33: IDT=1, EXT=1) is
  // checked in sdm.c -- QEMU leaves EXT clear here.
  begin("nodf_ud_np6"); field("vec", R.vec, 0, 11); field_eip((u32)nodf_ud_np6_at, (u32)nodf_ud_np6_nx, AT); end();
  gate_off(3); probe(np_int3_gate); gate_back(3);
  CHECK_TRAP(np_int3_gate, 11, 3 * 8 + 2, AT);          // software int: EXT=0
  gate_off(0x40); probe(np_int40_gate); gate_back(0x40);
  CHECK_TRAP(np_int40_gate, 11, 0x40 * 8 + 2, AT);
  lidt_limit(0x40 * 8 - 1); probe(gp_int40_beyond_idt); lidt_limit(256 * 8 - 1);
  CHECK_TRAP(gp_int40_beyond_idt, 13, 0x40 * 8 + 2, AT);
  gate_put(0x40, gate_desc(KCODE, vectors[0x40], T_CALLGATE, 0, 0));
  probe(gp_int40_callgate); gate_back(0x40);
  CHECK_TRAP(gp_int40_callgate, 13, 0x40 * 8 + 2, AT);
  gate_put(0x40, gate_desc(0, vectors[0x40], T_INTGATE, 0, 0));
  probe(gp_int40_cs_null); gate_back(0x40);
  CHECK_TRAP(gp_int40_cs_null, 13, 0, AT);
  gate_put(0x40, gate_desc(KDATA, vectors[0x40], T_INTGATE, 0, 0));
  probe(gp_int40_cs_data); gate_back(0x40);
  CHECK_TRAP(gp_int40_cs_data, 13, KDATA, AT);
  gate_put(0x40, gate_desc(S_CODE_NP, vectors[0x40], T_INTGATE, 0, 0));
  probe(np_int40_cs_np); gate_back(0x40);
  CHECK_TRAP(np_int40_cs_np, 11, S_CODE_NP, AT);

  TSS->link = KDATA; T(ts_iret_nt_data, 10, KDATA, AT);
  TSS->link = 0x0f; T(ts_iret_nt_ldt, 10, 0x0c, AT);
  TSS->link = 0;
  T(ts_ljmp_short_tss, 10, S_TSS_SHORT, AT);
  T(gp_ljmp_busy_tss, 13, TSSSEL, AT);
  T(np_ljmp_tss_np, 11, S_TSS_NP, AT);

  T(np_ds, 11, S_DATA_NP3, AT);
  T(np_es, 11, S_DATA_NP, AT);
  T(ss_np_ss, 12, S_DATA_NP, AT);
  T(np_ljmp_code, 11, S_CODE_NP, AT);
  T(np_lldt, 11, S_LDT_NP, AT);
  T(np_ltr, 11, S_TSS_NP, AT);

  T(gp_sel_beyond_gdt, 13, 0xfff8, AT);
  T(gp_ldt_sel_no_ldt, 13, 0x0c, AT);
  T(gp_null_ss, 13, 0, AT);
  T(null_ds_ok, NONE, 0, 0);
  T(gp_ss_readonly, 13, S_DATA_RO, AT);
  T(gp_ss_dpl3, 13, 0x20, AT);
  T(gp_ss_rpl3, 13, 0x10, AT);
  T(gp_ss_code, 13, 0x08, AT);
  T(gp_ds_xonly, 13, S_CODE_X, AT);
  T(ds_xr_code_ok, NONE, 0, 0);
  T(gp_ds_tss, 13, TSSSEL, AT);
  T(gp_ds_rpl_dpl, 13, 0x10, AT);
  T(gp_ljmp_data, 13, KDATA, AT);
  T(gp_lcall_null, 13, 0, AT);
  T(gp_lldt_data, 13, KDATA, AT);
  T(gp_ltr_busy, 13, TSSSEL, AT);
  T(gp_too_long, 13, 0, AT);
  finish();
}
