/*
 * check.c - PASS/FAIL lines and their counts (check.h).
 */
#include "check.h"
#include "serial.h"

uint32_t check_passed, check_failed;

void check(const char *name, int ok, const char *fmt, ...)
{
    if (ok) {
        check_passed++;
        kprintf("PASS %s\n", name);
        return;
    }
    check_failed++;
    kprintf("FAIL %s: ", name);
    __builtin_va_list ap;
    __builtin_va_start(ap, fmt);
    vkprintf(fmt, ap);
    __builtin_va_end(ap);
    serial_putc('\n');
}

void check_eq(const char *name, uint32_t got, uint32_t want)
{
    check(name, got == want, "got 0x%x, want 0x%x", got, want);
}
