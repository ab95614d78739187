// Quota counters on SQLite (better-sqlite3, WAL, synchronous=FULL): each admit and add is one IMMEDIATE
// transaction, on disk before its promise resolves. The events table holds every call event counted, so an
// event seen again (a retransmission, a report after a restart) changes nothing. better-sqlite3 is an
// optional peer dependency, loaded when a store opens.
import type Database from "better-sqlite3";
import { loadBetterSqlite3 } from "../adapters/cdr-store-sqlite.js";
import { COUNTER_NAMES, type QuotaCounters } from "./rules.js";
import { limitReached, zeroCounters, type AdmitResult, type QuotaCheck, type QuotaCounterKey, type QuotaRow, type QuotaStore } from "./store.js";

export const QUOTA_SCHEMA_VERSION = 1;

interface Row {
  rule: string;
  subject: string;
  period: string;
  period_key: string;
  attempts: number;
  established: number;
  seconds: number;
  octets: number;
  updated_at: number;
}

const toRow = (r: Row): QuotaRow => ({
  rule: r.rule, subject: r.subject, period: r.period as QuotaRow["period"], periodKey: r.period_key,
  attempts: r.attempts, established: r.established, seconds: r.seconds, octets: r.octets, updatedAt: r.updated_at,
});

/** Quota counters on SQLite: each change one transaction, on disk before its promise resolves. */
export class SqliteQuotaStore implements QuotaStore {
  private readonly db: Database.Database;
  private readonly admitTx: ((eventKey: string, checks: QuotaCheck[], at: number) => AdmitResult) | undefined;
  private readonly rowsOfEvent: Database.Statement | undefined;
  private readonly addTx: ((eventKey: string, keys: QuotaCounterKey[], delta: Partial<QuotaCounters>, at: number) => boolean) | undefined;

  constructor(readonly path: string, options: { readOnly?: boolean } = {}) {
    const Sqlite = loadBetterSqlite3<typeof Database>();
    if (options.readOnly) {
      this.db = new Sqlite(path, { readonly: true, fileMustExist: true });
      const version = this.db.pragma("user_version", { simple: true }) as number;
      if (version !== QUOTA_SCHEMA_VERSION) throw new Error(`${path}: not a quota counter file (schema version ${version})`);
      return;
    }
    this.db = new Sqlite(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.transaction(() => {
      const version = this.db.pragma("user_version", { simple: true }) as number;
      if (version > QUOTA_SCHEMA_VERSION) throw new Error(`${path}: quota schema version ${version} is newer than this program's (${QUOTA_SCHEMA_VERSION})`);
      this.db.exec(`CREATE TABLE IF NOT EXISTS quota_counter (
        rule TEXT NOT NULL, subject TEXT NOT NULL, period TEXT NOT NULL, period_key TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, established INTEGER NOT NULL DEFAULT 0, seconds INTEGER NOT NULL DEFAULT 0, octets INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL, PRIMARY KEY (rule, subject, period, period_key))`);
      this.db.exec("CREATE TABLE IF NOT EXISTS quota_event (event_key TEXT PRIMARY KEY, at INTEGER NOT NULL, rows TEXT)");
      this.db.pragma(`user_version = ${QUOTA_SCHEMA_VERSION}`);
    }).immediate();
    const get = this.db.prepare("SELECT attempts, established, seconds, octets FROM quota_counter WHERE rule = ? AND subject = ? AND period = ? AND period_key = ?");
    const seen = this.db.prepare("INSERT INTO quota_event (event_key, at, rows) VALUES (?, ?, ?) ON CONFLICT (event_key) DO NOTHING");
    this.rowsOfEvent = this.db.prepare("SELECT rows FROM quota_event WHERE event_key = ?").pluck();
    const bump = this.db.prepare(`INSERT INTO quota_counter (rule, subject, period, period_key, attempts, established, seconds, octets, updated_at)
      VALUES (@rule, @subject, @period, @periodKey, @attempts, @established, @seconds, @octets, @at)
      ON CONFLICT (rule, subject, period, period_key) DO UPDATE SET attempts = attempts + excluded.attempts,
        established = established + excluded.established, seconds = seconds + excluded.seconds, octets = octets + excluded.octets, updated_at = excluded.updated_at`);
    const counters = (k: QuotaCounterKey): QuotaCounters => (get.get(k.rule, k.subject, k.period, k.periodKey) as QuotaCounters | undefined) ?? zeroCounters();
    const admit = this.db.transaction((eventKey: string, checks: QuotaCheck[], at: number): AdmitResult => {
      if (seen.run(eventKey, at, JSON.stringify(checks.map((c) => c.key))).changes === 0) return { admitted: true, counters: checks.map((c) => counters(c.key)), alreadyCounted: true };
      for (let i = 0; i < checks.length; i++) {
        const reached = limitReached(counters(checks[i]!.key), checks[i]!.limits);
        if (reached) {
          // nothing counted: the event is not kept either (the transaction rolls back)
          throw new RefusedInside({ admitted: false, check: i, ...reached });
        }
      }
      for (const c of checks) bump.run({ ...c.key, ...zeroCounters(), attempts: 1, at });
      return { admitted: true, counters: checks.map((c) => counters(c.key)), alreadyCounted: false };
    });
    this.admitTx = (eventKey, checks, at) => {
      try {
        return admit.immediate(eventKey, checks, at);
      } catch (e) {
        if (e instanceof RefusedInside) return e.result;
        throw e;
      }
    };
    const add = this.db.transaction((eventKey: string, keys: QuotaCounterKey[], delta: Partial<QuotaCounters>, at: number): boolean => {
      if (seen.run(eventKey, at, null).changes === 0) return false;
      const d = { ...zeroCounters() };
      for (const c of COUNTER_NAMES) d[c] = Math.round(delta[c] ?? 0);
      for (const k of keys) bump.run({ ...k, ...d, at });
      return true;
    });
    this.addTx = (eventKey, keys, delta, at) => add.immediate(eventKey, keys, delta, at);
  }

  async admit(eventKey: string, checks: QuotaCheck[], at: number): Promise<AdmitResult> {
    if (!this.admitTx) throw new Error(`${this.path}: opened read-only`);
    return this.admitTx(eventKey, checks, at);
  }

  async add(eventKey: string, keys: QuotaCounterKey[], delta: Partial<QuotaCounters>, at: number): Promise<boolean> {
    if (!this.addTx) throw new Error(`${this.path}: opened read-only`);
    return this.addTx(eventKey, keys, delta, at);
  }

  async rowsOf(eventKey: string): Promise<QuotaCounterKey[]> {
    const stmt = this.rowsOfEvent ?? this.db.prepare("SELECT rows FROM quota_event WHERE event_key = ?").pluck();
    const json = stmt.get(eventKey) as string | null | undefined;
    return json ? (JSON.parse(json) as QuotaCounterKey[]) : [];
  }

  async list(filter: Partial<QuotaCounterKey> = {}): Promise<QuotaRow[]> {
    const where: string[] = [];
    const params: Record<string, string> = {};
    const columns: Record<keyof QuotaCounterKey, string> = { rule: "rule", subject: "subject", period: "period", periodKey: "period_key" };
    for (const k of Object.keys(columns) as (keyof QuotaCounterKey)[]) {
      const v = filter[k];
      if (v !== undefined) {
        where.push(`${columns[k]} = @${k}`);
        params[k] = v;
      }
    }
    const sql = `SELECT * FROM quota_counter ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY rule, subject, period, period_key`;
    return (this.db.prepare(sql).all(params) as Row[]).map(toRow);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** Carries a refusal out of the admit transaction, so that it rolls back. */
class RefusedInside extends Error {
  constructor(readonly result: AdmitResult) {
    super("refused");
  }
}
