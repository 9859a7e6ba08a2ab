#!/usr/bin/env bash
# Rebuild trapdoor's "hello" guest: hello.elf and hello.bin.
#
#   hello.elf  ELF32 Multiboot kernel, header flags 0x00000003
#   hello.bin  flat binary loaded at 0x100000, header flags 0x00010003
#              (a.out kludge: header_addr/load_addr/... fields filled in)
#
# Both come from the same boot.S/hello.c/linker.ld; boot.S is assembled a
# second time with -DAOUT_KLUDGE for hello.bin. Needs only gcc (with -m32
# support), GNU ld and objcopy. The outputs are reproducible: no debug info,
# no timestamps, no build IDs, no .comment, and object files go to a
# temporary directory whose name never reaches the outputs.
set -euo pipefail

cd "$(dirname "$0")"
here=$(pwd)

export LC_ALL=C
export SOURCE_DATE_EPOCH=0

CC=${CC:-gcc}
LD=${LD:-ld}
OBJCOPY=${OBJCOPY:-objcopy}

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

"$CC" "${CFLAGS[@]}" -c hello.c -o "$tmp/hello.o"
"$CC" "${CFLAGS[@]}" -c boot.S -o "$tmp/boot.o"
"$CC" "${CFLAGS[@]}" -DAOUT_KLUDGE -c boot.S -o "$tmp/boot-aout.o"

# hello.elf: the ELF loader reads program headers; header without flags[16].
"$LD" "${LDFLAGS[@]}" -o "$tmp/hello.elf" "$tmp/boot.o" "$tmp/hello.o"

# hello.bin: the same program linked with the flags[16] header, then
# flattened. objcopy emits everything from the lowest loadable address
# (0x100000, the header) up to the end of the last non-bss section, i.e.
# exactly load_addr..load_end_addr.
"$LD" "${LDFLAGS[@]}" -o "$tmp/hello-aout.elf" "$tmp/boot-aout.o" "$tmp/hello.o"
"$OBJCOPY" -O binary "$tmp/hello-aout.elf" "$tmp/hello.bin"

# ---------------------------------------------------------------------------
# Sanity checks on the Multiboot headers (Multiboot 0.6.96 section 3.1).

u32() { # u32 FILE OFFSET -> little-endian 32-bit word, decimal
    local v
    v=$(od -An -tu4 -j "$2" -N4 "$1" | tr -d ' ')
    [[ -n $v ]] || { echo "build.sh: $1: cannot read offset $2" >&2; exit 1; }
    echo "$v"
}

find_header() { # find_header FILE -> offset of the header in the first 8 KiB
    local off
    for ((off = 0; off < 8192; off += 4)); do
        if [[ $(u32 "$1" $off 2>/dev/null || true) == $((0x1BADB002)) ]]; then
            echo $off
            return
        fi
    done
    echo "build.sh: $1: no Multiboot header in the first 8192 bytes" >&2
    exit 1
}

check_header() { # check_header FILE EXPECTED_FLAGS
    local f=$1 off flags sum
    off=$(find_header "$f")
    flags=$(u32 "$f" $((off + 4)))
    sum=$(( (0x1BADB002 + flags + $(u32 "$f" $((off + 8)))) & 0xFFFFFFFF ))
    if (( flags != $2 || sum != 0 )); then
        printf 'build.sh: %s: bad header: flags=0x%08X sum=0x%08X\n' "$f" "$flags" "$sum" >&2
        exit 1
    fi
    printf '%s: Multiboot header at file offset 0x%X, flags 0x%08X, checksum ok\n' \
        "$(basename "$f")" "$off" "$flags"
    if (( flags & 0x10000 )); then
        local header_addr load_addr load_end bss_end entry size
        header_addr=$(u32 "$f" $((off + 12)))
        load_addr=$(u32 "$f" $((off + 16)))
        load_end=$(u32 "$f" $((off + 20)))
        bss_end=$(u32 "$f" $((off + 24)))
        entry=$(u32 "$f" $((off + 28)))
        size=$(stat -c %s "$f")
        if (( header_addr - load_addr != off || load_end - load_addr != size ||
              bss_end < load_end || entry < load_addr || entry >= load_end )); then
            echo "build.sh: $f: inconsistent a.out kludge address fields" >&2
            exit 1
        fi
        printf '  header_addr 0x%08X load_addr 0x%08X load_end_addr 0x%08X bss_end_addr 0x%08X entry_addr 0x%08X (file %d bytes)\n' \
            "$header_addr" "$load_addr" "$load_end" "$bss_end" "$entry" "$size"
    fi
}

check_header "$tmp/hello.elf" $((0x00000003))
check_header "$tmp/hello.bin" $((0x00010003))

# OUT_DIR (default: this directory) lets tests rebuild into a scratch directory and compare
# with the committed images.
out=${OUT_DIR:-.}
cp "$tmp/hello.elf" "$out/hello.elf"
cp "$tmp/hello.bin" "$out/hello.bin"
(cd "$out" && sha256sum hello.elf hello.bin)
