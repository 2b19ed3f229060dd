#!/bin/sh
# Builds the SMP-platform check guest (build/guests/apic/apic.elf) and its slave disk image
# (build/guests/apic/disk.img: 8 sectors, sector n starts with "wasmvisor apic disk, sector n").
set -e
cd "$(dirname "$0")"
OUT=../../build/guests/apic
mkdir -p "$OUT/obj"
CFLAGS="-m32 -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector -fno-builtin
  -fno-asynchronous-unwind-tables -mgeneral-regs-only -O1 -Wall -Werror"
gcc $CFLAGS -c boot.S -o "$OUT/obj/boot.o"
gcc $CFLAGS -c apic.c -o "$OUT/obj/apic.o"
ld -m elf_i386 -T kernel.ld -z max-page-size=0x1000 --build-id=none --no-warn-rwx-segments -z noexecstack \
   -o "$OUT/apic.elf" "$OUT/obj/boot.o" "$OUT/obj/apic.o"
: > "$OUT/disk.img"
for n in 0 1 2 3 4 5 6 7; do
  printf 'wasmvisor apic disk, sector %d' "$n" | dd of="$OUT/disk.img" bs=512 seek="$n" conv=sync,notrunc status=none
done
echo "guests/apic: built build/guests/apic/apic.elf and disk.img"
