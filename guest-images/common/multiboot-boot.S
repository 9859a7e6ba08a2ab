/*
 * multiboot-boot.S - Multiboot (v1) header and entry point of trapdoor's test guests.
 *
 * References are to the Multiboot Specification version 0.6.96. Each guest's build.sh
 * assembles this file with the defines it needs:
 *
 *   AOUT_KLUDGE         flags[16] header with the address fields (hello.bin, a flat image)
 *   BOOT_LOAD_GDT       load a flat GDT (0x08 code, 0x10 data) and reload every segment
 *                       register before anything else (x87test, bench)
 *   BOOT_CLEAR_EFLAGS   EFLAGS = 0 (IF=0, IOPL=0, NT=0, AC=0) before kmain (cputest, irqtest)
 *
 * _start then calls kmain(magic, mbi) on a 16 KiB stack in .bss; if kmain returns, the CPU
 * parks in a cli; hlt loop.
 */

/*
 * Section 3.1.1 "The layout of Multiboot header":
 *   offset  field          note
 *   0       magic          required, 0x1BADB002
 *   4       flags          required
 *   8       checksum       required; magic + flags + checksum == 0 (mod 2^32)
 *   12      header_addr    if flags[16] set
 *   16      load_addr      if flags[16] set
 *   20      load_end_addr  if flags[16] set
 *   24      bss_end_addr   if flags[16] set
 *   28      entry_addr     if flags[16] set
 *
 * Section 3.1.2 "The magic fields of Multiboot header": the header must lie
 * entirely within the first 8192 bytes of the image and be 32-bit aligned.
 * linker.ld places the .multiboot section first, at 0x100000.
 *
 * Section 3.1.3 "The address fields of Multiboot header" describes the
 * flags[16] fields filled in below.
 */
#define MB_HEADER_MAGIC   0x1BADB002
#define MB_PAGE_ALIGN     (1 << 0)   /* flags[0]: align modules on 4 KiB     */
#define MB_MEMORY_INFO    (1 << 1)   /* flags[1]: want mem_* (and mmap_*)    */
#define MB_AOUT_KLUDGE    (1 << 16)  /* flags[16]: address fields are valid  */

#ifdef AOUT_KLUDGE
#define MB_HEADER_FLAGS   (MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_AOUT_KLUDGE)
#else
#define MB_HEADER_FLAGS   (MB_PAGE_ALIGN | MB_MEMORY_INFO)
#endif

#define STACK_SIZE        16384

        .section .multiboot, "a"
        .balign 4
        .globl  mb_header
mb_header:
        .long   MB_HEADER_MAGIC
        .long   MB_HEADER_FLAGS
        .long   -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)
#ifdef AOUT_KLUDGE
        /* Section 3.1.3; the symbols come from linker.ld. */
        .long   mb_header       /* header_addr: where this header is loaded  */
        .long   __image_start   /* load_addr: start of text = file offset 0  */
        .long   __load_end      /* load_end_addr: end of data (end of file)  */
        .long   __image_end     /* bss_end_addr: end of bss (loader zeroes)  */
        .long   _start          /* entry_addr: jump here                     */
#endif

/*
 * Section 3.2 "Machine state": on entry EAX = 0x2BADB002, EBX = physical
 * address of the Multiboot information structure, protected mode, paging
 * off, CS/DS/ES/FS/GS/SS flat 4 GiB segments, IF and VM clear, ESP undefined
 * (so we must set up our own stack before calling C). The GDTR may be invalid,
 * so a guest that reloads segment registers needs its own GDT. Other EFLAGS
 * bits are undefined, so clear DF as the C ABI requires.
 */
        .text
        .globl  _start
        .type   _start, @function
_start:
#ifdef BOOT_LOAD_GDT
        lgdt    boot_gdt_desc
        ljmp    $0x08, $1f
1:      movw    $0x10, %cx
        movw    %cx, %ds
        movw    %cx, %es
        movw    %cx, %fs
        movw    %cx, %gs
        movw    %cx, %ss
#endif
        movl    $stack_top, %esp
        cld
#ifdef BOOT_CLEAR_EFLAGS
        pushl   $0
        popfl                   /* IF=0, IOPL=0, NT=0, AC=0                 */
#endif
        subl    $8, %esp        /* keep %esp 16-byte aligned at the call    */
        pushl   %ebx            /* arg 2: struct multiboot_info *mbi        */
        pushl   %eax            /* arg 1: uint32_t magic                    */
        call    kmain
        /* kmain has normally written the exit code to port 0xF4. If the
         * machine keeps running (no isa-debug-exit device), park the CPU. */
1:      cli
        hlt
        jmp     1b
        .size   _start, . - _start

#ifdef BOOT_LOAD_GDT
/* Null, flat 32-bit code (0x08), flat data (0x10). */
        .section .rodata
        .balign 8
boot_gdt:
        .quad   0
        .quad   0x00cf9a000000ffff
        .quad   0x00cf92000000ffff
boot_gdt_desc:
        .word   boot_gdt_desc - boot_gdt - 1
        .long   boot_gdt
#endif

        .bss
        .balign 16
        .skip   STACK_SIZE
stack_top:

        .section .note.GNU-stack, "", @progbits
