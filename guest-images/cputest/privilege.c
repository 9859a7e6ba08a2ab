/*
 * privilege.c - protection (SDM vol. 3 ch. 5, §6.12, vol. 1 §19.5): IRET to ring 3 with a stack
 * switch, INT n through DPL-3 and DPL-0 gates, call gates with parameters, far RET to an outer
 * level, segment register invalidation, IOPL and the I/O bitmap, CLI/STI/HLT/POPF in ring 3,
 * LAR/LSL/VERR/VERW, ARPL, segment register load checks, conforming code, CS limit.
 */
#include "cputest.h"

const char suite_name[] = "privilege";

#define SEL_CGATE 0x33    /* call gate, DPL 3 -> SEL_KCODE:cg_target, 2 dword parameters */
#define SEL_CONF 0x38     /* conforming readable code, DPL 0 */
#define SEL_XONLY 0x43    /* execute-only code, DPL 3 */
#define SEL_RODATA 0x4B   /* read-only data, DPL 3 */
#define SEL_SMALL 0x53    /* data, DPL 3, byte-granular limit 0x1234 */
#define SEL_IGATE 0x58    /* an interrupt gate in the GDT (not valid for LAR) */
#define SEL_CGATE0 0x60   /* call gate, DPL 0 */
#define SEL_LDTD 0x68     /* an LDT descriptor */
#define SEL_SMALLCODE 0x70 /* code, DPL 0, limit 0xFFF (byte granular) */
#define SEL_BEYOND 0x200  /* past the GDT limit (64 entries) */

static inline void P(int i) { urec(i, 0); }

/* ---- the call gate's ring-0 target ---- */
volatile u32 cg_stack[6], cg_esp, cg_cs, cg_ss, conf_cs;
void cg_target(void);
void conf_target(void);
asm(".text\n"
    "cg_target:\n\t"
    "movl %esp, cg_esp\n\t"
    "movl 0(%esp), %eax\n\tmovl %eax, cg_stack\n\t"
    "movl 4(%esp), %eax\n\tmovl %eax, cg_stack+4\n\t"
    "movl 8(%esp), %eax\n\tmovl %eax, cg_stack+8\n\t"
    "movl 12(%esp), %eax\n\tmovl %eax, cg_stack+12\n\t"
    "movl 16(%esp), %eax\n\tmovl %eax, cg_stack+16\n\t"
    "movl 20(%esp), %eax\n\tmovl %eax, cg_stack+20\n\t"
    "movl %cs, %eax\n\tmovl %eax, cg_cs\n\t"
    "movl %ss, %eax\n\tmovl %eax, cg_ss\n\t"
    "movl $0x10, %eax\n\tmovw %ax, %es\n\t" /* a DPL-0 segment: RETF to ring 3 must null it */
    "lret $8\n"
    "conf_target:\n\t"
    "movl %cs, %eax\n\tmovl %eax, conf_cs\n\t"
    "lret\n");

/* ---- SYSENTER target (ring 0) ---- */
volatile u32 se_cs, se_ss, se_esp, se_flags;
void sysenter_target(void);
asm(".text\n"
    "sysenter_target:\n\t"
    "movl %esp, se_esp\n\t"
    "movl %cs, %eax\n\tmovl %eax, se_cs\n\t"
    "movl %ss, %eax\n\tmovl %eax, se_ss\n\t"
    "pushfl\n\tpopl se_flags\n\t"
    "sysexit\n");
static volatile u32 sx_cs, sx_ss, sx_esp_before, sx_esp_after;

static void u_sysenter(void) {
    asm volatile("movl %%esp, %%ecx\n\tmovl %%ecx, %0\n\tmovl $1f, %%edx\n\tsysenter\n1:\n\tmovl %%esp, %1"
                 : "=m"(sx_esp_before), "=m"(sx_esp_after) : : "eax", "ecx", "edx", "memory");
    sx_cs = read_cs();
    sx_ss = read_ss();
    user_exit(0x5E);
}

/* ---- ring-3 code ---- */
static volatile u32 u_cs, u_ss, u_esp, u_ds, u_es, u_fs, u_gs, u_flags;
static volatile u32 gate_cs, gate_ss, gate_esp, gate_eip_addr, gate_ds, gate_hits, gate_if;
static volatile u32 cg_before, cg_after, cg_ret, cg_ucs, cg_uss, cg_ues;

static void hook_82(struct frame *f) {
    gate_cs = f->cs;
    gate_ss = f->ss;
    gate_esp = f->esp;
    gate_ds = f->ds;
    gate_eip_addr = (u32)&f->eip;
    gate_if = read_eflags();
    gate_hits++;
}

static void u_basics(void) {
    u_cs = read_cs();
    u_ss = read_ss();
    u_esp = read_esp();
    asm volatile("movl %%ds, %0" : "=r"(u_ds));
    asm volatile("movl %%es, %0" : "=r"(u_es));
    asm volatile("movl %%fs, %0" : "=r"(u_fs));
    asm volatile("movl %%gs, %0" : "=r"(u_gs));
    u_flags = read_eflags();
    asm volatile("movl %%esp, %0\n\tint $0x82" : "=r"(u_esp) : : "memory");
    /* INT n through a DPL-0 gate: #GP(vector*8+2). */
    fault_reset();
    asm volatile(T_BEGIN "int $0x83" T_END : : : "memory");
    P(0);
    /* Call gate with two parameters, then RETF 8 back to ring 3. */
    asm volatile("movl %%esp, %0\n\t"
                 "pushl $0x11111111\n\tpushl $0x22222222\n\t"
                 "movl $1f, %2\n\t"
                 "lcall %3, $0\n1:\n\t"
                 "movl %%esp, %1"
                 : "=&r"(cg_before), "=&r"(cg_after), "=m"(cg_ret)
                 : "i"(SEL_CGATE)
                 : "eax", "memory");
    cg_ucs = read_cs();
    cg_uss = read_ss();
    asm volatile("movl %%es, %0" : "=r"(cg_ues));
    asm volatile("movw %w0, %%es" : : "r"(SEL_UDATA));
    /* Conforming code: CPL stays 3. */
    asm volatile("lcall %0, $conf_target" : : "i"(SEL_CONF | 3) : "eax", "memory");
    /* Far JMP to a non-conforming DPL-0 code segment, or through a DPL-0 call gate: #GP(sel). */
    fault_reset();
    asm volatile(T_BEGIN "ljmp %0, $0" T_END : : "i"(SEL_KCODE) : "memory");
    P(1);
    fault_reset();
    asm volatile(T_BEGIN "lcall %0, $0" T_END : : "i"(SEL_CGATE0 | 3) : "memory");
    P(2);
    user_exit(0x1234);
}

static void u_io(void) {
    u32 v = 0;
    fault_reset(); asm volatile(T_BEGIN "inb $0x80, %%al" T_END : "+a"(v) : : "memory"); P(0);
    fault_reset(); asm volatile(T_BEGIN "inb $0x84, %%al" T_END : "+a"(v) : : "memory"); P(1);
    fault_reset(); asm volatile(T_BEGIN "inw $0x80, %%ax" T_END : "+a"(v) : : "memory"); P(2);
    fault_reset(); asm volatile(T_BEGIN "inl $0x80, %%eax" T_END : "+a"(v) : : "memory"); P(3);
    fault_reset(); asm volatile(T_BEGIN "outb %%al, $0x80" T_END : : "a"(0x55) : "memory"); P(4);
    fault_reset(); asm volatile(T_BEGIN "inb (%%dx), %%al" T_END : "+a"(v) : "d"(0x7F) : "memory"); P(5);
    fault_reset(); asm volatile(T_BEGIN "cli" T_END : : : "memory"); P(6);
    fault_reset(); asm volatile(T_BEGIN "sti" T_END : : : "memory"); P(7);
    fault_reset(); asm volatile(T_BEGIN "hlt" T_END : : : "memory"); P(8);
    /* POPF in ring 3 with IOPL 0 silently keeps IOPL and IF. */
    fault_reset();
    asm volatile(T_BEGIN "pushl $0x3202\n\tpopfl\n\tpushfl\n\tpopl %0" T_END : "=r"(v) : : "memory");
    urec(9, v);
    user_exit(0);
}

static void u_io_iopl3(void) {
    u32 v = 0;
    fault_reset(); asm volatile(T_BEGIN "inb $0x84, %%al" T_END : "+a"(v) : : "memory"); P(10);
    fault_reset(); asm volatile(T_BEGIN "cli" T_END : : : "memory"); P(11);
    fault_reset(); asm volatile(T_BEGIN "hlt" T_END : : : "memory"); P(12);
    user_exit(0);
}

static void u_segload(void) {
    u32 zf, v;
    fault_reset(); asm volatile(T_BEGIN "movw %w0, %%ds" T_END : : "r"(SEL_KDATA) : "memory"); P(0);
    fault_reset(); asm volatile(T_BEGIN "movw %w0, %%ds\n\tmovw %w1, %%ds" T_END : : "r"(0), "r"(SEL_UDATA) : "memory"); P(1);
    fault_reset(); asm volatile(T_BEGIN "movw %w0, %%ss" T_END : : "r"(0) : "memory"); P(2);
    fault_reset(); asm volatile(T_BEGIN "movw %w0, %%es" T_END : : "r"(SEL_BEYOND | 3) : "memory"); P(3);
    fault_reset(); asm volatile(T_BEGIN "movw %w0, %%es" T_END : : "r"(SEL_XONLY) : "memory"); P(4);
    fault_reset(); asm volatile(T_BEGIN "movw %w0, %%es" T_END : : "r"(SEL_RODATA) : "memory"); P(5);
    fault_reset(); asm volatile(T_BEGIN "movw %w0, %%ss" T_END : : "r"(SEL_RODATA) : "memory"); P(6);
    fault_reset(); asm volatile(T_BEGIN "movw %w0, %%es" T_END : : "r"(SEL_CONF | 3) : "memory"); P(7);
    fault_reset(); asm volatile(T_BEGIN "movw %w0, %%es" T_END : : "r"(SEL_UCODE) : "memory"); P(8);
    fault_reset(); asm volatile(T_BEGIN "movw %w0, %%fs" T_END : : "r"(SEL_LDTD) : "memory"); P(9);
    asm volatile("movw %w0, %%es" : : "r"(SEL_UDATA));
    /* LAR/VERR/VERW from ring 3. */
    v = 0;
    asm volatile("larl %2, %0\n\tsetz %b1" : "+r"(v), "=q"(zf) : "r"(SEL_KCODE) : "cc");
    urec(10, zf & 1);
    asm volatile("verw %w1\n\tsetz %b0" : "=q"(zf) : "r"(SEL_KDATA) : "cc");
    urec(11, zf & 1);
    asm volatile("verr %w1\n\tsetz %b0" : "=q"(zf) : "r"(SEL_UCODE) : "cc");
    urec(12, zf & 1);
    user_exit(0);
}

static u32 lar(u32 sel, u32 *zf) {
    u32 v = 0xEEEEEEEE, z;
    asm volatile("larl %2, %0\n\tsetz %b1" : "+r"(v), "=q"(z) : "r"(sel) : "cc");
    *zf = z & 1;
    return v;
}
static u32 lsl(u32 sel, u32 *zf) {
    u32 v = 0xEEEEEEEE, z;
    asm volatile("lsll %2, %0\n\tsetz %b1" : "+r"(v), "=q"(z) : "r"(sel) : "cc");
    *zf = z & 1;
    return v;
}
static u32 verr(u32 sel) {
    u32 z;
    asm volatile("verr %w1\n\tsetz %b0" : "=q"(z) : "r"(sel) : "cc");
    return z & 1;
}
static u32 verw(u32 sel) {
    u32 z;
    asm volatile("verw %w1\n\tsetz %b0" : "=q"(z) : "r"(sel) : "cc");
    return z & 1;
}

static void check_lar(const char *name, u32 sel, int valid) {
    u32 zf, v = lar(sel, &zf);
    u32 want = (sel >> 3) < GDT_ENTRIES ? gdt[sel >> 3].hi & 0x00F0FF00 : 0;
    if (valid)
        check(name, zf == 1 && (v & 0x00F0FF00) == want, "zf %u value 0x%x, want zf 1 value 0x%x", zf, v, want);
    else
        check(name, zf == 0 && v == 0xEEEEEEEE, "zf %u value 0x%x, want zf 0 and no write", zf, v);
}

static void check_lsl(const char *name, u32 sel, int valid, u32 want) {
    u32 zf, v = lsl(sel, &zf);
    if (valid) check(name, zf == 1 && v == want, "zf %u value 0x%x, want zf 1 value 0x%x", zf, v, want);
    else check(name, zf == 0 && v == 0xEEEEEEEE, "zf %u value 0x%x, want zf 0 and no write", zf, v);
}

void suite_main(void) {
    set_gate(&gdt[6], SEL_KCODE, (u32)cg_target, 0xC, 3, 2);
    set_seg(7, 0, 0xFFFFF, ACC_P | 0x1E, FL_G | FL_DB);
    set_seg(8, 0, 0xFFFFF, ACC_P | ACC_DPL(3) | 0x18, FL_G | FL_DB);
    set_seg(9, 0, 0xFFFFF, ACC_P | ACC_DPL(3) | 0x10, FL_G | FL_DB);
    set_seg(10, 0x1000, 0x1234, ACC_P | ACC_DPL(3) | ACC_DATA, FL_DB);
    set_gate(&gdt[11], SEL_KCODE, 0, 0xE, 0, 0);
    set_gate(&gdt[12], SEL_KCODE, (u32)cg_target, 0xC, 0, 2);
    set_seg(13, 0x5000, 0xFF, ACC_P | 0x02, 0);
    set_seg(14, 0, 0xFFF, ACC_P | ACC_CODE, FL_DB);
    hooks[0x82] = hook_82;
    set_idt(0x82, isr_addr(0x82), 0xF, 3);
    set_idt(0x83, isr_addr(0x83), 0xE, 0);

    /* IRET to ring 3 with a data segment the new CPL may not use: it becomes null. */
    user_es = SEL_KDATA;
    user_fs = SEL_KDATA;
    user_gs = SEL_UDATA;
    u32 r = run_user(u_basics, 0x2);
    user_es = user_fs = user_gs = SEL_UDATA;
    check_eq("iret-to-ring3", r, 0x1234);
    check_eq("ring3-cs", u_cs, SEL_UCODE);
    check_eq("ring3-ss", u_ss, SEL_UDATA);
    check_eq("ring3-ds", u_ds, SEL_UDATA);
    check_eq("iret-nulls-dpl0-es", u_es, 0);
    check_eq("iret-nulls-dpl0-fs", u_fs, 0);
    check_eq("iret-keeps-dpl3-gs", u_gs, SEL_UDATA);
    check_eq("ring3-eflags-system-bits", u_flags & 0x3F7302, 0x2);
    check_eq("int-dpl3-gate-taken", gate_hits, 1);
    check_eq("int-pushes-user-cs", gate_cs, SEL_UCODE);
    check_eq("int-pushes-user-ss", gate_ss, SEL_UDATA);
    check_eq("int-pushes-user-esp", gate_esp, u_esp);
    check_eq("int-stack-from-tss-esp0", gate_eip_addr, tss.esp0 - 20);
    check_eq("int-data-segments-unchanged", gate_ds, SEL_UDATA);
    check_probe("int-dpl0-gate-from-ring3-gp", 0, 13, 1, 0x83 * 8 + 2, 0);
    check_eq("callgate-cs", cg_cs, SEL_KCODE);
    check_eq("callgate-ss-from-tss", cg_ss, SEL_KDATA);
    check_eq("callgate-esp-from-tss", cg_esp, tss.esp0 - 24);
    check_eq("callgate-pushed-eip", cg_stack[0], cg_ret);
    check_eq("callgate-pushed-cs", cg_stack[1] & 0xFFFF, SEL_UCODE);
    check_eq("callgate-param-0", cg_stack[2], 0x22222222);
    check_eq("callgate-param-1", cg_stack[3], 0x11111111);
    check_eq("callgate-pushed-esp", cg_stack[4], cg_before - 8);
    check_eq("callgate-pushed-ss", cg_stack[5] & 0xFFFF, SEL_UDATA);
    check_eq("retf-outer-esp-and-params-popped", cg_after, cg_before);
    check_eq("retf-outer-cs", cg_ucs, SEL_UCODE);
    check_eq("retf-outer-ss", cg_uss, SEL_UDATA);
    check_eq("retf-outer-nulls-dpl0-es", cg_ues, 0);
    check_eq("conforming-keeps-cpl3", conf_cs, SEL_CONF | 3);
    check_probe("jmp-dpl0-code-from-ring3-gp", 1, 13, 1, SEL_KCODE, 0);
    check_probe("call-dpl0-callgate-from-ring3-gp", 2, 13, 1, SEL_CGATE0, 0);

    /* I/O permission: IOPL 0 uses the TSS bitmap; ports 0x80 and 0x81 allowed. */
    tss_iomap[0x80 >> 3] &= (u8)~0x03;
    run_user(u_io, 0x2);
    check_probe("io-bitmap-allowed-inb", 0, -1, 0, 0, 0);
    check_probe("io-bitmap-denied-inb", 1, 13, 1, 0, 0);
    check_probe("io-bitmap-allowed-inw", 2, -1, 0, 0, 0);
    check_probe("io-bitmap-partly-denied-inl", 3, 13, 1, 0, 0);
    check_probe("io-bitmap-allowed-outb", 4, -1, 0, 0, 0);
    check_probe("io-bitmap-denied-in-dx", 5, 13, 1, 0, 0);
    check_probe("cli-ring3-iopl0-gp", 6, 13, 1, 0, 0);
    check_probe("sti-ring3-iopl0-gp", 7, 13, 1, 0, 0);
    check_probe("hlt-ring3-gp", 8, 13, 1, 0, 0);
    check("popf-ring3-keeps-iopl-and-if", pr[9].vec == -1 && (pr[9].v & 0x3200) == 0, "flags 0x%x", pr[9].v);
    run_user(u_io_iopl3, 0x3002);
    check_probe("iopl3-skips-bitmap", 10, -1, 0, 0, 0);
    check_probe("cli-ring3-iopl3-ok", 11, -1, 0, 0, 0);
    check_probe("hlt-ring3-iopl3-gp", 12, 13, 1, 0, 0);

    /* Segment register loads in ring 3. */
    run_user(u_segload, 0x2);
    check_probe("mov-ds-dpl0-data-gp", 0, 13, 1, SEL_KDATA, 0);
    check_probe("mov-ds-null-ok", 1, -1, 0, 0, 0);
    check_probe("mov-ss-null-gp", 2, 13, 1, 0, 0);
    check_probe("mov-es-beyond-gdt-gp", 3, 13, 1, SEL_BEYOND, 0);
    check_probe("mov-es-exec-only-gp", 4, 13, 1, SEL_XONLY & ~3, 0);
    check_probe("mov-es-read-only-ok", 5, -1, 0, 0, 0);
    check_probe("mov-ss-read-only-gp", 6, 13, 1, SEL_RODATA & ~3, 0);
    check_probe("mov-es-conforming-code-ok", 7, -1, 0, 0, 0);
    check_probe("mov-es-readable-code-ok", 8, -1, 0, 0, 0);
    check_probe("mov-fs-ldt-descriptor-gp", 9, 13, 1, SEL_LDTD, 0);
    check_eq("ring3-lar-dpl0-code-zf0", pr[10].v, 0);
    check_eq("ring3-verw-dpl0-data-zf0", pr[11].v, 0);
    check_eq("ring3-verr-user-code-zf1", pr[12].v, 1);

    /* Ring 0: MOV SS needs RPL = DPL = CPL. */
    fault_reset();
    asm volatile(T_BEGIN "movw %w0, %%ss" T_END : : "r"(SEL_UDATA) : "memory");
    check_fault("mov-ss-dpl3-from-ring0-gp", 13, 1, SEL_UDATA & ~3, 0);

    /* Far JMP past the limit of the target code segment: #GP(0). */
    fault_reset();
    asm volatile(T_BEGIN "ljmp %0, $0x2000" T_END : : "i"(SEL_SMALLCODE) : "memory");
    check_fault("jmp-beyond-cs-limit-gp", 13, 1, 0, 0);

    /* LAR / LSL / VERR / VERW (ring 0, with RPL where it matters). */
    check_lar("lar-user-code", SEL_UCODE, 1);
    check_lar("lar-kernel-data", SEL_KDATA, 1);
    check_lar("lar-rpl3-dpl0-code-invalid", SEL_KCODE | 3, 0);
    check_lar("lar-rpl3-conforming-valid", SEL_CONF | 3, 1);
    check_lar("lar-null-invalid", 0, 0);
    check_lar("lar-beyond-gdt-invalid", SEL_BEYOND, 0);
    check_lar("lar-busy-tss", SEL_TSS, 1);
    check_lar("lar-call-gate", SEL_CGATE, 1);
    check_lar("lar-ldt", SEL_LDTD, 1);
    check_lar("lar-interrupt-gate-invalid", SEL_IGATE, 0);
    {
        u32 v = 0xEEEEEEEE, z;
        asm volatile("larw %w2, %w0\n\tsetz %b1" : "+r"(v), "=q"(z) : "r"(SEL_UDATA) : "cc");
        check("lar-16bit", (z & 1) && v == (0xEEEE0000 | (gdt[4].hi & 0xFF00)), "zf %u value 0x%x", z & 1, v);
    }
    check_lsl("lsl-flat-4g", SEL_UDATA, 1, 0xFFFFFFFF);
    check_lsl("lsl-byte-granular", SEL_SMALL, 1, 0x1234);
    check_lsl("lsl-tss", SEL_TSS, 1, sizeof(struct tss_full) - 1);
    check_lsl("lsl-ldt", SEL_LDTD, 1, 0xFF);
    check_lsl("lsl-call-gate-invalid", SEL_CGATE, 0, 0);
    check_lsl("lsl-rpl3-dpl0-data-invalid", SEL_KDATA | 3, 0, 0);
    check_lsl("lsl-null-invalid", 0, 0, 0);
    check_eq("verr-readable-code", verr(SEL_UCODE), 1);
    check_eq("verr-exec-only-code", verr(SEL_XONLY), 0);
    check_eq("verr-read-only-data", verr(SEL_RODATA), 1);
    check_eq("verr-rpl3-dpl0-data", verr(SEL_KDATA | 3), 0);
    check_eq("verr-rpl3-conforming-code", verr(SEL_CONF | 3), 1);
    check_eq("verr-null", verr(0), 0);
    check_eq("verr-tss", verr(SEL_TSS), 0);
    check_eq("verw-data", verw(SEL_UDATA), 1);
    check_eq("verw-read-only-data", verw(SEL_RODATA), 0);
    check_eq("verw-code", verw(SEL_UCODE), 0);
    check_eq("verw-rpl3-dpl0-data", verw(SEL_KDATA | 3), 0);

    /* SYSENTER / SYSEXIT (when CPUID.01H:EDX.SEP says they exist): flat segments derived from
     * IA32_SYSENTER_CS: kernel CS = MSR, SS = MSR + 8; user CS = MSR + 16, SS = MSR + 24. */
    {
        u32 a = 1, b, c, d;
        asm volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
        if (d & (1u << 11)) {
            asm volatile("wrmsr" : : "c"(0x174), "a"(SEL_KCODE), "d"(0));
            asm volatile("wrmsr" : : "c"(0x175), "a"(tss.esp0 - 64), "d"(0));
            asm volatile("wrmsr" : : "c"(0x176), "a"((u32)sysenter_target), "d"(0));
            u32 rv = run_user(u_sysenter, 0x2);
            check_eq("sysexit-returned", rv, 0x5E);
            check_eq("sysenter-cs", se_cs, SEL_KCODE);
            check_eq("sysenter-ss", se_ss, SEL_KDATA);
            check_eq("sysenter-esp-from-msr", se_esp, tss.esp0 - 64);
            check_eq("sysenter-clears-if-vm", se_flags & (EF_IF | EF_VM), 0);
            check_eq("sysexit-cs", sx_cs, SEL_UCODE);
            check_eq("sysexit-ss", sx_ss, SEL_UDATA);
            check_eq("sysexit-esp-from-ecx", sx_esp_after, sx_esp_before);
        } else {
            kprintf("SKIP sysenter: CPUID.01H:EDX.SEP is 0\n");
        }
    }

    /* ARPL. */
    {
        u32 a = SEL_KCODE, z;
        asm volatile("arpl %w2, %w0\n\tsetz %b1" : "+r"(a), "=q"(z) : "r"(SEL_UCODE) : "cc");
        check("arpl-raises-rpl", (z & 1) && (a & 0xFFFF) == (SEL_KCODE | 3), "zf %u value 0x%x", z & 1, a);
        a = SEL_UCODE;
        asm volatile("arpl %w2, %w0\n\tsetz %b1" : "+r"(a), "=q"(z) : "r"(SEL_KCODE) : "cc");
        check("arpl-keeps-rpl", !(z & 1) && (a & 0xFFFF) == SEL_UCODE, "zf %u value 0x%x", z & 1, a);
    }
}
