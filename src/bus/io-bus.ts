import { allOnes, type AccessWidth, type IoDevice } from "./device.js";

/** One device claiming [base, base + length) on a bus. */
export interface Mapping {
  readonly base: number;
  readonly length: number;
  readonly device: IoDevice;
}

/** Counts of accesses that no device claimed, per address (bounded: a guest may probe anywhere). */
export interface UnclaimedCounts {
  reads: Map<number, number>;
  writes: Map<number, number>;
  /** Accesses to addresses beyond the first UNCLAIMED_TRACKED distinct ones, counted but not attributed. */
  untracked: number;
}

/** How many distinct unclaimed addresses are counted individually per direction. */
export const UNCLAIMED_TRACKED = 4096;

/**
 * An address-range bus shared by the port-I/O space and the MMIO space. It dispatches a trap to
 * the device that claims the address, with the offset inside that device's range. Accesses that
 * nothing claims read as all ones (a floating ISA/PCI bus) and are counted per address.
 *
 * Ranges are kept sorted and looked up by binary search: a PC has a few dozen ranges at most.
 */
export class IoBus {
  private readonly mappings: Mapping[] = [];
  readonly unclaimed: UnclaimedCounts = { reads: new Map(), writes: new Map(), untracked: 0 };

  constructor(
    /** "pio" or "mmio", used in error messages. */
    readonly space: string,
    /** Size of the address space: 0x10000 for ports, 2^32 for MMIO. */
    readonly limit: number,
  ) {}

  /** Claim [base, base + length) for `device`. Overlapping claims are a machine-assembly bug. */
  map(base: number, length: number, device: IoDevice): void {
    if (!Number.isInteger(base) || !Number.isInteger(length) || length <= 0 || base < 0) {
      throw new RangeError(`${this.space}: bad range ${base}+${length} for ${device.name}`);
    }
    if (base + length > this.limit) {
      throw new RangeError(`${this.space}: range ${hex(base)}+${length} for ${device.name} exceeds the bus`);
    }
    const clash = this.mappings.find((m) => base < m.base + m.length && m.base < base + length);
    if (clash) {
      throw new Error(
        `${this.space}: ${device.name} at ${hex(base)}+${length} overlaps ${clash.device.name} at ${hex(clash.base)}+${clash.length}`,
      );
    }
    this.mappings.push({ base, length, device });
    this.mappings.sort((a, b) => a.base - b.base);
  }

  /** Remove every range claimed by `device` (used when a PCI BAR moves). */
  unmap(device: IoDevice): void {
    for (let i = this.mappings.length - 1; i >= 0; i--) {
      if (this.mappings[i]!.device === device) this.mappings.splice(i, 1);
    }
  }

  /** The mapping claiming `addr`, or undefined. */
  find(addr: number): Mapping | undefined {
    const ms = this.mappings;
    let lo = 0;
    let hi = ms.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = ms[mid]!;
      if (addr < m.base) hi = mid - 1;
      else if (addr >= m.base + m.length) lo = mid + 1;
      else return m;
    }
    return undefined;
  }

  /** Every mapping, in address order (for statistics and `info mtree`-style listings). */
  list(): readonly Mapping[] {
    return this.mappings;
  }

  read(addr: number, width: AccessWidth): number {
    const m = this.find(addr);
    if (m === undefined) {
      this.countUnclaimed(this.unclaimed.reads, addr);
      return allOnes(width);
    }
    return m.device.read(addr - m.base, width) >>> 0;
  }

  private countUnclaimed(map: Map<number, number>, addr: number): void {
    const n = map.get(addr);
    if (n !== undefined) map.set(addr, n + 1);
    else if (map.size < UNCLAIMED_TRACKED) map.set(addr, 1);
    else this.unclaimed.untracked++;
  }

  write(addr: number, width: AccessWidth, value: number): void {
    const m = this.find(addr);
    if (m === undefined) {
      this.countUnclaimed(this.unclaimed.writes, addr);
      return;
    }
    m.device.write(addr - m.base, width, value >>> 0);
  }
}

function hex(n: number): string {
  return "0x" + n.toString(16);
}
