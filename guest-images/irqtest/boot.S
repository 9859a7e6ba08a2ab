/*
 * boot.S - entry code of the irqtest kernel (Multiboot 0.6.96 §3.1, §3.2).
 *
 *   _start       stack, EFLAGS cleared (IF=0), then kmain(magic, mbi)
 *   isr_stubs    256 stubs, 16 bytes apart: push a dummy error code where the CPU pushes none
 *                (every vector except 8, 10-14, 17), push the vector, then isr_common
 *   isr_common   saves the general registers (struct frame in irqtest.c), calls trap(frame)
 *                and returns with IRET. Everything runs in ring 0 with flat segments, so the
 *                data segment registers need no saving.
 */
#define MB_HEADER_MAGIC   0x1BADB002
#define MB_HEADER_FLAGS   3

        .section .multiboot, "a"
        .balign 4
        .long   MB_HEADER_MAGIC
        .long   MB_HEADER_FLAGS
        .long   -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)

        .text
        .globl  _start
_start:
        movl    $stack_top, %esp
        cld
        pushl   $0
        popfl                   /* IF=0, IOPL=0, NT=0, AC=0 */
        subl    $8, %esp
        pushl   %ebx
        pushl   %eax
        call    kmain
1:      cli
        hlt
        jmp     1b

        .balign 16
        .globl  isr_stubs
isr_stubs:
        .set    vec, 0
        .rept   256
        .balign 16
        .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17)
        .else
        pushl   $0
        .endif
        pushl   $vec
        jmp     isr_common
        .set    vec, vec + 1
        .endr

isr_common:
        pushal
        movl    %esp, %eax
        cld
        pushl   %eax
        call    trap
        addl    $4, %esp
        popal
        addl    $8, %esp
        iret

        .bss
        .balign 16
        .skip   16384
stack_top:

        .section .note.GNU-stack, "", @progbits
