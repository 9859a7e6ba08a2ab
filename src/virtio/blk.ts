/**
 * virtio-blk (virtio 1.2 §5.2): the public surface of src/virtio/blk/ — the device, its feature
 * bits and config layout, request types and status values, and fault injection rules.
 */
export { VirtioBlk, type VirtioBlkOptions } from "./blk/device.js";
export * from "./blk/config.js";
export {
  VIRTIO_BLK_ID_BYTES,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
} from "./blk/request.js";
export type { BlkCounters } from "./blk/counters.js";
export {
  FaultPlan,
  formatFaultRule,
  parseFaultRule,
  type BlkFaultEvent,
  type BlkFaultRule,
} from "./blk/faults.js";
