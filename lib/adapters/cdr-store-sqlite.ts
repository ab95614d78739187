// Durable CDR store on SQLite (better-sqlite3, WAL, synchronous=FULL). Inserts arriving together are
// group-committed: one transaction, one sync, then every waiting insert resolves.
import Database from "better-sqlite3";
import type { CallDetailRecord, CdrQuery, CdrStore } from "./cdr-store.js";

const COLUMNS = [
  ["messageId", "message_id", "TEXT NOT NULL"],
  ["componentId", "component_id", "TEXT NOT NULL"],
  ["receivedAt", "received_at", "INTEGER NOT NULL"],
  ["role", "role", "TEXT"],
  ["transactionId", "transaction_id", "TEXT"],
  ["callId", "call_id", "TEXT"],
  ["source", "source", "TEXT"],
  ["destination", "destination", "TEXT"],
  ["destinationSignalAddress", "destination_signal_address", "TEXT"],
  ["startTime", "start_time", "INTEGER"],
  ["endTime", "end_time", "INTEGER"],
  ["duration", "duration", "REAL"],
  ["unit", "unit", "TEXT"],
  ["terminationCause", "termination_cause", "INTEGER"],
  ["peer", "peer", "TEXT"],
] as const;

interface Waiting {
  record: CallDetailRecord;
  resolve: (inserted: boolean) => void;
  reject: (err: unknown) => void;
}

export class SqliteCdrStore implements CdrStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly commitBatch: (batch: Waiting[]) => boolean[];
  private waiting: Waiting[] = [];
  private scheduled = false;

  constructor(readonly path: string) {
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS cdr (id INTEGER PRIMARY KEY AUTOINCREMENT, ${COLUMNS.map(([, c, t]) => `${c} ${t}`).join(", ")},
       UNIQUE (message_id, component_id))`,
    );
    this.insert = this.db.prepare(
      `INSERT OR IGNORE INTO cdr (${COLUMNS.map(([, c]) => c).join(", ")}) VALUES (${COLUMNS.map(([k]) => `@${k}`).join(", ")})`,
    );
    this.commitBatch = this.db.transaction((batch: Waiting[]) =>
      batch.map((w) => {
        const row: Record<string, unknown> = {};
        for (const [k] of COLUMNS) row[k] = w.record[k] ?? null;
        return this.insert.run(row).changes === 1;
      }),
    );
  }

  insertOnce(record: CallDetailRecord): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ record, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.waiting;
    this.waiting = [];
    if (batch.length === 0) return;
    try {
      // The transaction's COMMIT returns after the WAL is synced (synchronous=FULL): the records are on disk.
      const results = this.commitBatch(batch);
      batch.forEach((w, i) => w.resolve(results[i] ?? false));
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }

  async query(query: CdrQuery = {}): Promise<CallDetailRecord[]> {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (query.since !== undefined) {
      where.push("received_at >= @since");
      params.since = query.since;
    }
    if (query.until !== undefined) {
      where.push("received_at < @until");
      params.until = query.until;
    }
    if (query.transactionId !== undefined) {
      where.push("transaction_id = @tid");
      params.tid = query.transactionId;
    }
    const sql = `SELECT * FROM cdr ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY received_at, id ${
      query.limit !== undefined ? `LIMIT ${Math.max(0, Math.floor(query.limit))}` : ""
    }`;
    const rows = this.db.prepare(sql).all(params) as Record<string, unknown>[];
    return rows.map((row) => {
      const r: Record<string, unknown> = {};
      for (const [k, c] of COLUMNS) if (row[c] !== null && row[c] !== undefined) r[k] = row[c];
      return r as unknown as CallDetailRecord;
    });
  }

  async count(): Promise<number> {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM cdr").get() as { n: number }).n;
  }

  async close(): Promise<void> {
    if (this.waiting.length > 0) this.flush();
    this.db.close();
  }
}
