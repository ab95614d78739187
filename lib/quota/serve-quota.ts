// Quotas of a served policy server (the deploy file's `quota` section, `callgate serve POL1`): the rules file,
// and the SQLite counter file that outlives the process.
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { QuotaPolicyAdapter } from "./quota-policy.js";
import { parseQuotaConfig } from "./rules.js";
import { SqliteQuotaStore } from "./store-sqlite.js";

export interface QuotaSettings {
  /** The rules file (absolute). */
  rules: string;
  /** The counter file (absolute). */
  db: string;
}

export function openServedQuota(settings: QuotaSettings): { adapter: QuotaPolicyAdapter; close(): Promise<void> } {
  let config;
  try {
    config = parseQuotaConfig(parseYaml(readFileSync(settings.rules, "utf8")));
  } catch (e) {
    throw new Error(`quota rules ${settings.rules}: ${(e as Error).message}`);
  }
  const store = new SqliteQuotaStore(settings.db);
  return { adapter: new QuotaPolicyAdapter({ config, store }), close: () => store.close() };
}
