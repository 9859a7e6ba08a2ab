/**
 * The page's disk panel (#disk-panel in index.html): attach a local image file (copy-on-write) or a
 * persistent OPFS disk as the guest's /dev/vda, create, import and delete OPFS disks, and show
 * which disk is attached. Attaching or detaching restarts the machine: a disk is part of the
 * machine from power-on, as on a PC.
 *
 * The attached OPFS disk is kept in the URL (?disk=opfs:NAME, &transport=transitional), so a
 * reload boots with it again. A local file cannot be (the page may not reopen it by itself).
 */
import type { DiskInfo, DiskSpec } from "./protocol.js";
import { checkDiskName, createOpfsDisk, deleteOpfsDisk, haveOpfs, listOpfsDisks } from "./opfs-disks.js";

const MIB = 1024 * 1024;

function $<T extends HTMLElement>(selector: string): T {
  return document.querySelector<T>(selector)!;
}

function formatBytes(n: number): string {
  if (n >= MIB) return `${+(n / MIB).toFixed(1)} MiB`;
  return `${+(n / 1024).toFixed(1)} KiB`;
}

/** The disk the URL asks for (?disk=opfs:NAME), if any. Throws on a malformed value. */
export function diskFromUrl(params: URLSearchParams): DiskSpec | undefined {
  const disk = params.get("disk");
  if (disk === null) return undefined;
  const transport = params.get("transport") ?? "modern";
  if (transport !== "modern" && transport !== "transitional") {
    throw new Error(`?transport= takes modern or transitional, not "${transport}"`);
  }
  if (!disk.startsWith("opfs:")) throw new Error(`?disk= takes opfs:NAME, not "${disk}"`);
  const name = disk.slice("opfs:".length);
  checkDiskName(name);
  return { kind: "opfs", name, transport };
}

/** Put `disk` in the URL (or take it out) without reloading. */
function setDiskInUrl(disk: DiskSpec | undefined): void {
  const url = new URL(location.href);
  url.searchParams.delete("disk");
  url.searchParams.delete("transport");
  if (disk?.kind === "opfs") {
    url.searchParams.set("disk", `opfs:${disk.name}`);
    if (disk.transport !== "modern") url.searchParams.set("transport", disk.transport);
  }
  history.replaceState(null, "", url);
}

/** A one-line description of the attached disk. */
export function describeDisk(d: DiskInfo): string {
  const what = `${d.name} — ${formatBytes(d.size)}, ${d.transport} virtio-pci`;
  if (d.kind === "opfs") return `${what}, persistent (OPFS)`;
  const o = d.overlay;
  const held = o
    ? `: ${o.dirtyChunks} chunk${o.dirtyChunks === 1 ? "" : "s"} (${formatBytes(o.overlayBytes)}) written`
    : "";
  return `${what}, local file, copy-on-write in memory${held}`;
}

export class DiskPanel {
  private readonly status = $<HTMLElement>("#disk-status");
  private readonly message = $<HTMLElement>("#disk-message");
  private readonly list = $<HTMLSelectElement>("#opfs-disks");
  private readonly transport = $<HTMLSelectElement>("#disk-transport");
  private attached: DiskSpec | undefined;

  /** `restart` boots the machine again with the given disk (none: undefined). */
  constructor(
    initial: DiskSpec | undefined,
    private readonly restart: (disk: DiskSpec | undefined) => Promise<void>,
  ) {
    this.attached = initial;
    if (initial) this.transport.value = initial.transport;
    this.showPending();

    const fileInput = $<HTMLInputElement>("#disk-file");
    fileInput.addEventListener("change", () => {
      const file = fileInput.files?.[0];
      fileInput.value = "";
      if (file) void this.attach({ kind: "file", file, transport: this.chosenTransport() });
    });
    $("#disk-detach").addEventListener("click", () => void this.attach(undefined));
    this.transport.addEventListener("change", () => {
      if (this.attached) void this.attach({ ...this.attached, transport: this.chosenTransport() });
    });

    if (!haveOpfs()) {
      this.say("this browser has no origin private file system: persistent disks are unavailable");
      for (const id of ["#opfs-disks", "#opfs-attach", "#opfs-delete", "#opfs-new button", "#opfs-import"]) {
        $<HTMLButtonElement>(id).disabled = true;
      }
      return;
    }
    $("#opfs-attach").addEventListener("click", () => {
      if (this.list.value !== "") void this.attachOpfs(this.list.value);
    });
    $("#opfs-delete").addEventListener("click", () => void this.act(() => this.delete(this.list.value)));
    const nameInput = $<HTMLInputElement>("#opfs-name");
    $<HTMLFormElement>("#opfs-new").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const name = nameInput.value.trim();
      const size = Number($<HTMLInputElement>("#opfs-size").value) * MIB;
      void this.act(async () => {
        await createOpfsDisk(name, size);
        await this.refresh(name);
        await this.attachOpfs(name);
      });
    });
    const importInput = $<HTMLInputElement>("#opfs-import");
    importInput.addEventListener("change", () => {
      const file = importInput.files?.[0];
      importInput.value = "";
      if (!file) return;
      // The name field, or the file's name made into a disk name.
      const name = nameInput.value.trim() || file.name.replace(/[^\w.-]/g, "_").slice(0, 64);
      void this.act(async () => {
        this.say(`importing ${file.name} (${formatBytes(file.size)}) as "${name}"…`);
        await createOpfsDisk(name, file);
        await this.refresh(name);
        await this.attachOpfs(name);
      });
    });
    void this.act(() => this.refresh(initial?.kind === "opfs" ? initial.name : undefined));
  }

  /** The worker opened the disk (or has fresh overlay figures). */
  showAttached(info: DiskInfo): void {
    this.status.dataset.kind = info.kind;
    this.status.dataset.name = info.name;
    this.status.textContent = describeDisk(info);
  }

  /** Before the worker reports the disk open. */
  private showPending(): void {
    const d = this.attached;
    this.status.dataset.kind = d ? "pending" : "none";
    delete this.status.dataset.name;
    this.status.textContent = d ? `${d.kind === "file" ? d.file.name : d.name} — opening…` : "none";
  }

  private chosenTransport(): DiskSpec["transport"] {
    return this.transport.value === "transitional" ? "transitional" : "modern";
  }

  private attachOpfs(name: string): Promise<void> {
    return this.attach({ kind: "opfs", name, transport: this.chosenTransport() });
  }

  private attach(disk: DiskSpec | undefined): Promise<void> {
    this.attached = disk;
    setDiskInUrl(disk);
    this.showPending();
    this.say("");
    return this.restart(disk);
  }

  private async delete(name: string): Promise<void> {
    if (name === "") return;
    // The worker holds the attached disk's file open (and locked): detach it first.
    if (this.attached?.kind === "opfs" && this.attached.name === name) await this.attach(undefined);
    await deleteOpfsDisk(name);
    await this.refresh();
    this.say(`deleted "${name}"`);
  }

  /** List the OPFS disks in the selector, `select` selected. */
  private async refresh(select?: string): Promise<void> {
    const disks = await listOpfsDisks();
    this.list.replaceChildren(
      ...disks.map((d) => {
        const opt = document.createElement("option");
        opt.value = d.name;
        // The size is unknown while a worker has the file open.
        opt.textContent = d.size === undefined ? d.name : `${d.name} (${formatBytes(d.size)})`;
        opt.selected = d.name === select;
        return opt;
      }),
    );
    if (disks.length === 0) {
      const opt = document.createElement("option");
      opt.value = "";
      opt.textContent = "(none yet)";
      this.list.append(opt);
    }
  }

  /** Run a panel action; show its error in the panel instead of failing the page. */
  private async act(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.say(err instanceof Error ? err.message : String(err), true);
    }
  }

  private say(text: string, error = false): void {
    this.message.textContent = text;
    if (error) this.message.dataset.error = "";
    else delete this.message.dataset.error;
  }
}
