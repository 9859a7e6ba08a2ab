// Port I/O: every IN/OUT (and each element of INS/OUTS) is a trap to the host, counted here by
// direction and port before the host sees it, and recorded as an exit (exits.ts) after it.
import { CTL_BASE, C_PIO_IN, C_PIO_OUT, PIO_COUNTERS, EXIT_PIO_IN, EXIT_PIO_OUT } from "./layout";
import { pioRead, pioWrite } from "./host";
import { raiseAttention } from "./cpu/fault";
import { recordAccess } from "./exits";

/** Read `width` bytes (1, 2, 4) from `port`; the result is masked to the width. */
export function portIn(port: u32, width: u32): u32 {
  port &= 0xffff;
  store<u32>(CTL_BASE + C_PIO_IN, load<u32>(CTL_BASE + C_PIO_IN) + 1);
  const c = PIO_COUNTERS + (port << 3);
  store<u32>(c, load<u32>(c) + 1);
  let v = pioRead(port, width);
  raiseAttention();
  if (width != 4) v &= (1 << (width << 3)) - 1;
  recordAccess(0, EXIT_PIO_IN, port, width, v);
  return v;
}

/** Write the low `width` bytes of `value` to `port`. */
export function portOut(port: u32, width: u32, value: u32): void {
  port &= 0xffff;
  store<u32>(CTL_BASE + C_PIO_OUT, load<u32>(CTL_BASE + C_PIO_OUT) + 1);
  const c = PIO_COUNTERS + (port << 3) + 4;
  store<u32>(c, load<u32>(c) + 1);
  const v = width == 4 ? value : value & ((1 << (width << 3)) - 1);
  pioWrite(port, width, v);
  raiseAttention();
  recordAccess(1, EXIT_PIO_OUT, port, width, v);
}
