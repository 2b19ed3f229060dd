#!/bin/sh
# Builds the gdb test guest with debug information into build/guests/gdb/gdbguest.elf (test/gdb.test.ts).
set -e
cd "$(dirname "$0")"
OUT=../../build/guests/gdb
mkdir -p "$OUT"
CFLAGS="-m32 -g -O0 -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector -fno-builtin
  -fno-asynchronous-unwind-tables -mgeneral-regs-only -Wall -Werror"
gcc $CFLAGS -c boot.S -o "$OUT/boot.o"
gcc $CFLAGS -c gdbguest.c -o "$OUT/gdbguest.o"
ld -m elf_i386 -T kernel.ld -z max-page-size=0x1000 --build-id=none --no-warn-rwx-segments -z noexecstack \
   -o "$OUT/gdbguest.elf" "$OUT/boot.o" "$OUT/gdbguest.o"
echo "guests/gdb: built build/guests/gdb/gdbguest.elf"
