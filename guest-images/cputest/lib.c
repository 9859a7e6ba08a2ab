/*
 * lib.c - shared runtime of the cputest kernels: the summary line, the GDT/IDT/TSS every suite
 * starts from, the trap handler with fault probing, and the ring-3 entry helper. COM1 output,
 * kprintf and check() are ../common/serial.c, kprintf.c and check.c.
 */
#include "cputest.h"

struct desc gdt[GDT_ENTRIES] __attribute__((aligned(16)));
struct desc idt[256] __attribute__((aligned(16)));
struct tss_full tssf __attribute__((aligned(128)));
hook_fn hooks[256];
static u8 kstack[16384] __attribute__((aligned(16)));
static u8 ustack[16384] __attribute__((aligned(16)));
u8 *const kstack_top_p = kstack + sizeof kstack;

volatile u32 fault_resume, try_start, try_end;
volatile int f_vec = -1;
volatile u32 f_err, f_eip, f_cs, f_cr2, f_count, f_eflags;

void *memset(void *d, int c, unsigned n) {
    u8 *p = d;
    while (n--) *p++ = (u8)c;
    return d;
}

void *memcpy(void *d, const void *s, unsigned n) {
    u8 *p = d;
    const u8 *q = s;
    while (n--) *p++ = *q++;
    return d;
}

void finish(void) {
    kprintf("cputest %s: %u passed, %u failed\n", suite_name, check_passed, check_failed);
    outb(0xF4, check_failed ? 1 : 0);
    for (;;) asm volatile("cli; hlt");
}

static const char *vec_name(int v) {
    static const char *const names[] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#MF9",
                                        "#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM"};
    if (v == -1) return "none";
    if (v >= 0 && v < 20) return names[v];
    return "INT n";
}

void check_fault(const char *name, int vec, int has_err, u32 err, int at_end) {
    u32 want_eip = at_end ? try_end : try_start;
    int ok = f_vec == vec && (!has_err || f_err == err) && f_eip == want_eip;
    if (ok) {
        check(name, 1, "");
    } else if (has_err) {
        check(name, 0, "got %s(0x%x) at 0x%x, want %s(0x%x) at 0x%x", vec_name(f_vec), f_err, f_eip,
              vec_name(vec), err, want_eip);
    } else {
        check(name, 0, "got %s at 0x%x, want %s at 0x%x", vec_name(f_vec), f_eip, vec_name(vec), want_eip);
    }
}

void check_nofault(const char *name) {
    check(name, f_vec == -1, "unexpected %s(0x%x) at 0x%x", vec_name(f_vec), f_err, f_eip);
}

struct probe pr[64];

void urec(int i, u32 v) {
    pr[i].vec = f_vec;
    pr[i].err = f_err;
    pr[i].eip = f_eip;
    pr[i].start = try_start;
    pr[i].end = try_end;
    pr[i].cr2 = f_cr2;
    pr[i].v = v;
}

void check_probe(const char *name, int i, int vec, int has_err, u32 err, int at_end) {
    struct probe *p = &pr[i];
    if (vec < 0) {
        check(name, p->vec == -1, "unexpected %s(0x%x) at 0x%x", vec_name(p->vec), p->err, p->eip);
        return;
    }
    u32 want_eip = at_end ? p->end : p->start;
    int ok = p->vec == vec && (!has_err || p->err == err) && p->eip == want_eip;
    check(name, ok, "got %s(0x%x) at 0x%x, want %s(0x%x) at 0x%x", vec_name(p->vec), p->err, p->eip, vec_name(vec),
          has_err ? err : 0, want_eip);
}

void check_probe_v(const char *name, int i, u32 want_v) {
    struct probe *p = &pr[i];
    check(name, p->vec == -1 && p->v == want_v, "fault %s(0x%x), value 0x%x, want 0x%x", vec_name(p->vec), p->err,
          p->v, want_v);
}

void trap_handler(struct frame *f) {
    if (hooks[f->vec]) {
        hooks[f->vec](f);
        return;
    }
    if (fault_resume) {
        f_vec = (int)f->vec;
        f_err = f->err;
        f_eip = f->eip;
        f_cs = f->cs;
        f_eflags = f->eflags;
        f_cr2 = read_cr2();
        f_count++;
        f->eip = fault_resume;
        fault_resume = 0;
        return;
    }
    check_failed++;
    kprintf("FAIL unexpected-exception: %s (vector %u) error 0x%x at %x:%x eflags 0x%x cr2 0x%x\n",
            vec_name((int)f->vec), f->vec, f->err, f->cs, f->eip, f->eflags, read_cr2());
    finish();
}

void set_seg(int idx, u32 base, u32 limit, u32 access, u32 flags) {
    gdt[idx].lo = (limit & 0xFFFF) | (base << 16);
    gdt[idx].hi = ((base >> 16) & 0xFF) | (access << 8) | (limit & 0xF0000) | (flags << 20) | (base & 0xFF000000);
}

void set_gate(struct desc *d, u32 sel, u32 off, u32 type, u32 dpl, u32 count) {
    d->lo = (off & 0xFFFF) | (sel << 16);
    d->hi = (off & 0xFFFF0000) | 0x8000 | (dpl << 13) | (type << 8) | (count & 0x1F);
}

u32 isr_addr(int vec) {
    extern u8 isr_stubs[];
    return (u32)isr_stubs + (u32)vec * 16;
}

void set_idt_sel(int vec, u32 sel, u32 handler, u32 type, u32 dpl) {
    set_gate(&idt[vec], sel, handler, type, dpl, 0);
}

void set_idt(int vec, u32 handler, u32 type, u32 dpl) {
    set_idt_sel(vec, SEL_KCODE, handler, type, dpl);
}

void reload_segments(void) {
    asm volatile("ljmp %0, $1f\n1:\n\t"
                 "movw %w1, %%ds\n\tmovw %w1, %%es\n\tmovw %w1, %%fs\n\tmovw %w1, %%gs\n\tmovw %w1, %%ss"
                 :
                 : "i"(SEL_KCODE), "r"(SEL_KDATA)
                 : "memory");
}

u32 run_user(void (*fn)(void), u32 eflags) {
    u32 frame[5] = {(u32)fn, SEL_UCODE, eflags, (u32)(ustack + sizeof ustack), SEL_UDATA};
    return enter_user(frame, 5);
}

static void setup(void) {
    set_seg(1, 0, 0xFFFFF, ACC_P | ACC_CODE, FL_G | FL_DB);
    set_seg(2, 0, 0xFFFFF, ACC_P | ACC_DATA, FL_G | FL_DB);
    set_seg(3, 0, 0xFFFFF, ACC_P | ACC_DPL(3) | ACC_CODE, FL_G | FL_DB);
    set_seg(4, 0, 0xFFFFF, ACC_P | ACC_DPL(3) | ACC_DATA, FL_G | FL_DB);
    tss.ss0 = SEL_KDATA;
    tss.esp0 = (u32)kstack_top_p;
    tss.iomap = (u16)((u32)tss_iomap - (u32)&tss);
    memset(tss_iomap, 0xFF, sizeof tss_iomap);
    set_seg(5, (u32)&tss, sizeof(struct tss_full) - 1, ACC_P | 0x09, 0);
    struct { u16 limit; u32 base; } __attribute__((packed)) gdtr = {sizeof gdt - 1, (u32)gdt}, idtr = {sizeof idt - 1, (u32)idt};
    asm volatile("lgdt %0" : : "m"(gdtr));
    reload_segments();
    for (int v = 0; v < 256; v++) set_idt(v, isr_addr(v), 0xE, 0);
    set_idt(0x81, (u32)user_exit_isr, 0xE, 3);
    asm volatile("lidt %0" : : "m"(idtr));
    asm volatile("ltr %w0" : : "r"(SEL_TSS));
    asm volatile("lldt %w0" : : "r"(0));
}

void kmain(u32 magic, u32 mbi) {
    (void)mbi;
    serial_init();
    kprintf("cputest %s: start\n", suite_name);
    if (magic != 0x2BADB002) {
        check("multiboot-magic", 0, "got 0x%x", magic);
        finish();
    }
    setup();
    suite_main();
    finish();
}
