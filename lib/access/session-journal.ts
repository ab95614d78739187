// The concentrator's record of open end-user sessions, on disk before their Accounting-Start is sent: one JSON
// line per open, per interim count and per close, appended and flushed (fdatasync) in groups. A run that starts over a journal
// finds the sessions a killed run left open: it ends them at the server (PADT) and sends their Accounting-Stop.
import { OpenSessionJournal, type SessionJournalFormat } from "../accounting/open-session-journal.js";

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

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function usageOf(v: unknown): JournalUsage | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const u = v as Record<string, unknown>;
  if (!isCount(u.octetsIn) || !isCount(u.octetsOut) || !isCount(u.packetsIn) || !isCount(u.packetsOut)) return undefined;
  return { octetsIn: u.octetsIn, octetsOut: u.octetsOut, packetsIn: u.packetsIn, packetsOut: u.packetsOut };
}

function sessionOf(l: Record<string, unknown>): JournalSession | undefined {
  const usage = l.usage === undefined ? undefined : usageOf(l.usage);
  if (typeof l.key !== "string" || !isCount(l.line) || !isCount(l.sessionId) || typeof l.serverMac !== "string" || typeof l.user !== "string" || !Number.isFinite(l.startedAt)) return undefined;
  if ((l.address !== undefined && typeof l.address !== "string") || (l.usage !== undefined && usage === undefined)) return undefined;
  const session: JournalSession = { key: l.key, line: l.line, sessionId: l.sessionId, serverMac: l.serverMac, user: l.user, startedAt: l.startedAt as number };
  if (typeof l.address === "string") session.address = l.address;
  if (usage) session.usage = usage;
  return session;
}

/**
 * The lines: `{"op":"open",…session}` (again once the user is known: it replaces the first), `{"op":"usage","key",
 * "usage"}` with the last interim counts, `{"op":"close","key"}`.
 */
export const ACCESS_SESSION_FORMAT: SessionJournalFormat<JournalSession> = {
  keyOf: (s) => s.key,
  reopen: "replace",
  openLine: (s) => ({ op: "open", ...s }),
  closeLine: (key) => ({ op: "close", key }),
  updateLine: (key, patch) => ({ op: "usage", key, usage: patch.usage }),
  read: (l) => {
    if (l.op === "open") {
      const session = sessionOf(l);
      return session && { open: session };
    }
    if (l.op === "usage" && typeof l.key === "string") {
      const usage = usageOf(l.usage);
      return usage && { update: l.key, patch: { usage } };
    }
    if (l.op === "close" && typeof l.key === "string") return { close: l.key };
    return undefined;
  },
};

/** The concentrator's journal of end-user sessions, keyed by Acct-Session-Id. */
export type SessionJournal = OpenSessionJournal<JournalSession>;

/**
 * Opens the journal at `path`; its `open` sessions are those a previous run left open, rewritten alone into the
 * file so they stay recorded until each is closed. Lines are synced in groups: those noted in one event-loop turn
 * share one fdatasync, each promise resolving after it.
 */
export function openSessionJournal(path: string): SessionJournal {
  return OpenSessionJournal.open(path, ACCESS_SESSION_FORMAT, { sync: "group", maxDelayMs: 0 });
}
