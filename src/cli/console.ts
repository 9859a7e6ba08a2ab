/**
 * Wire the host's stdin to the guest's serial console: keystrokes from a raw terminal (with
 * QEMU's Ctrl-A escapes), bytes from a pipe, or an --expect/--send script.
 */
import type { Machine } from "../machine.js";
import { EscapeFilter, ESCAPE_HELP } from "./escape-keys.js";
import { ExpectScript, type ExpectStep } from "./expect-script.js";

export interface ConsoleSession {
  /** The user pressed Ctrl-A X. */
  readonly userQuit: boolean;
  /** The expectation a script still waits for, if any. */
  readonly waitingFor: string | undefined;
  /** Give the terminal back (cooked mode) and stop reading stdin. */
  detach(): void;
}

export function attachConsole(
  machine: Machine,
  steps: readonly ExpectStep[],
  stdin: NodeJS.ReadStream = process.stdin,
  stderr: NodeJS.WriteStream = process.stderr,
): ConsoleSession {
  let userQuit = false;
  let script: ExpectScript | undefined;
  let onData: ((chunk: Buffer) => void) | undefined;
  const raw = steps.length === 0 && stdin.isTTY === true;
  if (steps.length > 0) {
    // Scripted: the script does the typing; stdin is left alone.
    const s = new ExpectScript(steps, (text) => machine.sendSerialInput(text));
    machine.onSerialOutput((bytes) => s.feed(bytes));
    s.start();
    script = s;
  } else if (raw) {
    const escapes = new EscapeFilter();
    stdin.setRawMode(true);
    onData = (chunk) => {
      const { bytes, actions } = escapes.filter(chunk);
      if (bytes.length > 0) machine.sendSerialInput(bytes);
      for (const a of actions) {
        if (a === "help") stderr.write(ESCAPE_HELP);
        else {
          userQuit = true;
          machine.stop();
        }
      }
    };
  } else {
    onData = (chunk) => machine.sendSerialInput(chunk);
  }
  if (onData !== undefined) {
    stdin.on("data", onData);
    stdin.resume();
  }
  return {
    get userQuit() {
      return userQuit;
    },
    get waitingFor() {
      return script?.done === false ? script.waitingFor : undefined;
    },
    detach() {
      if (onData !== undefined) stdin.off("data", onData);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
    },
  };
}
