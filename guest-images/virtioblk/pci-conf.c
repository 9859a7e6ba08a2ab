/*
 * pci-conf.c - PCI configuration mechanism #1 (PCI Local Bus 3.0 §3.2.2.3.2): CONFIG_ADDRESS at
 * 0xCF8 (enable bit 31, bus 23:16, device 15:11, function 10:8, dword register 7:2), then the
 * dword at CONFIG_DATA 0xCFC, whose byte lanes 0xCFC-0xCFF select the bytes. Bus 0, function 0.
 */
#include "io.h"
#include "virtio.h"

#define PCI_CONFIG_ADDRESS 0xCF8
#define PCI_CONFIG_DATA 0xCFC

static void select_reg(int slot, int off)
{
    outl(PCI_CONFIG_ADDRESS, 0x80000000u | ((uint32_t)slot << 11) | ((uint32_t)off & 0xFC));
}

uint32_t pci_read32(int slot, int off)
{
    select_reg(slot, off);
    return inl(PCI_CONFIG_DATA);
}

uint16_t pci_read16(int slot, int off)
{
    select_reg(slot, off);
    return inw(PCI_CONFIG_DATA + (off & 2));
}

uint8_t pci_read8(int slot, int off)
{
    select_reg(slot, off);
    return inb(PCI_CONFIG_DATA + (off & 3));
}

void pci_write16(int slot, int off, uint16_t v)
{
    select_reg(slot, off);
    outw(PCI_CONFIG_DATA + (off & 2), v);
}

void pci_write32(int slot, int off, uint32_t v)
{
    select_reg(slot, off);
    outl(PCI_CONFIG_DATA, v);
}
