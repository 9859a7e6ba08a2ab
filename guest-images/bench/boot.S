/*
 * boot.S - Multiboot (v1) entry for trapdoor's CPU benchmark guest.
 *
 * Multiboot 0.6.96 §3.1 header (flags 0x3, ELF image), then _start: load our own flat GDT
 * (§3.2 says the loader's may not be valid), set up a 64 KiB stack and call kmain.
 */
#define MB_HEADER_MAGIC   0x1BADB002
#define MB_HEADER_FLAGS   0x00000003
#define STACK_SIZE        65536

        .section .multiboot, "a"
        .balign 4
        .long   MB_HEADER_MAGIC
        .long   MB_HEADER_FLAGS
        .long   -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)

        .text
        .globl  _start
        .type   _start, @function
_start:
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

        .section .rodata
        .balign 8
gdt:    .quad   0
        .quad   0x00CF9A000000FFFF      /* 0x08: flat 32-bit code, DPL 0 */
        .quad   0x00CF92000000FFFF      /* 0x10: flat 32-bit data, DPL 0 */
gdt_end:
        .balign 4
        .word   0
gdt_desc:
        .word   gdt_end - gdt - 1
        .long   gdt

        .bss
        .balign 16
        .skip   STACK_SIZE
stack_top:

        .section .note.GNU-stack, "", @progbits
