#!/bin/sh
# run-qemu.sh NAME [CMDLINE] -- run build/guests/workloads/NAME.elf under
# QEMU (TCG). The disk workload gets a fresh zeroed 4 MiB raw image.
# Exit status: QEMU's, i.e. (guest status << 1) | 1 via isa-debug-exit.
cd "$(dirname "$0")/../.."
name=$1
args=${2:-}
drive=""
if [ "$name" = disk ] && [ -z "$NODISK" ]; then
  img=$(mktemp /tmp/wasmvisor-disk.XXXXXX)
  dd if=/dev/zero of="$img" bs=1M count=4 status=none
  drive="-drive file=$img,format=raw,if=ide,index=0"
fi
timeout "${TIMEOUT:-120}" qemu-system-i386 -kernel "build/guests/workloads/$name.elf" \
  -serial stdio -display none -monitor none -nic none -no-reboot $QEMU_OPTS \
  -device isa-debug-exit,iobase=0xf4,iosize=4 -append "$args" $drive
rc=$?
[ -n "$drive" ] && rm -f "$img"
exit $rc
