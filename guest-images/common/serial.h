/*
 * serial.h - COM1 output shared by trapdoor's test guests (serial.c, kprintf.c).
 *
 * Every byte costs exactly one IN from LSR (0x3FD) while the transmitter is ready and one OUT
 * to THR (0x3F8); "\n" is the single byte 0x0A. serial_init() programs the 16550 with
 * IER=0, LCR=0x80, DLL=1, DLM=0, LCR=3, FCR=0xC7, MCR=0x0B (7 OUTs, no INs).
 */
#ifndef GUEST_COMMON_SERIAL_H
#define GUEST_COMMON_SERIAL_H

#include <stdint.h>

#include "io.h"

#define COM1 0x3F8

/*
 * The two primitives, inline: the init sequence and one byte (wait for LSR.THRE, then one
 * OUT). serial.c is built on them; x87test uses them directly because its reference output
 * (expected-qemu.txt) records code and data addresses, so its own code must stay in place.
 */
static inline void com1_init(void)
{
    outb(COM1 + 1, 0x00); /* IER: no interrupts                          */
    outb(COM1 + 3, 0x80); /* LCR: DLAB=1 to reach the divisor latch      */
    outb(COM1 + 0, 0x01); /* DLL: divisor 1 = 115200 baud                */
    outb(COM1 + 1, 0x00); /* DLM                                         */
    outb(COM1 + 3, 0x03); /* LCR: DLAB=0, 8 data bits, no parity, 1 stop */
    outb(COM1 + 2, 0xC7); /* FCR: enable + clear FIFOs, 14-byte trigger  */
    outb(COM1 + 4, 0x0B); /* MCR: DTR, RTS, OUT2                         */
}

static inline void com1_putc(char c)
{
    while ((inb(COM1 + 5) & 0x20) == 0) /* LSR.THRE: the UART can take a byte */
        ;
    outb(COM1, (uint8_t)c); /* THR */
}

/* serial.c */
void serial_init(void);                     /* 115200 8N1, FIFOs on, no interrupts */
void serial_putc(char c);
void serial_puts(const char *s);
void put_hex(uint32_t v, int digits);       /* 'digits' upper-case hex digits, no "0x" */
void put_dec(uint64_t v);                   /* unsigned decimal, no division (no libgcc) */

#ifdef SERIAL_COUNT
/* Built with -DSERIAL_COUNT (hello): bytes and '\n' bytes sent by serial_putc since serial_init. */
extern uint32_t serial_bytes_out, serial_lines_out;
#endif

/* kprintf.c: %x (upper case) %u %d %s %%, with an optional width and '0' flag. */
void kprintf(const char *fmt, ...);
void vkprintf(const char *fmt, __builtin_va_list ap);

#endif
