#!/bin/sh
# Builds the real-CPU oracles, freestanding static Linux binaries without libc:
#   build/oracle/oracle    i386   (gcc -m32): the cases run in 32-bit mode, as recorded in the corpus
#   build/oracle/oracle64  x86-64 (gcc -m64): for hosts that cannot execute i386 binaries (a kernel without
#                          IA32 emulation); test/diff/oracle64.ts runs the cases that execute identically there
# Each is smoke-tested; one that cannot be built or does not run here is removed with a one-line warning and
# the script still exits 0 (the tests use whichever oracle runs, and skip the live cases with a reason if none).
cd "$(dirname "$0")/../.." || exit 0
out=build/oracle
mkdir -p "$out"
: >"$out/build.log"
case "$(uname -m)" in x86_64|i?86) ;; *)
  rm -f "$out/oracle" "$out/oracle64"
  echo "wasmvisor: oracle not built: host is $(uname -m), not x86 (differential tests against the real CPU will be skipped)" >&2
  exit 0;;
esac
CC=${CC:-gcc}
FLAGS="-O2 -ffreestanding -fno-builtin -nostdlib -static -fno-pic -no-pie -fno-stack-protector \
  -fno-asynchronous-unwind-tables -mgeneral-regs-only -Wall -Wl,--build-id=none"
# build NAME -mXX ENTRY LABEL
build() {
  rm -f "$out/$1"
  # shellcheck disable=SC2086
  if ! $CC "$2" $FLAGS -o "$out/$1.tmp" "tools/oracle/$3" tools/oracle/oracle.c >>"$out/build.log" 2>&1; then
    echo "wasmvisor: $out/$1 not built: $4 build failed (see $out/build.log)" >&2; rm -f "$out/$1.tmp"; return 1
  fi
  mv "$out/$1.tmp" "$out/$1"
  # smoke test: two cases with known results
  if ! node tools/oracle/smoke.mjs "$out/$1" >>"$out/build.log" 2>&1; then
    echo "wasmvisor: $out/$1 not usable: the $4 binary does not run correctly here (see $out/build.log)" >&2; rm -f "$out/$1"; return 1
  fi
  echo "wasmvisor: built $out/$1 ($4)"
}
n=0
build oracle -m32 entry.S i386 && n=$((n + 1))
build oracle64 -m64 entry64.S x86-64 && n=$((n + 1))
[ "$n" -gt 0 ] || echo "wasmvisor: no oracle runs here (differential tests against the real CPU will be skipped)" >&2
exit 0
