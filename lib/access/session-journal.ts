// The concentrator's record of open end-user sessions, on disk before their Accounting-Start is sent: one JSON
// line per open, per interim count and per close, appended and flushed (fdatasync) in groups. A run that starts over a journal
// finds the sessions a killed run left open: it ends them at the server (PADT) and sends their Accounting-Stop.
import { closeSync, fdatasyncSync, openSync, readFileSync, writeSync, existsSync } from "node:fs";
import { parseJsonLines, replaceJsonLines } from "../accounting/json-lines.js";

/** One open end-user session as the journal records it. */
export interface JournalSession {
  /** Acct-Session-Id. */
  key: string;
  /** The line (NAS-Port). */
  line: number;
  /** PPPoE session (0 for a line of the shared session) and the server's MAC. */
  sessionId: number;
  serverMac: string;
  /** User-Name as known when the record was written ("" before authentication). */
  user: string;
  /** The line's address (shared session). */
  address?: string;
  /** Epoch ms of the Accounting-Start. */
  startedAt: number;
  /** The last counts written (interim records), when any. */
  usage?: JournalUsage;
}

/** Counts of an end-user session (in: from the line, out: to the line). */
export interface JournalUsage {
  /** Octets from the line. */
  octetsIn: number;
  /** Octets to the line. */
  octetsOut: number;
  /** Frames or datagrams from the line. */
  packetsIn: number;
  /** Frames or datagrams to the line. */
  packetsOut: number;
}

type JournalLine = ({ op: "open" } & JournalSession) | { op: "usage"; key: string; usage: JournalUsage } | { op: "close"; key: string };

export class SessionJournal {
  private fd: number;
  private queued: string[] = [];
  private waiters: (() => void)[] = [];
  private scheduled = false;
  /** fdatasync calls made (each covers every record queued before it). */
  flushes = 0;

  private constructor(private readonly path: string) {
    this.fd = openSync(path, "a");
  }

  /**
   * Opens the journal at `path` and returns the sessions a previous run left open. The file is rewritten with
   * just those, so they stay recorded until `closed(key)` is appended for each.
   */
  static open(path: string): { journal: SessionJournal; stale: JournalSession[] } {
    const open = new Map<string, JournalSession>();
    // A line cut by the kill (its session's Start was never sent) or damaged is skipped.
    const { objects } = existsSync(path) ? parseJsonLines(readFileSync(path, "utf8")) : { objects: [] };
    for (const rec of objects as JournalLine[]) {
      if (rec.op === "open") {
        const { op: _op, ...session } = rec;
        open.set(rec.key, session);
      } else if (rec.op === "usage") {
        const session = open.get(rec.key);
        if (session) session.usage = rec.usage;
      } else open.delete(rec.key);
    }
    const stale = [...open.values()];
    replaceJsonLines(path, stale.map((s) => ({ op: "open", ...s })));
    return { journal: new SessionJournal(path), stale };
  }

  /** Resolves once the session's open record is on disk. */
  opened(session: JournalSession): Promise<void> {
    return this.append(JSON.stringify({ op: "open", ...session }));
  }

  /** The counts of an open session so far, so a run killed later still knows them. */
  usage(key: string, usage: JournalUsage): Promise<void> {
    return this.append(JSON.stringify({ op: "usage", key, usage }));
  }

  closed(key: string): Promise<void> {
    return this.append(JSON.stringify({ op: "close", key }));
  }

  private append(line: string): Promise<void> {
    this.queued.push(`${line}\n`);
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return done;
  }

  private flush(): void {
    this.scheduled = false;
    if (this.queued.length === 0) return;
    const text = this.queued.join("");
    const waiters = this.waiters;
    this.queued = [];
    this.waiters = [];
    writeSync(this.fd, text);
    fdatasyncSync(this.fd);
    this.flushes++;
    for (const w of waiters) w();
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }

  get file(): string {
    return this.path;
  }
}
