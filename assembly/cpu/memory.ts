// Guest memory access: segmentation (SDM vol. 3 §3.4), paging (§4.3, 32-bit paging), and the
// physical split between RAM and firmware ROM (in linear memory from RAM_BASE) and MMIO (trapped
// to the host). Every guest-supplied address is checked against the RAM and ROM windows before it
// touches linear memory.
import {
  RAM_BASE,
  CTL_BASE,
  C_MMIO_READ,
  C_MMIO_WRITE,
  C_MMIO_UNTRACKED,
  MMIO_COUNTERS,
  MMIO_COUNTER_SLOTS,
  STATE_BASE,
  S_CR2,
  S_CR3,
  S_CR4,
  C_RAM_SIZE,
  C_ROM_SIZE,
  C_ROM_WRITES,
  C_A20_MASK,
  C_FAST_LIMIT,
  SEG_FAST,
  SEG_FAST_READ,
  SEG_FAST_WRITE,
  TLB_KERNEL_READ,
  TLB_KERNEL_WRITE,
  TLB_ADDEND,
  TLB_WRITE_OFF,
  TLB_USER_OFF,
  CODE_PAGES,
} from "../layout";
import { mmioRead as hostMmioRead, mmioWrite as hostMmioWrite } from "../host";
import {
  segBase,
  segLimit,
  segAttr,
  cr0,
  cpl,
  CR0_PG,
  CR0_WP,
  SS,
  tlbEpoch,
  tlbEpochW,
  tlbUserOff,
  tlbFlush,
  tlbIsGlobal,
  tlbMarkGlobal,
} from "./state";
import { codeWrite } from "./dcache";
import { dataBreakpoints, dataAccess, watchedPage } from "./debug";
import { raise, faulted, raiseAttention, EXC_GP, EXC_SS, EXC_PF } from "./fault";
import { S_EFLAGS, EXIT_MMIO_READ, EXIT_MMIO_WRITE } from "../layout";
import { recordAccess } from "../exits";

// ---------------------------------------------------------------- physical

/** Count one MMIO access by address in the open-addressed counter table. */
function countMmio(addr: u32, write: bool): void {
  store<u32>(
    CTL_BASE + (write ? C_MMIO_WRITE : C_MMIO_READ),
    load<u32>(CTL_BASE + (write ? C_MMIO_WRITE : C_MMIO_READ)) + 1,
  );
  let slot = (addr * 0x9e3779b1) >>> 20; // 12-bit hash
  for (let probe: u32 = 0; probe < 8; probe++) {
    const p = MMIO_COUNTERS + ((slot + probe) & (MMIO_COUNTER_SLOTS - 1)) * 16;
    const used = load<u32>(p + 12);
    if (used == 0) {
      store<u32>(p, addr);
      store<u32>(p + 12, 1);
    } else if (load<u32>(p) != addr) {
      continue;
    }
    const off: u32 = write ? 8 : 4;
    store<u32>(p + off, load<u32>(p + off) + 1);
    return;
  }
  store<u32>(CTL_BASE + C_MMIO_UNTRACKED, load<u32>(CTL_BASE + C_MMIO_UNTRACKED) + 1);
}

function mmioRead(addr: u32, width: u32): u32 {
  countMmio(addr, false);
  const v = hostMmioRead(addr, width);
  raiseAttention();
  recordAccess(2, EXIT_MMIO_READ, addr, width, v);
  return v;
}

function mmioWrite(addr: u32, width: u32, v: u32): void {
  countMmio(addr, true);
  hostMmioWrite(addr, width, v);
  raiseAttention();
  recordAccess(3, EXIT_MMIO_WRITE, addr, width, v);
}

// The physical map (docs/core-abi.md):
//   [0, ramSize)                         RAM, at RAM_BASE + p
//   [1 MiB - shadow, 1 MiB)              the ROM's last `shadow` = min(romSize, 128 KiB) bytes,
//                                        read-only, over RAM (a PC's BIOS area at 0xE0000/0xF0000,
//                                        as QEMU's "isa-bios" alias of the -bios image)
//   [4 GiB - romSize, 4 GiB)             the ROM, read-only (where the reset vector 0xFFFFFFF0 is)
//   anything else                        MMIO, trapped to the host
// The ROM's bytes follow RAM in linear memory (RAM_BASE + ramSize); writes to it are dropped and
// counted in C_ROM_WRITES. With the A20 gate off, bit 20 of every address is forced to 0 (the
// 8086 wrap at 1 MiB; port 0x92 bit 1, as QEMU's x86 a20_mask).
//
// The fast path is RAM only: [p, p + n) clear of the BIOS window [0xE0000, 0x100000) and below
// C_FAST_LIMIT, which is the RAM size with A20 on and at most 1 MiB with it off (below 1 MiB the
// mask changes nothing). Everything else, ROM fetches included, takes `place`.

const BIOS_WINDOW_END: u32 = 0x100000;
const BIOS_WINDOW_SIZE: u32 = 0x20000;

/** True when [p, p + n) is plain RAM the fast path may touch directly (see above). */
function fastRam(p: u32, n: u32): bool {
  const limit = load<u32>(CTL_BASE + C_FAST_LIMIT);
  return (
    p - (BIOS_WINDOW_END - BIOS_WINDOW_SIZE - n + 1) >= BIOS_WINDOW_SIZE + n - 1 &&
    p < limit &&
    limit - p >= n
  );
}

function a20(p: u32): u32 {
  return p & load<u32>(CTL_BASE + C_A20_MASK);
}

/** Set by `backing`: the byte it found is ROM. */
let romHit = false;

/** Linear address of the RAM or ROM byte at guest-physical `p` (A20 applied), or 0 for MMIO. */
function backing(p: u32): u32 {
  const ram = load<u32>(CTL_BASE + C_RAM_SIZE);
  const rom = load<u32>(CTL_BASE + C_ROM_SIZE);
  const romEnd = RAM_BASE + ram + rom;
  romHit = true;
  // p in [1 MiB - shadow, 1 MiB), and p in [4 GiB - rom, 4 GiB); both ends are the ROM's end.
  if (BIOS_WINDOW_END - p - 1 < min(rom, BIOS_WINDOW_SIZE)) return romEnd - (BIOS_WINDOW_END - p);
  if (0 - p - 1 < rom) return romEnd - (0 - p);
  romHit = false;
  return p < ram ? RAM_BASE + p : 0;
}

/** `place` results below any linear address: all of the access is MMIO, or it must be split. */
const PLACE_MMIO: u32 = 0;
const PLACE_SPLIT: u32 = 1;

/**
 * Where the `n`-byte access at `p` goes when it missed the fast path: the linear address when all
 * of it is one run of RAM or of ROM (`romHit` says which), PLACE_MMIO when all of it is MMIO in one
 * piece, PLACE_SPLIT when it straddles regions or A20 wraps inside it (the caller halves it).
 */
function place(p: u32, n: u32): u32 {
  const lo = a20(p);
  const hi = a20(p + n - 1);
  const first = backing(lo);
  const rom = romHit;
  const last = backing(hi);
  if (hi - lo != n - 1 || rom != romHit) return PLACE_SPLIT;
  if (first == 0) return last == 0 ? PLACE_MMIO : PLACE_SPLIT;
  return last - first == n - 1 ? first : PLACE_SPLIT;
}

/** A write that hit the ROM: dropped, as a PC's chipset does, and counted. */
function romWrite(): void {
  store<u32>(CTL_BASE + C_ROM_WRITES, load<u32>(CTL_BASE + C_ROM_WRITES) + 1);
}

/** Open (A20 on, the reset state) or close the A20 gate; the host calls this for port 0x92. */
export function setA20(enabled: bool): void {
  const ram = load<u32>(CTL_BASE + C_RAM_SIZE);
  store<u32>(CTL_BASE + C_A20_MASK, enabled ? 0xffffffff : ~BIOS_WINDOW_END);
  store<u32>(CTL_BASE + C_FAST_LIMIT, enabled ? ram : min(ram, BIOS_WINDOW_END));
  tlbFlush();
}

export function physRead8(p: u32): u32 {
  if (fastRam(p, 1)) return load<u8>(RAM_BASE + p);
  const at = place(p, 1);
  return at != PLACE_MMIO ? load<u8>(at) : mmioRead(a20(p), 1) & 0xff;
}
export function physRead16(p: u32): u32 {
  if (fastRam(p, 2)) return load<u16>(RAM_BASE + p);
  const at = place(p, 2);
  if (at > PLACE_SPLIT) return load<u16>(at);
  if (at == PLACE_MMIO) return mmioRead(a20(p), 2) & 0xffff;
  return physRead8(p) | (physRead8(p + 1) << 8);
}
export function physRead32(p: u32): u32 {
  if (fastRam(p, 4)) return load<u32>(RAM_BASE + p);
  const at = place(p, 4);
  if (at > PLACE_SPLIT) return load<u32>(at);
  if (at == PLACE_MMIO) return mmioRead(a20(p), 4);
  return physRead16(p) | (physRead16(p + 2) << 16);
}
/** A write of n bytes at RAM address p: invalidate decoded code in its page(s) (dcache.ts). */
// @ts-ignore: decorator
@inline
function codeCheck(p: u32, n: u32): void {
  if (load<u8>(CODE_PAGES + (p >>> 12)) != 0) codeWrite(p);
  if (load<u8>(CODE_PAGES + ((p + n - 1) >>> 12)) != 0) codeWrite(p + n - 1);
}
/** The same for a write that `place` resolved to host address `at` (RAM, or ROM: no code). */
function codeCheckHost(at: u32, n: u32): void {
  const ram = load<u32>(CTL_BASE + C_RAM_SIZE);
  if (at - RAM_BASE < ram) codeCheck(at - RAM_BASE, n);
}

export function physWrite8(p: u32, v: u32): void {
  if (fastRam(p, 1)) {
    codeCheck(p, 1);
    store<u8>(RAM_BASE + p, <u8>v);
    return;
  }
  const at = place(p, 1);
  if (at == PLACE_MMIO) mmioWrite(a20(p), 1, v & 0xff);
  else if (romHit) romWrite();
  else {
    codeCheckHost(at, 1);
    store<u8>(at, <u8>v);
  }
}
export function physWrite16(p: u32, v: u32): void {
  if (fastRam(p, 2)) {
    codeCheck(p, 2);
    store<u16>(RAM_BASE + p, <u16>v);
    return;
  }
  const at = place(p, 2);
  if (at == PLACE_MMIO) mmioWrite(a20(p), 2, v & 0xffff);
  else if (at == PLACE_SPLIT) {
    physWrite8(p, v);
    physWrite8(p + 1, v >> 8);
  } else if (romHit) romWrite();
  else {
    codeCheckHost(at, 2);
    store<u16>(at, <u16>v);
  }
}
export function physWrite32(p: u32, v: u32): void {
  if (fastRam(p, 4)) {
    codeCheck(p, 4);
    store<u32>(RAM_BASE + p, v);
    return;
  }
  const at = place(p, 4);
  if (at == PLACE_MMIO) mmioWrite(a20(p), 4, v);
  else if (at == PLACE_SPLIT) {
    physWrite16(p, v);
    physWrite16(p + 2, v >> 16);
  } else if (romHit) romWrite();
  else {
    codeCheckHost(at, 4);
    store<u32>(at, v);
  }
}

// ---------------------------------------------------------------- linear (paging)

const PTE_P: u32 = 1;
const PTE_RW: u32 = 2;
const PTE_US: u32 = 4;
const PTE_A: u32 = 0x20;
const PTE_D: u32 = 0x40;
const PDE_PS: u32 = 0x80;
const PTE_G: u32 = 0x100;
const CR4_PSE: u32 = 0x10;
const CR4_PGE: u32 = 0x80;

/** Set by `translate`: the translation is global (G=1 in the PTE or 4 MiB PDE, and CR4.PGE). */
let translatedGlobal = false;

/**
 * Translate a linear address with 32-bit paging (SDM vol. 3 §4.3, §4.6 access rights, §4.8
 * accessed/dirty flags). On a violation raises #PF with CR2 and the error code (§4.7) and returns 0.
 */
export function translate(lin: u32, write: bool, user: bool): u32 {
  const cr3 = load<u32>(STATE_BASE + S_CR3);
  const pdeAddr = (cr3 & 0xfffff000) | ((lin >>> 20) & 0xffc);
  const pde = physRead32(pdeAddr);
  let code: u32 = (write ? 2 : 0) | (user ? 4 : 0);
  if ((pde & PTE_P) == 0) return pageFault(lin, code);
  const wp = (cr0() & CR0_WP) != 0;
  const cr4 = load<u32>(STATE_BASE + S_CR4);
  if ((pde & PDE_PS) != 0 && (cr4 & CR4_PSE) != 0) {
    // 4 MiB page
    if (!allowed(pde, write, user, wp)) return pageFault(lin, code | 1);
    translatedGlobal = (pde & PTE_G) != 0 && (cr4 & CR4_PGE) != 0;
    const upd = pde | PTE_A | (write ? PTE_D : 0);
    if (upd != pde) physWrite32(pdeAddr, upd);
    return (pde & 0xffc00000) | (lin & 0x3fffff);
  }
  const pteAddr = (pde & 0xfffff000) | ((lin >>> 10) & 0xffc);
  const pte = physRead32(pteAddr);
  if ((pte & PTE_P) == 0) return pageFault(lin, code);
  // Effective rights are the most restrictive of the two levels.
  if (!allowed(pde & pte, write, user, wp)) return pageFault(lin, code | 1);
  if ((pde & PTE_A) == 0) physWrite32(pdeAddr, pde | PTE_A);
  const upd = pte | PTE_A | (write ? PTE_D : 0);
  if (upd != pte) physWrite32(pteAddr, upd);
  // G is ignored in a PDE that points to a page table (SDM vol. 3 §4.10.2.2).
  translatedGlobal = (pte & PTE_G) != 0 && (cr4 & CR4_PGE) != 0;
  return (pte & 0xfffff000) | (lin & 0xfff);
}

function allowed(e: u32, write: bool, user: bool, wp: bool): bool {
  if (user && (e & PTE_US) == 0) return false;
  if (write && (e & PTE_RW) == 0 && (user || wp)) return false;
  return true;
}

function pageFault(lin: u32, code: u32): u32 {
  store<u32>(STATE_BASE + S_CR2, lin);
  raise(EXC_PF, code);
  return 0;
}

function paging(): bool {
  return (cr0() & CR0_PG) != 0;
}

function isUser(): bool {
  return cpl() == 3;
}

// ---------------------------------------------------------------- software TLB
// Direct-mapped, TLB_ENTRIES entries by linear page number. Each entry has four tags (kernel
// read, kernel write, user read, user write; u32 = linear page | tlbEpoch) and one host addend
// (host address - linear address) shared by them. Only whole 4 KiB pages of plain RAM enter it
// (never MMIO, ROM, the BIOS window or an A20-wrapped page), so a hit is a plain load/store.
// Entries are filled by the slow path after a successful access: by the page walk with paging
// on (a read fills a read tag; a write, which has set the PTE's D bit, fills a write tag), and
// as the identity map with paging off. The whole TLB is dropped (tlbFlush, O(1) by the epoch) on
// CR0/CR4 writes, INVLPG, A20 changes and at run() entry; a CR3 load (MOV to CR3, task switch)
// keeps the entries of global pages (state.ts tlbFlushNonGlobal).

/** The TLB's host address for an access of `n` bytes at `lin`, or 0 on a miss. */
// @ts-ignore: decorator
@inline
export function tlbLookup(lin: u32, n: u32, tagBase: u32, epoch: u32): u32 {
  const e = (lin >>> 10) & 0x3ffc;
  // Compared with the page of the access's last byte: an access that crosses into the next page
  // cannot match, since a tag at index e always holds a page whose low 12 bits are e.
  if (load<u32>(tagBase + tlbUserOff + e) == (((lin + n - 1) & 0xfffff000) | epoch))
    return load<u32>(TLB_ADDEND + e) + lin;
  return 0;
}

/**
 * Enter the page of `lin`, which maps to guest-physical `p`, for reads or writes at the CPL;
 * `global`: the translation came from a global page.
 */
function tlbFill(lin: u32, p: u32, write: bool, global: bool): void {
  const page = p & 0xfffff000;
  if (!fastRam(page, 0x1000)) return;
  // A page with a data breakpoint keeps every access on the slow path (debug.ts).
  if (dataBreakpoints && watchedPage(lin)) return;
  // A page holding decoded code gets no write entry: its writes must reach codeWrite.
  if (write && load<u8>(CODE_PAGES + (page >>> 12)) != 0) return;
  const e = (lin >>> 10) & 0x3ffc;
  const key = (lin & 0xfffff000) | (write ? tlbEpochW : tlbEpoch);
  const addend = RAM_BASE + page - (lin & 0xfffff000);
  // The four tags share the addend (and the global mark): drop the ones that belong to another
  // page, mapping or kind of translation.
  if (load<u32>(TLB_ADDEND + e) != addend || tlbIsGlobal(e) != global) {
    store<u32>(TLB_KERNEL_READ + e, 0);
    store<u32>(TLB_KERNEL_WRITE + e, 0);
    store<u32>(TLB_KERNEL_READ + TLB_USER_OFF + e, 0);
    store<u32>(TLB_KERNEL_WRITE + TLB_USER_OFF + e, 0);
    store<u32>(TLB_ADDEND + e, addend);
  }
  tlbMarkGlobal(e, global);
  store<u32>(TLB_KERNEL_READ + tlbUserOff + (write ? TLB_WRITE_OFF : 0) + e, key);
}

/** Guest-physical address of `lin` for a CPL-privilege access (0 after raising #PF), TLB filled. */
function linPhys(lin: u32, write: bool): u32 {
  if (!paging()) {
    tlbFill(lin, lin, write, false);
    return lin;
  }
  const p = translate(lin, write, isUser());
  if (!faulted()) tlbFill(lin, p, write, translatedGlobal);
  return p;
}

export function linRead8(lin: u32): u32 {
  if (dataBreakpoints) dataAccess(lin, 1, false);
  const p = linPhys(lin, false);
  return faulted() ? 0 : physRead8(p);
}
export function linRead16(lin: u32): u32 {
  if (dataBreakpoints) dataAccess(lin, 2, false);
  if ((lin & 0xfff) > 0xffe && paging()) return linRead8(lin) | (linRead8(lin + 1) << 8);
  const p = linPhys(lin, false);
  return faulted() ? 0 : physRead16(p);
}
export function linRead32(lin: u32): u32 {
  if (dataBreakpoints) dataAccess(lin, 4, false);
  if ((lin & 0xfff) > 0xffc && paging()) return linRead16(lin) | (linRead16(lin + 2) << 16);
  const p = linPhys(lin, false);
  return faulted() ? 0 : physRead32(p);
}
export function linWrite8(lin: u32, v: u32): void {
  if (dataBreakpoints) dataAccess(lin, 1, true);
  const p = linPhys(lin, true);
  if (!faulted()) physWrite8(p, v);
}
export function linWrite16(lin: u32, v: u32): void {
  if (dataBreakpoints) dataAccess(lin, 2, true);
  if (!paging()) {
    tlbFill(lin, lin, true, false);
    return physWrite16(lin, v);
  }
  if ((lin & 0xfff) > 0xffe) {
    // Check both pages before writing either byte, so a fault leaves memory untouched.
    translate(lin + 1, true, isUser());
    if (faulted()) return;
    linWrite8(lin, v);
    linWrite8(lin + 1, v >> 8);
    return;
  }
  const p = linPhys(lin, true);
  if (!faulted()) physWrite16(p, v);
}
export function linWrite32(lin: u32, v: u32): void {
  if (dataBreakpoints) dataAccess(lin, 4, true);
  if (!paging()) {
    tlbFill(lin, lin, true, false);
    return physWrite32(lin, v);
  }
  if ((lin & 0xfff) > 0xffc) {
    translate(lin + 3, true, isUser());
    if (faulted()) return;
    translate(lin, true, isUser());
    if (faulted()) return;
    for (let i: u32 = 0; i < 4; i++) linWrite8(lin + i, v >> (i * 8));
    return;
  }
  const p = linPhys(lin, true);
  if (!faulted()) physWrite32(p, v);
}

/** Kernel-privilege reads for descriptor tables, the IDT and the TSS (SDM vol. 3 §5.5). */
export function sysRead8(lin: u32): u32 {
  if (!paging()) return physRead8(lin);
  const p = translate(lin, false, false);
  return faulted() ? 0 : physRead8(p);
}
export function sysRead32(lin: u32): u32 {
  if (!paging()) return physRead32(lin);
  const p = translate(lin, false, false);
  return faulted() ? 0 : physRead32(p);
}

// ---------------------------------------------------------------- segmented

/**
 * Limit check for an access of `len` bytes at `off` in segment `s` (SDM vol. 3 §5.3).
 * Expand-down data segments accept offsets above the limit, up to 0xFFFF or 0xFFFFFFFF (B bit).
 */
export function segCheck(s: u32, off: u32, len: u32): bool {
  const lim = segLimit(s);
  const attr = segAttr(s);
  // A null (unusable) segment faults on any access in protected mode (SDM vol. 3 §3.4.2).
  if ((attr & 0x80) == 0 && segTypeChecked()) {
    raise(s == SS ? EXC_SS : EXC_GP, 0);
    return false;
  }
  let ok: bool;
  if ((attr & 0x1c) == 0x14) {
    const upper: u32 = (attr & 0x4000) != 0 ? 0xffffffff : 0xffff;
    ok = off > lim && off <= upper && upper - off >= len - 1;
  } else {
    ok = off <= lim && lim - off >= len - 1;
  }
  if (!ok) raise(s == SS ? EXC_SS : EXC_GP, 0);
  return ok;
}

// Segmented reads and writes: the fast path is the segment's precomputed limit check (state.ts
// SEG_FAST_READ/SEG_FAST_WRITE) and a TLB hit; anything else takes the full check and the slow path.

/** The fast segment check of a read or write of up to 4 bytes (state.ts SEG_FAST_READ/WRITE). */
// @ts-ignore: decorator
@inline
function fastOff(s: u32, off: u32, bounds: u32): bool {
  return off < load<u32>(bounds + (s << 2));
}

/** Set by `hostRun`: whole elements available at the host address it returned. */
export let runElems: u32 = 0;

/**
 * Bulk access for REP string instructions: the host address of `off` in segment `s` when the
 * fast path allows it (segment check and a TLB entry for reads or writes), with `runElems` = how
 * many `esz`-byte elements from there stay inside the segment limit and the page (at most
 * `max`); 0 when the caller must take the per-element path (which faults or fills the TLB).
 */
export function hostRun(s: u32, off: u32, esz: u32, max: u32, write: bool): u32 {
  runElems = 0;
  if (!fastOff(s, off, write ? SEG_FAST_WRITE : SEG_FAST_READ)) return 0;
  const lin = segBase(s) + off;
  const h = write
    ? tlbLookup(lin, esz, TLB_KERNEL_WRITE, tlbEpochW)
    : tlbLookup(lin, esz, TLB_KERNEL_READ, tlbEpoch);
  if (h == 0) return 0;
  let bytes: u32 = 0x1000 - (lin & 0xfff);
  const toLimit = load<u32>(SEG_FAST + (s << 2)) + 4 - off; // 0: the whole 4 GiB
  if (toLimit != 0 && toLimit < bytes) bytes = toLimit;
  const n = bytes / esz;
  runElems = n < max ? n : max;
  return h;
}

// @ts-ignore: decorator
@inline
export function read8(s: u32, off: u32): u32 {
  if (fastOff(s, off, SEG_FAST_READ)) {
    const h = tlbLookup(segBase(s) + off, 1, TLB_KERNEL_READ, tlbEpoch);
    if (h != 0) return load<u8>(h);
  }
  return read8Slow(s, off);
}
// @ts-ignore: decorator
@inline
export function read16(s: u32, off: u32): u32 {
  if (fastOff(s, off, SEG_FAST_READ)) {
    const h = tlbLookup(segBase(s) + off, 2, TLB_KERNEL_READ, tlbEpoch);
    if (h != 0) return load<u16>(h);
  }
  return read16Slow(s, off);
}
// @ts-ignore: decorator
@inline
export function read32(s: u32, off: u32): u32 {
  if (fastOff(s, off, SEG_FAST_READ)) {
    const h = tlbLookup(segBase(s) + off, 4, TLB_KERNEL_READ, tlbEpoch);
    if (h != 0) return load<u32>(h);
  }
  return read32Slow(s, off);
}
function read8Slow(s: u32, off: u32): u32 {
  if (!segCheck(s, off, 1)) return 0;
  return linRead8(segBase(s) + off);
}
function read16Slow(s: u32, off: u32): u32 {
  if (!segCheck(s, off, 2)) return 0;
  return linRead16(segBase(s) + off);
}
function read32Slow(s: u32, off: u32): u32 {
  if (!segCheck(s, off, 4)) return 0;
  return linRead32(segBase(s) + off);
}
/**
 * Protected-mode type check for a data write (SDM vol. 3 §5.4): only a writable data segment
 * may be written; code and read-only data segments raise #GP(0) (#SS(0) through SS).
 */
function writableSeg(s: u32): bool {
  if ((segAttr(s) & 0x1a) == 0x12 || !segTypeChecked()) return true;
  raise(s == SS ? EXC_SS : EXC_GP, 0);
  return false;
}

/** Segment types and null selectors are enforced in protected mode only (not real mode, not V86). */
function segTypeChecked(): bool {
  return (cr0() & 1) != 0 && (load<u32>(STATE_BASE + S_EFLAGS) & 0x20000) == 0;
}

// @ts-ignore: decorator
@inline
export function write8(s: u32, off: u32, v: u32): void {
  if (fastOff(s, off, SEG_FAST_WRITE)) {
    const h = tlbLookup(segBase(s) + off, 1, TLB_KERNEL_WRITE, tlbEpochW);
    if (h != 0) {
      store<u8>(h, <u8>v);
      return;
    }
  }
  write8Slow(s, off, v);
}
// @ts-ignore: decorator
@inline
export function write16(s: u32, off: u32, v: u32): void {
  if (fastOff(s, off, SEG_FAST_WRITE)) {
    const h = tlbLookup(segBase(s) + off, 2, TLB_KERNEL_WRITE, tlbEpochW);
    if (h != 0) {
      store<u16>(h, <u16>v);
      return;
    }
  }
  write16Slow(s, off, v);
}
// @ts-ignore: decorator
@inline
export function write32(s: u32, off: u32, v: u32): void {
  if (fastOff(s, off, SEG_FAST_WRITE)) {
    const h = tlbLookup(segBase(s) + off, 4, TLB_KERNEL_WRITE, tlbEpochW);
    if (h != 0) {
      store<u32>(h, v);
      return;
    }
  }
  write32Slow(s, off, v);
}
function write8Slow(s: u32, off: u32, v: u32): void {
  if (writableSeg(s) && segCheck(s, off, 1)) linWrite8(segBase(s) + off, v);
}
function write16Slow(s: u32, off: u32, v: u32): void {
  if (writableSeg(s) && segCheck(s, off, 2)) linWrite16(segBase(s) + off, v);
}
function write32Slow(s: u32, off: u32, v: u32): void {
  if (writableSeg(s) && segCheck(s, off, 4)) linWrite32(segBase(s) + off, v);
}
