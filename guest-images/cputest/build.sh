#!/usr/bin/env bash
# Rebuild the cputest kernels: one Multiboot ELF per suite (paging.elf, privilege.elf, ...).
#
# Each kernel is ../common/multiboot-boot.S (EFLAGS cleared before kmain) +
# ../common/isr-stubs.S (segment registers saved, trap_handler(frame)) + user.S + lib.c +
# ../common/{serial,kprintf,check}.c + <suite>.c (+ <suite>-asm.S if there is one), linked at
# 1 MiB with ../common/linker.ld. Flags, reproducibility and the Multiboot header check are in
# ../common/build-lib.sh; OUT_DIR (default: here) receives the .elf files.
set -euo pipefail
cd "$(dirname "$0")"
source ../common/build-lib.sh

SUITES=(paging privilege exceptions tasks v86 segments features vme)

compile boot.o ../common/multiboot-boot.S -DBOOT_CLEAR_EFLAGS
compile isr.o ../common/isr-stubs.S -DISR_HANDLER=trap_handler -DISR_SAVE_SEGMENTS -DISR_KERNEL_DS=0x10
compile user.o user.S
compile serial.o ../common/serial.c
compile kprintf.o ../common/kprintf.c
compile check.o ../common/check.c
compile lib.o lib.c

for s in "${SUITES[@]}"; do
    extra=()
    [[ -f $s-asm.S ]] && { compile "$s-asm.o" "$s-asm.S"; extra=("$s-asm.o"); }
    compile "$s.o" "$s.c"
    link "$s.elf" boot.o isr.o user.o lib.o serial.o kprintf.o check.o "$s.o" "${extra[@]}"
    check_header "$s.elf" $((0x00000003))
done
install_outputs "${SUITES[@]/%/.elf}"
