// The capacity journal: a restart is a new ledger and a new adapter over the same file. Ports, time and credit in
// use survive it; a journal cut short mid-line loses only the unconfirmed event; a call's verdict waits for its
// start to be on disk; the same call asked again after a restart is not counted twice, and its end frees its port
// and is accounted to both sides. Property: any sequence of starts, stops and waits, journaled, rebuilds a ledger
// that decides as the one that lived through it.
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DefaultPolicyAdapter, type AaaQuery, type AaaVerdict, type UsageObservation } from "../../../lib/adapters/policy-adapter.js";
import type { AccountingRecord } from "../../../lib/accounting/records.js";
import { CapacityLedger, type RentedCapacity } from "../../../lib/auth/capacity-ledger.js";
import { CAPACITY_JOURNAL_FORMAT, CapacityJournal, readCapacityJournal, type CapacityRecord } from "../../../lib/auth/capacity-journal.js";
import { durableRealmCapacityPolicy, realmCapacityPolicy, type CallRealms } from "../../../lib/auth/realm-config.js";
import { runCalls } from "../../../lib/flow/run-calls.js";
import { loadCallRealmsFile } from "../../../lib/cli/realms-file.js";
import { mutateBytes } from "../../support/byte-mutations.js";
import { fuzzSeed, seededRandom } from "../../support/seeded-random.js";

const T = Date.UTC(2026, 0, 5, 12);
const CAPACITY: Record<string, RentedCapacity> = { b: { ports: 3, secondsPerPeriod: 3600, periodSeconds: 86_400, credit: 100, pricePerMinute: 1 }, c: { ports: 1 } };
const scratch = () => mkdtempSync(join(tmpdir(), "callgate-capacity-journal-"));

/** Everything a ledger decides on, per provider, at `now`. */
function stateOf(l: CapacityLedger, now: number) {
  return Object.fromEntries(Object.keys(CAPACITY).map((p) => [p, { usage: l.usage(now, p), open: l.openSessions(p) }]));
}

describe("CapacityJournal", () => {
  it("a restarted ledger over the same file holds the same ports, period seconds and credit; each note resolves once on disk", async () => {
    const path = join(scratch(), "capacity.jsonl");
    const first = new CapacityLedger(CAPACITY);
    const { journal, replay } = CapacityJournal.open(path, first);
    expect(replay).toEqual({ replayed: 0, badLines: 0 });
    const notes: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      notes.push(journal.write(first.start(T + i * 1000, "b", `s${i}`, `user${i}@b.example`)!));
      if (i < 38) notes.push(journal.write(first.stop(T + i * 1000 + 500, "b", `s${i}`, 61)!));
    }
    await Promise.all(notes);
    // On disk once resolved: the process dies now, unclosed.
    const second = new CapacityLedger(CAPACITY);
    const reopened = CapacityJournal.open(path, second);
    // Two sessions still open and b's use so far.
    expect(reopened.replay).toEqual({ replayed: 3, badLines: 0 });
    expect(stateOf(second, T + 60_000)).toEqual(stateOf(first, T + 60_000));
    expect(second.usage(T + 60_000, "b")).toEqual({ sessions: 2, reserved: 0, secondsThisPeriod: 38 * 61, creditLeft: 100 - 38 * 2 });
    expect(second.openSessions("b")).toEqual([
      { session: "s38", startMs: T + 38_000, subscriber: "user38@b.example" },
      { session: "s39", startMs: T + 39_000, subscriber: "user39@b.example" },
    ]);
    // Rewritten at open with what is still in use alone.
    expect(readFileSync(path, "utf8").trim().split("\n")).toHaveLength(3);
    reopened.journal.close();
    journal.close();
  });

  it("a line cut short by a crash is counted and left out; the events before it stand", async () => {
    const path = join(scratch(), "capacity.jsonl");
    const l = new CapacityLedger(CAPACITY);
    const { journal } = CapacityJournal.open(path, l);
    await journal.write(l.start(T, "c", "x1")!);
    journal.close();
    appendFileSync(path, '{"op":"close","key":"session c x');
    const again = new CapacityLedger(CAPACITY);
    const { journal: j2, replay } = CapacityJournal.open(path, again);
    expect(replay).toEqual({ replayed: 1, badLines: 1 });
    expect(again.admit(T + 1000, "c")).toEqual({ ok: false, cause: "ports" });
    j2.close();
  });

  it("records round-trip through their lines; lines of no known shape are refused one by one", () => {
    const provider = fc.string({ minLength: 1 });
    const record: fc.Arbitrary<CapacityRecord> = fc.oneof(
      fc.record({ kind: fc.constant("session" as const), provider, session: fc.string({ minLength: 1 }), startMs: fc.nat() }),
      fc.record({ kind: fc.constant("session" as const), provider, session: fc.string({ minLength: 1 }), startMs: fc.nat(), subscriber: fc.string({ minLength: 1 }) }),
      fc.record({ kind: fc.constant("used" as const), provider, t: fc.nat(), seconds: fc.nat(), charged: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.uniqueArray(record, { selector: (r) => CAPACITY_JOURNAL_FORMAT.keyOf(r) }), (records) => {
        const text = records.map((r) => `${JSON.stringify(CAPACITY_JOURNAL_FORMAT.openLine(r))}\n`).join("");
        expect(readCapacityJournal(text)).toEqual({ records, badLines: 0 });
      }),
    );
    for (const bad of [
      { op: "open", kind: "session", provider: "b", session: "s", startMs: -1 },
      { op: "open", kind: "session", provider: "", session: "s", startMs: 1 },
      { op: "open", kind: "session", provider: "b", session: "s", startMs: 1, subscriber: 7 },
      { op: "open", kind: "used", provider: "b", t: 1, seconds: 1 },
      { op: "used", key: "used b", t: 1, seconds: "1", charged: 1 },
      { op: "close" },
      { op: "record", provider: "b" },
    ])
      expect(readCapacityJournal(`${JSON.stringify(bad)}\n`)).toEqual({ records: [], badLines: 1 });
  });

  it("fuzz: 10^5 damaged journals never throw, and every record read back is well formed and rebuilds a ledger", async () => {
    const path = join(scratch(), "seed.jsonl");
    const l = new CapacityLedger(CAPACITY);
    const { journal } = CapacityJournal.open(path, l);
    await Promise.all([journal.write(l.start(T, "b", "s1", "bob@b.example")!), journal.write(l.start(T, "b", "s2")!), journal.write(l.stop(T + 5000, "b", "s1", 5)!), journal.write(l.start(T, "c", "s3")!)]);
    journal.close();
    const seed = readFileSync(path);
    const jsonish = { interesting: (out: Buffer, pos: number, r: () => number) => void (out[pos] = [0x22, 0x7b, 0x7d, 0x0a, 0x3a, 0x5b, 0x2d][Math.floor(r() * 7)]!), fixLength: () => {} };
    const rnd = seededRandom(fuzzSeed());
    let records = 0;
    for (let i = 0; i < 100_000; i++) {
      const read = readCapacityJournal(mutateBytes(seed, rnd, jsonish).toString("utf8"));
      for (const r of read.records) expect(CAPACITY_JOURNAL_FORMAT.read(JSON.parse(JSON.stringify(CAPACITY_JOURNAL_FORMAT.openLine(r))) as Record<string, unknown>)).toEqual({ open: r });
      records += read.records.length;
    }
    expect(records).toBeGreaterThan(0);
  });

  it("property: a ledger rebuilt from its journal decides as the one that lived through the events", async () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant("start" as const), provider: fc.constantFrom("b", "c"), session: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ kind: fc.constant("stop" as const), provider: fc.constantFrom("b", "c"), session: fc.integer({ min: 0, max: 9 }), seconds: fc.integer({ min: 0, max: 4000 }) }),
      fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 40_000_000 }) }),
    );
    const dir = scratch();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
        const path = join(dir, `p${run++}.jsonl`);
        const lived = new CapacityLedger(CAPACITY);
        const { journal } = CapacityJournal.open(path, lived);
        const notes: Promise<void>[] = [];
        let now = T;
        for (const s of steps) {
          if (s.kind === "wait") now += s.ms;
          else {
            const e = s.kind === "start" ? lived.start(now, s.provider, `s${s.session}`) : lived.stop(now, s.provider, `s${s.session}`, s.seconds);
            if (e) notes.push(journal.write(e));
          }
        }
        await Promise.all(notes);
        const rebuilt = new CapacityLedger(CAPACITY);
        CapacityJournal.open(path, rebuilt).journal.close();
        journal.close();
        expect(stateOf(rebuilt, now)).toEqual(stateOf(lived, now));
        for (const p of ["b", "c"]) expect(rebuilt.admit(now, p)).toEqual(lived.admit(now, p));
      }),
      { numRuns: 60 },
    );
  });
});

describe("durableRealmCapacityPolicy (a policy server killed and started again)", () => {
  const REALMS: CallRealms = { master: ["master.example"], clients: [{ name: "isp-b", realms: ["isp-b.example"], virtualIdentity: { user: "isp-b-virtual" }, capacity: { ports: 2, credit: 10, pricePerMinute: 1 } }] };
  const q = (callId: string, caller: string, now = T): AaaQuery => ({ callId, side: "originating", caller, callee: "sip:bob@example.net", flows: [], now });
  const usage = (callId: string, durationS: number, endMs: number): UsageObservation => ({ callId, side: "originating", startMs: endMs - durationS * 1000, endMs, durationS, packets: 0, octets: 0 });

  function start(path: string, now: number, endOpenCalls = false) {
    const records: Record<string, AccountingRecord[]> = { master: [], "isp-b": [] };
    const durable = durableRealmCapacityPolicy(new DefaultPolicyAdapter(), REALMS, path, { accounting: (side) => ({ submit: (r) => records[side]!.push(...r) }), now, endOpenCalls });
    const decide = (query: AaaQuery): Promise<AaaVerdict> => Promise.resolve(durable.policy.decideAaa(query) as AaaVerdict | Promise<AaaVerdict>);
    const observe = (u: UsageObservation): Promise<void> => Promise.resolve(durable.policy.observeUsage(u));
    return { ...durable, records, decide, observe };
  }
  const users = (records: AccountingRecord[]) => records.map((r) => `${r.status} ${r.sessionId} ${String(r.attributes.find(([n]) => n === "User-Name")?.[1])}`);

  it("the two calls admitted before the restart still hold both ports; asked again they count once; their ends free the ports and are accounted", async () => {
    const path = join(scratch(), "realms.jsonl");
    const before = start(path, T);
    expect(await before.decide(q("b1", "sip:bob@isp-b.example"))).toMatchObject({ allow: true });
    expect(await before.decide(q("b2", "sip:carol@isp-b.example"))).toMatchObject({ allow: true });
    expect(await before.decide(q("b3", "sip:dave@isp-b.example"))).toMatchObject({ allow: false, sipStatus: 503 });
    // Killed: not closed.

    const after = start(path, T + 5000);
    expect(after.replay).toEqual({ replayed: 2, badLines: 0 });
    expect(await after.decide(q("b4", "sip:dave@isp-b.example", T + 6000))).toEqual({ allow: false, sipStatus: 503, reason: "capacity of isp-b: ports" });
    // b1's PEP sends its REQ AAA again (resynchronisation): admitted, not a third session.
    expect(await after.decide(q("b1", "sip:bob@isp-b.example", T + 6000))).toMatchObject({ allow: true });
    expect(after.policy.ledger.usage(T + 6000, "isp-b")).toMatchObject({ sessions: 2, reserved: 0 });
    // b1 ends (its usage reaches the restarted server): its port is free, 2 minutes charged, Stop to both sides.
    await after.observe(usage("b1", 90, T + 90_000));
    expect(users(after.records.master!)).toEqual(["Stop b1 isp-b-virtual"]);
    expect(users(after.records["isp-b"]!)).toEqual(["Stop b1 bob@isp-b.example"]);
    expect(await after.decide(q("b5", "sip:erin@isp-b.example", T + 91_000))).toMatchObject({ allow: true, timeLimitS: 480 });
    after.close();

    // A third start: b2 and b5 hold the ports, 2 of 10 credit spent.
    const third = start(path, T + 100_000);
    expect(third.policy.ledger.usage(T + 100_000, "isp-b")).toEqual({ sessions: 2, reserved: 0, secondsThisPeriod: 90, creditLeft: 8 });
    expect(third.policy.ledger.openSessions("isp-b").map((s) => s.session)).toEqual(["b2", "b5"]);
    third.close();
  });

  it("endOpenCalls (a lab whose calls died with it): the calls the journal held are closed uncharged; time and credit spent carry over", async () => {
    const path = join(scratch(), "realms.jsonl");
    const before = start(path, T);
    await before.decide(q("b1", "sip:bob@isp-b.example"));
    await before.observe(usage("b1", 120, T + 120_000));
    await before.decide(q("b2", "sip:carol@isp-b.example", T + 121_000));
    await before.decide(q("b3", "sip:dave@isp-b.example", T + 121_000));
    const after = start(path, T + 200_000, true);
    expect(after.ended).toBe(2);
    expect(after.policy.ledger.usage(T + 200_000, "isp-b")).toEqual({ sessions: 0, reserved: 0, secondsThisPeriod: 120, creditLeft: 8 });
    expect(users(after.records["isp-b"]!)).toEqual(["Stop b2 carol@isp-b.example", "Stop b3 dave@isp-b.example"]);
    expect(after.records["isp-b"]!.map((r) => r.attributes.find(([n]) => n === "Acct-Session-Time")?.[1])).toEqual([0, 0]);
    after.close();
    // Their stops are in the journal: the next start finds nothing open.
    const next = start(path, T + 300_000);
    expect(next.policy.ledger.openSessions("isp-b")).toEqual([]);
    next.close();
  });

  it("maxCallSeconds: a call inherited from the journal whose end never comes frees its port that long after its start", async () => {
    const path = join(scratch(), "realms.jsonl");
    // Ports alone (an expired call is charged its age: here, 10 minutes each).
    const realms: CallRealms = { ...REALMS, clients: [{ ...REALMS.clients[0]!, capacity: { ports: 2 } }], maxCallSeconds: 600 };
    const first = durableRealmCapacityPolicy(new DefaultPolicyAdapter(), realms, path, { now: T });
    await first.policy.decideAaa(q("b1", "sip:bob@isp-b.example"));
    await first.policy.decideAaa(q("b2", "sip:carol@isp-b.example"));
    // Restarted; neither call's end ever reaches it (say its SIP1 died with them).
    const after = durableRealmCapacityPolicy(new DefaultPolicyAdapter(), realms, path, { now: T + 60_000 });
    expect(await after.policy.decideAaa(q("b3", "sip:dave@isp-b.example", T + 600_000))).toMatchObject({ allow: false, sipStatus: 503 });
    expect(await after.policy.decideAaa(q("b4", "sip:dave@isp-b.example", T + 600_001))).toMatchObject({ allow: true });
    expect(after.policy.ledger.usage(T + 600_001, "isp-b")).toMatchObject({ sessions: 1, secondsThisPeriod: 1200 });
    after.close();
  });

  it("a call's verdict comes once its start is on disk, its usage once its stop is; a journal that cannot be written refuses the call 503 and frees the port", async () => {
    const path = join(scratch(), "realms.jsonl");
    const server = start(path, T);
    const onDisk = () => readCapacityJournal(readFileSync(path, "utf8")).records.map((r) => (r.kind === "session" ? `session ${r.session}` : `used ${r.seconds}`));
    const verdict = server.policy.decideAaa(q("b1", "sip:bob@isp-b.example"));
    expect(verdict).toBeInstanceOf(Promise);
    expect(await verdict).toMatchObject({ allow: true });
    expect(onDisk()).toEqual(["session b1"]);
    // A master subscriber is not the ledger's: decided at once, nothing written.
    expect(server.policy.decideAaa(q("m1", "sip:alice@master.example"))).toEqual({ allow: true });
    await server.observe(usage("b1", 10, T + 10_000));
    expect(onDisk()).toEqual(["used 10"]);
    server.close();
    // Closed (as a failed write leaves it): the next call is refused, its port not taken, no Start accounted.
    const refused = await server.decide(q("b2", "sip:carol@isp-b.example", T + 20_000));
    expect(refused).toEqual({ allow: false, sipStatus: 503, reason: "capacity of isp-b: journal not written" });
    expect(server.policy.ledger.usage(T + 20_000, "isp-b")).toMatchObject({ sessions: 0, reserved: 0 });
    expect(users(server.records["isp-b"]!)).toEqual(["Start b1 bob@isp-b.example", "Stop b1 bob@isp-b.example"]);
  });
});

describe("the lab's realms file: journal", () => {
  const ISP_B = "clients: [{ name: isp-b, realms: [isp-b.example], virtualIdentity: { user: isp-b-virtual }, capacity: { ports: 2 } }]";

  it("names the journal relative to the file; without it the ledger is in memory", () => {
    const dir = scratch();
    writeFileSync(join(dir, "realms.yaml"), `journal: state/capacity.jsonl\nmaster: [master.example]\n${ISP_B}\n`);
    expect(loadCallRealmsFile(join(dir, "realms.yaml")).journal).toBe(join(dir, "state", "capacity.jsonl"));
    writeFileSync(join(dir, "plain.yaml"), `master: [master.example]\n${ISP_B}\n`);
    expect(loadCallRealmsFile(join(dir, "plain.yaml")).journal).toBeUndefined();
  });

  it("refuses an empty journal name or an unknown key, at its line", () => {
    const dir = scratch();
    writeFileSync(join(dir, "empty.yaml"), `master: [master.example]\njournal: ""\n${ISP_B}\n`);
    expect(() => loadCallRealmsFile(join(dir, "empty.yaml"))).toThrow(/empty\.yaml:2:\d+: journal/);
    writeFileSync(join(dir, "typo.yaml"), `master: [master.example]\n${ISP_B}\njornal: x.jsonl\n`);
    expect(() => loadCallRealmsFile(join(dir, "typo.yaml"))).toThrow(/typo\.yaml:3:\d+: jornal/);
  });
});

describe("a call whose capacity was granted but which never had usage (callEnded)", () => {
  const REALMS: CallRealms = { master: ["master.example"], clients: [{ name: "isp-b", realms: ["isp-b.example"], virtualIdentity: { user: "isp-b-virtual" }, capacity: { ports: 1 } }] };

  it.each(["memory", "net"] as const)("refused by the clearinghouse after the ledger admitted it, it gives its port back: the next call is not refused for capacity (%s driver)", async (driver) => {
    const records: AccountingRecord[] = [];
    const pol1 = realmCapacityPolicy(new DefaultPolicyAdapter(), REALMS, (side) => (side === "isp-b" ? { submit: (r) => records.push(...r) } : undefined));
    const result = await runCalls({
      driver,
      calls: [
        { id: "c0", caller: "sip:bob@isp-b.example", callee: "sip:carol@example.net", startMs: 100, answerDelayMs: 100, durationMs: 500, hangUp: "caller" },
        { id: "c1", caller: "sip:dave@isp-b.example", callee: "sip:carol@example.net", startMs: 2000, answerDelayMs: 100, durationMs: 500, hangUp: "caller" },
      ],
      policy: { originating: pol1 },
      faults: [{ kind: "deny", role: "CH" }],
    });
    // Both refused by the clearinghouse (403), the second not for capacity (503): the one port was free again.
    expect(result.calls.map((c) => c.finalStatusAtCaller)).toEqual([403, 403]);
    expect(result.records.filter((r) => r.from === "POL1" && r.msg === "DEC AAA")).toHaveLength(2);
    expect(result.records.some((r) => /capacity of isp-b/.test(r.bytes.toString("latin1")))).toBe(false);
    expect(pol1.ledger.usage(10_000, "isp-b")).toMatchObject({ sessions: 0, reserved: 0 });
    const c0 = result.calls[0]!.callId;
    expect(records.filter((r) => r.sessionId === c0).map((r) => `${r.status} ${String(r.attributes.find(([n]) => n === "Acct-Session-Time")?.[1] ?? "")}`)).toEqual(["Start ", "Stop 0"]);
  }, 60_000);
});
