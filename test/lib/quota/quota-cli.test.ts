// `callgate quota show|export` on a counter file a quota adapter wrote: the table beside the limits, CSV and
// JSON exports, filters, and reasons for bad input. The command runs in its own process (tsx, from sources).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QuotaPolicyAdapter } from "../../../lib/quota/quota-policy.js";
import { parseQuotaConfig } from "../../../lib/quota/rules.js";
import { SqliteQuotaStore } from "../../../lib/quota/store-sqlite.js";
import { killStartedProcesses, spawnCli } from "../../support/cli-process.js";

const dir = mkdtempSync(join(tmpdir(), "quota-cli-"));
const db = join(dir, "quota.db");
const rulesFile = join(dir, "rules.yaml");
const rules = `timeZone: Europe/Berlin
rules:
  - {name: calls, subject: subscriber, period: day, limits: {attempts: 5}}
  - {name: talk, subject: [realm], period: month, limits: {seconds: 600}}
`;

beforeAll(async () => {
  writeFileSync(rulesFile, rules);
  const { parse } = await import("yaml");
  const store = new SqliteQuotaStore(db);
  const policy = new QuotaPolicyAdapter({ config: parseQuotaConfig(parse(rules)), store, clock: () => Date.parse("2026-06-10T08:00:00Z") });
  for (const [i, caller] of ["sip:alice@example.com", "sip:alice@example.com", "sip:bob@example.org"].entries()) {
    await policy.decideAaa({ callId: `c${i}`, side: "originating", caller, callee: "sip:+4930@example.net", flows: [], now: 0 });
    await policy.observeUsage({ callId: `c${i}`, side: "originating", startMs: 0, endMs: 1, durationS: 60 + i, packets: 1, octets: 1000 * (i + 1) });
  }
  await store.close();
});
afterAll(() => {
  killStartedProcesses();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(...args: string[]) {
  const p = spawnCli("quota", args);
  const code = await p.closed;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

describe("callgate quota", () => {
  it("show: one line per rule, subject and window, each counter beside its limit", async () => {
    const r = await cli("show", "--db", db, "--config", rulesFile);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").map((l) => l.split(/\s{2,}/))).toEqual([
      ["RULE", "SUBJECT", "PERIOD", "WINDOW", "ATTEMPTS", "ESTABLISHED", "SECONDS", "OCTETS"],
      ["calls", "subscriber=alice@example.com", "day", "2026-06-10", "2/5", "2", "121", "3000"],
      ["calls", "subscriber=bob@example.org", "day", "2026-06-10", "1/5", "1", "62", "3000"],
      ["talk", "realm=example.com", "month", "2026-06-01", "2", "2", "121/600", "3000"],
      ["talk", "realm=example.org", "month", "2026-06-01", "1", "1", "62/600", "3000"],
      [""],
    ]);
  }, 60_000);

  it("export: CSV by default, JSON on request, filtered", async () => {
    const csv = await cli("export", "--db", db, "--rule", "talk");
    expect(csv.stdout).toBe(
      "rule,subject,period,window,attempts,established,seconds,octets,updated_at\n" +
        "talk,realm=example.com,month,2026-06-01,2,2,121,3000,2026-06-10T08:00:00.000Z\n" +
        "talk,realm=example.org,month,2026-06-01,1,1,62,3000,2026-06-10T08:00:00.000Z\n",
    );
    const json = await cli("export", "--db", db, "--format", "json", "--subject", "subscriber=bob@example.org");
    expect(JSON.parse(json.stdout)).toEqual([
      { rule: "calls", subject: "subscriber=bob@example.org", period: "day", periodKey: "2026-06-10", attempts: 1, established: 1, seconds: 62, octets: 3000, updatedAt: "2026-06-10T08:00:00.000Z" },
    ]);
  }, 60_000);

  it("bad input gets a reason and exit 2; --help exits 0 with the usage", async () => {
    const cases: [string[], RegExp][] = [
      [[], /show or export\?/],
      [["list", "--db", db], /unknown subcommand 'list'/],
      [["show"], /--db FILE is required/],
      [["show", "--db", join(dir, "none.db")], /no such file/],
      [["export", "--db", db, "--format", "xml"], /--format must be csv or json/],
      [["show", "--db", db, "--period", "fortnight"], /--period must be one of/],
      [["show", "--db", rulesFile], /rules\.yaml: file is not a database/],
    ];
    for (const [args, reason] of cases) {
      const r = await cli(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(reason);
    }
    const help = await cli("--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: callgate quota show --db FILE/);
  }, 120_000);
});
