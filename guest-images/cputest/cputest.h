/*
 * cputest.h - shared declarations of the cputest kernels: descriptor tables, the trap frame,
 * fault probing and ring-3 entry. Serial output, checks and port I/O come from ../common.
 */
#ifndef CPUTEST_H
#define CPUTEST_H

#include "check.h"  /* ../common: check, check_eq, check_passed/check_failed */
#include "io.h"     /* ../common: outb, inb, ... */
#include "serial.h" /* ../common: serial_putc, kprintf */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

/* Fixed GDT slots (every suite). Suites use slots from GDT_FREE up. */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1B
#define SEL_UDATA 0x23
#define SEL_TSS 0x28
#define GDT_FREE 6
#define GDT_ENTRIES 64

/* Descriptor access bytes (bits 8..15 of the high dword): P, DPL, S, type. */
#define ACC_P 0x80
#define ACC_DPL(n) ((n) << 5)
#define ACC_S 0x10
#define ACC_CODE 0x1A /* S=1 code, readable */
#define ACC_DATA 0x12 /* S=1 data, writable */
/* Flags nibble (bits 20..23 of the high dword): G, D/B. */
#define FL_G 0x8
#define FL_DB 0x4

/* EFLAGS bits. */
#define EF_CF 0x1
#define EF_ZF 0x40
#define EF_IF 0x200
#define EF_OF 0x800
#define EF_IOPL3 0x3000
#define EF_NT 0x4000
#define EF_VM 0x20000

struct frame {
    u32 edi, esi, ebp, esp_ignored, ebx, edx, ecx, eax;
    u32 gs, fs, es, ds;
    u32 vec, err;
    u32 eip, cs, eflags;
    u32 esp, ss;                     /* only from an outer ring or V86 */
    u32 v86_es, v86_ds, v86_fs, v86_gs; /* only from V86 */
};

struct tss32 {
    u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    u32 eax, ecx, edx, ebx, esp, ebp, esi, edi;
    u32 es, cs, ss, ds, fs, gs, ldt;
    u16 trap, iomap;
} __attribute__((packed));

struct desc { u32 lo, hi; };

extern struct desc gdt[GDT_ENTRIES];
extern struct desc idt[256];
/* The main task's TSS (selector SEL_TSS) and its I/O bitmap (all ports denied by default). */
struct tss_full { struct tss32 t; u8 iomap[8192 + 1]; } __attribute__((packed));
extern struct tss_full tssf;
#define tss (tssf.t)
#define tss_iomap (tssf.iomap)
extern u8 *const kstack_top_p;    /* top of the TSS.ESP0 stack */
extern const char suite_name[];

/* Checks: PASS <name> / FAIL <name>: <details> (check.h); finish prints the summary and exits. */
void finish(void) __attribute__((noreturn));
void suite_main(void);

/* Descriptor helpers. */
void set_seg(int idx, u32 base, u32 limit, u32 access, u32 flags);
void set_gate(struct desc *d, u32 sel, u32 off, u32 type, u32 dpl, u32 count);
void set_idt(int vec, u32 handler, u32 type, u32 dpl); /* type 0xE intr, 0xF trap */
void set_idt_sel(int vec, u32 sel, u32 handler, u32 type, u32 dpl);
u32 isr_addr(int vec);
void reload_segments(void);
static inline u32 sel_of(int idx, int rpl) { return (u32)(idx << 3) | (u32)rpl; }

/* Traps: a per-vector hook, or fault probing. */
typedef void (*hook_fn)(struct frame *f);
extern hook_fn hooks[256];
/* Fault probe state: trap_handler resumes at fault_resume when it is non-zero. */
extern volatile u32 fault_resume, try_start, try_end;
extern volatile int f_vec;
extern volatile u32 f_err, f_eip, f_cs, f_cr2, f_count, f_eflags;
static inline void fault_reset(void) { f_vec = -1; f_err = f_eip = f_cs = f_cr2 = f_eflags = 0xDEAD; }
/* Wrap the instruction(s) under test: T_BEGIN "insn" T_END. try_start/try_end are the
 * addresses of the first instruction and of the end of the probe. */
#define T_BEGIN "movl $71f, try_start\n\tmovl $72f, try_end\n\tmovl $72f, fault_resume\n71:\n\t"
#define T_END "\n72:\n\tmovl $0, fault_resume\n\t"
/* Checks that the last probe faulted with `vec` (and, if has_err, error code `err`) at the
 * probe's first instruction (fault) or at its end (trap: at_end). */
void check_fault(const char *name, int vec, int has_err, u32 err, int at_end);
void check_nofault(const char *name);
/* Probe results recorded (e.g. in ring 3, which cannot print) and checked later. */
struct probe { int vec; u32 err, eip, start, end, cr2, v; };
extern struct probe pr[64];
void urec(int i, u32 v);
/* vec -1: no fault expected (v is then compared with want_v unless want_v == NOCHECK). */
#define NOCHECK 0xFFFFFFFFu
void check_probe(const char *name, int i, int vec, int has_err, u32 err, int at_end);
void check_probe_v(const char *name, int i, u32 want_v);

/* Ring 3 and V86. */
extern u32 user_ds, user_es, user_fs, user_gs;
u32 enter_user(const u32 *frame, u32 nwords);
void back_to_kernel(u32 result) __attribute__((noreturn));
void user_exit_isr(void);
u32 run_user(void (*fn)(void), u32 eflags); /* ring 3 at fn on ustack; fn ends with user_exit */
static inline void __attribute__((noreturn)) user_exit(u32 v) {
    asm volatile("int $0x81" : : "a"(v) : "memory");
    __builtin_unreachable();
}

/* Control registers. */
static inline u32 read_cr0(void) { u32 v; asm volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline u32 read_cr2(void) { u32 v; asm volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline u32 read_cr3(void) { u32 v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline u32 read_cr4(void) { u32 v; asm volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(u32 v) { asm volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr3(u32 v) { asm volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(u32 v) { asm volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void invlpg(u32 a) { asm volatile("invlpg (%0)" : : "r"(a) : "memory"); }
static inline u32 read_eflags(void) { u32 v; asm volatile("pushfl; popl %0" : "=r"(v)); return v; }
static inline u32 read_cs(void) { u32 v; asm volatile("movl %%cs, %0" : "=r"(v)); return v & 0xffff; }
static inline u32 read_ss(void) { u32 v; asm volatile("movl %%ss, %0" : "=r"(v)); return v & 0xffff; }
static inline u32 read_esp(void) { u32 v; asm volatile("movl %%esp, %0" : "=r"(v)); return v; }
static inline u32 str_(void) { u32 v = 0; asm volatile("str %0" : "=r"(v)); return v & 0xffff; }
static inline u32 sldt_(void) { u32 v = 0; asm volatile("sldt %0" : "=r"(v)); return v & 0xffff; }

void *memset(void *d, int c, unsigned n);
void *memcpy(void *d, const void *s, unsigned n);

#endif
