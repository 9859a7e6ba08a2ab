/*
 * v86.c - virtual-8086 mode (SDM vol. 3 ch. 20): entering it with IRET (EFLAGS.VM), real-mode
 * addressing (base = selector * 16), IOPL-sensitive instructions (INT n, CLI, PUSHF) raising #GP
 * to the ring-0 monitor with IOPL < 3 and the V86 segment registers on the monitor's stack, IRET
 * back to V86, INT n through the IDT with IOPL 3, and port I/O checked against the TSS bitmap
 * whatever the IOPL.
 */
#include "cputest.h"

const char suite_name[] = "v86";

#define V86_CS 0x0800 /* code copied to 0x8000 */
#define V86_DS 0x0900 /* data at 0x9000 */
#define V86_SS 0x0A00
#define V86_SP 0x1000
#define DATA ((volatile u16 *)0x9000)

extern const u8 v86_prog1[], v86_prog1_end[], v86_int30[], v86_in84[], v86_cli[], v86_pushf[];
extern const u8 v86_prog2[], v86_prog2_end[], v86_int32[], v86_after_int32[];
asm(".section .rodata\n"
    ".code16\n"
    "v86_prog1:\n\t"
    "movw $0x1234, %ax\n\t"
    "movw %ax, 0x0\n\t"
    "movw %cs, %bx\n\t"
    "movw %bx, 0x2\n\t"
    "pushw $0x5678\n\t"
    "popw %cx\n\t"
    "movw %cx, 0x4\n"
    "v86_int30:\n\t"
    "int $0x30\n\t"
    "movw %ax, 0x6\n\t"
    "inb $0x80, %al\n\t"
    "movw $1, 0x8\n"
    "v86_in84:\n\t"
    "inb $0x84, %al\n\t"
    "movw $2, 0xA\n"
    "v86_cli:\n\t"
    "cli\n"
    "v86_pushf:\n\t"
    "pushf\n\t"
    "movw $3, 0xC\n\t"
    "int $0x31\n"
    "v86_prog1_end:\n"
    "v86_prog2:\n\t"
    "movw $0x4321, %ax\n"
    "v86_int32:\n\t"
    "int $0x32\n"
    "v86_after_int32:\n\t"
    "movw %ax, 0x10\n\t"
    "cli\n\t"
    "pushf\n\t"
    "popw %ax\n\t"
    "movw %ax, 0x12\n\t"
    "inb $0x84, %al\n\t"
    "movw $4, 0x14\n\t"
    "int $0x31\n"
    "v86_prog2_end:\n"
    ".code32\n"
    ".text\n");

struct gp_rec { u32 err, cs, eip, eflags, esp, ss, es, ds, fs, gs, hds, hes, hfs, hgs, op; };
static struct gp_rec gp[8];
static u32 gp_n;
static struct gp_rec i32;
static u32 i32_hits, i32_ss;

static void record(struct gp_rec *r, struct frame *f) {
    r->err = f->err;
    r->cs = f->cs;
    r->eip = f->eip;
    r->eflags = f->eflags;
    r->esp = f->esp;
    r->ss = f->ss;
    r->es = f->v86_es;
    r->ds = f->v86_ds;
    r->fs = f->v86_fs;
    r->gs = f->v86_gs;
    r->hds = f->ds;
    r->hes = f->es;
    r->hfs = f->fs;
    r->hgs = f->gs;
}

/* The monitor: emulate or skip the instruction that raised #GP in V86 mode. */
static void gp_hook(struct frame *f) {
    if (!(f->eflags & EF_VM)) {
        kprintf("FAIL unexpected-gp: error 0x%x at %x:%x\n", f->err, f->cs, f->eip);
        finish();
    }
    const u8 *ip = (const u8 *)((f->cs << 4) + (f->eip & 0xFFFF));
    if (ip[0] == 0xCD && ip[1] == 0x31) back_to_kernel(0x31);
    if (gp_n < 8) {
        record(&gp[gp_n], f);
        gp[gp_n].op = ip[0] | (ip[1] << 8);
        gp_n++;
    }
    switch (ip[0]) {
    case 0xCD: f->eax = (f->eax & 0xFFFF0000) | 0xBEEF; f->eip += 2; break;
    case 0xE4: f->eip += 2; break;
    default: f->eip += 1; break;
    }
}

static void int32_hook(struct frame *f) {
    record(&i32, f);
    i32_ss = read_ss();
    i32_hits++;
    f->eax = (f->eax & 0xFFFF0000) | 0xCAFE;
}

static void int31_hook(struct frame *f) {
    (void)f;
    back_to_kernel(0x131);
}

static u32 run_v86(const u8 *start, const u8 *end, u32 iopl) {
    memcpy((void *)(V86_CS << 4), start, (u32)(end - start));
    u32 frame[9] = {0, V86_CS, EF_VM | iopl | 0x2, V86_SP, V86_SS, 0x0901, V86_DS, 0x0902, 0x0903};
    return enter_user(frame, 9);
}

void suite_main(void) {
    hooks[13] = gp_hook;
    hooks[0x32] = int32_hook;
    hooks[0x31] = int31_hook;
    set_idt(0x31, isr_addr(0x31), 0xE, 3); /* INT n from V86 (CPL 3) needs gate DPL 3 */
    set_idt(0x32, isr_addr(0x32), 0xE, 3);
    tss_iomap[0x80 >> 3] &= (u8)~0x01; /* port 0x80 allowed, 0x84 denied */
    memset((void *)0x9000, 0, 0x100);

    /* IOPL 0: INT n, CLI, PUSHF and denied ports trap to the monitor. */
    u32 r = run_v86(v86_prog1, v86_prog1_end, 0);
    u32 off_int30 = (u32)(v86_int30 - v86_prog1);
    check_eq("v86-exit-through-monitor", r, 0x31);
    check_eq("v86-ran-real-mode-code", DATA[0], 0x1234);
    check_eq("v86-cs-is-paragraph", DATA[1], V86_CS);
    check_eq("v86-stack-push-pop", DATA[2], 0x5678);
    check_eq("v86-gp-count", gp_n, 4);
    check_eq("v86-int-iopl0-gp", gp[0].op, 0x30CD);
    check_eq("v86-gp-error-code", gp[0].err, 0);
    check_eq("v86-gp-pushed-cs", gp[0].cs & 0xFFFF, V86_CS);
    check_eq("v86-gp-pushed-eip", gp[0].eip, off_int30);
    check("v86-gp-pushed-eflags-vm", (gp[0].eflags & (EF_VM | EF_IOPL3)) == EF_VM, "eflags 0x%x", gp[0].eflags);
    check_eq("v86-gp-pushed-ss", gp[0].ss & 0xFFFF, V86_SS);
    check_eq("v86-gp-pushed-esp", gp[0].esp, V86_SP);
    check_eq("v86-gp-pushed-es", gp[0].es & 0xFFFF, 0x0901);
    check_eq("v86-gp-pushed-ds", gp[0].ds & 0xFFFF, V86_DS);
    check_eq("v86-gp-pushed-fs", gp[0].fs & 0xFFFF, 0x0902);
    check_eq("v86-gp-pushed-gs", gp[0].gs & 0xFFFF, 0x0903);
    check("v86-monitor-data-segments-null", (gp[0].hds | gp[0].hes | gp[0].hfs | gp[0].hgs) == 0,
          "ds 0x%x es 0x%x fs 0x%x gs 0x%x", gp[0].hds, gp[0].hes, gp[0].hfs, gp[0].hgs);
    check_eq("v86-iret-back-from-monitor", DATA[3], 0xBEEF);
    check_eq("v86-io-allowed-port", DATA[4], 1);
    check_eq("v86-io-denied-port-gp", gp[1].op & 0xFF, 0xE4);
    check_eq("v86-io-denied-eip", gp[1].eip, (u32)(v86_in84 - v86_prog1));
    check_eq("v86-continues-after-io", DATA[5], 2);
    check_eq("v86-cli-iopl0-gp", gp[2].eip, (u32)(v86_cli - v86_prog1));
    check_eq("v86-pushf-iopl0-gp", gp[3].eip, (u32)(v86_pushf - v86_prog1));
    check_eq("v86-ran-to-end", DATA[6], 3);

    /* IOPL 3: INT n goes through the IDT; CLI and PUSHF work; the bitmap still applies. */
    gp_n = 0;
    r = run_v86(v86_prog2, v86_prog2_end, EF_IOPL3);
    check_eq("v86-iopl3-exit-through-idt", r, 0x131);
    check_eq("v86-int-iopl3-through-idt", i32_hits, 1);
    check_eq("v86-int-pushed-cs", i32.cs & 0xFFFF, V86_CS);
    check_eq("v86-int-pushed-eip", i32.eip, (u32)(v86_after_int32 - v86_prog2));
    check("v86-int-pushed-eflags", (i32.eflags & (EF_VM | EF_IOPL3)) == (EF_VM | EF_IOPL3), "eflags 0x%x",
          i32.eflags);
    check_eq("v86-int-pushed-ds", i32.ds & 0xFFFF, V86_DS);
    check_eq("v86-int-pushed-gs", i32.gs & 0xFFFF, 0x0903);
    check_eq("v86-int-stack-from-tss", i32_ss, SEL_KDATA);
    check_eq("v86-int-iret-back", DATA[8], 0xCAFE);
    check("v86-pushf-iopl3", (DATA[9] & 0x3000) == 0x3000, "flags 0x%x", DATA[9]);
    check_eq("v86-iopl3-io-denied-still-gp", gp_n, 1);
    check_eq("v86-iopl3-io-denied-op", gp[0].op & 0xFF, 0xE4);
    check_eq("v86-iopl3-ran-to-end", DATA[10], 4);
}
