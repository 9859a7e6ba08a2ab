/*
 * serial.c - COM1 (a 16550A UART) output for trapdoor's test guests: init, putc/puts and
 * hex/decimal printing (serial.h). Freestanding: no libc, no libgcc.
 *
 * Built with -DSERIAL_COUNT (hello), serial_putc also counts the bytes and lines it sent.
 */
#include "serial.h"

#ifdef SERIAL_COUNT
uint32_t serial_bytes_out, serial_lines_out;
#endif

void serial_init(void)
{
#ifdef SERIAL_COUNT
    serial_bytes_out = 0;
    serial_lines_out = 0;
#endif
    com1_init();
}

void serial_putc(char c)
{
    com1_putc(c);
#ifdef SERIAL_COUNT
    serial_bytes_out++;
    if (c == '\n')
        serial_lines_out++;
#endif
}

void serial_puts(const char *s)
{
    while (*s)
        serial_putc(*s++);
}

void put_hex(uint32_t v, int digits)
{
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4)
        serial_putc("0123456789ABCDEF"[(v >> shift) & 0xF]);
}

/*
 * By repeated subtraction of powers of ten: no division at all, so no 64-bit divide helper
 * (__udivdi3) from libgcc is needed.
 */
static const uint64_t powers_of_ten[20] = {
    10000000000000000000ull, 1000000000000000000ull, 100000000000000000ull,
    10000000000000000ull, 1000000000000000ull, 100000000000000ull,
    10000000000000ull, 1000000000000ull, 100000000000ull, 10000000000ull,
    1000000000ull, 100000000ull, 10000000ull, 1000000ull, 100000ull,
    10000ull, 1000ull, 100ull, 10ull, 1ull,
};

void put_dec(uint64_t v)
{
    int started = 0;
    for (int i = 0; i < 20; i++) {
        char digit = '0';
        while (v >= powers_of_ten[i]) {
            v -= powers_of_ten[i];
            digit++;
        }
        if (digit != '0' || started || i == 19) {
            serial_putc(digit);
            started = 1;
        }
    }
}
