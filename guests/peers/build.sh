#!/bin/sh
# guests/peers/build.sh [R ...] -- builds the shared peer workload (origin: /work/shared/peers, written for
# this project) for each outer-repetition count R:
#   $OUT/guest-R.elf  multiboot v1 ELF guest (prints BEGIN, RESULT <crc> REPS R on COM1, exits via port 0xf4)
#   $OUT/guest-paging-R.elf  the same guest with paging on (kernel-paging.S: 4 KiB pages, identity map of 16 MiB)
#   $OUT/native-R     the same workload as a static i386 Linux process (the reference RESULT line and speed)
#   $OUT/native64-R   the same workload as a static x86-64 Linux process (native64.S: the same 32-bit-operand
#                     loop), the reference on hosts that cannot execute i386 binaries (scripts/host-arch.mjs)
# Default R: 1 10. Default OUT: build/guests/peers (scripts/bench.mjs uses OUT=build/bench for other lengths).
# Needs gcc with 32-bit (-m32) support and GNU ld. Skips targets that are newer than their sources.
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${OUT:-$ROOT/build/guests/peers}"
mkdir -p "$OUT"
[ $# -ge 1 ] || set -- 1 10
for R in "$@"; do
  case "$R" in ''|*[!0-9]*) echo "guests/peers/build.sh: REPS must be a positive integer, got '$R'" >&2; exit 2 ;; esac
  G="$OUT/guest-$R.elf" N="$OUT/native-$R" P="$OUT/guest-paging-$R.elf" N64="$OUT/native64-$R"
  fresh=1
  for s in "$HERE/workload.S" "$HERE/kernel.S" "$HERE/kernel-paging.S" "$HERE/kernel.ld" "$HERE/native.S" "$HERE/native64.S" "$HERE/build.sh"; do
    for t in "$G" "$N" "$P" "$N64"; do
      if [ ! -f "$t" ] || [ "$s" -nt "$t" ]; then fresh=0; fi
    done
  done
  [ "$fresh" = 1 ] && continue
  gcc -m32 -ffreestanding -nostdlib -fno-pic -c -DREPS="$R" -DREPS_STR="\"$R\"" -I"$HERE" "$HERE/kernel.S" -o "$OUT/kernel-$R.o"
  ld -m elf_i386 -T "$HERE/kernel.ld" -z max-page-size=0x1000 --build-id=none --no-warn-rwx-segments -o "$G" "$OUT/kernel-$R.o"
  gcc -m32 -ffreestanding -nostdlib -fno-pic -c -DREPS="$R" -DREPS_STR="\"$R\"" -I"$HERE" "$HERE/kernel-paging.S" -o "$OUT/kernel-paging-$R.o"
  ld -m elf_i386 -T "$HERE/kernel.ld" -z max-page-size=0x1000 --build-id=none --no-warn-rwx-segments -o "$P" "$OUT/kernel-paging-$R.o"
  gcc -m32 -ffreestanding -nostdlib -fno-pic -c -DREPS="$R" -DREPS_STR="\"$R\"" -I"$HERE" "$HERE/native.S" -o "$OUT/native-$R.o"
  ld -m elf_i386 -static --build-id=none -o "$N" "$OUT/native-$R.o"
  gcc -m64 -ffreestanding -nostdlib -fno-pic -c -DREPS="$R" -DREPS_STR="\"$R\"" -I"$HERE" "$HERE/native64.S" -o "$OUT/native64-$R.o"
  ld -m elf_x86_64 -static --build-id=none -o "$N64" "$OUT/native64-$R.o"
  rm -f "$OUT/kernel-$R.o" "$OUT/kernel-paging-$R.o" "$OUT/native-$R.o" "$OUT/native64-$R.o"
done
