/*
 * irq.c - interrupts for the virtio guests: an IDT whose gates point at ../common/isr-stubs.S,
 * the 8259A pair (ICW1-4 per the Intel 8259A datasheet: master at vector 0x20, slave at 0x28,
 * cascade on IR2), a one-shot PIT watchdog on IRQ 0 (8254 mode 0, "interrupt on terminal
 * count") so that no wait lasts forever, and the device handler, which reads the virtio ISR
 * status (virtio 1.2 §4.1.4.5: the read clears it and deasserts the level-triggered INTx#
 * line) before the end of interrupt.
 */
#include "check.h"
#include "io.h"
#include "serial.h"
#include "virtio.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xA0
#define PIC2_DATA 0xA1
#define PIC_EOI 0x20
#define IRQ_BASE 0x20
#define PIT_CH0 0x40
#define PIT_MODE 0x43
#define CODE_SELECTOR 0x08 /* ../common/multiboot-boot.S with BOOT_LOAD_GDT */

volatile uint32_t irq_count;
volatile uint8_t irq_isr_bits;
static volatile uint32_t watchdog_fired;
static struct vdev *attached;
static uint16_t irq_mask = 0xFFFF & ~(1u << 0); /* IRQ 0: the watchdog */

struct frame { /* what isr-stubs.S passes: PUSHAL, vector, error code, then the CPU's part */
    uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
    uint32_t vector, error;
    uint32_t eip, cs, eflags;
};

static uint32_t idt[48][2] __attribute__((aligned(8)));

static void set_mask(void)
{
    outb(PIC1_DATA, (uint8_t)irq_mask);
    outb(PIC2_DATA, (uint8_t)(irq_mask >> 8));
}

void irq_setup(void)
{
    extern uint8_t isr_stubs[];
    for (int v = 0; v < 48; v++) {
        uint32_t handler = (uint32_t)isr_stubs + 16u * v;
        idt[v][0] = (handler & 0xFFFF) | (CODE_SELECTOR << 16);
        idt[v][1] = (handler & 0xFFFF0000u) | 0x8E00; /* present, ring 0, 32-bit interrupt gate */
    }
    struct {
        uint16_t limit;
        uint32_t base;
    } __attribute__((packed)) idtr = {sizeof idt - 1, (uint32_t)idt};
    __asm__ volatile("lidt %0" : : "m"(idtr));

    outb(PIC1_CMD, 0x11);         /* ICW1: edge mode per ELCR, cascade, ICW4 follows */
    outb(PIC1_DATA, IRQ_BASE);    /* ICW2 */
    outb(PIC1_DATA, 1 << 2);      /* ICW3: slave on IR2 */
    outb(PIC1_DATA, 0x01);        /* ICW4: 8086 mode, normal EOI */
    outb(PIC2_CMD, 0x11);
    outb(PIC2_DATA, IRQ_BASE + 8);
    outb(PIC2_DATA, 2);           /* ICW3: slave identity 2 */
    outb(PIC2_DATA, 0x01);
    set_mask();
}

void irq_attach(struct vdev *d)
{
    attached = d;
    if (d->irq > 0 && d->irq < 16) {
        irq_mask &= (uint16_t)~(1u << d->irq);
        if (d->irq >= 8)
            irq_mask &= (uint16_t)~(1u << 2);
        set_mask();
    }
}

void trap(struct frame *f)
{
    uint32_t irq = f->vector - IRQ_BASE;
    if (f->vector < IRQ_BASE || irq >= 16) {
        kprintf("FAIL exception: vector %u error 0x%x at 0x%x\n", f->vector, f->error, f->eip);
        check_failed++;
        finish("exception");
    }
    if (irq == 0) {
        /* 8254 read-back (0xE2: status of counter 0): OUT (bit 7) is high only once the counter
         * armed last reached terminal count, so an IRQ 0 left over from an earlier arming, still
         * latched in the 8259 when irq_wait re-armed the counter, is not taken for this one. */
        outb(PIT_MODE, 0xE2);
        if (inb(PIT_CH0) & 0x80)
            watchdog_fired = 1;
    }
    else if (attached && irq == attached->irq) {
        irq_isr_bits |= vdev_isr(attached);
        irq_count++;
    }
    if (irq >= 8)
        outb(PIC2_CMD, PIC_EOI);
    outb(PIC1_CMD, PIC_EOI);
}

int irq_wait(uint32_t target, int periods)
{
    for (int p = 0; p < periods && irq_count < target; p++) {
        watchdog_fired = 0;
        outb(PIT_MODE, 0x30); /* channel 0, lobyte/hibyte, mode 0 */
        outb(PIT_CH0, 0xFF);  /* 65535 ticks of 1.193 MHz: 55 ms */
        outb(PIT_CH0, 0xFF);
        while (irq_count < target && !watchdog_fired)
            __asm__ volatile("sti; hlt; cli" ::: "memory"); /* STI's shadow: no wake-up is missed */
    }
    return irq_count >= target;
}
