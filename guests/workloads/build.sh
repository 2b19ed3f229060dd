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
# para mode: the same user images in the PV kernel (build/guests/kit-pv, see guests/kit/build.sh)
PVKIT=build/guests/kit-pv
PVOUT=build/guests/workloads-pv
mkdir -p $PVOUT
for src in guests/workloads/*.c; do
  name=$(basename "$src" .c)
  ld -m elf_i386 -z noexecstack --no-warn-rwx-segments -T $KIT/kernel.ld -o $PVOUT/$name.elf --whole-archive $PVKIT/libkit.a --no-whole-archive $OUT/obj/$name.blob.o
done
# the disk benchmark (host/para/bench-disk.mjs), native and para kernels
mkdir -p build/guests/bench
$CC $CFLAGS -c guests/kit/pv/bench/diskbench.c -o $OUT/obj/diskbench.o
ld -m elf_i386 -z noexecstack --no-warn-rwx-segments -T $KIT/user.ld -o $OUT/obj/diskbench.user.elf $KIT/crt0.o $OUT/obj/diskbench.o $KIT/libulib.a
objcopy -O binary $OUT/obj/diskbench.user.elf $OUT/obj/diskbench.user.bin
$CC $CFLAGS -DUSER_BIN="\"$OUT/obj/diskbench.user.bin\"" -c $KIT/blob.S -o $OUT/obj/diskbench.blob.o
ld -m elf_i386 -z noexecstack --no-warn-rwx-segments -T $KIT/kernel.ld -o build/guests/bench/diskbench-native.elf --whole-archive $KIT/libkit.a --no-whole-archive $OUT/obj/diskbench.blob.o
ld -m elf_i386 -z noexecstack --no-warn-rwx-segments -T $KIT/kernel.ld -o build/guests/bench/diskbench-para.elf --whole-archive $PVKIT/libkit.a --no-whole-archive $OUT/obj/diskbench.blob.o
echo "workloads (para): built $(ls $PVOUT/*.elf | tr '\n' ' ')"
echo "workloads: built $(ls $OUT/*.elf | tr '\n' ' ')"
