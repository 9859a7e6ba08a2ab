// The core's linear-memory map. Everything the host may read or write lives at a fixed offset
// documented here (and in docs/core-abi.md); the host reads these constants from the module's
// exported globals, so this file is the single source of truth.
//
//   0x0000_0000  (4 KiB)   unused: a null guard
//   0x0000_1000  (4 KiB)   CPU state block (STATE_*), registers at fixed offsets
//   0x0000_2000  (4 KiB)   control block shared with the host (CTL_*): stop request, IRQ
//                          pending word, trap totals
//   0x0001_0000  (512 KiB) port-I/O counters: u32 in-count and out-count per port
//   0x0009_0000  (64 KiB)  MMIO counters: open-addressed table keyed by physical address
//   0x000A_0000  (4 KiB)   profile build only: executed-opcode counters (PROFILE_*)
//   0x000A_1000  (4 KiB)   per-segment fast-check limits (SEG_FAST), a zero word (ZERO_WORD)
//   0x000B_0000  (92 KiB)  software TLB (TLB_*): tags per privilege and access, host addends,
//                          global-page marks
//   0x0010_0000  (512 KiB) virtqueues (VQ_*): 32 slots of queue state, segments, in-flight heads
//   0x0020_0000  (1 MiB)   decode cache: one byte per physical page, "holds cached code" (CODE_PAGES)
//   0x0030_0000  (2 MiB)   decode cache: u16 generation per physical page (PAGE_GEN)
//   0x0050_0000  (2 MiB)   decode cache: decoded instructions (DCACHE)
//   0x0070_0000  (128 KiB) profile build only: opcode per decode-cache entry (PROFILE_ENTRY_OPS)
//   0x0080_0000  (2 MiB)   exit trace ring: TRACE_MAX_ENTRIES x 32 bytes (docs/exits.md)
//   0x00F0_0000  (1 MiB)   AssemblyScript static data (asconfig memoryBase)
//   0x0100_0000  ...       guest RAM: guest physical address p lives at RAM_BASE + p
//   RAM_BASE + ramSize     firmware ROM, C_ROM_SIZE bytes (none without --bios)

export const STATE_BASE: u32 = 0x1000;
export const CTL_BASE: u32 = 0x2000;
export const PIO_COUNTERS: u32 = 0x10000;
export const MMIO_COUNTERS: u32 = 0x90000;
export const MMIO_COUNTER_SLOTS: u32 = 4096; // 16 bytes each: addr, reads, writes, used
export const RAM_BASE: u32 = 0x0100_0000;

// ---- Core-private caches (the host never reads or writes these; docs/performance.md) ----
/** Profile build (`asc --target profile`) only: u64 count per executed opcode, 0F xx at 0x100 + xx. */
export const PROFILE_COUNTERS: u32 = 0xa0000;
export const PROFILE_SLOTS: u32 = 512;
/** Per segment register: u32 limit - 3, valid where the segment's bit in segFastRead/Write is set. */
export const SEG_FAST: u32 = 0xa1000;
/**
 * Per segment register: u32 exclusive bound for the fast limit check of reads (SEG_FAST_READ)
 * and writes (SEG_FAST_WRITE) of up to 4 bytes: limit - 2 where the segment's fast bit is set,
 * else 0, which no offset passes.
 */
export const SEG_FAST_READ: u32 = SEG_FAST + 0x20;
export const SEG_FAST_WRITE: u32 = SEG_FAST + 0x40;
/**
 * Software TLB, direct-mapped by linear page number mod TLB_ENTRIES. Four tag arrays (kernel
 * read, kernel write, user read, user write, 16 KiB apart), each u32 = linear page | epoch, then
 * the host addend (host address - linear address) of the page, shared by the four tags.
 */
export const TLB_BASE: u32 = 0xb0000;
export const TLB_ENTRIES: u32 = 4096;
export const TLB_KERNEL_READ: u32 = TLB_BASE;
export const TLB_KERNEL_WRITE: u32 = TLB_BASE + 0x4000;
export const TLB_USER_READ: u32 = TLB_BASE + 0x8000;
export const TLB_USER_WRITE: u32 = TLB_BASE + 0xc000;
export const TLB_ADDEND: u32 = TLB_BASE + 0x10000;
/** Offset of a TLB's write tags from its read tags, and of the user set from the kernel set. */
export const TLB_WRITE_OFF: u32 = 0x4000;
export const TLB_USER_OFF: u32 = 0x8000;
/**
 * Global pages (CR4.PGE): per TLB entry a u8, 1 while its tags came from a global translation
 * (bit 8 of the PTE, or of a 4 MiB PDE), then the list of those entries (u16 each, up to
 * TLB_ENTRIES), so a CR3 load can carry them over to the new epoch (state.ts tlbFlushNonGlobal).
 */
export const TLB_GLOBAL: u32 = TLB_BASE + 0x14000;
export const TLB_GLOBAL_LIST: u32 = TLB_BASE + 0x15000;
export const TLB_SIZE: u32 = 0x17000;
/** A u32 that is always 0: the "no register" operand of a decoded effective address. */
export const ZERO_WORD: u32 = 0xa1100;
/** Decode cache (cpu/dcache.ts): per physical page, 1 while decoded instructions from it exist. */
export const CODE_PAGES: u32 = 0x200000;
/** Per physical page: u16 generation, bumped by every write to a page in CODE_PAGES. */
export const PAGE_GEN: u32 = 0x300000;
/** Decoded instructions, direct-mapped by host address: DCACHE_ENTRIES x 32 bytes. */
export const DCACHE: u32 = 0x500000;
export const DCACHE_ENTRIES: u32 = 0x10000;
/** Profile build only: u16 opcode of each decode-cache entry, for the opcode counters. */
export const PROFILE_ENTRY_OPS: u32 = 0x700000;

// ---- Virtqueues processed in the core (assembly/virtio/queue.ts, docs/virtio.md) ----
/**
 * VQ_SLOTS slots of VQ_SLOT_SIZE bytes, one per virtqueue; the host allocates slots and reads and
 * writes a slot's words (offsets below, u32 each) between calls to the vq* exports.
 */
export const VQ_BASE: u32 = 0x100000;
export const VQ_SLOTS: u32 = 32;
export const VQ_SLOT_SIZE: u32 = 0x4000;
/** Largest queue size the core handles (QEMU's VIRTQUEUE_MAX_SIZE), and segments per chain. */
export const VQ_MAX_QUEUE_SIZE: u32 = 1024;
export const VQ_MAX_SEGMENTS: u32 = 1024;
// Queue configuration and indexes, set by the transport (host) and advanced by the core.
export const VQ_SIZE: u32 = 0;
export const VQ_MAX: u32 = 4;
export const VQ_READY: u32 = 8;
export const VQ_BROKEN: u32 = 12;
export const VQ_EVENT_IDX: u32 = 16;
export const VQ_INDIRECT: u32 = 20;
export const VQ_DESC: u32 = 24;
export const VQ_DESC_HI: u32 = 28;
export const VQ_AVAIL: u32 = 32;
export const VQ_AVAIL_HI: u32 = 36;
export const VQ_USED: u32 = 40;
export const VQ_USED_HI: u32 = 44;
export const VQ_LAST_AVAIL: u32 = 48;
export const VQ_USED_IDX: u32 = 52;
export const VQ_SIGNALLED: u32 = 56;
// Results of the last call: status, the walked chain's totals, where an error was.
export const VQ_STATUS: u32 = 64;
export const VQ_SEG_COUNT: u32 = 68;
export const VQ_READABLE: u32 = 72;
export const VQ_WRITABLE: u32 = 76;
export const VQ_ERR_DESC: u32 = 80;
export const VQ_ERR_INDIRECT: u32 = 84;
export const VQ_ERR_ADDR: u32 = 88;
export const VQ_ERR_LEN: u32 = 92;
export const VQ_ERR_FLAGS: u32 = 96;
export const VQ_ERR_NEXT: u32 = 100;
/** Bit 0: the descriptor table and the available ring overlap (a warning, §2.7). */
export const VQ_WARNINGS: u32 = 104;
/** The last walk's segments: u32 guest-physical address[], u32 length[], u8 writable[]. */
export const VQ_SEG_ADDR: u32 = 0x100;
export const VQ_SEG_LEN: u32 = 0x1100;
export const VQ_SEG_WRITE: u32 = 0x2100;
/** Core-private: in-flight and rejected-duplicate bitmaps per head, heads of unpublished used entries. */
export const VQ_INFLIGHT: u32 = 0x2500;
export const VQ_DUPLICATE: u32 = 0x2580;
export const VQ_SHADOW: u32 = 0x2600;

// ---- Exit trace ring (docs/exits.md; the host reads it, the core writes it) ----
/**
 * The last C_TRACE_SIZE exits (0: tracing off), entry k of the run at TRACE_RING + 32 * (k mod
 * C_TRACE_SIZE): u32 cause | width << 8 | the cause the core saw << 16 (a notify was a pio-out
 * or mmio-write), u32 port / physical address / vector, u32 value, u32
 * tag (the host's C_EXIT_TAG: a virtqueue number, an IRQ line, + 1), u64 retired instructions,
 * u64 guest time in ns (the TSC: instructions + S_TSC_OFFSET).
 */
export const TRACE_RING: u32 = 0x800000;
export const TRACE_MAX_ENTRIES: u32 = 65536;
export const TRACE_ENTRY_SIZE: u32 = 32;

// ---- Exit causes (the core's counters and trace entries; docs/exits.md) ----
export const EXIT_PIO_IN: u32 = 1;
export const EXIT_PIO_OUT: u32 = 2;
export const EXIT_MMIO_READ: u32 = 3;
export const EXIT_MMIO_WRITE: u32 = 4;
/** A port or MMIO write the host marked as a virtqueue notify (C_EXIT_RECLASS). */
export const EXIT_NOTIFY: u32 = 5;
/** A maskable interrupt taken from the host's controller (the value is the vector). */
export const EXIT_INTERRUPT: u32 = 6;
/** HLT executed (the CPU waits for an interrupt). */
export const EXIT_HLT: u32 = 7;
/** An exception delivered to the guest: traced and counted per vector, not an exit on VT-x/KVM. */
export const EXIT_EXCEPTION: u32 = 8;
/** run() returned because the host asked it to stop: counted, not a guest exit. */
export const EXIT_HOST_STOP: u32 = 9;
export const EXIT_CAUSES: u32 = 10;

// ---- CPU state block (offsets from STATE_BASE) ----
// General registers in encoding order EAX ECX EDX EBX ESP EBP ESI EDI, u32 each.
export const S_REGS: u32 = 0;
export const S_EIP: u32 = 32;
/** EFLAGS as last materialised; arithmetic flags may be stale while S_LF_OP != LF_NONE. */
export const S_EFLAGS: u32 = 36;
// Segment registers in encoding order ES CS SS DS FS GS: selector, base, limit, attributes.
// Attributes hold bits 8..23 of the descriptor's high dword (type, S, DPL, P, AVL, L, D/B, G),
// shifted down by 8.
export const S_SEG_SEL: u32 = 40;
export const S_SEG_BASE: u32 = 64;
export const S_SEG_LIMIT: u32 = 88;
export const S_SEG_ATTR: u32 = 112;
export const S_CR0: u32 = 136;
export const S_CR2: u32 = 140;
export const S_CR3: u32 = 144;
export const S_CR4: u32 = 148;
export const S_GDTR_BASE: u32 = 152;
export const S_GDTR_LIMIT: u32 = 156;
export const S_IDTR_BASE: u32 = 160;
export const S_IDTR_LIMIT: u32 = 164;
// LDTR and TR: selector, base, limit, attributes (same encoding as segments).
export const S_LDTR: u32 = 168;
export const S_TR: u32 = 184;
export const S_DR: u32 = 200; // DR0..DR7
export const S_CPL: u32 = 232;
// Lazy arithmetic flags: the last flag-setting operation and its operands.
export const S_LF_OP: u32 = 236;
export const S_LF_DST: u32 = 240;
export const S_LF_SRC: u32 = 244;
export const S_LF_RES: u32 = 248;
/** Retired instructions (u64). */
export const S_INSTRET: u32 = 256;
/** 1 while the CPU sits in HLT waiting for an interrupt. */
export const S_HALTED: u32 = 264;
/** 1 for one instruction after STI / MOV SS / POP SS: interrupts are held off. */
export const S_INT_SHADOW: u32 = 268;
/** MSRs the core keeps: SYSENTER_CS/ESP/EIP. */
export const S_SYSENTER: u32 = 272;
/**
 * TSC offset (u64): RDTSC reads S_INSTRET + S_TSC_OFFSET. The host advances it as guest time
 * passes without instructions (HLT skipped to a deadline, or host time in realtime mode), so the
 * TSC follows the machine clock at its nominal 1 GHz (one instruction per ns).
 */
export const S_TSC_OFFSET: u32 = 288;
/**
 * x87 FPU state (SDM vol. 1 §8.1), S_FPU..S_FPU+160: control word, status word (TOP in bits
 * 11-13), abridged tag (bit i set = physical register i in use, the FXSAVE encoding; the full tag
 * word is computed from the contents when stored), last instruction pointer (offset, CS selector),
 * last opcode (11 bits), last data pointer (offset, selector), u32 each; then the physical
 * registers R0..R7, 16 bytes each: the 80-bit value (significand u64, sign and exponent u16).
 */
export const S_FPU: u32 = 512;
export const S_FPU_CW: u32 = 512;
export const S_FPU_SW: u32 = 516;
export const S_FPU_TAG: u32 = 520;
export const S_FPU_IP: u32 = 524;
export const S_FPU_CS: u32 = 528;
export const S_FPU_OP: u32 = 532;
export const S_FPU_DP: u32 = 536;
export const S_FPU_DS: u32 = 540;
export const S_FPU_REGS: u32 = 544;
export const STATE_SIZE: u32 = 1024;

// ---- Control block (offsets from CTL_BASE) ----
/** Guest RAM size in bytes (set by init). */
export const C_RAM_SIZE: u32 = 0;
/** Non-zero: the host asks the core to stop after the current instruction (value = reason). */
export const C_STOP_REQUEST: u32 = 4;
/** Non-zero while the interrupt controller has a maskable interrupt to deliver. */
export const C_IRQ_PENDING: u32 = 8;
/** Trap totals by kind (u32 each, wrapping). */
export const C_PIO_IN: u32 = 16;
export const C_PIO_OUT: u32 = 20;
export const C_MMIO_READ: u32 = 24;
export const C_MMIO_WRITE: u32 = 28;
/** MMIO accesses whose address did not fit the counter table (counted, not attributed). */
export const C_MMIO_UNTRACKED: u32 = 32;
/** Diagnostics for an internal error stop: the opcode and the linear EIP it was at. */
export const C_ERR_OPCODE: u32 = 40;
export const C_ERR_EIP: u32 = 44;
/** Last exception delivered (vector, error code) and count, for diagnostics. */
export const C_LAST_EXC: u32 = 48;
export const C_LAST_EXC_CODE: u32 = 52;
export const C_EXC_COUNT: u32 = 56;
/** Interrupts delivered from the host's controller. */
export const C_IRQ_COUNT: u32 = 60;
/**
 * Firmware ROM size in bytes (0: none; set by reset). The ROM's bytes live in linear memory right
 * after guest RAM, at RAM_BASE + C_RAM_SIZE, and show at guest-physical [4 GiB - size, 4 GiB) and,
 * for its last min(size, 128 KiB) bytes, at [1 MiB - that, 1 MiB) over RAM, read-only.
 */
export const C_ROM_SIZE: u32 = 128;
/** Guest writes that hit the ROM and were dropped (u32, wrapping), for diagnostics. */
export const C_ROM_WRITES: u32 = 132;
/** AND-mask applied to every guest-physical address: 0xFFFFFFFF, or bit 20 clear while A20 is off. */
export const C_A20_MASK: u32 = 136;
/** RAM bytes the physical fast path may reach: C_RAM_SIZE, or at most 1 MiB while A20 is off. */
export const C_FAST_LIMIT: u32 = 140;
/**
 * The x87 FERR# output (SDM vol. 1 §8.7): 1 while an unmasked x87 exception is
 * pending and CR0.NE=0. A PC routes FERR# to IRQ13 through the PIC; the host reads this word.
 */
export const C_FERR: u32 = 64;

// Exit accounting (assembly/exits.ts, docs/exits.md). Everything from C_COUNTERS_START up is
// cleared by reset() and clearCounters(); below it only the trap totals above are counters.
/** Tracing: ring entries in use (0 = off, at most TRACE_MAX_ENTRIES); set by the host, kept by reset. */
export const C_TRACE_SIZE: u32 = 144;
/** Set by the host while it handles an exit: the cause it becomes (EXIT_NOTIFY), 0 for none. */
export const C_EXIT_RECLASS: u32 = 148;
/** Set by the host while it handles an exit: a tag for the trace entry (queue or IRQ line + 1). */
export const C_EXIT_TAG: u32 = 152;
export const C_COUNTERS_START: u32 = 160;
/** Exits traced since the last clear (u32, wrapping): the next entry is this mod C_TRACE_SIZE. */
export const C_TRACE_COUNT: u32 = 160;
/** Retired instructions at the last exit (u64), for the gap histogram. */
export const C_EXIT_LAST_INSTRET: u32 = 168;
/** Exits by cause: u32 per EXIT_* code (index 0 unused). */
export const C_CAUSE_COUNTS: u32 = 176;
/** Trapped accesses by kind and width: [pio in, pio out, mmio read, mmio write] x [1, 2, 4] bytes. */
export const C_WIDTH_COUNTS: u32 = 224;
/** Instructions between consecutive exits, log2 buckets: [0], [1], [2,3], [4,7], ..., [2^31, ...). */
export const C_GAP_HISTOGRAM: u32 = 272;
export const GAP_BUCKETS: u32 = 33;
/** Interrupts taken, per vector (256 x u32). */
export const C_IRQ_VECTORS: u32 = 512;
/** Exceptions delivered, per vector (256 x u32). */
export const C_EXC_VECTORS: u32 = 1536;
/** Software interrupts (INT n, INT3, INTO, INT1), per vector (256 x u32): not exits on VT-x. */
export const C_SOFT_INT_VECTORS: u32 = 2560;
export const C_COUNTERS_END: u32 = 3584;

// ---- Stop reasons returned by run() ----
export const STOP_BUDGET: i32 = 0;
/** HLT with interrupts enabled: the host advances time and delivers an interrupt. */
export const STOP_HLT: i32 = 1;
/** Triple fault: the machine shuts down (a PC resets; the host decides). */
export const STOP_SHUTDOWN: i32 = 2;
/** The host asked to stop (debug-exit, power-off, reset, user). */
export const STOP_HOST: i32 = 3;
/** The core met something it does not implement; C_ERR_* say what. */
export const STOP_INTERNAL_ERROR: i32 = 4;
/** HLT with interrupts disabled: only NMI or reset can wake the CPU. */
export const STOP_HLT_DEAD: i32 = 5;
