/*
 * boot.S - Multiboot (v1) entry point for trapdoor's "hello" guest.
 *
 * Assembled twice by build.sh from this one file:
 *   gcc -m32 -c boot.S               -> header for hello.elf (ELF loader)
 *   gcc -m32 -c -DAOUT_KLUDGE boot.S -> header for hello.bin (flat image,
 *                                       "a.out kludge", flags bit 16)
 *
 * References are to the Multiboot Specification version 0.6.96.
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
 * The linker script places the .multiboot section first, at 0x100000.
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
 * (so we must set up our own stack before calling C). Other EFLAGS bits are
 * undefined, so clear DF as the C ABI requires.
 */
        .text
        .globl  _start
        .type   _start, @function
_start:
        movl    $stack_top, %esp
        cld
        subl    $8, %esp        /* keep %esp 16-byte aligned at the call    */
        pushl   %ebx            /* arg 2: struct multiboot_info *mbi        */
        pushl   %eax            /* arg 1: uint32_t magic                    */
        call    kmain
        /* kmain has already written the exit code to port 0xF4. If the
         * machine keeps running (no isa-debug-exit device), park the CPU. */
1:      cli
        hlt
        jmp     1b
        .size   _start, . - _start

        .bss
        .balign 16
stack_bottom:
        .skip   STACK_SIZE
stack_top:

/*
 * 64 bytes that are never written. kmain checks they read as zero, which
 * verifies that the loader zeroed the bss (ELF p_memsz > p_filesz, or the
 * a.out kludge's load_end_addr..bss_end_addr range).
 */
        .globl  bss_probe
        .balign 16
bss_probe:
        .skip   64
        .size   bss_probe, 64

        .section .note.GNU-stack, "", @progbits
