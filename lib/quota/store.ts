// Where quota counters live: behind QuotaStore, so that a shared store (PostgreSQL, Redis) can serve many
// policy servers. Every change is keyed by the call's identity and what happened to it, and applied once: a
// retransmitted or re-asked REQ AAA, or a usage report seen again after a restart, counts nothing twice.
import { COUNTER_NAMES, type QuotaCounters } from "./rules.js";
import type { QuotaPeriod } from "./periods.js";

/** One counter row: a rule's subject in one calendar window. */
export interface QuotaCounterKey {
  rule: string;
  subject: string;
  period: QuotaPeriod;
  /** Local date the window starts on (YYYY-MM-DD). */
  periodKey: string;
}

export interface QuotaRow extends QuotaCounterKey, QuotaCounters {
  /** Epoch ms of the last change. */
  updatedAt: number;
}

/** A limit to check before admitting: the counter row and the upper limits of its rule. */
export interface QuotaCheck {
  key: QuotaCounterKey;
  limits: Partial<QuotaCounters>;
}

/** A call admitted with the counters after it, or refused with the counter that reached its limit. */
export type AdmitResult =
  | { admitted: true; counters: QuotaCounters[]; alreadyCounted: boolean }
  | { admitted: false; check: number; counter: keyof QuotaCounters; used: number; limit: number };

/** Where quota counters live; every change is keyed by the call and applied once. */
export interface QuotaStore {
  /**
   * Atomically: if no check's counters have reached a limit, count one attempt on each row under `eventKey`
   * (once) and return the counters after it; else count nothing and name the first limit reached. An
   * `eventKey` already counted is admitted again without checking (the same call asking again).
   */
  admit(eventKey: string, checks: QuotaCheck[], at: number): Promise<AdmitResult>;
  /** Adds `delta` to each row, once per `eventKey`; false when that event was counted already. */
  add(eventKey: string, keys: QuotaCounterKey[], delta: Partial<QuotaCounters>, at: number): Promise<boolean>;
  /** The counter rows an admitted attempt was counted on (empty when unknown): its usage goes to the same rows. */
  rowsOf(eventKey: string): Promise<QuotaCounterKey[]>;
  /** Rows, optionally of one rule, subject or period, ordered by rule, subject, period, window. */
  list(filter?: Partial<QuotaCounterKey>): Promise<QuotaRow[]>;
  /** Closes the store; changes already resolved are durable. */
  close(): Promise<void>;
}

export const zeroCounters = (): QuotaCounters => ({ attempts: 0, established: 0, seconds: 0, octets: 0 });

export const rowKey = (k: QuotaCounterKey): string => `${k.rule}\u0000${k.subject}\u0000${k.period}\u0000${k.periodKey}`;

/** The first limit `counters` have reached (a limit of N admits N: the N+1th is refused), or undefined. */
export function limitReached(counters: QuotaCounters, limits: Partial<QuotaCounters>): { counter: keyof QuotaCounters; used: number; limit: number } | undefined {
  for (const c of COUNTER_NAMES) {
    const limit = limits[c];
    if (limit !== undefined && counters[c] >= limit) return { counter: c, used: counters[c], limit };
  }
  return undefined;
}

/** Counters in this process only: for tests and single runs. */
export class MemoryQuotaStore implements QuotaStore {
  private readonly rows = new Map<string, QuotaRow>();
  private readonly events = new Set<string>();
  private readonly attempts = new Map<string, QuotaCounterKey[]>();

  private row(k: QuotaCounterKey): QuotaRow {
    const id = rowKey(k);
    let r = this.rows.get(id);
    if (!r) {
      r = { rule: k.rule, subject: k.subject, period: k.period, periodKey: k.periodKey, ...zeroCounters(), updatedAt: 0 };
      this.rows.set(id, r);
    }
    return r;
  }

  private counters(k: QuotaCounterKey): QuotaCounters {
    const r = this.rows.get(rowKey(k));
    return r ? { attempts: r.attempts, established: r.established, seconds: r.seconds, octets: r.octets } : zeroCounters();
  }

  async admit(eventKey: string, checks: QuotaCheck[], at: number): Promise<AdmitResult> {
    if (this.events.has(eventKey)) return { admitted: true, counters: checks.map((c) => this.counters(c.key)), alreadyCounted: true };
    for (let i = 0; i < checks.length; i++) {
      const reached = limitReached(this.counters(checks[i]!.key), checks[i]!.limits);
      if (reached) return { admitted: false, check: i, ...reached };
    }
    this.events.add(eventKey);
    this.attempts.set(eventKey, checks.map((c) => c.key));
    for (const c of checks) {
      const r = this.row(c.key);
      r.attempts++;
      r.updatedAt = at;
    }
    return { admitted: true, counters: checks.map((c) => this.counters(c.key)), alreadyCounted: false };
  }

  async add(eventKey: string, keys: QuotaCounterKey[], delta: Partial<QuotaCounters>, at: number): Promise<boolean> {
    if (this.events.has(eventKey)) return false;
    this.events.add(eventKey);
    for (const k of keys) {
      const r = this.row(k);
      for (const c of COUNTER_NAMES) r[c] += delta[c] ?? 0;
      r.updatedAt = at;
    }
    return true;
  }

  async rowsOf(eventKey: string): Promise<QuotaCounterKey[]> {
    return this.attempts.get(eventKey) ?? [];
  }

  async list(filter: Partial<QuotaCounterKey> = {}): Promise<QuotaRow[]> {
    return [...this.rows.values()]
      .filter((r) => (Object.keys(filter) as (keyof QuotaCounterKey)[]).every((k) => filter[k] === undefined || r[k] === filter[k]))
      .map((r) => ({ ...r }))
      .sort((a, b) => rowKey(a).localeCompare(rowKey(b)));
  }

  async close(): Promise<void> {}
}
