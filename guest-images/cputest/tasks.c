/*
 * tasks.c - hardware task switching (SDM vol. 3 ch. 7): JMP and CALL to a TSS descriptor, CALL
 * through a task gate in the GDT, INT n through a task gate in the IDT, IRET with NT back to the
 * previous task, busy bits, the back-link, the state saved in the old TSS, CR3 and LDT switches,
 * CR0.TS, and #GP for a busy TSS. Paging is on so that the CR3 switch is visible.
 */
#include "cputest.h"

const char suite_name[] = "tasks";

#define SEL_TSSB 0x30
#define SEL_TSSC 0x38
#define SEL_GATEC 0x40
#define SEL_LDTB 0x48
#define VA_PROBE 0x400000u

static u32 pd1[1024] __attribute__((aligned(4096)));
static u32 pd2[1024] __attribute__((aligned(4096)));
static u32 pta[1024] __attribute__((aligned(4096)));
static u32 ptb[1024] __attribute__((aligned(4096)));
static u32 frame_a[1024] __attribute__((aligned(4096)));
static u32 frame_b[1024] __attribute__((aligned(4096)));
static struct tss32 tss_b __attribute__((aligned(128)));
static struct tss32 tss_c __attribute__((aligned(128)));
static u8 stack_b[4096] __attribute__((aligned(16)));
static u8 stack_c[4096] __attribute__((aligned(16)));
static struct desc ldt_b[2] __attribute__((aligned(16)));
static volatile u32 ldt_data[4] = {0x1D7D1D7D, 0, 0, 0};

static inline u32 busy(u32 sel) { return (gdt[sel >> 3].hi >> 8) & 0xF; }

volatile u32 b_hits, b_tr, b_ldtr, b_nt, b_busy_a, b_busy_b, b_ldt_value, b_link;
volatile u32 c_hits, c_tr, c_nt, c_link, c_busy_a, c_busy_c, c_cr3, c_probe;
void task_b_entry(void);
void task_b_after(void);
void task_c_entry(void);
void task_c_after(void);
asm(".text\n"
    "task_b_entry:\n\t"
    "call task_b_body\n\t"
    "movl $0xB0B0B0B0, %ebx\n\t"
    "ljmp $0x28, $0\n"
    "task_b_after:\n\t"
    "jmp task_b_entry\n"
    "task_c_entry:\n\t"
    "call task_c_body\n\t"
    "movl $0xC0C0C0C0, %ebx\n\t"
    "iret\n"
    "task_c_after:\n\t"
    "jmp task_c_entry\n");

void task_b_body(void) {
    b_hits++;
    b_tr = str_();
    b_ldtr = sldt_();
    b_nt = read_eflags() & EF_NT;
    b_busy_a = busy(SEL_TSS);
    b_busy_b = busy(SEL_TSSB);
    b_link = tss_b.link;
    u32 v;
    asm volatile("movw %w1, %%es\n\tmovl %%es:0, %0\n\tmovw %w2, %%es" : "=r"(v) : "r"(0x04), "r"(SEL_KDATA));
    b_ldt_value = v;
}

void task_c_body(void) {
    c_hits++;
    c_tr = str_();
    c_nt = read_eflags() & EF_NT;
    c_link = tss_c.link;
    c_busy_a = busy(SEL_TSS);
    c_busy_c = busy(SEL_TSSC);
    c_cr3 = read_cr3();
    c_probe = *(volatile u32 *)VA_PROBE;
}

static void init_task(struct tss32 *t, void (*entry)(void), u8 *stack_top, u32 cr3, u32 ldt) {
    memset(t, 0, sizeof *t);
    t->eip = (u32)entry;
    t->esp = (u32)stack_top;
    t->eflags = 0x2;
    t->cs = SEL_KCODE;
    t->ss = t->ds = t->es = t->fs = t->gs = SEL_KDATA;
    t->cr3 = cr3;
    t->ldt = ldt;
    t->link = 0xFFFF;
    t->iomap = sizeof *t;
}

static void check_call(const char *how, u32 hits) {
    char name[64];
    const char *parts[] = {"-ran", "-tr", "-nt-set", "-backlink", "-old-busy", "-new-busy", "-cr3-switched",
                           "-sees-new-mapping", "-returned", "-new-not-busy-after-iret", "-old-nt-clear",
                           "-cr3-restored", "-old-mapping-back", "-saved-eip-after-iret", "-saved-nt-cleared",
                           "-saved-ebx"};
    u32 got[16] = {c_hits, c_tr, c_nt != 0, c_link & 0xFFFF, c_busy_a, c_busy_c, c_cr3, c_probe, str_(),
                   busy(SEL_TSSC), (read_eflags() & EF_NT) != 0, read_cr3(), *(volatile u32 *)VA_PROBE, tss_c.eip,
                   (tss_c.eflags & EF_NT) != 0, tss_c.ebx};
    u32 want[16] = {hits, SEL_TSSC, 1, SEL_TSS, 0xB, 0xB, (u32)pd2, 0xBBBB0000, SEL_TSS, 9, 0, (u32)pd1,
                    0xAAAA0000, (u32)task_c_after, 0, 0xC0C0C0C0};
    for (int i = 0; i < 16; i++) {
        u32 n = 0;
        for (const char *p = how; *p; p++) name[n++] = *p;
        for (const char *p = parts[i]; *p; p++) name[n++] = *p;
        name[n] = 0;
        check_eq(name, got[i], want[i]);
    }
}

void suite_main(void) {
    /* Two address spaces: identical except for the page at VA_PROBE. */
    pd1[0] = 0 | 0x83; /* 4 MiB identity page */
    pd2[0] = 0 | 0x83;
    pd1[1] = (u32)pta | 3;
    pd2[1] = (u32)ptb | 3;
    pta[0] = (u32)frame_a | 3;
    ptb[0] = (u32)frame_b | 3;
    frame_a[0] = 0xAAAA0000;
    frame_b[0] = 0xBBBB0000;
    write_cr4(read_cr4() | 0x10);
    write_cr3((u32)pd1);
    write_cr0(read_cr0() | 0x80000000u);
    tss.cr3 = (u32)pd1;

    /* Task B: reached by JMP, has an LDT. Task C: reached by CALL/INT, has its own CR3. */
    set_seg(9, (u32)ldt_b, sizeof ldt_b - 1, ACC_P | 0x02, 0);
    ldt_b[0].lo = (((u32)ldt_data & 0xFFFF) << 16) | 0xFFF;
    ldt_b[0].hi = (((u32)ldt_data >> 16) & 0xFF) | ((ACC_P | ACC_DATA) << 8) | (FL_DB << 20) | ((u32)ldt_data & 0xFF000000);
    init_task(&tss_b, task_b_entry, stack_b + sizeof stack_b, (u32)pd1, SEL_LDTB);
    init_task(&tss_c, task_c_entry, stack_c + sizeof stack_c, (u32)pd2, 0);
    set_seg(6, (u32)&tss_b, sizeof tss_b - 1, ACC_P | 0x09, 0);
    set_seg(7, (u32)&tss_c, sizeof tss_c - 1, ACC_P | 0x09, 0);
    set_gate(&gdt[8], SEL_TSSC, 0, 0x5, 0, 0);
    set_gate(&idt[0x88], SEL_TSSC, 0, 0x5, 0, 0);

    /* JMP to a TSS and JMP back. */
    check_eq("before-jmp-old-busy", busy(SEL_TSS), 0xB);
    check_eq("before-jmp-new-available", busy(SEL_TSSB), 0x9);
    u32 esi_after, ret_label;
    asm volatile("movl $0x12345678, %%esi\n\t"
                 "movl $1f, %1\n\t"
                 "ljmp %2, $0\n1:\n\t"
                 "movl %%esi, %0"
                 : "=r"(esi_after), "=m"(ret_label)
                 : "i"(SEL_TSSB)
                 : "esi", "ebx", "memory");
    check_eq("jmp-task-ran", b_hits, 1);
    check_eq("jmp-new-tr", b_tr, SEL_TSSB);
    check_eq("jmp-ldt-loaded", b_ldtr, SEL_LDTB);
    check_eq("jmp-ldt-segment-usable", b_ldt_value, 0x1D7D1D7D);
    check_eq("jmp-nt-clear", b_nt, 0);
    check_eq("jmp-old-task-not-busy", b_busy_a, 0x9);
    check_eq("jmp-new-task-busy", b_busy_b, 0xB);
    check_eq("jmp-no-backlink", b_link, 0xFFFF);
    check_eq("jmp-back-tr", str_(), SEL_TSS);
    check_eq("jmp-back-ldt-from-tss", sldt_(), 0);
    check_eq("jmp-back-registers-restored", esi_after, 0x12345678);
    check_eq("jmp-back-old-busy-again", busy(SEL_TSS), 0xB);
    check_eq("jmp-back-b-not-busy", busy(SEL_TSSB), 0x9);
    check_eq("saved-old-eip", tss.eip, ret_label);
    check_eq("saved-old-esi", tss.esi, 0x12345678);
    check_eq("saved-old-cs", tss.cs & 0xFFFF, SEL_KCODE);
    check_eq("saved-old-ss", tss.ss & 0xFFFF, SEL_KDATA);
    check_eq("saved-b-eip", tss_b.eip, (u32)task_b_after);
    check_eq("saved-b-ebx", tss_b.ebx, 0xB0B0B0B0);
    check_eq("saved-b-es", tss_b.es & 0xFFFF, SEL_KDATA);
    check("task-switch-sets-cr0-ts", (read_cr0() & 0x8) != 0, "cr0 0x%x", read_cr0());
    asm volatile("clts");

    /* CALL to a TSS, IRET back. */
    asm volatile("lcall %0, $0" : : "i"(SEL_TSSC) : "ebx", "memory");
    check_call("call-tss", 1);
    asm volatile("clts");
    /* CALL through a task gate in the GDT. */
    tss_c.ebx = 0;
    asm volatile("lcall %0, $0" : : "i"(SEL_GATEC) : "ebx", "memory");
    check_call("call-task-gate", 2);
    /* INT n through a task gate in the IDT. */
    tss_c.ebx = 0;
    asm volatile("int $0x88" : : : "ebx", "memory");
    check_call("int-task-gate", 3);
    asm volatile("clts");

    /* A busy TSS cannot be called or jumped to. */
    fault_reset();
    asm volatile(T_BEGIN "lcall %0, $0" T_END : : "i"(SEL_TSS) : "memory");
    check_fault("call-busy-tss-gp", 13, 1, SEL_TSS, 0);
    fault_reset();
    asm volatile(T_BEGIN "ljmp %0, $0" T_END : : "i"(SEL_TSS) : "memory");
    check_fault("jmp-busy-tss-gp", 13, 1, SEL_TSS, 0);
    /* A task gate whose TSS is busy: #GP with the TSS selector. */
    set_gate(&gdt[10], SEL_TSS, 0, 0x5, 0, 0);
    fault_reset();
    asm volatile(T_BEGIN "lcall %0, $0" T_END : : "i"(0x50) : "memory");
    check_fault("call-gate-to-busy-tss-gp", 13, 1, SEL_TSS, 0);
    check_eq("faults-leave-tr", str_(), SEL_TSS);

    write_cr0(read_cr0() & ~0x80000000u);
}
