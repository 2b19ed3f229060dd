#!/bin/sh
# Builds the serial echo guest into build/guests/echo/.
set -e
cd "$(dirname "$0")/../.."
OUT=build/guests/echo
mkdir -p "$OUT"
as --32 -o "$OUT/echo.o" guests/echo/echo.S
ld -m elf_i386 -Ttext=0x100000 --build-id=none -o "$OUT/echo.elf" "$OUT/echo.o"
