/**
 * The contract every emulated device implements.
 *
 * A device sees only (offset, width, value): the bus that claimed the access subtracts the base
 * of the device's range, so a device never knows where it was mapped. Widths are in bytes.
 * Device state lives in plain named fields so that a snapshot is a plain object.
 */
export type AccessWidth = 1 | 2 | 4;

export interface IoDevice {
  /** Short stable name used in trap statistics ("uart0", "debug-exit", ...). */
  readonly name: string;
  /** Read `width` bytes at `offset` within the device's range. Returns an unsigned value. */
  read(offset: number, width: AccessWidth): number;
  /** Write the low `width` bytes of `value` at `offset` within the device's range. */
  write(offset: number, width: AccessWidth, value: number): void;
}

/** All-ones for an access width: what a read from nothing returns on a PC. */
export function allOnes(width: AccessWidth): number {
  return width === 4 ? 0xffffffff : (1 << (width * 8)) - 1;
}
