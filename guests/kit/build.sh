#!/bin/sh
# Builds the guest kit: build/guests/kit/libkit.a (the kernel), crt0.o and
# libulib.a (user side), plus kernel.ld / user.ld for linking workloads.
set -e
cd "$(dirname "$0")/../.."
KIT=guests/kit
OUT=build/guests/kit
CC="${CC:-gcc}"
CFLAGS="-m32 -march=i686 -ffreestanding -nostdlib -fno-pic -fno-stack-protector -fno-builtin -fno-asynchronous-unwind-tables -O2 -Wall -Wno-main -I$KIT/include"
if ! echo 'int x;' | $CC -m32 -ffreestanding -c -x c - -o /dev/null 2>/dev/null; then
  echo "guest kit: $CC cannot build 32-bit code (-m32 failed); install gcc with i386 support (e.g. gcc-multilib)" >&2
  exit 1
fi
if ! ld -V 2>/dev/null | grep -q elf_i386; then
  echo "guest kit: ld has no elf_i386 emulation; install binutils with i386 support" >&2
  exit 1
fi
mkdir -p "$OUT/obj"
sh $KIT/gentraps.sh > "$OUT/vectors.S"
objs=""
for src in entry.S trapasm.S main.c string.c printf.c multiboot.c gdt.c trap.c pic.c pit.c uart.c ata.c kalloc.c vm.c proc.c file.c syscall.c; do
  o="$OUT/obj/${src%.*}.o"
  $CC $CFLAGS -c "$KIT/$src" -o "$o"
  objs="$objs $o"
done
$CC $CFLAGS -c "$OUT/vectors.S" -o "$OUT/obj/vectors.o"
rm -f "$OUT/libkit.a"
ar rcs "$OUT/libkit.a" $objs "$OUT/obj/vectors.o"
$CC $CFLAGS -c $KIT/user/crt0.S -o "$OUT/crt0.o"
$CC $CFLAGS -c $KIT/user/ulib.c -o "$OUT/obj/ulib.o"
rm -f "$OUT/libulib.a"
ar rcs "$OUT/libulib.a" "$OUT/obj/ulib.o"
cp $KIT/kernel.ld $KIT/user/user.ld $KIT/blob.S "$OUT/"
echo "guest kit: built $OUT/libkit.a $OUT/libulib.a"

# ---- para mode: the same kernel with guests/kit/pv/ (host/para/README.md) ----
# include/ overlaid by pv/include/ (arch.h on hypercalls), and the files that
# touch hardware replaced: trapasm.S gdt.c vm.c pic.c pit.c uart.c ata.c -> pv/trapasm.S pv/gdt.c
# pv/vm.c pv/evtchn.c pv/timer.c pv/console.c pv/virtio_blk.c (+ pv/virtio.c).
PVOUT=build/guests/kit-pv
mkdir -p "$PVOUT/obj" "$PVOUT/include"
rm -f "$PVOUT/include/"*.h
cp $KIT/include/*.h "$PVOUT/include/"
cp $KIT/pv/include/*.h "$PVOUT/include/"
PVCFLAGS="$(echo "$CFLAGS" | sed "s|-I$KIT/include|-I$PVOUT/include|")"
pvobjs=""
for src in entry.S pv/trapasm.S main.c string.c printf.c multiboot.c trap.c kalloc.c proc.c file.c syscall.c \
           pv/gdt.c pv/vm.c pv/evtchn.c pv/timer.c pv/console.c pv/virtio.c pv/virtio_blk.c; do
  o="$PVOUT/obj/$(echo "${src%.*}" | tr / _).o"
  $CC $PVCFLAGS -c "$KIT/$src" -o "$o"
  pvobjs="$pvobjs $o"
done
$CC $PVCFLAGS -c "$OUT/vectors.S" -o "$PVOUT/obj/vectors.o"
rm -f "$PVOUT/libkit.a"
ar rcs "$PVOUT/libkit.a" $pvobjs "$PVOUT/obj/vectors.o"
echo "guest kit: built $PVOUT/libkit.a (para)"
