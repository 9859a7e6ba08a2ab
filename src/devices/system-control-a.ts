import { allOnes, type AccessWidth, type IoDevice } from "../bus/device.js";

/** Snapshot of System Control Port A: plain numbers only. */
export interface SystemControlAState {
  /** The register's byte as last written (bit 1 = A20 gate, bit 0 = fast reset). */
  value: number;
}

export interface SystemControlAOptions {
  /** Drives the A20 gate: called with the new state whenever bit 1 is written. */
  setA20: (enabled: boolean) => void;
  /** Bit 0 went from 0 to 1: the guest asks for a reset of the machine. */
  onReset: () => void;
}

/** Bit 1: A20 gate ("ALT_A20_GATE"); bit 0: fast reset ("INIT_NOW"). */
export const PORT92_A20 = 0x02;
export const PORT92_RESET = 0x01;

/**
 * System Control Port A (I/O port 0x92, the PS/2 "fast A20 and reset" port; Intel ICH/PCH
 * datasheets, PORT92): bit 1 opens the A20 gate, and a 0 → 1 transition of bit 0 resets the
 * machine (QEMU hw/i386/port92.c triggers on that edge). Reads return the register as written,
 * other bits included (as QEMU). At power-on the A20 gate is open, as in QEMU and Bochs, so the
 * register reads 0x02 (Bochs reads bit 1 from the gate's state; QEMU's latch starts at 0 although
 * its gate is open). The keyboard controller's A20 line (0x64/0x60) is not modelled here.
 * Map it with length 1; a wider read returns the register in the low byte and all ones above.
 */
export class SystemControlA implements IoDevice {
  readonly name = "system-control-a";
  private state: SystemControlAState = { value: PORT92_A20 };
  private readonly setA20: (enabled: boolean) => void;
  private readonly onReset: () => void;

  constructor(options: SystemControlAOptions) {
    this.setA20 = options.setA20;
    this.onReset = options.onReset;
  }

  /** The register's current byte. */
  get value(): number {
    return this.state.value;
  }

  read(_offset: number, width: AccessWidth): number {
    return ((allOnes(width) & ~0xff) | this.state.value) >>> 0;
  }

  write(_offset: number, _width: AccessWidth, value: number): void {
    const old = this.state.value;
    const v = value & 0xff;
    this.state.value = v;
    this.setA20((v & PORT92_A20) !== 0);
    if ((v & PORT92_RESET) !== 0 && (old & PORT92_RESET) === 0) this.onReset();
  }

  /** A copy of the device state. */
  saveState(): SystemControlAState {
    return { ...this.state };
  }

  /** Restore a state produced by saveState, and drive the A20 gate to match. */
  loadState(saved: SystemControlAState): void {
    this.state = { value: saved.value & 0xff };
    this.setA20((this.state.value & PORT92_A20) !== 0);
  }
}
