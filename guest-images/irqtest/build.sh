#!/usr/bin/env bash
# Rebuild irqtest.elf: ../common/multiboot-boot.S (EFLAGS cleared before kmain),
# ../common/isr-stubs.S (trap(frame)), irqtest.c and ../common/{serial,kprintf,check}.c,
# linked at 1 MiB with ../common/linker.ld. Flags, reproducibility and the Multiboot header
# check are in ../common/build-lib.sh; OUT_DIR (default: here) receives irqtest.elf.
set -euo pipefail
cd "$(dirname "$0")"
source ../common/build-lib.sh

compile boot.o ../common/multiboot-boot.S -DBOOT_CLEAR_EFLAGS
compile isr.o ../common/isr-stubs.S -DISR_HANDLER=trap
compile serial.o ../common/serial.c
compile kprintf.o ../common/kprintf.c
compile check.o ../common/check.c
compile irqtest.o irqtest.c

link irqtest.elf boot.o isr.o irqtest.o serial.o kprintf.o check.o
check_header irqtest.elf $((0x00000003))
install_outputs irqtest.elf
