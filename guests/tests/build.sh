#!/bin/sh
# Builds the self-checking CPU test guests into build/guests/tests/<name>.elf.
# Each guest = lib/*.{S,c} + <name>.c, linked at 1 MiB (lib/kernel.ld).
set -e
cd "$(dirname "$0")"
OUT=../../build/guests/tests
mkdir -p "$OUT/obj"
CFLAGS="-m32 -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector -fno-builtin
  -fno-asynchronous-unwind-tables -mgeneral-regs-only -O1 -Wall -Werror -Ilib"
LIBOBJ=""
for s in lib/*.S lib/*.c; do
  o="$OUT/obj/lib_$(basename "$s" | tr . _).o"
  gcc $CFLAGS -c "$s" -o "$o"
  LIBOBJ="$LIBOBJ $o"
done
for g in *.c; do
  n="${g%.c}"
  gcc $CFLAGS -c "$g" -o "$OUT/obj/$n.o"
  # boot.S's object first is not required: the .multiboot section is placed first by the script.
  ld -m elf_i386 -T lib/kernel.ld -z max-page-size=0x1000 --build-id=none --no-warn-rwx-segments -z noexecstack \
     -o "$OUT/$n.elf" $LIBOBJ "$OUT/obj/$n.o"
done
echo "guests/tests: built $(ls *.c | wc -l) guests into build/guests/tests/"
