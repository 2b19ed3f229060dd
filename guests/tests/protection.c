// protection.c -- rings 0 <-> 3, gates, privileged and sensitive instructions,
// descriptor checks.  Paging stays off, so only segmentation protects anything.
//
// Ring-3 probes (UPROBE) enter by iret with a 5-word frame (lib/entry.S) and
// come back through int $0x80, a DPL3 trap gate; any fault comes back the same
// way, on the ring-0 stack from TSS.ss0:esp0 (0x10:0x00208000).
#include "lib.h"

#define S_DATA_RO3 0x30  /* read-only data, DPL3 */
#define S_CONF0    0x38  /* conforming readable code, DPL0 */
#define S_CODE_X3  0x40  /* execute-only code, DPL3 */
#define S_SMALL3   0x48  /* data DPL3, limit 0x1234 bytes */
#define S_PAGE3    0x50  /* data DPL3, limit 3 pages (G=1) */
#define S_TSS3     0x58  /* available TSS, DPL3 */
#define S_LDT3     0x60  /* LDT, DPL3 */
#define S_GATE3    0x68  /* call gate DPL3 -> KCODE:gate_target, 2 params */
#define S_GATE0    0x70  /* call gate DPL0 -> KCODE:gate_target */
#define S_INTG3    0x78  /* an interrupt-gate type in the GDT: not valid for LAR */

extern char gate_target[], conf_target[];
u32 gate_seen[8];

// Ring-0 end of the call gate: save what the gate pushed (SDM 5.8.5, figure 5-13:
// ss, esp, the copied parameters, cs, eip), then return to ring 3 with DS holding
// a DPL0 selector, which the outward lret must null (SDM "RET" operation).
asm(".text\ngate_target:\n"
    "  mov %esp, gate_seen+24\n"
    "  mov %cs, %eax; mov %eax, gate_seen+28\n"
    "  mov 0(%esp),%eax; mov %eax, gate_seen+0\n"
    "  mov 4(%esp),%eax; mov %eax, gate_seen+4\n"
    "  mov 8(%esp),%eax; mov %eax, gate_seen+8\n"
    "  mov 12(%esp),%eax; mov %eax, gate_seen+12\n"
    "  mov 16(%esp),%eax; mov %eax, gate_seen+16\n"
    "  mov 20(%esp),%eax; mov %eax, gate_seen+20\n"
    "  mov $0x10,%ax; mov %ax,%ds\n"
    "  lret $8\n"
    // Conforming code runs at the caller's CPL: CS.RPL stays 3.
    "conf_target:\n"
    "  xor %ebx,%ebx; mov %cs,%bx\n"
    "  lret\n");

static void gdt_slots(void) {
  GDT[S_DATA_RO3 >> 3] = seg_desc(0, 0xfffff, A_P | A_DPL(3) | A_S | T_DATA_R, F_G | F_DB);
  GDT[S_CONF0 >> 3] = seg_desc(0, 0xfffff, A_P | A_S | T_CODE_XRC, F_G | F_DB);
  GDT[S_CODE_X3 >> 3] = seg_desc(0, 0xfffff, A_P | A_DPL(3) | A_S | T_CODE_X, F_G | F_DB);
  GDT[S_SMALL3 >> 3] = seg_desc(0, 0x1234, A_P | A_DPL(3) | A_S | T_DATA_RW, F_DB);
  GDT[S_PAGE3 >> 3] = seg_desc(0, 3, A_P | A_DPL(3) | A_S | T_DATA_RW, F_G | F_DB);
  GDT[S_TSS3 >> 3] = seg_desc(TSS_ADDR + 0x3000, 0x67, A_P | A_DPL(3) | T_TSS, 0);
  GDT[S_LDT3 >> 3] = seg_desc(LDT_ADDR, 0x7f, A_P | A_DPL(3) | T_LDT, 0);
  GDT[S_GATE3 >> 3] = gate_desc(KCODE, (u32)gate_target, T_CALLGATE, 3, 2);
  GDT[S_GATE0 >> 3] = gate_desc(KCODE, (u32)gate_target, T_CALLGATE, 0, 0);
  GDT[S_INTG3 >> 3] = gate_desc(KCODE, (u32)gate_target, T_INTGATE, 3, 0);
}

// ---- entering and leaving ring 3 ----
UPROBE(u_int80, "", "int $0x80", "");
UPROBE(u_int81, "", "int $0x81", "");
PROBE(k_int81, "sti", "int $0x81", "");
UPROBE(u_segs, "", "int $0x80", "");
UPROBE(u_int40_dpl0, "", "int $0x40", "");
UPROBE(u_int3_dpl0, "", "int3", "");
UPROBE(u_into_dpl0, "mov $0x7fffffff,%eax; add $1,%eax", "into", "");
UPROBE(u_ud2, "", "ud2", "");
// ---- privileged instructions at CPL3: #GP(0) (SDM 5.9) ----
UPROBE(u_hlt, "", "hlt", "");
UPROBE(u_lgdt, "sub $8,%esp", "lgdt (%esp)", "");
UPROBE(u_lidt, "sub $8,%esp", "lidt (%esp)", "");
UPROBE(u_lldt, "xor %eax,%eax", "lldt %ax", "");
UPROBE(u_ltr, "mov $0x28,%eax", "ltr %ax", "");
UPROBE(u_lmsw, "mov $0x11,%eax", "lmsw %ax", "");
UPROBE(u_mov_from_cr0, "", "mov %cr0,%eax", "");
UPROBE(u_mov_to_cr3, "xor %eax,%eax", "mov %eax,%cr3", "");
UPROBE(u_mov_from_dr7, "", "mov %dr7,%eax", "");
UPROBE(u_clts, "", "clts", "");
UPROBE(u_invlpg, "", "invlpg (%esp)", "");
UPROBE(u_wbinvd, "", "wbinvd", "");
UPROBE(u_invd, "", "invd", "");
UPROBE(u_rdmsr, "mov $0x10,%ecx", "rdmsr", "");
UPROBE(u_wrmsr, "mov $0x10,%ecx", "wrmsr", "");
UPROBE(u_rdpmc, "xor %ecx,%ecx", "rdpmc", "");      // CR4.PCE=0
UPROBE(u_rdtsc_tsd, "", "rdtsc", "");               // run with CR4.TSD=1
UPROBE(u_rdtsc_ok, "", "rdtsc", "");
// ---- IOPL-sensitive: cli/sti, in/out (+ TSS I/O bitmap, SDM 20.5) ----
UPROBE(u_cli_iopl0, "", "cli", "");
UPROBE(u_sti_iopl0, "", "sti", "");
UPROBE(u_cli_iopl3, "", "cli", "");
UPROBE(u_inb_80_allowed, "", "inb $0x80,%al", "");
UPROBE(u_inw_80_allowed, "", "inw $0x80,%ax", "");
UPROBE(u_outb_80_allowed, "", "outb %al,$0x80", "");
UPROBE(u_inl_80_partly, "", "inl $0x80,%eax", "");   // 0x82,0x83 denied
UPROBE(u_inb_82_denied, "", "inb $0x82,%al", "");
UPROBE(u_inb_dx_7f_denied, "mov $0x7f,%dx", "inb %dx,%al", "");
UPROBE(u_outsb_denied, "mov $0x82,%dx; mov %esp,%esi", "outsb", "");
UPROBE(u_insb_denied, "mov $0x82,%dx; lea -4(%esp),%edi", "insb", "");
UPROBE(u_inb_82_iopl3, "", "inb $0x82,%al", "");
// ---- sensitive but unprivileged (Robin & Irvine) ----
#define FLAGS_TRY "pushf; pop %eax; xor $0x200,%eax; or $0x3000,%eax; push %eax"
UPROBE(u_popf_iopl0, FLAGS_TRY, "popf", "pushf; pop %ebx");
UPROBE(u_popf_iopl3, "pushf; pop %eax; and $~0x3200,%eax; push %eax", "popf", "pushf; pop %ebx");
UPROBE(u_pushf, "", "pushf", "pop %ebx");
UPROBE(u_sgdt, "sub $8,%esp", "sgdt (%esp)", "movzwl (%esp),%ebx; mov 2(%esp),%ecx");
UPROBE(u_sidt, "sub $8,%esp", "sidt (%esp)", "movzwl (%esp),%ebx; mov 2(%esp),%ecx");
UPROBE(u_sldt, "xor %ebx,%ebx", "sldt %bx", "");
UPROBE(u_str, "xor %ebx,%ebx", "str %bx", "");
UPROBE(u_smsw, "xor %ebx,%ebx", "smsw %bx", "");
UPROBE(u_mov_cs_ss, "xor %ebx,%ebx; xor %ecx,%ecx", "mov %cs,%bx", "mov %ss,%cx");
// ---- lar/lsl/verr/verw: ZF -> eax, result -> ebx (SDM "LAR", "LSL", "VERR") ----
#define SEL_PROBE(name, insn) \
  UPROBE(name, "mov sel_arg,%ecx; mov $0xdeadbeef,%ebx", insn, "setz %al; movzbl %al,%eax")
asm(".data\nsel_arg: .long 0\n.text");
SEL_PROBE(u_lar, "lar %ecx,%ebx");
SEL_PROBE(u_lsl, "lsl %ecx,%ebx");
SEL_PROBE(u_verr, "verr %cx");
SEL_PROBE(u_verw, "verw %cx");
// ---- far transfers and far-pointer loads at CPL3 ----
UPROBE(u_callgate, "push $0x11111111; push $0x22222222", "lcall $0x6b,$0",
       "mov %esp,%ebx; xor %ecx,%ecx; mov %ds,%cx");
UPROBE(u_callgate_dpl0, "", "lcall $0x73,$0", "");
UPROBE(u_lcall_kcode, "", "lcall $0x08,$0", "");
UPROBE(u_lcall_conforming, "", "lcall $0x3b,$conf_target", "");
UPROBE(u_ljmp_kcode, "", "ljmp $0x08,$0", "");
UPROBE(u_ljmp_ucode, "", "ljmp $0x1b,$u_ljmp_ucode_nx", "");
#define FARPTR(sel) "push $" #sel "; push $0"
UPROBE(u_lds_udata, FARPTR(0x23), "lds (%esp),%eax", "");
UPROBE(u_lds_kdata, FARPTR(0x10), "lds (%esp),%eax", "");
UPROBE(u_les_null, FARPTR(0), "les (%esp),%eax", "xor %ebx,%ebx; mov %es,%bx");
UPROBE(u_lss_null, FARPTR(0), "lss (%esp),%eax", "");
UPROBE(u_lss_ro, FARPTR(0x33), "lss (%esp),%eax", "");
UPROBE(u_lfs_conforming, FARPTR(0x3b), "lfs (%esp),%eax", "");
UPROBE(u_lgs_xonly, FARPTR(0x43), "lgs (%esp),%eax", "");

#define FL_USER (FL_IF | 2)
#define U(name, vec, err, eipk) do { uprobe(name, FL_USER); CHECK_TRAP(name, vec, err, eipk); } while (0)

// ring-3 fault frame: cs and ss:esp as pushed.
static void u_frame(void) {
  field("cs", R.cs, 4, UCODE); field("ss", R.ss, 4, UDATA); field("esp", R.esp, 8, ANY);
}

static void selcheck(const char *name, void (*fn)(void), u32 sel, u32 zf, u32 v, u32 mask) {
  extern u32 sel_arg;
  sel_arg = sel;
  uprobe(fn, FL_USER);
  begin(name);
  field("sel", sel, 4, ANY);
  field("zf", R.vec == 0x80 ? R.eax : NONE, 0, zf);
  if (v != ANY) field_hex("v", R.ebx & mask, 8, v);
  end();
}

int main(void) {
  sys_init();
  gdt_slots();
  puts("protection: rings, gates, privileged and sensitive instructions\n");

  // int $0x80 from ring 3: stack switch to TSS.ss0:esp0, 5-word frame, trap gate keeps IF.
  uprobe(u_int80, FL_USER);
  begin("u_int80"); trapfields(u_int80_at, u_int80_nx, 0x80, 0, NX); u_frame();
  field("efl", R.eflags, 8, FL_USER); field("frame", R.at, 8, KSTACK0 - 20);
  field("handler_if", (R.hfl >> 9) & 1, 0, 1); end();
  uprobe(u_int81, FL_USER);
  begin("u_int81"); trapfields(u_int81_at, u_int81_nx, 0x81, 0, NX); u_frame();
  field("handler_if", (R.hfl >> 9) & 1, 0, 0); end();
  probe(k_int81);   // same ring: 3-word frame on the current stack
  begin("k_int81"); trapfields(k_int81_at, k_int81_nx, 0x81, 0, NX);
  field("cs", R.cs, 4, KCODE); field("ss", R.ss, 4, NONE);
  field("pushed_if", (R.eflags >> 9) & 1, 0, 1); field("handler_if", (R.hfl >> 9) & 1, 0, 0); end();

  // iret to ring 3 nulls DS/ES/FS/GS holding data (or non-conforming code) with DPL < 3.
  struct iretf f = { (u32)u_segs, UCODE, FL_USER, USTACK, UDATA, KDATA, KDATA, UDATA, S_CONF0 };
  uprobe_f(&f);
  begin("iret_nulls_segs"); field("ds", R.ds, 4, 0); field("es", R.es, 4, 0);
  field("fs", R.fs, 4, UDATA); field("gs", R.gs, 4, S_CONF0); end();

  // Gate DPL applies to INT n / INT3 / INTO, not to exceptions (SDM 6.12.1.1).
  U(u_int40_dpl0, 13, 0x40 * 8 + 2, AT);
  set_gate(3, T_INTGATE, 0); set_gate(4, T_INTGATE, 0);
  U(u_int3_dpl0, 13, 3 * 8 + 2, AT);
  U(u_into_dpl0, 13, 4 * 8 + 2, AT);
  set_gate(3, T_INTGATE, 3); set_gate(4, T_INTGATE, 3);
  U(u_ud2, 6, 0, AT);

  uprobe(u_hlt, FL_USER);
  begin("u_hlt"); trapfields(u_hlt_at, u_hlt_nx, 13, 0, AT); u_frame(); end();
  U(u_lgdt, 13, 0, AT);
  U(u_lidt, 13, 0, AT);
  U(u_lldt, 13, 0, AT);
  U(u_ltr, 13, 0, AT);
  U(u_lmsw, 13, 0, AT);
  U(u_mov_from_cr0, 13, 0, AT);
  U(u_mov_to_cr3, 13, 0, AT);
  U(u_mov_from_dr7, 13, 0, AT);
  U(u_clts, 13, 0, AT);
  U(u_invlpg, 13, 0, AT);
  U(u_wbinvd, 13, 0, AT);
  U(u_invd, 13, 0, AT);
  U(u_rdmsr, 13, 0, AT);
  U(u_wrmsr, 13, 0, AT);
  U(u_rdpmc, 13, 0, AT);
  lcr4(CR4_TSD);
  U(u_rdtsc_tsd, 13, 0, AT);
  lcr4(0);
  U(u_rdtsc_ok, 0x80, 0, ANY);

  U(u_cli_iopl0, 13, 0, AT);
  U(u_sti_iopl0, 13, 0, AT);
  uprobe(u_cli_iopl3, FL_USER | FL_IOPL);
  CHECK_TRAP(u_cli_iopl3, 0x80, 0, ANY);
  IOPB[0x80 / 8] &= ~(3 << (0x80 % 8));      // allow ports 0x80 and 0x81 only
  U(u_inb_80_allowed, 0x80, 0, ANY);
  U(u_inw_80_allowed, 0x80, 0, ANY);
  U(u_outb_80_allowed, 0x80, 0, ANY);
  U(u_inl_80_partly, 13, 0, AT);
  U(u_inb_82_denied, 13, 0, AT);
  U(u_inb_dx_7f_denied, 13, 0, AT);
  U(u_outsb_denied, 13, 0, AT);
  U(u_insb_denied, 13, 0, AT);
  uprobe(u_inb_82_iopl3, FL_USER | FL_IOPL);  // IOPL >= CPL: bitmap not consulted
  CHECK_TRAP(u_inb_82_iopl3, 0x80, 0, ANY);

  uprobe(u_popf_iopl0, FL_USER);              // IF and IOPL silently kept
  begin("u_popf_iopl0"); field("vec", R.vec, 0, 0x80); field("if_iopl", R.ebx & 0x3200, 4, 0x0200); end();
  uprobe(u_popf_iopl3, FL_USER | FL_IOPL);    // IF may change (CPL <= IOPL), IOPL may not
  begin("u_popf_iopl3"); field("vec", R.vec, 0, 0x80); field("if_iopl", R.ebx & 0x3200, 4, 0x3000); end();
  leflags(reflags() | FL_IOPL);                // CPL0: popf changes IOPL
  u32 fl = reflags(); leflags(fl & ~FL_IOPL);
  begin("k_popf_iopl"); field("iopl", (fl >> 12) & 3, 0, 3); field("after", (reflags() >> 12) & 3, 0, 0); end();
  uprobe(u_pushf, FL_USER);
  begin("u_pushf"); field("efl", R.ebx & ~0x8d5, 8, FL_USER); end();
  uprobe(u_sgdt, FL_USER);
  begin("u_sgdt"); field("vec", R.vec, 0, 0x80); field("limit", R.ebx, 4, 64 * 8 - 1); field("base", R.ecx, 8, GDT_ADDR); end();
  uprobe(u_sidt, FL_USER);
  begin("u_sidt"); field("vec", R.vec, 0, 0x80); field("limit", R.ebx, 4, 256 * 8 - 1); field("base", R.ecx, 8, IDT_ADDR); end();
  lldt(S_LDT3);
  uprobe(u_sldt, FL_USER);
  begin("u_sldt"); field("vec", R.vec, 0, 0x80); field("ldtr", R.ebx, 4, S_LDT3); end();
  lldt(0);
  uprobe(u_str, FL_USER);
  begin("u_str"); field("vec", R.vec, 0, 0x80); field("tr", R.ebx, 4, TSSSEL); end();
  uprobe(u_smsw, FL_USER);
  begin("u_smsw"); field("vec", R.vec, 0, 0x80); field("msw", R.ebx, 4, CR0_PE | CR0_ET); end();
  uprobe(u_mov_cs_ss, FL_USER);
  begin("u_mov_cs_ss"); field("cs", R.ebx, 4, UCODE); field("ss", R.ecx, 4, UDATA); end();

  // LAR's 32-bit result is dword 2 & 0x00FxFF00 (x = limit 19:16, undefined);
  // the accessed bit (8) depends on earlier loads, so both are masked out.
  const u32 AR = 0x00f0fe00;
  selcheck("lar_kcode", u_lar, KCODE, 0, ANY, AR);
  selcheck("lar_ucode", u_lar, UCODE, 1, 0x00c0fa00, AR);
  selcheck("lar_udata", u_lar, UDATA, 1, 0x00c0f200, AR);
  selcheck("lar_conforming_dpl0", u_lar, S_CONF0 | 3, 1, 0x00c09e00, AR);
  selcheck("lar_tss_dpl3", u_lar, S_TSS3 | 3, 1, 0x0000e800, AR);
  selcheck("lar_ldt_dpl3", u_lar, S_LDT3 | 3, 1, 0x0000e200, AR);
  selcheck("lar_callgate_dpl3", u_lar, S_GATE3 | 3, 1, 0x0010ec00, AR);
  selcheck("lar_intgate_type", u_lar, S_INTG3 | 3, 0, ANY, AR);
  selcheck("lar_null", u_lar, 3, 0, ANY, AR);
  selcheck("lar_beyond_gdt", u_lar, 0xfffb, 0, ANY, AR);
  selcheck("lsl_udata", u_lsl, UDATA, 1, 0xffffffff, ~0u);
  selcheck("lsl_bytes", u_lsl, S_SMALL3 | 3, 1, 0x1234, ~0u);
  selcheck("lsl_pages", u_lsl, S_PAGE3 | 3, 1, 0x3fff, ~0u);
  selcheck("lsl_tss_dpl3", u_lsl, S_TSS3 | 3, 1, 0x67, ~0u);
  selcheck("lsl_callgate", u_lsl, S_GATE3 | 3, 0, ANY, ~0u);
  selcheck("lsl_kdata", u_lsl, KDATA | 3, 0, ANY, ~0u);
  selcheck("verr_ucode", u_verr, UCODE, 1, ANY, 0);
  selcheck("verr_xonly", u_verr, S_CODE_X3 | 3, 0, ANY, 0);
  selcheck("verr_kdata", u_verr, KDATA | 3, 0, ANY, 0);
  selcheck("verr_conforming_dpl0", u_verr, S_CONF0 | 3, 1, ANY, 0);
  selcheck("verr_null", u_verr, 0, 0, ANY, 0);
  selcheck("verw_udata", u_verw, UDATA, 1, ANY, 0);
  selcheck("verw_ro", u_verw, S_DATA_RO3 | 3, 0, ANY, 0);
  selcheck("verw_ucode", u_verw, UCODE, 0, ANY, 0);

  uprobe(u_callgate, FL_USER);
  begin("u_callgate"); field("vec", R.vec, 0, 0x80);
  field("gate_cs", gate_seen[7], 4, KCODE); field("kesp", gate_seen[6], 8, KSTACK0 - 24);
  field("eip_is_next", gate_seen[0] == (u32)u_callgate_nx, 0, 1); field("cs", gate_seen[1], 4, UCODE);
  field("p0", gate_seen[2], 8, 0x22222222); field("p1", gate_seen[3], 8, 0x11111111);
  field("esp", gate_seen[4], 8, USTACK - 8); field("ss", gate_seen[5], 4, UDATA);
  field("ret_esp", R.ebx, 8, USTACK); field("ret_ds", R.ecx, 4, 0); end();
  U(u_callgate_dpl0, 13, S_GATE0, AT);
  U(u_lcall_kcode, 13, KCODE, AT);
  uprobe(u_lcall_conforming, FL_USER);
  begin("u_lcall_conforming"); field("vec", R.vec, 0, 0x80); field("cs_inside", R.ebx, 4, S_CONF0 | 3); end();
  U(u_ljmp_kcode, 13, KCODE, AT);
  U(u_ljmp_ucode, 0x80, 0, ANY);
  U(u_lds_udata, 0x80, 0, ANY);
  U(u_lds_kdata, 13, KDATA, AT);
  uprobe(u_les_null, FL_USER);
  begin("u_les_null"); field("vec", R.vec, 0, 0x80); field("es", R.ebx, 4, 0); end();
  U(u_lss_null, 13, 0, AT);
  U(u_lss_ro, 13, S_DATA_RO3, AT);
  U(u_lfs_conforming, 0x80, 0, ANY);
  U(u_lgs_xonly, 13, S_CODE_X3, AT);
  finish();
}
