import type { AccessWidth, IoDevice } from "../bus/device.js";
import type { TimedDevice } from "../clock.js";
import { PCI_CAP_ID_VNDR, PCI_COMMAND_MASTER } from "../pci/config-space.js";
import { PciDevice, type PciBar, type PciDeviceState } from "../pci/pci-device.js";
import {
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_ISR_CONFIG,
  VIRTIO_ISR_QUEUE,
  VIRTIO_LEGACY_CONFIG,
  VIRTIO_LEGACY_GUEST_FEATURES,
  VIRTIO_LEGACY_HOST_FEATURES,
  VIRTIO_LEGACY_ISR,
  VIRTIO_LEGACY_QUEUE_NOTIFY,
  VIRTIO_LEGACY_QUEUE_NUM,
  VIRTIO_LEGACY_QUEUE_PFN,
  VIRTIO_LEGACY_QUEUE_SEL,
  VIRTIO_LEGACY_STATUS,
  VIRTIO_LEGACY_VRING_ALIGN,
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_PCI_CAP_COMMON_CFG,
  VIRTIO_PCI_CAP_DEVICE_CFG,
  VIRTIO_PCI_CAP_ISR_CFG,
  VIRTIO_PCI_CAP_NOTIFY_CFG,
  VIRTIO_PCI_CAP_PCI_CFG,
  VIRTIO_PCI_MODERN_DEVICE_BASE,
  VIRTIO_PCI_VENDOR_ID,
  VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FAILED,
  VIRTIO_STATUS_FEATURES_OK,
  type FeatureWords,
} from "./constants.js";
import { SplitQueue, VQ_OK, VQ_STATUS_TEXT, type SplitQueueState } from "./split-queue.js";

/*
 * The virtio-over-PCI transport (virtio 1.2 §4.1), for any device type:
 *
 *  - modern ("non-transitional"): device ID 0x1040 + type, revision 1, subsystem 1AF4:1100; the
 *    virtio structures live in BAR4, a 16 KiB 32-bit memory BAR, described by vendor-specific
 *    capabilities (§4.1.4): COMMON_CFG at 0x0000, ISR at 0x1000, DEVICE_CFG at 0x2000, NOTIFY at
 *    0x3000 with notify_off_multiplier 4 (queue n kicks at 0x3000 + 4n), and the PCI_CFG access
 *    capability (§4.1.4.9).
 *  - transitional: the same, plus the legacy (0.9.5) register block in I/O BAR0 (§4.1.4.10), with
 *    the transitional device ID (0x1000 + type - 1), revision 0 and subsystem ID = device type
 *    (§4.1.2.3). Which interface the driver uses is decided by what it touches: a legacy driver
 *    writes GUEST_FEATURES / QUEUE_PFN in BAR0, a modern one negotiates VERSION_1.
 *
 * Interrupts are INTx# only (no MSI-X capability, so *_msix_vector read NO_VECTOR): the ISR byte
 * holds the cause (bit 0 queue, bit 1 config), the PCI interrupt status follows it, and reading the
 * ISR clears it and deasserts the pin (§4.1.4.5).
 *
 * The driver checker: everything the driver does that the spec forbids and the device can see is
 * reported as a VirtioDiagnostic (spec section, check ID from docs/virtio.md, queue/descriptor).
 * Register misuse is ignored (Firecracker's model); ring corruption in "strict" mode (default) sets
 * DEVICE_NEEDS_RESET, raises a config interrupt if DRIVER_OK was set and stops the queue until
 * reset (QEMU's model); in "lenient" mode the bad chain is returned with used length 0 and the queue
 * goes on.
 *
 * Completions may be asynchronous: a device's handleRequest may answer REQUEST_PENDING and call
 * `complete` later, in any order (§2.7.14: "the device MAY use buffers out of order"). Completions
 * are batched until the next host step (`advance`, which the machine calls around every slice):
 * then their used elements are written and used.idx is published once, with at most one interrupt
 * (§2.7.8.2: the used element before the index). A device writes a request's data and status byte
 * to guest RAM before it calls `complete`, so the guest never sees a used entry before them. A
 * reset drops requests in flight: their late completions are counted and never reach the ring.
 */

/** handleRequest's answer for a request the device will `complete` later. */
export const REQUEST_PENDING = -2;

/** One thing the driver did wrong (or the device noticed). */
export interface VirtioDiagnostic {
  /** The device's name. */
  device: string;
  /** Spec section (virtio 1.2), e.g. "2.7.5.2". */
  section: string;
  /** Check ID from docs/virtio.md (T*, Q*, B*). */
  check: string;
  /** Queue index, when a queue is involved. */
  queue?: number;
  /** Descriptor index, when one is involved. */
  descriptor?: number;
  message: string;
}

/** How the device reacts to ring corruption. */
export type VirtioCheckMode = "strict" | "lenient";

export interface VirtioPciOptions {
  name: string;
  /** Virtio device type (§5): 2 = block. */
  deviceType: number;
  /** "modern" (default) or "transitional" (adds the legacy I/O BAR0). */
  transport?: "modern" | "transitional";
  /** PCI class, subclass, prog-if. */
  classCode: number;
  subclass: number;
  progIf?: number;
  /** Guest RAM (guest-physical p is ram[p]): the rings and buffers. */
  ram: Uint8Array;
  numQueues: number;
  /** Maximum (and reset) queue size, a power of two. */
  maxQueueSize: number;
  /** Device-type feature bits offered (transport bits are added from `ring`). */
  deviceFeatures: FeatureWords;
  /** Offer INDIRECT_DESC / EVENT_IDX (default both), so their cost can be measured. */
  ring?: { indirect?: boolean; eventIdx?: boolean };
  mode?: VirtioCheckMode;
  /** Called for each diagnostic (they are also kept in `diagnostics`). */
  onDiagnostic?: (d: VirtioDiagnostic) => void;
  /** The device wrote guest RAM [addr, addr + len) (the machine drops stale decoded code there). */
  onGuestWrite?: (addr: number, len: number) => void;
  /** The exit being handled is a notify of `queue` (exit accounting, src/stats/exit-recorder.ts). */
  onNotify?: (queue: number) => void;
}

/** Plain snapshot of the transport (the PCI config bytes are in `pci`). */
export interface VirtioPciState {
  pci: PciDeviceState;
  status: number;
  deviceFeatureSelect: number;
  driverFeatureSelect: number;
  driverFeaturesLo: number;
  driverFeaturesHi: number;
  queueSelect: number;
  isr: number;
  configGeneration: number;
  legacy: boolean;
  queues: SplitQueueState[];
}

/** Modern BAR layout (BAR4). */
export const VIRTIO_MODERN_BAR = 4;
export const VIRTIO_MODERN_BAR_SIZE = 0x4000;
export const VIRTIO_COMMON_OFFSET = 0x0000;
export const VIRTIO_ISR_OFFSET = 0x1000;
export const VIRTIO_DEVICE_OFFSET = 0x2000;
export const VIRTIO_NOTIFY_OFFSET = 0x3000;
export const VIRTIO_REGION_SIZE = 0x1000;
export const VIRTIO_NOTIFY_MULTIPLIER = 4;
/** Legacy I/O BAR0 size: 20 bytes of registers + device config, a power of two. */
export const VIRTIO_LEGACY_BAR_SIZE = 128;
/** Diagnostics kept in `diagnostics` (the count goes on). */
export const VIRTIO_DIAGNOSTICS_KEPT = 256;

/** Common configuration structure fields (§4.1.4.3): offset → width. */
const COMMON_WIDTH: Readonly<Record<number, AccessWidth>> = {
  0x00: 4, 0x04: 4, 0x08: 4, 0x0c: 4, 0x10: 2, 0x12: 2, 0x14: 1, 0x15: 1, 0x16: 2, 0x18: 2,
  0x1a: 2, 0x1c: 2, 0x1e: 2, 0x20: 4, 0x24: 4, 0x28: 4, 0x2c: 4, 0x30: 4, 0x34: 4, 0x38: 2,
}; // prettier-ignore
const COMMON_NAMES: Readonly<Record<number, string>> = {
  0x00: "device_feature_select", 0x04: "device_feature", 0x08: "driver_feature_select",
  0x0c: "driver_feature", 0x10: "config_msix_vector", 0x12: "num_queues", 0x14: "device_status",
  0x15: "config_generation", 0x16: "queue_select", 0x18: "queue_size", 0x1a: "queue_msix_vector",
  0x1c: "queue_enable", 0x1e: "queue_notify_off", 0x20: "queue_desc", 0x24: "queue_desc_hi",
  0x28: "queue_driver", 0x2c: "queue_driver_hi", 0x30: "queue_device", 0x34: "queue_device_hi",
  0x38: "queue_notify_data",
}; // prettier-ignore
const LEGACY_WIDTH: Readonly<Record<number, AccessWidth>> = {
  0: 4, 4: 4, 8: 4, 12: 2, 14: 2, 16: 2, 18: 1, 19: 1,
}; // prettier-ignore

function hex(n: number): string {
  return "0x" + (n >>> 0).toString(16);
}

/**
 * A virtio PCI function. Device types extend it and implement `handleRequest` (one validated
 * chain), the device config bytes and `deviceReset`.
 */
export abstract class VirtioPciDevice extends PciDevice implements TimedDevice {
  readonly transport: "modern" | "transitional";
  readonly deviceType: number;
  readonly mode: VirtioCheckMode;
  readonly queues: SplitQueue[];
  /** Offered features (transport + device). */
  readonly offered: FeatureWords;
  /** Every diagnostic so far (the first VIRTIO_DIAGNOSTICS_KEPT) and the total count. */
  readonly diagnostics: VirtioDiagnostic[] = [];
  diagnosticCount = 0;
  /**
   * Counters for statistics: kicks, chains processed, interrupts raised, used.idx publishes,
   * asynchronous completions, late ones dropped after a reset, interrupts a device suppressed.
   */
  readonly counters = {
    kicks: 0,
    requests: 0,
    interrupts: 0,
    publishes: 0,
    legacyAccesses: 0,
    asyncCompletions: 0,
    lateCompletions: 0,
    suppressedInterrupts: 0,
  };
  /** Incremented by every reset; a pending request's completion must carry the epoch it began in. */
  resetEpoch = 0;

  // ---- transport state (plain fields: saveVirtioState) ----
  status = 0;
  deviceFeatureSelect = 0;
  driverFeatureSelect = 0;
  driverFeaturesLo = 0;
  driverFeaturesHi = 0;
  queueSelect = 0;
  isr = 0;
  configGeneration = 0;
  /** The driver is using the legacy interface (BAR0). */
  legacy = false;

  protected readonly ram: Uint8Array;
  private readonly onDiagnostic: ((d: VirtioDiagnostic) => void) | undefined;
  protected readonly onGuestWrite: (addr: number, len: number) => void;
  private readonly onNotify: (queue: number) => void;
  /** Offset of the PCI_CFG capability in config space. */
  private readonly pciCfgCap: number;
  /** Per queue, 1 for each head whose request is pending (REQUEST_PENDING, not yet completed). */
  private readonly inFlight: Uint8Array[] = [];
  /** Completions since the last publish: queue, head, used length. */
  private readonly completions: { qi: number; head: number; len: number }[] = [];
  /** Scratch: queues with used elements to publish in this batch. */
  private readonly touched: Uint8Array;
  /** The device asked that the next batch raise no interrupt (fault injection). */
  protected suppressNextInterrupt = false;

  constructor(o: VirtioPciOptions) {
    const transitional = o.transport === "transitional";
    const modernBar: IoDevice = {
      name: o.name,
      read: (off, w) => this.modernRead(off, w),
      write: (off, w, v) => this.modernWrite(off, w, v),
    };
    const bars: (PciBar | undefined)[] = [];
    if (transitional) {
      bars[0] = {
        kind: "io",
        size: VIRTIO_LEGACY_BAR_SIZE,
        device: {
          name: `${o.name}-legacy`,
          read: (off, w) => this.legacyRead(off, w),
          write: (off, w, v) => this.legacyWrite(off, w, v),
        },
      };
    }
    bars[VIRTIO_MODERN_BAR] = { kind: "mem32", size: VIRTIO_MODERN_BAR_SIZE, device: modernBar };
    super({
      name: o.name,
      vendorId: VIRTIO_PCI_VENDOR_ID,
      // §4.1.2.1 / §4.1.2.3: transitional IDs 0x1000-0x103F are (type - 1) + 0x1000.
      deviceId: transitional ? 0x1000 + o.deviceType - 1 : VIRTIO_PCI_MODERN_DEVICE_BASE + o.deviceType,
      revision: transitional ? 0 : 1,
      classCode: o.classCode,
      subclass: o.subclass,
      progIf: o.progIf ?? 0,
      subsystemVendorId: VIRTIO_PCI_VENDOR_ID,
      subsystemId: transitional ? o.deviceType : 0x1100,
      interruptPin: 1,
      bars,
    });
    this.transport = transitional ? "transitional" : "modern";
    this.deviceType = o.deviceType;
    this.mode = o.mode ?? "strict";
    this.ram = o.ram;
    this.onDiagnostic = o.onDiagnostic;
    this.onGuestWrite = o.onGuestWrite ?? (() => {});
    this.onNotify = o.onNotify ?? (() => {});
    this.queues = [];
    for (let i = 0; i < o.numQueues; i++) {
      this.queues.push(new SplitQueue(o.ram, o.maxQueueSize));
      this.inFlight.push(new Uint8Array(o.maxQueueSize));
    }
    this.touched = new Uint8Array(o.numQueues);
    let lo = o.deviceFeatures.lo;
    if (o.ring?.indirect ?? true) lo |= 1 << VIRTIO_F_INDIRECT_DESC;
    if (o.ring?.eventIdx ?? true) lo |= 1 << VIRTIO_F_EVENT_IDX;
    this.offered = { lo: lo >>> 0, hi: (o.deviceFeatures.hi | (1 << (VIRTIO_F_VERSION_1 - 32))) >>> 0 };

    // Vendor capabilities (§4.1.4), in preference order.
    const cap = (type: number, offset: number, length: number, extra: number[] = []): number[] => [
      16 + extra.length + 2 - 2, // cap_len counts the whole structure, including vndr and next
      type,
      VIRTIO_MODERN_BAR,
      0,
      0,
      0,
      ...le32(offset),
      ...le32(length),
      ...extra,
    ];
    const fix = (b: number[]): number[] => ((b[0] = b.length + 2), b);
    this.addCapability(
      PCI_CAP_ID_VNDR,
      fix(cap(VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_COMMON_OFFSET, VIRTIO_REGION_SIZE)),
    );
    this.addCapability(
      PCI_CAP_ID_VNDR,
      fix(
        cap(
          VIRTIO_PCI_CAP_NOTIFY_CFG,
          VIRTIO_NOTIFY_OFFSET,
          VIRTIO_REGION_SIZE,
          le32(VIRTIO_NOTIFY_MULTIPLIER),
        ),
      ),
    );
    this.addCapability(
      PCI_CAP_ID_VNDR,
      fix(cap(VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_ISR_OFFSET, VIRTIO_REGION_SIZE)),
    );
    this.addCapability(
      PCI_CAP_ID_VNDR,
      fix(cap(VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_DEVICE_OFFSET, VIRTIO_REGION_SIZE)),
    );
    // PCI_CFG (§4.1.4.9): bar, offset, length and pci_cfg_data are driver-writable.
    const pciCfg = fix(cap(VIRTIO_PCI_CAP_PCI_CFG, 0, 0, [0, 0, 0, 0]));
    pciCfg[2] = 0; // bar
    const mask = pciCfg.map((_, i) => (i === 2 || (i >= 6 && i < 18) ? 0xff : 0));
    this.pciCfgCap = this.addCapability(PCI_CAP_ID_VNDR, pciCfg, mask);
  }

  // ---- what a device type provides ----

  /** Device configuration bytes (§4.1.4.6), read at any width. */
  protected abstract readonly deviceConfig: Uint8Array;
  /** A driver write to device config (default: refused with a diagnostic). */
  protected writeDeviceConfig(offset: number, width: AccessWidth, value: number): void {
    this.report(
      "4.1.4.6",
      "T8",
      `write of ${hex(value)} (${width} bytes) to read-only device config offset ${hex(offset)}`,
    );
  }
  /**
   * Handle one validated chain (segments in queue's scratch). Return the used length (bytes
   * written to device-writable buffers), -1 if the request was malformed in a way that breaks
   * the queue (the device reported it; strict mode then stops the queue), or REQUEST_PENDING if
   * the device will call `complete` for it later (the scratch segments are only valid now).
   */
  protected abstract handleRequest(queue: SplitQueue, queueIndex: number, head: number): number;
  /** Device-type state back to its reset values. */
  protected deviceReset(): void {}
  /** Hook: a batch was published with suppressNextInterrupt set; `due` says if an interrupt was due. */
  protected interruptSuppressed(_due: boolean): void {}

  // ---- asynchronous completions ----

  /**
   * A pending request is done: its data and status byte are already in guest RAM. `epoch` is the
   * resetEpoch when the request was taken; a completion from before a reset, or for a head that is
   * not pending, is dropped and counted (lateCompletions). Published at the next host step.
   */
  complete(qi: number, head: number, usedLen: number, epoch: number): void {
    const flight = this.inFlight[qi];
    if (epoch !== this.resetEpoch || flight === undefined || flight[head] !== 1) {
      this.counters.lateCompletions++;
      return;
    }
    flight[head] = 0;
    this.counters.asyncCompletions++;
    this.completions.push({ qi, head, len: usedLen });
  }

  /** Publish the completions batched so far: one used.idx write per queue, at most one interrupt. */
  flushCompletions(): void {
    if (this.completions.length > 0) this.publishBatch();
  }

  /** Guest time of the device's next timed event (none in the transport itself). */
  nextDeadline(): number {
    return Infinity;
  }

  /** A host step: publish what completed since the last one. */
  advance(_now: number): void {
    this.flushCompletions();
  }

  // ---- diagnostics ----

  /** Report a driver mistake. */
  report(section: string, check: string, message: string, queue?: number, descriptor?: number): void {
    const d: VirtioDiagnostic = { device: this.name, section, check, message };
    if (queue !== undefined) d.queue = queue;
    if (descriptor !== undefined) d.descriptor = descriptor;
    this.diagnosticCount++;
    if (this.diagnostics.length < VIRTIO_DIAGNOSTICS_KEPT) this.diagnostics.push(d);
    this.onDiagnostic?.(d);
  }

  /**
   * An unrecoverable error (§2.1.2): set DEVICE_NEEDS_RESET and, if DRIVER_OK was set, send a
   * configuration change notification. Only with VERSION_1 negotiated (legacy has no such bit).
   */
  needsReset(): void {
    if (this.legacy || this.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) return;
    this.status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if (this.status & VIRTIO_STATUS_DRIVER_OK) this.raise(VIRTIO_ISR_CONFIG);
  }

  /** A ring error on queue `qi`: report it, then strict: needs reset and the queue stops. */
  private ringError(qi: number, code: number, q: SplitQueue): void {
    const t = VQ_STATUS_TEXT[code]!;
    const where =
      q.errorDescriptor >= 0
        ? (q.errorIndirect ? "indirect descriptor " : "descriptor ") + q.errorDescriptor
        : "";
    const desc =
      q.errorDescriptor >= 0
        ? ` {addr ${hex(q.errorDescAddr)}, len ${q.errorDescLen}, flags ${hex(q.errorDescFlags)}, next ${q.errorDescNext}}`
        : ` (avail.idx ${q.errorDescNext}, last seen ${q.lastAvail}, size ${q.size})`;
    this.report(
      t.section,
      `VQ${code}`,
      `queue ${qi}: ${where}${desc}: ${t.text}`,
      qi,
      q.errorDescriptor >= 0 ? q.errorDescriptor : undefined,
    );
    if (this.mode === "strict") {
      q.broken = true;
      this.needsReset();
    }
  }

  /** Queue `qi` was just enabled: check its rings (§2.7), refuse or warn about what is wrong. */
  private checkEnabledQueue(qi: number, q: SplitQueue): void {
    const r = q.checkRings();
    if (r !== VQ_OK) {
      q.errorDescriptor = -1;
      this.ringError(qi, r, q);
    } else if (q.ringsOverlapWarning) {
      this.report(
        "2.7",
        "T17",
        `queue ${qi}: descriptor table ${hex(q.desc)} (${16 * q.size} bytes) overlaps the available ring at ${hex(q.avail)}; the device reads both, but they are meant to be separate parts`,
        qi,
      );
    }
  }

  // ---- interrupts (INTx# + ISR, §4.1.4.5) ----

  /** Set ISR bits and assert INTx#. */
  raise(bits: number): void {
    this.isr |= bits;
    this.counters.interrupts++;
    this.setIrq(true);
  }

  private readIsr(): number {
    const v = this.isr;
    this.isr = 0;
    this.setIrq(false);
    return v;
  }

  /** The device configuration changed (e.g. capacity): bump the generation, interrupt. */
  configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) & 0xff;
    if (this.status & VIRTIO_STATUS_DRIVER_OK) this.raise(VIRTIO_ISR_CONFIG);
  }

  // ---- reset (§2.4, §4.1.4.3.1) ----

  /** Device reset: status 0 and every register and queue back to its reset value. */
  virtioReset(): void {
    this.status = 0;
    this.deviceFeatureSelect = this.driverFeatureSelect = 0;
    this.driverFeaturesLo = this.driverFeaturesHi = 0;
    this.queueSelect = 0;
    this.isr = 0;
    this.legacy = false;
    for (const q of this.queues) q.reset();
    // §2.4: requests in flight are abandoned; their completions, late or already batched, are dropped.
    this.resetEpoch++;
    for (const f of this.inFlight) f.fill(0);
    this.counters.lateCompletions += this.completions.length;
    this.completions.length = 0;
    this.suppressNextInterrupt = false;
    this.setIrq(false);
    this.deviceReset();
  }

  /** PCI RST#: the function and the virtio state. */
  override reset(): void {
    super.reset();
    this.virtioReset();
  }

  // ---- status and features ----

  private setStatus(v: number, legacyAccess: boolean): void {
    v &= 0xff;
    if (v === 0) {
      this.virtioReset();
      return;
    }
    const old = this.status;
    v = (v & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET) | (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    const cleared = old & ~v;
    if (cleared) {
      this.report(
        "2.1.1",
        "T1",
        `device_status write ${hex(v)} clears bits ${hex(cleared)} of ${hex(old)} (only a write of 0 resets)`,
      );
      return;
    }
    const added = v & ~old;
    const need: [number, number][] = [
      [VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_ACKNOWLEDGE],
      [VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_DRIVER],
      [
        VIRTIO_STATUS_DRIVER_OK,
        legacyAccess || this.legacy ? VIRTIO_STATUS_DRIVER : VIRTIO_STATUS_FEATURES_OK,
      ],
    ];
    for (const [bit, pre] of need) {
      if (added & bit && !(v & pre)) {
        this.report(
          "3.1.1",
          "T2",
          `device_status ${hex(v)} sets ${hex(bit)} without ${hex(pre)} (from ${hex(old)})`,
        );
        return;
      }
    }
    if (added & VIRTIO_STATUS_FEATURES_OK && !this.acceptFeatures()) v &= ~VIRTIO_STATUS_FEATURES_OK;
    if (added & VIRTIO_STATUS_DRIVER_OK && (legacyAccess || this.legacy)) this.applyFeatures();
    this.status = v;
  }

  /** FEATURES_OK (§2.2.2, §6.2): accept only subsets of the offer that include VERSION_1. */
  private acceptFeatures(): boolean {
    const extraLo = (this.driverFeaturesLo & ~this.offered.lo) >>> 0;
    const extraHi = (this.driverFeaturesHi & ~this.offered.hi) >>> 0;
    if (extraLo || extraHi) {
      this.report(
        "2.2.1",
        "T3",
        `driver accepted features ${hex(extraHi)}:${hex(extraLo)} the device did not offer; FEATURES_OK refused`,
      );
      return false;
    }
    if (!hasFeature({ lo: this.driverFeaturesLo, hi: this.driverFeaturesHi }, VIRTIO_F_VERSION_1)) {
      this.report("6.1", "T6", "modern driver did not accept VIRTIO_F_VERSION_1; FEATURES_OK refused");
      return false;
    }
    this.applyFeatures();
    return true;
  }

  /** The negotiated features that change ring handling. */
  private applyFeatures(): void {
    const f = { lo: this.driverFeaturesLo, hi: this.driverFeaturesHi };
    for (const q of this.queues) {
      q.eventIdx = hasFeature(f, VIRTIO_F_EVENT_IDX);
      q.indirect = hasFeature(f, VIRTIO_F_INDIRECT_DESC);
    }
    this.featuresNegotiated(f);
  }

  /** Hook: features were negotiated. */
  protected featuresNegotiated(_f: FeatureWords): void {}

  /** Negotiated (driver-accepted) features. */
  get driverFeatures(): FeatureWords {
    return { lo: this.driverFeaturesLo >>> 0, hi: this.driverFeaturesHi >>> 0 };
  }

  // ---- notifications and queue processing ----

  /** Heads of queue `qi` the device has taken and not yet completed (REQUEST_PENDING). */
  inFlightCount(qi: number): number {
    const flight = this.inFlight[qi];
    let n = 0;
    if (flight !== undefined) for (const f of flight) n += f;
    return n;
  }

  /** The driver kicked queue `qi`. */
  notify(qi: number): void {
    this.counters.kicks++;
    this.onNotify(qi);
    if (!(this.config.command & PCI_COMMAND_MASTER)) {
      this.report("4.1.1", "T24", `kick on queue ${qi} while PCI bus mastering is off: no DMA`, qi);
      return;
    }
    if (!this.legacy && !(this.status & VIRTIO_STATUS_DRIVER_OK)) {
      this.report(
        "3.1.1",
        "T20",
        `kick on queue ${qi} before DRIVER_OK (status ${hex(this.status)}); ignored`,
        qi,
      );
      return;
    }
    if (this.status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED)) return;
    const q = this.queues[qi];
    if (q === undefined || !q.ready) {
      this.report(
        "4.1.5.2",
        "T21",
        `kick names queue ${qi}, which ${q === undefined ? "does not exist" : "is not enabled"}`,
        qi,
      );
      return;
    }
    if (q.broken) return;
    const r = q.checkRings();
    if (r !== VQ_OK) {
      q.errorDescriptor = -1;
      this.ringError(qi, r, q);
      return;
    }
    this.processQueue(qi, q);
  }

  /**
   * Drain the available ring, then publish used.idx once (with any asynchronous completions
   * batched so far) and interrupt at most once (batching).
   */
  private processQueue(qi: number, q: SplitQueue): void {
    const n = q.pending();
    if (n < 0) {
      this.ringError(qi, 14, q);
      return;
    }
    for (let k = 0; k < n; k++) {
      const head = q.pop();
      const st = q.walk(head);
      if (st !== VQ_OK) {
        this.ringError(qi, st, q);
        if (this.mode === "strict") break;
        if (head < q.size) q.pushUsed(head, 0);
        continue;
      }
      // A head still in flight (pending here, or not yet published) was refused by the walk (VQ17).
      const flight = this.inFlight[qi]!;
      this.counters.requests++;
      const len = this.handleRequest(q, qi, head);
      if (len === REQUEST_PENDING) {
        flight[head] = 1;
        continue;
      }
      if (len < 0 && this.mode === "strict") {
        q.broken = true;
        this.needsReset();
        break;
      }
      q.pushUsed(head, Math.max(0, len));
    }
    this.touched[qi] = 1;
    this.publishBatch();
  }

  /**
   * Write the batched used elements, publish used.idx of every queue touched (once each) and raise
   * at most one interrupt for all of them, unless the device suppressed it.
   */
  private publishBatch(): void {
    const touched = this.touched;
    for (const c of this.completions) {
      const q = this.queues[c.qi]!;
      if (q.broken) {
        this.counters.lateCompletions++; // the queue stopped (strict mode) until reset
        continue;
      }
      q.pushUsed(c.head, c.len);
      touched[c.qi] = 1;
    }
    this.completions.length = 0;
    let due = false;
    for (let i = 0; i < touched.length; i++) {
      if (!touched[i]) continue;
      touched[i] = 0;
      this.counters.publishes++;
      if (this.queues[i]!.publish()) due = true;
    }
    if (this.suppressNextInterrupt) {
      this.suppressNextInterrupt = false;
      if (due) this.counters.suppressedInterrupts++;
      this.interruptSuppressed(due);
      return;
    }
    if (due) this.raise(VIRTIO_ISR_QUEUE);
  }

  // ---- modern BAR (BAR4) ----

  private modernRead(off: number, w: AccessWidth): number {
    if (off < VIRTIO_ISR_OFFSET) return this.commonRead(off, w);
    if (off < VIRTIO_DEVICE_OFFSET) return off === VIRTIO_ISR_OFFSET ? this.readIsr() : 0;
    if (off < VIRTIO_NOTIFY_OFFSET) return this.configRead8s(off - VIRTIO_DEVICE_OFFSET, w);
    return 0;
  }

  private modernWrite(off: number, w: AccessWidth, v: number): void {
    if (off < VIRTIO_ISR_OFFSET) return this.commonWrite(off, w, v);
    if (off < VIRTIO_DEVICE_OFFSET) {
      this.report("4.1.4.5", "T11", `write to the read-only ISR status at ${hex(off)}`);
      return;
    }
    if (off < VIRTIO_NOTIFY_OFFSET) return this.writeDeviceConfig(off - VIRTIO_DEVICE_OFFSET, w, v);
    const rel = off - VIRTIO_NOTIFY_OFFSET;
    const slot = Math.floor(rel / VIRTIO_NOTIFY_MULTIPLIER);
    if (rel % VIRTIO_NOTIFY_MULTIPLIER !== 0 || w === 1) {
      this.report(
        "4.1.4.4",
        "T10",
        `notify write of ${w} bytes at notify offset ${hex(rel)} (want 16 bits at 4·queue)`,
      );
      return;
    }
    if ((v & 0xffff) !== slot) {
      this.report(
        "4.1.5.2",
        "T21",
        `notify at queue ${slot}'s address carries queue index ${v & 0xffff}`,
        slot,
      );
    }
    this.notify(slot);
  }

  private configRead8s(off: number, w: AccessWidth): number {
    const c = this.deviceConfig;
    let v = 0;
    for (let i = w - 1; i >= 0; i--) v = (v << 8) | (c[off + i] ?? 0);
    return v >>> 0;
  }

  private commonRead(off: number, w: AccessWidth): number {
    if (COMMON_WIDTH[off] !== w) {
      this.report(
        "4.1.3.1",
        "T10",
        `common config read of ${w} bytes at ${hex(off)} ${COMMON_NAMES[off] ? `(${COMMON_NAMES[off]} is ${COMMON_WIDTH[off]} bytes)` : "(no field there)"}`,
      );
      return 0;
    }
    const q = this.queues[this.queueSelect];
    switch (off) {
      case 0x00:
        return this.deviceFeatureSelect;
      case 0x04:
        return this.deviceFeatureSelect === 0
          ? this.offered.lo
          : this.deviceFeatureSelect === 1
            ? this.offered.hi
            : 0;
      case 0x08:
        return this.driverFeatureSelect;
      case 0x0c:
        return this.driverFeatureSelect === 0
          ? this.driverFeaturesLo >>> 0
          : this.driverFeatureSelect === 1
            ? this.driverFeaturesHi >>> 0
            : 0;
      case 0x10:
      case 0x1a:
        return VIRTIO_MSI_NO_VECTOR;
      case 0x12:
        return this.queues.length;
      case 0x14:
        return this.status;
      case 0x15:
        return this.configGeneration;
      case 0x16:
        return this.queueSelect;
      case 0x18:
        return q ? q.size : 0;
      case 0x1c:
        return q?.ready ? 1 : 0;
      case 0x1e:
        return q ? this.queueSelect : 0;
      case 0x20:
        return q?.desc ?? 0;
      case 0x24:
        return q?.descHi ?? 0;
      case 0x28:
        return q?.avail ?? 0;
      case 0x2c:
        return q?.availHi ?? 0;
      case 0x30:
        return q?.used ?? 0;
      case 0x34:
        return q?.usedHi ?? 0;
      default:
        return 0;
    }
  }

  private commonWrite(off: number, w: AccessWidth, v: number): void {
    const name = COMMON_NAMES[off];
    if (COMMON_WIDTH[off] !== w) {
      this.report(
        "4.1.3.1",
        "T10",
        `common config write of ${w} bytes at ${hex(off)} ${name ? `(${name} is ${COMMON_WIDTH[off]} bytes)` : "(no field there)"}`,
      );
      return;
    }
    const q = this.queues[this.queueSelect];
    switch (off) {
      case 0x00:
        this.deviceFeatureSelect = v >>> 0;
        return;
      case 0x08:
        this.driverFeatureSelect = v >>> 0;
        return;
      case 0x0c:
        if (this.status & VIRTIO_STATUS_FEATURES_OK || !(this.status & VIRTIO_STATUS_DRIVER)) {
          this.report(
            "3.1.1",
            "T5",
            `driver_feature write ${hex(v)} with status ${hex(this.status)} (only between DRIVER and FEATURES_OK)`,
          );
          return;
        }
        if (this.driverFeatureSelect === 0) this.driverFeaturesLo = v >>> 0;
        else if (this.driverFeatureSelect === 1) this.driverFeaturesHi = v >>> 0;
        else if (v !== 0)
          this.report(
            "2.2.1",
            "T3",
            `driver_feature window ${this.driverFeatureSelect} written with ${hex(v)}: no such features`,
          );
        return;
      case 0x10:
      case 0x1a:
        return; // no MSI-X: the vector stays NO_VECTOR (read back), as §4.1.5.1.2 describes
      case 0x14:
        this.setStatus(v, false);
        return;
      case 0x16:
        this.queueSelect = v & 0xffff;
        return;
      case 0x1c:
        if (q === undefined)
          return this.report("4.1.4.3.2", "T21", `queue_enable for nonexistent queue ${this.queueSelect}`);
        if ((v & 0xffff) !== 1)
          return this.report(
            "4.1.4.3.2",
            "T14",
            `queue_enable written with ${v & 0xffff} (the driver MUST NOT write 0)`,
            this.queueSelect,
          );
        if (q.ready) return;
        q.ready = true;
        this.checkEnabledQueue(this.queueSelect, q);
        return;
      case 0x18:
      case 0x20:
      case 0x24:
      case 0x28:
      case 0x2c:
      case 0x30:
      case 0x34:
        if (q === undefined)
          return this.report("4.1.4.3.2", "T21", `${name} written for nonexistent queue ${this.queueSelect}`);
        if (q.ready)
          return this.report(
            "4.1.4.3.2",
            "T15",
            `${name} written while queue ${this.queueSelect} is enabled; ignored`,
            this.queueSelect,
          );
        if (off === 0x18) {
          const n = v & 0xffff;
          if (n === 0 || n > q.maxSize || (n & (n - 1)) !== 0) {
            return this.report(
              "4.1.4.3.2",
              "T12",
              `queue_size ${n} is not a power of two in 1-${q.maxSize}`,
              this.queueSelect,
            );
          }
          q.size = n;
        } else if (off === 0x20) q.desc = v >>> 0;
        else if (off === 0x24) q.descHi = v >>> 0;
        else if (off === 0x28) q.avail = v >>> 0;
        else if (off === 0x2c) q.availHi = v >>> 0;
        else if (off === 0x30) q.used = v >>> 0;
        else q.usedHi = v >>> 0;
        return;
      default:
        this.report("4.1.4.3.2", "T11", `write of ${hex(v)} to read-only ${name}`);
    }
  }

  // ---- legacy BAR0 (§4.1.4.10) ----

  private legacyRead(off: number, w: AccessWidth): number {
    this.counters.legacyAccesses++;
    if (off >= VIRTIO_LEGACY_CONFIG) return this.configRead8s(off - VIRTIO_LEGACY_CONFIG, w);
    if (LEGACY_WIDTH[off] !== w) {
      this.report("4.1.4.10", "T10", `legacy register read of ${w} bytes at ${hex(off)}`);
      return 0;
    }
    const q = this.queues[this.queueSelect];
    switch (off) {
      case VIRTIO_LEGACY_HOST_FEATURES:
        return this.offered.lo;
      case VIRTIO_LEGACY_GUEST_FEATURES:
        return this.driverFeaturesLo >>> 0;
      case VIRTIO_LEGACY_QUEUE_PFN:
        return q?.ready ? Math.floor((q.descHi * 2 ** 32 + q.desc) / VIRTIO_LEGACY_VRING_ALIGN) : 0;
      case VIRTIO_LEGACY_QUEUE_NUM:
        return q ? q.maxSize : 0;
      case VIRTIO_LEGACY_QUEUE_SEL:
        return this.queueSelect;
      case VIRTIO_LEGACY_STATUS:
        return this.status;
      case VIRTIO_LEGACY_ISR:
        return this.readIsr();
      default:
        return 0;
    }
  }

  private legacyWrite(off: number, w: AccessWidth, v: number): void {
    this.counters.legacyAccesses++;
    if (off >= VIRTIO_LEGACY_CONFIG) return this.writeDeviceConfig(off - VIRTIO_LEGACY_CONFIG, w, v);
    if (LEGACY_WIDTH[off] !== w) {
      this.report("4.1.4.10", "T10", `legacy register write of ${w} bytes at ${hex(off)}`);
      return;
    }
    const q = this.queues[this.queueSelect];
    switch (off) {
      case VIRTIO_LEGACY_GUEST_FEATURES: {
        this.legacy = true;
        const extra = (v & ~this.offered.lo) >>> 0;
        if (extra)
          this.report(
            "2.2.1",
            "T3",
            `legacy driver accepted features ${hex(extra)} the device did not offer; dropped`,
          );
        this.driverFeaturesLo = (v & this.offered.lo) >>> 0;
        this.driverFeaturesHi = 0;
        this.applyFeatures();
        return;
      }
      case VIRTIO_LEGACY_QUEUE_PFN: {
        if (q === undefined)
          return this.report("4.1.4.10", "T21", `QUEUE_PFN for nonexistent queue ${this.queueSelect}`);
        this.legacy = true;
        if (v === 0) {
          q.ready = false;
          return;
        }
        // §2.7.2 legacy layout: descriptors at PFN·4096, avail right after, used 4 KiB aligned.
        const n = q.maxSize;
        const base = (v >>> 0) * VIRTIO_LEGACY_VRING_ALIGN;
        const avail = base + 16 * n;
        const used = Math.ceil((avail + 6 + 2 * n) / VIRTIO_LEGACY_VRING_ALIGN) * VIRTIO_LEGACY_VRING_ALIGN;
        q.size = n;
        [q.desc, q.descHi] = split64(base);
        [q.avail, q.availHi] = split64(avail);
        [q.used, q.usedHi] = split64(used);
        q.ready = true;
        this.checkEnabledQueue(this.queueSelect, q);
        return;
      }
      case VIRTIO_LEGACY_QUEUE_SEL:
        this.queueSelect = v & 0xffff;
        return;
      case VIRTIO_LEGACY_QUEUE_NOTIFY:
        this.notify(v & 0xffff);
        return;
      case VIRTIO_LEGACY_STATUS:
        this.setStatus(v, true);
        return;
      default:
        this.report("4.1.4.10", "T11", `write of ${hex(v)} to read-only legacy register ${hex(off)}`);
    }
  }

  // ---- PCI_CFG capability (§4.1.4.9) ----

  private pciCfgAccess(write: boolean): void {
    const c = this.config;
    const at = this.pciCfgCap;
    const bar = c.bytes[at + 4]!;
    const offset = c.get32(at + 8);
    const length = c.get32(at + 12);
    const dev = this.bars[bar]?.device;
    const size = this.bars[bar]?.size ?? 0;
    if (
      dev === undefined ||
      (length !== 1 && length !== 2 && length !== 4) ||
      offset % length !== 0 ||
      offset + length > size
    ) {
      this.report(
        "4.1.4.9.2",
        "T23",
        `PCI_CFG access: bar ${bar}, offset ${hex(offset)}, length ${length} is not a valid window`,
      );
      return;
    }
    if (write)
      dev.write(offset, length, c.get32(at + 16) & (length === 4 ? 0xffffffff : (1 << (8 * length)) - 1));
    else c.set32(at + 16, dev.read(offset, length));
  }

  override configRead(offset: number, width: AccessWidth): number {
    const data = this.pciCfgCap + 16;
    if (offset < data + 4 && offset + width > data) this.pciCfgAccess(false);
    return super.configRead(offset, width);
  }

  protected override onConfigWrite(offset: number, width: AccessWidth, _value: number): void {
    const data = this.pciCfgCap + 16;
    if (offset < data + 4 && offset + width > data) this.pciCfgAccess(true);
  }

  // ---- snapshots ----

  saveVirtioState(): VirtioPciState {
    return {
      pci: this.saveState(),
      status: this.status,
      deviceFeatureSelect: this.deviceFeatureSelect,
      driverFeatureSelect: this.driverFeatureSelect,
      driverFeaturesLo: this.driverFeaturesLo,
      driverFeaturesHi: this.driverFeaturesHi,
      queueSelect: this.queueSelect,
      isr: this.isr,
      configGeneration: this.configGeneration,
      legacy: this.legacy,
      queues: this.queues.map((q) => q.saveState()),
    };
  }

  loadVirtioState(s: VirtioPciState): void {
    this.loadState(s.pci);
    this.status = s.status & 0xff;
    this.deviceFeatureSelect = s.deviceFeatureSelect >>> 0;
    this.driverFeatureSelect = s.driverFeatureSelect >>> 0;
    this.driverFeaturesLo = s.driverFeaturesLo >>> 0;
    this.driverFeaturesHi = s.driverFeaturesHi >>> 0;
    this.queueSelect = s.queueSelect & 0xffff;
    this.isr = s.isr & 3;
    this.configGeneration = s.configGeneration & 0xff;
    this.legacy = Boolean(s.legacy);
    s.queues.forEach((qs, i) => this.queues[i]?.loadState(qs));
    this.applyFeatures();
    this.setIrq(this.isr !== 0);
  }
}

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

function split64(v: number): [number, number] {
  return [v >>> 0, Math.floor(v / 2 ** 32) >>> 0];
}
