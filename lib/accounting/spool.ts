// The accounting spool: an append-only file of JSON lines. A record is accepted once its line is fsynced; what
// was sent (server, bytes) and what was answered is appended as it happens. Reopened after a crash, it
// gives every record still unanswered with the exact bytes last sent for it, and the keys already answered
// (a record submitted again under the same key is one record). Opening rewrites it without the finished.
// Attribute values are JSON text and numbers, or bytes as {"b64": …}; an attribute kept as its type number
// (Vendor-Specific, unknown types) has its octets as {"b64": …}. A spool written before bytes existed reads the
// same. A record the dictionary cannot encode (unknown name, a value of the wrong type) is a bad line.
import { existsSync, readFileSync } from "node:fs";
import { DurableAppendFile } from "./durable-append.js";
import { parseJsonLines, replaceJsonLines } from "./json-lines.js";
import { toRadiusAttribute, type AccountingAttribute, type AccountingRecord } from "./records.js";

export interface SpooledRecord {
  record: AccountingRecord;
  /** The last request sent for it: to whom ("address:port") and its bytes. */
  lastSent: { to: string; datagram: Buffer } | undefined;
}

export interface SpoolState {
  /** Local UDP port the previous process sent from (its retransmissions keep it), or undefined. */
  localPort: number | undefined;
  pending: SpooledRecord[];
  answered: Set<string>;
  /** Lines that were not JSON of the spool's shape (a torn last line after a crash, damage). */
  badLines: number;
}

/** An attribute value in a line: text and numbers as JSON, bytes as `{ "b64": base64 }`. */
type LineValue = string | number | { b64: string };
type LineRecord = Omit<AccountingRecord, "attributes"> & { attributes: [string | number, LineValue][] };

type Line =
  | { v: 1; port?: number }
  | { rec: LineRecord }
  | { sent: string; to: string; d: string }
  | { ack: string };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const toLine = (r: AccountingRecord): LineRecord => ({
  ...r,
  attributes: r.attributes.map(([name, value]) => [name, Buffer.isBuffer(value) ? { b64: value.toString("base64") } : value]),
});

const isLineValue = (v: unknown): v is LineValue =>
  typeof v === "string" || typeof v === "number" ||
  (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as { b64?: unknown }).b64 === "string" &&
    (v as { b64: string }).b64.length % 4 === 0 && BASE64.test((v as { b64: string }).b64));

/** The record a `rec` line holds, or undefined when the line is not of that shape (a spool without bytes reads as before). */
const fromLine = (r: unknown): AccountingRecord | undefined => {
  const x = r as Partial<LineRecord> | null;
  const ok = typeof x === "object" && x !== null && typeof x.key === "string" && typeof x.sessionId === "string" && typeof x.status === "string" &&
    typeof x.eventMs === "number" && Array.isArray(x.attributes) &&
    x.attributes.every((a) => Array.isArray(a) && a.length === 2 && (typeof a[0] === "string" || (typeof a[0] === "number" && typeof a[1] === "object")) && isLineValue(a[1]));
  if (!ok) return undefined;
  const line = x as LineRecord;
  const attributes = line.attributes.map(([name, v]) => [name, typeof v === "object" ? Buffer.from(v.b64, "base64") : v] as AccountingAttribute);
  const record: AccountingRecord = { ...line, attributes };
  return record.attributes.every(encodes) ? record : undefined;
};

/** Whether the dictionary knows the attribute and its value fits its type: a damaged line must not throw when sent. */
const encodes = (a: AccountingAttribute): boolean => {
  try {
    toRadiusAttribute(a);
    return true;
  } catch {
    return false;
  }
};

/** The state a spool's text holds; a line that is not one of the spool's shapes is counted in badLines, never thrown. */
export function parseSpool(content: string): SpoolState {
  const { objects, badLines } = parseJsonLines(content);
  const state: SpoolState = { localPort: undefined, pending: [], answered: new Set(), badLines };
  const byKey = new Map<string, SpooledRecord>();
  for (const line of objects as Partial<Line & Record<string, unknown>>[]) {
    const record = "rec" in line ? fromLine(line.rec) : undefined;
    if ("v" in line) state.localPort = typeof line.port === "number" && Number.isInteger(line.port) && line.port > 0 && line.port < 65536 ? line.port : state.localPort;
    else if (record) {
      if (!byKey.has(record.key) && !state.answered.has(record.key)) byKey.set(record.key, { record, lastSent: undefined });
    } else if ("sent" in line && typeof line.sent === "string" && typeof line.to === "string" && typeof line.d === "string") {
      const r = byKey.get(line.sent);
      if (r) r.lastSent = { to: line.to, datagram: Buffer.from(line.d, "base64") };
    } else if ("ack" in line && typeof line.ack === "string") {
      state.answered.add(line.ack);
      byKey.delete(line.ack);
    } else state.badLines++;
  }
  state.pending = [...byKey.values()];
  return state;
}

function readSpool(path: string): SpoolState {
  return existsSync(path) ? parseSpool(readFileSync(path, "utf8")) : parseSpool("");
}

function writeState(path: string, state: SpoolState, port: number): void {
  const lines: Line[] = [{ v: 1, port }];
  for (const key of state.answered) lines.push({ ack: key });
  for (const p of state.pending) {
    lines.push({ rec: toLine(p.record) });
    if (p.lastSent) lines.push({ sent: p.record.key, to: p.lastSent.to, d: p.lastSent.datagram.toString("base64") });
  }
  replaceJsonLines(path, lines);
}

export class AccountingSpool {
  private appended = 0;

  private constructor(
    readonly path: string,
    private readonly file: DurableAppendFile,
  ) {}

  /** What an earlier process left in the file (nothing when there is no file). */
  static recover(path: string): SpoolState {
    return readSpool(path);
  }

  /**
   * Rewrites the file with only what `state` holds (pending records, their last bytes, the answered keys) and
   * the local port now in use, fsynced and renamed into place; then appends to it.
   */
  static open(path: string, state: SpoolState, port: number): AccountingSpool {
    writeState(path, state, port);
    return new AccountingSpool(path, new DurableAppendFile(path, "fsync"));
  }

  /** Lines appended since the file was last rewritten. */
  get appendedLines(): number {
    return this.appended;
  }

  /** Rewrites the file with only what `state` holds, as `open` does, and goes on appending to it. */
  compact(state: SpoolState, port: number): void {
    try {
      this.file.reopen(() => writeState(this.path, state, port));
    } finally {
      // Rewritten, or (a full disk) the old file as it was: appended to either way, compacted again later.
      this.appended = 0;
    }
  }

  /** Appends accepted records and fsyncs: when this returns they survive a crash; when it throws, none was accepted. */
  accept(records: AccountingRecord[]): void {
    if (records.length === 0) return;
    this.file.append(`${records.map((rec) => JSON.stringify({ rec: toLine(rec) })).join("\n")}\n`);
    this.appended += records.length;
  }

  /** Written before the bytes leave, so a process killed after sending resends the same bytes. */
  sent(key: string, to: string, datagram: Buffer): void {
    this.file.write(`${JSON.stringify({ sent: key, to, d: datagram.toString("base64") })}\n`);
    this.appended++;
  }

  answered(key: string): void {
    this.file.write(`${JSON.stringify({ ack: key })}\n`);
    this.appended++;
  }

  /** fsyncs the sent and answered lines (the exporter does it on a short interval and at close). */
  sync(): void {
    this.file.sync();
  }

  close(): void {
    this.file.close();
  }
}
