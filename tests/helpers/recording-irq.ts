import type { IrqLine } from "../../src/devices/irq.js";

/** An IRQ line that remembers its level and every change driven on it. */
export class RecordingIrq implements IrqLine {
  level = false;
  events: boolean[] = [];
  set(level: boolean): void {
    this.level = level;
    this.events.push(level);
  }
}
