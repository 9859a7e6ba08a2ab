#!/usr/bin/env bash
# Rebuild trapdoor's CPU benchmark guest: bench.elf (an ELF32 Multiboot kernel).
#
# Needs gcc with -m32, GNU ld. Reproducible like guest-images/hello: no debug info, no
# build IDs, no .comment, objects in a temporary directory. OUT_DIR (default: this
# directory) lets tests rebuild into a scratch directory and compare.
#
# expected-qemu.txt is the reference output, regenerated with
#   qemu-system-i386 -kernel bench.elf -serial stdio -display none -monitor none \
#       -device isa-debug-exit,iobase=0xf4,iosize=0x04 > expected-qemu.txt
set -euo pipefail

cd "$(dirname "$0")"
here=$(pwd)

export LC_ALL=C
export SOURCE_DATE_EPOCH=0

CC=${CC:-gcc}
LD=${LD:-ld}

CFLAGS=(
    -m32 -march=i686 -O2
    -ffreestanding -nostdlib
    -fno-pic -fno-pie
    -fno-stack-protector
    -fno-asynchronous-unwind-tables -fno-unwind-tables
    -fcf-protection=none
    -fno-tree-loop-distribute-patterns
    -mno-sse -mno-mmx -mno-80387
    -ffile-prefix-map="$here"=.
    -Wall -Wextra
)
LDFLAGS=(
    -m elf_i386
    -T linker.ld
    -nostdlib
    --build-id=none
    -z noexecstack
    -z max-page-size=0x1000
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$CC" "${CFLAGS[@]}" -c bench.c -o "$tmp/bench.o"
"$CC" "${CFLAGS[@]}" -c boot.S -o "$tmp/boot.o"
"$LD" "${LDFLAGS[@]}" -o "$tmp/bench.elf" "$tmp/boot.o" "$tmp/bench.o"

out=${OUT_DIR:-.}
cp "$tmp/bench.elf" "$out/bench.elf"
(cd "$out" && sha256sum bench.elf)
