#!/usr/bin/env bash
# Rebuild trapdoor's "hello" guest: hello.elf and hello.bin.
#
#   hello.elf  ELF32 Multiboot kernel, header flags 0x00000003
#   hello.bin  flat binary loaded at 0x100000, header flags 0x00010003
#              (a.out kludge: header_addr/load_addr/... fields filled in)
#
# Both are ../common/multiboot-boot.S + hello.c + ../common/serial.c, linked with
# ../common/linker.ld; multiboot-boot.S is assembled a second time with -DAOUT_KLUDGE for
# hello.bin, which is then flattened with objcopy. Flags, reproducibility and the header
# checks are in ../common/build-lib.sh; OUT_DIR (default: here) receives the images.
set -euo pipefail
cd "$(dirname "$0")"
source ../common/build-lib.sh

compile boot.o ../common/multiboot-boot.S
compile boot-aout.o ../common/multiboot-boot.S -DAOUT_KLUDGE
compile serial.o ../common/serial.c -DSERIAL_COUNT
compile hello.o hello.c -DSERIAL_COUNT

link hello.elf boot.o hello.o serial.o
link hello-aout.elf boot-aout.o hello.o serial.o
flatten hello-aout.elf hello.bin

check_header hello.elf $((0x00000003))
check_header hello.bin $((0x00010003))
install_outputs hello.elf hello.bin
