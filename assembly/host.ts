// Every import the core takes from its host, in one place. AssemblyScript imports a declared
// function from the module named after its file, so the wasm import module is "host".
// Only i32/f64 cross the boundary (an i64 would become a BigInt in JS).

/** Port read of `width` bytes (1, 2, 4). Called once per trapped access. */
export declare function pioRead(port: u32, width: u32): u32;

/** Port write of `width` bytes. */
export declare function pioWrite(port: u32, width: u32, value: u32): void;

/** Read of `width` bytes at a guest-physical address that is neither RAM nor ROM. */
export declare function mmioRead(addr: u32, width: u32): u32;

/** Write of `width` bytes at a guest-physical address that is neither RAM nor ROM. */
export declare function mmioWrite(addr: u32, width: u32, value: u32): void;

/** The CPU takes a maskable interrupt: the host's controller returns the vector (0-255). */
export declare function ackInterrupt(): u32;

declare function hostAbort(message: usize, file: usize, line: u32, column: u32): void;

/** AssemblyScript's abort (asserts in the debug build) routed to the host. */
export function abort(message: usize, file: usize, line: u32, column: u32): void {
  hostAbort(message, file, line, column);
  unreachable();
}
