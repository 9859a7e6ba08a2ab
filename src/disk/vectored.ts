/**
 * Moving a list of views with a vectored call (preadv/pwritev) that may move fewer bytes than asked:
 * a short count is normal (Linux caps one call at IOV_MAX = 1024 views and libuv passes at most
 * that many; a regular file may also stop at a signal), so the rest is asked for again, starting
 * inside the view where the previous call stopped. Shared by the backends that have a vectored
 * primitive (FileDisk).
 */
import { totalLength } from "./backend.js";

/** One vectored call: move `views` at byte `position`, return the bytes moved (0: end of file). */
export type VectoredCall = (views: readonly Uint8Array[], position: number) => number;

/**
 * Move every byte of `views` at `position` with `call`, repeating it after short counts. Throws
 * when a call moves nothing (end of file, or a device that accepts no more) rather than loop.
 */
export function moveAll(
  views: readonly Uint8Array[],
  position: number,
  call: VectoredCall,
  what: string,
): void {
  const total = totalLength(views);
  let done = call(views, position);
  if (done === total) return; // the usual case: one call, no copy of the list
  let first = 0; // the view the next byte goes to, and how far into it
  let within = done;
  while (done < total) {
    while (within >= views[first]!.length) within -= views[first++]!.length;
    const rest = views.slice(first);
    rest[0] = rest[0]!.subarray(within);
    const n = call(rest, position + done);
    if (n <= 0) throw new Error(`${what}: short transfer at ${position + done} (${done} of ${total} bytes)`);
    done += n;
    within += n;
  }
}
