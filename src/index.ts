/**
 * trapdoor: an x86 PC emulator for studying I/O virtualization.
 *
 * The library entry point: build a {@link Machine}, load a guest, run it, read its trap counters.
 */
export {
  Machine,
  COM1_PORT,
  POST_PORT,
  DEBUG_EXIT_PORT,
  SYSTEM_CONTROL_A_PORT,
  DEBUGCON_PORT,
} from "./machine.js";
export type { DriveOptions, MachineOptions, RunOptions, RunOutcome } from "./machine.js";
export { MemoryDisk, SECTOR_SIZE } from "./disk/index.js";
export type { DiskBackend } from "./disk/index.js";
export { VirtioBlk, parseFaultRule } from "./virtio/blk.js";
export type { BlkFaultEvent, BlkFaultRule, VirtioBlkOptions } from "./virtio/blk.js";
export { REQUEST_PENDING, VirtioPciDevice } from "./virtio/pci.js";
export type { VirtioCheckMode, VirtioDiagnostic, VirtioPciState } from "./virtio/pci.js";
export { SplitQueue } from "./virtio/split-queue.js";
export { Core, compileCore, defaultCoreUrl, GPR_NAMES, SEG_NAMES } from "./core/core.js";
export type { CoreHost, CoreLayout, CoreStop, GprName, SegName, SegmentCache } from "./core/core.js";
export { IoBus } from "./bus/io-bus.js";
export type { Mapping } from "./bus/io-bus.js";
export { allOnes } from "./bus/device.js";
export type { AccessWidth, IoDevice } from "./bus/device.js";
export type { IrqLine } from "./devices/irq.js";
export { Uart16550 } from "./devices/uart16550.js";
export { PostPort } from "./devices/post-port.js";
export { DebugExit } from "./devices/debug-exit.js";
export { DebugCon } from "./devices/debugcon.js";
export { SystemControlA } from "./devices/system-control-a.js";
export { checkBiosImage } from "./boot/bios.js";
export { BootImageError } from "./boot/boot-error.js";
export { loadMultiboot, pcMemoryMap, MULTIBOOT_BOOTLOADER_MAGIC } from "./boot/multiboot.js";
export type { MultibootEntryState, MultibootOptions, E820Entry } from "./boot/multiboot.js";
export {
  loadLinux,
  enterLinuxState,
  hasBzImageMagic,
  LINUX_BOOT_PARAMS_ADDR,
  LINUX_CMDLINE_ADDR,
  LINUX_GDT_ADDR,
  LINUX_KERNEL_ADDR,
} from "./boot/linux.js";
export type { LinuxEntryState, LinuxOptions } from "./boot/linux.js";
export type { TrapStats, AddressCount, DeviceCount, ExitStats, WidthCounts, VectorCount } from "./stats.js";
export { EXIT_CAUSES, EVENT_CAUSES, type ExitCause, type EventCause } from "./stats/exit-causes.js";
export type { ExitMarker } from "./stats/exit-recorder.js";
export {
  HOST_TIME_CLASSES,
  DEFAULT_HOST_TIME_SAMPLING,
  type HostTimeClass,
  type HostTimeStats,
  type HostTimeClassStats,
} from "./stats/host-time.js";
export { traceToJsonLines, type TraceEvent, type TraceSnapshot } from "./stats/trace.js";
export { StatsSeries, type StatsPoint } from "./stats/series.js";
export { virtioStats, type VirtioDeviceStats, type VirtqueueStats } from "./stats/virtio-stats.js";
export { irqOwners, type IrqOwner } from "./stats/irq-owners.js";
export {
  modelExitCosts,
  COST_PROFILES,
  COST_SOURCES,
  type CostProfile,
  type CostSource,
  type ModeledCost,
} from "./stats/cost-model.js";
export { parseMemorySize } from "./memory-size.js";
