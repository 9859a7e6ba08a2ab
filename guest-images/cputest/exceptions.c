/*
 * exceptions.c - exception classes and error codes (SDM vol. 3 ch. 6): #DE #BP #OF
 * #BR #UD #NM #TS #NP #SS #GP, fault vs trap return addresses, and a double fault (a #NP while
 * delivering #DE) handled through a task gate in the IDT, as Linux does.
 */
#include "cputest.h"

const char suite_name[] = "exceptions";

#define SEL_NPDATA 0x30  /* writable data, not present */
#define SEL_NPCODE 0x38  /* code, not present */
#define SEL_DFTSS 0x40   /* the double-fault task */
#define SEL_TINYTSS 0x48 /* a TSS whose limit (0x40) is below 0x67 */

static struct tss32 df_tss __attribute__((aligned(128)));
static u8 df_stack[4096] __attribute__((aligned(16)));
volatile u32 df_err, df_eflags, df_tr, df_link, df_main_busy, df_own_busy, df_saved_eip, df_hits, df_resume;
void df_task_entry(void);
asm(".text\n"
    "df_task_entry:\n\t"
    "popl df_err\n\t"
    "pushfl\n\tpopl df_eflags\n\t"
    "call df_task_body\n\t"
    "iret\n"
    "df_after_iret:\n\t"
    "jmp df_task_entry\n");
void df_after_iret(void);

void df_task_body(void) {
    df_hits++;
    df_tr = str_();
    df_link = df_tss.link;
    df_main_busy = (gdt[SEL_TSS >> 3].hi >> 8) & 0xF;
    df_own_busy = (gdt[SEL_DFTSS >> 3].hi >> 8) & 0xF;
    df_saved_eip = tss.eip;
    tss.eip = df_resume; /* resume the main task after the faulting instruction */
}

static u32 bounds[2] = {10, 20};

void suite_main(void) {
    set_seg(6, 0, 0xFFFFF, ACC_DATA, FL_G | FL_DB);
    set_seg(7, 0, 0xFFFFF, ACC_CODE, FL_G | FL_DB);
    df_tss.eip = (u32)df_task_entry;
    df_tss.esp = (u32)(df_stack + sizeof df_stack);
    df_tss.eflags = 0x2;
    df_tss.cs = SEL_KCODE;
    df_tss.ss = df_tss.ds = df_tss.es = df_tss.fs = df_tss.gs = SEL_KDATA;
    df_tss.cr3 = read_cr3();
    df_tss.iomap = sizeof df_tss;
    tss.cr3 = read_cr3();
    set_seg(8, (u32)&df_tss, sizeof df_tss - 1, ACC_P | 0x09, 0);
    set_seg(9, (u32)&df_tss, 0x40, ACC_P | 0x09, 0);
    u32 v, d;

    /* #DE: a fault; EIP and registers are those of the DIV. */
    v = 0x1234;
    d = 0x5678;
    fault_reset();
    asm volatile(T_BEGIN "divl %2" T_END : "+a"(v), "+d"(d) : "r"(0) : "memory");
    check_fault("de-div-zero", 0, 0, 0, 0);
    check("de-registers-unchanged", v == 0x1234 && d == 0x5678, "eax 0x%x edx 0x%x", v, d);
    v = 0x80000000;
    d = 0xFFFFFFFF;
    fault_reset();
    asm volatile(T_BEGIN "idivl %2" T_END : "+a"(v), "+d"(d) : "r"(-1) : "memory");
    check_fault("de-idiv-overflow", 0, 0, 0, 0);
    fault_reset();
    asm volatile(T_BEGIN ".byte 0xD4, 0x00" T_END : : "a"(5) : "memory"); /* AAM 0 */
    check_fault("de-aam-zero", 0, 0, 0, 0);

    /* Traps: INT3, INTO, INT1 push the address of the next instruction. */
    fault_reset();
    asm volatile(T_BEGIN "int3" T_END : : : "memory");
    check_fault("bp-int3-trap", 3, 0, 0, 1);
    fault_reset();
    asm volatile("movb $0x7F, %%al\n\taddb $1, %%al\n\t" T_BEGIN "into" T_END : : : "eax", "memory");
    check_fault("of-into-trap", 4, 0, 0, 1);
    check("of-into-eflags-of", (f_eflags & EF_OF) != 0, "eflags 0x%x", f_eflags);
    fault_reset();
    asm volatile("xorl %%eax, %%eax\n\t" T_BEGIN "into" T_END : : : "eax", "memory");
    check_nofault("of-into-no-overflow");

    /* #BR: a fault. */
    fault_reset();
    asm volatile(T_BEGIN "boundl %0, %1" T_END : : "r"(15), "m"(bounds) : "memory");
    check_nofault("br-in-range");
    fault_reset();
    asm volatile(T_BEGIN "boundl %0, %1" T_END : : "r"(21), "m"(bounds) : "memory");
    check_fault("br-out-of-range", 5, 0, 0, 0);
    fault_reset();
    asm volatile(T_BEGIN "boundl %0, %1" T_END : : "r"(9), "m"(bounds) : "memory");
    check_fault("br-below-range", 5, 0, 0, 0);

    /* #UD. */
    fault_reset();
    asm volatile(T_BEGIN "ud2" T_END : : : "memory");
    check_fault("ud-ud2", 6, 0, 0, 0);
    fault_reset();
    asm volatile(T_BEGIN ".byte 0x0F, 0xFF" T_END : : : "memory");
    check_fault("ud-0f-ff", 6, 0, 0, 0);
    fault_reset();
    asm volatile(T_BEGIN ".byte 0xF0, 0x90" T_END : : : "memory");
    check_fault("ud-lock-nop", 6, 0, 0, 0);
    fault_reset();
    asm volatile(T_BEGIN ".byte 0x8E, 0xC8" T_END : : : "memory"); /* MOV CS, AX */
    check_fault("ud-mov-to-cs", 6, 0, 0, 0);
    fault_reset();
    asm volatile(T_BEGIN "movl %%cr1, %%eax" T_END : : : "eax", "memory");
    check_fault("ud-mov-from-cr1", 6, 0, 0, 0);

    /* #NM: x87 instructions with CR0.TS (or EM) set; WAIT with MP and TS. */
    u32 cr0 = read_cr0();
    write_cr0(cr0 | 0x8);
    fault_reset();
    asm volatile(T_BEGIN ".byte 0xDB, 0xE3" T_END : : : "memory"); /* FNINIT */
    check_fault("nm-ts-fninit", 7, 0, 0, 0);
    write_cr0(cr0 | 0xA);
    fault_reset();
    asm volatile(T_BEGIN ".byte 0x9B" T_END : : : "memory"); /* WAIT */
    check_fault("nm-mp-ts-wait", 7, 0, 0, 0);
    write_cr0((cr0 & ~0xAu) | 0x4);
    fault_reset();
    asm volatile(T_BEGIN ".byte 0xDB, 0xE3" T_END : : : "memory");
    check_fault("nm-em-fninit", 7, 0, 0, 0);
    write_cr0(cr0);

    /* #NP and #SS with the selector as error code; IDT errors with the IDT bit (2). */
    fault_reset();
    asm volatile(T_BEGIN "movw %w0, %%ds" T_END : : "r"(SEL_NPDATA) : "memory");
    check_fault("np-mov-ds", 11, 1, SEL_NPDATA, 0);
    fault_reset();
    asm volatile(T_BEGIN "movw %w0, %%ss" T_END : : "r"(SEL_NPDATA) : "memory");
    check_fault("ss-mov-ss-not-present", 12, 1, SEL_NPDATA, 0);
    fault_reset();
    asm volatile(T_BEGIN "lcall %0, $0" T_END : : "i"(SEL_NPCODE) : "memory");
    check_fault("np-far-call", 11, 1, SEL_NPCODE, 0);
    idt[0x90].hi &= ~0x8000u;
    fault_reset();
    asm volatile(T_BEGIN "int $0x90" T_END : : : "memory");
    check_fault("np-int-gate-not-present", 11, 1, 0x90 * 8 + 2, 0);
    set_idt_sel(0x91, SEL_NPCODE, 0, 0xE, 0);
    fault_reset();
    asm volatile(T_BEGIN "int $0x91" T_END : : : "memory");
    check_fault("np-int-target-not-present", 11, 1, SEL_NPCODE, 0);

    /* #GP error codes. */
    fault_reset();
    asm volatile(T_BEGIN "movw %w0, %%ds" T_END : : "r"(0x0C) : "memory");
    check_fault("gp-ldt-selector-null-ldt", 13, 1, 0x0C, 0);
    fault_reset();
    asm volatile(T_BEGIN "movw %w0, %%ds" T_END : : "r"(0x1FB) : "memory");
    check_fault("gp-selector-past-gdt", 13, 1, 0x1F8, 0);
    fault_reset();
    asm volatile(T_BEGIN "movw %w0, %%ds" T_END : : "r"(SEL_TSS) : "memory");
    check_fault("gp-mov-ds-tss", 13, 1, SEL_TSS, 0);
    set_gate(&idt[0x92], SEL_KCODE, 0, 0xC, 0, 0); /* a call gate in the IDT */
    fault_reset();
    asm volatile(T_BEGIN "int $0x92" T_END : : : "memory");
    check_fault("gp-int-bad-gate-type", 13, 1, 0x92 * 8 + 2, 0);
    set_idt_sel(0x93, 0, 0, 0xE, 0);
    fault_reset();
    asm volatile(T_BEGIN "int $0x93" T_END : : : "memory");
    check_fault("gp-int-null-target", 13, 1, 0, 0);
    fault_reset();
    asm volatile(T_BEGIN "ltr %w0" T_END : : "r"(SEL_KDATA) : "memory");
    check_fault("gp-ltr-data-segment", 13, 1, SEL_KDATA, 0);
    fault_reset();
    asm volatile(T_BEGIN "lldt %w0" T_END : : "r"(SEL_KDATA) : "memory");
    check_fault("gp-lldt-data-segment", 13, 1, SEL_KDATA, 0);
    fault_reset();
    asm volatile(T_BEGIN ".fill 15, 1, 0x66\n\tnop" T_END : : : "memory");
    check_fault("gp-instruction-too-long", 13, 1, 0, 0);
    fault_reset();
    asm volatile(T_BEGIN ".fill 14, 1, 0x66\n\tnop" T_END : : : "memory");
    check_nofault("fifteen-byte-instruction-ok");

    /* #TS: a task switch to a TSS whose limit is too small. */
    fault_reset();
    asm volatile(T_BEGIN "ljmp %0, $0" T_END : : "i"(SEL_TINYTSS) : "memory");
    check_fault("ts-tss-limit-too-small", 10, 1, SEL_TINYTSS, 0);
    check_eq("ts-tr-unchanged", str_(), SEL_TSS);

    /* #DF: #DE's gate is not present, so delivering #DE raises #NP: contributory on
     * contributory is a double fault. Vector 8 is a task gate to the double-fault task. */
    set_gate(&idt[8], SEL_DFTSS, 0, 0x5, 0, 0);
    idt[0].hi &= ~0x8000u;
    fault_reset();
    asm volatile("movl $72f, df_resume\n\t" T_BEGIN "divl %0" T_END : : "r"(0), "a"(1), "d"(0) : "memory");
    idt[0].hi |= 0x8000u;
    check_eq("df-task-ran", df_hits, 1);
    check_eq("df-error-code-zero", df_err, 0);
    check_eq("df-task-tr", df_tr, SEL_DFTSS);
    check_eq("df-backlink", df_link & 0xFFFF, SEL_TSS);
    check("df-nt-set", (df_eflags & EF_NT) != 0, "eflags 0x%x", df_eflags);
    check_eq("df-old-task-busy", df_main_busy, 0xB);
    check_eq("df-new-task-busy", df_own_busy, 0xB);
    check_eq("df-saved-eip-is-faulting-div", df_saved_eip, try_start);
    check("df-returned-by-iret", f_vec == -1 && str_() == SEL_TSS && (read_eflags() & EF_NT) == 0,
          "vector %d tr 0x%x eflags 0x%x", f_vec, str_(), read_eflags());
    check_eq("df-task-not-busy-after-iret", (gdt[SEL_DFTSS >> 3].hi >> 8) & 0xF, 0x9);
    check_eq("df-task-saved-eip-after-iret", df_tss.eip, (u32)df_after_iret);
}
