import {
  PCI_COMMAND,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_STATUS,
  PCI_STATUS_DEVSEL_MEDIUM,
  PCI_STATUS_REC_MASTER_ABORT,
  PCI_STATUS_REC_TARGET_ABORT,
} from "./config-space.js";
import { PciDevice } from "./pci-device.js";

/** Intel's PCI vendor ID. */
export const PCI_VENDOR_INTEL = 0x8086;
/** Device ID of the 82441FX PMC (the 440FX host bridge, as QEMU's "pc" machine). */
export const PCI_DEVICE_ID_INTEL_82441 = 0x1237;
/** Base class 0x06 (bridge device), sub-class 0x00 (host bridge), PCI 3.0 Appendix D. */
export const PCI_CLASS_BRIDGE = 0x06;
export const PCI_SUBCLASS_BRIDGE_HOST = 0x00;

/*
 * The host bridge at 00:00.0, identified as an Intel 82441FX PMC (440FX): vendor 0x8086, device
 * 0x1237, revision 0x02, class 0x060000. Its presence is what Linux's pci_sanity_check() looks for
 * after the CONFIG_ADDRESS probe (a host bridge class, or an Intel/Compaq vendor ID, at bus 0).
 *
 * No BARs, no interrupt pin, no capabilities. The 82441FX datasheet gives PCICMD a default of 0x0006
 * (memory access and bus master always enabled: the bridge forwards CPU cycles) and PCISTS a default
 * of 0x0280 (medium DEVSEL, fast back-to-back capable) with RW1C abort bits; those are modelled,
 * everything else (PAM, SMRAM and DRAM registers at 0x50-0x72) reads 0: memory is not remappable here.
 */
export class HostBridge extends PciDevice {
  constructor() {
    super({
      name: "host-bridge",
      vendorId: PCI_VENDOR_INTEL,
      deviceId: PCI_DEVICE_ID_INTEL_82441,
      revision: 0x02,
      classCode: PCI_CLASS_BRIDGE,
      subclass: PCI_SUBCLASS_BRIDGE_HOST,
    });
    const c = this.config;
    c.set16(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    c.setWriteMask(PCI_COMMAND, 2, 0); // hardwired
    c.set16(PCI_STATUS, PCI_STATUS_DEVSEL_MEDIUM | 0x0080 /* fast back-to-back capable */);
    c.setW1cMask(PCI_STATUS, 2, PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT);
  }
}
