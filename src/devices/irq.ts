/**
 * An interrupt request wire from a device to an interrupt controller. Devices hold a line, never
 * the controller: they recompute their output level from their own state and set the line.
 */
export interface IrqLine {
  /** Drive the line high (true) or low (false). Setting the same level twice is harmless. */
  set(level: boolean): void;
}

/** A line connected to nothing (a device whose interrupt is not wired). */
export const unconnectedIrq: IrqLine = { set() {} };
