import { allOnes, type AccessWidth, type IoDevice } from "../bus/device.js";
import type { IrqLine } from "../devices/irq.js";
import type { AtaDrive, AtaDriveState } from "./ata-drive.js";
import * as A from "./ata-constants.js";

/*
 * One IDE channel (cable): up to two ATA devices behind a Command Block of 8 ports (0x1F0-0x1F7 on
 * the primary, 0x170-0x177 on the secondary) and a Control Block port (0x3F6 / 0x376: Alternate
 * Status on read, Device Control on write), with one interrupt line (IRQ 14 / IRQ 15, edge-triggered
 * on the ISA PIC in compatibility mode).
 *
 * Register semantics (ATA/ATAPI-6 clauses 5 and 7):
 *  - Writes to registers 1-6 go to both devices; the Device register's DEV bit selects the device
 *    that answers reads and executes commands. A write to any Command Block register clears HOB.
 *  - Only the selected device drives INTRQ, and only while nIEN is 0; otherwise INTRQ is
 *    high-impedance (the line reads low).
 *  - When device 1 is selected but absent, device 0 answers for it with all registers 00h, as
 *    QEMU's IDE does (Linux's presence check then finds nothing there). A channel with no device at
 *    all floats: every register reads all ones.
 *  - SRST in Device Control resets both devices: busy while set, signature once cleared.
 *  - Each Data register access is one trap moving 2 (or 4) bytes: trap-and-emulate in its plain
 *    form, with no shortcut that would hide the cost of PIO.
 */

/** What a channel asks of the bus master that serves it. */
export interface DmaEngine {
  /** A device has a DMA command waiting: move its data if the engine is started. */
  dmaReady(): void;
  /** The channel's interrupt line went high (bus master status Interrupt bit). */
  interrupt(): void;
}

export interface IdeChannelOptions {
  /** "ide0" / "ide1": the device name in trap statistics. */
  name: string;
  /** The IRQ line (PIC input 14 or 15). */
  irq: IrqLine;
  /** Device 0 (master) and device 1 (slave); either may be absent. */
  drives: readonly [AtaDrive | undefined, AtaDrive | undefined];
  /** Whether the legacy ports are decoded now (PCI I/O enable and IDETIM IDE Decode Enable). */
  decodeEnabled: () => boolean;
}

/** Plain snapshot of a channel and its drives. */
export interface IdeChannelState {
  deviceControl: number;
  selected: number;
  drives: (AtaDriveState | null)[];
}

export class IdeChannel {
  readonly name: string;
  readonly drives: readonly [AtaDrive | undefined, AtaDrive | undefined];
  /** The Command Block (8 ports). */
  readonly commandBlock: IoDevice;
  /** The Control Block (1 port). */
  readonly controlBlock: IoDevice;
  /** The bus master channel (set by the controller). */
  dma: DmaEngine | undefined = undefined;
  /** Device Control register as last written (nIEN, SRST, HOB). */
  deviceControl = 0;
  /** Selected device: 0 or 1 (Device register bit 4). */
  selected = 0;
  /** Interrupts raised (rising edges of INTRQ on the IRQ line), for statistics. */
  interrupts = 0;
  private readonly irq: IrqLine;
  private readonly decodeEnabled: () => boolean;
  private line = false;

  constructor(o: IdeChannelOptions) {
    this.name = o.name;
    this.drives = o.drives;
    this.irq = o.irq;
    this.decodeEnabled = o.decodeEnabled;
    for (const d of o.drives) {
      if (d === undefined) continue;
      d.onInterruptChange = () => this.updateIrq();
      d.onDmaReady = () => this.dma?.dmaReady();
    }
    this.commandBlock = {
      name: o.name,
      read: (offset, width) => this.readCommand(offset, width),
      write: (offset, width, value) => this.writeCommand(offset, width, value),
    };
    this.controlBlock = {
      name: `${o.name}-ctl`,
      read: (_offset, width) => this.readControl(width),
      write: (_offset, _width, value) => this.writeControl(value),
    };
  }

  /** The selected device, or undefined if it is absent. */
  get current(): AtaDrive | undefined {
    return this.drives[this.selected];
  }

  /** The selected device if it has a DMA command waiting for the bus master. */
  pendingDma(): AtaDrive | undefined {
    const d = this.current;
    return d?.dmaRequest !== undefined ? d : undefined;
  }

  private get floating(): boolean {
    return !this.decodeEnabled() || (this.drives[0] === undefined && this.drives[1] === undefined);
  }

  private readCommand(offset: number, width: AccessWidth): number {
    if (this.floating) return allOnes(width);
    const d = this.current;
    if (offset === A.REG_DATA) return d === undefined ? 0 : d.readData(width);
    // Registers 1-7 are 8 bits wide: a wider access reads consecutive registers.
    let v = 0;
    for (let i = 0; i < width && offset + i < 8; i++) v |= this.readRegister(offset + i) << (8 * i);
    return v >>> 0;
  }

  private readRegister(reg: number): number {
    const d = this.current;
    if (d === undefined) return 0;
    if (reg === A.REG_STATUS_COMMAND) {
      const status = d.readStatus(true);
      this.updateIrq();
      return status;
    }
    return d.readRegister(reg, (this.deviceControl & A.CONTROL_HOB) !== 0);
  }

  private writeCommand(offset: number, width: AccessWidth, value: number): void {
    if (this.floating) return;
    if (offset === A.REG_DATA) {
      this.current?.writeData(width, value);
      return;
    }
    for (let i = 0; i < width && offset + i < 8; i++)
      this.writeRegister(offset + i, (value >>> (8 * i)) & 0xff);
  }

  private writeRegister(reg: number, v: number): void {
    this.deviceControl &= ~A.CONTROL_HOB;
    if (reg === A.REG_STATUS_COMMAND) {
      if (v === A.CMD_EXECUTE_DEVICE_DIAGNOSTIC) {
        // Executed by both devices whichever is selected; device 0 is selected afterwards.
        this.selected = 0;
        for (const d of this.drives) d?.command(v);
      } else {
        this.current?.command(v);
      }
      this.updateIrq();
      return;
    }
    for (const d of this.drives) d?.writeRegister(reg, v);
    if (reg === A.REG_DEVICE) {
      this.selected = (v & A.DEVICE_DEV) !== 0 ? 1 : 0;
      this.updateIrq();
    }
  }

  private readControl(width: AccessWidth): number {
    if (this.floating) return allOnes(width);
    return this.current?.readStatus(false) ?? 0; // Alternate Status: no interrupt acknowledge
  }

  private writeControl(value: number): void {
    if (this.floating) return;
    const was = this.deviceControl;
    this.deviceControl = value & (A.CONTROL_NIEN | A.CONTROL_SRST | A.CONTROL_HOB);
    const srst = (value & A.CONTROL_SRST) !== 0;
    if (srst && !(was & A.CONTROL_SRST)) {
      for (const d of this.drives) d?.beginReset();
    } else if (!srst && was & A.CONTROL_SRST) {
      this.selected = 0;
      for (const d of this.drives) d?.endReset();
    }
    this.updateIrq();
  }

  saveState(): IdeChannelState {
    return {
      deviceControl: this.deviceControl,
      selected: this.selected,
      drives: this.drives.map((d) => d?.saveState() ?? null),
    };
  }

  loadState(s: IdeChannelState): void {
    this.deviceControl = s.deviceControl & (A.CONTROL_NIEN | A.CONTROL_SRST | A.CONTROL_HOB);
    this.selected = s.selected === 1 ? 1 : 0;
    this.drives.forEach((d, i) => {
      const ds = s.drives[i];
      if (d !== undefined && ds) d.loadState(ds);
    });
    this.line = false;
    this.irq.set(false);
    this.updateIrq();
  }

  /** Drive the IRQ line from the selected device's INTRQ and nIEN; a rising edge is an interrupt. */
  private updateIrq(): void {
    const level = !(this.deviceControl & A.CONTROL_NIEN) && this.current?.intrq === true;
    if (level === this.line) return;
    this.line = level;
    this.irq.set(level);
    if (!level) return;
    this.interrupts++;
    this.dma?.interrupt();
  }
}
