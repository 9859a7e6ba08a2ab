// I/O permission (SDM vol. 1 §19.5): in protected mode with CPL > IOPL, and always in
// virtual-8086 mode, each port of the access must be allowed by the TSS I/O bitmap.
import { STATE_BASE, S_TR } from "../layout";
import { protectedMode, cpl } from "./state";
import { sysFlags, F_IOPL, F_VM } from "./flags";
import { sysRead32, linRead8 } from "./memory";
import { raise, faulted, EXC_GP } from "./fault";

export function checkIoPermission(port: u32, width: u32): bool {
  if (!protectedMode()) return true;
  const f = sysFlags();
  if ((f & F_VM) == 0 && cpl() <= (f & F_IOPL) >> 12) return true;
  // Only a 32-bit TSS has a bitmap; its offset is the word at 0x66.
  const trBase = load<u32>(STATE_BASE + S_TR + 4);
  const trLimit = load<u32>(STATE_BASE + S_TR + 8);
  const trAttr = load<u32>(STATE_BASE + S_TR + 12);
  if ((trAttr & 0x8) == 0 || trLimit < 0x67) {
    raise(EXC_GP, 0);
    return false;
  }
  const mapBase = sysRead32(trBase + 0x64) >>> 16;
  if (faulted()) return false;
  const byteOff = mapBase + (port >> 3);
  if (byteOff + 1 > trLimit) {
    raise(EXC_GP, 0);
    return false;
  }
  const bits = linRead8(trBase + byteOff) | (linRead8(trBase + byteOff + 1) << 8);
  if (faulted()) return false;
  const mask: u32 = ((1 << width) - 1) << (port & 7);
  if ((bits & mask) != 0) {
    raise(EXC_GP, 0);
    return false;
  }
  return true;
}
