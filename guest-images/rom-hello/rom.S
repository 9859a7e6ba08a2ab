/*
 * rom-hello: trapdoor's own firmware test ROM, a flat 64 KiB image for `--bios`
 * (QEMU: -bios). The image is linked at offset 0 and the machine maps it at
 * 0xFFFF0000-0xFFFFFFFF and, as the PC BIOS area, at 0xF0000-0xFFFFF.
 *
 * From the reset vector it: writes POST codes to port 0x80, greets on the
 * debug console (port 0xE9), tests the A20 gate through port 0x92, enters
 * 32-bit protected mode with a GDT in the ROM, and ends through the
 * isa-debug-exit port 0xF4 (value 0 if everything passed, 1 if the A20 test
 * failed; QEMU and trapdoor exit with (v << 1) | 1).
 */

        .set    POST_PORT, 0x80
        .set    DEBUGCON_PORT, 0xe9
        .set    PORT92, 0x92            /* System Control Port A: bit 1 A20, bit 0 reset */
        .set    DEBUG_EXIT_PORT, 0xf4
        .set    HIGH_ROM, 0xffff0000    /* where the image's offset 0 is, below 4 GiB */
        .set    STACK_TOP, 0x7000       /* conventional RAM, free at this point */
        .set    PROBE, 0x500            /* 0x000500 and its A20 alias 0x100500 */

        .code16
        .text
        .globl  _start
_start:

/* ---------------------------------------------------------------- data */

hello:  .asciz  "trapdoor rom: hello from the reset vector\n"
a20_ok: .asciz  "a20: ok\n"
a20_bad: .asciz "a20: FAILED\n"
pm_ok:  .asciz  "protected mode: ok\n"

/*
 * Flat 4 GiB code and data segments (SDM vol. 3 §3.4.5). The accessed bit is
 * preset (type 0x9B / 0x93) so loading them does not make the CPU write the
 * descriptors back into the ROM.
 */
        .balign 8
gdt:    .quad   0
        .quad   0x00cf9b000000ffff      /* 0x08: code, base 0, limit 4 GiB, 32-bit */
        .quad   0x00cf93000000ffff      /* 0x10: data, base 0, limit 4 GiB */
gdt_end:
gdt_desc:
        .word   gdt_end - gdt - 1
        .long   HIGH_ROM + gdt          /* the GDT through the ROM's window below 4 GiB */

/* ---------------------------------------------------------------- 16-bit helpers */

/* Print the NUL-terminated string at DS:SI to the debug console. */
puts16:
        lodsb
        testb   %al, %al
        jz      1f
        outb    %al, $DEBUGCON_PORT
        jmp     puts16
1:      ret

/* Write AL to port 0x92 with the reset bit clear. */
port92_out:
        andb    $0xfe, %al
        outb    %al, $PORT92
        ret

/* ---------------------------------------------------------------- POST entry */

/* The traditional IBM PC BIOS entry point, F000:E05B. */
        .org    0xe05b, 0xff
post:
        cli
        cld
        movb    $0x01, %al
        outb    %al, $POST_PORT

        xorw    %ax, %ax
        movw    %ax, %ss
        movw    $STACK_TOP, %sp
        movw    %cs, %ax                /* 0xF000: the image's copy below 1 MiB */
        movw    %ax, %ds
        xorb    %bl, %bl                /* BL: the exit value, 0 = all passed */

        movw    $hello, %si
        call    puts16
        movb    $0x02, %al
        outb    %al, $POST_PORT

/*
 * A20: FS = 0x0000 and ES = 0xFFFF, so FS:PROBE is physical 0x000500 and
 * ES:PROBE+0x10 is 0x100500. With the gate open they are two bytes; with it
 * closed bit 20 is forced to 0 and the second aliases the first.
 */
        xorw    %ax, %ax
        movw    %ax, %fs
        movw    $0xffff, %ax
        movw    %ax, %es

        inb     $PORT92, %al            /* open the gate */
        orb     $0x02, %al
        call    port92_out
        movb    $0x11, %fs:PROBE
        movb    $0x22, %es:PROBE+0x10
        cmpb    $0x11, %fs:PROBE
        jne     a20_failed

        inb     $PORT92, %al            /* close the gate */
        andb    $0xfd, %al
        call    port92_out
        movb    $0x33, %es:PROBE+0x10   /* lands on 0x000500 */
        cmpb    $0x33, %fs:PROBE
        jne     a20_failed

        inb     $PORT92, %al            /* open it again: 0x100500 kept its byte */
        orb     $0x02, %al
        call    port92_out
        cmpb    $0x22, %es:PROBE+0x10
        jne     a20_failed
        cmpb    $0x33, %fs:PROBE
        jne     a20_failed
        movw    $a20_ok, %si
        jmp     a20_done
a20_failed:
        movb    $1, %bl
        inb     $PORT92, %al            /* protected mode below wants the gate open */
        orb     $0x02, %al
        call    port92_out
        movw    $a20_bad, %si
a20_done:
        call    puts16
        movb    $0x03, %al
        outb    %al, $POST_PORT

/* Protected mode (SDM vol. 3 §9.9.1): load the GDT, set CR0.PE, far-jump to 32-bit code. */
        lgdtl   %cs:gdt_desc
        movl    %cr0, %eax
        orl     $1, %eax
        movl    %eax, %cr0
        ljmpl   $0x08, $HIGH_ROM + pm32

        .code32
pm32:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movw    %ax, %fs
        movw    %ax, %gs
        movl    $STACK_TOP, %esp
        movb    $0x04, %al
        outb    %al, $POST_PORT
        movl    $HIGH_ROM + pm_ok, %esi
1:      lodsb
        testb   %al, %al
        jz      2f
        outb    %al, $DEBUGCON_PORT
        jmp     1b
2:      movb    %bl, %al
        outb    %al, $DEBUG_EXIT_PORT
        cli
3:      hlt
        jmp     3b

/* ---------------------------------------------------------------- reset vector */

        .code16
        .org    0xfff0, 0xff
reset_vector:                           /* physical 0xFFFFFFF0, CS base 0xFFFF0000 */
        ljmp    $0xf000, $post
        .org    0x10000, 0xff
