// Linux 6.1's ata_piix (libata) as the client of our PIIX3 IDE controller: the disk appears as
// /dev/sda; mount an ext2 image made by mke2fs, check file checksums against the host's, write a
// file, sync, unmount, power off, and read the file back with debugfs. Once with bus-master DMA
// (ata_piix drives a PIIX3 at MWDMA2) and once in PIO (libata.dma=0), and the DMA run twice to
// check that identical runs give identical output and trap counts.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Machine, type RunOutcome } from "../src/machine.js";
import { FileDisk } from "../src/disk/file-disk.js";
import type { IdeDiagnostic } from "../src/ide/piix-ide.js";
import type { TrapStats } from "../src/stats.js";
import { LINUX_BUILD_TIMEOUT_MS, SKIP_LINUX } from "./helpers/linux-images.js";
import {
  LINUX_APPEND as APPEND,
  readLinuxImages,
  runLinuxCommands,
  shellAnswer,
  type LinuxImages,
} from "./helpers/linux-session.js";
import { debugfsCat, makeExt2Image, md5sumCheck, md5sumRows, sampleFiles } from "./helpers/ext2-image.js";
import { HAVE_E2FS } from "./helpers/e2fsprogs.js";
const files = sampleFiles();
const MD5 = md5sumCheck(files, "/mnt");
const XFER = "cat /sys/class/ata_device/dev1.0/xfer_mode";
const COMMANDS = [
  "mkdir -p /mnt",
  "mount -t ext2 /dev/sda /mnt",
  MD5.command,
  XFER,
  "echo written-by-linux > /mnt/newfile",
  "sync",
  "umount /mnt",
];

let images: LinuxImages;
let work: string;
let pristine: string;

interface Session {
  outcome: RunOutcome;
  output: string;
  diagnostics: IdeDiagnostic[];
  stats: TrapStats;
  /** Bus master requests completed on the primary channel. */
  dmaTransfers: number;
}

async function session(img: string, append: string): Promise<Session> {
  const backend = new FileDisk(img);
  const diagnostics: IdeDiagnostic[] = [];
  const m = await Machine.create({
    memory: "64M",
    drives: [{ backend, interface: "ide" }],
    onIdeDiagnostic: (d) => diagnostics.push(d),
  });
  try {
    const { outcome, output } = await runLinuxCommands(m, images, append, COMMANDS);
    const dmaTransfers = m.ide!.busMaster.channel(0).transfers;
    return { outcome, output, diagnostics, stats: m.stats(), dmaTransfers };
  } finally {
    backend.close();
  }
}

/** Data register (0x1F0) accesses: one trap per PIO word (16 or 32 bits). */
function dataPortTraps(s: Session): number {
  const p = s.stats.pio.ports.find((e) => e.address === 0x1f0);
  return p === undefined ? 0 : p.reads + p.writes;
}

function check(s: Session, img: string, mode: string): void {
  const out = s.output;
  expect(s.diagnostics).toEqual([]);
  expect(out).toMatch(/ata1: PATA max MWDMA2 cmd 0x1f0 ctl 0x3f6 bmdma 0x[0-9a-f]+ irq 14/);
  expect(out).toMatch(/ata1\.00: ATA-6: trapdoor ATA disk, 1\.0, max UDMA\/100/);
  expect(out).toMatch(/ata1\.00: 16384 sectors, multi 16: LBA48/);
  expect(out).toMatch(/sd 0:0:0:0: \[sda\] 16384 512-byte logical blocks/);
  expect(md5sumRows(out, MD5.command)).toEqual(MD5.expected);
  expect(shellAnswer(out, XFER).trim()).toBe(mode);
  expect(s.outcome).toEqual({ kind: "halted", interruptsEnabled: false });
  expect(debugfsCat(img, "/newfile")).toBe("written-by-linux\n");
}

describe.skipIf(SKIP_LINUX || !HAVE_E2FS)(
  "Linux (ata_piix) mounts an ext2 image on the PIIX3 IDE disk",
  () => {
    beforeAll(async () => {
      images = await readLinuxImages();
      work = mkdtempSync(join(tmpdir(), "trapdoor-ide-"));
      pristine = makeExt2Image(work, "pristine.img", files);
    }, LINUX_BUILD_TIMEOUT_MS);

    afterAll(() => {
      if (work) rmSync(work, { recursive: true, force: true });
    });

    const copy = (name: string): string => {
      const img = join(work, name);
      copyFileSync(pristine, img);
      return img;
    };

    it(
      "bus-master DMA (MWDMA2): reads match the host, a written file reaches the image; runs repeat exactly",
      {
        timeout: 600_000,
      },
      async () => {
        const a = copy("dma-a.img");
        const s = await session(a, APPEND);
        check(s, a, "XFER_MW_DMA_2");
        // The 300 KiB file alone needs many DMA requests; PIO is left to IDENTIFY (256 words each).
        expect(s.dmaTransfers).toBeGreaterThan(20);
        expect(dataPortTraps(s)).toBeLessThan(4096);
        const b = copy("dma-b.img");
        const t = await session(b, APPEND);
        expect(t.output).toBe(s.output);
        expect(t.stats).toEqual(s.stats);
        expect(readFileSync(b).equals(readFileSync(a))).toBe(true);
      },
    );

    it(
      "PIO (libata.dma=0): every 32-bit word is one trap of the Data register",
      { timeout: 600_000 },
      async () => {
        const img = copy("pio.img");
        const s = await session(img, APPEND + " libata.dma=0");
        check(s, img, "XFER_PIO_4");
        expect(s.dmaTransfers).toBe(0);
        // At least the files' bytes crossed the Data register, four per trap: ata_piix sets
        // ATA_PFLAG_PIO32 (piix_port_start), so libata moves data with 32-bit INs and OUTs.
        const bytes = files["random.bin"]!.length + files["sub/zeros.bin"]!.length;
        expect(dataPortTraps(s)).toBeGreaterThan(bytes / 4);
      },
    );
  },
);
