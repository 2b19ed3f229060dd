// apic.c -- an SMP-style PC platform check (the hardware a teaching OS such as xv6 expects):
// finds the Intel MP tables by the MP spec 1.4 §5.1 search, reads the local/I/O APIC addresses from them,
// masks the 8259s, runs the local APIC timer in periodic mode, routes ISA IRQs 1, 4, 8 and 14 through the
// I/O APIC, reads sectors from the IDE primary slave, reads the CMOS RTC and talks to the 8042.
// Prints what it found (only values that do not depend on the emulator or on time) and exits through
// isa-debug-exit: 0 when every check passed. Runs the same under QEMU (fixtures/apic/apic.out).
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

static inline void outb(u16 p, u8 v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(p)); }
static inline u8 inb(u16 p) { u8 v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline u16 inw(u16 p) { u16 v; asm volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }

// ---------------------------------------------------------------- console
static void putc(int c) { while (!(inb(0x3fd) & 0x20)) ; outb(0x3f8, (u8)c); }
static void puts(const char *s) { while (*s) putc(*s++); }
static void putnum(u32 v, int base, int width) {
  char b[12]; int n = 0;
  do { b[n++] = "0123456789abcdef"[v % base]; v /= base; } while (v);
  while (n < width) b[n++] = '0';
  while (n) putc(b[--n]);
}
static void printf(const char *fmt, ...) {
  u32 *ap = (u32 *)&fmt + 1;
  for (; *fmt; fmt++) {
    if (*fmt != '%') { putc(*fmt); continue; }
    int w = 0; fmt++;
    while (*fmt >= '0' && *fmt <= '9') w = w * 10 + (*fmt++ - '0');
    switch (*fmt) {
    case 's': puts((const char *)*ap++); break;
    case 'd': putnum(*ap++, 10, w); break;
    case 'x': putnum(*ap++, 16, w); break;
    default: putc(*fmt);
    }
  }
}
static int failures;
static void check(int ok, const char *what) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) failures++;
}
static void finish(void) __attribute__((noreturn));
static void finish(void) {
  printf("apic: %d failures\n", failures);
  outb(0xf4, failures ? 1 : 0);
  for (;;) asm volatile("cli; hlt");
}

// ---------------------------------------------------------------- MP tables (MP spec 1.4 §4, §5.1)
struct mpfp { u8 sig[4]; u32 physaddr; u8 length, specrev, checksum, type, imcrp, reserved[3]; };
struct mpconf { u8 sig[4]; u16 length; u8 version, checksum; u8 oem[8], product[12]; u32 oemtable; u16 oemlength, entries; u32 lapic; u16 xlength; u8 xchecksum, reserved; };

static u8 sum(const u8 *p, u32 n) { u8 s = 0; while (n--) s += *p++; return s; }
static struct mpfp *scan(u32 a, u32 len) {
  for (u32 p = a; p + 16 <= a + len; p += 16) {
    const u8 *b = (const u8 *)p;
    if (b[0] == '_' && b[1] == 'M' && b[2] == 'P' && b[3] == '_' && sum(b, 16) == 0) return (struct mpfp *)p;
  }
  return 0;
}
static struct mpfp *mpsearch(void) {
  const u8 *bda = (const u8 *)0x400;
  struct mpfp *mp;
  u32 ebda = (u32)((bda[0x0f] << 8) | bda[0x0e]) << 4;
  if (ebda && (mp = scan(ebda, 1024))) return mp;
  u32 base = (u32)((bda[0x14] << 8) | bda[0x13]) * 1024;
  if (base >= 1024 && (mp = scan(base - 1024, 1024))) return mp;
  return scan(0xf0000, 0x10000);
}

static volatile u32 *lapic;
static volatile u32 *ioapic;
static int ioapic_id = -1, irq_pin[16], nproc, nbus_isa;

static u32 lapic_r(int reg) { return lapic[reg / 4]; }
static void lapic_w(int reg, u32 v) { lapic[reg / 4] = v; (void)lapic[0x20 / 4]; }
static u32 ioapic_r(int reg) { ioapic[0] = reg; return ioapic[4]; }
static void ioapic_w(int reg, u32 v) { ioapic[0] = reg; ioapic[4] = v; }
static void route(int irq, int vector) {
  int pin = irq_pin[irq] >= 0 ? irq_pin[irq] : irq;
  ioapic_w(0x10 + 2 * pin, vector);      // fixed, physical, edge, active high, unmasked
  ioapic_w(0x10 + 2 * pin + 1, 0u << 24); // to APIC ID 0
}

// ---------------------------------------------------------------- interrupts
enum { V_TIMER = 0x40, V_ERROR = 0x41, V_SPURIOUS = 0xff, V_KBD = 0x21, V_COM1 = 0x24, V_RTC = 0x28, V_IDE = 0x2e };
static volatile int ticks, com1_irqs, ide_irqs, rtc_irqs, kbd_irqs, spurious, rtc_c_flags;
static volatile u8 kbd_byte;
static volatile u32 isr_at_ide;

void trap(u32 v) {
  switch (v) {
  case V_TIMER: ticks++; break;
  case V_COM1: {
    u8 iir = inb(0x3fa);
    if ((iir & 0x0f) == 0x02) { com1_irqs++; outb(0x3f9, 0); } // THRE: stop it
    break;
  }
  case V_IDE: ide_irqs++; isr_at_ide = lapic_r(0x100 + 0x10 * (V_IDE / 32)); (void)inb(0x1f7); break;
  case V_RTC: rtc_irqs++; outb(0x70, 0x0c); rtc_c_flags |= inb(0x71); break;
  case V_KBD: kbd_irqs++; kbd_byte = inb(0x60); break;
  case V_SPURIOUS: spurious++; return; // no EOI for the spurious vector
  default:
    printf("unexpected interrupt/exception %d\n", v);
    failures++;
    finish();
  }
  lapic_w(0xb0, 0); // EOI
}

static void wait_for(volatile int *counter, int n) {
  for (int spins = 0; *counter < n && spins < 200000; spins++) asm volatile("sti; hlt; cli");
}

// ---------------------------------------------------------------- IDE (primary channel, device 1)
static int ide_wait(void) {
  for (int i = 0; i < 1000000; i++) {
    u8 s = inb(0x1f7);
    if ((s & 0xc0) == 0x40) return s;
  }
  return -1;
}
static int ide_read(u32 lba, u8 *buf) {
  int before = ide_irqs;
  outb(0x3f6, 0); // nIEN = 0
  outb(0x1f6, 0xe0 | 0x10 | ((lba >> 24) & 0x0f));
  if (ide_wait() < 0) return -1;
  outb(0x1f2, 1);
  outb(0x1f3, lba); outb(0x1f4, lba >> 8); outb(0x1f5, lba >> 16);
  outb(0x1f7, 0x20); // READ SECTORS
  wait_for((volatile int *)&ide_irqs, before + 1);
  if (ide_irqs != before + 1) return -2;
  if (!(inb(0x3f6) & 0x08)) return -3; // DRQ
  for (int i = 0; i < 256; i++) { u16 w = inw(0x1f0); buf[2 * i] = w; buf[2 * i + 1] = w >> 8; }
  return (inb(0x1f7) & 0x89) == 0 ? 0 : -4; // no BSY/DRQ/ERR after the block
}

// ---------------------------------------------------------------- RTC
static u8 cmos(u8 r) { outb(0x70, r); return inb(0x71); }
static u32 bcd(u32 v, int binary) { return binary ? v : (v >> 4) * 10 + (v & 15); }

// ---------------------------------------------------------------- 8042
static int kbc_out(void) { for (int i = 0; i < 100000; i++) if (inb(0x64) & 1) return inb(0x60); return -1; }
static void kbc_cmd(u8 c) { while (inb(0x64) & 2) ; outb(0x64, c); }
static void kbc_data(u8 d) { while (inb(0x64) & 2) ; outb(0x60, d); }

static u8 sector[512];

void main(void) {
  for (int i = 0; i < 16; i++) irq_pin[i] = -1;
  printf("apic: SMP platform check\n");

  // ---- MP tables
  struct mpfp *mp = mpsearch();
  check(mp != 0, "MP floating pointer found by the 5.1 search");
  if (!mp) finish();
  check(mp->physaddr != 0 && mp->type == 0, "floating pointer: configuration table present");
  struct mpconf *c = (struct mpconf *)mp->physaddr;
  check(c->sig[0] == 'P' && c->sig[1] == 'C' && c->sig[2] == 'M' && c->sig[3] == 'P', "configuration table signature PCMP");
  check(sum((u8 *)c, c->length) == 0, "configuration table checksum");
  check(c->version == 1 || c->version == 4, "spec revision 1.1 or 1.4");
  printf("mp: local APIC at %x\n", c->lapic);
  lapic = (volatile u32 *)c->lapic;
  const u8 *e = (const u8 *)(c + 1);
  u32 ioapic_addr = 0;
  int bsp_id = -1;
  for (int i = 0; i < c->entries; i++) {
    switch (*e) {
    case 0: nproc++; if (e[3] & 2) bsp_id = e[1]; e += 20; break;
    case 1: if (e[2] == 'I' && e[3] == 'S' && e[4] == 'A') nbus_isa++; e += 8; break;
    case 2: if (e[3] & 1) { ioapic_id = e[1]; ioapic_addr = *(const u32 *)(e + 4); } e += 8; break;
    case 3: if (e[1] == 0 && e[5] < 16) irq_pin[e[5]] = e[7]; e += 8; break;
    case 4: e += 8; break;
    default: check(0, "known entry types"); finish();
    }
  }
  printf("mp: %d processor(s), ISA bus %s, I/O APIC at %x\n", nproc, nbus_isa ? "yes" : "no", ioapic_addr);
  printf("mp: ISA IRQ -> I/O APIC pin: 0->%d 1->%d 4->%d 8->%d 14->%d\n", irq_pin[0], irq_pin[1], irq_pin[4], irq_pin[8], irq_pin[14]);
  check(ioapic_addr != 0, "an enabled I/O APIC");
  ioapic = (volatile u32 *)ioapic_addr;

  u32 eax = 1, ebx, ecx = 0, edx;
  asm volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
  check((edx >> 9) & 1, "CPUID.1:EDX.APIC (on-chip local APIC)");
  check(((ebx >> 24) & 0xff) == (u32)bsp_id, "CPUID.1:EBX initial APIC ID = the BSP's APIC ID");

  // ---- 8259s: initialise (vectors 0x20/0x28) and mask everything
  outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
  outb(0xa0, 0x11); outb(0xa1, 0x28); outb(0xa1, 0x02); outb(0xa1, 0x01);
  outb(0x21, 0xff); outb(0xa1, 0xff);

  // ---- local APIC
  u32 id = lapic_r(0x20) >> 24, ver = lapic_r(0x30);
  check(id == (u32)bsp_id, "local APIC ID = the bootstrap processor's APIC ID in the MP table");
  printf("lapic: version %x, %d LVT entries\n", ver & 0xff, ((ver >> 16) & 0xff) + 1);
  lapic_w(0xf0, 0x100 | V_SPURIOUS);       // SVR: enable
  lapic_w(0x350, 0x10000);                 // LINT0 masked
  lapic_w(0x360, 0x10000);                 // LINT1 masked
  lapic_w(0x370, V_ERROR);                 // error LVT
  lapic_w(0x280, 0); lapic_w(0x280, 0);    // clear ESR
  lapic_w(0xb0, 0);                        // EOI anything pending
  lapic_w(0x310, 0); lapic_w(0x300, 0x00088500); // INIT level de-assert, all including self (as xv6 does)
  check(!(lapic_r(0x300) & 0x1000), "ICR delivery status idle");
  lapic_w(0x80, 0);                        // TPR 0
  lapic_w(0x3e0, 0x3);                     // divide by 16
  lapic_w(0x320, 0x20000 | V_TIMER);       // periodic
  lapic_w(0x380, 100000);
  u32 ccr1 = lapic_r(0x390);
  check(ccr1 > 0 && ccr1 <= 100000, "timer current count runs below the initial count");
  wait_for(&ticks, 5);
  lapic_w(0x320, 0x10000);                 // mask the timer
  lapic_w(0x380, 0);                       // and stop it
  check(ticks >= 5, "5 periodic timer interrupts with EOI");
  check(lapic_r(0x390) == 0, "timer stopped: current count 0");

  // TPR blocks a self-IPI of a lower priority class until lowered
  lapic_w(0x80, 0x50);
  lapic_w(0x300, 0x00040000 | V_TIMER);    // self IPI, vector 0x40 (class 4 <= 5)
  int t0 = ticks;
  asm volatile("sti; nop; nop; cli");
  check(ticks == t0, "TPR 0x50 holds back vector 0x40");
  check((lapic_r(0x200 + 0x10 * (V_TIMER / 32)) >> (V_TIMER % 32)) & 1, "... which waits in the IRR");
  lapic_w(0x80, 0);
  asm volatile("sti; nop; nop; cli");
  check(ticks == t0 + 1, "TPR 0 lets it through");

  // ---- I/O APIC
  u32 iover = ioapic_r(1);
  printf("ioapic: %d redirection entries\n", ((iover >> 16) & 0xff) + 1);
  check((ioapic_r(0) >> 24 & 0x0f) == (u32)ioapic_id, "I/O APIC ID register = the MP table's I/O APIC ID");
  check((ioapic_r(0x10 + 2 * 4) & 0x10000) != 0, "redirection entries start masked");

  // COM1 (IRQ 4): the THRE interrupt fires as soon as it is enabled
  route(4, V_COM1);
  outb(0x3fc, 0x08);  // MCR.OUT2: IRQ line enabled
  outb(0x3f9, 0x02);  // IER: THRE
  wait_for(&com1_irqs, 1);
  check(com1_irqs == 1, "COM1 THRE interrupt through I/O APIC pin 4");
  outb(0x3fc, 0x00);

  // ---- IDE primary slave (IRQ 14)
  route(14, V_IDE);
  outb(0x1f6, 0xb0);
  int present = 0;
  for (int i = 0; i < 1000; i++) if (inb(0x1f7) != 0) { present = 1; break; }
  check(present, "disk on the primary slave (status non-zero with DEV=1)");
  int r = ide_read(0, sector);
  check(r == 0, "READ SECTORS from device 1, LBA 0, one IRQ 14");
  check((isr_at_ide >> (V_IDE % 32)) & 1, "vector 0x2e was in service in the handler (ISR bit)");
  sector[40] = 0;
  printf("ide: sector 0: %s\n", (char *)sector);
  r = ide_read(3, sector);
  sector[40] = 0;
  check(r == 0, "READ SECTORS from device 1, LBA 3");
  printf("ide: sector 3: %s\n", (char *)sector);
  printf("ide: %d interrupts\n", ide_irqs);

  // ---- RTC (CMOS 0x70/0x71)
  u8 b = cmos(0x0b);
  int binary = (b & 4) != 0, h24 = (b & 2) != 0;
  printf("rtc: register B: binary %d, 24-hour %d\n", binary, h24);
  u32 sec, min, hour, day, mon, year;
  for (;;) {
    while (cmos(0x0a) & 0x80) ; // update in progress
    sec = cmos(0); min = cmos(2); hour = cmos(4); day = cmos(7); mon = cmos(8); year = cmos(9);
    if (!(cmos(0x0a) & 0x80) && cmos(0) == sec) break;
  }
  sec = bcd(sec, binary); min = bcd(min, binary); hour = bcd(hour, binary);
  day = bcd(day, binary); mon = bcd(mon, binary); year = bcd(year, binary);
  check(sec < 60 && min < 60 && hour < 24 && day >= 1 && day <= 31 && mon >= 1 && mon <= 12 && year < 100, "RTC fields in range");
  printf("rtc: 20%02d-%02d-%02d %02d:%02d\n", year, mon, day, hour, min);
  check(cmos(0x0d) & 0x80, "register D: valid RAM and time");
  // periodic interrupt (RS = 6: 1024 Hz) on IRQ 8
  (void)cmos(0x0c);
  route(8, V_RTC);
  outb(0x70, 0x0a); outb(0x71, (cmos(0x0a) & 0xf0) | 0x06);
  outb(0x70, 0x0b); outb(0x71, b | 0x40);
  wait_for(&rtc_irqs, 3);
  outb(0x70, 0x0b); outb(0x71, b);
  (void)cmos(0x0c);
  check(rtc_irqs >= 3 && (rtc_c_flags & 0xc0) == 0xc0, "3 RTC periodic interrupts (register C: IRQF|PF) through pin 8");

  // ---- 8042
  kbc_cmd(0xad); // keyboard off while we talk to the controller
  while (inb(0x64) & 1) (void)inb(0x60);
  kbc_cmd(0xaa);
  check(kbc_out() == 0x55, "8042 self test 55h");
  kbc_cmd(0xab);
  check(kbc_out() == 0x00, "8042 keyboard interface test 00h");
  kbc_cmd(0x20);
  int cb = kbc_out();
  check(cb >= 0, "8042 command byte read");
  kbc_cmd(0x60); kbc_data((cb & ~0x02) | 0x01); // keyboard interrupt on, aux interrupt off
  kbc_cmd(0xae);
  route(1, V_KBD);
  kbc_cmd(0xd2); kbc_data(0x5a); // "keyboard" sends 5Ah: IRQ 1
  wait_for(&kbd_irqs, 1);
  check(kbd_irqs == 1 && kbd_byte == 0x5a, "IRQ 1 through I/O APIC pin 1 delivers the byte written with D2h");

  // ---- final state
  lapic_w(0x280, 0);
  check(lapic_r(0x280) == 0, "ESR clear (no APIC errors)");
  check(spurious == 0, "no spurious interrupts");
  finish();
}
