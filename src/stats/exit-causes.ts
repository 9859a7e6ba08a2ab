/**
 * Exit causes by name, each tied to the core's EXIT_* code (assembly/layout.ts is the source of
 * the numbers; docs/exits.md says what each means).
 */

/** Causes that are guest exits: the guest handed control to the VMM. */
export const EXIT_CAUSES = [
  "pio-in",
  "pio-out",
  "mmio-read",
  "mmio-write",
  "notify",
  "interrupt",
  "hlt",
] as const;
export type ExitCause = (typeof EXIT_CAUSES)[number];

/** Events the core counts and traces that are not exits (on VT-x/KVM the guest handles these). */
export const EVENT_CAUSES = ["exception", "host-stop"] as const;
export type EventCause = (typeof EVENT_CAUSES)[number];

/** The layout constant of each cause's code. */
export const CAUSE_CONSTANTS: Readonly<Record<ExitCause | EventCause, string>> = {
  "pio-in": "EXIT_PIO_IN",
  "pio-out": "EXIT_PIO_OUT",
  "mmio-read": "EXIT_MMIO_READ",
  "mmio-write": "EXIT_MMIO_WRITE",
  notify: "EXIT_NOTIFY",
  interrupt: "EXIT_INTERRUPT",
  hlt: "EXIT_HLT",
  exception: "EXIT_EXCEPTION",
  "host-stop": "EXIT_HOST_STOP",
};

/** Cause name by core code, for a core's layout. */
export function causeNames(at: (name: string) => number): (ExitCause | EventCause)[] {
  const names: (ExitCause | EventCause)[] = [];
  for (const [name, constant] of Object.entries(CAUSE_CONSTANTS)) names[at(constant)] = name as ExitCause;
  return names;
}
