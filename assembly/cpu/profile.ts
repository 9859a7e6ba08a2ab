// Executed-opcode counters for the profile build only (`asc --target profile`, which passes
// `--use PROFILE=1`): the release and debug builds compile `countOpcode` to nothing.
import { PROFILE_COUNTERS, PROFILE_SLOTS } from "../layout";

// @ts-ignore: PROFILE is a compile-time constant given by --use in the profile target only
export const PROFILING: bool = isDefined(PROFILE);

/** Count one executed opcode: 0x00-0xFF one-byte map, 0x100 | xx for 0F xx. */
// @ts-ignore: decorator
@inline
export function countOpcode(op: u32): void {
  if (PROFILING) {
    const a = PROFILE_COUNTERS + ((op & (PROFILE_SLOTS - 1)) << 3);
    store<u64>(a, load<u64>(a) + 1);
  }
}

export function clearProfile(): void {
  if (PROFILING) memory.fill(PROFILE_COUNTERS, 0, PROFILE_SLOTS << 3);
}
