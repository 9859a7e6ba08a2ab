/*
 * vme.c - the virtual-8086 mode extensions (CR4.VME, SDM vol. 3 §20.3 "Interrupt and exception
 * handling in virtual-8086 mode", §20.4 "Protected-mode virtual interrupts"; vol. 2 "CLI", "STI",
 * "PUSHF", "POPF", "IRET", "INT n"): at IOPL < 3 CLI/STI/PUSHF/POPF/IRET work on VIF, VIP makes STI
 * and a POPF/IRET setting IF fault, the 32-bit forms and TF fault, and INT n is redirected to the
 * 8086 program's IVT (methods 5, 6) or not (methods 3, 4) by the TSS redirection bitmap; and
 * protected-mode virtual interrupts (CR4.PVI): CLI/STI at CPL 3 on VIF.
 *
 * QEMU's TCG (7.2) does not implement VME or PVI (it refuses the CPUID bit), so the expectations
 * come from the SDM alone; see README.md. Two more SDM rules QEMU does not follow are checked here
 * for the same reason: IRETD at CPL 0 loads VIF and VIP (vol. 2 "IRET"), and a fault pushes RF=1
 * (vol. 3 §18.3.1.1).
 */
#include "cputest.h"

const char suite_name[] = "vme";

#define CR4_VME 0x01
#define CR4_PVI 0x02
#define EF_VIF 0x80000
#define EF_VIP 0x100000

/* ------------------------------------------------------------------ PVI */

static void u_pvi(void) {
    u32 f = 0;
    fault_reset();
    asm volatile(T_BEGIN "cli\n\tpushfl\n\tpopl %0" T_END : "+r"(f) : : "memory");
    urec(0, f);
    fault_reset();
    asm volatile(T_BEGIN "sti\n\tpushfl\n\tpopl %0" T_END : "+r"(f) : : "memory");
    urec(1, f);
    fault_reset();
    asm volatile(T_BEGIN "cli\n\tpushfl\n\tpopl %0" T_END : "+r"(f) : : "memory");
    urec(2, f);
    user_exit(0);
}

static void pvi_checks(void) {
    /* Without CR4.PVI, CLI at CPL 3 and IOPL 0 is #GP(0). */
    run_user(u_pvi, 0x2);
    check_probe("pvi-off-cli-gp", 0, 13, 1, 0, 0);
    write_cr4(read_cr4() | CR4_PVI);
    run_user(u_pvi, 0x2);
    check_probe("pvi-cli-no-fault", 0, -1, 0, 0, 0);
    check("pvi-cli-clears-vif", (pr[0].v & (EF_VIF | EF_IF)) == 0, "eflags 0x%x", pr[0].v);
    check_probe("pvi-sti-no-fault", 1, -1, 0, 0, 0);
    check("pvi-sti-sets-vif-not-if", (pr[1].v & (EF_VIF | EF_IF)) == EF_VIF, "eflags 0x%x", pr[1].v);
    check("pvi-cli-again-clears-vif", (pr[2].v & EF_VIF) == 0, "eflags 0x%x", pr[2].v);

    /* IRETD from CPL 0 loads VIP: with it set, STI at CPL 3 is #GP(0) and CLI still works. */
    run_user(u_pvi, 0x2 | EF_VIP);
    check_probe("pvi-cli-with-vip-ok", 0, -1, 0, 0, 0);
    check("pvi-iret-loaded-vip", (pr[0].v & EF_VIP) != 0, "eflags 0x%x", pr[0].v);
    check_probe("pvi-sti-with-vip-gp", 1, 13, 1, 0, 0);
    write_cr4(read_cr4() & ~CR4_PVI);
}

static void rf_checks(void) {
    /* A fault pushes RF=1, so the handler's IRET restarts it past an instruction breakpoint. */
    fault_reset();
    asm volatile(T_BEGIN "ud2" T_END : : : "memory");
    check("fault-pushes-rf", f_vec == 6 && (f_eflags & 0x10000) != 0, "vector %d eflags 0x%x", f_vec, f_eflags);
    /* INT n is not a fault: RF as it was (0). */
    fault_reset();
    asm volatile(T_BEGIN "int $0x50" T_END : : : "memory");
    check("int-n-pushes-rf-clear", f_vec == 0x50 && (f_eflags & 0x10000) == 0, "vector %d eflags 0x%x", f_vec,
          f_eflags);
}

/* ------------------------------------------------------------------ VME */

#define V86_CS 0x0800 /* code copied to 0x8000 */
#define V86_DS 0x0900 /* data at 0x9000 */
#define V86_SS 0x0A00
#define V86_SP 0x1000
#define DATA ((volatile u16 *)0x9000)

/* A TSS of our own with the 32-byte redirection bitmap right below the I/O bitmap. */
static struct {
    struct tss32 t;
    u8 redir[32];
    u8 iomap[8192 + 1];
} __attribute__((packed, aligned(128))) vtss;
#define SEL_VTSS 0x30

extern const u8 v86_vme[], v86_vme_end[], v86_iret_40[], v86_int41[], v86_sti_vip[], v86_popf_vip[], v86_popf_tf[],
    v86_pushfd[], v86_popfd[], v86_vme3[], v86_vme3_end[], v86_iret3_40[];
asm(".section .rodata\n"
    ".code16\n"
    /* IOPL 0 with CR4.VME: every IOPL-sensitive instruction works on VIF. */
    "v86_vme:\n\t"
    "cli\n\t"
    "pushf\n\tpopw %ax\n\tmovw %ax, 0x0\n\t" /* D[0]: IF = VIF = 0, IOPL 3 */
    "sti\n\t"
    "pushf\n\tpopw %ax\n\tmovw %ax, 0x2\n\t" /* D[1]: IF = VIF = 1 */
    "pushw $0\n\tpopf\n\t"
    "pushf\n\tpopw %ax\n\tmovw %ax, 0x4\n\t" /* D[2]: POPF IF=0 -> VIF 0 */
    "pushw $0x0200\n\tpopf\n\t"
    "pushf\n\tpopw %ax\n\tmovw %ax, 0x6\n\t" /* D[3]: POPF IF=1 -> VIF 1 */
    "movw $0, %ax\n\t"
    "int $0x40\n\t" /* redirected (bitmap bit clear): method 6 */
    "movw %ax, 0x8\n\t" /* D[4]: the handler's AX */
    "pushf\n\tpopw %ax\n\tmovw %ax, 0xA\n" /* D[5]: IRET restored VIF from the image */
    "v86_int41:\n\t"
    "int $0x41\n" /* bitmap bit set: #GP (method 3); the monitor sets VIP */
    "v86_sti_vip:\n\t"
    "sti\n" /* VIP: #GP */
    "v86_popf_vip:\n\t"
    "pushw $0x0200\n\tpopf\n\t" /* IF=1 with VIP: #GP */
    "popw %cx\n\t"
    "pushw $0\n\tpopf\n\t" /* IF=0 with VIP: allowed */
    "pushf\n\tpopw %ax\n\tmovw %ax, 0xC\n" /* D[6] */
    "v86_popf_tf:\n\t"
    "pushw $0x0100\n\tpopf\n\t" /* TF=1: #GP */
    "popw %cx\n"
    "v86_pushfd:\n\t"
    "pushfl\n" /* 32-bit: #GP */
    "v86_popfd:\n\t"
    "popfl\n\t" /* 32-bit: #GP */
    "movw $5, 0xE\n\t" /* D[7] */
    "int $0x31\n" /* #GP: the monitor ends the run */
    /* INT 0x40 handler of the 8086 program, reached through its IVT. */
    "v86_iret_40:\n\t"
    "pushw %bp\n\tmovw %sp, %bp\n\t"
    "movw 6(%bp), %ax\n\tmovw %ax, 0x10\n\t" /* D[8]: the pushed FLAGS image */
    "movw 2(%bp), %ax\n\tmovw %ax, 0x12\n\t" /* D[9]: the pushed IP */
    "movw 4(%bp), %ax\n\tmovw %ax, 0x14\n\t" /* D[10]: the pushed CS */
    "pushf\n\tpopw %ax\n\tmovw %ax, 0x16\n\t" /* D[11]: FLAGS in the handler: VIF cleared */
    "movw $0x4040, %ax\n\t"
    "popw %bp\n\t"
    "iret\n"
    "v86_vme_end:\n"
    /* IOPL 3 with CR4.VME: redirection with the real IF (method 5), and method 4. */
    "v86_vme3:\n\t"
    "sti\n\t"
    "int $0x40\n\t" /* method 5 */
    "movw %ax, 0x20\n\t" /* D[16] */
    "pushf\n\tpopw %ax\n\tmovw %ax, 0x22\n\t" /* D[17]: IF back to 1 */
    "cli\n\t"
    "int $0x42\n\t" /* bitmap bit set: through the IDT (method 4) */
    "movw %ax, 0x24\n\t" /* D[18] */
    "int $0x31\n" /* through the IDT: ends the run */
    "v86_iret3_40:\n\t"
    "pushw %bp\n\tmovw %sp, %bp\n\t"
    "movw 6(%bp), %ax\n\tmovw %ax, 0x26\n\t" /* D[19]: pushed FLAGS (IF=1, IOPL 3) */
    "pushf\n\tpopw %ax\n\tmovw %ax, 0x28\n\t" /* D[20]: IF cleared in the handler */
    "movw $0x3030, %ax\n\t"
    "popw %bp\n\t"
    "iret\n"
    "v86_vme3_end:\n"
    ".code32\n"
    ".text\n");

struct gp_rec { u32 eip, eflags, op; };
static struct gp_rec gp[16];
static u32 gp_n, i42_hits, i42_eflags;

/* The monitor: record and skip the instruction that raised #GP in V86 mode. */
static void gp_hook(struct frame *f) {
    if (!(f->eflags & EF_VM)) {
        kprintf("FAIL unexpected-gp: error 0x%x at %x:%x\n", f->err, f->cs, f->eip);
        check_failed++;
        finish();
    }
    const u8 *ip = (const u8 *)((f->cs << 4) + (f->eip & 0xFFFF));
    if (ip[0] == 0xCD && ip[1] == 0x31) back_to_kernel(0x31);
    if (gp_n < 16) {
        gp[gp_n].eip = f->eip;
        gp[gp_n].eflags = f->eflags;
        gp[gp_n].op = ip[0] | (ip[1] << 8);
        gp_n++;
    }
    if (ip[0] == 0xCD) {
        f->eflags |= EF_VIP; /* a virtual interrupt is now pending */
        f->eip += 2;
    } else {
        f->eip += ip[0] == 0x66 ? 2 : 1;
    }
}

static void int42_hook(struct frame *f) {
    i42_hits++;
    i42_eflags = f->eflags;
    f->eax = (f->eax & 0xFFFF0000) | 0x4242;
}

static void int31_hook(struct frame *f) {
    (void)f;
    back_to_kernel(0x131);
}

static u32 run_v86(const u8 *start, const u8 *end, u32 eflags) {
    memcpy((void *)(V86_CS << 4), start, (u32)(end - start));
    u32 frame[9] = {0, V86_CS, EF_VM | eflags | 0x2, V86_SP, V86_SS, V86_DS, V86_DS, V86_DS, V86_DS};
    return enter_user(frame, 9);
}

/* Entry `v` of the real-mode IVT at linear address 0 (written with asm: no null-pointer games). */
static void set_ivt(u32 v, u32 seg_off) { asm volatile("movl %1, (%0)" : : "r"(v * 4), "r"(seg_off) : "memory"); }

static int gp_at(const u8 *base, const u8 *at) {
    for (u32 i = 0; i < gp_n; i++)
        if (gp[i].eip == (u32)(at - base)) return (int)i;
    return -1;
}

static void vme_checks(void) {
    /* Our TSS: ring-0 stack, every port denied, redirection for INT 0x40 only. */
    vtss.t.ss0 = SEL_KDATA;
    vtss.t.esp0 = (u32)kstack_top_p;
    vtss.t.iomap = (u16)((u32)vtss.iomap - (u32)&vtss);
    memset(vtss.iomap, 0xFF, sizeof vtss.iomap);
    memset(vtss.redir, 0xFF, sizeof vtss.redir);
    vtss.redir[0x40 >> 3] &= (u8)~(1 << (0x40 & 7));
    set_seg(SEL_VTSS >> 3, (u32)&vtss, sizeof vtss - 1, ACC_P | 0x09, 0);
    asm volatile("ltr %w0" : : "r"(SEL_VTSS));
    hooks[13] = gp_hook;
    hooks[0x42] = int42_hook;
    hooks[0x31] = int31_hook;
    set_idt(0x31, isr_addr(0x31), 0xE, 3);
    set_idt(0x42, isr_addr(0x42), 0xE, 3);
    memset((void *)0x9000, 0, 0x100);

    /* IOPL 0, CR4.VME. */
    write_cr4(read_cr4() | CR4_VME);
    set_ivt(0x40, (V86_CS << 16) | (u32)(v86_iret_40 - v86_vme));
    u32 r = run_v86(v86_vme, v86_vme_end, 0);
    check_eq("vme-exit-through-monitor", r, 0x31);
    check("vme-cli-clears-vif", (DATA[0] & EF_IF) == 0, "flags 0x%x", DATA[0]);
    check("vme-pushf-image-iopl3", (DATA[0] & EF_IOPL3) == EF_IOPL3, "flags 0x%x", DATA[0]);
    check("vme-sti-sets-vif", (DATA[1] & EF_IF) != 0, "flags 0x%x", DATA[1]);
    check("vme-popf-if0-clears-vif", (DATA[2] & EF_IF) == 0, "flags 0x%x", DATA[2]);
    check("vme-popf-if1-sets-vif", (DATA[3] & EF_IF) != 0, "flags 0x%x", DATA[3]);
    check_eq("vme-int-redirected-to-ivt", DATA[4], 0x4040);
    check("vme-redirect-pushes-vif-as-if", (DATA[8] & (EF_IF | EF_IOPL3)) == (EF_IF | EF_IOPL3), "flags 0x%x",
          DATA[8]);
    check_eq("vme-redirect-pushes-cs", DATA[10], V86_CS);
    check("vme-redirect-clears-vif", (DATA[11] & EF_IF) == 0, "flags 0x%x", DATA[11]);
    check("vme-iret-restores-vif", (DATA[5] & EF_IF) != 0, "flags 0x%x", DATA[5]);
    int i41 = gp_at(v86_vme, v86_int41);
    check("vme-int-bitmap-set-gp", i41 == 0, "first #GP at 0x%x", gp[0].eip);
    if (i41 >= 0) {
        u32 fl = gp[i41].eflags;
        check("vme-monitor-sees-vif", (fl & (EF_VIF | EF_IF | EF_IOPL3)) == EF_VIF, "eflags 0x%x", fl);
    }
    check("vme-sti-with-vip-gp", gp_at(v86_vme, v86_sti_vip) >= 0, "%u #GPs", gp_n);
    int ipv = gp_at(v86_vme, v86_popf_vip + 3); /* the POPF after PUSH imm16 */
    check("vme-popf-if1-with-vip-gp", ipv >= 0, "%u #GPs", gp_n);
    check("vme-popf-if0-with-vip-ok", (DATA[6] & EF_IF) == 0, "flags 0x%x", DATA[6]);
    check("vme-popf-tf-gp", gp_at(v86_vme, v86_popf_tf + 3) >= 0, "%u #GPs", gp_n);
    check("vme-pushfd-gp", gp_at(v86_vme, v86_pushfd) >= 0, "%u #GPs", gp_n);
    check("vme-popfd-gp", gp_at(v86_vme, v86_popfd) >= 0, "%u #GPs", gp_n);
    check_eq("vme-gp-count", gp_n, 6);
    check_eq("vme-ran-to-end", DATA[7], 5);

    /* IOPL 3, CR4.VME: INT 0x40 redirected with the real IF, INT 0x42 through the IDT. */
    gp_n = 0;
    memset((void *)0x9000, 0, 0x100);
    set_ivt(0x40, (V86_CS << 16) | (u32)(v86_iret3_40 - v86_vme3));
    r = run_v86(v86_vme3, v86_vme3_end, EF_IOPL3);
    check_eq("vme-iopl3-exit-through-idt", r, 0x131);
    check_eq("vme-iopl3-int-redirected", DATA[16], 0x3030);
    check("vme-iopl3-redirect-pushes-if", (DATA[19] & EF_IF) != 0, "flags 0x%x", DATA[19]);
    check("vme-iopl3-redirect-clears-if", (DATA[20] & EF_IF) == 0, "flags 0x%x", DATA[20]);
    check("vme-iopl3-iret-restores-if", (DATA[17] & EF_IF) != 0, "flags 0x%x", DATA[17]);
    check_eq("vme-iopl3-bitmap-set-through-idt", i42_hits, 1);
    check("vme-iopl3-idt-frame-vm", (i42_eflags & EF_VM) != 0, "eflags 0x%x", i42_eflags);
    check_eq("vme-iopl3-idt-returned", DATA[18], 0x4242);
    check_eq("vme-iopl3-no-gp", gp_n, 0);
    write_cr4(read_cr4() & ~CR4_VME);
}

void suite_main(void) {
    u32 a = 1, b, c, d;
    asm volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
    check("cpuid-vme", (d >> 1) & 1, "CPUID.01H:EDX = 0x%x", d);
    /* No hardware interrupts: every PIC input masked (V86 code runs with IF=1). */
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);
    pvi_checks();
    vme_checks();
    rf_checks();
}
