// Durable CDR store on SQLite (better-sqlite3, WAL, synchronous=FULL). Inserts arriving together are
// group-committed: one transaction, one sync, then every waiting insert resolves.
//
// Schema versions (PRAGMA user_version): 0 = none yet, or the first schema, unique on (message_id, component_id);
// 2 = unique on usage_key (cdrIdentity: transaction, side, call, sender) and a cdr_meta table holding the
// transaction-id high-water mark. Opening a version-0 file migrates it in one transaction, keeping every row.
//
// better-sqlite3 is an optional peer dependency: it is loaded when the first store opens, never on import, so
// the rest of the library runs without the native module.
import { createRequire } from "node:module";
import type Database from "better-sqlite3";
import { cdrIdentity, type CallDetailRecord, type CdrQuery, type CdrStore } from "./cdr-store.js";

/** The error message when better-sqlite3 is not installed, with the command that installs it. */
export const SQLITE_MISSING_MESSAGE =
  "The SQLite CDR store needs better-sqlite3, an optional peer dependency of callgate: npm install better-sqlite3@12";

let betterSqlite3: typeof Database | undefined;

/**
 * better-sqlite3, loaded on first use; a clear error naming the install command when it is absent. Callers name
 * its type (`loadBetterSqlite3<typeof Database>()`), so the declarations of this module name no optional module.
 */
export function loadBetterSqlite3<Module>(): Module {
  if (betterSqlite3) return betterSqlite3 as Module;
  try {
    betterSqlite3 = createRequire(import.meta.url)("better-sqlite3") as typeof Database;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "MODULE_NOT_FOUND" && String((err as Error).message).includes("better-sqlite3")) {
      throw new Error(SQLITE_MISSING_MESSAGE, { cause: err });
    }
    throw err;
  }
  return betterSqlite3 as Module;
}

export const CDR_SCHEMA_VERSION = 2;
const NEXT_TRANSACTION_ID = "next_transaction_id";

/** How a SqliteCdrStore opens its file. */
export interface SqliteCdrStoreOptions {
  /** Open an existing file for queries only: no migration, no writes (what `clearinghouse cdrs` does). */
  readOnly?: boolean;
}

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

const CREATE_CDR = (table: string): string =>
  `CREATE TABLE ${table} (id INTEGER PRIMARY KEY AUTOINCREMENT, usage_key TEXT NOT NULL UNIQUE, ${COLUMNS.map(([, c, t]) => `${c} ${t}`).join(", ")})`;

function rowOf(record: CallDetailRecord): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const [k] of COLUMNS) row[k] = record[k] ?? null;
  return row;
}

function recordOf(row: Record<string, unknown>): CallDetailRecord {
  const r: Record<string, unknown> = {};
  for (const [k, c] of COLUMNS) if (row[c] !== null && row[c] !== undefined) r[k] = row[c];
  return r as unknown as CallDetailRecord;
}

/** A durable CDR store in one SQLite file (WAL, synchronous FULL): a record is on disk before `insertOnce` resolves. Needs the optional peer dependency better-sqlite3. */
export class SqliteCdrStore implements CdrStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement | undefined;
  private readonly commitBatch: ((batch: Waiting[]) => boolean[]) | undefined;
  private readonly reserve: ((count: bigint, floor: bigint) => bigint) | undefined;
  private waiting: Waiting[] = [];
  private scheduled = false;

  constructor(
    readonly path: string,
    options: SqliteCdrStoreOptions = {},
  ) {
    const Sqlite = loadBetterSqlite3<typeof Database>();
    if (options.readOnly) {
      this.db = new Sqlite(path, { readonly: true, fileMustExist: true });
      return;
    }
    this.db = new Sqlite(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    // IMMEDIATE: the write lock first, so two processes opening one file migrate it once, one after the other.
    this.db.transaction(() => this.migrate()).immediate();
    this.insert = this.db.prepare(
      `INSERT INTO cdr (usage_key, ${COLUMNS.map(([, c]) => c).join(", ")}) VALUES (@usageKey, ${COLUMNS.map(([k]) => `@${k}`).join(", ")})
       ON CONFLICT (usage_key) DO NOTHING`,
    );
    this.commitBatch = this.db.transaction((batch: Waiting[]) =>
      batch.map((w) => this.insert!.run({ ...rowOf(w.record), usageKey: cdrIdentity(w.record) }).changes === 1),
    );
    const read = this.db.prepare("SELECT value FROM cdr_meta WHERE key = ?").pluck();
    const write = this.db.prepare("UPDATE cdr_meta SET value = ? WHERE key = ?");
    const reserve = this.db.transaction((count: bigint, floor: bigint): bigint => {
      const mark = BigInt(read.get(NEXT_TRANSACTION_ID) as string);
      const first = mark > floor ? mark : floor;
      write.run(String(first + count), NEXT_TRANSACTION_ID);
      return first;
    });
    this.reserve = (count, floor) => reserve.immediate(count, floor);
  }

  /** Brings the file to CDR_SCHEMA_VERSION (inside the constructor's transaction). */
  private migrate(): void {
    const version = this.db.pragma("user_version", { simple: true }) as number;
    if (version > CDR_SCHEMA_VERSION) throw new Error(`${this.path}: CDR schema version ${version} is newer than this program's (${CDR_SCHEMA_VERSION})`);
    if (version === CDR_SCHEMA_VERSION) return;
    const existing = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'cdr'").get();
    if (existing === undefined) {
      this.db.exec(CREATE_CDR("cdr"));
    } else {
      // First schema: every row is kept. Rows that the new identity would merge (the same usage reported under
      // two messageIds) stay apart under a key naming their row.
      this.db.exec(CREATE_CDR("cdr_v2"));
      const copy = this.db.prepare(
        `INSERT INTO cdr_v2 (id, usage_key, ${COLUMNS.map(([, c]) => c).join(", ")}) VALUES (@id, @usageKey, ${COLUMNS.map(([k]) => `@${k}`).join(", ")})
         ON CONFLICT (usage_key) DO NOTHING`,
      );
      const page = this.db.prepare("SELECT * FROM cdr WHERE id > ? ORDER BY id LIMIT 1000");
      for (let rows = page.all(0) as Record<string, unknown>[]; rows.length > 0; rows = page.all(rows[rows.length - 1]!.id) as Record<string, unknown>[]) {
        for (const row of rows) {
          const record = recordOf(row);
          const values = { ...rowOf(record), id: row.id };
          if (copy.run({ ...values, usageKey: cdrIdentity(record) }).changes === 0) copy.run({ ...values, usageKey: `${cdrIdentity(record)}#row${String(row.id)}` });
        }
      }
      this.db.exec("DROP TABLE cdr; ALTER TABLE cdr_v2 RENAME TO cdr");
    }
    this.db.exec("CREATE INDEX IF NOT EXISTS cdr_transaction ON cdr (transaction_id)");
    this.db.exec("CREATE TABLE IF NOT EXISTS cdr_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    // Transaction ids continue above every numeric one already stored (a file from before the mark existed).
    const highest = this.db
      .prepare("SELECT MAX(CAST(transaction_id AS INTEGER)) FROM cdr WHERE length(transaction_id) BETWEEN 1 AND 18 AND transaction_id NOT GLOB '*[^0-9]*'")
      .pluck()
      .get() as number | bigint | null;
    this.db.prepare("INSERT OR IGNORE INTO cdr_meta (key, value) VALUES (?, ?)").run(NEXT_TRANSACTION_ID, String(BigInt(highest ?? 0) + 1n));
    this.db.pragma(`user_version = ${CDR_SCHEMA_VERSION}`);
  }

  reserveTransactionIds(count: number, floor: bigint): bigint {
    if (!this.reserve) throw new Error(`${this.path}: opened read-only`);
    return this.reserve(BigInt(count), floor);
  }

  insertOnce(record: CallDetailRecord): Promise<boolean> {
    if (!this.commitBatch) return Promise.reject(new Error(`${this.path}: opened read-only`));
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
      const results = this.commitBatch!(batch);
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
    return rows.map(recordOf);
  }

  async count(): Promise<number> {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM cdr").get() as { n: number }).n;
  }

  async close(): Promise<void> {
    if (this.waiting.length > 0) this.flush();
    this.db.close();
  }
}
