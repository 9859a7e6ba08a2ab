/**
 * Which device drives each ISA IRQ line of a Machine, to attribute interrupts (ExitStats.irqLines)
 * to devices. The ISA lines are fixed by the PC platform (docs/platform.md); PCI functions' INTx#
 * go where the firmware routed them, so several devices may share a line.
 */
import type { Machine } from "../machine.js";
import { IDE_LEGACY_IRQS } from "../ide/piix-ide.js";

/** The device (or devices, joined with "+", when a line is shared) on each IRQ line in use. */
export interface IrqOwner {
  irq: number;
  device: string;
}

/** ISA IRQs of the platform's fixed devices (IBM PC/AT assignments). */
const PIT_IRQ = 0;
const KBC_IRQ = 1;
const COM1_IRQ = 4;
const RTC_IRQ = 8;
const KBC_AUX_IRQ = 12;

export function irqOwners(m: Machine): IrqOwner[] {
  const owners = new Map<number, string[]>();
  const add = (irq: number | undefined, device: string): void => {
    if (irq === undefined) return;
    owners.set(irq, [...(owners.get(irq) ?? []), device]);
  };
  add(PIT_IRQ, m.platform.pit.name);
  add(KBC_IRQ, "i8042");
  add(COM1_IRQ, m.uart.name);
  add(RTC_IRQ, m.platform.rtc.name);
  add(KBC_AUX_IRQ, "i8042");
  if (m.ide !== undefined) for (const irq of IDE_LEGACY_IRQS) add(irq, m.ide.name);
  for (const d of m.drives) add(d.interruptRoute, d.name);
  return [...owners.entries()]
    .sort(([a], [b]) => a - b)
    .map(([irq, devices]) => ({ irq, device: devices.join("+") }));
}
