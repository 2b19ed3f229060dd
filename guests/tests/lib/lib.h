// lib.h -- the test-guest support library: serial output, descriptor tables,
// trap recording, probes (run a snippet and catch what it raises) and checks.
#ifndef LIB_H
#define LIB_H
#include "x86.h"
#include "layout.h"

// ---- serial (uart.c) ----
void putc(int c);
void puts(const char *s);
void putnum(u32 v, int base, int width);
void printf(const char *fmt, ...);   // %s %c %d %x, width 0-padded: %04x %08x
void exit_qemu(int fail) __attribute__((noreturn));

// ---- descriptors (desc.c) ----
// access byte: P | DPL<<5 | S | type; flags nibble: G | D/B.
#define A_P      0x80
#define A_DPL(d) ((d) << 5)
#define A_S      0x10           /* code/data (not system) */
#define T_DATA_R   0x0          /* read-only */
#define T_DATA_RW  0x2
#define T_DATA_RWD 0x6          /* expand-down */
#define T_CODE_X   0x8          /* execute-only */
#define T_CODE_XR  0xa
#define T_CODE_XC  0xc          /* conforming, execute-only */
#define T_CODE_XRC 0xe          /* conforming, readable */
#define T_LDT      0x2
#define T_TSS      0x9          /* available 32-bit TSS */
#define T_CALLGATE 0xc
#define T_INTGATE  0xe
#define T_TRAPGATE 0xf
#define T_TASKGATE 0x5
#define F_G  0x8
#define F_DB 0x4

struct tss {
  u16 link, _l; u32 esp0; u16 ss0, _0; u32 esp1; u16 ss1, _1; u32 esp2; u16 ss2, _2;
  u32 cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
  u16 es, _es, cs, _cs, ss, _ss, ds, _ds, fs, _fs, gs, _gs, ldt, _ldt, trap, iomap;
};
#define GDT ((u64 *)GDT_ADDR)
#define IDT ((u64 *)IDT_ADDR)
#define LDT ((u64 *)LDT_ADDR)
#define TSS ((struct tss *)TSS_ADDR)
#define IOPB ((u8 *)(TSS_ADDR + 0x68))

u64 seg_desc(u32 base, u32 limit, u32 access, u32 flags);
u64 gate_desc(u16 sel, u32 off, u32 type, u32 dpl, u32 params);
void set_gate(int vec, u32 type, u32 dpl);   // point vec at its trap stub
void lidt_limit(u32 limit);                  // reload IDTR with a different limit
void lgdt_limit(u32 limit);
void sys_init(void);                         // GDT, IDT (all vectors), TSS, PIC mask
extern u32 vectors[256];                      // stub addresses (vectors.S)

// ---- traps (trap.c) ----
// What the CPU pushed, as the stub in vectors.S saved it (low address first).
struct frame {
  u32 edi, esi, ebp, _esp, ebx, edx, ecx, eax;   // pushal
  u32 gs, fs, es, ds;                            // as they were at the trap
  u32 hfl;                                       // EFLAGS inside the handler
  u32 vec, err;                                  // err = 0 when the CPU pushed none
  u32 eip, cs, eflags;                           // pushed by the CPU
  u32 esp, ss;                                   // pushed only on a privilege change
};
struct rec {                                     // the last trap, copied out of the frame
  u32 n, vec, err, eip, cs, eflags, esp, ss, cr2, hfl;
  u32 ds, es, fs, gs, eax, ecx, edx, ebx, esi, edi;
  u32 at;                                        // address of the pushed EIP word
};
#define NONE 0xffffffffu
extern struct rec R;
// A hook may inspect/patch the frame and return 1 to resume via iret
// instead of unwinding to the probe.
extern int (*trap_hook)(struct frame *f);
void trap(struct frame *f);

struct jb { u32 ebx, esi, edi, ebp, esp, eip, eflags; };
int setjmp(struct jb *);
void longjmp(struct jb *, int) __attribute__((noreturn));

// Run fn at CPL0 / CPL3. Returns with R describing the first trap (R.vec = NONE
// if fn returned).  Ring-3 code ends with int $0x80 (a DPL3 trap gate) to come back.
void probe(void (*fn)(void));
struct iretf { u32 eip, cs, eflags, esp, ss, ds, es, fs, gs; };
void uprobe_f(struct iretf *f);               // iret into f, catch the first trap
void uprobe(void (*fn)(void), u32 eflags);   // UCODE/UDATA, USTACK
void iret_to(struct iretf *f);               // entry.S

// ---- checks (check.c) ----
// Every check prints one line: "name: key=value ...", and " MISMATCH" when a field
// differs from what the guest expects (the SDM's rule, as read by the author).
#define ANY 0xfffffffeu
#define AT  1
#define NX  2
void begin(const char *name);
void field(const char *key, u32 v, int width, u32 want);  // width 0 = decimal
void field_hex(const char *key, u32 v, int width, u32 want);
void field_eip(u32 at, u32 nx, u32 want);                // prints at / next / raw
void end(void);
// "name: vec=.. [err=..] eip=at|next" for the last probe.
void trapline(const char *name, u32 at, u32 nx, u32 vec, u32 err, u32 eipk);
#define CHECK_TRAP(name, vec, err, eipk) \
  do { begin(#name); trapfields(name##_at, name##_nx, vec, err, eipk); end(); } while (0)
void trapfields(void *at, void *nx, u32 vec, u32 err, u32 eipk);
int has_err(u32 vec);
void finish(void) __attribute__((noreturn));
extern int checks, failed;

// A probe is a tiny asm function with two labels: NAME_at (the instruction under
// test) and NAME_nx (the one after).  PROBE returns to C; UPROBE runs at ring 3
// and ends with int $0x80.
#define PROBE(name, pre, insn, post)                                           \
  extern void name(void); extern char name##_at[], name##_nx[];               \
  asm(".text\n.p2align 4\n" #name ":\n" pre "\n" #name "_at:\n" insn "\n"     \
      #name "_nx:\n" post "\nret\n")
#define UPROBE(name, pre, insn, post)                                          \
  extern void name(void); extern char name##_at[], name##_nx[];               \
  asm(".text\n.p2align 4\n" #name ":\n" pre "\n" #name "_at:\n" insn "\n"     \
      #name "_nx:\n" post "\nint $0x80\n")
#endif
