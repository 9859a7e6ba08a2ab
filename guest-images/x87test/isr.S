/*
 * isr.S - exception stubs of trapdoor's x87 test guest.
 *
 * The stubs isr0..isr19 push a dummy error code where the CPU pushes none, save the general
 * registers, call trap(vector, frame) with frame pointing at the saved registers (error code
 * at frame[8], EIP at frame[9]), and return with IRET. isr_table lists them for setup_idt().
 * The Multiboot header, the flat GDT and _start are ../common/multiboot-boot.S
 * (-DBOOT_LOAD_GDT).
 */
        .text

/* Vectors 8, 10-14 and 17 push an error code (SDM vol. 3 table 6-1). */
.macro ISR n, code
        .globl  isr\n
isr\n:
        .if     \code == 0
        pushl   $0
        .endif
        pushal
        pushl   %esp
        pushl   $\n
        call    trap
        addl    $8, %esp
        popal
        addl    $4, %esp
        iret
.endm

        ISR 0, 0
        ISR 1, 0
        ISR 2, 0
        ISR 3, 0
        ISR 4, 0
        ISR 5, 0
        ISR 6, 0
        ISR 7, 0
        ISR 8, 1
        ISR 9, 0
        ISR 10, 1
        ISR 11, 1
        ISR 12, 1
        ISR 13, 1
        ISR 14, 1
        ISR 15, 0
        ISR 16, 0
        ISR 17, 1
        ISR 18, 0
        ISR 19, 0

        .section .rodata
        .balign 4
        .globl  isr_table
isr_table:
        .long   isr0, isr1, isr2, isr3, isr4, isr5, isr6, isr7, isr8, isr9
        .long   isr10, isr11, isr12, isr13, isr14, isr15, isr16, isr17, isr18, isr19

        .section .note.GNU-stack, "", @progbits
