# build-driver.sh - sourced by the build.sh of virtioblk and badvirtio after ../common/build-lib.sh:
# compiles what both kernels link besides their own .c file: ../common/multiboot-boot.S (own
# flat GDT, EFLAGS cleared), ../common/isr-stubs.S (trap(frame)), ../common/{serial,kprintf,
# check}.c and the driver in this folder (pci-conf.c, virtio-pci.c, virtqueue.c, irq.c).
# DRIVER_OBJS lists the objects, boot.o first, for `link`.
driver_dir=../virtioblk

compile boot.o ../common/multiboot-boot.S -DBOOT_LOAD_GDT -DBOOT_CLEAR_EFLAGS
compile isr.o ../common/isr-stubs.S -DISR_HANDLER=trap
DRIVER_OBJS=(boot.o isr.o)
for src in ../common/serial.c ../common/kprintf.c ../common/check.c "$driver_dir"/{pci-conf,virtio-pci,virtqueue,irq}.c; do
    obj=$(basename "$src" .c).o
    compile "$obj" "$src" -I"$driver_dir"
    DRIVER_OBJS+=("$obj")
done
