// Every import the core takes from its host, in one place. The host module is named "host".
// Only i32/f64 cross the boundary (an i64 would become a BigInt in JS).

/** Port read of `width` bytes (1, 2, 4). Called once per trapped access. */
@external("host", "pioRead")
export declare function hostPioRead(port: u32, width: u32): u32;

/** Port write of `width` bytes. */
@external("host", "pioWrite")
export declare function hostPioWrite(port: u32, width: u32, value: u32): void;

/** Read of `width` bytes at a guest-physical address that is neither RAM nor ROM. */
@external("host", "mmioRead")
export declare function hostMmioRead(addr: u32, width: u32): u32;

/** Write of `width` bytes at a guest-physical address that is neither RAM nor ROM. */
@external("host", "mmioWrite")
export declare function hostMmioWrite(addr: u32, width: u32, value: u32): void;

/** The CPU takes a maskable interrupt: the host's controller returns the vector (0-255). */
@external("host", "ackInterrupt")
export declare function hostAckInterrupt(): u32;

@external("host", "abort")
declare function hostAbort(message: usize, file: usize, line: u32, column: u32): void;

/** AssemblyScript's abort (asserts in the debug build) routed to the host. */
export function abort(message: usize, file: usize, line: u32, column: u32): void {
  hostAbort(message, file, line, column);
  unreachable();
}
