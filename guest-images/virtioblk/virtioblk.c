/*
 * virtioblk.c - a Multiboot kernel with its own virtio-blk driver (virtio 1.2 §5.2 over §4.1
 * virtio-pci, §2.7 split queues) that checks what the device does, for every virtio-blk
 * function on PCI bus 0: a modern one (1AF4:1042) through its capabilities, a transitional one
 * (1AF4:1001) first through the legacy I/O BAR0 interface and then, after a reset, through the
 * modern one. See README.md for the checks and the disk layout the host prepares.
 *
 * Output on COM1: "PASS <slot>:<interface>:<check>" / "FAIL ...: <details>", then
 * "virtioblk: N passed, M failed"; port 0xF4 gets 0 if every check passed, 1 otherwise.
 */
#include "check.h"
#include "io.h"
#include "serial.h"
#include "virtio.h"

/* §5.2.6 request types and status values; §5.2.4 config offsets. */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_UNDEFINED 0x7F /* no request type has this number */
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_ID_BYTES 20
#define BLK_CFG_CAPACITY 0
#define BLK_CFG_SIZE_MAX 8
#define BLK_CFG_SEG_MAX 12
#define BLK_CFG_BLK_SIZE 20
#define SECTOR 512
#define MODERN_QUEUE_SIZE 64
#define MAX_QUEUE_SIZE 256
#define SLOT_DESCS 8 /* descriptors per request slot: header, up to 6 data segments, status */
#define NO_STATUS 0xFF

struct blk_header { /* §5.2.6 */
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

struct seg {
    void *addr;
    uint32_t len;
};

static uint8_t ring_mem[VQ_MEM_BYTES(MAX_QUEUE_SIZE)] __attribute__((aligned(4096)));
static struct blk_header headers[4];
static volatile uint8_t statuses[4];
static struct virtq_desc indirect_tables[4][SLOT_DESCS] __attribute__((aligned(16)));
static uint8_t buf[8192] __attribute__((aligned(16)));
static uint8_t back[8192] __attribute__((aligned(16)));
static uint8_t sector0[SECTOR];

static struct vdev dev;
static struct virtq vq;
static const char *iface;

void __attribute__((noreturn)) finish(const char *name)
{
    kprintf("%s: %u passed, %u failed\n", name, check_passed, check_failed);
    outb(0xF4, check_failed ? 1 : 0);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* "<slot>:<interface>:<what>" for check(). */
static const char *name(const char *what)
{
    static char s[64];
    int n = 0;
    s[n++] = (char)('0' + dev.slot / 10);
    s[n++] = (char)('0' + dev.slot % 10);
    s[n++] = ':';
    for (const char *p = iface; *p; p++)
        s[n++] = *p;
    s[n++] = ':';
    while (*what && n < 63)
        s[n++] = *what++;
    s[n] = 0;
    return s;
}

/* Bytes the host test wrote to sectors 1-15 (tests/virtio-guest.test.ts hostPattern). */
static uint8_t host_pattern(uint32_t sector, uint32_t i) { return (uint8_t)(sector * 31 + i * 7 + (i >> 8)); }
/* Bytes this guest writes (the host test checks them after the run: guestPattern). */
static uint8_t guest_pattern(uint32_t sector, uint32_t i, uint32_t tag)
{
    return (uint8_t)(sector * 13 + i * 3 + tag * 0x40 + 0x11);
}

/* Write request slot k's chain into `t` from index `base` (next indexes t): header (readable),
 * the data segments (writable for IN/GET_ID), the status byte (writable). */
static void fill_chain(volatile struct virtq_desc *t, uint16_t base, int k, uint32_t type, const struct seg *segs,
                       int n)
{
    uint16_t data_flags = VIRTQ_DESC_F_NEXT | (type == VIRTIO_BLK_T_OUT ? 0 : VIRTQ_DESC_F_WRITE);
    t[base] = (struct virtq_desc){(uint32_t)&headers[k], sizeof headers[k], VIRTQ_DESC_F_NEXT, base + 1};
    for (int i = 0; i < n; i++)
        t[base + 1 + i] = (struct virtq_desc){(uint32_t)segs[i].addr, segs[i].len, data_flags, base + 2 + i};
    t[base + 1 + n] = (struct virtq_desc){(uint32_t)&statuses[k], 1, VIRTQ_DESC_F_WRITE, 0};
}

/* Put request slot k in the available ring (not yet published); returns its head. */
static uint16_t queue_request(int k, uint32_t type, uint64_t sector, const struct seg *segs, int n, int indirect)
{
    headers[k] = (struct blk_header){type, 0, sector};
    statuses[k] = NO_STATUS;
    uint16_t head = (uint16_t)(k * SLOT_DESCS);
    if (indirect) {
        /* §2.7.5.3: one descriptor with INDIRECT pointing at a table of the whole chain. */
        fill_chain(indirect_tables[k], 0, k, type, segs, n);
        vq_desc(&vq, head, (uint32_t)indirect_tables[k], (uint32_t)(n + 2) * sizeof(struct virtq_desc),
                VIRTQ_DESC_F_INDIRECT, 0);
    } else {
        fill_chain(vq.desc, head, k, type, segs, n);
    }
    vq_add(&vq, head);
    return head;
}

static uint32_t kicks, kicks_suppressed;

/* Publish everything queued since `old` and notify if the device asked for it. */
static void kick(uint16_t old)
{
    if (vq_publish(&vq, old)) {
        kicks++;
        vdev_notify(&dev, 0);
    } else {
        kicks_suppressed++;
    }
}

/* With EVENT_IDX: ask for an interrupt once the used entry at index `at` is written (§2.7.10). */
static void want_interrupt_at(uint16_t at)
{
    if (vq.event_idx)
        VQ_USED_EVENT(&vq) = at;
}

/* One request, waited for: returns the status byte, or -1 (with a FAIL) if no interrupt or no
 * matching used element came. `*used_len` gets the used length. */
static int request(const char *what, uint32_t type, uint64_t sector, const struct seg *segs, int n, int indirect,
                   uint32_t *used_len)
{
    uint16_t old = vq.avail_idx;
    uint32_t irqs = irq_count;
    want_interrupt_at(vq.last_used);
    uint16_t head = queue_request(0, type, sector, segs, n, indirect);
    kick(old);
    int got_irq = irq_wait(irqs + 1, WAIT_EXPECTED);
    struct virtq_used_elem e;
    int got = vq_pop_used(&vq, &e);
    if (!got_irq || !got || e.id != head) {
        check(name(what), 0, "interrupt %u, used element %u (id %u, want %u)", got_irq, got, got ? e.id : 0, head);
        return -1;
    }
    *used_len = e.len;
    return statuses[0];
}

static void fill(uint8_t *p, uint32_t len, uint8_t v)
{
    for (uint32_t i = 0; i < len; i++)
        p[i] = v;
}

/* Index of the first byte of sectors [first, first + count) in `p` that differs from `pattern`
 * (tag < 0: host_pattern), or -1. */
static int mismatch(const uint8_t *p, uint32_t first, uint32_t count, int tag)
{
    for (uint32_t s = 0; s < count; s++)
        for (uint32_t i = 0; i < SECTOR; i++) {
            uint8_t want = tag < 0 ? host_pattern(first + s, i) : guest_pattern(first + s, i, (uint32_t)tag);
            if (p[s * SECTOR + i] != want)
                return (int)(s * SECTOR + i);
        }
    return -1;
}

static void check_io(const char *what, int status, int want_status, uint32_t used_len, uint32_t want_len)
{
    check(name(what), status == want_status && used_len == want_len, "status %d (want %d), used len %u (want %u)",
          status, want_status, used_len, want_len);
}

/* Bring the device up (§3.1.1); returns 0 if it refused. */
static int bring_up(void)
{
    uint32_t want_lo = VIRTIO_BLK_F_SIZE_MAX | VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH |
                       VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX;
    if (dev.legacy)
        want_lo &= ~VIRTIO_F_EVENT_IDX; /* the legacy pass uses avail.flags instead (§2.7.7) */
    vdev_set_status(&dev, VIRTIO_STATUS_ACKNOWLEDGE);
    vdev_reset(&dev);
    check_eq(name("reset"), vdev_status(&dev), 0);
    uint8_t st = vdev_negotiate(&dev, want_lo, VIRTIO_F_VERSION_1_HI);
    uint32_t must = VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH | VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX;
    check(name("offer"), (dev.offered_lo & must) == must && (dev.legacy || dev.offered_hi & VIRTIO_F_VERSION_1_HI),
          "offered 0x%x:%x", dev.offered_hi, dev.offered_lo);
    if (!dev.legacy) {
        check(name("features-ok"), st & VIRTIO_STATUS_FEATURES_OK, "status 0x%x after FEATURES_OK", st);
        if (!(st & VIRTIO_STATUS_FEATURES_OK))
            return 0;
        check(name("num-queues"), vdev_common_read(&dev, VIRTIO_COMMON_NUMQ, 2) >= 1, "num_queues %u",
              vdev_common_read(&dev, VIRTIO_COMMON_NUMQ, 2));
    }
    uint16_t max = vdev_queue_max(&dev, 0);
    check(name("queue-max"), max >= MODERN_QUEUE_SIZE && max <= MAX_QUEUE_SIZE && !(max & (max - 1)),
          "queue size %u (want a power of two in %u-%u)", max, MODERN_QUEUE_SIZE, MAX_QUEUE_SIZE);
    if (max < MODERN_QUEUE_SIZE || max > MAX_QUEUE_SIZE)
        return 0;
    vdev_queue_setup(&dev, 0, &vq, ring_mem, MODERN_QUEUE_SIZE);
    if (!dev.legacy)
        check(name("queue-config"),
              vdev_common_read(&dev, VIRTIO_COMMON_Q_SIZE, 2) == MODERN_QUEUE_SIZE &&
                  vdev_common_read(&dev, VIRTIO_COMMON_Q_ENABLE, 2) == 1 &&
                  vdev_common_read(&dev, VIRTIO_COMMON_Q_DESC, 4) == (uint32_t)vq.desc,
              "queue_size %u, queue_enable %u", vdev_common_read(&dev, VIRTIO_COMMON_Q_SIZE, 2),
              vdev_common_read(&dev, VIRTIO_COMMON_Q_ENABLE, 2));
    vdev_set_status(&dev, st | VIRTIO_STATUS_DRIVER_OK);
    st = vdev_status(&dev);
    check(name("driver-ok"),
          (st & VIRTIO_STATUS_DRIVER_OK) && !(st & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)),
          "status 0x%x", st);
    return 1;
}

/* Wait until used.idx reaches `idx`, for completions that come without an interrupt. */
static void wait_used(uint16_t idx)
{
    for (int p = 0; p < WAIT_EXPECTED && VQ_USED_IDX(&vq) != idx; p++)
        irq_wait(irq_count + 1, 1);
}

/* The notification-suppression checks: EVENT_IDX (§2.7.10) or avail.flags (§2.7.7). */
static void check_suppression(uint64_t capacity)
{
    struct seg one = {buf, SECTOR};
    uint32_t irqs = irq_count;
    uint16_t used0 = vq.last_used;
    uint16_t old = vq.avail_idx;
    if (vq.event_idx) {
        check(name("event-idx-avail-event"), VQ_AVAIL_EVENT(&vq) == vq.avail_idx, "avail_event %u, avail.idx %u",
              VQ_AVAIL_EVENT(&vq), vq.avail_idx);
        want_interrupt_at((uint16_t)(used0 + 1)); /* not for the next completion, for the one after */
    } else {
        VQ_AVAIL_FLAGS(&vq) = VIRTQ_AVAIL_F_NO_INTERRUPT;
    }
    queue_request(0, VIRTIO_BLK_T_IN, 1, &one, 1, 0);
    kick(old);
    int irq = irq_wait(irqs + 1, WAIT_UNEXPECTED);
    wait_used((uint16_t)(used0 + 1));
    irq |= irq_count != irqs;
    check(name(vq.event_idx ? "event-idx-suppresses" : "no-interrupt-flag"),
          !irq && VQ_USED_IDX(&vq) == (uint16_t)(used0 + 1) && statuses[0] == VIRTIO_BLK_S_OK,
          "interrupt %u, used.idx %u (want %u), status %u", irq, VQ_USED_IDX(&vq), used0 + 1, statuses[0]);
    struct virtq_used_elem e;
    vq_pop_used(&vq, &e);

    /* A batch of three requests, one notification: one interrupt, three used elements. */
    VQ_AVAIL_FLAGS(&vq) = 0;
    want_interrupt_at(vq.last_used);
    irqs = irq_count;
    old = vq.avail_idx;
    struct seg segs[3] = {{buf, SECTOR}, {buf + 1024, SECTOR}, {buf + 2048, SECTOR}};
    for (int k = 1; k < 4; k++)
        queue_request(k, VIRTIO_BLK_T_IN, (uint64_t)(k == 3 ? capacity : (uint64_t)k), &segs[k - 1], 1, 0);
    uint32_t kicks0 = kicks;
    kick(old);
    int first = irq_wait(irqs + 1, WAIT_EXPECTED);
    wait_used((uint16_t)(vq.last_used + 3));
    int second = irq_wait(irqs + 2, WAIT_UNEXPECTED);
    int n = 0;
    while (vq_pop_used(&vq, &e))
        n++;
    /* With EVENT_IDX one interrupt is what §2.7.10 allows (used_event is crossed once); without
     * it a device may interrupt per completion (QEMU does): the count is printed for the host. */
    uint32_t taken = irq_count - irqs;
    kprintf("info: %s batch of 3 requests took %u interrupt(s)\n", name(""), taken);
    check(name(vq.event_idx ? "batch-one-interrupt" : "batch-interrupted"),
          kicks == kicks0 + 1 && first && (!second || !vq.event_idx) && n == 3, "kicks %u, interrupts %u, used %u",
          kicks - kicks0, taken, n);
    check(name("batch-status"),
          statuses[1] == VIRTIO_BLK_S_OK && statuses[2] == VIRTIO_BLK_S_OK && statuses[3] == VIRTIO_BLK_S_IOERR,
          "statuses %u %u %u (want 0 0 1: the third reads past the end)", statuses[1], statuses[2], statuses[3]);
    check(name("batch-data"), mismatch(buf, 1, 1, -1) < 0 && mismatch(buf + 1024, 2, 1, -1) < 0, "data differs");
}

static void run(int slot, int legacy)
{
    uint32_t len = 0;
    int st;
    iface = legacy ? "legacy" : "modern";
    int caps = vdev_probe(&dev, slot, legacy);
    int transitional = dev.device_id == VIRTIO_PCI_BLK_TRANSITIONAL;
    uint16_t subsys = pci_read16(slot, PCI_SUBSYSTEM_ID);
    check(name("ids"), transitional ? dev.revision == 0 && subsys == 2 : dev.revision >= 1,
          "device 0x%x revision %u subsystem 0x%x", dev.device_id, dev.revision, subsys);
    if (legacy)
        check(name("io-bar"), dev.io != 0 && (pci_read32(slot, PCI_BASE_ADDRESS_0) & 1), "BAR0 0x%x",
              pci_read32(slot, PCI_BASE_ADDRESS_0));
    else
        check(name("capabilities"), caps, "common %x notify %x isr %x device %x", (uint32_t)dev.common,
              (uint32_t)dev.notify, (uint32_t)dev.isr, (uint32_t)dev.devcfg);
    check(name("irq-line"), dev.irq > 0 && dev.irq < 16 && dev.irq != 2 && pci_read8(slot, PCI_INTERRUPT_PIN) == 1,
          "line %u pin %u", dev.irq, pci_read8(slot, PCI_INTERRUPT_PIN));
    if ((!legacy && !caps) || (legacy && !dev.io) || !dev.irq || dev.irq >= 16)
        return;
    irq_attach(&dev);
    if (!bring_up())
        return;
    int indirect = (dev.accepted_lo & VIRTIO_F_INDIRECT_DESC) != 0;
    uint32_t tag = (uint32_t)legacy;
    uint32_t written = 32 + 16 * tag;

    /* §5.2.4 configuration. */
    uint64_t capacity = vdev_cfg64(&dev, BLK_CFG_CAPACITY);
    check_eq(name("blk-size"), vdev_cfg32(&dev, BLK_CFG_BLK_SIZE), SECTOR);
    /* seg_max and size_max mean something only when offered (§5.2.4). */
    uint32_t seg_max = dev.offered_lo & VIRTIO_BLK_F_SEG_MAX ? vdev_cfg32(&dev, BLK_CFG_SEG_MAX) : 3;
    uint32_t size_max = dev.offered_lo & VIRTIO_BLK_F_SIZE_MAX ? vdev_cfg32(&dev, BLK_CFG_SIZE_MAX) : 4096;
    check(name("seg-max"), seg_max >= 3 && size_max >= 4096, "seg_max %u size_max %u", seg_max, size_max);

    /* Sector 0, prepared by the host: "TRAPDOOR", le64 capacity, the 20-byte serial at 16. */
    struct seg s0 = {sector0, SECTOR};
    st = request("read-sector0", VIRTIO_BLK_T_IN, 0, &s0, 1, 0, &len);
    check_io("read-sector0", st, VIRTIO_BLK_S_OK, len, SECTOR + 1);
    const char *magic = "TRAPDOOR";
    int magic_ok = 1;
    for (int i = 0; i < 8; i++)
        magic_ok &= sector0[i] == (uint8_t)magic[i];
    uint64_t host_capacity = *(uint64_t *)(sector0 + 8);
    check(name("capacity"), magic_ok && capacity == host_capacity, "config %u:%u, host says %u:%u (magic %u)",
          (uint32_t)(capacity >> 32), (uint32_t)capacity, (uint32_t)(host_capacity >> 32), (uint32_t)host_capacity,
          magic_ok);
    if (capacity < 64 || capacity > 0xFFFFFFFFu)
        return;

    /* GET_ID (§5.2.6): the serial in at most 20 bytes; nothing written past them. */
    struct seg id = {buf, VIRTIO_BLK_ID_BYTES};
    fill(buf, 32, 0xEE);
    buf[32] = 0; /* ends the string printed on failure */
    st = request("get-id", VIRTIO_BLK_T_GET_ID, 0, &id, 1, 0, &len);
    /* Up to 20 bytes, NUL-terminated if shorter (QEMU writes only up to the NUL). */
    int id_ok = 1;
    for (int i = 0; i < VIRTIO_BLK_ID_BYTES && (i == 0 || sector0[16 + i - 1]); i++)
        id_ok &= buf[i] == sector0[16 + i];
    check(name("get-id"), st == VIRTIO_BLK_S_OK && id_ok && buf[VIRTIO_BLK_ID_BYTES] == 0xEE,
          "status %d, serial \"%s\"", st, (const char *)buf);

    /* Sectors 1-8 in one request over three data descriptors of different sizes. */
    struct seg three[3] = {{buf, 512}, {buf + 512, 1536}, {buf + 2048, 2048}};
    fill(buf, 4096, 0);
    st = request("read-host-data", VIRTIO_BLK_T_IN, 1, three, 3, 0, &len);
    check_io("read-host-data", st, VIRTIO_BLK_S_OK, len, 4096 + 1);
    int at = mismatch(buf, 1, 8, -1);
    check(name("host-data"), at < 0, "byte %d differs", at);

    /* Write 8 sectors, FLUSH, read them back (through an indirect table if negotiated). */
    for (uint32_t s = 0; s < 8; s++)
        for (uint32_t i = 0; i < SECTOR; i++)
            buf[s * SECTOR + i] = guest_pattern(written + s, i, tag);
    struct seg two[2] = {{buf, 1024}, {buf + 1024, 3072}};
    st = request("write", VIRTIO_BLK_T_OUT, written, two, 2, 0, &len);
    check_io("write", st, VIRTIO_BLK_S_OK, len, 1);
    st = request("flush", VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0, &len);
    check_io("flush", st, VIRTIO_BLK_S_OK, len, 1);
    struct seg rb[3] = {{back, 2048}, {back + 2048, 1024}, {back + 3072, 1024}};
    fill(back, 4096, 0);
    st = request(indirect ? "read-back-indirect" : "read-back", VIRTIO_BLK_T_IN, written, rb, 3, indirect, &len);
    check_io(indirect ? "read-back-indirect" : "read-back", st, VIRTIO_BLK_S_OK, len, 4096 + 1);
    at = mismatch(back, written, 8, (int)tag);
    check(name("read-back-data"), at < 0, "byte %d differs", at);

    /* The last sector is writable; anything past it is IOERR (§5.2.6.1). */
    uint32_t last = (uint32_t)capacity - 1;
    for (uint32_t i = 0; i < SECTOR; i++)
        buf[i] = guest_pattern(last, i, tag);
    struct seg one = {buf, SECTOR};
    st = request("write-last-sector", VIRTIO_BLK_T_OUT, last, &one, 1, 0, &len);
    check_io("write-last-sector", st, VIRTIO_BLK_S_OK, len, 1);
    struct seg two_sectors = {back, 2 * SECTOR};
    st = request("read-across-end", VIRTIO_BLK_T_IN, last, &two_sectors, 1, 0, &len);
    check(name("read-across-end"), st == VIRTIO_BLK_S_IOERR, "status %d (want IOERR)", st);
    st = request("read-past-end", VIRTIO_BLK_T_IN, capacity, &one, 1, 0, &len);
    check(name("read-past-end"), st == VIRTIO_BLK_S_IOERR, "status %d (want IOERR)", st);
    st = request("unsupported-type", VIRTIO_BLK_T_UNDEFINED, 0, 0, 0, 0, &len);
    check(name("unsupported-type"), st == VIRTIO_BLK_S_UNSUPP, "status %d (want UNSUPP)", st);

    check_suppression(capacity);
    check(name("isr-queue-bit"), irq_isr_bits & VIRTIO_ISR_QUEUE, "ISR values read 0x%x", irq_isr_bits);
    check_eq(name("isr-read-clears"), vdev_isr(&dev), 0);
    irq_isr_bits = 0;
    vdev_reset(&dev);
    check_eq(name("final-reset"), vdev_status(&dev), 0);
}

void kmain(uint32_t magic, void *mbi)
{
    (void)magic, (void)mbi;
    serial_init();
    irq_setup();
    int slots[8];
    int n = vdev_scan(slots, 8);
    check("found", n > 0, "no virtio-blk function (1AF4:1042 or 1AF4:1001) on bus 0");
    for (int i = 0; i < n; i++) {
        if (pci_read16(slots[i], PCI_DEVICE_ID) == VIRTIO_PCI_BLK_TRANSITIONAL)
            run(slots[i], 1);
        run(slots[i], 0);
    }
    finish("virtioblk");
}
