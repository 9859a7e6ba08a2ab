/*
 * check.h - "PASS <name>" / "FAIL <name>: <details>" lines on COM1 (check.c), for the cputest
 * and irqtest kernels. Each guest prints its own summary from check_passed/check_failed.
 */
#ifndef GUEST_COMMON_CHECK_H
#define GUEST_COMMON_CHECK_H

#include <stdint.h>

extern uint32_t check_passed, check_failed;

/* PASS name, or FAIL name: <fmt as kprintf>. */
void check(const char *name, int ok, const char *fmt, ...);
/* check() with "got 0x%x, want 0x%x". */
void check_eq(const char *name, uint32_t got, uint32_t want);

#endif
