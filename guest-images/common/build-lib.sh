# build-lib.sh - the shared part of the guests' build.sh scripts (hello, cputest, irqtest,
# x87test, bench, ...). A guest's build.sh changes to its own folder and sources this file:
#
#   cd "$(dirname "$0")"
#   source ../common/build-lib.sh
#   compile boot.o ../common/multiboot-boot.S [-DDEFINE...]   # $tmp/boot.o
#   compile foo.o foo.c
#   link foo.elf boot.o foo.o          # $tmp/foo.elf, linked with common/linker.ld
#   flatten foo.elf foo.bin            # $tmp/foo.bin = objcopy -O binary (a.out kludge image)
#   check_header foo.elf 0x00000003    # Multiboot header: place, flags, checksum (and kludge)
#   install_outputs foo.elf            # copy to ${OUT_DIR:-.} and print the sha256
#
# Needs only gcc (with -m32 support), GNU ld and objcopy. The outputs are reproducible: no
# debug info, no timestamps, no build IDs, no .comment, and object files go to a temporary
# directory ($tmp, removed on exit) whose name never reaches the outputs. Paths are given
# relative to the guest folder, so the checkout's location does not reach them either.
# OUT_DIR (default: the guest folder) lets tests rebuild into a scratch directory and compare
# with the committed images.
set -euo pipefail

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
    -I../common
    -Wall -Wextra
)
LDFLAGS=(
    -m elf_i386
    -T ../common/linker.ld
    -nostdlib
    --build-id=none
    -z noexecstack
    -z max-page-size=0x1000
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

compile() { # compile OBJ SRC [EXTRA_CFLAGS...] -> $tmp/OBJ
    local obj=$1 src=$2
    shift 2
    "$CC" "${CFLAGS[@]}" "$@" -c "$src" -o "$tmp/$obj"
}

link() { # link ELF OBJ... -> $tmp/ELF (the first object should be the multiboot-boot one)
    local elf=$1
    shift
    "$LD" "${LDFLAGS[@]}" -o "$tmp/$elf" "${@/#/$tmp/}"
}

# objcopy emits everything from the lowest loadable address (0x100000, the header) up to the
# end of the last non-bss section, i.e. exactly load_addr..load_end_addr.
flatten() { # flatten ELF BIN -> $tmp/BIN
    "$OBJCOPY" -O binary "$tmp/$1" "$tmp/$2"
}

# ---------------------------------------------------------------------------
# Sanity checks on the Multiboot headers (Multiboot 0.6.96 section 3.1).

u32() { # u32 FILE OFFSET -> little-endian 32-bit word, decimal
    local v
    v=$(od -An -tu4 -j "$2" -N4 "$1" | tr -d ' ')
    [[ -n $v ]] || { echo "build.sh: $1: cannot read offset $2" >&2; exit 1; }
    echo "$v"
}

find_header() { # find_header FILE -> offset of the header (4-byte aligned, first 8 KiB)
    local off
    off=$(od -An -tu4 -w4 -v -N8192 "$1" | awk '!found && $1 == 464367618 { print (NR - 1) * 4; found = 1 }')
    [[ -n $off ]] || { echo "build.sh: $1: no Multiboot header in the first 8192 bytes" >&2; exit 1; }
    echo "$off"
}

check_header() { # check_header FILE EXPECTED_FLAGS (FILE in $tmp)
    local f=$tmp/$1 off flags sum
    off=$(find_header "$f")
    flags=$(u32 "$f" $((off + 4)))
    sum=$(( (0x1BADB002 + flags + $(u32 "$f" $((off + 8)))) & 0xFFFFFFFF ))
    if (( flags != $2 || sum != 0 )); then
        printf 'build.sh: %s: bad header: flags=0x%08X sum=0x%08X\n' "$1" "$flags" "$sum" >&2
        exit 1
    fi
    printf '%s: Multiboot header at file offset 0x%X, flags 0x%08X, checksum ok\n' "$1" "$off" "$flags"
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
            echo "build.sh: $1: inconsistent a.out kludge address fields" >&2
            exit 1
        fi
        printf '  header_addr 0x%08X load_addr 0x%08X load_end_addr 0x%08X bss_end_addr 0x%08X entry_addr 0x%08X (file %d bytes)\n' \
            "$header_addr" "$load_addr" "$load_end" "$bss_end" "$entry" "$size"
    fi
}

install_outputs() { # install_outputs FILE... : $tmp/FILE -> ${OUT_DIR:-.}/FILE, then sha256
    local out=${OUT_DIR:-.} f
    for f in "$@"; do
        cp "$tmp/$f" "$out/$f"
    done
    (cd "$out" && sha256sum "$@")
}
