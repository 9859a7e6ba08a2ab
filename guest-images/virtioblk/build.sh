#!/usr/bin/env bash
# Rebuild virtioblk.elf: virtioblk.c plus the objects of build-driver.sh (the Multiboot entry,
# interrupt stubs, serial output and this folder's virtio driver), linked at 1 MiB with
# ../common/linker.ld. Flags, reproducibility and the Multiboot header check are in
# ../common/build-lib.sh; OUT_DIR (default: here) receives virtioblk.elf.
set -euo pipefail
cd "$(dirname "$0")"
source ../common/build-lib.sh
source build-driver.sh

compile virtioblk.o virtioblk.c
link virtioblk.elf "${DRIVER_OBJS[@]}" virtioblk.o
check_header virtioblk.elf $((0x00000003))
install_outputs virtioblk.elf
