/**
 * The disk configurations `trapdoor bench io` compares: the same raw image behind the emulated
 * PIIX3 IDE controller (PIO or bus-master DMA) and behind virtio-blk (legacy I/O-port notify or
 * modern MMIO notify), the virtio ones with VIRTIO_F_INDIRECT_DESC / VIRTIO_F_EVENT_IDX offered
 * or not (virtio 1.2 §2.7.5.3, §2.7.7, §2.7.10).
 */
import type { DriveOptions } from "../machine.js";
import type { DiskBackend } from "../disk/backend.js";

export interface IoConfig {
  /** Name on the command line and in the table. */
  name: string;
  /** What it is, for the legend. */
  description: string;
  /** The guest's block device. */
  device: "/dev/sda" | "/dev/vda";
  /** Kernel command line words added to the base line. */
  append: string;
  /** Trap-statistics device names that belong to the disk (exits of other devices are not its). */
  deviceNames: readonly string[];
  drive(backend: DiskBackend): DriveOptions;
}

function ide(name: string, description: string, append: string): IoConfig {
  return {
    name,
    description,
    device: "/dev/sda",
    append,
    // The primary channel's Command Block (ide0), Control Block (ide0-ctl) and bus master registers.
    deviceNames: ["ide0", "ide0-ctl", "ide-bm"],
    drive: (backend) => ({ backend, interface: "ide" }),
  };
}

function virtio(transport: "modern" | "transitional", indirect: boolean, eventIdx: boolean): IoConfig {
  const legacy = transport === "transitional";
  const off = [!indirect && "noindirect", !eventIdx && "noeventidx"].filter(Boolean);
  const features = [indirect && "INDIRECT_DESC", eventIdx && "EVENT_IDX"].filter(Boolean);
  return {
    name: [legacy ? "virtio-legacy" : "virtio-modern", ...off].join("-"),
    description:
      (legacy
        ? "virtio-blk transitional, driven through the legacy I/O BAR (virtio_pci.force_legacy=1)"
        : "virtio-blk modern (virtio 1.x, MMIO notify)") +
      `; offers ${features.length > 0 ? features.join(" + ") : "neither INDIRECT_DESC nor EVENT_IDX"}`,
    device: "/dev/vda",
    append: legacy ? "virtio_pci.force_legacy=1" : "",
    deviceNames: ["virtio-blk0", "virtio-blk0-legacy"],
    drive: (backend) => ({ backend, transport, ring: { indirect, eventIdx } }),
  };
}

/** Every configuration, in table order. */
export const IO_CONFIGS: readonly IoConfig[] = [
  ide("ide-pio", "PIIX3 IDE, PIO data transfers (libata.dma=0)", "libata.dma=0"),
  ide("ide-dma", "PIIX3 IDE, bus-master DMA (MWDMA2)", ""),
  ...(["transitional", "modern"] as const).flatMap((t) => [
    virtio(t, true, true),
    virtio(t, false, true),
    virtio(t, true, false),
    virtio(t, false, false),
  ]),
];

/** Look configurations up by name; throws a RangeError naming the unknown one. */
export function selectConfigs(names: readonly string[]): IoConfig[] {
  return names.map((n) => {
    const c = IO_CONFIGS.find((x) => x.name === n);
    if (c === undefined) {
      throw new RangeError(
        `unknown configuration "${n}" (known: ${IO_CONFIGS.map((x) => x.name).join(", ")})`,
      );
    }
    return c;
  });
}
