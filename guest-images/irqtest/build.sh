#!/usr/bin/env bash
# Rebuild irqtest.elf: boot.S + irqtest.c, linked at 1 MiB with linker.ld.
#
# Needs only gcc (with -m32 support) and GNU ld. The output is reproducible: no debug info, no
# timestamps, no build ID, no .comment, and object files go to a temporary directory whose name
# never reaches the output. OUT_DIR (default: this directory) receives irqtest.elf.
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
    -fno-tree-loop-distribute-patterns   # never turn loops into memset calls
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

"$CC" "${CFLAGS[@]}" -c boot.S -o "$tmp/boot.o"
"$CC" "${CFLAGS[@]}" -c irqtest.c -o "$tmp/irqtest.o"
"$LD" "${LDFLAGS[@]}" -o "$tmp/irqtest.elf" "$tmp/boot.o" "$tmp/irqtest.o"
# Multiboot 0.6.96 §3.1.2: header in the first 8192 bytes, magic + flags + checksum == 0.
sum=$(od -An -tu4 -w4 -v -N8192 "$tmp/irqtest.elf" |
    awk '!done && $1 == 464367618 { getline f; getline c; sum = ($1 + f + c) % 4294967296; done = 1 }
         END { print done ? sum : "none" }')
[[ $sum == 0 ]] || { echo "build.sh: irqtest.elf: no valid Multiboot header in the first 8 KiB" >&2; exit 1; }

out=${OUT_DIR:-.}
cp "$tmp/irqtest.elf" "$out/irqtest.elf"
(cd "$out" && sha256sum irqtest.elf)
