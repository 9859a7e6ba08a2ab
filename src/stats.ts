import type { Core } from "./core/core.js";
import type { IoBus } from "./bus/io-bus.js";
import type { PostPort } from "./devices/post-port.js";

/** Accesses to one port or MMIO address, attributed to the device that claims it. */
export interface AddressCount {
  /** Port number or guest-physical address. */
  address: number;
  /** Device name, or "unclaimed". */
  device: string;
  reads: number;
  writes: number;
}

/** Totals per device (all of its ports or addresses together). */
export interface DeviceCount {
  device: string;
  reads: number;
  writes: number;
}

/** A snapshot of the trap counters: what the guest did that reached the host. */
export interface TrapStats {
  /** Retired guest instructions. */
  instructions: number;
  pio: { reads: number; writes: number; ports: AddressCount[] };
  mmio: { reads: number; writes: number; untracked: number; addresses: AddressCount[] };
  devices: DeviceCount[];
  /** Exceptions delivered to the guest, and interrupts taken from the controller. */
  exceptions: number;
  interrupts: number;
  /** The last POST code written to port 0x80 (null before any) and how many were written. */
  postCode: { last: number | null; count: number };
  /** Guest writes to the firmware ROM, dropped. */
  romWrites: number;
}

/** Read every counter from the core and attribute each address through the buses. */
export function collectStats(core: Core, pio: IoBus, mmio: IoBus, post: PostPort): TrapStats {
  const ports: AddressCount[] = [];
  for (let port = 0; port < 0x10000; port++) {
    const [reads, writes] = core.portCounts(port);
    if (reads !== 0 || writes !== 0) {
      ports.push({ address: port, device: pio.find(port)?.device.name ?? "unclaimed", reads, writes });
    }
  }
  const addresses: AddressCount[] = [];
  for (const [address, [reads, writes]] of core.mmioCounts()) {
    addresses.push({ address, device: mmio.find(address)?.device.name ?? "unclaimed", reads, writes });
  }
  addresses.sort((a, b) => a.address - b.address);
  const byDevice = new Map<string, DeviceCount>();
  for (const c of [...ports, ...addresses]) {
    const d = byDevice.get(c.device) ?? { device: c.device, reads: 0, writes: 0 };
    d.reads += c.reads;
    d.writes += c.writes;
    byDevice.set(c.device, d);
  }
  return {
    instructions: core.instructions,
    pio: { reads: core.ctl("C_PIO_IN"), writes: core.ctl("C_PIO_OUT"), ports },
    mmio: {
      reads: core.ctl("C_MMIO_READ"),
      writes: core.ctl("C_MMIO_WRITE"),
      untracked: core.ctl("C_MMIO_UNTRACKED"),
      addresses,
    },
    devices: [...byDevice.values()].sort((a, b) => b.reads + b.writes - (a.reads + a.writes)),
    exceptions: core.ctl("C_EXC_COUNT"),
    interrupts: core.ctl("C_IRQ_COUNT"),
    postCode: { last: post.lastCode < 0 ? null : post.lastCode, count: post.count },
    romWrites: core.ctl("C_ROM_WRITES"),
  };
}
