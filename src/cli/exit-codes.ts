/**
 * Process exit codes of `trapdoor run`. A guest's debug-exit code is (v << 1) | 1, always odd,
 * so the emulator's own outcomes use even codes and can never be mistaken for the guest's.
 */
export const EXIT_OK = 0;
/** Bad command line or a refused image (the message says which). */
export const EXIT_USAGE = 2;
/** --timeout expired. */
export const EXIT_TIMEOUT = 4;
/** Triple fault: the CPU shut down. */
export const EXIT_TRIPLE_FAULT = 6;
/** The guest halted with interrupts enabled but no device left that could interrupt it. */
export const EXIT_HALTED = 8;
/** The emulator met something it does not implement, or failed internally. */
export const EXIT_INTERNAL = 10;
/** The guest asked for a reset (port 0x92 fast reset); trapdoor does not reboot yet. */
export const EXIT_RESET = 12;
/** Interrupted by the user (Ctrl-C / SIGINT), as shells report 128 + SIGINT. */
export const EXIT_INTERRUPTED = 130;
