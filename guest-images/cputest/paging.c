/*
 * paging.c - 32-bit paging (SDM vol. 3 ch. 4): 4 KiB and 4 MiB pages, CR0.WP, U/S and R/W from
 * ring 3, #PF error codes and CR2, accessed/dirty flags, INVLPG and CR3 reloads.
 */
#include "cputest.h"

const char suite_name[] = "paging";

#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_US 0x4
#define PTE_A 0x20
#define PTE_D 0x40
#define PDE_PS 0x80
#define CR0_WP 0x10000
#define CR0_PG 0x80000000
#define CR4_PSE 0x10

static u32 pd[1024] __attribute__((aligned(4096)));
static u32 pt0[1024] __attribute__((aligned(4096))); /* identity 0..4 MiB, user, writable */
static u32 pt1[1024] __attribute__((aligned(4096))); /* the 4 KiB test pages at 4 MiB */
static u32 pt3[1024] __attribute__((aligned(4096))); /* reached through restrictive PDEs */
static u32 frames[8][1024] __attribute__((aligned(4096)));

#define VA_RW 0x400000u  /* user, writable -> frames[0] */
#define VA_RO 0x401000u  /* user, read-only -> frames[1] */
#define VA_NP 0x402000u  /* not present */
#define VA_SUP 0x403000u /* supervisor, writable -> frames[2] */
#define VA_AD 0x404000u  /* accessed/dirty -> frames[3] */
#define VA_SW 0x405000u  /* remapped between frames */
#define VA_X1 0x406000u  /* writable -> frames[4] */
#define VA_X2 0x407000u  /* read-only -> frames[5] */
#define VA_4M 0x800000u  /* 4 MiB page -> physical 0, user, writable */
#define VA_PDE_SUP 0xC00000u /* PDE U/S=0 over pt3 (PTE U/S=1) */
#define VA_4M_RO 0x1000000u  /* 4 MiB page -> physical 0, supervisor, read-only */
#define VA_NO_PDE 0x1400000u /* PDE not present */
#define VA_PDE_RO 0x1800000u /* PDE R/W=0 over pt3 (PTE R/W=1) */
#define VA_PSE_OFF 0x1C00000u /* PDE with PS=1 over pt3: a 4 MiB page only while CR4.PSE=1 */

static volatile u32 marker = 0x4D4D4D4D;
static volatile u32 scratch;

static u32 __attribute__((noinline)) probe_read(u32 addr) {
    u32 v = 0;
    fault_reset();
    asm volatile(T_BEGIN "movl (%1), %0" T_END : "+r"(v) : "r"(addr) : "memory");
    return v;
}

static void __attribute__((noinline)) probe_write(u32 addr, u32 v) {
    fault_reset();
    asm volatile(T_BEGIN "movl %1, (%0)" T_END : : "r"(addr), "r"(v) : "memory");
}

static void __attribute__((noinline)) probe_fetch(u32 addr) {
    fault_reset();
    asm volatile(T_BEGIN "jmp *%0" T_END : : "r"(addr) : "memory");
}

static void check_pf(const char *name, u32 err, u32 cr2) {
    int ok = f_vec == 14 && f_err == err && f_cr2 == cr2 && f_eip == try_start;
    check(name, ok, "got vector %d error 0x%x cr2 0x%x eip 0x%x, want #PF(0x%x) cr2 0x%x eip 0x%x", f_vec, f_err,
          f_cr2, f_eip, err, cr2, try_start);
}

static void flush_all(void) { write_cr3(read_cr3()); }

/* ---- ring 3 probes ---- */
struct ures { int vec; u32 err, cr2, eip, want_eip, value; };
static struct ures ur[12];

static void record(int i, u32 v, u32 want_eip) {
    ur[i].vec = f_vec;
    ur[i].err = f_err;
    ur[i].cr2 = f_cr2;
    ur[i].eip = f_eip;
    ur[i].want_eip = want_eip;
    ur[i].value = v;
}

static void user_probes(void) {
    u32 v;
    v = probe_read(VA_RW + 8);        record(0, v, try_start);
    probe_write(VA_RW + 12, 0x5555);  record(1, 0, try_start);
    v = probe_read(VA_SUP + 16);      record(2, v, try_start);
    probe_write(VA_RO + 20, 1);       record(3, 0, try_start);
    v = probe_read(VA_NP + 24);       record(4, v, try_start);
    v = probe_read(VA_PDE_SUP + 28);  record(5, v, try_start);
    v = probe_read(VA_PDE_RO + 32);   record(6, v, try_start);
    probe_write(VA_PDE_RO + 36, 1);   record(7, 0, try_start);
    v = probe_read(VA_4M_RO + 40);    record(8, v, try_start);
    probe_fetch(VA_SUP);              record(9, 0, VA_SUP);
    probe_fetch(VA_NP + 0x100);       record(10, 0, VA_NP + 0x100);
    user_exit(0x600D);
}

static void check_user(const char *name, int i, int vec, u32 err, u32 cr2) {
    struct ures *r = &ur[i];
    int ok;
    if (vec < 0) {
        ok = r->vec == -1;
        check(name, ok, "unexpected vector %d error 0x%x cr2 0x%x", r->vec, r->err, r->cr2);
        return;
    }
    ok = r->vec == vec && r->err == err && r->cr2 == cr2 && r->eip == r->want_eip;
    check(name, ok, "got vector %d error 0x%x cr2 0x%x eip 0x%x, want #PF(0x%x) cr2 0x%x eip 0x%x", r->vec, r->err,
          r->cr2, r->eip, err, cr2, r->want_eip);
}

void suite_main(void) {
    for (u32 i = 0; i < 1024; i++) pt0[i] = (i << 12) | PTE_P | PTE_RW | PTE_US;
    for (u32 i = 0; i < 1024; i++) pt3[i] = (u32)frames[6] | PTE_P | PTE_RW | PTE_US;
    pd[0] = (u32)pt0 | PTE_P | PTE_RW | PTE_US;
    pd[1] = (u32)pt1 | PTE_P | PTE_RW | PTE_US;
    pd[VA_4M >> 22] = 0 | PDE_PS | PTE_P | PTE_RW | PTE_US;
    pd[VA_PDE_SUP >> 22] = (u32)pt3 | PTE_P | PTE_RW;
    pd[VA_4M_RO >> 22] = 0 | PDE_PS | PTE_P;
    pd[VA_PDE_RO >> 22] = (u32)pt3 | PTE_P | PTE_US;
    pd[VA_PSE_OFF >> 22] = (u32)pt3 | PDE_PS | PTE_P | PTE_RW | PTE_US;
    pt1[(VA_RW >> 12) & 1023] = (u32)frames[0] | PTE_P | PTE_RW | PTE_US;
    pt1[(VA_RO >> 12) & 1023] = (u32)frames[1] | PTE_P | PTE_US;
    pt1[(VA_SUP >> 12) & 1023] = (u32)frames[2] | PTE_P | PTE_RW;
    pt1[(VA_AD >> 12) & 1023] = (u32)frames[3] | PTE_P | PTE_RW | PTE_US;
    pt1[(VA_SW >> 12) & 1023] = (u32)frames[0] | PTE_P | PTE_RW | PTE_US;
    pt1[(VA_X1 >> 12) & 1023] = (u32)frames[4] | PTE_P | PTE_RW | PTE_US;
    pt1[(VA_X2 >> 12) & 1023] = (u32)frames[5] | PTE_P | PTE_US;
    for (u32 f = 0; f < 8; f++)
        for (u32 i = 0; i < 1024; i++) frames[f][i] = (f << 24) | i;

    write_cr4(read_cr4() | CR4_PSE);
    write_cr3((u32)pd);
    write_cr0(read_cr0() | CR0_PG);
    check("paging-enabled", (read_cr0() & CR0_PG) != 0 && marker == 0x4D4D4D4D, "cr0 0x%x", read_cr0());

    /* 4 KiB and 4 MiB translations. */
    check_eq("4k-read", probe_read(VA_RW + 0x40), frames[0][0x10]);
    probe_write(VA_RW + 0x44, 0xCAFE0001);
    check_eq("4k-write", frames[0][0x11], 0xCAFE0001);
    check_eq("4m-read", probe_read(VA_4M + (u32)&marker), 0x4D4D4D4D);
    probe_write(VA_4M + (u32)&scratch, 0x4444AAAA);
    check_eq("4m-write", scratch, 0x4444AAAA);
    check_eq("4m-read-high-offset", probe_read(VA_4M + (u32)&frames[7][5]), frames[7][5]);

    /* Not-present faults: error code P=0, W/R by access, U/S=0; CR2 = the linear address. */
    probe_read(VA_NP + 0x10);
    check_pf("pf-read-not-present", 0, VA_NP + 0x10);
    probe_write(VA_NP + 0x14, 1);
    check_pf("pf-write-not-present", 2, VA_NP + 0x14);
    probe_read(VA_NO_PDE + 0x123);
    check_pf("pf-pde-not-present", 0, VA_NO_PDE + 0x123);
    probe_fetch(VA_NP);
    check("pf-fetch-not-present", f_vec == 14 && f_err == 0 && f_cr2 == VA_NP && f_eip == VA_NP,
          "got vector %d error 0x%x cr2 0x%x eip 0x%x", f_vec, f_err, f_cr2, f_eip);

    /* CR0.WP and supervisor writes to read-only pages. */
    write_cr0(read_cr0() & ~CR0_WP);
    probe_write(VA_RO + 0x20, 0x11110000);
    check("wp0-supervisor-write-ro-4k", f_vec == -1 && frames[1][8] == 0x11110000, "vector %d, value 0x%x", f_vec,
          frames[1][8]);
    probe_write(VA_4M_RO + (u32)&scratch, 0x22220000);
    check("wp0-supervisor-write-ro-4m", f_vec == -1 && scratch == 0x22220000, "vector %d, value 0x%x", f_vec,
          scratch);
    check_eq("supervisor-read-supervisor-page", probe_read(VA_SUP + 4), frames[2][1]);
    write_cr0(read_cr0() | CR0_WP);
    pt1[(VA_RO >> 12) & 1023] &= ~PTE_D;
    invlpg(VA_RO);
    probe_write(VA_RO + 0x24, 0x33330000);
    check_pf("wp1-supervisor-write-ro-4k", 3, VA_RO + 0x24);
    check_eq("wp1-write-not-done", frames[1][9], (1u << 24) | 9);
    check("wp1-fault-no-dirty", (pt1[(VA_RO >> 12) & 1023] & PTE_D) == 0, "pte 0x%x", pt1[(VA_RO >> 12) & 1023]);
    probe_write(VA_4M_RO + (u32)&scratch, 0x44440000);
    check_pf("wp1-supervisor-write-ro-4m", 3, VA_4M_RO + (u32)&scratch);
    check_eq("wp1-write-not-done-4m", scratch, 0x22220000);

    /* Ring 3: U/S and R/W at both levels. */
    u32 r = run_user(user_probes, 0x2);
    check_eq("ring3-returned", r, 0x600D);
    check_user("user-read-user-page", 0, -1, 0, 0);
    check("user-read-value", ur[0].value == frames[0][2], "got 0x%x", ur[0].value);
    check_user("user-write-user-rw-page", 1, -1, 0, 0);
    check_eq("user-write-value", frames[0][3], 0x5555);
    check_user("user-read-supervisor-page", 2, 14, 5, VA_SUP + 16);
    check_user("user-write-read-only-page", 3, 14, 7, VA_RO + 20);
    check_user("user-read-not-present", 4, 14, 4, VA_NP + 24);
    check_user("user-read-pde-supervisor", 5, 14, 5, VA_PDE_SUP + 28);
    check_user("user-read-pde-read-only", 6, -1, 0, 0);
    check_user("user-write-pde-read-only", 7, 14, 7, VA_PDE_RO + 36);
    check_user("user-read-4m-supervisor", 8, 14, 5, VA_4M_RO + 40);
    check_user("user-fetch-supervisor-page", 9, 14, 5, VA_SUP);
    check_user("user-fetch-not-present", 10, 14, 4, VA_NP + 0x100);

    /* Accessed and dirty flags (SDM §4.8). */
    u32 *pte = &pt1[(VA_AD >> 12) & 1023];
    *pte &= ~(PTE_A | PTE_D);
    pd[1] &= ~PTE_A;
    invlpg(VA_AD);
    probe_read(VA_AD);
    check("read-sets-accessed", (*pte & PTE_A) != 0, "pte 0x%x", *pte);
    check("read-leaves-dirty-clear", (*pte & PTE_D) == 0, "pte 0x%x", *pte);
    check("read-sets-pde-accessed", (pd[1] & PTE_A) != 0, "pde 0x%x", pd[1]);
    probe_write(VA_AD, 7);
    check("write-sets-dirty", (*pte & (PTE_A | PTE_D)) == (PTE_A | PTE_D), "pte 0x%x", *pte);
    check("pde-has-no-dirty-for-4k", (pd[1] & PTE_D) == 0, "pde 0x%x", pd[1]);
    pd[VA_4M >> 22] &= ~(PTE_A | PTE_D);
    invlpg(VA_4M + (u32)&marker);
    probe_read(VA_4M + (u32)&marker);
    check("4m-read-sets-accessed", (pd[VA_4M >> 22] & (PTE_A | PTE_D)) == PTE_A, "pde 0x%x", pd[VA_4M >> 22]);
    probe_write(VA_4M + (u32)&scratch, 9);
    check("4m-write-sets-dirty", (pd[VA_4M >> 22] & PTE_D) != 0, "pde 0x%x", pd[VA_4M >> 22]);

    /* INVLPG and CR3 reloads make a changed PTE visible. */
    u32 *sw = &pt1[(VA_SW >> 12) & 1023];
    check_eq("remap-before", probe_read(VA_SW + 8), frames[0][2]);
    *sw = (u32)frames[1] | PTE_P | PTE_RW | PTE_US;
    invlpg(VA_SW);
    check_eq("invlpg-remap", probe_read(VA_SW + 8), frames[1][2]);
    *sw = (u32)frames[2] | PTE_P | PTE_RW | PTE_US;
    flush_all();
    check_eq("cr3-reload-remap", probe_read(VA_SW + 8), frames[2][2]);
    *sw = 0;
    invlpg(VA_SW);
    probe_read(VA_SW + 8);
    check_pf("invlpg-unmap", 0, VA_SW + 8);
    *sw = (u32)frames[0] | PTE_P | PTE_US;
    invlpg(VA_SW);
    probe_write(VA_SW + 8, 1);
    check_pf("invlpg-protection-change", 3, VA_SW + 8);

    /* A write split across a writable and a read-only page faults without writing either. */
    probe_write(VA_X2 - 2, 0xA1B2C3D4);
    check("split-write-faults", f_vec == 14 && f_err == 3 && (f_cr2 & ~0xFFFu) == VA_X2 && f_eip == try_start,
          "got vector %d error 0x%x cr2 0x%x", f_vec, f_err, f_cr2);
    check_eq("split-write-nothing-written", frames[4][1023], (4u << 24) | 1023);
    check_eq("split-read-ok", probe_read(VA_X2 - 2), (((4u << 24) | 1023) >> 16) | (((5u << 24) | 0) << 16));

    /* PS is ignored while CR4.PSE=0: the PDE then points to a page table. */
    /* With PSE on, the PDE maps the 4 MiB frame containing pt3 (physical 0, as the image is
     * below 4 MiB), so this reads physical (pt3 & 0xFFC00000) + 0x1008. */
    check_eq("pse-on-4m-page", probe_read(VA_PSE_OFF + 0x1008), *(volatile u32 *)(((u32)pt3 & 0xFFC00000) + 0x1008));
    write_cr4(read_cr4() & ~CR4_PSE);
    flush_all();
    check_eq("pse-off-ps-ignored", probe_read(VA_PSE_OFF + 0x1008), frames[6][2]);
    write_cr4(read_cr4() | CR4_PSE);
    flush_all();

    write_cr0(read_cr0() & ~CR0_PG);
}
