// A journal of open sessions: an append-only file of JSON lines, one when a session opens, when its state changes
// and when it closes, each on disk (fdatasync) before its caller is told. Read back after a crash, it gives the
// sessions still open; it is rewritten with only those when it is opened and after every 10,000 closes.
import { existsSync, readFileSync } from "node:fs";
import { DurableAppendFile } from "./durable-append.js";
import { parseJsonLines, replaceJsonLines } from "./json-lines.js";

/** What one line of a journal says: a session opened (whole), changed (the fields given) or closed. */
export type JournalEntry<S> = { open: S } | { update: string; patch: Partial<S> } | { close: string };

/** How a journal writes and reads its lines: the record type and its file format. */
export interface SessionJournalFormat<S> {
  /** The key of a session (unique among those open). */
  keyOf(session: S): string;
  /** What opening a session already open does: keep the first record, or replace it. */
  reopen: "keep" | "replace";
  openLine(session: S): Record<string, unknown>;
  closeLine(key: string): Record<string, unknown>;
  /** The line of a change to an open session; a format without it has no changes. */
  updateLine?(key: string, patch: Partial<S>): Record<string, unknown>;
  /** What a line read back says, or undefined for a line of none of the format's shapes (counted, never thrown). */
  read(line: Record<string, unknown>): JournalEntry<S> | undefined;
}

/**
 * When a line is on disk: `each`, written and synced before the call returns; `group`, queued and synced with
 * every line queued within `maxDelayMs` (0: the same event-loop turn), the promise resolving after the sync.
 */
export type JournalDurability = { sync: "each" } | { sync: "group"; maxDelayMs: number };

/** Closes after which the file is rewritten with only the sessions still open. */
const COMPACT_AFTER_CLOSES = 10_000;

/** The sessions a journal's text leaves open, and the lines of no known shape (torn by a crash, damaged). */
export function readSessionJournal<S>(content: string, format: SessionJournalFormat<S>): { open: Map<string, S>; badLines: number } {
  const { objects, badLines: notObjects } = parseJsonLines(content);
  const open = new Map<string, S>();
  let badLines = notObjects;
  for (const object of objects) {
    const entry = format.read(object);
    if (entry === undefined) badLines++;
    else applyEntry(open, entry, format);
  }
  return { open, badLines };
}

/** What a line read back does to the open sessions: what the note that wrote it did. */
function applyEntry<S>(open: Map<string, S>, entry: JournalEntry<S>, format: SessionJournalFormat<S>): void {
  if ("open" in entry) {
    const key = format.keyOf(entry.open);
    if (format.reopen === "replace" || !open.has(key)) open.set(key, entry.open);
  } else if ("update" in entry) {
    const session = open.get(entry.update);
    if (session !== undefined) open.set(entry.update, { ...session, ...entry.patch });
  } else open.delete(entry.close);
}

const done = Promise.resolve();

/** The journal of open sessions of one process; `S` is its record, `format` its lines. */
export class OpenSessionJournal<S> {
  private readonly sessions: Map<string, S>;
  private readonly file: DurableAppendFile;
  private readonly grouped: boolean;
  private closes = 0;
  /** Lines of the group being gathered, each without its "\n". */
  private queued: string[] = [];
  private pending: { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } | undefined;
  private timer: { cancel(): void } | undefined;
  private failure: Error | undefined;

  private constructor(
    readonly path: string,
    private readonly format: SessionJournalFormat<S>,
    private readonly durability: JournalDurability,
    open: Map<string, S>,
    /** Lines of the file as found that were of no known shape. */
    readonly badLines: number,
  ) {
    this.sessions = open;
    this.grouped = durability.sync === "group";
    this.rewrite();
    this.file = new DurableAppendFile(path, "fdatasync");
  }

  /** Syncs made (in `group`, each covers every line queued before it). */
  get flushes(): number {
    return this.file.syncs;
  }

  /** Opens (or creates) the journal at `path`: the sessions a previous process left open are `open`, and the file is rewritten with only them. */
  static open<S>(path: string, format: SessionJournalFormat<S>, durability: JournalDurability): OpenSessionJournal<S> {
    const { open, badLines } = existsSync(path) ? readSessionJournal(readFileSync(path, "utf8"), format) : { open: new Map<string, S>(), badLines: 0 };
    return new OpenSessionJournal(path, format, durability, open, badLines);
  }

  /** The sessions open now (as their lines would be read back). */
  get open(): S[] {
    return [...this.sessions.values()];
  }

  get(key: string): S | undefined {
    return this.sessions.get(key);
  }

  /** Notes a session opened; resolves (in `each`: returns) once its line is on disk. */
  opened(session: S): Promise<void> {
    const key = this.format.keyOf(session);
    if (this.format.reopen === "keep" && this.sessions.has(key)) return done;
    if (this.failure !== undefined) return this.refusal();
    this.sessions.set(key, session);
    return this.append(JSON.stringify(this.format.openLine(session)));
  }

  /** Notes a change to an open session (nothing when it is not open). */
  updated(key: string, patch: Partial<S>): Promise<void> {
    const updateLine = this.format.updateLine;
    if (updateLine === undefined) throw new Error(`the journal ${this.path} records no changes to a session`);
    const session = this.sessions.get(key);
    if (session === undefined) return done;
    if (this.failure !== undefined) return this.refusal();
    this.sessions.set(key, { ...session, ...patch });
    return this.append(JSON.stringify(updateLine(key, patch)));
  }

  /** Notes a session closed (nothing when it is not open). */
  closed(key: string): Promise<void> {
    if (this.failure !== undefined) return this.sessions.has(key) ? this.refusal() : done;
    if (!this.sessions.delete(key)) return done;
    this.closes++;
    return this.append(JSON.stringify(this.format.closeLine(key)));
  }

  /** Writes what is queued, then closes the file; later notes are refused. */
  close(): void {
    if (this.failure === undefined) this.flush();
    this.file.close();
    this.failure ??= new Error(`the journal ${this.path} is closed`);
  }

  /** A journal whose write failed (or closed) refuses every note: thrown in `each`, a rejected promise in `group`. */
  private refusal(): Promise<void> {
    if (!this.grouped) throw this.failure;
    return Promise.reject(this.failure as Error);
  }

  // The state has changed already, the line follows: what the file reads back once synced is that state.
  private append(line: string): Promise<void> {
    if (!this.grouped) {
      this.write(`${line}\n`);
      return done;
    }
    this.queued.push(line);
    // Every note of one group shares one promise.
    return (this.pending ?? this.startGroup()).promise;
  }

  private startGroup(): NonNullable<OpenSessionJournal<S>["pending"]> {
    let settle!: { resolve: () => void; reject: (err: Error) => void };
    const promise = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.pending = { promise, ...settle };
    const delay = (this.durability as { maxDelayMs: number }).maxDelayMs;
    if (delay > 0) {
      const t = setTimeout(() => this.flush(), delay);
      this.timer = { cancel: () => clearTimeout(t) };
    } else {
      const t = setImmediate(() => this.flush());
      this.timer = { cancel: () => clearImmediate(t) };
    }
    return this.pending;
  }

  private flush(): void {
    this.timer?.cancel();
    this.timer = undefined;
    const pending = this.pending;
    this.pending = undefined;
    if (pending === undefined) return;
    const text = `${this.queued.join("\n")}\n`;
    this.queued = [];
    try {
      this.write(text);
    } catch {
      pending.reject(this.failure as Error);
      return;
    }
    pending.resolve();
  }

  /** Appends and syncs; a failure makes the journal refuse every later note (nothing unsynced is ever confirmed). */
  private write(text: string): void {
    try {
      this.file.append(text);
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      throw this.failure;
    }
    if (this.closes >= COMPACT_AFTER_CLOSES) this.compact();
  }

  /** The lines just synced stand: a rewrite that fails (a full disk) leaves the old file, appended to and rewritten 10,000 closes later. */
  private compact(): void {
    try {
      this.file.reopen(() => this.rewrite());
    } catch {
      this.closes = 0;
    }
  }

  private rewrite(): void {
    replaceJsonLines(this.path, [...this.sessions.values()].map((s) => this.format.openLine(s)));
    this.closes = 0;
  }
}
