// The quota adapter alone: the same call asked twice counts once, a policy server restarted mid-call (a new
// adapter on the same SQLite file) still adds the call's usage to the rows its attempt was counted on, only
// the configured side counts, and an inner adapter's refusal or time limit stands; beside the clearinghouse's
// time limit in one DEC AAA, the shorter wins.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DefaultPolicyAdapter, type AaaQuery, type AaaVerdict } from "../../../lib/adapters/policy-adapter.js";
import { QuotaPolicyAdapter } from "../../../lib/quota/quota-policy.js";
import { parseQuotaConfig } from "../../../lib/quota/rules.js";
import { SqliteQuotaStore } from "../../../lib/quota/store-sqlite.js";
import { MemoryQuotaStore } from "../../../lib/quota/store.js";
import { runCalls } from "../../../lib/flow/run-calls.js";
import { RunClock } from "../../../lib/flow/run-clock.js";

const dir = mkdtempSync(join(tmpdir(), "quota-policy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = parseQuotaConfig({
  timeZone: "Europe/Paris",
  rules: [
    { name: "calls", subject: "subscriber", period: "day", limits: { attempts: 2 } },
    { name: "talk", subject: ["realm"], period: "month", limits: { seconds: 100 } },
  ],
});
const now = Date.parse("2026-06-10T10:00:00Z");
const query = (callId: string, side: AaaQuery["side"] = "originating"): AaaQuery => ({ callId, side, caller: "sip:alice@example.com", callee: "sip:bob@example.net", flows: [], now: 0 });
const usage = (callId: string, durationS: number) => ({ callId, side: "originating" as const, startMs: 0, endMs: durationS * 1000, durationS, packets: 50 * durationS, octets: 10_000 * durationS });

describe("QuotaPolicyAdapter", () => {
  it("counts a call asked twice once, gives the remaining seconds as time limit, and adds usage after a restart", async () => {
    const path = join(dir, "q.db");
    const first = new QuotaPolicyAdapter({ config, store: new SqliteQuotaStore(path), clock: () => now });
    expect(await first.decideAaa(query("c1"))).toEqual({ allow: true, timeLimitS: 100 });
    expect(await first.decideAaa(query("c1"))).toEqual({ allow: true, timeLimitS: 100 }); // same call again: not a second attempt
    await first.observeUsage(usage("c1", 30));
    expect(await first.decideAaa(query("c2"))).toEqual({ allow: true, timeLimitS: 70 });
    // the policy server dies with c2 in progress; a new one opens the same file
    const second = new QuotaPolicyAdapter({ config, store: new SqliteQuotaStore(path), clock: () => now + 60_000 });
    await second.observeUsage(usage("c2", 45));
    await second.observeUsage(usage("c2", 45)); // reported again: counted once
    const rows = await new SqliteQuotaStore(path, { readOnly: true }).list();
    expect(rows.map((r) => [r.rule, r.attempts, r.established, r.seconds, r.octets])).toEqual([
      ["calls", 2, 2, 75, 750_000],
      ["talk", 2, 2, 75, 750_000],
    ]);
    expect(await second.decideAaa(query("c3"))).toEqual({ allow: false, sipStatus: 403, reason: "quota calls: attempts 2 of 2 per day" });
    expect(second.refusals.get("calls")).toBe(1);
  });

  it("the terminating side neither counts nor limits by default; an inner refusal or shorter limit stands", async () => {
    class Inner extends DefaultPolicyAdapter {
      override decideAaa(q: AaaQuery): AaaVerdict {
        return q.callId === "deny" ? { allow: false, sipStatus: 488, reason: "inner" } : { allow: true, timeLimitS: 10 };
      }
    }
    const store = new SqliteQuotaStore(join(dir, "t.db"));
    const a = new QuotaPolicyAdapter({ config, store, clock: () => now, inner: new Inner() });
    expect(await a.decideAaa(query("t1", "terminating"))).toEqual({ allow: true, timeLimitS: 10 });
    expect(await a.decideAaa(query("deny"))).toEqual({ allow: false, sipStatus: 488, reason: "inner" });
    expect(await a.decideAaa(query("o1"))).toEqual({ allow: true, timeLimitS: 10 });
    expect((await store.list()).map((r) => r.attempts)).toEqual([1, 1]);
  });
});

describe("quota time limit beside the clearinghouse's", () => {
  it("with the OSP clearinghouse's 4 h limit in the same DEC AAA, the quota's shorter remaining allowance wins", async () => {
    const store = new MemoryQuotaStore();
    const config = parseQuotaConfig({ timeZone: "UTC", rules: [{ name: "talk-time", subject: "subscriber", period: "day", limits: { seconds: 5 } }] });
    const runClock = new RunClock();
    const policy = new QuotaPolicyAdapter({ config, store, clock: () => Date.parse("2026-06-10T08:00:00Z") + runClock.now() });
    const result = await runCalls({ driver: "memory", calls: [{ caller: "sip:alice@example.com", callee: "sip:bob@example.net", startMs: 100, answerDelayMs: 100, durationMs: 600_000, hangUp: "caller" }], policy, clock: runClock, topology: { clearinghouse: "osp-http" } });
    const [row] = await store.list();
    expect(row!.seconds).toBeGreaterThanOrEqual(5);
    expect(row!.seconds).toBeLessThanOrEqual(8);
    expect(result.records.some((r) => r.msg === "BYE" && r.from === "SIP1" && r.to === "UAC")).toBe(true);
  }, 60_000);
});
