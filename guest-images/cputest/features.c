/*
 * features.c - the CPUID.01H:EDX features of a Pentium II-class CPU beyond the i386 (SDM vol. 2
 * "CPUID") and what each promises: global pages (CR4.PGE, SDM vol. 3 §4.10.2.4, §4.10.4.1), the
 * debug extensions (CR4.DE: DR4/DR5, §18.2.2) and the fixed bits of DR6/DR7 (§18.2.3-18.2.4), and
 * the time-stamp disable (CR4.TSD, vol. 2 "RDTSC"), and the debug registers at work (§18.3):
 * single-step (TF, DR6.BS), instruction breakpoints as faults with RF, data breakpoints (R/W 01 and
 * 11) as traps. VME and PVI are vme.c.
 *
 * Run under QEMU with a CPU model that has these features: -cpu pentium2.
 */
#include "cputest.h"

const char suite_name[] = "features";

#define CR0_PG 0x80000000u
#define CR4_TSD 0x04
#define CR4_DE 0x08
#define CR4_PGE 0x80

/* ------------------------------------------------------------------ CPUID */

static void cpuid_checks(void) {
    u32 a = 1, b, c, d;
    asm volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
    static const struct { const char *name; int bit; } want[] = {
        {"cpuid-fpu", 0}, {"cpuid-de", 2},  {"cpuid-pse", 3},  {"cpuid-tsc", 4},
        {"cpuid-msr", 5}, {"cpuid-cx8", 8}, {"cpuid-sep", 11}, {"cpuid-pge", 13}, {"cpuid-cmov", 15},
    };
    for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++)
        check(want[i].name, (d >> want[i].bit) & 1, "CPUID.01H:EDX = 0x%x", d);
    check_eq("cpuid-family-6", (a >> 8) & 0xF, 6);
}

/* ------------------------------------------------------------------ global pages */

static u32 pd[1024] __attribute__((aligned(4096)));
static u32 pt0[1024] __attribute__((aligned(4096))); /* identity 0..4 MiB */
static u32 pt1[1024] __attribute__((aligned(4096))); /* the test pages at 4 MiB */
static u32 frames[2][1024] __attribute__((aligned(4096)));
#define VA_G 0x400000u /* global page */
#define VA_L 0x401000u /* non-global page */
#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_G 0x100

static u32 va_read(u32 va) { return *(volatile u32 *)va; }
static void map(u32 va, int frame, u32 g) { pt1[(va >> 12) & 0x3FF] = (u32)frames[frame] | PTE_P | PTE_RW | g; }

static void pge_checks(void) {
    frames[0][0] = 0xAAAA0000;
    frames[1][0] = 0xBBBB1111;
    for (u32 i = 0; i < 1024; i++) pt0[i] = (i << 12) | PTE_P | PTE_RW;
    pd[0] = (u32)pt0 | PTE_P | PTE_RW;
    pd[1] = (u32)pt1 | PTE_P | PTE_RW;
    map(VA_G, 0, PTE_G);
    map(VA_L, 0, 0);
    write_cr3((u32)pd);
    write_cr4(read_cr4() | CR4_PGE);
    check("pge-cr4-bit-sticks", read_cr4() & CR4_PGE, "cr4 0x%x", read_cr4());
    write_cr0(read_cr0() | CR0_PG);
    check_eq("pge-global-page-read", va_read(VA_G), 0xAAAA0000);
    check_eq("pge-local-page-read", va_read(VA_L), 0xAAAA0000);

    /* A CR3 load must drop the non-global translation. */
    map(VA_L, 1, 0);
    write_cr3((u32)pd);
    check_eq("pge-cr3-load-flushes-non-global", va_read(VA_L), 0xBBBB1111);

    /* A CR3 load may keep the global one (SDM §4.10.4.1: "not required" to invalidate): report
     * what this CPU does without making it a check (QEMU flushes it, trapdoor keeps it). */
    map(VA_G, 1, PTE_G);
    write_cr3((u32)pd);
    kprintf("INFO pge-global-after-cr3-load: %s\n", va_read(VA_G) == 0xAAAA0000 ? "kept" : "flushed");
    /* INVLPG drops a global translation. */
    invlpg(VA_G);
    check_eq("pge-invlpg-flushes-global", va_read(VA_G), 0xBBBB1111);
    /* Clearing CR4.PGE drops every global translation. */
    map(VA_G, 0, PTE_G);
    write_cr4(read_cr4() & ~CR4_PGE);
    check_eq("pge-clearing-cr4-pge-flushes-global", va_read(VA_G), 0xAAAA0000);
    /* With CR4.PGE clear, G is ignored: a CR3 load drops the page. */
    map(VA_G, 1, PTE_G);
    write_cr3((u32)pd);
    check_eq("pge-g-ignored-without-cr4-pge", va_read(VA_G), 0xBBBB1111);
    /* Setting CR4.PGE again also flushes; then CR0.PG off/on drops global pages too. */
    map(VA_G, 0, PTE_G);
    write_cr4(read_cr4() | CR4_PGE);
    check_eq("pge-setting-cr4-pge-flushes", va_read(VA_G), 0xAAAA0000);
    map(VA_G, 1, PTE_G);
    write_cr0(read_cr0() & ~CR0_PG);
    write_cr0(read_cr0() | CR0_PG);
    check_eq("pge-cr0-pg-toggle-flushes-global", va_read(VA_G), 0xBBBB1111);
    write_cr0(read_cr0() & ~CR0_PG);
    write_cr4(read_cr4() & ~CR4_PGE);
}

/* ------------------------------------------------------------------ debug registers, TSD */

/* Write `val` to debug register `wr`, read debug register `rd` back and compare with `want`. */
#define DR_CHECK(name, wr, rd, val, want)                                 \
    do {                                                                  \
        u32 v_;                                                           \
        asm volatile("mov %0, %%" wr : : "r"((u32)(val)));               \
        asm volatile("mov %%" rd ", %0" : "=r"(v_));                     \
        check_eq(name, v_, want);                                         \
    } while (0)

static void de_checks(void) {
    u32 v = 0;
    DR_CHECK("dr6-reserved-bits-read-as-one", "dr6", "dr6", 0, 0xFFFF0FF0);
    DR_CHECK("dr7-bit10-reads-as-one", "dr7", "dr7", 0, 0x400);
    DR_CHECK("dr0-holds-address", "dr0", "dr0", 0x12345678, 0x12345678);
    /* CR4.DE clear: DR4 and DR5 are DR6 and DR7. */
    write_cr4(read_cr4() & ~CR4_DE);
    DR_CHECK("de-off-dr4-writes-dr6", "dr4", "dr6", 1, 0xFFFF0FF1);
    DR_CHECK("de-off-dr5-reads-dr7", "dr7", "dr5", 3, 0x403);
    asm volatile("mov %0, %%dr7" : : "r"(0));

    /* CR4.DE set: any MOV with DR4 or DR5 is #UD. */
    write_cr4(read_cr4() | CR4_DE);
    check("de-cr4-bit-sticks", read_cr4() & CR4_DE, "cr4 0x%x", read_cr4());
    fault_reset();
    asm volatile(T_BEGIN "mov %%dr4, %0" T_END : "+r"(v) : : "memory");
    check_fault("de-on-read-dr4-ud", 6, 0, 0, 0);
    fault_reset();
    asm volatile(T_BEGIN "mov %0, %%dr5" T_END : : "r"(v) : "memory");
    check_fault("de-on-write-dr5-ud", 6, 0, 0, 0);
    fault_reset();
    asm volatile(T_BEGIN "mov %%dr6, %0" T_END : "+r"(v) : : "memory");
    check_nofault("de-on-dr6-still-works");
    write_cr4(read_cr4() & ~CR4_DE);
}

static void u_rdtsc(void) {
    u32 lo = 0, hi = 0;
    fault_reset();
    asm volatile(T_BEGIN "rdtsc" T_END : "+a"(lo), "+d"(hi) : : "memory");
    urec(0, lo);
    user_exit(0);
}

static void tsd_checks(void) {
    run_user(u_rdtsc, 0x2);
    check_probe("tsd-off-rdtsc-ring3", 0, -1, 0, 0, 0);
    write_cr4(read_cr4() | CR4_TSD);
    run_user(u_rdtsc, 0x2);
    check_probe("tsd-on-rdtsc-ring3-gp", 0, 13, 1, 0, 0);
    u32 lo, hi;
    fault_reset();
    asm volatile(T_BEGIN "rdtsc" T_END : "=a"(lo), "=d"(hi) : : "memory");
    check_nofault("tsd-on-rdtsc-ring0");
    write_cr4(read_cr4() & ~CR4_TSD);
}

/* ------------------------------------------------------------------ breakpoints, single-step */

static struct { u32 eip, dr6, eflags; } db[8];
static u32 db_n;
static volatile u32 watched[2] __attribute__((aligned(8)));

/* #DB: record, clear DR6, and resume with RF set (so an instruction breakpoint lets it run). */
static void db_hook(struct frame *f) {
    u32 v;
    asm volatile("mov %%dr6, %0" : "=r"(v));
    if (db_n < 8) {
        db[db_n].eip = f->eip;
        db[db_n].dr6 = v;
        db[db_n].eflags = f->eflags;
    }
    db_n++;
    asm volatile("mov %0, %%dr6" : : "r"(0));
    f->eflags |= 0x10000;
}

extern const u8 ss_nop1[], ss_nop2[], ss_pushf[], ss_end[], ibp_insn[], ibp_after[], dbw_after[], dbr_after[],
    dbb_after[];

#define DR7_L0 0x1
#define DR7_L1 0x4
#define DR7_RW1(x) ((x) << 20)
#define DR7_LEN1(x) ((x) << 22)
#define DR6_B0 0x1
#define DR6_B1 0x2
#define DR6_BS 0x4000

static void set_dr7(u32 v) { asm volatile("mov %0, %%dr7" : : "r"(v) : "memory"); }

static void debug_checks(void) {
    hooks[1] = db_hook;

    /* Single-step: the POPF that sets TF is not trapped, each instruction after it is, up to and
     * including the POPF that clears TF. */
    db_n = 0;
    asm volatile("pushfl\n\torl $0x100, (%%esp)\n\tpopfl\n"
                 "ss_nop1:\n\tnop\n"
                 "ss_nop2:\n\tnop\n"
                 "ss_pushf:\n\tpushfl\n\tandl $~0x100, (%%esp)\n\tpopfl\n"
                 "ss_end:\n\tnop"
                 : : : "memory", "cc");
    check_eq("tf-single-step-trap-count", db_n, 5);
    check_eq("tf-first-trap-after-first-insn", db[0].eip, (u32)ss_nop2);
    check_eq("tf-second-trap-eip", db[1].eip, (u32)ss_pushf);
    check_eq("tf-last-trap-after-popf-clearing-tf", db[4].eip, (u32)ss_end);
    check("tf-dr6-bs", (db[0].dr6 & DR6_BS) != 0, "dr6 0x%x", db[0].dr6);
    check("tf-pushed-eflags-tf", (db[0].eflags & 0x100) != 0, "eflags 0x%x", db[0].eflags);

    /* Instruction breakpoint (DR0, R/W 00): a fault before the instruction; RF lets it run. */
    db_n = 0;
    u32 v = 0;
    asm volatile("mov %0, %%dr0" : : "r"((u32)ibp_insn));
    set_dr7(DR7_L0);
    asm volatile("nop\n"
                 "ibp_insn:\n\tmovl $0x77, %0\n"
                 "ibp_after:\n\tnop"
                 : "+r"(v) : : "memory");
    set_dr7(0);
    check_eq("ibp-one-fault", db_n, 1);
    check_eq("ibp-fault-eip-is-instruction", db[0].eip, (u32)ibp_insn);
    check("ibp-dr6-b0", (db[0].dr6 & 0xF) == DR6_B0, "dr6 0x%x", db[0].dr6);
    check_eq("ibp-instruction-ran-after-rf", v, 0x77);

    /* Data breakpoint on writes (DR1, R/W 01, 4 bytes): a trap after the writing instruction. */
    db_n = 0;
    asm volatile("mov %0, %%dr1" : : "r"((u32)&watched[0]));
    set_dr7(DR7_L1 | DR7_RW1(1) | DR7_LEN1(3));
    v = watched[0]; /* a read: no trap */
    asm volatile("movl $0x55, %0\n"
                 "dbw_after:\n\tnop"
                 : "=m"(watched[0]) : : "memory");
    watched[1] = 1; /* the next dword: no trap */
    set_dr7(0);
    check_eq("dbw-one-trap", db_n, 1);
    check_eq("dbw-trap-eip-after-write", db[0].eip, (u32)dbw_after);
    check("dbw-dr6-b1", (db[0].dr6 & 0xF) == DR6_B1, "dr6 0x%x", db[0].dr6);
    check_eq("dbw-write-done", watched[0], 0x55);

    /* R/W 11: reads trap too, and a byte inside the watched dword. */
    db_n = 0;
    set_dr7(DR7_L1 | DR7_RW1(3) | DR7_LEN1(3));
    asm volatile("movl %1, %0\n"
                 "dbr_after:\n\tnop"
                 : "=r"(v) : "m"(watched[0]) : "memory");
    asm volatile("movb $1, %0\n"
                 "dbb_after:\n\tnop"
                 : "=m"(*((volatile u8 *)watched + 2)) : : "memory");
    set_dr7(0);
    check_eq("dbrw-two-traps", db_n, 2);
    check_eq("dbrw-read-trap-eip", db[0].eip, (u32)dbr_after);
    check_eq("dbrw-byte-write-trap-eip", db[1].eip, (u32)dbb_after);
    hooks[1] = 0;
}

void suite_main(void) {
    cpuid_checks();
    pge_checks();
    de_checks();
    tsd_checks();
    debug_checks();
}
