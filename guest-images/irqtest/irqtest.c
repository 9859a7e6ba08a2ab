/*
 * irqtest.c - a Multiboot kernel that drives the PC platform devices the way Linux does and checks
 * what they do: the 8259A pair (init_8259A), PIT channel 0 as the 100 Hz tick, PIT channel 2 through
 * port 0x61 (pit_calibrate_tsc), PIT counter latch and read-back, the MC146818 RTC (UIP-protocol time
 * read, periodic and update-ended interrupts, register C), 16550 UART interrupts (THRE, received data
 * in loopback), the PIIX ELCR, PCI configuration mechanism #1 (pci_check_type1, bus 0 scan) and the
 * i8042 self test.
 *
 * Output on COM1 (polling LSR.THRE): "PASS <name>", "FAIL <name>: <details>", "info: ..." lines,
 * then "irqtest: N passed, M failed"; then port 0xF4 gets 0 if every check passed, 1 otherwise
 * (QEMU isa-debug-exit: process exit status 1 = all passed).
 *
 * Timing bounds are loose on purpose: they hold on real hardware, under QEMU (host time) and on a
 * deterministic emulator whose guest time follows retired instructions.
 */

#include "check.h"  /* ../common: check, check_eq, check_passed/check_failed */
#include "io.h"     /* ../common: outb, inb, outw, inw, outl, inl */
#include "serial.h" /* ../common: COM1, serial_init, serial_putc, kprintf */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define PIC_MASTER_CMD 0x20
#define PIC_MASTER_IMR 0x21
#define PIC_SLAVE_CMD 0xA0
#define PIC_SLAVE_IMR 0xA1
#define PIC_CASCADE_IR 2
#define IRQ0_VECTOR 0x20
#define PIT_CH0 0x40
#define PIT_CH2 0x42
#define PIT_MODE 0x43
#define PIT_TICK_RATE 1193182u
#define HZ 100
#define LATCH ((PIT_TICK_RATE + HZ / 2) / HZ) /* 11932, as Linux's i8253 clockevent */
#define CAL_MS 10
#define CAL_LATCH (PIT_TICK_RATE / (1000 / CAL_MS)) /* Linux arch/x86/kernel/tsc.c */
#define RTC_INDEX 0x70
#define RTC_DATA 0x71

/* ------------------------------------------------------------------ CPU helpers */

static inline u64 rdtsc(void) {
    u32 lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}
static inline void cli(void) { asm volatile("cli" ::: "memory"); }
static inline void sti(void) { asm volatile("sti" ::: "memory"); }
/* Wait for an interrupt with interrupts enabled; return with them disabled. STI's interrupt
 * shadow makes "sti; hlt" atomic: an interrupt pending before it wakes the HLT, never misses it. */
static inline void wait_irq(void) { asm volatile("sti; hlt; cli" ::: "memory"); }
/* Linux's io_delay: a write to port 0x80. */
static inline void io_delay(void) { outb(0x80, 0); }

/* u64 / u32 without libgcc (Linux's do_div). */
static u64 div64(u64 n, u32 d) {
    u32 hi = (u32)(n >> 32), lo = (u32)n;
    u32 qhi = hi / d, r = hi % d, qlo;
    asm("divl %4" : "=a"(qlo), "=d"(r) : "a"(lo), "d"(r), "rm"(d));
    return ((u64)qhi << 32) | qlo;
}

/* ------------------------------------------------------------------ summary (checks: ../common/check.c) */

static void __attribute__((noreturn)) finish(void) {
    cli();
    kprintf("irqtest: %u passed, %u failed\n", check_passed, check_failed);
    outb(0xF4, check_failed ? 1 : 0);
    for (;;) asm volatile("cli; hlt");
}

/* ------------------------------------------------------------------ GDT and IDT */

struct desc {
    u32 lo, hi;
};
static struct desc gdt[3] __attribute__((aligned(16)));
static struct desc idt[256] __attribute__((aligned(16)));

static void setup_descriptors(void) {
    extern u8 isr_stubs[];
    gdt[1] = (struct desc){0x0000FFFF, 0x00CF9A00}; /* 0x08: flat 4 GiB code, 32-bit */
    gdt[2] = (struct desc){0x0000FFFF, 0x00CF9200}; /* 0x10: flat 4 GiB data */
    struct {
        u16 limit;
        u32 base;
    } __attribute__((packed)) gdtr = {sizeof gdt - 1, (u32)gdt}, idtr = {sizeof idt - 1, (u32)idt};
    asm volatile("lgdt %0" : : "m"(gdtr));
    asm volatile("ljmp $0x08, $1f\n1:\n\t"
                 "movw %w0, %%ds\n\tmovw %w0, %%es\n\tmovw %w0, %%fs\n\tmovw %w0, %%gs\n\tmovw %w0, %%ss"
                 :
                 : "r"(0x10)
                 : "memory");
    for (int v = 0; v < 256; v++) {
        u32 off = (u32)isr_stubs + (u32)v * 16;
        idt[v].lo = (off & 0xFFFF) | (0x08 << 16);
        idt[v].hi = (off & 0xFFFF0000) | 0x8E00; /* present, DPL 0, 32-bit interrupt gate */
    }
    asm volatile("lidt %0" : : "m"(idtr));
}

/* ------------------------------------------------------------------ 8259A (Linux i8259.c) */

static u16 cached_irq_mask = 0xFFFF;
#define cached_master_mask ((u8)cached_irq_mask)
#define cached_slave_mask ((u8)(cached_irq_mask >> 8))

static void outb_pic(u8 value, u16 port) {
    outb(port, value);
    io_delay();
    io_delay();
}

static void unmask_irq(int irq) {
    cached_irq_mask &= (u16)~(1u << irq);
    if (irq & 8)
        outb(PIC_SLAVE_IMR, cached_slave_mask);
    else
        outb(PIC_MASTER_IMR, cached_master_mask);
}

/* probe_8259A: the master IMR must read back what was written. */
static int probe_8259A(void) {
    outb(PIC_SLAVE_IMR, 0xFF);
    outb(PIC_MASTER_IMR, 0xA5);
    u8 v = inb(PIC_MASTER_IMR);
    outb(PIC_MASTER_IMR, 0xFF);
    return v;
}

/* init_8259A(auto_eoi = 0). */
static void init_8259A(void) {
    outb(PIC_MASTER_IMR, 0xFF); /* mask all of 8259A-1 */
    outb(PIC_SLAVE_IMR, 0xFF);  /* mask all of 8259A-2 */
    outb_pic(0x11, PIC_MASTER_CMD);              /* ICW1: select 8259A-1 init */
    outb_pic(IRQ0_VECTOR, PIC_MASTER_IMR);       /* ICW2: IR0-7 at 0x20 */
    outb_pic(1u << PIC_CASCADE_IR, PIC_MASTER_IMR); /* ICW3: slave on IR2 */
    outb_pic(0x01, PIC_MASTER_IMR);              /* ICW4: 8086 mode, normal EOI */
    outb_pic(0x11, PIC_SLAVE_CMD);               /* ICW1: select 8259A-2 init */
    outb_pic(IRQ0_VECTOR + 8, PIC_SLAVE_IMR);    /* ICW2: IR0-7 at 0x28 */
    outb_pic(PIC_CASCADE_IR, PIC_SLAVE_IMR);     /* ICW3: slave ID 2 */
    outb_pic(0x01, PIC_SLAVE_IMR);               /* ICW4 */
    for (int i = 0; i < 100; i++) io_delay();    /* udelay(100) */
    outb(PIC_MASTER_IMR, cached_master_mask);
    outb(PIC_SLAVE_IMR, cached_slave_mask);
}

/* i8259A_irq_real: is the IRQ in service (OCW3 read ISR)? */
static int irq_in_service(int irq) {
    int mask = 1 << irq;
    int r;
    if (irq < 8) {
        outb(PIC_MASTER_CMD, 0x0B);
        r = inb(PIC_MASTER_CMD) & mask;
        outb(PIC_MASTER_CMD, 0x0A);
    } else {
        outb(PIC_SLAVE_CMD, 0x0B);
        r = inb(PIC_SLAVE_CMD) & (mask >> 8);
        outb(PIC_SLAVE_CMD, 0x0A);
    }
    return r != 0;
}

/* mask_and_ack_8259A: mask the line, then specific EOI (slave, then master IR2). */
static void mask_and_ack(int irq) {
    u16 irqmask = (u16)(1u << irq);
    cached_irq_mask |= irqmask;
    if (irq & 8) {
        inb(PIC_SLAVE_IMR);
        outb(PIC_SLAVE_IMR, cached_slave_mask);
        outb(PIC_SLAVE_CMD, (u8)(0x60 + (irq & 7)));
        outb(PIC_MASTER_CMD, 0x60 + PIC_CASCADE_IR);
    } else {
        inb(PIC_MASTER_IMR);
        outb(PIC_MASTER_IMR, cached_master_mask);
        outb(PIC_MASTER_CMD, (u8)(0x60 + irq));
    }
}

static u8 pic_read_irr(u16 cmd) {
    outb(cmd, 0x0A);
    return inb(cmd);
}
static u8 pic_read_isr(u16 cmd) {
    outb(cmd, 0x0B);
    u8 v = inb(cmd);
    outb(cmd, 0x0A);
    return v;
}

/* ------------------------------------------------------------------ interrupt handling */

/* What ../common/isr-stubs.S (without ISR_SAVE_SEGMENTS) passes to trap(). */
struct frame {
    u32 edi, esi, ebp, esp_ignored, ebx, edx, ecx, eax;
    u32 vec, err;
    u32 eip, cs, eflags;
};

static volatile u32 irq_count[16];
static volatile u32 spurious7, spurious15;
/* IRQ 8: register C as the handler read it (OR of all, and the last one). */
static volatile u8 rtc_c_or, rtc_c_last;
static volatile u32 rtc_c_again;
static volatile u32 rtc_uf_count;
/* IRQ 4: IIR and RBR as the handler read them. */
static volatile u8 uart_iir_last, uart_rbr_last;
static volatile u32 uart_rx_count;

static inline u8 cmos_read(u8 reg) {
    outb(RTC_INDEX, reg);
    return inb(RTC_DATA);
}
static inline void cmos_write(u8 reg, u8 v) {
    outb(RTC_INDEX, reg);
    outb(RTC_DATA, v);
}

static void device_irq(int irq) {
    switch (irq) {
    case 4: { /* serial8250_handle_irq: read IIR; receive while data is there */
        u8 iir = inb(COM1 + 2);
        uart_iir_last = iir;
        if ((iir & 0x01) == 0 && (iir & 0x04)) {
            uart_rbr_last = inb(COM1);
            uart_rx_count++;
        }
        break;
    }
    case 8: { /* rtc_interrupt / the HPET-less cmos handler: read register C */
        u8 c = cmos_read(0x0C);
        if (cmos_read(0x0C) & 0xC0) rtc_c_again++; /* the first read cleared the flags */
        rtc_c_or |= c;
        rtc_c_last = c;
        if (c & 0x10) rtc_uf_count++;
        break;
    }
    default:
        break;
    }
}

static void fatal_exception(struct frame *f) {
    kprintf("FAIL unexpected-exception: vector %u error 0x%x at %x:%x eflags 0x%x\n", f->vec, f->err, f->cs,
            f->eip, f->eflags);
    check_failed++;
    finish();
}

void trap(struct frame *f) {
    u32 vec = f->vec;
    if (vec < IRQ0_VECTOR || vec >= IRQ0_VECTOR + 16) fatal_exception(f);
    int irq = (int)(vec - IRQ0_VECTOR);
    /* Spurious IRQ 7 / 15: not in service. IRQ 15 still needs the master's EOI for IR2. */
    if (irq == 7 && !irq_in_service(7)) {
        spurious7++;
        return;
    }
    if (irq == 15 && !irq_in_service(15)) {
        spurious15++;
        outb(PIC_MASTER_CMD, 0x60 + PIC_CASCADE_IR);
        return;
    }
    mask_and_ack(irq);
    irq_count[irq]++;
    device_irq(irq);
    unmask_irq(irq);
}

static void clear_counts(void) {
    for (int i = 0; i < 16; i++) irq_count[i] = 0;
    spurious7 = spurious15 = 0;
}

/* Interrupts other than `allowed` (a bitmask of IRQs) seen since clear_counts, as a bitmask. */
static u32 others(u32 allowed) {
    u32 m = 0;
    for (int i = 0; i < 16; i++)
        if (irq_count[i] && !(allowed & (1u << i))) m |= 1u << i;
    if (spurious7) m |= 1u << 16;
    if (spurious15) m |= 1u << 17;
    return m;
}

/* Wait (sti; hlt) until `*p` differs from `old` or `max_ticks` timer ticks pass; 1 if it changed. */
static int wait_change(volatile u32 *p, u32 old, u32 max_ticks) {
    u32 t0 = irq_count[0];
    while (*p == old) {
        if (irq_count[0] - t0 >= max_ticks) return 0;
        wait_irq();
    }
    return 1;
}

static void wait_ticks(u32 n) {
    u32 t0 = irq_count[0];
    while (irq_count[0] - t0 < n) wait_irq();
}

/* ------------------------------------------------------------------ tests */

static void test_pic(void) {
    u32 probe = probe_8259A();
    check_eq("pic-probe-imr-readback", probe, 0xA5);
    init_8259A();
    check_eq("pic-imr-after-init", inb(PIC_MASTER_IMR) | (u32)inb(PIC_SLAVE_IMR) << 8, 0xFFFF);
    check_eq("pic-irr-after-init", pic_read_irr(PIC_MASTER_CMD) | (u32)pic_read_irr(PIC_SLAVE_CMD) << 8, 0);
    check_eq("pic-isr-after-init", pic_read_isr(PIC_MASTER_CMD) | (u32)pic_read_isr(PIC_SLAVE_CMD) << 8, 0);
    unmask_irq(PIC_CASCADE_IR);
    check_eq("pic-imr-cascade-unmasked", inb(PIC_MASTER_IMR), 0xFB);
}

static void test_elcr(void) {
    kprintf("info: ELCR 0x4d0=0x%02x 0x4d1=0x%02x\n", inb(0x4D0), inb(0x4D1));
}

static u32 pci_conf1_addr(u32 bus, u32 devfn, u32 reg) { return 0x80000000u | bus << 16 | devfn << 8 | (reg & ~3u); }
static u32 pci_read32(u32 devfn, u32 reg) {
    outl(0xCF8, pci_conf1_addr(0, devfn, reg));
    return inl(0xCFC);
}
static u16 pci_read16(u32 devfn, u32 reg) {
    outl(0xCF8, pci_conf1_addr(0, devfn, reg));
    return inw((u16)(0xCFC + (reg & 2)));
}
static u8 pci_read8(u32 devfn, u32 reg) {
    outl(0xCF8, pci_conf1_addr(0, devfn, reg));
    return inb((u16)(0xCFC + (reg & 3)));
}

/* pci_sanity_check: a host bridge or VGA class, or an Intel/Compaq vendor, on bus 0. */
static int pci_sanity_check(void) {
    for (u32 devfn = 0; devfn < 0x100; devfn++) {
        u16 x = pci_read16(devfn, 0x0A);
        if (x == 0x0600 || x == 0x0300) return 1;
        x = pci_read16(devfn, 0x00);
        if (x == 0x8086 || x == 0x0E11) return 1;
    }
    return 0;
}

static void test_pci(void) {
    /* pci_check_type1 */
    outb(0xCFB, 0x01);
    u32 tmp = inl(0xCF8);
    outl(0xCF8, 0x80000000u);
    u32 readback = inl(0xCF8);
    int sane = readback == 0x80000000u && pci_sanity_check();
    outl(0xCF8, tmp);
    check("pci-type1-present", sane, "CONFIG_ADDRESS read back 0x%x, sanity check %u", readback,
          (u32)(readback == 0x80000000u ? pci_sanity_check() : 0));
    int found_host = 0, n = 0;
    for (u32 dev = 0; dev < 32; dev++) {
        for (u32 fn = 0; fn < 8; fn++) {
            u32 devfn = dev << 3 | fn;
            u32 id = pci_read32(devfn, 0x00);
            if ((id & 0xFFFF) == 0xFFFF || (id & 0xFFFF) == 0) {
                if (fn == 0) break;
                continue;
            }
            u32 class_rev = pci_read32(devfn, 0x08);
            u8 htype = pci_read8(devfn, 0x0E);
            u8 line = pci_read8(devfn, 0x3C), pin = pci_read8(devfn, 0x3D);
            kprintf("info: pci 00:%02x.%u %04x:%04x class %06x rev %02x hdr %02x irq %u pin %u\n", dev, fn,
                    id & 0xFFFF, id >> 16, class_rev >> 8, class_rev & 0xFF, htype, line, pin);
            n++;
            if (devfn == 0 && id == 0x12378086 && class_rev >> 16 == 0x0600) found_host = 1;
            if (fn == 0 && !(htype & 0x80)) break; /* single-function device */
        }
    }
    check("pci-host-bridge-8086-1237-class-0600-at-00.0", found_host, "not found (%u functions on bus 0)",
          (u32)n);
    outl(0xCF8, pci_conf1_addr(1, 0, 0));
    u32 other_bus = inl(0xCFC);
    check_eq("pci-bus1-dev0-absent", other_bus, 0xFFFFFFFFu);
    outl(0xCF8, 0);
}

static int i8042_wait_write(void) {
    for (int i = 0; i < 100000; i++)
        if (!(inb(0x64) & 0x02)) return 1;
    return 0;
}
static int i8042_wait_read(void) {
    for (int i = 0; i < 100000; i++)
        if (inb(0x64) & 0x01) return 1;
    return 0;
}

static void test_i8042(void) {
    /* i8042_flush, then i8042_controller_selftest (IRQ 1 stays masked, as before Linux requests it). */
    int flushed = 0;
    while ((inb(0x64) & 0x01) && flushed < 64) {
        inb(0x60);
        flushed++;
    }
    int ok = i8042_wait_write();
    outb(0x64, 0x20); /* read the command byte */
    int got = ok && i8042_wait_read();
    u8 ctr = got ? inb(0x60) : 0;
    kprintf("info: i8042 command byte 0x%02x (flushed %u)\n", ctr, (u32)flushed);
    ok = i8042_wait_write();
    outb(0x64, 0xAA);
    got = ok && i8042_wait_read();
    u8 r = got ? inb(0x60) : 0;
    check("i8042-selftest-0x55", got && r == 0x55, "reply %s 0x%x", got ? "" : "(none)", r);
    check("i8042-output-buffer-empty-after-read", !(inb(0x64) & 0x01), "status 0x%x", inb(0x64));
}

static u32 tsc_khz;

/* pit_calibrate_tsc(CAL_LATCH, CAL_MS, CAL_PIT_LOOPS) with interrupts off. */
static void test_pit_calibrate(void) {
    outb(0x61, (u8)((inb(0x61) & ~0x02) | 0x01)); /* gate high, speaker off */
    outb(PIT_MODE, 0xB0);                          /* channel 2, lobyte/hibyte, mode 0, binary */
    u8 out_after_mode = inb(0x61) & 0x20;
    outb(PIT_CH2, CAL_LATCH & 0xFF);
    outb(PIT_CH2, CAL_LATCH >> 8);
    u64 tsc, t1, t2;
    tsc = t1 = t2 = rdtsc();
    u32 pitcnt = 0, tscmin = 0xFFFFFFFFu, tscmax = 0;
    while ((inb(0x61) & 0x20) == 0) {
        t2 = rdtsc();
        u32 delta = (u32)(t2 - tsc);
        tsc = t2;
        if (delta < tscmin) tscmin = delta;
        if (delta > tscmax) tscmax = delta;
        if (++pitcnt >= 200000000u) break;
    }
    check("pit2-out-low-after-mode0", out_after_mode == 0, "port 0x61 bit 5 = 1");
    check("pit2-out-rose", pitcnt < 200000000u, "OUT2 still low after %u polls", pitcnt);
    u64 delta = t2 - t1;
    tsc_khz = (u32)div64(delta, CAL_MS);
    kprintf("info: pit_calibrate_tsc: %u loops, tsc delta min %u max %u, TSC %u.%03u MHz\n", pitcnt, tscmin, tscmax,
            tsc_khz / 1000, tsc_khz % 1000);
    /* Leave channel 2 stopped: gate low. */
    outb(0x61, (u8)(inb(0x61) & ~0x03));
}

/* quick_pit_calibrate: channel 2, mode 0 from 0xFFFF, unlatched LSB/MSB reads; the MSB steps down
 * every 256 PIT clocks (215 us). Linux falls back to pit_calibrate_tsc when a step is missed, so
 * only "the MSB never goes up" is a check; the rest is information. */
static int pit_verify_msb(u8 val) {
    inb(PIT_CH2);
    return inb(PIT_CH2) == val;
}
static int pit_expect_msb(u8 val, u64 *tscp) {
    int count;
    u64 tsc = 0;
    for (count = 0; count < 50000; count++) {
        if (!pit_verify_msb(val)) break;
        tsc = rdtsc();
    }
    if (count > 5) *tscp = tsc; /* the last TSC with the MSB still at val */
    return count > 5;
}
static void test_pit_quick(void) {
    outb(0x61, (u8)((inb(0x61) & ~0x02) | 0x01));
    outb(PIT_MODE, 0xB0);
    outb(PIT_CH2, 0xFF);
    outb(PIT_CH2, 0xFF);
    pit_verify_msb(0);
    u64 t0 = 0, t1 = 0;
    int steps = 0;
    if (pit_expect_msb(0xFF, &t0)) {
        for (steps = 1; steps <= 32; steps++)
            if (!pit_expect_msb((u8)(0xFF - steps), &t1)) break;
    }
    steps--;
    /* Restart from 0xFFFF and read LSB/MSB pairs until the MSB is 8 steps (1.7 ms) down: an
     * unlatched pair can tear (the LSB is read before the MSB), but the MSBs, read one after
     * another, never go up while mode 0 counts down (it wraps only after 55 ms). */
    outb(PIT_MODE, 0xB0);
    outb(PIT_CH2, 0xFF);
    outb(PIT_CH2, 0xFF);
    u32 prev = 0x100, ups = 0, n = 0;
    for (; n < 1000000 && prev > 0xF7; n++) {
        inb(PIT_CH2);
        u32 msb = inb(PIT_CH2);
        if (msb > prev) ups++;
        prev = msb;
    }
    check("pit2-unlatched-msb-goes-down", ups == 0 && prev <= 0xF7, "%u increases in %u reads, last MSB 0x%x", ups, n,
          prev);
    if (steps > 0) {
        u32 khz = (u32)div64((t1 - t0) * PIT_TICK_RATE, (u32)steps * 256 * 1000);
        kprintf("info: quick_pit_calibrate: %d MSB steps, TSC %u.%03u MHz\n", steps, khz / 1000, khz % 1000);
    } else {
        kprintf("info: quick_pit_calibrate: no MSB step seen (Linux would fall back)\n");
    }
    outb(0x61, (u8)(inb(0x61) & ~0x03));
}

static void test_pit_tick(void) {
    /* Linux's i8253 periodic clockevent: mode 2, LATCH = 11932 (100 Hz). */
    outb(PIT_MODE, 0x34);
    io_delay();
    outb(PIT_CH0, LATCH & 0xFF);
    io_delay();
    outb(PIT_CH0, LATCH >> 8);
    /* Every line unmasked except the keyboard: nothing but the PIT may interrupt. */
    for (int irq = 0; irq < 16; irq++)
        if (irq != 1) unmask_irq(irq);
    clear_counts();
    /* Align with a tick, then count 20 more. */
    u32 wakeups = 0;
    while (irq_count[0] == 0) wait_irq();
    u64 tsc0 = rdtsc();
    u32 start = irq_count[0];
    while (irq_count[0] - start < 20) {
        wait_irq();
        wakeups++;
    }
    u64 tsc1 = rdtsc();
    u32 ticks = irq_count[0] - start;
    check_eq("pit0-20-ticks", ticks, 20);
    check("pit0-hlt-wakes-once-per-tick", wakeups == 20, "%u HLT wake-ups for 20 ticks", wakeups);
    check("pit0-nothing-else-fires", others(1u << 0) == 0, "other IRQs (bit 16/17 = spurious 7/15): 0x%x",
          others(1u << 0));
    u32 ms = tsc_khz ? (u32)div64(tsc1 - tsc0, tsc_khz) : 0;
    kprintf("info: 20 ticks took %u TSC cycles high, %u low = %u ms at the calibrated rate\n", (u32)((tsc1 - tsc0) >> 32),
            (u32)(tsc1 - tsc0), ms);
    check("tsc-agrees-with-pit-over-hlt", ms >= 140 && ms <= 260, "TSC says %u ms for 20 ticks of 10 ms", ms);
}

/* Latch channel 0 (counter latch command) and read it. */
static u32 pit0_latch(void) {
    outb(PIT_MODE, 0x00);
    u32 lo = inb(PIT_CH0);
    return lo | (u32)inb(PIT_CH0) << 8;
}

static void test_pit_latch(void) {
    /* Interrupts stay off; a tick that comes anyway (a slow or preempted host) reloads the counter
     * and shows in IRR bit 0: then the whole sequence is tried again, up to 5 times. */
    u32 a, b, c, d, e, status, st2;
    int tries = 0, reloaded;
    do {
        wait_irq(); /* just after a tick: the counter is near LATCH, no reload for 10 ms */
        a = pit0_latch();
        b = a;
        for (int i = 0; i < 100000 && b == a; i++) b = pit0_latch();
        c = b;
        for (int i = 0; i < 100000 && c == b; i++) c = pit0_latch();
        /* Read-back command: status and count of counter 0 (0xC2 = !COUNT=0, !STATUS=0, CNT0). */
        outb(PIT_MODE, 0xC2);
        status = inb(PIT_CH0);
        d = inb(PIT_CH0);
        d |= (u32)inb(PIT_CH0) << 8;
        /* Status only (0xE2), then a plain latch: the count keeps going down. */
        outb(PIT_MODE, 0xE2);
        st2 = inb(PIT_CH0);
        e = pit0_latch();
        reloaded = pic_read_irr(PIC_MASTER_CMD) & 1;
    } while (reloaded && ++tries < 5);
    if (tries) kprintf("info: PIT latch sequence retried %u times (a tick came in between)\n", (u32)tries);
    check("pit0-latch-in-range", a >= 1 && a <= LATCH && b <= LATCH && c <= LATCH, "counts %u %u %u", a, b, c);
    check("pit0-latch-decreases", b < a && c < b, "counts %u, %u, %u", a, b, c);
    check_eq("pit0-readback-status-mode2-lohi", status & 0x3F, 0x34);
    check("pit0-readback-count", d >= 1 && d <= c, "count %u after %u", d, c);
    check_eq("pit0-readback-status-only", st2 & 0x3F, 0x34);
    check("pit0-latch-after-readback", e <= d, "count %u after %u", e, d);
    sti();
}

static u32 bcd2bin(u32 v) { return (v & 0x0F) + (v >> 4) * 10; }

static void test_rtc_time(void) {
    /* mc146818_get_time: wait for UIP to clear, read, retry if an update slipped in. */
    u8 sec = 0, min = 0, hour = 0, day = 0, mon = 0, year = 0, cent = 0, b = 0;
    int uip_waits = 0, tries;
    for (tries = 0; tries < 5; tries++) {
        while (cmos_read(0x0A) & 0x80) {
            if (++uip_waits > 10000000) break;
        }
        sec = cmos_read(0x00);
        min = cmos_read(0x02);
        hour = cmos_read(0x04);
        day = cmos_read(0x07);
        mon = cmos_read(0x08);
        year = cmos_read(0x09);
        cent = cmos_read(0x32);
        b = cmos_read(0x0B);
        if (!(cmos_read(0x0A) & 0x80) && cmos_read(0x00) == sec) break;
    }
    check("rtc-uip-protocol", tries < 5, "time never read consistently");
    kprintf("info: RTC register A 0x%02x B 0x%02x D 0x%02x\n", cmos_read(0x0A) & 0x7F, b, cmos_read(0x0D));
    if (!(b & 0x04)) {
        sec = (u8)bcd2bin(sec);
        min = (u8)bcd2bin(min);
        hour = (u8)bcd2bin(hour & 0x7F) | (hour & 0x80);
        day = (u8)bcd2bin(day);
        mon = (u8)bcd2bin(mon);
        year = (u8)bcd2bin(year);
        cent = (u8)bcd2bin(cent);
    }
    if (!(b & 0x02)) hour = (u8)((hour & 0x7F) % 12 + (hour & 0x80 ? 12 : 0)); /* 12-hour mode */
    u32 fullyear = cent * 100u + year;
    kprintf("info: RTC time %04u-%02u-%02u %02u:%02u:%02u (%s mode)\n", fullyear, mon, day, hour, min, sec,
            b & 0x04 ? "binary" : "BCD");
    check("rtc-time-valid", sec < 60 && min < 60 && hour < 24 && day >= 1 && day <= 31 && mon >= 1 && mon <= 12 &&
                                fullyear >= 2020 && fullyear < 2100,
          "%u-%u-%u %u:%u:%u", fullyear, mon, day, hour, min, sec);
    check_eq("rtc-register-d-vrt", cmos_read(0x0D) & 0x80, 0x80);
}

static void test_rtc_periodic(void) {
    u8 b0 = cmos_read(0x0B);
    cmos_write(0x0B, b0 & ~0x70); /* no RTC interrupts */
    cmos_read(0x0C);
    /* Rate 6: 1024 Hz on the 32.768 kHz time base (Linux rtc-cmos / the BIOS default). */
    cmos_write(0x0A, (u8)((cmos_read(0x0A) & 0xF0) | 0x06));
    clear_counts();
    wait_irq(); /* align with a PIT tick */
    u32 t = irq_count[0];
    rtc_c_or = rtc_c_again = 0;
    cmos_read(0x0C);                               /* clear PF, which set while PIE was off */
    cmos_write(0x0B, (u8)((b0 & ~0x70) | 0x40)); /* PIE */
    u32 i0 = irq_count[8];
    while (irq_count[0] == t) wait_irq();
    u32 n10 = irq_count[8] - i0;
    while (irq_count[0] - t < 10) wait_irq();
    u32 n = irq_count[8] - i0;
    cmos_write(0x0B, b0 & ~0x70);
    kprintf("info: RTC periodic interrupts: %u in the first 10 ms PIT tick, %u in 10 ticks (100 ms)\n", n10, n);
    /* 1024 Hz gives 102 in 100 ms. A host that cannot time sub-millisecond events (an emulator in
     * real time) merges some, but can never deliver more: the upper bound is tight (2048 Hz would
     * give 205), the lower one only rules out a wrong rate (256 Hz: 25) or a line that stops. */
    check("rtc-periodic-1024hz", n >= 40 && n <= 115, "%u IRQ 8 in 100 ms, want 102 (40..115)", n);
    /* IRQF and PF, and never AF (no alarm enabled). UF may be there too: the chip sets it at the
     * end of every update cycle whether or not UIE is on (MC146818 register C), and one may end
     * during the 100 ms, depending on when it runs. */
    check_eq("rtc-periodic-regc-in-handler", rtc_c_or & 0xE0, 0xC0);
    check("rtc-periodic-only-irq0-irq8", others(1u << 0 | 1u << 8) == 0, "others 0x%x", others(1u << 0 | 1u << 8));
    /* A second read right after the handler's first finds the flags cleared (unless a whole period
     * passed in between, which a preempted host can make happen now and then). */
    check("rtc-regc-read-clears", rtc_c_again * 4 < n, "%u of %u second reads still had IRQF/PF", rtc_c_again, n);
    /* The data sheet sets PF whatever PIE says; QEMU runs its periodic timer only with PIE on. */
    wait_irq();
    kprintf("info: register C 10 ms after PIE went off: 0x%02x\n", cmos_read(0x0C));
    cmos_write(0x0A, (u8)((cmos_read(0x0A) & 0xF0) | 0x06));
}

static void test_rtc_update(void) {
    u8 b0 = cmos_read(0x0B);
    cmos_read(0x0C);
    clear_counts();
    rtc_uf_count = 0;
    rtc_c_or = 0;
    u32 t0 = irq_count[0];
    cmos_write(0x0B, (u8)((b0 & ~0x70) | 0x10)); /* UIE */
    int got1 = wait_change(&rtc_uf_count, 0, 120);
    u32 t1 = irq_count[0];
    int got2 = got1 && wait_change(&rtc_uf_count, 1, 120);
    u32 t2 = irq_count[0];
    cmos_write(0x0B, b0 & ~0x70);
    cmos_read(0x0C);
    check("rtc-update-irq-within-1.1s", got1 && t1 - t0 <= 110, "first update-ended IRQ after %u ticks (got %u)",
          t1 - t0, (u32)got1);
    /* IRQF and UF; PF may be set too (the data sheet sets it whatever PIE says). */
    check("rtc-update-regc", (rtc_c_or & 0x90) == 0x90 && !(rtc_c_or & 0x20), "register C 0x%x, want IRQF+UF",
          rtc_c_or);
    /* One RTC second is 100 PIT ticks: both follow the same time. Never more; a loaded host can
     * lose a few ticks (QEMU and a real-time emulator merge PIT periods they could not deliver). */
    check("rtc-second-is-100-pit-ticks", got2 && t2 - t1 >= 85 && t2 - t1 <= 102, "%u ticks between updates",
          t2 - t1);
    check("rtc-update-only-irq0-irq8", others(1u << 0 | 1u << 8) == 0, "others 0x%x", others(1u << 0 | 1u << 8));
}

/* UART: THRE interrupt (IER bit 1, MCR OUT2), with FIFOs as `fcr` says. */
static void test_uart_thre(u8 fcr, u8 want_iir, const char *name_irq, const char *name_iir) {
    outb(COM1 + 1, 0x00);
    outb(COM1 + 2, fcr);
    outb(COM1 + 4, 0x0B); /* DTR RTS OUT2 */
    uart_iir_last = 0xFF;
    u32 i0 = irq_count[4];
    cli();
    outb(COM1 + 1, 0x02); /* ETBEI */
    wait_ticks(3);
    u32 n = irq_count[4] - i0;
    u8 iir_after = inb(COM1 + 2);
    outb(COM1 + 1, 0x00);
    check(name_irq, n == 1, "%u IRQ 4 for one THRE event", n);
    check(name_iir, uart_iir_last == want_iir && (iir_after & 0x0F) == 0x01,
          "IIR in handler 0x%x (want 0x%x), afterwards 0x%x", uart_iir_last, want_iir, iir_after);
}

/* UART: received data in loopback (MCR bit 4): IIR while looped back, then IRQ 4 once the port is
 * out of loopback with OUT2 set. On a PC the OUT2 pin gates the UART's interrupt and is inactive in
 * loopback, so the IRQ may come only then (QEMU raises it at once; both deliver exactly one). */
/* dst = a + b (check names). */
static const char *cat(char *dst, const char *a, const char *b) {
    char *p = dst;
    while (*a) *p++ = *a++;
    while (*b) *p++ = *b++;
    *p = 0;
    return dst;
}

static void test_uart_rx(u8 fcr, u8 byte, const char *prefix) {
    char name[64];
    outb(COM1 + 1, 0x00);
    outb(COM1 + 2, fcr);
    outb(COM1 + 4, 0x1B); /* LOOP DTR RTS OUT2 */
    for (int i = 0; i < 32 && (inb(COM1 + 5) & 0x01); i++) inb(COM1);
    u32 i0 = irq_count[4];
    u32 r0 = uart_rx_count;
    uart_iir_last = 0xFF;
    uart_rbr_last = 0;
    cli();
    outb(COM1 + 1, 0x01); /* ERBFI */
    outb(COM1, byte);
    u8 lsr = 0;
    for (int i = 0; i < 100000 && !(lsr & 0x01); i++) lsr = inb(COM1 + 5);
    u8 iir_loop = inb(COM1 + 2);
    outb(COM1 + 4, 0x0B); /* out of loopback, OUT2 on */
    wait_ticks(3);
    u32 n = irq_count[4] - i0;
    u8 iir_after = inb(COM1 + 2);
    outb(COM1 + 1, 0x00);
    u8 want = (fcr & 1) ? 0xC4 : 0x04;
    check(cat(name, prefix, "-loopback-data-ready"), lsr & 0x01, "LSR 0x%x", lsr);
    /* In FIFO mode a character below the trigger level is reported as a timeout (0xCC) once four
     * character times pass without a FIFO access; whether that has happened depends on timing. */
    u8 ign = (fcr & 1) ? 0x08 : 0;
    check(cat(name, prefix, "-loopback-iir"), (iir_loop & ~ign) == want, "IIR 0x%x, want 0x%x", iir_loop, want);
    check(cat(name, prefix, "-irq4-once"), n == 1 && uart_rx_count - r0 == 1, "%u IRQ 4, %u receive", n, uart_rx_count - r0);
    check(cat(name, prefix, "-iir-in-handler"), (uart_iir_last & ~ign) == want, "IIR 0x%x, want 0x%x",
          uart_iir_last, want);
    check_eq(cat(name, prefix, "-rbr"), uart_rbr_last, byte);
    check_eq(cat(name, prefix, "-iir-after"), iir_after & 0x0F, 0x01);
}

static void test_uart(void) {
    clear_counts();
    test_uart_thre(0x07, 0xC2, "uart-thre-fifo-irq4", "uart-thre-fifo-iir-0xc2");
    test_uart_thre(0x00, 0x02, "uart-thre-16450-irq4", "uart-thre-16450-iir-0x02");
    test_uart_rx(0x00, 0x5A, "uart-rx-16450");
    test_uart_rx(0x07, 0xA5, "uart-rx-fifo");
    check("uart-only-irq0-irq4", others(1u << 0 | 1u << 4) == 0, "others 0x%x", others(1u << 0 | 1u << 4));
    /* Back to the console setting: FIFOs on, no interrupts. */
    outb(COM1 + 2, 0xC7);
    outb(COM1 + 4, 0x0B);
}

void kmain(u32 magic, u32 mbi) {
    (void)mbi;
    serial_init();
    kprintf("irqtest: start\n");
    check_eq("multiboot-magic", magic, 0x2BADB002);
    setup_descriptors();
    test_pic();
    test_elcr();
    test_pci();
    test_i8042();
    test_pit_calibrate();
    test_pit_quick();
    test_pit_tick();
    test_pit_latch();
    test_rtc_time();
    test_rtc_periodic();
    test_rtc_update();
    test_uart();
    check("no-spurious-irq", spurious7 == 0 && spurious15 == 0, "spurious IRQ 7: %u, IRQ 15: %u", spurious7,
          spurious15);
    finish();
}
