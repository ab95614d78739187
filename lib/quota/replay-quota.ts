// Quotas in a replayed scenario (`callgate replay SCENARIO --quota RULES.yaml [--quota-db FILE] [--quota-start ISO]`):
// both policy servers get a QuotaPolicyAdapter (the originating side counts), whose wall clock is the run's
// time from `--quota-start` (default: now), so a scenario on the in-memory driver can cross a month end or a
// DST change in virtual time.
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { RunClock } from "../flow/run-clock.js";
import type { RunOptions } from "../flow/run-types.js";
import { QuotaPolicyAdapter } from "./quota-policy.js";
import { parseQuotaConfig } from "./rules.js";
import { MemoryQuotaStore, type QuotaStore } from "./store.js";
import { SqliteQuotaStore } from "./store-sqlite.js";

export const REPLAY_QUOTA_USAGE = `  --quota RULES.yaml            count and limit calls by these quota rules (docs/quotas.md)
  --quota-db FILE               keep the counters in this SQLite file (default: in memory for the run)
  --quota-start ISO             the wall-clock instant of the run's time 0 (default: now)`;

export interface ReplayQuotaOptions {
  rules: string | undefined;
  db: string | undefined;
  start: string | undefined;
}

export class ReplayQuota {
  private constructor(
    readonly adapter: QuotaPolicyAdapter,
    readonly store: QuotaStore,
    private readonly bindClock: (clock: RunClock, origin: number) => void,
  ) {}

  /** Throws an Error with the reason; undefined when no quota was asked for. */
  static open(o: ReplayQuotaOptions): ReplayQuota | undefined {
    if (o.rules === undefined) {
      if (o.db !== undefined || o.start !== undefined) throw new Error("--quota-db and --quota-start need --quota");
      return undefined;
    }
    let text: string;
    try {
      text = readFileSync(o.rules, "utf8");
    } catch (e) {
      throw new Error(`--quota ${o.rules}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
    }
    let config;
    try {
      config = parseQuotaConfig(parseYaml(text));
    } catch (e) {
      throw new Error(`${o.rules}: ${(e as Error).message}`);
    }
    const startMs = o.start === undefined ? Date.now() : Date.parse(o.start);
    if (Number.isNaN(startMs)) throw new Error(`--quota-start '${o.start}' is not an ISO 8601 instant`);
    const store = o.db === undefined ? new MemoryQuotaStore() : new SqliteQuotaStore(o.db);
    let runClock = new RunClock();
    let origin = 0;
    const adapter = new QuotaPolicyAdapter({ config, store, clock: () => startMs + (runClock.now() - origin) });
    return new ReplayQuota(adapter, store, (clock, at) => {
      runClock = clock;
      origin = at;
    });
  }

  /** The run's options with the quota adapter on both policy servers and the clock it reads. */
  prepare(options: RunOptions): RunOptions {
    if (options.policy !== undefined) throw new Error("--quota: the run already has a policy adapter");
    const clock = options.clock ?? new RunClock();
    // the memory driver's virtual time starts at 0; on sockets the run starts now
    this.bindClock(clock, options.driver === "memory" ? 0 : clock.now());
    return { ...options, policy: this.adapter, clock };
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
