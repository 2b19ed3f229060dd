#!/bin/sh
# Builds every guest: runs each guests/<part>/build.sh (kit, workloads, tests, peers...).
# Output goes to build/guests/. Needs gcc/as/ld with 32-bit (i386) support.
set -e
cd "$(dirname "$0")/.."
if ! echo 'int x;' | gcc -m32 -ffreestanding -c -x c - -o /dev/null 2>/dev/null; then
  echo "wasmvisor: gcc cannot build 32-bit code (gcc -m32 failed); install gcc with i386 support (e.g. apt-get install gcc-multilib)" >&2
  exit 1
fi
mkdir -p build/guests
for b in guests/*/build.sh; do
  [ -f "$b" ] || continue
  sh "$b"
done
