/**
 * Drive a serial console like expect(1): wait for each expected text in the guest's output, then
 * send the text paired with it. Matching continues after the end of the previous match, so the
 * same prompt can be expected again for the next command.
 */
export interface ExpectStep {
  /** Text to wait for ("" sends at once). */
  expect: string;
  /** Text to send when it appears (escapes already decoded). */
  send?: string;
}

/** Output kept for matching: enough for any expected text and the message on a timeout. */
const WINDOW = 64 * 1024;

export class ExpectScript {
  private next = 0;
  private seen = "";
  private readonly decoder = new TextDecoder("latin1");

  constructor(
    private readonly steps: readonly ExpectStep[],
    private readonly send: (text: string) => void,
  ) {}

  /** Start: steps with an empty expectation are sent right away. */
  start(): void {
    this.advance();
  }

  /** Feed guest output; sends every text whose expectation is now met. */
  feed(bytes: Uint8Array): void {
    this.seen += this.decoder.decode(bytes);
    this.advance();
    if (this.seen.length > WINDOW) this.seen = this.seen.slice(-WINDOW);
  }

  /** All expectations met. */
  get done(): boolean {
    return this.next >= this.steps.length;
  }

  /** The expectation still waited for, if any. */
  get waitingFor(): string | undefined {
    return this.steps[this.next]?.expect;
  }

  private advance(): void {
    while (this.next < this.steps.length) {
      const step = this.steps[this.next]!;
      const at = this.seen.indexOf(step.expect);
      if (at < 0) return;
      this.seen = this.seen.slice(at + step.expect.length);
      this.next++;
      if (step.send !== undefined) this.send(step.send);
    }
  }
}

/**
 * Decode the escapes users write on a command line: \n \r \t \e \\ \xHH and \0 (as in
 * printf and expect); anything else after a backslash is an error.
 */
export function decodeEscapes(text: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{2}|.)/gs, (_, e: string) => {
    switch (e[0]) {
      case "n":
        return "\n";
      case "r":
        return "\r";
      case "t":
        return "\t";
      case "e":
        return "\x1b";
      case "0":
        return "\0";
      case "\\":
        return "\\";
      case "x":
        return String.fromCharCode(parseInt(e.slice(1), 16));
      default:
        throw new RangeError(`unknown escape \\${e} in "${text}" (use \\n \\r \\t \\e \\\\ \\xHH)`);
    }
  });
}
