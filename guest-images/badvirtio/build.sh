#!/usr/bin/env bash
# Rebuild badvirtio.elf: badvirtio.c plus the objects of ../virtioblk/build-driver.sh (the
# Multiboot entry, interrupt stubs, serial output and the virtio driver of ../virtioblk), linked
# at 1 MiB with ../common/linker.ld. Flags, reproducibility and the Multiboot header check are in
# ../common/build-lib.sh; OUT_DIR (default: here) receives badvirtio.elf.
set -euo pipefail
cd "$(dirname "$0")"
source ../common/build-lib.sh
source ../virtioblk/build-driver.sh

compile badvirtio.o badvirtio.c -I../virtioblk
link badvirtio.elf "${DRIVER_OBJS[@]}" badvirtio.o
check_header badvirtio.elf $((0x00000003))
install_outputs badvirtio.elf
