// Port I/O: every IN/OUT (and each element of INS/OUTS) is a trap to the host, counted here by
// direction and port before the host sees it.
import { CTL_BASE, C_PIO_IN, C_PIO_OUT, PIO_COUNTERS } from "./layout";
import { pioRead, pioWrite } from "./host";
import { raiseAttention } from "./cpu/fault";

/** Read `width` bytes (1, 2, 4) from `port`; the result is masked to the width. */
export function portIn(port: u32, width: u32): u32 {
  port &= 0xffff;
  store<u32>(CTL_BASE + C_PIO_IN, load<u32>(CTL_BASE + C_PIO_IN) + 1);
  const c = PIO_COUNTERS + (port << 3);
  store<u32>(c, load<u32>(c) + 1);
  const v = pioRead(port, width);
  raiseAttention();
  return width == 4 ? v : v & ((1 << (width << 3)) - 1);
}

/** Write the low `width` bytes of `value` to `port`. */
export function portOut(port: u32, width: u32, value: u32): void {
  port &= 0xffff;
  store<u32>(CTL_BASE + C_PIO_OUT, load<u32>(CTL_BASE + C_PIO_OUT) + 1);
  const c = PIO_COUNTERS + (port << 3) + 4;
  store<u32>(c, load<u32>(c) + 1);
  pioWrite(port, width, width == 4 ? value : value & ((1 << (width << 3)) - 1));
  raiseAttention();
}
