#!/usr/bin/env bash
# Rebuild virtioblk.elf: ../common/multiboot-boot.S (own flat GDT), ../common/isr-stubs.S
# (trap(frame)), the driver (pci-conf.c, virtio-pci.c, virtqueue.c, irq.c), virtioblk.c and
# ../common/{serial,kprintf,check}.c, linked at 1 MiB with ../common/linker.ld. Flags,
# reproducibility and the Multiboot header check are in ../common/build-lib.sh; OUT_DIR
# (default: here) receives virtioblk.elf.
set -euo pipefail
cd "$(dirname "$0")"
source ../common/build-lib.sh

compile boot.o ../common/multiboot-boot.S -DBOOT_LOAD_GDT -DBOOT_CLEAR_EFLAGS
compile isr.o ../common/isr-stubs.S -DISR_HANDLER=trap
compile serial.o ../common/serial.c
compile kprintf.o ../common/kprintf.c
compile check.o ../common/check.c
for f in pci-conf virtio-pci virtqueue irq virtioblk; do
    compile "$f.o" "$f.c"
done

link virtioblk.elf boot.o isr.o virtioblk.o pci-conf.o virtio-pci.o virtqueue.o irq.o serial.o kprintf.o check.o
check_header virtioblk.elf $((0x00000003))
install_outputs virtioblk.elf
