// The quota stores: limits checked and attempts counted in one step, each call event counted once (also after
// reopening the SQLite file), rows kept per rule, subject and window; and quota rule configuration errors.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { callSubjects, parseQuotaConfig, QuotaConfigError, subjectKey } from "../../../lib/quota/rules.js";
import { MemoryQuotaStore, type QuotaCounterKey, type QuotaStore } from "../../../lib/quota/store.js";
import { SqliteQuotaStore } from "../../../lib/quota/store-sqlite.js";

const dir = mkdtempSync(join(tmpdir(), "quota-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const key = (subject: string, periodKey = "2026-06-10"): QuotaCounterKey => ({ rule: "r", subject, period: "day", periodKey });

const stores: [string, () => QuotaStore][] = [
  ["memory", () => new MemoryQuotaStore()],
  ["sqlite", () => new SqliteQuotaStore(join(dir, `s-${Math.random().toString(36).slice(2)}.db`))],
];

describe.each(stores)("%s quota store", (_name, open) => {
  it("admits up to the limit and refuses the next attempt without counting it; the same call asking again is admitted once", async () => {
    const s = open();
    const checks = [{ key: key("subscriber=a@x"), limits: { attempts: 2 } }];
    expect(await s.admit("c1|originating|attempt", checks, 1)).toMatchObject({ admitted: true, alreadyCounted: false });
    expect(await s.admit("c1|originating|attempt", checks, 2)).toMatchObject({ admitted: true, alreadyCounted: true });
    expect(await s.admit("c2|originating|attempt", checks, 3)).toMatchObject({ admitted: true, counters: [{ attempts: 2 }] });
    expect(await s.admit("c3|originating|attempt", checks, 4)).toEqual({ admitted: false, check: 0, counter: "attempts", used: 2, limit: 2 });
    // the refused event was not kept: once the limit is raised it can be admitted
    expect(await s.admit("c3|originating|attempt", [{ key: key("subscriber=a@x"), limits: { attempts: 3 } }], 5)).toMatchObject({ admitted: true, alreadyCounted: false });
    expect((await s.list())[0]).toMatchObject({ attempts: 3, updatedAt: 5 });
    await s.close();
  });

  it("usage is added once per call event, to every row the attempt was counted on", async () => {
    const s = open();
    const rows = [key("subscriber=a@x"), key("realm=x")];
    await s.admit("c1|originating|attempt", rows.map((k) => ({ key: k, limits: {} })), 1);
    expect(await s.rowsOf("c1|originating|attempt")).toEqual(rows);
    expect(await s.add("c1|originating|usage", rows, { established: 1, seconds: 61, octets: 9000 }, 2)).toBe(true);
    expect(await s.add("c1|originating|usage", rows, { established: 1, seconds: 61, octets: 9000 }, 3)).toBe(false);
    expect((await s.list()).map((r) => [r.subject, r.attempts, r.established, r.seconds, r.octets])).toEqual([
      ["realm=x", 1, 1, 61, 9000],
      ["subscriber=a@x", 1, 1, 61, 9000],
    ]);
    expect(await s.list({ subject: "realm=x", periodKey: "2026-06-11" })).toEqual([]);
    await s.close();
  });
});

describe("SQLite quota store durability", () => {
  it("counters and counted events survive closing and reopening the file", async () => {
    const path = join(dir, "durable.db");
    const a = new SqliteQuotaStore(path);
    await a.admit("c1|originating|attempt", [{ key: key("s"), limits: { attempts: 1 } }], 1);
    await a.close();
    const b = new SqliteQuotaStore(path);
    expect(await b.admit("c1|originating|attempt", [{ key: key("s"), limits: { attempts: 1 } }], 2)).toMatchObject({ admitted: true, alreadyCounted: true });
    expect(await b.admit("c2|originating|attempt", [{ key: key("s"), limits: { attempts: 1 } }], 3)).toMatchObject({ admitted: false, counter: "attempts" });
    expect(await b.rowsOf("c1|originating|attempt")).toEqual([key("s")]);
    await b.close();
    const ro = new SqliteQuotaStore(path, { readOnly: true });
    expect((await ro.list()).map((r) => r.attempts)).toEqual([1]);
    await expect(ro.add("x", [key("s")], { seconds: 1 }, 4)).rejects.toThrow(/read-only/);
    await ro.close();
  });
});

describe("quota rules", () => {
  it("subjects of a call: subscriber, realm, source address, destination prefix, combined in the rule's order", () => {
    const s = callSubjects({
      caller: "sip:Alice@Example.COM;transport=udp",
      callee: "sip:+493012345@example.net",
      flows: [{ direction: "caller-to-callee", media: "audio", protocol: "udp", src: { address: "192.0.2.10", port: 4000 }, dst: { address: "192.0.2.20", port: 5000 }, codecs: [], bandwidthKbps: 80 }],
    });
    expect(s).toEqual({ subscriber: "Alice@example.com", realm: "example.com", source: "192.0.2.10", destination: "+493012345" });
    const [rule] = parseQuotaConfig({ rules: [{ name: "de", subject: ["realm", "destination"], destinationPrefixes: ["+49", "+4930"], period: "month", limits: { seconds: 60 } }] }).rules;
    expect(subjectKey(rule!, s)).toBe("realm=example.com,destination=+4930");
    expect(subjectKey(rule!, { ...s, destination: "+331234" })).toBeUndefined();
    const [only] = parseQuotaConfig({ rules: [{ name: "trunk", subject: "source", match: { source: ["192.0.2.99"] }, period: "day", limits: { attempts: 1 } }] }).rules;
    expect(subjectKey(only!, s)).toBeUndefined();
  });

  it("refuses a configuration with the rule and field at fault", () => {
    const bad: [unknown, RegExp][] = [
      [{ timeZone: "Mars/Olympus", rules: [] }, /timeZone: unknown IANA time zone 'Mars\/Olympus'/],
      [{ rules: [{ name: "a", subject: "planet", period: "day", limits: { attempts: 1 } }] }, /rules\[0\]\.subject: 'planet' is not one of/],
      [{ rules: [{ name: "a", subject: "realm", period: "fortnight", limits: { attempts: 1 } }] }, /rules\[0\]\.period must be one of day, week, month, year/],
      [{ rules: [{ name: "a", subject: "realm", period: "day", limits: { minutes: 1 } }] }, /rules\[0\]\.limits: 'minutes' is not one of/],
      [{ rules: [{ name: "a", subject: "realm", period: "day", limits: { attempts: -1 } }] }, /rules\[0\]\.limits\.attempts must be a non-negative integer/],
      [{ rules: [{ name: "a", subject: "realm", period: "day", limits: { attempts: 1 }, sipStatus: 200 }] }, /sipStatus must be a final error status/],
      [{ rules: [{ name: "a", subject: "realm", period: "day", limits: { attempts: 1 } }, { name: "a", subject: "realm", period: "day", limits: { attempts: 1 } }] }, /rules\[1\]\.name 'a' is used twice/],
    ];
    for (const [raw, message] of bad) {
      expect(() => parseQuotaConfig(raw)).toThrow(QuotaConfigError);
      expect(() => parseQuotaConfig(raw)).toThrow(message);
    }
  });
});
