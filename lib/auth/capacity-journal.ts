// The capacity ledger's journal file: JSON lines (lib/accounting's helpers), each event fsynced before the answer
// that depends on it goes out (a DEC AAA, an Accounting-Response), replayed into the ledger when the process
// starts again, then rewritten short (the ledger's snapshot) so that it does not grow with every call ever made.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { parseJsonLines, replaceJsonLines } from "../accounting/json-lines.js";
import type { CapacityLedger, JournalEvent } from "./capacity-ledger.js";

/** What opening a journal found: events replayed into the ledger, and lines that were none (a torn last line). */
export interface JournalReplay {
  replayed: number;
  badLines: number;
}

const isString = (v: unknown): v is string => typeof v === "string" && v !== "";
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

/** A journal line as an event, or undefined when it is not one (damage, or a line of another kind). */
export function journalEventOf(o: Record<string, unknown>): JournalEvent | undefined {
  if (!isCount(o.t) || !isString(o.provider)) return undefined;
  switch (o.kind) {
    case "start":
      if (!isString(o.session) || (o.subscriber !== undefined && !isString(o.subscriber))) return undefined;
      return o.subscriber === undefined ? { t: o.t, kind: "start", provider: o.provider, session: o.session } : { t: o.t, kind: "start", provider: o.provider, session: o.session, subscriber: o.subscriber };
    case "stop":
      return isString(o.session) && isCount(o.seconds) ? { t: o.t, kind: "stop", provider: o.provider, session: o.session, seconds: o.seconds } : undefined;
    case "carry": {
      if (!isCount(o.seconds) || !isCount(o.charged)) return undefined;
      if (o.stopped !== undefined && !(Array.isArray(o.stopped) && o.stopped.every(isString))) return undefined;
      const carry: JournalEvent = { t: o.t, kind: "carry", provider: o.provider, seconds: o.seconds, charged: o.charged };
      if (o.stopped !== undefined) carry.stopped = o.stopped as string[];
      return carry;
    }
    default:
      return undefined;
  }
}

/** A journal file's events in order, and the lines that were none (counted, not applied). */
export function parseCapacityJournal(text: string): { events: JournalEvent[]; badLines: number } {
  const parsed = parseJsonLines(text);
  let badLines = parsed.badLines;
  const events: JournalEvent[] = [];
  for (const o of parsed.objects) {
    const event = journalEventOf(o);
    if (event === undefined) badLines++;
    else events.push(event);
  }
  return { events, badLines };
}

/** Append-only, fsynced journal of a capacity ledger: one per process that decides on the ledger. */
export class CapacityJournal {
  private fd: number | undefined;

  private constructor(readonly path: string) {
    this.fd = openSync(path, "a");
  }

  /**
   * Replays the journal at `path` (if any) into `ledger`, rewrites it as the ledger's snapshot at `now`, and opens
   * it for appending. A line that is no event is counted and left out: a line cut short by a crash was never
   * confirmed to anyone.
   */
  static open(path: string, ledger: CapacityLedger, now: number): { journal: CapacityJournal; replay: JournalReplay } {
    const { events, badLines } = existsSync(path) ? parseCapacityJournal(readFileSync(path, "utf8")) : { events: [], badLines: 0 };
    for (const event of events) ledger.apply(event);
    replaceJsonLines(path, ledger.snapshot(now));
    return { journal: new CapacityJournal(path), replay: { replayed: events.length, badLines } };
  }

  /** Appends `event` and waits for the disk (RFC 2866 §2: stored before it is answered). */
  write(event: JournalEvent): void {
    if (this.fd === undefined) throw new Error(`capacity journal ${this.path} is closed`);
    writeSync(this.fd, `${JSON.stringify(event)}\n`);
    fsyncSync(this.fd);
  }

  /** Closes the file; what was written stays for the next start. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
