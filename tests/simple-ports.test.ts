import { describe, expect, it } from "vitest";
import { DebugExit } from "../src/devices/debug-exit.js";
import { PostPort } from "../src/devices/post-port.js";

describe("PostPort", () => {
  it("reads 0xFF and reports no code before any write", () => {
    const post = new PostPort();
    expect(post.name).toBe("post");
    expect(post.lastCode).toBe(-1);
    expect(post.count).toBe(0);
    expect(post.read(0, 1)).toBe(0xff);
  });

  it("remembers the last code, counts writes, calls back and reads back", () => {
    const codes: number[] = [];
    const post = new PostPort({ onCode: (c) => codes.push(c) });
    post.write(0, 1, 0x12);
    post.write(0, 1, 0xaa);
    post.write(0, 2, 0x1234); // low byte is the one at port 0x80
    expect(codes).toEqual([0x12, 0xaa, 0x34]);
    expect(post.lastCode).toBe(0x34);
    expect(post.count).toBe(3);
    expect(post.read(0, 1)).toBe(0x34);
    expect(post.read(0, 2)).toBe(0xff34);
    expect(post.read(0, 4)).toBe(0xffffff34);
  });

  it("round-trips its state", () => {
    const a = new PostPort();
    a.write(0, 1, 0x55);
    const saved = a.saveState();
    a.write(0, 1, 0x66);
    const b = new PostPort();
    b.loadState(saved);
    expect(b.lastCode).toBe(0x55);
    expect(b.count).toBe(1);
    expect(b.read(0, 1)).toBe(0x55);
    expect(saved).toEqual({ lastCode: 0x55, count: 1 });
  });
});

describe("DebugExit", () => {
  it("exits with (v << 1) | 1 for every width", () => {
    for (const width of [1, 2, 4] as const) {
      const codes: number[] = [];
      const dev = new DebugExit({ onExit: (c) => codes.push(c) });
      expect(dev.name).toBe("debug-exit");
      expect(dev.exitCode).toBe(-1);
      dev.write(0, width, 0x10);
      dev.write(0, width, 0);
      expect(codes).toEqual([0x21, 0x01]);
      expect(dev.exitCode).toBe(0x01);
    }
  });

  it("uses the whole written value of the access width, kept to 31 bits", () => {
    const codes: number[] = [];
    const dev = new DebugExit({ onExit: (c) => codes.push(c) });
    dev.write(0, 2, 0x1234);
    dev.write(0, 1, 0x1234); // only the low byte is written by a byte access
    dev.write(0, 4, 0x12345678);
    dev.write(0, 4, 0xffffffff);
    expect(codes).toEqual([0x2469, 0x69, 0x2468acf1, 0x7fffffff]);
  });

  it("reads 0 at any width and offset", () => {
    const dev = new DebugExit({ onExit: () => {} });
    expect(dev.read(0, 1)).toBe(0);
    expect(dev.read(1, 2)).toBe(0);
    expect(dev.read(0, 4)).toBe(0);
  });

  it("round-trips its state", () => {
    const a = new DebugExit({ onExit: () => {} });
    a.write(0, 1, 3);
    const b = new DebugExit({ onExit: () => {} });
    b.loadState(a.saveState());
    expect(b.exitCode).toBe(7);
  });
});
