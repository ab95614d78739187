// Call detail records: what the clearinghouse keeps from each UsageIndication, behind one store interface.

/** One call detail record: a UsageIndication's component as the clearinghouse stored it. */
export interface CallDetailRecord {
  /** The message and component that reported the usage (first report only; a record's identity is cdrIdentity). */
  messageId: string;
  componentId: string;
  receivedAt: number;
  role?: string;
  transactionId?: string;
  /** CallId bytes as base64. */
  callId?: string;
  source?: string;
  destination?: string;
  destinationSignalAddress?: string;
  startTime?: number;
  endTime?: number;
  /** Seconds (or whatever Unit says) of usage reported. */
  duration?: number;
  unit?: string;
  terminationCause?: number;
  peer?: string;
}

/** A filter over stored CDRs: received between `since` and `until` (ms since the epoch), one transaction, at most `limit`. */
export interface CdrQuery {
  since?: number;
  until?: number;
  transactionId?: string;
  limit?: number;
}

/** Where the clearinghouse keeps CDRs. A record must be durable when `insertOnce` resolves: the UsageConfirmation is sent only then. */
export interface CdrStore {
  /**
   * Stores the record durably unless one with the same identity (cdrIdentity: transaction, side, call, sender)
   * exists; true when newly stored. Resolves only once the record is on disk.
   */
  insertOnce(record: CallDetailRecord): Promise<boolean>;
  /**
   * Reserves `count` transaction ids never handed out before by this store, the first of them ≥ `floor`, and
   * returns the first. The reservation is durable before this returns, so a restarted clearinghouse never
   * hands an id out twice.
   */
  reserveTransactionIds(count: number, floor: bigint): bigint;
  /** The stored records that match, oldest first. */
  query(query?: CdrQuery): Promise<CallDetailRecord[]>;
  /** How many records are stored. */
  count(): Promise<number>;
  /** Closes the store; pending writes are done first. */
  close(): Promise<void>;
}

/**
 * What makes two usage reports the same record: the transaction, the side (Role), the call and the sender.
 * A report naming neither transaction nor call is told apart by its message and component ids as well.
 */
export function cdrIdentity(r: CallDetailRecord): string {
  const identity: (string | null)[] = [r.transactionId ?? null, r.role ?? null, r.callId ?? null, r.peer ?? null];
  if (r.transactionId === undefined && r.callId === undefined) identity.push(r.messageId, r.componentId);
  return JSON.stringify(identity);
}

/** Applies a query to records held in memory (ordered by receivedAt). */
export function filterCdrs(records: CallDetailRecord[], query: CdrQuery): CallDetailRecord[] {
  const out = records
    .filter((r) => query.since === undefined || r.receivedAt >= query.since)
    .filter((r) => query.until === undefined || r.receivedAt < query.until)
    .filter((r) => query.transactionId === undefined || r.transactionId === query.transactionId)
    .sort((a, b) => a.receivedAt - b.receivedAt);
  return query.limit === undefined ? out : out.slice(0, query.limit);
}

/** Column order of the CSV export. */
export const CDR_COLUMNS: readonly (keyof CallDetailRecord)[] = [
  "messageId", "componentId", "receivedAt", "role", "transactionId", "callId", "source", "destination",
  "destinationSignalAddress", "startTime", "endTime", "duration", "unit", "terminationCause", "peer",
];

function csvField(v: unknown): string {
  if (v === undefined || v === null) return "";
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 CSV with a header line. */
export function cdrsToCsv(records: CallDetailRecord[]): string {
  const lines = [CDR_COLUMNS.join(",")];
  for (const r of records) lines.push(CDR_COLUMNS.map((c) => csvField(r[c])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}
