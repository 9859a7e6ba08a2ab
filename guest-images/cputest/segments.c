/*
 * segments.c - segment-level protection on data accesses (SDM vol. 3 §5.3, §5.4, §6.15):
 * limit checks (#GP(0), or #SS(0) through SS), expand-down segments (32-bit and 16-bit upper
 * bound), accesses through a null selector, writes to read-only data and code segments,
 * (execute-only code cannot even be loaded into a data segment register).
 *
 * QEMU's TCG does not implement these checks (it neither enforces data segment limits nor
 * segment types on data accesses), so this suite is checked against the SDM text only; the
 * checks that expect no fault also pass on QEMU.
 */
#include "cputest.h"

const char suite_name[] = "segments";

#define SEL_RODATA 0x4B

void suite_main(void) {
    set_seg(9, 0, 0xFFFFF, ACC_P | ACC_DPL(3) | 0x10, FL_G | FL_DB);
    /* Data segment limits, expand-down segments, null and read-only/exec-only segments. */
    set_seg(15, 0x5000, 0xFF, ACC_P | ACC_DATA, FL_DB);
    set_seg(16, 0, 0xFF, ACC_P | 0x16, FL_G | FL_DB); /* expand-down, valid above 0xFFFFF */
    set_seg(17, 0, 0xFFF, ACC_P | 0x16, 0);           /* expand-down, 16-bit: 0x1000..0xFFFF */
    {
        u32 v = 0;
        asm volatile("movw %w0, %%es" : : "r"(15 << 3));
        fault_reset(); asm volatile(T_BEGIN "movb %%es:0xFF, %%al" T_END : "+a"(v) : : "memory");
        check_nofault("limit-last-byte-ok");
        fault_reset(); asm volatile(T_BEGIN "movb %%es:0x100, %%al" T_END : "+a"(v) : : "memory");
        check_fault("limit-beyond-gp", 13, 1, 0, 0);
        fault_reset(); asm volatile(T_BEGIN "movl %%es:0xFD, %%eax" T_END : "+a"(v) : : "memory");
        check_fault("limit-straddling-dword-gp", 13, 1, 0, 0);
        asm volatile("movw %w0, %%es" : : "r"(16 << 3));
        fault_reset(); asm volatile(T_BEGIN "movl %%es:0x200000, %%eax" T_END : "+a"(v) : : "memory");
        check_nofault("expand-down-above-limit-ok");
        fault_reset(); asm volatile(T_BEGIN "movl %%es:0x1000, %%eax" T_END : "+a"(v) : : "memory");
        check_fault("expand-down-at-or-below-limit-gp", 13, 1, 0, 0);
        asm volatile("movw %w0, %%es" : : "r"(17 << 3));
        fault_reset(); asm volatile(T_BEGIN "movl %%es:0x8000, %%eax" T_END : "+a"(v) : : "memory");
        check_nofault("expand-down-16bit-ok");
        fault_reset(); asm volatile(T_BEGIN "movl %%es:0xFFFE, %%eax" T_END : "+a"(v) : : "memory");
        check_fault("expand-down-16bit-past-ffff-gp", 13, 1, 0, 0);
        /* SS: an expand-down stack segment that still covers the kernel stack. */
        asm volatile("movw %%ss, %%cx\n\tmovw %w0, %%ss\n\tmovw %%cx, %%ss" : : "r"(16 << 3) : "ecx");
        fault_reset();
        asm volatile("movw %%ss, %%cx\n\tmovw %w1, %%ss\n\t" T_BEGIN "movl %%ss:0x80000, %%eax" T_END "movw %%cx, %%ss"
                     : "+a"(v) : "r"(16 << 3) : "ecx", "memory");
        check_fault("ss-limit-ss-fault", 12, 1, 0, 0);
        asm volatile("movw %w0, %%es" : : "r"(0));
        fault_reset(); asm volatile(T_BEGIN "movl %%es:0x1000, %%eax" T_END : "+a"(v) : : "memory");
        check_fault("null-es-use-gp", 13, 1, 0, 0);
        asm volatile("movw %w0, %%es" : : "r"(SEL_RODATA));
        fault_reset(); asm volatile(T_BEGIN "movl %%eax, %%es:0x1000" T_END : : "a"(v) : "memory");
        check_fault("write-read-only-data-gp", 13, 1, 0, 0);
        fault_reset(); asm volatile(T_BEGIN "movl %%eax, %%cs:0x1000" T_END : : "a"(v) : "memory");
        check_fault("write-code-segment-gp", 13, 1, 0, 0);
        fault_reset(); asm volatile(T_BEGIN "movl %%cs:0x1000, %%eax" T_END : "+a"(v) : : "memory");
        check_nofault("read-readable-code-ok");
        asm volatile("movw %w0, %%es" : : "r"(0));
        fault_reset(); asm volatile(T_BEGIN "movb %%es:0, %%al" T_END : "+a"(v) : : "memory");
        check_fault("null-es-offset-0-gp", 13, 1, 0, 0);
        asm volatile("movw %w0, %%es" : : "r"(SEL_KDATA));
    }

}
