// Durable spool for UsageIndications: an append-only journal, group-committed with fsync, compacted on open.
import { closeSync, existsSync, fdatasyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";

/** A UsageIndication waiting in the outbox for its confirmation. */
export interface OutboxEntry {
  id: string;
  bytes: Buffer;
}

/**
 * Journal lines: `A <id> <base64>` adds an entry, `D <id>` marks it delivered. A torn last line (crash
 * mid-write) is ignored. Additions are on disk (fdatasync) before `add` resolves; deliveries are
 * written without a sync, since losing one only causes a retransmission that the clearinghouse absorbs.
 */
export class UsageOutbox {
  private fd: number;
  private readonly entries = new Map<string, Buffer>();
  private readonly unflushed = new Map<string, Promise<void>>();
  private waiting: { line: string; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private flushScheduled = false;
  private closed = false;

  constructor(readonly path: string) {
    if (existsSync(path)) this.load(readFileSync(path, "utf8"));
    // Compact: rewrite only what is still pending, then switch atomically.
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, "w");
    for (const [id, bytes] of this.entries) writeSync(fd, `A ${id} ${bytes.toString("base64")}\n`);
    fdatasyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
    this.fd = openSync(path, "a");
  }

  private load(text: string): void {
    const lines = text.split("\n");
    if (!text.endsWith("\n")) lines.pop(); // torn tail
    for (const line of lines) {
      const [op, id, data] = line.split(" ");
      if (op === "A" && id && data !== undefined && /^[A-Za-z0-9+/=]*$/.test(data)) this.entries.set(id, Buffer.from(data, "base64"));
      else if (op === "D" && id) this.entries.delete(id);
    }
  }

  /** Entries not yet delivered, oldest first. */
  pending(): OutboxEntry[] {
    return [...this.entries].map(([id, bytes]) => ({ id, bytes }));
  }

  get size(): number {
    return this.entries.size;
  }

  /** Whether a UsageIndication with this id is still waiting. */
  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** Spools an entry; resolves once it is on disk. Ids must not contain spaces or newlines. */
  add(id: string, bytes: Buffer): Promise<void> {
    if (/[\s]/.test(id)) return Promise.reject(new Error(`outbox id '${id}' contains whitespace`));
    if (this.closed) return Promise.reject(new Error("outbox closed"));
    // Already spooled: resolve with the write that spools it (it may still be on its way to disk).
    if (this.entries.has(id)) return this.unflushed.get(id) ?? Promise.resolve();
    this.entries.set(id, bytes);
    const written = new Promise<void>((resolve, reject) => {
      this.waiting.push({ line: `A ${id} ${bytes.toString("base64")}\n`, resolve, reject });
      this.scheduleFlush();
    });
    this.unflushed.set(id, written);
    const settled = (): void => {
      this.unflushed.delete(id);
    };
    written.then(settled, settled);
    return written;
  }

  /** Marks an entry delivered. */
  markDelivered(id: string): void {
    if (!this.entries.delete(id) || this.closed) return;
    writeSync(this.fd, `D ${id}\n`);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const batch = this.waiting;
      this.waiting = [];
      try {
        writeSync(this.fd, batch.map((w) => w.line).join(""));
        fdatasyncSync(this.fd);
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    });
  }

  /** Closes the journal file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
