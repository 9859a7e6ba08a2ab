#!/usr/bin/env bash
# Rebuild trapdoor's CPU benchmark guest: bench.elf (an ELF32 Multiboot kernel, flags 0x3).
#
# ../common/multiboot-boot.S (its own flat GDT loaded before kmain, 16 KiB stack) + bench.c +
# ../common/serial.c, linked at 1 MiB with ../common/linker.ld. Flags, reproducibility and the
# Multiboot header check are in ../common/build-lib.sh; OUT_DIR (default: here) receives bench.elf.
#
# expected-qemu.txt is the reference output, regenerated with
#   qemu-system-i386 -kernel bench.elf -serial stdio -display none -monitor none \
#       -device isa-debug-exit,iobase=0xf4,iosize=0x04 > expected-qemu.txt
set -euo pipefail
cd "$(dirname "$0")"
source ../common/build-lib.sh

compile boot.o ../common/multiboot-boot.S -DBOOT_LOAD_GDT
compile serial.o ../common/serial.c
compile bench.o bench.c

link bench.elf boot.o bench.o serial.o
check_header bench.elf $((0x00000003))
install_outputs bench.elf
