/*
 * bench.c - trapdoor's CPU benchmark guest (a Multiboot v1 kernel).
 *
 * A fixed, deterministic, CPU-bound workload for `npm run bench`: every run executes exactly the
 * same instructions. It turns on 32-bit paging (identity map of the first 16 MiB in 4 KiB
 * pages, so every access goes through the TLB as under an OS), then runs each part, prints one
 * checksum line per part on COM1 and writes 0 to the QEMU isa-debug-exit port 0xF4.
 *
 *   crc     integer work: bitwise CRC-32 and FNV-1a over a 64 KiB xorshift buffer
 *   copy    memory traffic: a C word-copy loop over 256 KiB, 4 passes, plus a byte checksum
 *   sort    memory traffic and calls: recursive quicksort of 64 Ki u32 (256 KiB)
 *   fib     calls: recursive fib(25)
 *   string  string instructions: REP MOVSD, REP STOSB, REPE CMPSB over 256 KiB (inline asm)
 *   x87     a little floating point: FADD/FMUL/FDIV/FSQRT loop (inline asm)
 *   smc     self-modifying code: patch an immediate in the very next instruction, and in a
 *           called buffer, then run the new code (a decode cache must notice)
 *
 * expected-qemu.txt is QEMU's output for the same image (see build.sh).
 */
#include <stdint.h>

#include "serial.h"

/* Lower case, as the reference output has it (common/serial.c's put_hex prints upper case). */
static void hex(uint32_t v)
{
    for (int i = 7; i >= 0; i--)
        serial_putc("0123456789abcdef"[(v >> (i * 4)) & 15]);
}

static void report(const char *name, uint32_t sum)
{
    serial_puts(name);
    serial_puts(": ");
    hex(sum);
    serial_putc('\n');
}

/* ---------------------------------------------------------------- paging */

static uint32_t page_dir[1024] __attribute__((aligned(4096)));
static uint32_t page_tables[4][1024] __attribute__((aligned(4096)));

static void paging_on(void)
{
    for (uint32_t t = 0; t < 4; t++) {
        for (uint32_t i = 0; i < 1024; i++)
            page_tables[t][i] = ((t * 1024 + i) << 12) | 3; /* present, writable */
        page_dir[t] = (uint32_t)page_tables[t] | 3;
    }
    __asm__ volatile("movl %0, %%cr3\n\t"
                     "movl %%cr0, %%eax\n\t"
                     "orl $0x80000000, %%eax\n\t"
                     "movl %%eax, %%cr0\n\t"
                     "jmp 1f\n"
                     "1:"
                     :
                     : "r"(page_dir)
                     : "eax", "memory");
}

/* ---------------------------------------------------------------- data */

#define BUF_WORDS (64 * 1024)
static uint32_t buf_a[BUF_WORDS];
static uint32_t buf_b[BUF_WORDS];
static uint8_t crc_data[64 * 1024];

static uint32_t xs_state = 2463534242u;
static uint32_t xorshift(void)
{
    uint32_t x = xs_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return xs_state = x;
}

/* ---------------------------------------------------------------- parts */

static uint32_t part_crc(void)
{
    for (uint32_t i = 0; i < sizeof crc_data; i++)
        crc_data[i] = (uint8_t)xorshift();
    uint32_t crc = 0xFFFFFFFFu;
    for (uint32_t i = 0; i < sizeof crc_data; i++) {
        crc ^= crc_data[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
    }
    uint32_t fnv = 2166136261u;
    for (uint32_t i = 0; i < sizeof crc_data; i++)
        fnv = (fnv ^ crc_data[i]) * 16777619u;
    return ~crc ^ fnv;
}

static void __attribute__((noinline)) copy_words(uint32_t *d, const uint32_t *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        d[i] = s[i];
}

static uint32_t part_copy(void)
{
    for (uint32_t i = 0; i < BUF_WORDS; i++)
        buf_a[i] = xorshift();
    for (int pass = 0; pass < 4; pass++) {
        copy_words(buf_b, buf_a, BUF_WORDS);
        copy_words(buf_a, buf_b, BUF_WORDS);
        buf_a[pass * 1000] ^= (uint32_t)pass;
    }
    uint32_t sum = 0;
    const uint8_t *p = (const uint8_t *)buf_a;
    for (uint32_t i = 0; i < sizeof buf_a; i += 3)
        sum = sum * 31 + p[i];
    return sum;
}

static void __attribute__((noinline)) quicksort(uint32_t *a, int lo, int hi)
{
    while (lo < hi) {
        uint32_t pivot = a[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                uint32_t t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        /* Recurse into the smaller half, loop on the larger (bounded stack depth). */
        if (j - lo < hi - i) {
            quicksort(a, lo, j);
            lo = i;
        } else {
            quicksort(a, i, hi);
            hi = j;
        }
    }
}

static uint32_t part_sort(void)
{
    for (uint32_t i = 0; i < BUF_WORDS; i++)
        buf_a[i] = xorshift();
    quicksort(buf_a, 0, BUF_WORDS - 1);
    uint32_t sum = 0;
    for (uint32_t i = 1; i < BUF_WORDS; i++) {
        if (buf_a[i - 1] > buf_a[i])
            return 0xBAD0BAD0u;
        sum = (sum ^ buf_a[i]) * 3 + i;
    }
    return sum;
}

static uint32_t __attribute__((noinline)) fib(uint32_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static uint32_t part_fib(void)
{
    return fib(25);
}

static uint32_t part_string(void)
{
    uint32_t sum = 0;
    for (int pass = 0; pass < 8; pass++) {
        /* REP STOSB: fill buf_b with a pass-dependent byte. */
        uint32_t d0, c0;
        __asm__ volatile("rep stosb"
                         : "=D"(d0), "=c"(c0)
                         : "0"(buf_b), "1"(sizeof buf_b), "a"(0x11 * (pass + 1))
                         : "memory");
        /* REP MOVSD: copy it to buf_a. */
        uint32_t s1, d1, c1;
        __asm__ volatile("rep movsl"
                         : "=S"(s1), "=D"(d1), "=c"(c1)
                         : "0"(buf_b), "1"(buf_a), "2"(BUF_WORDS)
                         : "memory");
        /* Change one byte, then REPE CMPSB finds it. */
        ((uint8_t *)buf_a)[pass * 20000 + 7] ^= 0x5A;
        uint32_t s2, d2, left;
        __asm__ volatile("repe cmpsb"
                         : "=S"(s2), "=D"(d2), "=c"(left)
                         : "0"(buf_a), "1"(buf_b), "2"(sizeof buf_a)
                         : "memory", "cc");
        sum = sum * 33 + left + ((uint8_t *)buf_a)[pass * 5000];
    }
    return sum;
}

static uint32_t part_x87(void)
{
    static const double c_a = 1.0000001, c_b = 0.75, c_c = 1.5;
    double x = 2.0;
    uint64_t bits;
    /* x = sqrt(x * a + b) + x / c, 20000 times, then keep it bounded: x /= c + c. */
    __asm__ volatile("fninit\n\t"
                     "fldl %[x]\n\t"
                     "movl $20000, %%ecx\n"
                     "1:\n\t"
                     "fld %%st(0)\n\t"
                     "fmull %[a]\n\t"
                     "faddl %[b]\n\t"
                     "fsqrt\n\t"
                     "fxch\n\t"
                     "fdivl %[c]\n\t"
                     "faddp\n\t"
                     "fld %%st(0)\n\t"
                     "faddl %[c]\n\t"
                     "fdivrl %[c]\n\t"
                     "fmulp\n\t"
                     "faddl %[b]\n\t"
                     "decl %%ecx\n\t"
                     "jnz 1b\n\t"
                     "fstpl %[out]\n\t"
                     : [out] "=m"(bits)
                     : [x] "m"(x), [a] "m"(c_a), [b] "m"(c_b), [c] "m"(c_c)
                     : "ecx", "memory", "cc");
    return (uint32_t)bits ^ (uint32_t)(bits >> 32);
}

/* The instruction after the MOV that patches its immediate must run with the new value. */
static uint32_t smc_next(uint32_t v)
{
    uint32_t r;
    __asm__ volatile("movl %1, 1f+1\n\t"
                     "1: movl $0, %0\n\t"
                     : "=a"(r)
                     : "r"(v)
                     : "memory");
    return r;
}

static uint8_t smc_buf[16] __attribute__((aligned(16)));

static uint32_t part_smc(void)
{
    uint32_t sum = 0;
    for (uint32_t i = 1; i <= 2000; i++) {
        sum = sum * 7 + smc_next(i * 2654435761u);
        /* mov eax, imm32; ret, rewritten every iteration. */
        smc_buf[0] = 0xB8;
        *(volatile uint32_t *)(smc_buf + 1) = i ^ 0xA5A5A5A5u;
        smc_buf[5] = 0xC3;
        uint32_t (*fn)(void) = (uint32_t (*)(void))(uintptr_t)smc_buf;
        sum ^= fn();
    }
    return sum;
}

/* ---------------------------------------------------------------- main */

void kmain(uint32_t magic, void *mbi)
{
    (void)magic;
    (void)mbi;
    serial_init();
    serial_puts("trapdoor bench guest\n");
    paging_on();
    uint32_t total = 0, s;
    s = part_crc();    report("crc", s);    total ^= s;
    s = part_copy();   report("copy", s);   total ^= s;
    s = part_sort();   report("sort", s);   total ^= s;
    s = part_fib();    report("fib", s);    total ^= s;
    s = part_string(); report("string", s); total ^= s;
    s = part_x87();    report("x87", s);    total ^= s;
    s = part_smc();    report("smc", s);    total ^= s;
    report("total", total);
    outb(0xF4, 0);
}
