/*
 * kprintf.c - a minimal printf on COM1 (serial.c) for trapdoor's test guests.
 */
#include "serial.h"

static void put_num(uint32_t v, int base, int width, int zero)
{
    char buf[16];
    int n = 0;
    do {
        uint32_t d = v % (uint32_t)base;
        buf[n++] = (char)(d < 10 ? '0' + d : 'A' + d - 10);
        v /= (uint32_t)base;
    } while (v);
    while (n < width)
        buf[n++] = zero ? '0' : ' ';
    while (n)
        serial_putc(buf[--n]);
}

void vkprintf(const char *fmt, __builtin_va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            serial_putc(*fmt);
            continue;
        }
        fmt++;
        int zero = 0, width = 0;
        if (*fmt == '0')
            zero = 1, fmt++;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        switch (*fmt) {
        case 'x': put_num(__builtin_va_arg(ap, uint32_t), 16, width, zero); break;
        case 'u': put_num(__builtin_va_arg(ap, uint32_t), 10, width, zero); break;
        case 'd': {
            int v = __builtin_va_arg(ap, int);
            if (v < 0)
                serial_putc('-'), v = -v;
            put_num((uint32_t)v, 10, width, zero);
            break;
        }
        case 's': serial_puts(__builtin_va_arg(ap, const char *)); break;
        case '%': serial_putc('%'); break;
        default: serial_putc('?'); break;
        }
    }
}

void kprintf(const char *fmt, ...)
{
    __builtin_va_list ap;
    __builtin_va_start(ap, fmt);
    vkprintf(fmt, ap);
    __builtin_va_end(ap);
}
