// Guest RAM inside a real core: virtqueues are processed by the core (assembly/virtio/queue.ts), so
// a device under test needs its RAM to be a core's `ram`. The core never runs here.
import { Core, type CoreHost } from "../../src/core/core.js";

const IDLE_HOST: CoreHost = {
  pioRead: () => 0xffffffff,
  pioWrite: () => {},
  mmioRead: () => 0xffffffff,
  mmioWrite: () => {},
  ackInterrupt: () => 0,
};

/** A fresh core with `ramSize` bytes of guest RAM (and a `romSize`-byte firmware ROM). */
export function idleCore(ramSize: number, romSize = 0): Promise<Core> {
  return Core.create(IDLE_HOST, ramSize, undefined, romSize);
}

/** A little-endian view of guest RAM (core RAM is a window of a larger buffer). */
export function ramView(ram: Uint8Array): DataView {
  return new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
}
