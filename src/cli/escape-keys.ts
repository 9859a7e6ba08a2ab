/**
 * QEMU's character-device escape keys on a raw terminal: Ctrl-A followed by a command key.
 * Ctrl-A X quits, Ctrl-A H prints help, Ctrl-A Ctrl-A (or Ctrl-A A) sends one Ctrl-A to the guest.
 * Everything else passes through to the guest unchanged.
 */
export const CTRL_A = 0x01;

export type EscapeAction = "quit" | "help";

export const ESCAPE_HELP =
  "C-a h    print this help\r\nC-a x    exit trapdoor\r\nC-a C-a  send C-a to the guest\r\n";

export class EscapeFilter {
  private armed = false;

  /**
   * Split host keystrokes into bytes for the guest and escape actions, in order. The state
   * carries across calls, so Ctrl-A and its command may arrive in different chunks.
   */
  filter(input: Uint8Array): { bytes: Uint8Array; actions: EscapeAction[] } {
    const out: number[] = [];
    const actions: EscapeAction[] = [];
    for (const b of input) {
      if (!this.armed) {
        if (b === CTRL_A) this.armed = true;
        else out.push(b);
        continue;
      }
      this.armed = false;
      const key = b | 0x20; // case-insensitive for letters
      if (key === 0x78)
        actions.push("quit"); // x
      else if (key === 0x68)
        actions.push("help"); // h
      else if (b === CTRL_A || key === 0x61) out.push(CTRL_A); // C-a or a
      // Any other key after C-a is swallowed, as QEMU does for unknown commands.
    }
    return { bytes: Uint8Array.from(out), actions };
  }
}
