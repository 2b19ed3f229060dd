#!/bin/sh
# guests/bench/build.sh -- the trap round-trip guests for scripts/bench (guests/bench/trap.S):
#   build/guests/bench/trap-{cli,in,pushf,vmcall,ptemod}.elf
# (build/guests/bench/ also holds diskbench-*.elf from guests/workloads/build.sh: left alone.)
set -e
cd "$(dirname "$0")/../.."
OUT=build/guests/bench
mkdir -p $OUT
for kind in cli in pushf vmcall ptemod; do
  K=$(echo $kind | tr a-z A-Z)
  gcc -m32 -ffreestanding -nostdlib -fno-pic -DKIND_$K -c guests/bench/trap.S -o $OUT/trap-$kind.o
  ld -m elf_i386 -T guests/peers/kernel.ld -z max-page-size=0x1000 --build-id=none --no-warn-rwx-segments -o $OUT/trap-$kind.elf $OUT/trap-$kind.o
  rm -f $OUT/trap-$kind.o
done
echo "bench: built $(ls $OUT/trap-*.elf | tr '\n' ' ')"
