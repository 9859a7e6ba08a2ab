/**
 * The worker's side of the live dashboard: one counter snapshot per sample (Machine.stats, the same
 * API as the CLI's --stats), the change since the previous sample (StatsSeries), measured host time,
 * IRQ owners and virtio queue state. Taken a few times per second between run slices; nothing is
 * sent per exit.
 */
import { irqOwners, StatsSeries, virtioStats, type Machine, type TrapStats } from "../src/index.js";
import type { DashboardSample, MmioRegionCount } from "./protocol.js";

/** MMIO accesses are grouped by 4 KiB page of the device's mapping (virtio-pci puts one capability per page). */
const REGION_BYTES = 0x1000;

export class DashboardFeed {
  private latest: TrapStats;
  private readonly series: StatsSeries;

  constructor(private readonly m: Machine) {
    this.latest = m.stats();
    this.series = new StatsSeries(() => this.latest);
  }

  sample(): DashboardSample {
    this.latest = this.m.stats();
    return {
      point: this.series.next(),
      stats: this.latest,
      mmioRegions: this.mmioRegions(),
      host: this.m.hostStats(),
      irqOwners: irqOwners(this.m),
      virtio: this.m.drives.map(virtioStats),
    };
  }

  private mmioRegions(): MmioRegionCount[] {
    const regions = new Map<number, MmioRegionCount>();
    for (const a of this.latest.mmio.addresses) {
      const base = this.m.mmio.find(a.address)?.base ?? a.address;
      const offset = Math.floor((a.address - base) / REGION_BYTES) * REGION_BYTES;
      const address = base + offset;
      const r = regions.get(address) ?? { device: a.device, address, offset, reads: 0, writes: 0 };
      r.reads += a.reads;
      r.writes += a.writes;
      regions.set(address, r);
    }
    return [...regions.values()];
  }
}
