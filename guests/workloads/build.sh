#!/bin/sh
# Builds every workload: guests/workloads/<name>.c is a user program; it is
# linked with the kit's user library into a flat image, embedded in the
# kit kernel, and written to build/guests/workloads/<name>.elf (multiboot).
set -e
cd "$(dirname "$0")/../.."
KIT=build/guests/kit
OUT=build/guests/workloads
CC="${CC:-gcc}"
CFLAGS="-m32 -march=i686 -ffreestanding -nostdlib -fno-pic -fno-stack-protector -fno-builtin -fno-asynchronous-unwind-tables -O2 -Wall -Iguests/kit/include"
# (re)build the kit first when it is missing or older than its sources
if [ ! -f $KIT/libkit.a ] || [ -n "$(find guests/kit -newer $KIT/libkit.a -type f | head -1)" ]; then
  sh guests/kit/build.sh
fi
mkdir -p $OUT/obj
for src in guests/workloads/*.c; do
  name=$(basename "$src" .c)
  $CC $CFLAGS -c "$src" -o $OUT/obj/$name.o
  ld -m elf_i386 -z noexecstack --no-warn-rwx-segments -T $KIT/user.ld -o $OUT/obj/$name.user.elf $KIT/crt0.o $OUT/obj/$name.o $KIT/libulib.a
  objcopy -O binary $OUT/obj/$name.user.elf $OUT/obj/$name.user.bin
  $CC $CFLAGS -DUSER_BIN="\"$OUT/obj/$name.user.bin\"" -c $KIT/blob.S -o $OUT/obj/$name.blob.o
  ld -m elf_i386 -z noexecstack --no-warn-rwx-segments -T $KIT/kernel.ld -o $OUT/$name.elf --whole-archive $KIT/libkit.a --no-whole-archive $OUT/obj/$name.blob.o
done
echo "workloads: built $(ls $OUT/*.elf | tr '\n' ' ')"
