// The capacity ledger's journal file, on lib/accounting's journal of open sessions (OpenSessionJournal): each
// session holding a port is a record open while it lasts, and each provider's use so far (the period's seconds,
// the credit charged) a record changed at every stop. Lines noted in one event-loop turn share one fdatasync, and
// the promise of each resolves after it: a DEC AAA waits for its start. When the process starts again the records
// still open rebuild the ledger; the file is rewritten with them alone at each start and every 10,000 closes.
import { OpenSessionJournal, readSessionJournal, type SessionJournalFormat } from "../accounting/open-session-journal.js";
import type { CapacityLedger, JournalEvent } from "./capacity-ledger.js";

/** A provider's use so far: when it was counted (ms, its period), the period's seconds, the credit charged. */
export interface UsedRecord {
  kind: "used";
  provider: string;
  t: number;
  seconds: number;
  charged: number;
}

/** A record of the capacity journal: a session holding a port, or a provider's use so far in its period. */
export type CapacityRecord = { kind: "session"; provider: string; session: string; startMs: number; subscriber?: string } | UsedRecord;

/** What opening a journal found: records rebuilt into the ledger, and lines that were none (a torn last line). */
export interface JournalReplay {
  replayed: number;
  badLines: number;
}

const isString = (v: unknown): v is string => typeof v === "string" && v !== "";
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

const sessionKey = (provider: string, session: string): string => `session ${provider} ${session}`;
const usedKey = (provider: string): string => `used ${provider}`;

/** A record from a line's fields, or undefined when they are not one. */
function recordOf(l: Record<string, unknown>): CapacityRecord | undefined {
  if (!isString(l.provider)) return undefined;
  if (l.kind === "session") {
    if (!isString(l.session) || !isCount(l.startMs) || (l.subscriber !== undefined && !isString(l.subscriber))) return undefined;
    return { kind: "session", provider: l.provider, session: l.session, startMs: l.startMs, ...(l.subscriber !== undefined ? { subscriber: l.subscriber as string } : {}) };
  }
  if (l.kind === "used" && isCount(l.t) && isCount(l.seconds) && isCount(l.charged)) return { kind: "used", provider: l.provider, t: l.t, seconds: l.seconds, charged: l.charged };
  return undefined;
}

/**
 * The lines: `{"op":"open",…record}`, `{"op":"used","key",t,seconds,charged}` (a provider's use after a stop),
 * `{"op":"close","key"}` (a session stopped).
 */
export const CAPACITY_JOURNAL_FORMAT: SessionJournalFormat<CapacityRecord> = {
  keyOf: (r) => (r.kind === "session" ? sessionKey(r.provider, r.session) : usedKey(r.provider)),
  reopen: "replace",
  openLine: (r) => ({ op: "open", ...r }),
  closeLine: (key) => ({ op: "close", key }),
  updateLine: (key, patch) => {
    // Only a provider's use changes (`write` below).
    const used = patch as Partial<UsedRecord>;
    return { op: "used", key, t: used.t, seconds: used.seconds, charged: used.charged };
  },
  read: (l) => {
    if (l.op === "open") {
      const record = recordOf(l);
      return record && { open: record };
    }
    if (l.op === "used" && isString(l.key) && isCount(l.t) && isCount(l.seconds) && isCount(l.charged)) return { update: l.key, patch: { t: l.t, seconds: l.seconds, charged: l.charged } };
    if (l.op === "close" && isString(l.key)) return { close: l.key };
    return undefined;
  },
};

/** The records a journal's text leaves open, and the lines of no known shape (counted, never thrown). */
export function readCapacityJournal(text: string): { records: CapacityRecord[]; badLines: number } {
  const { open, badLines } = readSessionJournal(text, CAPACITY_JOURNAL_FORMAT);
  return { records: [...open.values()], badLines };
}

/** The ledger event a record stands for: a session's start, or the use carried over. */
function eventOf(r: CapacityRecord): JournalEvent {
  if (r.kind === "used") return { t: r.t, kind: "carry", provider: r.provider, seconds: r.seconds, charged: r.charged };
  return { t: r.startMs, kind: "start", provider: r.provider, session: r.session, ...(r.subscriber !== undefined ? { subscriber: r.subscriber } : {}) };
}

/** The journal of one process's capacity ledger: its events on disk before the answers that depend on them. */
export class CapacityJournal {
  private constructor(
    private readonly journal: OpenSessionJournal<CapacityRecord>,
    private readonly ledger: CapacityLedger,
  ) {}

  /** Opens (or creates) the journal at `path` and rebuilds `ledger` (new, of the same providers) from what it holds open. */
  static open(path: string, ledger: CapacityLedger): { journal: CapacityJournal; replay: JournalReplay } {
    const journal = OpenSessionJournal.open(path, CAPACITY_JOURNAL_FORMAT, { sync: "group", maxDelayMs: 0 });
    const records = journal.open;
    for (const r of records) ledger.apply(eventOf(r));
    return { journal: new CapacityJournal(journal, ledger), replay: { replayed: records.length, badLines: journal.badLines } };
  }

  /**
   * Notes a ledger event already applied; resolves once it is on disk (with the others of this event-loop turn),
   * rejects when the file cannot be written (and every later note is refused).
   */
  write(event: JournalEvent): Promise<void> {
    switch (event.kind) {
      case "start":
        return this.journal.opened({ kind: "session", provider: event.provider, session: event.session, startMs: event.t, ...(event.subscriber !== undefined ? { subscriber: event.subscriber } : {}) });
      case "stop": {
        const used = this.ledger.used(event.t, event.provider);
        const key = usedKey(event.provider);
        const noted = this.journal.get(key) === undefined ? this.journal.opened({ kind: "used", provider: event.provider, ...used }) : this.journal.updated(key, used);
        return Promise.all([this.journal.closed(sessionKey(event.provider, event.session)), noted]).then(() => undefined);
      }
      case "carry":
        throw new Error("a carry is read from the journal, not written to it");
    }
  }

  /** Writes what is queued and closes the file; what it holds stays for the next start. */
  close(): void {
    this.journal.close();
  }
}
