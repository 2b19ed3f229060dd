/* oracle.c — runs x86 test cases natively (user mode) and records the resulting state.
 * Freestanding: no libc, raw syscalls (see entry.S / entry64.S). Format: tools/oracle/README.md.
 * Built twice: -m32 (build/oracle/oracle, the cases run in 32-bit mode) and -m64 (build/oracle/oracle64, for
 * hosts that cannot execute i386 binaries: the cases run in 64-bit mode with 32-bit operands; which cases
 * execute identically there is decided by test/diff/oracle64.ts, which rewrites/skips them). */
typedef unsigned int u32;
typedef int i32;
typedef unsigned short u16;
typedef unsigned char u8;
typedef unsigned long uw;    /* a machine word: 4 bytes under -m32, 8 under -m64 */

#define CODE_BASE 0x00200000u
#define CODE_SIZE 0x2000u
#define SCRATCH_BASE 0x00300000u
#define SCRATCH_SIZE 0x2000u

#define IN_HDR 48
#define OUT_HDR 72
#define VEC_NONE 0xff
#define VEC_TIMEOUT 0xfe

#ifdef __x86_64__
#define NR_read 0
#define NR_write 1
#define NR_munmap 11
#define NR_setitimer 38
#define NR_rt_sigaction 13
#define NR_sigaltstack 131
#define NR_mmap2 9            /* mmap: same arguments, byte offset (always 0 here) */
#define NR_exit_group 231
#else
#define NR_read 3
#define NR_write 4
#define NR_munmap 91
#define NR_setitimer 104
#define NR_rt_sigaction 174
#define NR_sigaltstack 186
#define NR_mmap2 192
#define NR_exit_group 252
#endif

#define SIGILL 4
#define SIGTRAP 5
#define SIGBUS 7
#define SIGFPE 8
#define SIGSEGV 11
#define SIGALRM 14
#define SA_SIGINFO 0x4
#define SA_ONSTACK 0x08000000
#define SA_RESTORER 0x04000000

long sys6(long nr, long a, long b, long c, long d, long e, long f);
void run_case(void);
void resume_point(void);
void sig_restorer(void);

/* shared with entry.S */
u32 in_regs[8];
u32 in_eflags;
uw saved_esp;
uw entry_addr;

static volatile u32 in_case;     /* 1 while guest code runs */
static volatile u32 case_serial; /* bumps per case (watchdog) */
static u32 watchdog_seen = 0xffffffffu;

/* result of the current case, filled by the signal handler */
static u32 r_regs[8], r_eip, r_eflags, r_err, r_cr2, r_trapno, r_signo, r_done;
static u32 r_seg[6];          /* es cs ss ds fs gs after the case */
static u32 host_seg[6];       /* the process's own selectors, restored after each case */

static u8 ref[SCRATCH_SIZE];
static u8 altstack[65536] __attribute__((aligned(16)));

void *memcpy(void *d, const void *s, uw n) { u8 *a = d; const u8 *b = s; while (n--) *a++ = *b++; return d; }
void *memset(void *d, int c, uw n) { u8 *a = d; while (n--) *a++ = (u8)c; return d; }

static void wr(int fd, const void *p, u32 n) {
  const u8 *b = p;
  while (n) { long k = sys6(NR_write, fd, (long)b, (long)n, 0, 0, 0); if (k <= 0) sys6(NR_exit_group, 3, 0, 0, 0, 0, 0); b += k; n -= (u32)k; }
}
static u32 slen(const char *s) { u32 n = 0; while (s[n]) n++; return n; }
static void die(const char *m) { wr(2, "oracle: ", 8); wr(2, m, slen(m)); wr(2, "\n", 1); sys6(NR_exit_group, 2, 0, 0, 0, 0, 0); }

static void *map(u32 addr, u32 len, int prot, int fixed) {
  int flags = 0x22 | (fixed ? 0x100000 /* MAP_FIXED_NOREPLACE */ : 0);
  long r = sys6(NR_mmap2, (long)addr, (long)len, prot, flags, -1, 0);
  if ((uw)r >= (uw)-4096) return 0;
  if (fixed && (uw)r != addr) return 0;
  return (void *)r;
}

#ifdef __x86_64__
/* x86-64 ucontext: uc_flags, uc_link, uc_stack{sp,flags,size} (5 words), then struct sigcontext (words) */
enum { SC_R8, SC_R9, SC_R10, SC_R11, SC_R12, SC_R13, SC_R14, SC_R15, SC_EDI, SC_ESI, SC_EBP, SC_EBX, SC_EDX, SC_EAX,
       SC_ECX, SC_ESP, SC_EIP, SC_EFLAGS, SC_CSGSFS, SC_ERR, SC_TRAPNO, SC_OLDMASK, SC_CR2 };
#else
/* i386 ucontext: uc_flags, uc_link, uc_stack{sp,flags,size}, then struct sigcontext */
enum { SC_GS, SC_FS, SC_ES, SC_DS, SC_EDI, SC_ESI, SC_EBP, SC_ESP, SC_EBX, SC_EDX, SC_ECX, SC_EAX,
       SC_TRAPNO, SC_ERR, SC_EIP, SC_CS, SC_EFLAGS, SC_ESP_AT_SIGNAL, SC_SS, SC_FPSTATE, SC_OLDMASK, SC_CR2 };
#endif

static void handler(int sig, void *info, void *ucv) {
  (void)info;
  uw *sc = (uw *)ucv + 5;
  if (!in_case) {
    if (sig == SIGALRM) return;
    die("fault outside a test case (oracle bug)");
  }
  if (sig == SIGALRM) {
    if (watchdog_seen != case_serial) { watchdog_seen = case_serial; return; }
    r_signo = sig; r_trapno = VEC_TIMEOUT;
  } else {
    r_signo = (u32)sig; r_trapno = sc[SC_TRAPNO];
  }
  /* the low 32 bits: the cases use 32-bit (and narrower) operands only */
  r_regs[0] = (u32)sc[SC_EAX]; r_regs[1] = (u32)sc[SC_ECX]; r_regs[2] = (u32)sc[SC_EDX]; r_regs[3] = (u32)sc[SC_EBX];
  r_regs[4] = (u32)sc[SC_ESP]; r_regs[5] = (u32)sc[SC_EBP]; r_regs[6] = (u32)sc[SC_ESI]; r_regs[7] = (u32)sc[SC_EDI];
  r_eip = (u32)sc[SC_EIP]; r_eflags = (u32)sc[SC_EFLAGS]; r_err = (u32)sc[SC_ERR]; r_cr2 = (u32)sc[SC_CR2];
#ifdef __x86_64__
  /* cs, gs, fs, ss packed in one word; ES/DS are not in a 64-bit sigcontext (the cases that load or read
   * segment registers are not run by the 64-bit oracle, see test/diff/oracle64.ts) */
  r_seg[0] = host_seg[0]; r_seg[1] = sc[SC_CSGSFS] & 0xffff; r_seg[2] = (sc[SC_CSGSFS] >> 48) & 0xffff;
  r_seg[3] = host_seg[3]; r_seg[4] = (sc[SC_CSGSFS] >> 32) & 0xffff; r_seg[5] = (sc[SC_CSGSFS] >> 16) & 0xffff;
#else
  r_seg[0] = sc[SC_ES] & 0xffff; r_seg[1] = sc[SC_CS] & 0xffff; r_seg[2] = sc[SC_SS] & 0xffff;
  r_seg[3] = sc[SC_DS] & 0xffff; r_seg[4] = sc[SC_FS] & 0xffff; r_seg[5] = sc[SC_GS] & 0xffff;
  /* the case may have loaded data segment registers (mov sreg / pop sreg): give the host its own back */
  sc[SC_ES] = host_seg[0]; sc[SC_SS] = host_seg[2]; sc[SC_DS] = host_seg[3]; sc[SC_FS] = host_seg[4]; sc[SC_GS] = host_seg[5];
#endif
  r_done = 1;
  in_case = 0;
  sc[SC_EIP] = (uw)resume_point;
  sc[SC_ESP] = saved_esp;
  sc[SC_EFLAGS] = 0x202;
}

struct ksigaction { void *h; uw flags; void *restorer; u32 mask[2]; };

static void install(int sig) {
  struct ksigaction sa;
  sa.h = (void *)handler; sa.flags = SA_SIGINFO | SA_ONSTACK | SA_RESTORER; sa.restorer = (void *)sig_restorer;
  sa.mask[0] = 0; sa.mask[1] = 0;
  if (sys6(NR_rt_sigaction, sig, (long)&sa, 0, 8, 0, 0) != 0) die("rt_sigaction failed");
}

static inline u32 ld32(const u8 *p) { return p[0] | (p[1] << 8) | (p[2] << 16) | ((u32)p[3] << 24); }
static inline u16 ld16(const u8 *p) { return (u16)(p[0] | (p[1] << 8)); }
static inline void st32(u8 *p, u32 v) { p[0] = (u8)v; p[1] = (u8)(v >> 8); p[2] = (u8)(v >> 16); p[3] = (u8)(v >> 24); }
static inline void st16(u8 *p, u32 v) { p[0] = (u8)v; p[1] = (u8)(v >> 8); }

/* the scratch fill: xorshift32 from the case's seed, one u32 per 4 bytes (little-endian) */
static void fill_scratch(u32 seed, u32 *dst) {
  u32 x = seed ? seed : 0x9e3779b9u;
  for (u32 i = 0; i < SCRATCH_SIZE / 4; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; dst[i] = x; }
}

static u8 *inbuf; static u32 inlen, incap;
static u8 *outbuf; static u32 outlen, outcap;

static u8 *grow(u8 *old, u32 used, u32 *cap, u32 need) {
  if (need <= *cap) return old;
  u32 nc = *cap ? *cap : (1u << 20);
  while (nc < need) nc *= 2;
  u8 *n = map(0, nc, 3, 0);
  if (!n) die("out of memory");
  if (old) { memcpy(n, old, used); sys6(NR_munmap, (long)old, (long)*cap, 0, 0, 0, 0); }
  *cap = nc;
  return n;
}

int oracle_main(void) {
  u8 *code = map(CODE_BASE, CODE_SIZE, 7, 1);
  u8 *scratch = map(SCRATCH_BASE, SCRATCH_SIZE, 3, 1);
  if (!code || !scratch) die("cannot map the code/scratch pages at their fixed addresses");
  memset(code, 0xcc, CODE_SIZE);
  {
    u32 v;
    __asm__ volatile("mov %%es, %0" : "=r"(v)); host_seg[0] = v & 0xffff;
    __asm__ volatile("mov %%cs, %0" : "=r"(v)); host_seg[1] = v & 0xffff;
    __asm__ volatile("mov %%ss, %0" : "=r"(v)); host_seg[2] = v & 0xffff;
    __asm__ volatile("mov %%ds, %0" : "=r"(v)); host_seg[3] = v & 0xffff;
    __asm__ volatile("mov %%fs, %0" : "=r"(v)); host_seg[4] = v & 0xffff;
    __asm__ volatile("mov %%gs, %0" : "=r"(v)); host_seg[5] = v & 0xffff;
  }

  struct { void *sp; int flags; uw size; } ss = { altstack, 0, sizeof altstack };
  if (sys6(NR_sigaltstack, (long)&ss, 0, 0, 0, 0, 0) != 0) die("sigaltstack failed");
  install(SIGTRAP); install(SIGSEGV); install(SIGILL); install(SIGFPE); install(SIGBUS); install(SIGALRM);
  long itv[4] = { 0, 200000, 0, 200000 }; /* 200 ms watchdog: a case alive across two ticks is a hang */
  sys6(NR_setitimer, 0, (long)itv, 0, 0, 0, 0);

  for (;;) {
    inbuf = grow(inbuf, inlen, &incap, inlen + 65536);
    long k = sys6(NR_read, 0, (long)(inbuf + inlen), (long)(incap - inlen), 0, 0, 0);
    if (k < 0) die("read failed");
    if (k == 0) break;
    inlen += (u32)k;
  }

  u32 pos = 0, ncases = 0;
  u32 prev_off = 0, prev_len = 0;
  while (pos + IN_HDR <= inlen) {
    const u8 *c = inbuf + pos;
    u32 reclen = ld16(c), codelen = c[2], npatch = c[3];
    if (reclen < IN_HDR + codelen || pos + reclen > inlen) die("malformed case record");
    u32 codeoff = ld16(c + 44);
    if (codeoff + codelen > CODE_SIZE) die("code does not fit the code page");
    for (u32 i = 0; i < 8; i++) in_regs[i] = ld32(c + 4 + 4 * i);
    in_eflags = (ld32(c + 36) & 0x0cd5u) | 0x202u;
    u32 seed = ld32(c + 40);

    /* code page: int3 everywhere but the instruction */
    memset(code + prev_off, 0xcc, prev_len);
    memcpy(code + codeoff, c + IN_HDR, codelen);
    prev_off = codeoff; prev_len = codelen;
    entry_addr = CODE_BASE + codeoff;

    /* scratch: seed fill, then patches */
    fill_scratch(seed, (u32 *)ref);
    const u8 *p = c + IN_HDR + codelen;
    for (u32 i = 0; i < npatch; i++) {
      u32 off = ld16(p), len = ld16(p + 2);
      if (off + len > SCRATCH_SIZE || p + 4 + len > c + reclen) die("bad patch");
      memcpy(ref + off, p + 4, len);
      p += 4 + len;
    }
    memcpy(scratch, ref, SCRATCH_SIZE);

    r_done = 0;
    case_serial++;
    in_case = 1;
    run_case();
    in_case = 0;
    if (!r_done) die("case returned without a signal");

    /* result */
    outbuf = grow(outbuf, outlen, &outcap, outlen + OUT_HDR + 4 * SCRATCH_SIZE);
    u8 *o = outbuf + outlen;
    u32 vec, eip = r_eip - CODE_BASE;
    if (r_signo == SIGTRAP && r_trapno == 3 && !(eip - 1 >= codeoff && eip - 1 < codeoff + codelen) &&
        eip - 1 < CODE_SIZE && code[eip - 1] == 0xcc) {
      vec = VEC_NONE; eip -= 1;           /* ran into the int3 filler: normal completion */
    } else {
      vec = r_trapno & 0xff;
    }
    o[2] = (u8)vec; o[3] = (u8)r_signo;
    for (u32 i = 0; i < 8; i++) st32(o + 4 + 4 * i, r_regs[i]);
    st32(o + 36, eip); st32(o + 40, r_eflags); st32(o + 44, r_err); st32(o + 48, r_cr2);
    u32 n = 0;
    const u32 *a = (const u32 *)scratch, *b = (const u32 *)ref;
    for (u32 i = 0; i < SCRATCH_SIZE / 4; i++) {
      if (a[i] == b[i]) continue;
      for (u32 j = 0; j < 4; j++) {
        u32 off = i * 4 + j;
        if (scratch[off] != ref[off]) { u8 *e = o + OUT_HDR + 4 * n; st16(e, off); e[2] = scratch[off]; e[3] = 0; n++; }
      }
    }
    st16(o + 52, n); st16(o + 54, 0);
    for (u32 i = 0; i < 6; i++) st16(o + 56 + 2 * i, r_seg[i]);
    st32(o + 68, 0);
    st16(o, OUT_HDR + 4 * n > 0xffff ? 0xffff : OUT_HDR + 4 * n);
    outlen += OUT_HDR + 4 * n;
    if (outlen > (8u << 20)) { wr(1, outbuf, outlen); outlen = 0; }
    pos += reclen;
    ncases++;
  }
  if (pos != inlen) die("trailing garbage in the input");
  wr(1, outbuf, outlen);
  return 0;
}
