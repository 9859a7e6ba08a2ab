/*
 * hello.c - trapdoor's first guest: a tiny Multiboot (v1) kernel.
 *
 * It prints what the boot loader told it (and a few self-measurements) on
 * COM1, checks the facts a correct loader must provide, and reports the
 * verdict through the QEMU isa-debug-exit port 0xF4.
 *
 * Freestanding: no libc, no libgcc. All output goes through serial_putc()
 * (../common/serial.c), which does exactly one IN from 0x3FD (when THRE is
 * already set) and exactly one OUT to 0x3F8 per byte, and counts them. "\n"
 * is sent as a single 0x0A byte.
 *
 * References are to the Multiboot Specification version 0.6.96.
 */
#include <stdint.h>

#include "io.h"
#include "serial.h"

/* ------------------------------------------------------------------------ */
/* Multiboot information structure (section 3.3 "Boot information format").  */
/* Only the fields up to boot_loader_name are used.                          */

#define MB_BOOTLOADER_MAGIC 0x2BADB002u /* section 3.2: value of EAX          */

#define MB_INFO_MEMORY      (1u << 0)   /* mem_lower, mem_upper valid         */
#define MB_INFO_CMDLINE     (1u << 2)   /* cmdline valid                      */
#define MB_INFO_MEM_MAP     (1u << 6)   /* mmap_length, mmap_addr valid       */
#define MB_INFO_LOADER_NAME (1u << 9)   /* boot_loader_name valid             */

struct multiboot_info {
    uint32_t flags;             /*  0: which fields below are valid         */
    uint32_t mem_lower;         /*  4: flags[0], KiB below 1 MiB (from 0)   */
    uint32_t mem_upper;         /*  8: flags[0], KiB above 1 MiB (from 1M)  */
    uint32_t boot_device;       /* 12: flags[1]                             */
    uint32_t cmdline;           /* 16: flags[2], physical addr of C string  */
    uint32_t mods_count;        /* 20: flags[3]                             */
    uint32_t mods_addr;         /* 24: flags[3]                             */
    uint32_t syms[4];           /* 28: flags[4] (a.out) or flags[5] (ELF)   */
    uint32_t mmap_length;       /* 44: flags[6], size of the buffer, bytes  */
    uint32_t mmap_addr;         /* 48: flags[6], physical addr of buffer    */
    uint32_t drives_length;     /* 52: flags[7]                             */
    uint32_t drives_addr;       /* 56: flags[7]                             */
    uint32_t config_table;      /* 60: flags[8]                             */
    uint32_t boot_loader_name;  /* 64: flags[9], physical addr of C string  */
};

/*
 * One memory-map entry (section 3.3). The spec gives offsets relative to
 * base_addr, with 'size' at offset -4; mmap_addr points at 'size'. 'size'
 * counts the bytes after itself (at least 20), so the next entry starts at
 * (entry + size + 4). type 1 = available RAM, anything else = reserved.
 */
struct multiboot_mmap_entry {
    uint32_t size;              /* -4 */
    uint32_t base_lo;           /*  0: base_addr, low 32 bits               */
    uint32_t base_hi;           /*  4: base_addr, high 32 bits              */
    uint32_t length_lo;         /*  8: length, low 32 bits                  */
    uint32_t length_hi;         /* 12: length, high 32 bits                 */
    uint32_t type;              /* 16 */
} __attribute__((packed));

#define MMAP_MIN_ENTRY_SIZE 20u
#define MMAP_MAX_ENTRIES    128u    /* guard against a garbage mmap_length */
#define MAX_STRING_LEN      256u    /* guard against an unterminated string */

/* ------------------------------------------------------------------------ */
/* Symbols from linker.ld and multiboot-boot.S (../common).                 */

extern char __image_start[];    /* 0x100000: first byte of the image        */
extern char __text_start[];     /* .text bounds, for the checksum           */
extern char __text_end[];
extern char __image_end[];      /* end of bss                               */
extern char _start[];           /* entry point                              */

/*
 * 64 bytes of .bss that are never written. self_checks() checks they read as
 * zero, which verifies that the loader zeroed the bss (ELF p_memsz > p_filesz,
 * or the a.out kludge's load_end_addr..bss_end_addr range).
 */
static volatile uint8_t bss_probe[64];

/* ------------------------------------------------------------------------ */
/* Output, on top of ../common/serial.c.                                     */

#define DEBUG_EXIT_PORT 0xF4    /* QEMU isa-debug-exit: exit((v << 1) | 1)  */

/* Print a C string found in guest memory, at most MAX_STRING_LEN bytes. */
static void put_cstring_at(uint32_t addr)
{
    const char *s = (const char *)addr;
    for (uint32_t i = 0; i < MAX_STRING_LEN && s[i] != '\0'; i++)
        serial_putc(s[i]);
}

static void put_hex32(uint32_t v)
{
    serial_puts("0x");
    put_hex(v, 8);
}

/* 8 hex digits if the value fits in 32 bits, 16 otherwise. */
static void put_hex64(uint32_t hi, uint32_t lo)
{
    serial_puts("0x");
    if (hi != 0)
        put_hex(hi, 8);
    put_hex(lo, 8);
}

/* ------------------------------------------------------------------------ */
/* Checks.                                                                   */

static const char *failure;     /* first failed check, or 0                 */

static void fail(const char *reason)
{
    if (failure == 0)
        failure = reason;
}

/*
 * Print and check the memory map (section 3.3, flags[6]). Every entry must
 * have size >= 20 and lie inside mmap_addr..mmap_addr+mmap_length, and one
 * available (type 1) region must contain the whole image, from
 * __image_start to __image_end (so in particular the load address).
 */
static void check_mmap(const struct multiboot_info *mbi)
{
    uint32_t image_start = (uint32_t)__image_start;
    uint32_t image_end = (uint32_t)__image_end;
    uint32_t length = mbi->mmap_length;
    uint32_t offset = 0;
    uint32_t entries = 0;
    uint64_t available = 0;
    int image_in_ram = 0;

    while (offset < length) {
        const struct multiboot_mmap_entry *e =
            (const struct multiboot_mmap_entry *)(mbi->mmap_addr + offset);

        if (entries == MMAP_MAX_ENTRIES) {
            fail("too many mmap entries");
            break;
        }
        if (length - offset < 4 + MMAP_MIN_ENTRY_SIZE) {
            fail("mmap entry truncated by mmap_length");
            break;
        }
        if (e->size < MMAP_MIN_ENTRY_SIZE) {
            fail("mmap entry size field < 20");
            break;
        }
        if (e->size > length - offset - 4) {
            fail("mmap entry overruns mmap_length");
            break;
        }

        serial_puts("mmap: base=");
        put_hex64(e->base_hi, e->base_lo);
        serial_puts(" length=");
        put_hex64(e->length_hi, e->length_lo);
        serial_puts(" type=");
        put_dec(e->type);
        serial_puts("\n");

        if (e->type == 1) {
            uint64_t base = ((uint64_t)e->base_hi << 32) | e->base_lo;
            uint64_t len = ((uint64_t)e->length_hi << 32) | e->length_lo;
            available += len;
            /* base <= start and end <= base + len, without overflow. */
            if (base <= image_start && image_end - base <= len)
                image_in_ram = 1;
        }

        offset += e->size + 4;
        entries++;
    }

    serial_puts("available RAM: ");
    put_dec(available >> 10);
    serial_puts(" KiB\n");

    if (!image_in_ram)
        fail("no available (type 1) mmap region contains the image");
}

/* Print the Multiboot information structure (section 3.3) and check it. */
static void check_info(const struct multiboot_info *mbi)
{
    uint32_t flags = mbi->flags;

    serial_puts("flags: ");
    put_hex32(flags);
    serial_puts("\n");

    if (flags & MB_INFO_MEMORY) {
        serial_puts("mem_lower: ");
        put_dec(mbi->mem_lower);
        serial_puts(" KiB\nmem_upper: ");
        put_dec(mbi->mem_upper);
        serial_puts(" KiB\n");
    }
    if (flags & MB_INFO_CMDLINE) {
        serial_puts("cmdline: ");
        put_cstring_at(mbi->cmdline);
        serial_puts("\n");
    }
    if (flags & MB_INFO_LOADER_NAME) {
        serial_puts("boot loader: ");
        put_cstring_at(mbi->boot_loader_name);
        serial_puts("\n");
    }
    if (flags & MB_INFO_MEM_MAP)
        check_mmap(mbi);
    else
        fail("no memory map (flags bit 6 clear)");
}

/* Measure ourselves: .text checksum, and that the loader zeroed the bss. */
static void self_checks(void)
{
    uint32_t start = (uint32_t)__text_start;
    uint32_t end = (uint32_t)__text_end;
    uint32_t sum = 0;
    uint8_t bss_bits = 0;

    for (uint32_t p = start; p < end; p++)
        sum += *(const uint8_t *)p;
    serial_puts("text checksum: ");
    put_hex32(sum);
    serial_puts(" (sum of ");
    put_dec(end - start);
    serial_puts(" bytes)\n");

    for (uint32_t i = 0; i < sizeof bss_probe; i++)
        bss_bits |= bss_probe[i];
    serial_puts("bss zeroed: ");
    serial_puts(bss_bits == 0 ? "yes\n" : "NO\n");
    if (bss_bits != 0)
        fail("bss not zeroed by the loader");
}

/* ------------------------------------------------------------------------ */

void kmain(uint32_t magic, const struct multiboot_info *mbi);

void kmain(uint32_t magic, const struct multiboot_info *mbi)
{
    /* These live in .bss; set them explicitly (serial_init() resets the
     * output counters) so that a loader that fails to zero the bss is
     * reported by self_checks() rather than garbling the output. */
    failure = 0;

    serial_init();
    serial_puts("Hello from trapdoor's hello guest!\n");

    serial_puts("magic: ");
    put_hex32(magic);
    serial_puts("\n_start: ");
    put_hex32((uint32_t)_start);
    serial_puts("\nimage: ");
    put_hex32((uint32_t)__image_start);
    serial_puts("-");
    put_hex32((uint32_t)__image_end);
    serial_puts("\n");

    /* Without the magic, EBX is not known to point at anything. */
    if (magic == MB_BOOTLOADER_MAGIC)
        check_info(mbi);
    else
        fail("bad multiboot magic (expected 0x2BADB002)");

    self_checks();

    {
        uint32_t lines = serial_lines_out, bytes = serial_bytes_out;
        serial_puts("output before this line: ");
        put_dec(lines);
        serial_puts(" lines, ");
        put_dec(bytes);
        serial_puts(" bytes\n");
    }

    if (failure == 0) {
        serial_puts("hello: all checks passed\n");
        outb(DEBUG_EXIT_PORT, 0);       /* QEMU exit code (0 << 1) | 1 = 1 */
    } else {
        serial_puts("hello: FAILED: ");
        serial_puts(failure);
        serial_puts("\n");
        outb(DEBUG_EXIT_PORT, 1);       /* QEMU exit code (1 << 1) | 1 = 3 */
    }
}
