// An append-only file of whole lines that reach the disk before they are confirmed: each append is written in
// full (a short write is continued) and synced (fsync, or fdatasync where only the data and size matter), or it
// throws. A write that fails part way (a full disk) leaves a cut line; the next append ends it first, so a line
// confirmed later is never joined to it and the cut one alone reads back as damaged.
import { closeSync, fdatasyncSync, fsyncSync, openSync, writeSync } from "node:fs";

/** How an append is made durable: `fsync` (data and every attribute) or `fdatasync` (data and what reading it needs). */
export type AppendSync = "fsync" | "fdatasync";

export class DurableAppendFile {
  /** Syncs made since the file was opened. */
  syncs = 0;
  private fd: number;
  private cut = false;
  private unsynced = false;
  private readonly syncFd: (fd: number) => void;

  /** Opens (or creates) `path` for appending. */
  constructor(readonly path: string, sync: AppendSync) {
    this.syncFd = sync === "fsync" ? fsyncSync : fdatasyncSync;
    this.fd = openSync(path, "a");
  }

  /** Appends `text` (whole lines, each ending in "\n") and syncs: when this returns it survives a crash; when it throws, nothing of it counts. */
  append(text: string): void {
    this.write(text);
    this.sync();
  }

  /** Appends `text` (whole lines) without a sync; `sync` makes it durable later. */
  write(text: string): void {
    if (this.fd < 0) throw new Error(`${this.path} is closed`);
    const line = this.cut ? `\n${text}` : text;
    // One write(2) either takes some bytes or fails having taken none: only a continuation can fail part way.
    const first = writeSync(this.fd, line);
    if (first < Buffer.byteLength(line)) {
      const bytes = Buffer.from(line);
      let at = first;
      try {
        while (at < bytes.length) at += writeSync(this.fd, bytes, at, bytes.length - at);
      } catch (err) {
        this.cut = true;
        this.unsynced = true;
        throw err;
      }
    }
    this.cut = false;
    this.unsynced = true;
  }

  /** Syncs what was written since the last sync (nothing to do when nothing was). */
  sync(): void {
    if (!this.unsynced) return;
    this.syncFd(this.fd);
    this.unsynced = false;
    this.syncs++;
  }

  /**
   * Closes the file and `replace`s it (a rewrite renamed into place), then appends to what is at `path` after:
   * the new file, or the old one when `replace` threw (which is thrown once the file is open again).
   */
  reopen(replace: () => void): void {
    this.sync();
    closeSync(this.fd);
    this.fd = -1;
    try {
      replace();
      this.cut = false;
    } finally {
      this.fd = openSync(this.path, "a");
    }
  }

  /** Syncs what is written and closes the file; later appends throw. */
  close(): void {
    if (this.fd < 0) return;
    try {
      this.sync();
    } finally {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}
