import type { IoBus } from "../bus/io-bus.js";
import type { IrqLine } from "../devices/irq.js";
import type { DiskBackend } from "../disk/backend.js";
import { PCI_COMMAND_IO, PCI_COMMAND_MASTER } from "../pci/config-space.js";
import { PciDevice, type PciDeviceState } from "../pci/pci-device.js";
import { AtaDrive } from "./ata-drive.js";
import {
  BusMasterChannel,
  BusMasterRegisters,
  BUS_MASTER_BAR_SIZE,
  type BusMasterState,
} from "./bus-master.js";
import { IdeChannel, type IdeChannelState } from "./ide-channel.js";

/*
 * The IDE function of the Intel 82371SB PIIX3 (PCI 8086:7010), as QEMU's "piix3-ide": class 01h
 * (mass storage), sub-class 01h (IDE), programming interface 80h (bus master capable; both channels
 * fixed in compatibility mode, so they use the legacy ISA ports and IRQs and there are no BAR0-3).
 *
 * Configuration registers (PIIX3 datasheet, PCI configuration registers of function 1):
 *   20h-23h BMIBA   Bus Master Interface Base Address = BAR4, a 16-byte I/O block (bus-master.ts)
 *   40h-41h IDETIM  primary channel timing; bit 15 IDE Decode Enable
 *   42h-43h IDETIM  secondary channel timing; bit 15 IDE Decode Enable
 *   44h     SIDETIM slave timing
 * The timing fields only shape cycles on a real cable; here they are plain read/write storage
 * (Linux's ata_piix programs them for each PIO/DMA mode). The legacy ports of a channel decode while
 * the PCI Command I/O Space Enable bit and that channel's IDE Decode Enable bit are both 1; then
 * 0x1F0-0x1F7 / 0x3F6 (IRQ 14) serve the primary and 0x170-0x177 / 0x376 (IRQ 15) the secondary.
 * A BIOS sets both Decode Enable bits at POST (Linux's ata_piix refuses a channel whose bit is 0);
 * trapdoor has no chipset-specific POST, so they are 1 from power-on.
 *
 * Drives: index 0 = primary master (Linux /dev/sda), 1 = primary slave, 2 = secondary master,
 * 3 = secondary slave, as QEMU's -drive index= numbering.
 */

export const PIIX3_IDE_VENDOR_ID = 0x8086;
export const PIIX3_IDE_DEVICE_ID = 0x7010;
export const IDETIM_PRIMARY = 0x40;
export const IDETIM_SECONDARY = 0x42;
export const SIDETIM = 0x44;
/** IDETIM bit 15: IDE Decode Enable. */
export const IDETIM_DECODE_ENABLE = 0x8000;
/** BAR index of the bus master block (BMIBA). */
export const BMIBA_BAR = 4;
/** Legacy port bases: [command block, control block] of the primary and secondary channels. */
export const IDE_LEGACY_PORTS: readonly (readonly [number, number])[] = [
  [0x1f0, 0x3f6],
  [0x170, 0x376],
];
/** Legacy IRQs of the primary and secondary channels. */
export const IDE_LEGACY_IRQS: readonly number[] = [14, 15];
/** Diagnostics kept in `diagnostics` (the count goes on). */
export const IDE_DIAGNOSTICS_KEPT = 256;

/** One guest mistake the controller detected. */
export interface IdeDiagnostic {
  /** "ide0.0" (channel 0, device 0), "ide0-bm" (the primary's bus master), ... */
  where: string;
  message: string;
}

/** One drive on the controller. */
export interface IdeDriveOptions {
  backend: DiskBackend;
  /** Refuse writes (default: the backend's readOnly). */
  readOnly?: boolean;
  /** IDENTIFY serial number (20 characters at most). */
  serial?: string;
}

export interface PiixIdeOptions {
  /** Up to four drives: primary master, primary slave, secondary master, secondary slave. */
  drives: readonly (IdeDriveOptions | undefined)[];
  /** Guest RAM, for bus master DMA. */
  ram: Uint8Array;
  /** The port bus the legacy Command/Control Blocks are mapped on. */
  pio: IoBus;
  /** IRQ lines by ISA IRQ number (14 and 15 are used). */
  irq: (line: number) => IrqLine;
  /** Called for each diagnostic (they are also kept in `diagnostics`). */
  onDiagnostic?: (d: IdeDiagnostic) => void;
  /** DMA wrote guest RAM [addr, addr + len). */
  onGuestWrite?: (addr: number, len: number) => void;
}

/** Plain snapshot of the controller: PCI config, both channels and their bus masters. */
export interface PiixIdeState {
  pci: PciDeviceState;
  channels: IdeChannelState[];
  busMaster: BusMasterState[];
}

export class PiixIde extends PciDevice {
  readonly channels: readonly [IdeChannel, IdeChannel];
  readonly busMaster: BusMasterRegisters;
  /** The first IDE_DIAGNOSTICS_KEPT diagnostics; `diagnosticCount` counts them all. */
  readonly diagnostics: IdeDiagnostic[] = [];
  diagnosticCount = 0;
  private readonly onDiagnostic: ((d: IdeDiagnostic) => void) | undefined;

  constructor(o: PiixIdeOptions) {
    if (o.drives.length > 4) throw new RangeError(`piix-ide: ${o.drives.length} drives, at most 4 fit`);
    const busMaster = new BusMasterRegisters("ide-bm");
    super({
      name: "piix3-ide",
      vendorId: PIIX3_IDE_VENDOR_ID,
      deviceId: PIIX3_IDE_DEVICE_ID,
      classCode: 0x01,
      subclass: 0x01,
      progIf: 0x80,
      bars: [
        undefined,
        undefined,
        undefined,
        undefined,
        { kind: "io", size: BUS_MASTER_BAR_SIZE, device: busMaster },
      ],
    });
    this.busMaster = busMaster;
    this.onDiagnostic = o.onDiagnostic;
    const c = this.config;
    c.set16(IDETIM_PRIMARY, IDETIM_DECODE_ENABLE);
    c.set16(IDETIM_SECONDARY, IDETIM_DECODE_ENABLE);
    c.setWriteMask(IDETIM_PRIMARY, 4, 0xffffffff);
    c.setWriteMask(SIDETIM, 1, 0xff);
    const channel = (ch: number): IdeChannel => {
      const drive = (unit: number): AtaDrive | undefined => {
        const d = o.drives[2 * ch + unit];
        if (d === undefined) return undefined;
        return new AtaDrive({
          ...d,
          serial: d.serial ?? `TRAPDOOR-ATA-${2 * ch + unit}`,
          diagnose: (m) => this.diagnose(`ide${ch}.${unit}`, m),
        });
      };
      const result = new IdeChannel({
        name: `ide${ch}`,
        irq: o.irq(IDE_LEGACY_IRQS[ch]!),
        drives: [drive(0), drive(1)],
        decodeEnabled: () => this.decodes(ch),
      });
      const [cmd, ctl] = IDE_LEGACY_PORTS[ch]!;
      o.pio.map(cmd, 8, result.commandBlock);
      o.pio.map(ctl, 1, result.controlBlock);
      return result;
    };
    this.channels = [channel(0), channel(1)];
    const bm = this.channels.map(
      (ch, i) =>
        new BusMasterChannel(ch, {
          ram: o.ram,
          masterEnabled: () => (this.config.command & PCI_COMMAND_MASTER) !== 0,
          diagnose: (m) => this.diagnose(`ide${i}-bm`, m),
          onGuestWrite: o.onGuestWrite,
        }),
    );
    busMaster.connect(bm[0]!, bm[1]!);
  }

  /** The drive at index 0-3 (primary master, primary slave, secondary master, secondary slave). */
  drive(index: number): AtaDrive | undefined {
    return this.channels[index >> 1]?.drives[index & 1];
  }

  saveIdeState(): PiixIdeState {
    return {
      pci: this.saveState(),
      channels: this.channels.map((c) => c.saveState()),
      busMaster: [0, 1].map((i) => this.busMaster.channel(i).saveState()),
    };
  }

  loadIdeState(s: PiixIdeState): void {
    this.loadState(s.pci);
    s.busMaster.forEach((b, i) => this.busMaster.channel(i)?.loadState(b));
    s.channels.forEach((c, i) => this.channels[i]?.loadState(c));
  }

  /** Whether channel `c`'s legacy ports decode now. */
  private decodes(c: number): boolean {
    const idetim = this.config.get16(c === 0 ? IDETIM_PRIMARY : IDETIM_SECONDARY);
    return (this.config.command & PCI_COMMAND_IO) !== 0 && (idetim & IDETIM_DECODE_ENABLE) !== 0;
  }

  private diagnose(where: string, message: string): void {
    const d: IdeDiagnostic = { where, message };
    this.diagnosticCount++;
    if (this.diagnostics.length < IDE_DIAGNOSTICS_KEPT) this.diagnostics.push(d);
    this.onDiagnostic?.(d);
  }
}
