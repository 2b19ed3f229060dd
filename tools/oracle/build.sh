#!/bin/sh
# Builds the real-CPU oracle (build/oracle/oracle): a freestanding 32-bit static Linux binary, no libc.
# If this machine cannot build or run 32-bit x86 code, prints a one-line warning and exits 0
# (the differential tests then skip with a reason).
cd "$(dirname "$0")/../.." || exit 0
out=build/oracle
mkdir -p "$out"
rm -f "$out/oracle"
warn() { echo "wasmvisor: oracle not built: $1 (differential tests against the real CPU will be skipped)" >&2; rm -f "$out/oracle"; exit 0; }
case "$(uname -m)" in x86_64|i?86) ;; *) warn "host is $(uname -m), not x86";; esac
CC=${CC:-gcc}
$CC -m32 -O2 -ffreestanding -fno-builtin -nostdlib -static -fno-pic -no-pie -fno-stack-protector \
    -fno-asynchronous-unwind-tables -mgeneral-regs-only -Wall -Wl,--build-id=none \
    -o "$out/oracle.tmp" tools/oracle/entry.S tools/oracle/oracle.c 2>"$out/build.log" \
  || warn "32-bit build failed (see $out/build.log)"
mv "$out/oracle.tmp" "$out/oracle"
# smoke test: one case (nop) must come back as a completion record
if ! node tools/oracle/smoke.mjs "$out/oracle" >>"$out/build.log" 2>&1; then
  warn "the 32-bit binary does not run correctly here (see $out/build.log)"
fi
echo "wasmvisor: built $out/oracle"
