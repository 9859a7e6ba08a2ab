// Fuzzing the core's split-virtqueue code (assembly/virtio/queue.ts via src/virtio/split-queue.ts)
// with seeded random and adversarial rings: random descriptors, loops, huge lengths, nested and
// oversized indirect tables, addresses at and over the RAM end or under the ROM window, avail idx
// jumps, misaligned or overlapping rings, nonsense queue sizes, heads offered twice. Every call is
// mirrored on the TypeScript reference (tests/helpers/split-queue-oracle.ts) over a copy of guest
// RAM, and the two must agree on every result, every result field and every byte of RAM. Memory
// outside guest RAM must not change except the fuzzed queues' own slots.
import { describe, expect, it } from "vitest";
import {
  SplitQueue,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_MAX_SEGMENTS,
  VQ_AVAIL_IDX_JUMP,
  VQ_OK,
  VQ_STATUS_TEXT,
} from "../src/virtio/split-queue.js";
import { idleCore } from "./helpers/core-ram.js";
import { SplitQueueOracle } from "./helpers/split-queue-oracle.js";

const RAM_SIZE = 8 << 20; // 586 buffers of 7 MiB pass the 2^32 chain limit
const ROM_SIZE = 64 << 10; // hides guest-physical [0xF0000, 0x100000); lies right after RAM
const ROM_WINDOW = 0x100000 - ROM_SIZE;
const CASES = 4000;
const MAX_SIZE = 1024;

/** Fail with vitest's message only on a mismatch (expect() per value is too slow for this loop). */
function same<T>(actual: T, expected: T, what: string): void {
  if (actual !== expected) expect(actual, what).toBe(expected);
}
function check(ok: boolean, what: string): void {
  if (!ok) expect.fail(what);
}

/** xorshift32, seeded: the same rings on every run. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const below = (n: number): number => next() % n;
  const chance = (p: number): boolean => next() / 2 ** 32 < p;
  return { next, below, chance };
}

describe("virtqueue fuzz: core vs reference", () => {
  it(`${CASES} seeded random and adversarial rings`, async () => {
    const core = await idleCore(RAM_SIZE, ROM_SIZE);
    const mem = new Uint8Array(core.memory.buffer);
    core.rom.forEach((_, i) => (core.rom[i] = (i * 131 + 7) & 0xff));
    const ram = core.ram;
    const oracleRam = new Uint8Array(RAM_SIZE);
    const dv = [ram, oracleRam].map((r) => new DataView(r.buffer, r.byteOffset, r.byteLength));
    // The fuzzing driver writes guest RAM only (a ring placed outside it is not written).
    const w32 = (a: number, v: number) =>
      a + 4 <= RAM_SIZE && dv.forEach((d) => d.setUint32(a, v >>> 0, true));
    const w16 = (a: number, v: number) =>
      a + 2 <= RAM_SIZE && dv.forEach((d) => d.setUint16(a, v & 0xffff, true));

    const queues = [new SplitQueue(ram, MAX_SIZE), new SplitQueue(ram, MAX_SIZE)];
    const slotBase = core.at("VQ_BASE");
    const slotSize = core.at("VQ_SLOT_SIZE");
    const usedSlots = queues.map((q) => q.slot);
    // Everything outside guest RAM, except the fuzzed queues' slots (their documented scratch).
    const outside = (): Uint8Array[] => {
      const parts: Uint8Array[] = [];
      let from = 0;
      for (const s of usedSlots) {
        parts.push(mem.slice(from, slotBase + s * slotSize));
        from = slotBase + (s + 1) * slotSize;
      }
      parts.push(mem.slice(from, core.at("RAM_BASE")));
      parts.push(mem.slice(core.at("RAM_BASE") + RAM_SIZE));
      return parts;
    };
    const before = outside();
    const stateBlock = () => mem.slice(core.at("STATE_BASE"), core.at("STATE_BASE") + 0x1000);
    const ctlBlock = () => mem.slice(core.at("CTL_BASE"), core.at("CTL_BASE") + 0x1000);
    const romAndGuard = () => mem.slice(core.at("RAM_BASE") + RAM_SIZE);
    const quick = () => [stateBlock(), ctlBlock(), romAndGuard()];
    const quickBefore = quick();

    const r = rng(0x5eed1234);
    const statuses = new Map<number, number>();
    const seen = (st: number) => statuses.set(st, (statuses.get(st) ?? 0) + 1);
    let ops = 0;

    /**
     * A guest-physical address for `len` bytes (`align`ed near edges): mostly inside RAM, often
     * ending one byte before, at or after the RAM end or the ROM window, sometimes anywhere.
     */
    const addr = (len: number, align = 1): number => {
      const edge = (end: number) => end - len + (r.below(3) - 1) * align;
      const k = r.below(16);
      if (k <= 1) return edge(RAM_SIZE) >>> 0; // at / over the end of RAM
      if (k === 2) return edge(ROM_WINDOW) >>> 0; // running into the ROM window
      if (k === 3) return 0x100000 + (r.below(3) - 1) * align; // leaving it
      if (k === 4) return r.next(); // anything
      if (k === 5) return 0xfffffff0 + r.below(16); // wrapping
      return r.below(RAM_SIZE);
    };
    const len = (): number => {
      const k = r.below(12);
      if (k === 0) return 0;
      if (k === 1) return 0xffffffff;
      if (k === 2) return RAM_SIZE;
      if (k === 3) return r.next();
      return 1 + r.below(8192);
    };
    const flags = (): number => {
      if (r.chance(0.1)) return r.below(0x10000);
      let f = r.chance(0.6) ? VIRTQ_DESC_F_NEXT : 0;
      if (r.chance(0.4)) f |= VIRTQ_DESC_F_WRITE;
      if (r.chance(0.1)) f |= VIRTQ_DESC_F_INDIRECT;
      return f;
    };
    const desc = (table: number, i: number, a: number, l: number, f: number, next: number, hi = 0) => {
      const at = table + 16 * i;
      if (at + 16 > RAM_SIZE) return;
      w32(at, a);
      w32(at + 4, hi);
      w32(at + 8, l);
      w16(at + 12, f);
      w16(at + 14, next);
    };

    const both = (q: SplitQueue, o: SplitQueueOracle, what: string) => {
      const fields = [
        "segCount",
        "readableBytes",
        "writableBytes",
        "errorDescriptor",
        "errorIndirect",
        "errorDescAddr",
        "errorDescLen",
        "errorDescFlags",
        "errorDescNext",
        "lastAvail",
        "usedIdx",
        "signalledUsed",
      ] as const;
      for (const f of fields) same<number | boolean>(q[f], o[f], `${what}: ${f}`);
      for (let i = 0; i < q.segCount; i++) {
        same(q.segAddr[i], o.segAddr[i], `${what}: segAddr[${i}]`);
        same(q.segLen[i], o.segLen[i], `${what}: segLen[${i}]`);
        same(q.segWrite[i], o.segWrite[i], `${what}: segWrite[${i}]`);
      }
    };

    /** Independent of the oracle: what an OK walk hands the device is safe to use. */
    const validWalk = (q: SplitQueue) => {
      let seenWrite = false;
      let readable = 0;
      let writable = 0;
      check(q.segCount > 0 && q.segCount <= VIRTQ_MAX_SEGMENTS, `${q.segCount} segments`);
      for (let s = 0; s < q.segCount; s++) {
        const a = q.segAddr[s]!;
        const l = q.segLen[s]!;
        check(l > 0 && a + l <= RAM_SIZE, `segment ${a}+${l} outside RAM`);
        check(a >= 0x100000 || a + l <= ROM_WINDOW, `segment ${a}+${l} under the ROM`);
        if (q.segWrite[s]) {
          seenWrite = true;
          writable += l;
        } else {
          check(!seenWrite, "readable segment after a writable one");
          readable += l;
        }
      }
      check(readable + writable <= 0xffffffff, "chain longer than 2^32");
      same(q.readableBytes, readable, "readable bytes");
      same(q.writableBytes, writable, "writable bytes");
    };

    for (let c = 0; c < CASES; c++) {
      const q = queues[c & 1]!;
      const o = new SplitQueueOracle(oracleRam, MAX_SIZE, ROM_SIZE);
      q.reset();
      // ---- queue configuration: mostly sane, sometimes nonsense ----
      const size = r.chance(0.05) ? r.below(3000) : 1 << r.below(11);
      const n = Math.max(1, Math.min(size, MAX_SIZE));
      const place = (bytes: number, align: number): number =>
        r.chance(0.08) ? addr(bytes, align) : Math.floor(r.below(RAM_SIZE - bytes) / align) * align;
      const cfg = {
        size,
        desc: place(16 * n, 16),
        avail: place(6 + 2 * n, 2),
        used: place(6 + 8 * n, 4),
        descHi: r.chance(0.01) ? 1 : 0,
        availHi: r.chance(0.01) ? 0x80000000 : 0,
        usedHi: r.chance(0.01) ? 1 : 0,
        lastAvail: r.below(0x10000),
        usedIdx: r.below(0x10000),
        eventIdx: r.chance(0.5),
        indirect: r.chance(0.7),
        ready: true,
      };
      if (r.chance(0.05)) cfg.used = cfg.desc + 16 * r.below(n); // overlapping rings
      if (r.chance(0.05)) cfg.avail = cfg.desc + 2 * r.below(8 * n);
      Object.assign(q, cfg, { signalledUsed: cfg.usedIdx });
      Object.assign(o, cfg, { signalledUsed: cfg.usedIdx });
      const rings = q.checkRings();
      same(rings, o.checkRings(), `case ${c}: checkRings`);
      same(q.ringsOverlapWarning, o.ringsOverlapWarning, `case ${c}: overlap warning`);
      seen(rings);
      const ringsOk = rings === VQ_OK || r.chance(0.1); // sometimes drive broken rings anyway

      // ---- the driver's side: descriptors, indirect tables, the avail ring ----
      if (rings === VQ_OK && ringsOk) {
        const heads = Math.min(n, 1 + r.below(8));
        for (let k = 0; k < heads; k++) {
          const head = r.below(n);
          const pattern = r.below(10);
          if (pattern === 0) {
            // a loop through the table
            const a = head;
            const b = r.below(n);
            desc(cfg.desc, a, r.below(RAM_SIZE - 64), 64, VIRTQ_DESC_F_NEXT, b);
            desc(cfg.desc, b, r.below(RAM_SIZE - 64), 64, VIRTQ_DESC_F_NEXT, a);
          } else if (pattern === 1 || pattern === 2) {
            // an indirect table: big (past VIRTQ_MAX_SEGMENTS), with huge buffers, or random
            const entries = pattern === 1 ? 1 + r.below(1100) : 1 + r.below(16);
            const table = Math.floor(r.below(RAM_SIZE - 16 * entries) / 16) * 16;
            const huge = r.chance(0.3);
            for (let i = 0; i < entries; i++) {
              const last = i === entries - 1;
              if (huge) desc(table, i, 0x100000, RAM_SIZE - 0x100000, last ? 0 : VIRTQ_DESC_F_NEXT, i + 1);
              else if (pattern === 1 || r.chance(0.9))
                desc(
                  table,
                  i,
                  0x100000 + r.below(RAM_SIZE - 0x100000 - 512), // clear of the ROM window
                  1 + r.below(512),
                  last ? 0 : VIRTQ_DESC_F_NEXT,
                  i + 1,
                );
              else {
                const l = len();
                desc(table, i, addr(l), l, flags(), r.below(entries + 2));
              }
            }
            const tl = r.chance(0.9) ? 16 * entries : len();
            const tf = VIRTQ_DESC_F_INDIRECT | (r.chance(0.1) ? flags() : 0);
            desc(cfg.desc, head, r.chance(0.95) ? table : addr(tl), tl, tf, r.below(n + 2));
          } else if (pattern === 3) {
            // a valid direct chain
            let i = head;
            const count = 1 + r.below(Math.min(n, 6));
            const used = new Set<number>([i]);
            for (let k2 = 0; k2 < count; k2++) {
              let next = r.below(n);
              const last = k2 === count - 1 || used.size === n;
              while (!last && used.has(next)) next = (next + 1) % n;
              used.add(next);
              const write = k2 >= count / 2;
              desc(
                cfg.desc,
                i,
                r.below(RAM_SIZE - 4096),
                1 + r.below(4096),
                (last ? 0 : VIRTQ_DESC_F_NEXT) | (write ? VIRTQ_DESC_F_WRITE : 0),
                next,
              );
              if (last) break;
              i = next;
            }
          } else {
            // random descriptors around the head
            for (let k2 = 0; k2 < 4; k2++) {
              const l = len();
              const hi = r.chance(0.02) ? 1 : 0;
              desc(cfg.desc, k2 === 0 ? head : r.below(n), addr(l), l, flags(), r.below(n + 2), hi);
            }
          }
          w16(cfg.avail + 4 + 2 * ((cfg.lastAvail + k) % n), r.chance(0.05) ? r.below(0x10000) : head);
        }
        const jump = r.chance(0.1) ? r.below(0x10000) : heads;
        w16(cfg.avail + 2, cfg.lastAvail + jump);
        w16(cfg.avail, r.below(4)); // avail.flags, NO_INTERRUPT and junk
        w16(cfg.avail + 4 + 2 * n, r.below(0x10000)); // used_event
        if (r.chance(0.3)) w16(cfg.avail + 4 + 2 * n, (cfg.usedIdx + r.below(4)) & 0xffff);
      }

      // ---- the device's side, mirrored ----
      const steps = 1 + r.below(12);
      for (let s = 0; s < steps; s++) {
        const what = `case ${c} step ${s}`;
        ops++;
        switch (r.below(6)) {
          case 0: {
            const p = q.pending();
            same(p, o.pending(), `${what}: pending`);
            if (p < 0) seen(VQ_AVAIL_IDX_JUMP);
            break;
          }
          case 1:
          case 2: {
            let head = r.below(n + 2);
            if (r.chance(0.8)) {
              head = q.pop();
              same(head, o.pop(), `${what}: pop`);
            }
            const st = q.walk(head);
            same(st, o.walk(head), `${what}: walk(${head})`);
            check(VQ_STATUS_TEXT[st] !== undefined, `${what}: status ${st} has no text`);
            seen(st);
            if (st === VQ_OK) validWalk(q);
            break;
          }
          case 3:
          case 4: {
            const head = r.chance(0.8) ? q.errorDescriptor : r.below(n + 2);
            const l = r.next();
            same(q.pushUsed(head, l), o.pushUsed(head, l), `${what}: pushUsed`);
            break;
          }
          default:
            same(q.publish(), o.publish(), `${what}: publish`);
        }
        both(q, o, what);
        if (r.chance(0.05)) w16(cfg.avail + 2, r.below(0x10000)); // the driver moves idx anywhere
      }
      const now = quick();
      now.forEach((b, i) => same(Buffer.compare(b, quickBefore[i]!), 0, `case ${c}: core memory ${i}`));
      if (c % 200 === 199 || c === CASES - 1)
        expect(Buffer.compare(ram, oracleRam), `case ${c}: guest RAM differs from the oracle's`).toBe(0);
    }

    const after = outside();
    after.forEach((b, i) => expect(Buffer.compare(b, before[i]!), `region ${i} outside RAM changed`).toBe(0));
    // The generator reached every status (CHAIN_TOO_LONG and HEAD_IN_FLIGHT included).
    for (let code = 0; code <= 18; code++)
      expect(statuses.get(code) ?? 0, `status ${code} seen`).toBeGreaterThan(0);
    expect(ops).toBeGreaterThan(CASES * 3);
  });
});
