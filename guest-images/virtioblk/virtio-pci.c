/*
 * virtio-pci.c - the driver side of the virtio-pci transport (virtio 1.2 §4.1) for one function:
 * finding it on bus 0, the modern interface (vendor capabilities pointing into memory BARs,
 * §4.1.4) and the legacy one (I/O BAR0 register block, §4.1.4.10), and the device
 * initialisation sequence of §3.1.1.
 */
#include "io.h"
#include "virtio.h"

static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }

int vdev_scan(int *slots, int max)
{
    int n = 0;
    for (int slot = 0; slot < 32 && n < max; slot++) {
        uint32_t id = pci_read32(slot, PCI_VENDOR_ID);
        uint16_t dev = (uint16_t)(id >> 16);
        if ((id & 0xFFFF) == VIRTIO_PCI_VENDOR &&
            (dev == VIRTIO_PCI_BLK_MODERN || dev == VIRTIO_PCI_BLK_TRANSITIONAL))
            slots[n++] = slot;
    }
    return n;
}

/* Base address of memory BAR `bar` (a 64-bit BAR must lie below 4 GiB here), or 0. */
static uint32_t mem_bar(int slot, int bar)
{
    if (bar > 5)
        return 0;
    uint32_t lo = pci_read32(slot, PCI_BASE_ADDRESS_0 + 4 * bar);
    if (lo & 1)
        return 0; /* an I/O BAR */
    if ((lo & 6) == 4 && (bar == 5 || pci_read32(slot, PCI_BASE_ADDRESS_0 + 4 * bar + 4) != 0))
        return 0;
    return lo & ~0xFu;
}

int vdev_probe(struct vdev *d, int slot, int legacy)
{
    *d = (struct vdev){0};
    d->slot = slot;
    d->legacy = legacy;
    d->device_id = pci_read16(slot, PCI_DEVICE_ID);
    d->revision = pci_read8(slot, PCI_REVISION_ID);
    d->irq = pci_read8(slot, PCI_INTERRUPT_LINE);
    if (d->device_id == VIRTIO_PCI_BLK_TRANSITIONAL)
        d->io = (uint16_t)(pci_read32(slot, PCI_BASE_ADDRESS_0) & ~3u);
    /* Linux's pci_enable_device + pci_set_master: decode on, bus mastering on (DMA). */
    pci_write16(slot, PCI_COMMAND,
                pci_read16(slot, PCI_COMMAND) | PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);

    /* §4.1.4: walk the capability list; the first capability of each type is the one to use. */
    if (!(pci_read16(slot, PCI_STATUS) & PCI_STATUS_CAP_LIST))
        return 0;
    int at = pci_read8(slot, PCI_CAPABILITY_LIST) & ~3;
    for (int guard = 0; at >= 0x40 && guard < 48; guard++) {
        if (pci_read8(slot, at) == PCI_CAP_ID_VNDR) {
            int type = pci_read8(slot, at + VIRTIO_CAP_CFG_TYPE);
            uint32_t base = mem_bar(slot, pci_read8(slot, at + VIRTIO_CAP_BAR));
            volatile uint8_t *p = base ? (volatile uint8_t *)(base + pci_read32(slot, at + VIRTIO_CAP_OFFSET)) : 0;
            if (type == VIRTIO_PCI_CAP_COMMON_CFG && !d->common)
                d->common = p;
            else if (type == VIRTIO_PCI_CAP_ISR_CFG && !d->isr)
                d->isr = p;
            else if (type == VIRTIO_PCI_CAP_DEVICE_CFG && !d->devcfg)
                d->devcfg = p;
            else if (type == VIRTIO_PCI_CAP_PCI_CFG && !d->pci_cfg)
                d->pci_cfg = at;
            else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !d->notify) {
                d->notify = p;
                d->notify_mult = pci_read32(slot, at + VIRTIO_CAP_NOTIFY_MULT);
            }
        }
        at = pci_read8(slot, at + 1) & ~3;
    }
    return d->common && d->isr && d->devcfg && d->notify;
}

uint32_t vdev_common_read(struct vdev *d, int off, int width)
{
    volatile uint8_t *p = d->common + off;
    if (width == 1)
        return *p;
    if (width == 2)
        return *(volatile uint16_t *)p;
    return *(volatile uint32_t *)p;
}

void vdev_common_write(struct vdev *d, int off, int width, uint32_t v)
{
    volatile uint8_t *p = d->common + off;
    if (width == 1)
        *p = (uint8_t)v;
    else if (width == 2)
        *(volatile uint16_t *)p = (uint16_t)v;
    else
        *(volatile uint32_t *)p = v;
}

uint8_t vdev_status(struct vdev *d)
{
    return d->legacy ? inb(d->io + VIRTIO_LEGACY_STATUS) : (uint8_t)vdev_common_read(d, VIRTIO_COMMON_STATUS, 1);
}

void vdev_set_status(struct vdev *d, uint8_t s)
{
    if (d->legacy)
        outb(d->io + VIRTIO_LEGACY_STATUS, s);
    else
        vdev_common_write(d, VIRTIO_COMMON_STATUS, 1, s);
}

/* §2.4 / §4.1.4.3.2: write 0, then wait until device_status reads back 0. */
void vdev_reset(struct vdev *d)
{
    vdev_set_status(d, 0);
    for (int i = 0; i < 1000 && vdev_status(d) != 0; i++)
        ;
}

uint8_t vdev_negotiate(struct vdev *d, uint32_t want_lo, uint32_t want_hi)
{
    vdev_reset(d);
    vdev_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
    vdev_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    if (d->legacy) {
        /* Legacy: 32 feature bits, no FEATURES_OK step (§4.1.4.10). */
        d->offered_lo = inl(d->io + VIRTIO_LEGACY_HOST_FEATURES);
        d->offered_hi = 0;
        d->accepted_lo = want_lo & d->offered_lo;
        d->accepted_hi = 0;
        outl(d->io + VIRTIO_LEGACY_GUEST_FEATURES, d->accepted_lo);
        return vdev_status(d);
    }
    vdev_common_write(d, VIRTIO_COMMON_DFSELECT, 4, 0);
    d->offered_lo = vdev_common_read(d, VIRTIO_COMMON_DF, 4);
    vdev_common_write(d, VIRTIO_COMMON_DFSELECT, 4, 1);
    d->offered_hi = vdev_common_read(d, VIRTIO_COMMON_DF, 4);
    d->accepted_lo = want_lo & d->offered_lo;
    d->accepted_hi = want_hi & d->offered_hi;
    vdev_common_write(d, VIRTIO_COMMON_GFSELECT, 4, 0);
    vdev_common_write(d, VIRTIO_COMMON_GF, 4, d->accepted_lo);
    vdev_common_write(d, VIRTIO_COMMON_GFSELECT, 4, 1);
    vdev_common_write(d, VIRTIO_COMMON_GF, 4, d->accepted_hi);
    /* §3.1.1 step 5-6: set FEATURES_OK, then re-read it to see whether the device agreed. */
    vdev_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    return vdev_status(d);
}

uint16_t vdev_queue_max(struct vdev *d, uint16_t qi)
{
    if (d->legacy) {
        outw(d->io + VIRTIO_LEGACY_QUEUE_SEL, qi);
        return inw(d->io + VIRTIO_LEGACY_QUEUE_NUM);
    }
    vdev_common_write(d, VIRTIO_COMMON_Q_SELECT, 2, qi);
    return (uint16_t)vdev_common_read(d, VIRTIO_COMMON_Q_SIZE, 2);
}

void vdev_queue_setup(struct vdev *d, uint16_t qi, struct virtq *q, void *mem, uint16_t size)
{
    if (d->legacy) {
        /* §4.1.4.10: the queue size is the device's; the rings follow the legacy layout, and
         * QUEUE_PFN takes the address of the descriptor table in 4 KiB pages. */
        vq_layout(q, mem, vdev_queue_max(d, qi), 1);
        outl(d->io + VIRTIO_LEGACY_QUEUE_PFN, (uint32_t)q->desc / VIRTIO_LEGACY_ALIGN);
    } else {
        /* §4.1.5.1.3: select, size, the three ring addresses, then queue_enable. */
        vq_layout(q, mem, size, 0);
        vdev_common_write(d, VIRTIO_COMMON_Q_SELECT, 2, qi);
        vdev_common_write(d, VIRTIO_COMMON_Q_SIZE, 2, size);
        vdev_common_write(d, VIRTIO_COMMON_Q_DESC, 4, (uint32_t)q->desc);
        vdev_common_write(d, VIRTIO_COMMON_Q_DESC + 4, 4, 0);
        vdev_common_write(d, VIRTIO_COMMON_Q_AVAIL, 4, (uint32_t)q->avail);
        vdev_common_write(d, VIRTIO_COMMON_Q_AVAIL + 4, 4, 0);
        vdev_common_write(d, VIRTIO_COMMON_Q_USED, 4, (uint32_t)q->used);
        vdev_common_write(d, VIRTIO_COMMON_Q_USED + 4, 4, 0);
        d->notify_off = (uint16_t)vdev_common_read(d, VIRTIO_COMMON_Q_NOFF, 2);
        vdev_common_write(d, VIRTIO_COMMON_Q_ENABLE, 2, 1);
    }
    q->event_idx = (d->accepted_lo & VIRTIO_F_EVENT_IDX) != 0;
}

/* §4.1.4.4: queue qi's notification address is cap.offset + queue_notify_off * multiplier;
 * legacy: QUEUE_NOTIFY. Both take the 16-bit queue index. Only queue 0 is used here. */
void vdev_notify(struct vdev *d, uint16_t qi)
{
    barrier();
    if (d->legacy)
        outw(d->io + VIRTIO_LEGACY_QUEUE_NOTIFY, qi);
    else
        *(volatile uint16_t *)(d->notify + d->notify_off * d->notify_mult) = qi;
}

/* §4.1.4.5: reading the ISR status clears it and deasserts INTx#. */
uint8_t vdev_isr(struct vdev *d)
{
    return d->legacy ? inb(d->io + VIRTIO_LEGACY_ISR) : *d->isr;
}

uint32_t vdev_cfg32(struct vdev *d, int off)
{
    return d->legacy ? inl(d->io + VIRTIO_LEGACY_CONFIG + off) : *(volatile uint32_t *)(d->devcfg + off);
}

uint64_t vdev_cfg64(struct vdev *d, int off)
{
    for (;;) {
        uint32_t gen = d->legacy ? 0 : vdev_common_read(d, VIRTIO_COMMON_CFGGEN, 1);
        uint32_t lo = vdev_cfg32(d, off), hi = vdev_cfg32(d, off + 4);
        uint32_t again = d->legacy ? vdev_cfg32(d, off) : vdev_common_read(d, VIRTIO_COMMON_CFGGEN, 1);
        if (again == (d->legacy ? lo : gen))
            return ((uint64_t)hi << 32) | lo;
    }
}
