#!/usr/bin/env bash
# Rebuild trapdoor's x87 test guest: x87test.elf (an ELF32 Multiboot kernel).
#
# ../common/multiboot-boot.S (with its own flat GDT: -DBOOT_LOAD_GDT) + isr.S (exception stubs
# for vectors 0-19) + x87test.c + ../common/serial.c, linked with ../common/linker.ld. Flags,
# reproducibility and the Multiboot header check are in ../common/build-lib.sh; OUT_DIR
# (default: here) lets tests rebuild into a scratch directory and compare.
#
# expected-qemu.txt is the reference output, regenerated with
#   qemu-system-i386 -kernel x87test.elf -serial stdio -display none -monitor none \
#       -device isa-debug-exit,iobase=0xf4,iosize=0x04 > expected-qemu.txt
set -euo pipefail
cd "$(dirname "$0")"
source ../common/build-lib.sh

compile boot.o ../common/multiboot-boot.S -DBOOT_LOAD_GDT
compile isr.o isr.S
compile x87test.o x87test.c

link x87test.elf boot.o isr.o x87test.o
check_header x87test.elf $((0x00000003))
install_outputs x87test.elf
