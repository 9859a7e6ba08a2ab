import { describe, expect, it } from "vitest";
import { EscapeFilter, CTRL_A } from "../src/cli/escape-keys.js";
import { ExpectScript, decodeEscapes } from "../src/cli/expect-script.js";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("Ctrl-A escape keys", () => {
  it("passes ordinary keys through and quits on C-a x, even split across chunks", () => {
    const f = new EscapeFilter();
    expect(f.filter(bytes("ls\r"))).toEqual({ bytes: bytes("ls\r"), actions: [] });
    const a = f.filter(Uint8Array.of(0x41, CTRL_A));
    expect(a).toEqual({ bytes: Uint8Array.of(0x41), actions: [] });
    expect(f.filter(bytes("x"))).toEqual({ bytes: new Uint8Array(), actions: ["quit"] });
  });

  it("sends one C-a for C-a C-a or C-a a, prints help for C-a h, swallows unknown commands", () => {
    const f = new EscapeFilter();
    const r = f.filter(Uint8Array.of(CTRL_A, CTRL_A, CTRL_A, 0x61, CTRL_A, 0x48, CTRL_A, 0x7a, 0x62));
    expect(r.bytes).toEqual(Uint8Array.of(CTRL_A, CTRL_A, 0x62));
    expect(r.actions).toEqual(["help"]);
  });
});

describe("expect/send scripts", () => {
  it("sends each text after its expectation, matching in order past the previous match", () => {
    const sent: string[] = [];
    const s = new ExpectScript(
      [
        { expect: "", send: "\r" },
        { expect: "# ", send: "uname\n" },
        { expect: "# ", send: "poweroff -f\n" },
      ],
      (t) => sent.push(t),
    );
    s.start();
    expect(sent).toEqual(["\r"]);
    s.feed(bytes("booting...\n/ #"));
    expect(sent).toEqual(["\r"]);
    s.feed(bytes(" "));
    expect(sent).toEqual(["\r", "uname\n"]);
    expect(s.waitingFor).toBe("# ");
    s.feed(bytes("uname\nLinux\n/ # "));
    expect(sent).toEqual(["\r", "uname\n", "poweroff -f\n"]);
    expect(s.done).toBe(true);
  });

  it("decodes command-line escapes and refuses unknown ones", () => {
    expect(decodeEscapes("a\\nb\\r\\t\\x41\\\\")).toBe("a\nb\r\tA\\");
    expect(() => decodeEscapes("\\q")).toThrow(/unknown escape \\q/);
  });
});
