// check.c -- one line per check: raw observed values, then " MISMATCH" if any
// differs from the value the guest expects (its author's reading of the SDM).
// The fixture comparison (QEMU's output, or an SDM-derived expected file) is the
// real test; the marks make a run readable on its own.
#include "lib.h"

int checks, failed;
static int bad;

void begin(const char *name) { bad = 0; printf("%s:", name); }

void field(const char *key, u32 v, int width, u32 want) {
  printf(" %s=", key);
  if (v == NONE) puts("none");
  else putnum(v, width ? 16 : 10, width);
  if (want != ANY && v != want) bad = 1;
}

// Raw hex, no "none" (for values that may legitimately be 0xffffffff).
void field_hex(const char *key, u32 v, int width, u32 want) {
  printf(" %s=", key);
  putnum(v, 16, width);
  if (want != ANY && v != want) bad = 1;
}

// The saved EIP, relative to the probe's labels: "at" (the instruction under
// test: a fault), "next" (the one after: a trap), or the raw address.
void field_eip(u32 at, u32 nx, u32 want) {
  u32 k = R.eip == at ? AT : R.eip == nx ? NX : 0;
  puts(" eip=");
  if (k == AT) puts("at");
  else if (k == NX) puts("next");
  else if (R.eip == NONE) puts("none");
  else putnum(R.eip, 16, 8);
  if (want != ANY && k != want) bad = 1;
}

void end(void) {
  if (bad) { puts(" MISMATCH"); failed++; }
  putc('\n');
  checks++;
}

int has_err(u32 v) { return v == 8 || (v >= 10 && v <= 14) || v == 17; }

void trapfields(void *at, void *nx, u32 vec, u32 err, u32 eipk) {
  field("vec", R.vec, 0, vec);
  if (R.vec != NONE && has_err(R.vec)) field("err", R.err, 4, err);
  if (R.vec != NONE && eipk != ANY) field_eip((u32)at, (u32)nx, eipk);
}

void trapline(const char *name, u32 at, u32 nx, u32 vec, u32 err, u32 eipk) {
  begin(name); trapfields((void *)at, (void *)nx, vec, err, eipk); end();
}

void finish(void) {
  printf("failed: %d\n", failed);
  printf("DONE %d checks\n", checks);
  exit_qemu(failed);
}
