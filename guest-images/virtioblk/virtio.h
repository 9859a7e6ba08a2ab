/*
 * virtio.h - a minimal virtio-blk driver for trapdoor's test guests (virtioblk, badvirtio):
 * PCI configuration mechanism #1, the virtio-pci transport in both flavours (virtio 1.2 §4.1:
 * modern capabilities in a memory BAR, legacy register block in I/O BAR0), split virtqueues
 * (§2.7) and the interrupt plumbing (IDT, 8259A, a PIT watchdog). Written from the spec; the
 * section numbers below are those of virtio 1.2.
 */
#ifndef VIRTIOBLK_VIRTIO_H
#define VIRTIOBLK_VIRTIO_H

#include <stdint.h>

/* ---- PCI configuration space (PCI Local Bus 3.0 §6.1, §6.2, §6.7) ---- */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_BASE_ADDRESS_0 0x10
#define PCI_SUBSYSTEM_ID 0x2E
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3C
#define PCI_INTERRUPT_PIN 0x3D
#define PCI_COMMAND_IO 0x1
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_CAP_ID_VNDR 0x09

uint32_t pci_read32(int slot, int off); /* bus 0, function 0 */
uint16_t pci_read16(int slot, int off);
uint8_t pci_read8(int slot, int off);
void pci_write16(int slot, int off, uint16_t v);
void pci_write32(int slot, int off, uint32_t v);

/* ---- virtio-pci identity (§4.1.2) ---- */
#define VIRTIO_PCI_VENDOR 0x1AF4
#define VIRTIO_PCI_BLK_MODERN 0x1042       /* 0x1040 + device type 2 */
#define VIRTIO_PCI_BLK_TRANSITIONAL 0x1001 /* §4.1.2.3 */

/* ---- device status (§2.1) ---- */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* ---- feature bits (§6, §5.2.3), as masks of the low and high 32-bit words ---- */
#define VIRTIO_BLK_F_SIZE_MAX (1u << 1)
#define VIRTIO_BLK_F_SEG_MAX (1u << 2)
#define VIRTIO_BLK_F_RO (1u << 5)
#define VIRTIO_BLK_F_BLK_SIZE (1u << 6)
#define VIRTIO_BLK_F_FLUSH (1u << 9)
#define VIRTIO_F_INDIRECT_DESC (1u << 28)
#define VIRTIO_F_EVENT_IDX (1u << 29)
#define VIRTIO_F_VERSION_1_HI (1u << 0) /* bit 32 */

/* ---- vendor capability (§4.1.4): cfg_type values and field offsets ---- */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG 5 /* §4.1.4.9: bar (+4), offset (+8), length (+12), pci_cfg_data (+16) */
#define VIRTIO_CAP_CFG_TYPE 3
#define VIRTIO_CAP_BAR 4
#define VIRTIO_CAP_OFFSET 8
#define VIRTIO_CAP_LENGTH 12
#define VIRTIO_CAP_NOTIFY_MULT 16
#define VIRTIO_CAP_PCI_CFG_DATA 16

/* ---- common configuration structure (§4.1.4.3) ---- */
#define VIRTIO_COMMON_DFSELECT 0x00 /* le32 device_feature_select */
#define VIRTIO_COMMON_DF 0x04       /* le32 device_feature        */
#define VIRTIO_COMMON_GFSELECT 0x08 /* le32 driver_feature_select */
#define VIRTIO_COMMON_GF 0x0C       /* le32 driver_feature        */
#define VIRTIO_COMMON_NUMQ 0x12     /* le16 num_queues            */
#define VIRTIO_COMMON_STATUS 0x14   /* u8 device_status           */
#define VIRTIO_COMMON_CFGGEN 0x15   /* u8 config_generation       */
#define VIRTIO_COMMON_Q_SELECT 0x16 /* le16 queue_select          */
#define VIRTIO_COMMON_Q_SIZE 0x18   /* le16 queue_size            */
#define VIRTIO_COMMON_Q_ENABLE 0x1C /* le16 queue_enable          */
#define VIRTIO_COMMON_Q_NOFF 0x1E   /* le16 queue_notify_off      */
#define VIRTIO_COMMON_Q_DESC 0x20   /* le64 queue_desc            */
#define VIRTIO_COMMON_Q_AVAIL 0x28  /* le64 queue_driver          */
#define VIRTIO_COMMON_Q_USED 0x30   /* le64 queue_device          */

/* ---- legacy register block in I/O BAR0 (§4.1.4.10) ---- */
#define VIRTIO_LEGACY_HOST_FEATURES 0  /* le32 */
#define VIRTIO_LEGACY_GUEST_FEATURES 4 /* le32 */
#define VIRTIO_LEGACY_QUEUE_PFN 8      /* le32, address >> 12 */
#define VIRTIO_LEGACY_QUEUE_NUM 12     /* le16 */
#define VIRTIO_LEGACY_QUEUE_SEL 14     /* le16 */
#define VIRTIO_LEGACY_QUEUE_NOTIFY 16  /* le16 */
#define VIRTIO_LEGACY_STATUS 18        /* u8 */
#define VIRTIO_LEGACY_ISR 19           /* u8 */
#define VIRTIO_LEGACY_CONFIG 20        /* device config without MSI-X */
#define VIRTIO_LEGACY_ALIGN 4096       /* §2.7.2 legacy ring alignment */

/* ---- ISR status bits (§4.1.4.5) ---- */
#define VIRTIO_ISR_QUEUE 1
#define VIRTIO_ISR_CONFIG 2

/* ---- split virtqueue (§2.7) ---- */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1 /* §2.7.7 */
#define VIRTQ_USED_F_NO_NOTIFY 1     /* §2.7.10 */

struct virtq_desc { /* §2.7.5 */
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct virtq_used_elem { /* §2.7.8 */
    uint32_t id;
    uint32_t len;
};

struct virtq {
    uint16_t size;
    volatile struct virtq_desc *desc;
    volatile uint16_t *avail;            /* flags, idx, ring[size], used_event */
    volatile uint16_t *used;             /* flags, idx, then the elements */
    volatile struct virtq_used_elem *elem; /* used ring[size], then avail_event */
    uint16_t avail_idx;                  /* next avail.idx the driver publishes */
    uint16_t last_used;                  /* used entries consumed so far */
    int event_idx;                       /* VIRTIO_F_EVENT_IDX negotiated */
};

#define VQ_AVAIL_FLAGS(q) ((q)->avail[0])
#define VQ_AVAIL_IDX(q) ((q)->avail[1])
#define VQ_USED_EVENT(q) ((q)->avail[2 + (q)->size])
#define VQ_USED_FLAGS(q) ((q)->used[0])
#define VQ_USED_IDX(q) ((q)->used[1])
#define VQ_AVAIL_EVENT(q) (*(volatile uint16_t *)&(q)->elem[(q)->size])

/* Bytes of ring memory for a queue of `size` in the legacy layout (the larger of the two). */
#define VQ_MEM_BYTES(size) (2 * VIRTIO_LEGACY_ALIGN + 8 * (size) + 16 * (size) + VIRTIO_LEGACY_ALIGN)

/* Lay the rings out in `mem` (zeroed first): legacy: desc at mem, avail after it, used on the
 * next 4 KiB boundary (§2.7.2); modern: each ring just aligned (desc 16, avail 2, used 4,
 * §2.7.1). */
void vq_layout(struct virtq *q, void *mem, uint16_t size, int legacy);
void vq_desc(struct virtq *q, uint16_t i, uint32_t addr, uint32_t len, uint16_t flags, uint16_t next);
/* Put `head` in the next available ring slot (not visible to the device until vq_publish). */
void vq_add(struct virtq *q, uint16_t head);
/* Publish avail.idx; returns 1 if the device wants a notification (§2.7.10 / EVENT_IDX). */
int vq_publish(struct virtq *q, uint16_t old_idx);
/* Take the next used element, if there is one (returns 0 if none). */
int vq_pop_used(struct virtq *q, struct virtq_used_elem *out);

/* ---- one virtio-pci function ---- */
struct vdev {
    int slot;
    uint16_t device_id;
    uint8_t revision;
    uint8_t irq;
    int legacy; /* driving the legacy interface through BAR0 */
    uint16_t io; /* BAR0 I/O base (transitional) */
    volatile uint8_t *common, *isr, *devcfg, *notify; /* modern structures in the BARs */
    uint32_t notify_mult;
    int pci_cfg; /* config-space offset of the PCI_CFG capability, or 0 */
    uint16_t notify_off; /* queue 0's queue_notify_off */
    uint32_t offered_lo, offered_hi;
    uint32_t accepted_lo, accepted_hi;
};

/* Bus 0 slots with a virtio-blk function (modern or transitional), in slot order; returns the count. */
int vdev_scan(int *slots, int max);
/* Read the function's IDs, BARs and capabilities; enable I/O, memory and bus mastering.
 * Returns 0 if a modern capability is missing (legacy-only use still possible). */
int vdev_probe(struct vdev *d, int slot, int legacy);

void vdev_reset(struct vdev *d);
uint8_t vdev_status(struct vdev *d);
void vdev_set_status(struct vdev *d, uint8_t s);
/* Reset, ACKNOWLEDGE, DRIVER, read the offer, accept (want & offered), FEATURES_OK (modern).
 * Returns the device status afterwards. */
uint8_t vdev_negotiate(struct vdev *d, uint32_t want_lo, uint32_t want_hi);
uint16_t vdev_queue_max(struct vdev *d, uint16_t qi);
/* Lay out the rings (size ignored for legacy: the device's size) and hand them to the device. */
void vdev_queue_setup(struct vdev *d, uint16_t qi, struct virtq *q, void *mem, uint16_t size);
void vdev_notify(struct vdev *d, uint16_t qi);
uint8_t vdev_isr(struct vdev *d);
uint32_t vdev_cfg32(struct vdev *d, int off);
/* A 64-bit config field, read until config_generation (modern, §2.5.1) or the value (legacy)
 * is the same before and after. */
uint64_t vdev_cfg64(struct vdev *d, int off);
/* Modern: common-config register access for the checks (width = access width). */
uint32_t vdev_common_read(struct vdev *d, int off, int width);
void vdev_common_write(struct vdev *d, int off, int width, uint32_t v);

/* ---- interrupts (irq.c) ---- */
/* IDT for vectors 0-47, 8259A pair at 0x20/0x28, everything masked but IRQ 0 (the watchdog). */
void irq_setup(void);
/* Route `d`'s INTx# line (PCI config 0x3C) to the handler, which reads its ISR. */
void irq_attach(struct vdev *d);
extern volatile uint32_t irq_count;   /* device interrupts taken */
extern volatile uint8_t irq_isr_bits; /* OR of the ISR values the handler read */
/* Wait (sti; hlt) until irq_count >= target or `periods` runs of the PIT watchdog (55 ms of
 * guest time each) have passed. Returns 1 if the count was reached. */
int irq_wait(uint32_t target, int periods);
/* Periods to wait for something that should happen (a device on a busy host may be slow), and
 * for something that should not (how long "nothing happened" is watched). */
#define WAIT_EXPECTED 20
#define WAIT_UNEXPECTED 1

/* Defined by each kernel (virtioblk.c, badvirtio.c; irq.c calls it on an exception): print the
 * summary, exit through the debug-exit port 0xF4 with 0 if every check passed (exit status 1). */
void __attribute__((noreturn)) finish(const char *name);

#endif
