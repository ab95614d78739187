// The open accounting sessions of a policy server, on disk: an append-only file of JSON lines, one when a side's
// session starts (its Start time) and one when it stops. A process restarted while calls are up reads which
// sessions are still open and goes on with their Interim-Updates (RFC 2869 §2.1) until their Stops.
import { OpenSessionJournal, readSessionJournal, type SessionJournalFormat } from "./open-session-journal.js";
import { accountingSessionId, type AccountingRecord, type AccountingSide } from "./records.js";

/** A side's session started and not stopped yet. */
export interface OpenAccountingSession {
  callId: string;
  side: AccountingSide;
  /** Epoch ms of its Start (its Event-Timestamp). */
  startMs: number;
}

/**
 * The lines: `{"open":"CALL-ID;side","callId":…,"side":…,"startMs":…}` and `{"closed":"CALL-ID;side"}`. A session
 * opened again keeps its first Start time: a Start submitted again is the same record.
 */
export const ACCOUNTING_SESSION_FORMAT: SessionJournalFormat<OpenAccountingSession> = {
  keyOf: (s) => accountingSessionId(s.callId, s.side),
  reopen: "keep",
  openLine: (s) => ({ open: accountingSessionId(s.callId, s.side), callId: s.callId, side: s.side, startMs: s.startMs }),
  closeLine: (key) => ({ closed: key }),
  read: (line) => {
    if ("open" in line && typeof line.open === "string" && typeof line.callId === "string" && (line.side === "originating" || line.side === "terminating") && Number.isFinite(line.startMs))
      return { open: { callId: line.callId, side: line.side, startMs: line.startMs as number } };
    if ("closed" in line && typeof line.closed === "string") return { close: line.closed };
    return undefined;
  },
};

/** The sessions a journal's text leaves open; a line that is not one of its shapes is counted, never thrown. */
export function parseSessionJournal(content: string): { open: OpenAccountingSession[]; badLines: number } {
  const { open, badLines } = readSessionJournal(content, ACCOUNTING_SESSION_FORMAT);
  return { open: [...open.values()], badLines };
}

/** The journal of a policy server's open accounting sessions, keyed by Acct-Session-Id. */
export type AccountingSessionJournal = OpenSessionJournal<OpenAccountingSession>;

/**
 * Opens (or creates) the journal at `path`, each line synced before the call that writes it returns. `opened`
 * the Start before it is spooled, `closed` after the Stop is, so that a crash between the two leaves a session
 * open rather than a Start unknown; a session left open whose Stop the spool holds is closed on reopening (see
 * startServedAccounting).
 */
export function openAccountingSessionJournal(path: string): AccountingSessionJournal {
  return OpenSessionJournal.open(path, ACCOUNTING_SESSION_FORMAT, { sync: "each" });
}

/** The call and side of a record's Acct-Session-Id (`CALL-ID;side`), or undefined for a session id of another shape. */
export function sessionOfRecord(record: AccountingRecord): { callId: string; side: AccountingSide } | undefined {
  const at = record.sessionId.lastIndexOf(";");
  const side = record.sessionId.slice(at + 1);
  if (at <= 0 || (side !== "originating" && side !== "terminating")) return undefined;
  return { callId: record.sessionId.slice(0, at), side };
}
