import type { Core } from "../core/core.js";

/**
 * What a device tells the exit accounting about the exit it is handling: that this port or MMIO
 * write was a virtqueue notify (so it counts as cause "notify", not as a plain write).
 */
export interface ExitMarker {
  notify(device: string, queue: number): void;
}

/** Queue numbers at or above this are counted together (queue -1): the index comes from the guest. */
export const NOTIFY_QUEUES_TRACKED = 64;

/**
 * The host's side of exit accounting: it marks exits the core cannot classify (notifies, the IRQ
 * line of an interrupt) through the core's C_EXIT_RECLASS / C_EXIT_TAG words and keeps the
 * counts only the host knows. Everything here is deterministic (no host time).
 */
export class ExitRecorder implements ExitMarker {
  /** Notifies per device, per queue (NOTIFY_QUEUES_TRACKED + 1 slots, the last for larger indices). */
  private readonly notifies = new Map<string, number[]>();
  /** Interrupts per IRQ line 0-15, then one slot for unknown (auto-EOI or spurious). */
  readonly irqLines = new Array<number>(17).fill(0);
  /** Guest time the CPU spent halted, skipped to the next device deadline (ns). */
  idleNs = 0;
  /** Set by `notify` during the exit being handled (read by the host-time sampler). */
  notified = false;
  private readonly notifyCode: number;

  constructor(private readonly core: Core) {
    this.notifyCode = core.at("EXIT_NOTIFY");
  }

  notify(device: string, queue: number): void {
    const q = Number.isInteger(queue) && queue >= 0 && queue < NOTIFY_QUEUES_TRACKED ? queue : -1;
    let counts = this.notifies.get(device);
    if (counts === undefined) {
      counts = new Array<number>(NOTIFY_QUEUES_TRACKED + 1).fill(0);
      this.notifies.set(device, counts);
    }
    counts[q < 0 ? NOTIFY_QUEUES_TRACKED : q]!++;
    this.notified = true;
    this.core.setCtl("C_EXIT_RECLASS", this.notifyCode);
    this.core.setCtl("C_EXIT_TAG", q + 1);
  }

  /**
   * The interrupt controller answered an INTA: `isrBefore`/`isrAfter` are its 16-bit in-service
   * registers around it; the newly set bit is the line (the slave's bit when IR2 cascaded).
   */
  interruptAcknowledged(isrBefore: number, isrAfter: number): void {
    const fresh = isrAfter & ~isrBefore;
    const slave = fresh >>> 8;
    const bits = slave !== 0 ? slave << 8 : fresh & 0xff;
    const line = bits === 0 ? -1 : 31 - Math.clz32(bits);
    this.irqLines[line < 0 ? 16 : line]!++;
    this.core.setCtl("C_EXIT_TAG", line + 1);
  }

  /** Notifies by device and queue (queue -1: an index at or above NOTIFY_QUEUES_TRACKED). */
  notifyCounts(): { device: string; queue: number; count: number }[] {
    const out: { device: string; queue: number; count: number }[] = [];
    for (const [device, counts] of this.notifies) {
      counts.forEach((count, i) => {
        if (count !== 0) out.push({ device, queue: i === NOTIFY_QUEUES_TRACKED ? -1 : i, count });
      });
    }
    return out.sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : a.queue - b.queue));
  }

  reset(): void {
    this.notifies.clear();
    this.irqLines.fill(0);
    this.idleNs = 0;
  }
}
