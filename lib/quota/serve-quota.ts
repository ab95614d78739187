// Quotas of the served policy servers (the deploy file's `quota` section, `callgate serve POL1` / `POL2`): each
// policy server's rules file, and its SQLite counter file that outlives the process. POL1 counts and limits
// the calls of its callers (the originating side), POL2 those of its callees (the terminating side), each by its
// own rules in its own file.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { CallSide } from "../adapters/policy-adapter.js";
import { QuotaPolicyAdapter } from "./quota-policy.js";
import { parseQuotaConfig } from "./rules.js";
import { SqliteQuotaStore } from "./store-sqlite.js";

export interface QuotaSettings {
  /** The rules file (absolute). */
  rules: string;
  /** The counter file (absolute). */
  db: string;
}

/** The policy servers that may count and limit calls. */
export type QuotaRole = "POL1" | "POL2";

/** Each policy server's quota settings (paths absolute). */
export type QuotaSettingsByRole = Partial<Record<QuotaRole, QuotaSettings>>;

/** The deploy file's `quota` section as written: `rules`/`db` are POL1's (shorthand), or per policy server. */
export interface QuotaSection {
  rules?: string;
  db?: string;
  POL1?: { rules: string; db?: string };
  POL2?: { rules: string; db?: string };
}

/** The JSON schema of one policy server's entry of the `quota` section. */
const QUOTA_OF_ROLE_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["rules"],
  properties: { rules: { type: "string", minLength: 1 }, db: { type: "string", minLength: 1 } },
} as const;

/** The JSON schema of the `quota` section; `quotaSettingsOf` checks how its keys go together. */
export const QUOTA_SECTION_SCHEMA = {
  type: "object",
  additionalProperties: false,
  properties: {
    rules: { type: "string", minLength: 1 },
    db: { type: "string", minLength: 1 },
    POL1: QUOTA_OF_ROLE_SCHEMA,
    POL2: QUOTA_OF_ROLE_SCHEMA,
  },
} as const;

/** The settings of each policy server of a (schema-valid) section, paths resolved against `dir`; throws what it cannot mean. */
export function quotaSettingsOf(section: QuotaSection, dir: string): QuotaSettingsByRole {
  if (section.rules === undefined && section.POL1 === undefined && section.POL2 === undefined) throw new Error("quota: no rules (rules, or POL1 / POL2 with their rules)");
  if (section.rules !== undefined && section.POL1 !== undefined) throw new Error("quota: POL1's rules twice (rules is the shorthand of POL1)");
  if (section.db !== undefined && section.rules === undefined) throw new Error("quota: db without rules (the shorthand of POL1 needs both)");
  const out: QuotaSettingsByRole = {};
  const pol1 = section.POL1 ?? (section.rules !== undefined ? { rules: section.rules, ...(section.db !== undefined ? { db: section.db } : {}) } : undefined);
  if (pol1) out.POL1 = { rules: resolve(dir, pol1.rules), db: resolve(dir, pol1.db ?? "callgate-quota.db") };
  if (section.POL2) out.POL2 = { rules: resolve(dir, section.POL2.rules), db: resolve(dir, section.POL2.db ?? "callgate-quota-POL2.db") };
  if (out.POL1 && out.POL2 && out.POL1.db === out.POL2.db) throw new Error(`quota: POL1 and POL2 count in one file (${out.POL1.db}); each policy server needs its own`);
  return out;
}

/** The quota adapter of one policy server: its side's calls counted and limited by its rules, in its file. */
export function openServedQuota(settings: QuotaSettings, side: CallSide = "originating"): { adapter: QuotaPolicyAdapter; close(): Promise<void> } {
  let config;
  try {
    config = parseQuotaConfig(parseYaml(readFileSync(settings.rules, "utf8")));
  } catch (e) {
    throw new Error(`quota rules ${settings.rules}: ${(e as Error).message}`);
  }
  const store = new SqliteQuotaStore(settings.db);
  return { adapter: new QuotaPolicyAdapter({ config, store, sides: [side] }), close: () => store.close() };
}
