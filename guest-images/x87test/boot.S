/*
 * boot.S - Multiboot (v1) entry and exception stubs for trapdoor's x87 test guest.
 *
 * Multiboot header per the Multiboot Specification 0.6.96 §3.1 (flags: page-align and
 * memory info; the ELF program headers give the load addresses). _start loads a flat GDT,
 * sets up a stack and calls kmain. The stubs isr0..isr19 push a dummy error code where the CPU pushes none,
 * save the general registers, call trap(vector, frame) with frame pointing at the saved
 * registers (error code at frame[8], EIP at frame[9]), and return with IRET.
 */
#define MB_HEADER_MAGIC   0x1BADB002
#define MB_HEADER_FLAGS   0x00000003
#define STACK_SIZE        16384

        .section .multiboot, "a"
        .balign 4
        .long   MB_HEADER_MAGIC
        .long   MB_HEADER_FLAGS
        .long   -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)

        .text
        .globl  _start
        .type   _start, @function
_start:
        /* Multiboot §3.2: the loader's GDT may not be valid; load our own. */
        lgdt    gdt_desc
        ljmp    $0x08, $1f
1:      movw    $0x10, %cx
        movw    %cx, %ds
        movw    %cx, %es
        movw    %cx, %fs
        movw    %cx, %gs
        movw    %cx, %ss
        movl    $stack_top, %esp
        cld
        subl    $8, %esp
        pushl   %ebx
        pushl   %eax
        call    kmain
1:      cli
        hlt
        jmp     1b
        .size   _start, . - _start

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

/* Null, flat 32-bit code (0x08), flat data (0x10). */
        .balign 8
gdt:
        .quad   0
        .quad   0x00cf9a000000ffff
        .quad   0x00cf92000000ffff
gdt_desc:
        .word   gdt_desc - gdt - 1
        .long   gdt

        .bss
        .balign 16
        .skip   STACK_SIZE
stack_top:

        .section .note.GNU-stack, "", @progbits
