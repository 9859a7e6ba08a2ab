/*
 * badvirtio.c - a "bad driver": a Multiboot kernel that drives the first virtio-blk function on
 * PCI bus 0 through its modern interface (virtio 1.2 §4.1) and commits, one at a time, each
 * mistake that trapdoor's driver checker detects (docs/virtio.md), then checks from inside the
 * guest how the device reacted. The device is reset and brought up again before each mistake.
 *
 * The kernel command line says which checker mode the host chose: "strict" (ring and request-
 * framing errors set DEVICE_NEEDS_RESET and raise a configuration interrupt, §2.1.2) or "lenient"
 * (the bad chain comes back with used length 0 and the queue goes on). Register misuse is ignored
 * in both modes; bad block requests complete with IOERR in both (§5.2.6.1).
 *
 * A transitional device is then also driven through its legacy interface for three more.
 *
 * Before each mistake the kernel writes its number (1, 2, ...) to the POST port 0x80 and prints
 * "mistake <n>: <what>"; it writes 0 before bringing the device up again for the next one. The
 * host test pairs each diagnostic with the number on the port when it was reported. Output:
 * "PASS <name>" / "FAIL <name>: <details>", "badvirtio: N passed, M failed"; port 0xF4 gets 0 if
 * all passed.
 */
#include "check.h"
#include "io.h"
#include "serial.h"
#include "virtio.h"

#define POST_PORT 0x80
#define QSIZE 16
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define BLK_CFG_CAPACITY 0
#define OUTSIDE_RAM 0xF0000000u /* above any guest RAM this machine can have (3 GiB at most) */
#define GOOD_HEAD 8              /* descriptors 8-10: the well-formed request after a mistake */
#define WAIT_REACTION 2          /* watchdog periods (110 ms of guest time) to wait for a reaction */
#define LEGACY_MAX_QSIZE 256     /* the legacy interface uses the device's queue size */
#define MB_INFO_MEMORY (1u << 0)
#define MB_INFO_CMDLINE (1u << 2)

struct blk_header { /* §5.2.6 */
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

static uint8_t ring_mem[VQ_MEM_BYTES(LEGACY_MAX_QSIZE)] __attribute__((aligned(4096)));
static struct blk_header hdr, good_hdr;
static volatile uint8_t status, good_status;
static uint8_t data[1024] __attribute__((aligned(16)));
static struct virtq_desc table[4] __attribute__((aligned(16)));
static struct virtq_desc big[1025] __attribute__((aligned(16))); /* over-long indirect chains */
static uint32_t ram_bytes;
static struct vdev dev;
static struct virtq vq;
static int strict;
static uint32_t irqs_before;
static uint32_t mistakes; /* committed so far; the current one's number is on the POST port */

void __attribute__((noreturn)) finish(const char *name)
{
    outb(POST_PORT, 0);
    kprintf("%s: %u passed, %u failed\n", name, check_passed, check_failed);
    outb(0xF4, check_failed ? 1 : 0);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* Reset and bring the device up (§3.1.1) with VERSION_1 and `features_lo`, queue 0 of size 16
 * (legacy: the device's size); DRIVER_OK only if `driver_ok`. */
static void up(uint32_t features_lo, int driver_ok)
{
    outb(POST_PORT, 0); /* no mistake in progress */
    uint8_t st = vdev_negotiate(&dev, features_lo, VIRTIO_F_VERSION_1_HI);
    vdev_queue_setup(&dev, 0, &vq, ring_mem, QSIZE);
    if (driver_ok)
        vdev_set_status(&dev, st | VIRTIO_STATUS_DRIVER_OK);
    irq_isr_bits = 0;
}

/* Say which mistake comes next: on COM1 and, for the host's bookkeeping, on the POST port. */
static void announce(const char *what)
{
    mistakes++;
    kprintf("mistake %u: %s\n", mistakes, what);
    outb(POST_PORT, (uint8_t)mistakes);
}

/* A fresh device (INDIRECT_DESC and FLUSH accepted, DRIVER_OK), then the announcement. */
static void mistake(const char *what)
{
    up(VIRTIO_F_INDIRECT_DESC | VIRTIO_BLK_F_FLUSH, 1);
    announce(what);
}

static void desc(uint16_t i, uint32_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    vq_desc(&vq, i, addr, len, flags, next);
}

static void header(uint32_t type, uint64_t sector)
{
    hdr = (struct blk_header){type, 0, sector};
    status = 0xFF;
}

/* Offer `head` and notify queue 0. */
static void kick_head(uint16_t head)
{
    irqs_before = irq_count;
    irq_isr_bits = 0;
    uint16_t old = vq.avail_idx;
    vq_add(&vq, head);
    vq_publish(&vq, old);
    vdev_notify(&dev, 0);
}

/* Offer a well-formed read of sector 0 at GOOD_HEAD and notify. */
static void kick_good(void)
{
    good_hdr = (struct blk_header){VIRTIO_BLK_T_IN, 0, 0};
    good_status = 0xFF;
    desc(GOOD_HEAD, (uint32_t)&good_hdr, sizeof good_hdr, VIRTQ_DESC_F_NEXT, GOOD_HEAD + 1);
    desc(GOOD_HEAD + 1, (uint32_t)data, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, GOOD_HEAD + 2);
    desc(GOOD_HEAD + 2, (uint32_t)&good_status, 1, VIRTQ_DESC_F_WRITE, 0);
    kick_head(GOOD_HEAD);
}

/* kick_good, waited for: 1 if it completed with OK and an interrupt. */
static int good_request(void)
{
    kick_good();
    int irq = irq_wait(irqs_before + 1, WAIT_REACTION);
    struct virtq_used_elem e;
    int used = vq_pop_used(&vq, &e);
    return irq && used && e.id == GOOD_HEAD && good_status == VIRTIO_BLK_S_OK;
}

/* Strict mode after an error: the device serves no request until reset (docs/virtio.md, as
 * QEMU's broken device): a good request gets neither a used element nor an interrupt. */
static int queue_stopped(void)
{
    uint16_t used = VQ_USED_IDX(&vq);
    kick_good();
    return !irq_wait(irqs_before + 1, WAIT_REACTION) && VQ_USED_IDX(&vq) == used;
}

/*
 * The reaction to a ring or request-framing error: strict: DEVICE_NEEDS_RESET and a configuration
 * interrupt, nothing used, and the queue stopped; lenient: the chain used with length 0 (or, if
 * `skipped`, not used at all: a head out of range names no chain), no NEEDS_RESET, and a
 * following good request completes.
 */
static void expect_broken_chain(const char *name, uint16_t head, int skipped)
{
    int irq = irq_wait(irqs_before + 1, WAIT_REACTION);
    uint8_t st = vdev_status(&dev);
    struct virtq_used_elem e = {0xFFFF, 0xFFFF};
    int used = vq_pop_used(&vq, &e);
    if (strict) {
        uint8_t isr = irq_isr_bits;
        int stopped = queue_stopped();
        check(name, irq && (isr & VIRTIO_ISR_CONFIG) && (st & VIRTIO_STATUS_NEEDS_RESET) && !used && stopped,
              "interrupt %u, ISR 0x%x, status 0x%x, used %u, queue stopped %u (want config interrupt, NEEDS_RESET, "
              "nothing used, stopped)",
              irq, isr, st, used, stopped);
        return;
    }
    int reacted = skipped ? !irq && !used : irq && used && e.id == head && e.len == 0;
    int goes_on = good_request();
    check(name, reacted && !(st & VIRTIO_STATUS_NEEDS_RESET) && goes_on,
          "interrupt %u, used %u (id %u len %u), status 0x%x, next request ok %u", irq, used, e.id, e.len, st,
          goes_on);
}

/* A bad block request: IOERR in both modes (§5.2.6.1), used length 1 (the status byte). */
static void expect_ioerr(const char *name)
{
    int irq = irq_wait(irqs_before + 1, WAIT_REACTION);
    struct virtq_used_elem e = {0xFFFF, 0xFFFF};
    int used = vq_pop_used(&vq, &e);
    check(name, irq && used && e.id == 0 && e.len == 1 && status == VIRTIO_BLK_S_IOERR,
          "interrupt %u, used %u (len %u), status %u (want IOERR)", irq, used, e.len, status);
}

/* hdr -> data (flags) -> status, from descriptor 0. */
static void three(uint32_t data_len, uint16_t data_flags)
{
    desc(0, (uint32_t)&hdr, sizeof hdr, VIRTQ_DESC_F_NEXT, 1);
    desc(1, (uint32_t)data, data_len, data_flags | VIRTQ_DESC_F_NEXT, 2);
    desc(2, (uint32_t)&status, 1, VIRTQ_DESC_F_WRITE, 0);
}

/* An indirect table holding a good read of sector 0. */
static void good_table(void)
{
    table[0] = (struct virtq_desc){(uint32_t)&hdr, sizeof hdr, VIRTQ_DESC_F_NEXT, 1};
    table[1] = (struct virtq_desc){(uint32_t)data, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2};
    table[2] = (struct virtq_desc){(uint32_t)&status, 1, VIRTQ_DESC_F_WRITE, 0};
}

static void ring_mistakes(void)
{
    mistake("available ring names head 16 in a queue of 16 (VQ1, §2.7.6)");
    header(VIRTIO_BLK_T_IN, 0);
    kick_head(QSIZE);
    expect_broken_chain("vq-head-out-of-range", QSIZE, 1);

    mistake("descriptor's next is 16 in a table of 16 (VQ2, §2.7.5)");
    desc(0, (uint32_t)&hdr, sizeof hdr, VIRTQ_DESC_F_NEXT, QSIZE);
    kick_head(0);
    expect_broken_chain("vq-next-out-of-range", 0, 0);

    mistake("descriptors 0 and 1 chain to each other (VQ3, §2.7.5.2)");
    desc(0, (uint32_t)&hdr, sizeof hdr, VIRTQ_DESC_F_NEXT, 1);
    desc(1, (uint32_t)data, 512, VIRTQ_DESC_F_NEXT, 0);
    kick_head(0);
    expect_broken_chain("vq-loop", 0, 0);

    mistake("device-readable descriptor after a device-writable one (VQ6, §2.7.4.2)");
    desc(0, (uint32_t)&hdr, sizeof hdr, VIRTQ_DESC_F_NEXT, 1);
    desc(1, (uint32_t)&status, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
    desc(2, (uint32_t)data, 512, 0, 0);
    kick_head(0);
    expect_broken_chain("vq-read-after-write", 0, 0);

    mistake("data buffer at 0xF0000000, outside guest RAM (VQ4, §2.7.5)");
    header(VIRTIO_BLK_T_IN, 0);
    three(512, VIRTQ_DESC_F_WRITE);
    vq.desc[1].addr = OUTSIDE_RAM;
    kick_head(0);
    expect_broken_chain("vq-buffer-outside-ram", 0, 0);

    mistake("zero-length data descriptor (VQ5, §2.7.5)");
    three(0, VIRTQ_DESC_F_WRITE);
    kick_head(0);
    expect_broken_chain("vq-zero-length", 0, 0);

    mistake("avail.idx moved 17 past the last index in a queue of 16 (VQ14, §2.7.6)");
    irqs_before = irq_count;
    VQ_AVAIL_IDX(&vq) = QSIZE + 1;
    vdev_notify(&dev, 0);
    {
        int irq = irq_wait(irqs_before + 1, WAIT_REACTION);
        uint8_t st = vdev_status(&dev);
        uint8_t isr = irq_isr_bits;
        check("vq-avail-idx-jump",
              strict ? irq && (isr & VIRTIO_ISR_CONFIG) && (st & VIRTIO_STATUS_NEEDS_RESET) && queue_stopped()
                     : !irq && VQ_USED_IDX(&vq) == 0 && !(st & VIRTIO_STATUS_NEEDS_RESET),
              "interrupt %u, ISR 0x%x, status 0x%x, used.idx %u", irq, isr, st, VQ_USED_IDX(&vq));
    }
}

static void indirect_mistakes(void)
{
    up(VIRTIO_BLK_F_FLUSH, 1); /* INDIRECT_DESC not accepted */
    announce("INDIRECT descriptor without VIRTIO_F_INDIRECT_DESC (VQ7, §2.7.5.3.1)");
    header(VIRTIO_BLK_T_IN, 0);
    good_table();
    desc(0, (uint32_t)table, 3 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
    kick_head(0);
    expect_broken_chain("vq-indirect-not-negotiated", 0, 0);

    mistake("descriptor with both INDIRECT and NEXT (VQ8, §2.7.5.3.1)");
    good_table();
    desc(0, (uint32_t)table, 3 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
    desc(1, (uint32_t)data, 512, VIRTQ_DESC_F_WRITE, 0);
    kick_head(0);
    expect_broken_chain("vq-indirect-with-next", 0, 0);

    mistake("INDIRECT descriptor inside an indirect table (VQ9, §2.7.5.3.1)");
    good_table();
    table[0] = (struct virtq_desc){(uint32_t)&table[1], 2 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0};
    desc(0, (uint32_t)table, 3 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
    kick_head(0);
    expect_broken_chain("vq-nested-indirect", 0, 0);

    mistake("indirect table length 24, not a multiple of 16 (VQ10, §2.7.5.3)");
    good_table();
    desc(0, (uint32_t)table, 24, VIRTQ_DESC_F_INDIRECT, 0);
    kick_head(0);
    expect_broken_chain("vq-indirect-bad-length", 0, 0);

    mistake("indirect table at 0xF0000000, outside guest RAM (VQ11, §2.7.5.3)");
    desc(0, OUTSIDE_RAM, 3 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
    kick_head(0);
    expect_broken_chain("vq-indirect-outside-ram", 0, 0);

    mistake("indirect chain of 1025 buffers (VQ12: more than the 1024 a device need take)");
    header(VIRTIO_BLK_T_IN, 0);
    big[0] = (struct virtq_desc){(uint32_t)&hdr, sizeof hdr, VIRTQ_DESC_F_NEXT, 1};
    for (uint16_t i = 1; i < 1025; i++)
        big[i] = (struct virtq_desc){(uint32_t)data, 512, VIRTQ_DESC_F_WRITE | (i < 1024 ? VIRTQ_DESC_F_NEXT : 0),
                                     (uint16_t)(i + 1)};
    desc(0, (uint32_t)big, sizeof big, VIRTQ_DESC_F_INDIRECT, 0);
    kick_head(0);
    expect_broken_chain("vq-too-many-segments", 0, 0);

    /* Buffers of all guest RAM (from 0, a multiple of 1 MiB), as many as pass 4 GiB in total. */
    uint32_t whole = ram_bytes & ~0xFFFFFu;
    uint32_t n = 0xFFFFFFFFu / whole + 1;
    mistake("chain of buffers adding up to more than 4 GiB (VQ13, §2.7.5.2)");
    header(VIRTIO_BLK_T_IN, 0);
    big[0] = (struct virtq_desc){(uint32_t)&hdr, sizeof hdr, VIRTQ_DESC_F_NEXT, 1};
    for (uint32_t i = 1; i <= n; i++)
        big[i] = (struct virtq_desc){0, whole, VIRTQ_DESC_F_WRITE | (i < n ? VIRTQ_DESC_F_NEXT : 0), (uint16_t)(i + 1)};
    desc(0, (uint32_t)big, (n + 1) * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
    kick_head(0);
    expect_broken_chain("vq-chain-over-4gib", 0, 0);
}

/* Queue 0 set up by hand with one ring address replaced by `bad`, then enabled (no DRIVER_OK):
 * strict: DEVICE_NEEDS_RESET at once; lenient: reported only. */
static void bad_ring(const char *what, const char *name, int field, uint32_t bad)
{
    up(0, 0);
    vdev_reset(&dev);
    vdev_negotiate(&dev, 0, VIRTIO_F_VERSION_1_HI);
    announce(what);
    vdev_common_write(&dev, VIRTIO_COMMON_Q_SELECT, 2, 0);
    vdev_common_write(&dev, VIRTIO_COMMON_Q_SIZE, 2, QSIZE);
    vdev_common_write(&dev, VIRTIO_COMMON_Q_DESC, 4, (uint32_t)vq.desc);
    vdev_common_write(&dev, VIRTIO_COMMON_Q_AVAIL, 4, (uint32_t)vq.avail);
    vdev_common_write(&dev, VIRTIO_COMMON_Q_USED, 4, (uint32_t)vq.used);
    vdev_common_write(&dev, field, 4, bad);
    vdev_common_write(&dev, VIRTIO_COMMON_Q_ENABLE, 2, 1);
    uint8_t st = vdev_status(&dev);
    check(name, strict ? (st & VIRTIO_STATUS_NEEDS_RESET) != 0 : !(st & VIRTIO_STATUS_NEEDS_RESET), "status 0x%x", st);
}

static void request_mistakes(void)
{
    mistake("request header of 8 bytes (B1, §5.2.6)");
    header(VIRTIO_BLK_T_IN, 0);
    desc(0, (uint32_t)&hdr, 8, VIRTQ_DESC_F_NEXT, 1);
    desc(1, (uint32_t)&status, 1, VIRTQ_DESC_F_WRITE, 0);
    kick_head(0);
    expect_broken_chain("blk-short-header", 0, 0);

    mistake("request without a device-writable status byte (B2, §5.2.6)");
    desc(0, (uint32_t)&hdr, sizeof hdr, 0, 0);
    kick_head(0);
    expect_broken_chain("blk-no-status", 0, 0);

    mistake("IN request with 100 data bytes (B3, §5.2.6.1)");
    header(VIRTIO_BLK_T_IN, 0);
    three(100, VIRTQ_DESC_F_WRITE);
    kick_head(0);
    expect_ioerr("blk-misaligned-length");

    mistake("IN request for the sector at the capacity (B4, §5.2.6.1)");
    header(VIRTIO_BLK_T_IN, vdev_cfg64(&dev, BLK_CFG_CAPACITY));
    three(512, VIRTQ_DESC_F_WRITE);
    kick_head(0);
    expect_ioerr("blk-beyond-capacity");

    mistake("IN request whose data buffer is device-readable (B6, §5.2.6)");
    header(VIRTIO_BLK_T_IN, 0);
    three(512, 0);
    kick_head(0);
    expect_ioerr("blk-wrong-direction");

    mistake("FLUSH with sector 5 (B7, §5.2.6.1: the sector MUST be 0)");
    header(VIRTIO_BLK_T_FLUSH, 5);
    desc(0, (uint32_t)&hdr, sizeof hdr, VIRTQ_DESC_F_NEXT, 1);
    desc(1, (uint32_t)&status, 1, VIRTQ_DESC_F_WRITE, 0);
    kick_head(0);
    {
        int irq = irq_wait(irqs_before + 1, WAIT_REACTION);
        check("blk-flush-sector", irq && status == VIRTIO_BLK_S_OK, "interrupt %u, status %u (want OK: reported only)",
              irq, status);
    }

    mistake("GET_ID with an 8-byte buffer (B8, §5.2.6.1: 20 bytes)");
    header(VIRTIO_BLK_T_GET_ID, 0);
    three(8, VIRTQ_DESC_F_WRITE);
    kick_head(0);
    {
        int irq = irq_wait(irqs_before + 1, WAIT_REACTION);
        struct virtq_used_elem e = {0, 0};
        int used = vq_pop_used(&vq, &e);
        check("blk-get-id-length", irq && used && e.len == 9 && status == VIRTIO_BLK_S_OK,
              "interrupt %u, used len %u, status %u (want the first 8 bytes and OK)", irq, e.len, status);
    }
}

static void register_mistakes(void)
{
    struct virtq_used_elem e;

    up(VIRTIO_F_INDIRECT_DESC, 0);
    announce("kick before DRIVER_OK (T20, §3.1.1)");
    kick_good();
    {
        int irq = irq_wait(irqs_before + 1, WAIT_REACTION);
        int used = vq_pop_used(&vq, &e);
        vdev_set_status(&dev, vdev_status(&dev) | VIRTIO_STATUS_DRIVER_OK);
        irqs_before = irq_count;
        vdev_notify(&dev, 0); /* now the same request goes through */
        int later = irq_wait(irqs_before + 1, WAIT_REACTION) && vq_pop_used(&vq, &e) && good_status == VIRTIO_BLK_S_OK;
        check("kick-before-driver-ok", !irq && !used && later, "interrupt %u, used %u, after DRIVER_OK ok %u", irq,
              used, later);
    }

    /* A feature bit the device did not offer: the lowest clear bit of the offer's low word. */
    uint32_t unoffered = 1;
    while (dev.offered_lo & unoffered)
        unoffered <<= 1;
    announce("accept a feature bit the device did not offer (T3, §2.2.1)");
    {
        uint32_t drv = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
        vdev_reset(&dev);
        vdev_set_status(&dev, VIRTIO_STATUS_ACKNOWLEDGE);
        vdev_set_status(&dev, (uint8_t)drv);
        vdev_common_write(&dev, VIRTIO_COMMON_GFSELECT, 4, 0);
        vdev_common_write(&dev, VIRTIO_COMMON_GF, 4, unoffered);
        vdev_common_write(&dev, VIRTIO_COMMON_GFSELECT, 4, 1);
        vdev_common_write(&dev, VIRTIO_COMMON_GF, 4, VIRTIO_F_VERSION_1_HI);
        vdev_set_status(&dev, (uint8_t)(drv | VIRTIO_STATUS_FEATURES_OK));
        uint8_t st = vdev_status(&dev);
        check("unoffered-feature", st == drv, "bit 0x%x: status 0x%x (want 0x%x: FEATURES_OK refused)", unoffered, st,
              drv);
    }

    mistake("modern driver without VIRTIO_F_VERSION_1 (T6, §6.1)");
    {
        vdev_reset(&dev);
        uint8_t st = vdev_negotiate(&dev, 0, 0);
        check("no-version-1", !(st & VIRTIO_STATUS_FEATURES_OK), "status 0x%x (want FEATURES_OK refused)", st);
    }

    mistake("queue_desc written while the queue is enabled (T15, §4.1.4.3.2)");
    {
        uint32_t before = vdev_common_read(&dev, VIRTIO_COMMON_Q_DESC, 4);
        vdev_common_write(&dev, VIRTIO_COMMON_Q_DESC, 4, before + 0x1000);
        uint32_t after = vdev_common_read(&dev, VIRTIO_COMMON_Q_DESC, 4);
        int goes_on = good_request();
        check("queue-config-after-enable", after == before && goes_on, "queue_desc 0x%x (was 0x%x), next request ok %u",
              after, before, goes_on);
    }

    mistake("1-byte write to the 16-bit queue_select (T10, §4.1.3.1)");
    {
        vdev_common_write(&dev, VIRTIO_COMMON_Q_SELECT, 1, 1);
        uint32_t sel = vdev_common_read(&dev, VIRTIO_COMMON_Q_SELECT, 2);
        check("wrong-access-width", sel == 0, "queue_select %u (want 0: the write is ignored)", sel);
    }

    mistake("queue_size 3, not a power of two (T12, §4.1.4.3.2)");
    {
        vdev_reset(&dev);
        vdev_negotiate(&dev, 0, VIRTIO_F_VERSION_1_HI);
        vdev_common_write(&dev, VIRTIO_COMMON_Q_SELECT, 2, 0);
        uint32_t before = vdev_common_read(&dev, VIRTIO_COMMON_Q_SIZE, 2);
        vdev_common_write(&dev, VIRTIO_COMMON_Q_SIZE, 2, 3);
        uint32_t after = vdev_common_read(&dev, VIRTIO_COMMON_Q_SIZE, 2);
        check("bad-queue-size", after == before, "queue_size %u (was %u)", after, before);
    }

    mistake("notify queue 5, which does not exist (T21, §4.1.5.2)");
    {
        irqs_before = irq_count;
        *(volatile uint16_t *)(dev.notify + 5 * dev.notify_mult) = 5;
        int irq = irq_wait(irqs_before + 1, WAIT_REACTION);
        int goes_on = good_request();
        check("notify-missing-queue", !irq && goes_on, "interrupt %u, next request ok %u", irq, goes_on);
    }

    mistake("kick with PCI bus mastering off (T24, PCI 3.0 §6.2.2)");
    {
        uint16_t cmd = pci_read16(dev.slot, PCI_COMMAND);
        pci_write16(dev.slot, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
        header(VIRTIO_BLK_T_IN, 0);
        three(512, VIRTQ_DESC_F_WRITE);
        kick_head(0);
        int irq = irq_wait(irqs_before + 1, WAIT_REACTION);
        pci_write16(dev.slot, PCI_COMMAND, cmd);
        irqs_before = irq_count;
        vdev_notify(&dev, 0);
        int later = irq_wait(irqs_before + 1, WAIT_REACTION) && vq_pop_used(&vq, &e) && status == VIRTIO_BLK_S_OK;
        check("kick-without-bus-master", !irq && later, "interrupt %u, after re-enabling ok %u", irq, later);
    }

    mistake("device_status write that clears DRIVER_OK without a reset (T1, §2.1.1)");
    {
        uint8_t before = vdev_status(&dev);
        vdev_set_status(&dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        uint8_t after = vdev_status(&dev);
        check("status-bits-cleared", after == before, "status 0x%x (was 0x%x)", after, before);
    }
}

static void setup_mistakes(void)
{
    bad_ring("queue_desc at an address that is not 16-byte aligned (VQ15, §2.7.1)", "vq-ring-misaligned",
             VIRTIO_COMMON_Q_DESC, (uint32_t)vq.desc + 8);
    bad_ring("queue_device (used ring) at 0xF0000000, outside guest RAM (VQ16, §2.7)", "vq-ring-outside-ram",
             VIRTIO_COMMON_Q_USED, OUTSIDE_RAM);

    mistake("DRIVER_OK written straight after a reset (T2, §3.1.1: in order)");
    vdev_reset(&dev);
    vdev_set_status(&dev, VIRTIO_STATUS_DRIVER_OK);
    check_eq("status-out-of-order", vdev_status(&dev), 0);

    mistake("driver_feature written after FEATURES_OK (T5, §3.1.1)");
    vdev_common_write(&dev, VIRTIO_COMMON_GFSELECT, 4, 0);
    vdev_common_write(&dev, VIRTIO_COMMON_GF, 4, 0);
    check_eq("features-after-features-ok", vdev_common_read(&dev, VIRTIO_COMMON_GF, 4), dev.accepted_lo);

    mistake("queue_enable written with 0 (T14, §4.1.4.3.2: the driver MUST NOT write 0)");
    vdev_common_write(&dev, VIRTIO_COMMON_Q_SELECT, 2, 0);
    vdev_common_write(&dev, VIRTIO_COMMON_Q_ENABLE, 2, 0);
    {
        uint32_t enabled = vdev_common_read(&dev, VIRTIO_COMMON_Q_ENABLE, 2);
        int goes_on = good_request();
        check("queue-enable-zero", enabled == 1 && goes_on, "queue_enable %u, next request ok %u", enabled, goes_on);
    }

    mistake("write to the read-only num_queues (T11, §4.1.4.3.2)");
    {
        uint32_t before = vdev_common_read(&dev, VIRTIO_COMMON_NUMQ, 2);
        vdev_common_write(&dev, VIRTIO_COMMON_NUMQ, 2, before + 1);
        check_eq("read-only-field", vdev_common_read(&dev, VIRTIO_COMMON_NUMQ, 2), before);
    }

    mistake("write to the capacity in the device configuration (T8, §5.2.4)");
    {
        uint32_t before = vdev_cfg32(&dev, BLK_CFG_CAPACITY);
        *(volatile uint32_t *)(dev.devcfg + BLK_CFG_CAPACITY) = 1;
        check_eq("device-config-write", vdev_cfg32(&dev, BLK_CFG_CAPACITY), before);
    }
}

/* The PCI_CFG capability (§4.1.4.9): a window into the BARs through configuration space. */
static void pci_cfg_mistake(void)
{
    int cap = dev.pci_cfg;
    up(0, 1);
    check("pci-cfg-found", cap != 0, "no PCI_CFG capability");
    if (!cap)
        return;
    /* First a correct access: device_status, 1 byte at BAR4 + 0x14, equals the direct read. */
    pci_write16(dev.slot, cap + VIRTIO_CAP_BAR, 4);
    pci_write32(dev.slot, cap + VIRTIO_CAP_OFFSET, VIRTIO_COMMON_STATUS);
    pci_write32(dev.slot, cap + VIRTIO_CAP_LENGTH, 1);
    uint32_t via = pci_read8(dev.slot, cap + VIRTIO_CAP_PCI_CFG_DATA);
    check_eq("pci-cfg-window", via, vdev_status(&dev));

    announce("PCI_CFG window of 2 bytes at an odd offset (T23, §4.1.4.9.1: aligned to the length)");
    pci_write32(dev.slot, cap + VIRTIO_CAP_OFFSET, VIRTIO_COMMON_STATUS + 1);
    pci_write32(dev.slot, cap + VIRTIO_CAP_LENGTH, 2);
    pci_read16(dev.slot, cap + VIRTIO_CAP_PCI_CFG_DATA);
    check("pci-cfg-misaligned", vdev_status(&dev) == (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                                      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK),
          "status 0x%x", vdev_status(&dev));
}

/* Only with a read-only disk (VIRTIO_BLK_F_RO offered): a write to it. */
static void read_only_mistake(void)
{
    if (!(dev.offered_lo & VIRTIO_BLK_F_RO))
        return;
    mistake("OUT request on a read-only disk (B5, §5.2.6.2)");
    header(VIRTIO_BLK_T_OUT, 0);
    three(512, 0);
    kick_head(0);
    expect_ioerr("blk-write-read-only");
}

/*
 * A transitional device's legacy interface (§4.1.4.10), which has no DEVICE_NEEDS_RESET: after a
 * ring error the strict device only stops the queue.
 */
static void legacy_mistakes(void)
{
    if (dev.device_id != VIRTIO_PCI_BLK_TRANSITIONAL)
        return;
    dev.legacy = 1;
    if (vdev_queue_max(&dev, 0) > LEGACY_MAX_QSIZE) {
        check("legacy-queue-size", 0, "queue size %u > %u", vdev_queue_max(&dev, 0), LEGACY_MAX_QSIZE);
        dev.legacy = 0;
        return;
    }

    mistake("legacy: descriptor's next is out of range (VQ2, §2.7.5)");
    header(VIRTIO_BLK_T_IN, 0);
    desc(0, (uint32_t)&hdr, sizeof hdr, VIRTQ_DESC_F_NEXT, vq.size);
    kick_head(0);
    if (strict) {
        int irq = irq_wait(irqs_before + 1, WAIT_REACTION);
        uint8_t st = vdev_status(&dev);
        int stopped = queue_stopped();
        check("legacy-next-out-of-range", !irq && !(st & VIRTIO_STATUS_NEEDS_RESET) && stopped,
              "interrupt %u, status 0x%x, queue stopped %u (want no interrupt, no NEEDS_RESET, stopped)", irq, st,
              stopped);
    } else {
        expect_broken_chain("legacy-next-out-of-range", 0, 0);
    }

    uint32_t unoffered = 1;
    while (dev.offered_lo & unoffered)
        unoffered <<= 1;
    mistake("legacy: GUEST_FEATURES with a bit the device did not offer (T3, §2.2.1)");
    outl(dev.io + VIRTIO_LEGACY_GUEST_FEATURES, dev.accepted_lo | unoffered);
    check_eq("legacy-unoffered-feature", inl(dev.io + VIRTIO_LEGACY_GUEST_FEATURES), dev.accepted_lo);

    mistake("legacy: 1-byte read of the 16-bit QUEUE_NUM (T10, §4.1.4.10)");
    {
        uint16_t size = inw(dev.io + VIRTIO_LEGACY_QUEUE_NUM);
        inb(dev.io + VIRTIO_LEGACY_QUEUE_NUM);
        int goes_on = good_request();
        check("legacy-wrong-access-width", inw(dev.io + VIRTIO_LEGACY_QUEUE_NUM) == size && goes_on,
              "QUEUE_NUM %u (was %u), next request ok %u", inw(dev.io + VIRTIO_LEGACY_QUEUE_NUM), size, goes_on);
    }
    vdev_reset(&dev);
    dev.legacy = 0;
}

static int cmdline_is(const uint32_t *mbi, const char *word)
{
    if (!mbi || !(mbi[0] & MB_INFO_CMDLINE))
        return 0;
    const char *s = (const char *)mbi[4];
    while (*word && *s == *word)
        s++, word++;
    return !*word && (*s == 0 || *s == ' ');
}

void kmain(uint32_t magic, const uint32_t *mbi)
{
    (void)magic;
    serial_init();
    irq_setup();
    strict = cmdline_is(mbi, "strict");
    ram_bytes = mbi && (mbi[0] & MB_INFO_MEMORY) ? (mbi[2] + 1024) * 1024 : 0;
    int lenient = cmdline_is(mbi, "lenient");
    int slot;
    if (!(strict || lenient) || ram_bytes < (8u << 20) || vdev_scan(&slot, 1) != 1 || !vdev_probe(&dev, slot, 0)) {
        check("setup", 0,
              "want \"strict\" or \"lenient\" on the command line, 8 MiB of RAM or more and a virtio-blk function");
        finish("badvirtio");
    }
    kprintf("badvirtio: %s checker, device at 00:%x.0\n", strict ? "strict" : "lenient", (uint32_t)slot);
    irq_attach(&dev);
    ring_mistakes();
    indirect_mistakes();
    request_mistakes();
    register_mistakes();
    setup_mistakes();
    pci_cfg_mistake();
    read_only_mistake();
    legacy_mistakes();
    vdev_reset(&dev);
    finish("badvirtio");
}
