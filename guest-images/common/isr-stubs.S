/*
 * isr-stubs.S - 256 interrupt entry stubs and a common trap entry (cputest, irqtest).
 *
 *   isr_stubs    256 stubs, 16 bytes apart (vector v at isr_stubs + 16 * v): push a dummy error
 *                code where the CPU pushes none (every vector except 8, 10-14, 17), push the
 *                vector, then isr_common
 *   isr_common   with ISR_SAVE_SEGMENTS: saves DS ES FS GS and loads ISR_KERNEL_DS into them;
 *                saves the general registers (PUSHAL), calls ISR_HANDLER(frame) with frame
 *                pointing at the saved registers, restores everything and returns with IRET.
 *
 * The frame, from low addresses: EDI ESI EBP ESP EBX EDX ECX EAX, [GS FS ES DS,] vector, error
 * code, then what the CPU pushed (EIP CS EFLAGS [ESP SS [ES DS FS GS]]).
 */
#ifndef ISR_HANDLER
#error "define ISR_HANDLER, the C function that takes the frame"
#endif
#if defined(ISR_SAVE_SEGMENTS) && !defined(ISR_KERNEL_DS)
#error "ISR_SAVE_SEGMENTS needs ISR_KERNEL_DS"
#endif

        .text
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
#ifdef ISR_SAVE_SEGMENTS
        pushl   %ds
        pushl   %es
        pushl   %fs
        pushl   %gs
#endif
        pushal
#ifdef ISR_SAVE_SEGMENTS
        movl    $ISR_KERNEL_DS, %eax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
#endif
        movl    %esp, %eax
        cld
        pushl   %eax
        call    ISR_HANDLER
        addl    $4, %esp
        popal
#ifdef ISR_SAVE_SEGMENTS
        popl    %gs
        popl    %fs
        popl    %es
        popl    %ds
#endif
        addl    $8, %esp
        iret

        .section .note.GNU-stack, "", @progbits
