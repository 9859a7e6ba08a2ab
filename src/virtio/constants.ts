/** Virtio constants (virtio 1.2; include/uapi/linux/virtio_*.h). */

/** PCI vendor ID of virtio devices (§4.1.2). */
export const VIRTIO_PCI_VENDOR_ID = 0x1af4;
/** Modern device ID = 0x1040 + virtio device type (§4.1.2.1). */
export const VIRTIO_PCI_MODERN_DEVICE_BASE = 0x1040;
/** Transitional device IDs (§4.1.2.3): block is 0x1001. */
export const VIRTIO_PCI_TRANSITIONAL_BLK = 0x1001;

/** Virtio device types (§5). */
export const VIRTIO_ID_BLOCK = 2;

/** Device status bits (§2.1). */
export const VIRTIO_STATUS_ACKNOWLEDGE = 1;
export const VIRTIO_STATUS_DRIVER = 2;
export const VIRTIO_STATUS_DRIVER_OK = 4;
export const VIRTIO_STATUS_FEATURES_OK = 8;
export const VIRTIO_STATUS_DEVICE_NEEDS_RESET = 64;
export const VIRTIO_STATUS_FAILED = 128;

/** Device-independent feature bits (§6), as bit numbers. */
export const VIRTIO_F_INDIRECT_DESC = 28;
export const VIRTIO_F_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;

/** Vendor capability cfg_type values (§4.1.4). */
export const VIRTIO_PCI_CAP_COMMON_CFG = 1;
export const VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
export const VIRTIO_PCI_CAP_ISR_CFG = 3;
export const VIRTIO_PCI_CAP_DEVICE_CFG = 4;
export const VIRTIO_PCI_CAP_PCI_CFG = 5;

/** ISR bits (§4.1.4.5). */
export const VIRTIO_ISR_QUEUE = 1;
export const VIRTIO_ISR_CONFIG = 2;

/** MSI-X "no vector" (§4.1.5.1.2): we have no MSI-X, so every vector reads as this. */
export const VIRTIO_MSI_NO_VECTOR = 0xffff;

/** Legacy I/O register block (§4.1.4.10). */
export const VIRTIO_LEGACY_HOST_FEATURES = 0;
export const VIRTIO_LEGACY_GUEST_FEATURES = 4;
export const VIRTIO_LEGACY_QUEUE_PFN = 8;
export const VIRTIO_LEGACY_QUEUE_NUM = 12;
export const VIRTIO_LEGACY_QUEUE_SEL = 14;
export const VIRTIO_LEGACY_QUEUE_NOTIFY = 16;
export const VIRTIO_LEGACY_STATUS = 18;
export const VIRTIO_LEGACY_ISR = 19;
/** Device config starts here in the legacy block without MSI-X. */
export const VIRTIO_LEGACY_CONFIG = 20;
/** Legacy vring alignment (§2.7.2 "Legacy Interfaces"): the used ring starts on a 4 KiB boundary. */
export const VIRTIO_LEGACY_VRING_ALIGN = 4096;

/** Features as a pair of 32-bit words (bits 0-31, 32-63). */
export interface FeatureWords {
  lo: number;
  hi: number;
}

/** True if feature `bit` is set in (lo, hi). */
export function hasFeature(f: FeatureWords, bit: number): boolean {
  return bit < 32 ? ((f.lo >>> bit) & 1) === 1 : ((f.hi >>> (bit - 32)) & 1) === 1;
}

/** A feature set from bit numbers. */
export function features(...bits: number[]): FeatureWords {
  let lo = 0;
  let hi = 0;
  for (const b of bits) {
    if (b < 32) lo |= 1 << b;
    else hi |= 1 << (b - 32);
  }
  return { lo: lo >>> 0, hi: hi >>> 0 };
}
