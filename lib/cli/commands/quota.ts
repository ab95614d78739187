// `callgate quota show|export --db FILE`: the usage-quota counters of a policy server's SQLite file, per rule,
// subject and calendar window. `show` prints a table (with the limits when --config names the rules file),
// `export` writes CSV or JSON for billing. The file is opened read-only.
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { QUOTA_PERIODS, type QuotaPeriod } from "../../quota/periods.js";
import { COUNTER_NAMES, parseQuotaConfig, QuotaConfigError, type QuotaRule } from "../../quota/rules.js";
import type { QuotaRow } from "../../quota/store.js";
import { SqliteQuotaStore } from "../../quota/store-sqlite.js";

const USAGE = `usage: callgate quota show --db FILE [--config RULES.yaml] [filters]
       callgate quota export --db FILE [--format csv|json] [filters]
  --db FILE          the policy server's quota counter file (SQLite)
  --config FILE      the quota rules (YAML): show prints each counter beside its limit
  --format csv|json  export format (default csv)
filters:
  --rule NAME  --subject KEY  --period day|week|month|year  --window YYYY-MM-DD (the window's first day)`;

const fail = (reason: string): number => {
  console.error(`callgate quota: ${reason}\n${USAGE}`);
  return 2;
};

const csvField = (v: string | number): string => (typeof v === "number" || !/[",\r\n]/.test(v) ? String(v) : `"${v.replace(/"/g, '""')}"`);

export function quotaRowsToCsv(rows: QuotaRow[]): string {
  const head = ["rule", "subject", "period", "window", ...COUNTER_NAMES, "updated_at"];
  const lines = rows.map((r) => [r.rule, r.subject, r.period, r.periodKey, ...COUNTER_NAMES.map((c) => r[c]), new Date(r.updatedAt).toISOString()].map(csvField).join(","));
  return `${[head.join(","), ...lines].join("\n")}\n`;
}

function showTable(rows: QuotaRow[], rules: Map<string, QuotaRule>): string {
  const cell = (r: QuotaRow, c: (typeof COUNTER_NAMES)[number]): string => {
    const limit = rules.get(r.rule)?.limits[c];
    return limit === undefined ? String(r[c]) : `${r[c]}/${limit}`;
  };
  const table = [["RULE", "SUBJECT", "PERIOD", "WINDOW", "ATTEMPTS", "ESTABLISHED", "SECONDS", "OCTETS"], ...rows.map((r) => [r.rule, r.subject, r.period, r.periodKey, ...COUNTER_NAMES.map((c) => cell(r, c))])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return `${table.map((row) => row.map((v, i) => v.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n")}\n`;
}

export async function run(args: string[]): Promise<number> {
  if (args.length === 0) return fail("show or export?");
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const [verb, ...rest] = args;
  if (verb !== "show" && verb !== "export") return fail(`unknown subcommand '${verb}' (show, export)`);
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        db: { type: "string" }, config: { type: "string" }, format: { type: "string" },
        rule: { type: "string" }, subject: { type: "string" }, period: { type: "string" }, window: { type: "string" },
      },
    }));
  } catch (e) {
    return fail((e as Error).message);
  }
  if (values.db === undefined) return fail("--db FILE is required");
  if (!existsSync(values.db)) return fail(`cannot read ${values.db}: no such file`);
  if (values.period !== undefined && !QUOTA_PERIODS.includes(values.period as QuotaPeriod)) return fail(`--period must be one of ${QUOTA_PERIODS.join(", ")}`);
  if (values.window !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(values.window)) return fail("--window must be a date YYYY-MM-DD");
  const format = values.format ?? "csv";
  if (format !== "csv" && format !== "json") return fail("--format must be csv or json");
  if (verb === "show" && values.format !== undefined) return fail("--format is for export");
  const rules = new Map<string, QuotaRule>();
  if (values.config !== undefined) {
    try {
      for (const r of parseQuotaConfig(parseYaml(readFileSync(values.config, "utf8"))).rules) rules.set(r.name, r);
    } catch (e) {
      return fail(`${values.config}: ${e instanceof QuotaConfigError ? e.message : (e as Error).message}`);
    }
  }
  let store: SqliteQuotaStore;
  try {
    store = new SqliteQuotaStore(values.db, { readOnly: true });
  } catch (e) {
    return fail(`${values.db}: ${(e as Error).message}`);
  }
  try {
    const filter: Parameters<SqliteQuotaStore["list"]>[0] = {};
    if (values.rule !== undefined) filter.rule = values.rule;
    if (values.subject !== undefined) filter.subject = values.subject;
    if (values.period !== undefined) filter.period = values.period as QuotaPeriod;
    if (values.window !== undefined) filter.periodKey = values.window;
    const rows = await store.list(filter);
    if (verb === "show") process.stdout.write(rows.length === 0 ? "no counters\n" : showTable(rows, rules));
    else process.stdout.write(format === "csv" ? quotaRowsToCsv(rows) : `${JSON.stringify(rows.map((r) => ({ ...r, updatedAt: new Date(r.updatedAt).toISOString() })), null, 2)}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
