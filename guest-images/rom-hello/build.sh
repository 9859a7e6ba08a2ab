#!/usr/bin/env bash
# Rebuild trapdoor's firmware test ROM: rom-hello.bin, a flat 64 KiB image.
#
# rom.S is assembled by gcc as 16/32-bit code, linked at address 0 (the image's
# offsets are its labels) and flattened with objcopy. Needs only gcc (with -m32
# support), GNU ld and objcopy. The environment, the temporary object directory and
# install_outputs come from ../common/build-lib.sh (reproducible, OUT_DIR); the
# Multiboot guests' compiler flags and linker script do not apply to a ROM.
set -euo pipefail
cd "$(dirname "$0")"
source ../common/build-lib.sh

"$CC" -m32 -c -ffile-prefix-map="$here"=. rom.S -o "$tmp/rom.o"
"$LD" -m elf_i386 -Ttext=0 -e _start -nostdlib --build-id=none -o "$tmp/rom.elf" "$tmp/rom.o"
"$OBJCOPY" -O binary -j .text "$tmp/rom.elf" "$tmp/rom-hello.bin"

# A -bios image: exactly 64 KiB, with a far jump (0xEA) at the reset vector, offset 0xFFF0.
size=$(stat -c %s "$tmp/rom-hello.bin")
if (( size != 65536 )); then
    echo "build.sh: rom-hello.bin is $size bytes, expected 65536" >&2
    exit 1
fi
if [[ $(od -An -tx1 -j $((0xfff0)) -N1 "$tmp/rom-hello.bin" | tr -d ' ') != ea ]]; then
    echo "build.sh: rom-hello.bin: no far jump at the reset vector" >&2
    exit 1
fi
echo "rom-hello.bin: 65536 bytes, reset vector ok"

install_outputs rom-hello.bin
