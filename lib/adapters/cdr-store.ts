// Call detail records: what the clearinghouse keeps from each UsageIndication, behind one store interface.

export interface CallDetailRecord {
  /** Idempotency key: the reporting peer's messageId and componentId (a retransmission carries the same). */
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

export interface CdrQuery {
  since?: number;
  until?: number;
  transactionId?: string;
  limit?: number;
}

export interface CdrStore {
  /** Stores the record durably unless one with the same (messageId, componentId) exists; true when newly stored. Resolves only once the record is on disk. */
  insertOnce(record: CallDetailRecord): Promise<boolean>;
  query(query?: CdrQuery): Promise<CallDetailRecord[]>;
  count(): Promise<number>;
  close(): Promise<void>;
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
