// layout.h -- fixed physical addresses shared by every test guest (and its asm).
// Tables live at fixed addresses (not in the ELF) so sgdt/sidt/str/CR2/ESP values
// printed by the guests do not move when the code changes or the compiler differs.
//
//   0x00100000  ELF image: multiboot header, .text .rodata .data .bss (kernel stack)
//   0x00200000  GDT   64 descriptors (512 B)
//   0x00201000  IDT   256 gates (2 KiB)
//   0x00202000  TSS   104 B, I/O permission bitmap at +0x68 (8 KiB + 0xff byte)
//   0x00205000  LDT   16 descriptors
//   0x00206000  ring-0 stack for traps from ring 3 (TSS.esp0 = 0x00208000)
//   0x00208000  ring-3 stack (top 0x0020a000)
//   0x00210000  page directory            (paging guest)
//   0x00211000  page table for 0..4 MiB    (identity, 4 KiB pages)
//   0x00212000  page table for 4..8 MiB    (the test window)
//   0x00300000  physical pages mapped into the test window
//   0x00800000  4 MiB page (PSE tests), identity mapped
#ifndef LAYOUT_H
#define LAYOUT_H

#define GDT_ADDR   0x00200000
#define IDT_ADDR   0x00201000
#define TSS_ADDR   0x00202000
#define LDT_ADDR   0x00205000
#define KSTACK0    0x00208000  /* TSS.esp0 */
#define USTACK     0x0020a000  /* initial ESP at ring 3 */
#define PGDIR      0x00210000
#define PT_LOW     0x00211000
#define PT_WIN     0x00212000
#define PHYS_TEST  0x00300000
#define WIN        0x00400000  /* virtual test window (PT_WIN) */
#define BIGPAGE    0x00800000

// GDT selectors (index*8 | RPL).  Slots from 0x30 up are free for each guest.
#define KCODE  0x08   /* flat 32-bit code, DPL0 */
#define KDATA  0x10   /* flat data, DPL0 */
#define UCODE  0x1b   /* flat 32-bit code, DPL3 (index 3, RPL3) */
#define UDATA  0x23   /* flat data, DPL3 (index 4, RPL3) */
#define TSSSEL 0x28   /* the one TSS, DPL0 */
#define FREE_SLOT 6   /* first GDT index a guest may use */

#endif
