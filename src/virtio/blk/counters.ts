/** virtio-blk request counters (the transport's own are in VirtioPciDevice.counters). */
export interface BlkCounters {
  reads: number;
  writes: number;
  /** FLUSH requests. */
  flushes: number;
  /** Backend flushes (fsync): FLUSH requests and writethrough writes. */
  backendFlushes: number;
  getIds: number;
  discards: number;
  writeZeroes: number;
  /** Requests answered UNSUPP. */
  unsupported: number;
  /** Requests answered IOERR (bad requests, backend errors, injected faults). */
  errors: number;
  bytesRead: number;
  bytesWritten: number;
  /** Sectors discarded / zeroed by DISCARD and WRITE_ZEROES. */
  sectorsDiscarded: number;
  sectorsZeroed: number;
  /** Faults injected (each is also an onFault event). */
  faults: number;
}

export function newBlkCounters(): BlkCounters {
  return {
    reads: 0,
    writes: 0,
    flushes: 0,
    backendFlushes: 0,
    getIds: 0,
    discards: 0,
    writeZeroes: 0,
    unsupported: 0,
    errors: 0,
    bytesRead: 0,
    bytesWritten: 0,
    sectorsDiscarded: 0,
    sectorsZeroed: 0,
    faults: 0,
  };
}
