// The open accounting sessions of a policy server, on disk: an append-only file of JSON lines, one when a side's
// session starts (its Start time) and one when it stops. A process restarted while calls are up reads which
// sessions are still open and goes on with their Interim-Updates (RFC 2869 §2.1) until their Stops.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { parseJsonLines, replaceJsonLines } from "./json-lines.js";
import type { AccountingRecord, AccountingSide } from "./records.js";

/** A side's session started and not stopped yet. */
export interface OpenAccountingSession {
  callId: string;
  side: AccountingSide;
  /** Epoch ms of its Start (its Event-Timestamp). */
  startMs: number;
}

type Line = { open: string; callId: string; side: AccountingSide; startMs: number } | { closed: string };

const sessionIdOf = (s: OpenAccountingSession): string => `${s.callId};${s.side}`;

/** The sessions a journal's text leaves open; a line that is not one of its shapes is counted, never thrown. */
export function parseSessionJournal(content: string): { open: OpenAccountingSession[]; badLines: number } {
  const { objects, badLines: notJson } = parseJsonLines(content);
  const open = new Map<string, OpenAccountingSession>();
  let badLines = notJson;
  for (const line of objects as Partial<Line & Record<string, unknown>>[]) {
    if ("open" in line && typeof line.open === "string" && typeof line.callId === "string" && (line.side === "originating" || line.side === "terminating") && Number.isFinite(line.startMs))
      open.set(line.open, { callId: line.callId, side: line.side, startMs: line.startMs as number });
    else if ("closed" in line && typeof line.closed === "string") open.delete(line.closed);
    else badLines++;
  }
  return { open: [...open.values()], badLines };
}

/**
 * The journal of open sessions: `note` the records before (a Start) or after (a Stop) they are spooled, so
 * that a crash between the two leaves a session open rather than a Start unknown; a session left open whose
 * Stop the spool holds is closed on reopening (see startServedAccounting).
 */
export class AccountingSessionJournal {
  private readonly openSessions = new Map<string, OpenAccountingSession>();
  private fd: number;
  private closedLines = 0;

  private constructor(readonly path: string, open: OpenAccountingSession[], readonly badLines: number) {
    for (const s of open) this.openSessions.set(sessionIdOf(s), s);
    this.fd = this.rewrite();
  }

  /** Opens (or creates) the journal at `path`, rewritten with only the sessions still open. */
  static open(path: string): AccountingSessionJournal {
    const { open, badLines } = existsSync(path) ? parseSessionJournal(readFileSync(path, "utf8")) : { open: [], badLines: 0 };
    return new AccountingSessionJournal(path, open, badLines);
  }

  /** The sessions open now. */
  get open(): OpenAccountingSession[] {
    return [...this.openSessions.values()];
  }

  private rewrite(): number {
    replaceJsonLines(this.path, [...this.openSessions.values()].map((s) => ({ open: sessionIdOf(s), callId: s.callId, side: s.side, startMs: s.startMs })));
    this.closedLines = 0;
    return openSync(this.path, "a");
  }

  /** Notes a session started: fsynced when this returns. */
  opened(session: OpenAccountingSession): void {
    const id = sessionIdOf(session);
    if (this.openSessions.has(id)) return;
    this.openSessions.set(id, session);
    writeSync(this.fd, `${JSON.stringify({ open: id, callId: session.callId, side: session.side, startMs: session.startMs })}\n`);
    fsyncSync(this.fd);
  }

  /** Notes a session stopped (after its Stop is spooled); the file is rewritten once 10,000 such lines gathered. */
  closed(callId: string, side: AccountingSide): void {
    const id = `${callId};${side}`;
    if (!this.openSessions.delete(id)) return;
    writeSync(this.fd, `${JSON.stringify({ closed: id })}\n`);
    fsyncSync(this.fd);
    if (++this.closedLines >= 10_000) {
      closeSync(this.fd);
      this.fd = this.rewrite();
    }
  }

  close(): void {
    closeSync(this.fd);
    this.fd = -1;
  }
}

/** The call and side of a record's Acct-Session-Id (`CALL-ID;side`), or undefined for a session id of another shape. */
export function sessionOfRecord(record: AccountingRecord): { callId: string; side: AccountingSide } | undefined {
  const at = record.sessionId.lastIndexOf(";");
  const side = record.sessionId.slice(at + 1);
  if (at <= 0 || (side !== "originating" && side !== "terminating")) return undefined;
  return { callId: record.sessionId.slice(0, at), side };
}
