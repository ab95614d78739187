// The capacity journal: a restart is a new ledger and a new adapter over the same file. Ports, time and credit in
// use survive it; a journal cut short mid-line loses only the unconfirmed event; the file is rewritten short at each
// start; the same call asked again after a restart is not counted twice, and its end frees its port and is
// accounted to both sides. Property: any sequence of ledger events and its snapshot replay to the same state.
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DefaultPolicyAdapter, type AaaQuery, type UsageObservation } from "../../../lib/adapters/policy-adapter.js";
import type { AccountingRecord } from "../../../lib/accounting/records.js";
import { CapacityLedger, type JournalEvent, type RentedCapacity } from "../../../lib/auth/capacity-ledger.js";
import { CapacityJournal, journalEventOf, parseCapacityJournal } from "../../../lib/auth/capacity-journal.js";
import { durableRealmCapacityPolicy, type CallRealms } from "../../../lib/auth/realm-config.js";
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
  it("a restarted ledger over the same file holds the same ports, period seconds and credit; the file is rewritten short", () => {
    const path = join(scratch(), "capacity.jsonl");
    const first = new CapacityLedger(CAPACITY);
    const { journal, replay } = CapacityJournal.open(path, first, T);
    expect(replay).toEqual({ replayed: 0, badLines: 0 });
    for (let i = 0; i < 40; i++) {
      const start = first.start(T + i * 1000, "b", `s${i}`, `user${i}@b.example`)!;
      journal.write(start);
      if (i < 38) journal.write(first.stop(T + i * 1000 + 500, "b", `s${i}`, 61)!);
    }
    // The process dies: no close, nothing but what was fsynced.
    const second = new CapacityLedger(CAPACITY);
    const reopened = CapacityJournal.open(path, second, T + 60_000);
    expect(reopened.replay).toEqual({ replayed: 78, badLines: 0 });
    expect(stateOf(second, T + 60_000)).toEqual(stateOf(first, T + 60_000));
    expect(second.usage(T + 60_000, "b")).toEqual({ sessions: 2, reserved: 0, secondsThisPeriod: 38 * 61, creditLeft: 100 - 38 * 2 });
    expect(second.openSessions("b")).toEqual([
      { session: "s38", startMs: T + 38_000, subscriber: "user38@b.example" },
      { session: "s39", startMs: T + 39_000, subscriber: "user39@b.example" },
    ]);
    // Rewritten as its snapshot: one carry line and the two open sessions.
    const lines = readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as JournalEvent);
    expect(lines.map((l) => l.kind)).toEqual(["carry", "start", "start"]);
    // A Stop sent again after the restart is not counted twice.
    expect(second.stop(T + 61_000, "b", "s0", 61)).toBeUndefined();
    reopened.journal.close();
    journal.close();
  });

  it("a line cut short by a crash is counted and left out; the events before it stand", () => {
    const path = join(scratch(), "capacity.jsonl");
    const l = new CapacityLedger(CAPACITY);
    const { journal } = CapacityJournal.open(path, l, T);
    journal.write(l.start(T, "c", "x1")!);
    journal.close();
    appendFileSync(path, '{"t":1767614400000,"kind":"stop","provider":"c","sess');
    const again = new CapacityLedger(CAPACITY);
    const { journal: j2, replay } = CapacityJournal.open(path, again, T + 1000);
    expect(replay).toEqual({ replayed: 1, badLines: 1 });
    expect(again.admit(T + 1000, "c")).toEqual({ ok: false, cause: "ports" });
    j2.close();
  });

  it("journal lines round-trip; anything else is refused line by line", () => {
    const event = fc.oneof(
      fc.record({ t: fc.nat(), kind: fc.constant("start" as const), provider: fc.string({ minLength: 1 }), session: fc.string({ minLength: 1 }) }),
      fc.record({ t: fc.nat(), kind: fc.constant("start" as const), provider: fc.string({ minLength: 1 }), session: fc.string({ minLength: 1 }), subscriber: fc.string({ minLength: 1 }) }),
      fc.record({ t: fc.nat(), kind: fc.constant("stop" as const), provider: fc.string({ minLength: 1 }), session: fc.string({ minLength: 1 }), seconds: fc.nat() }),
      fc.record({ t: fc.nat(), kind: fc.constant("carry" as const), provider: fc.string({ minLength: 1 }), seconds: fc.nat(), charged: fc.nat(), stopped: fc.array(fc.string({ minLength: 1 }), { minLength: 1 }) }),
    );
    fc.assert(
      fc.property(fc.array(event), (events) => {
        expect(parseCapacityJournal(events.map((e) => `${JSON.stringify(e)}\n`).join(""))).toEqual({ events, badLines: 0 });
      }),
    );
    for (const bad of [{ t: -1, kind: "start", provider: "b", session: "s" }, { t: 1, kind: "start", provider: "", session: "s" }, { t: 1, kind: "stop", provider: "b", session: "s" }, { t: 1, kind: "carry", provider: "b", seconds: 1, charged: 1, stopped: [1] }, { t: 1, kind: "record", provider: "b" }, { t: 1, kind: "start", provider: "b", session: "s", subscriber: 7 }])
      expect(journalEventOf(bad)).toBeUndefined();
  });

  it("fuzz: 10^5 damaged journals never throw, and every event read back is well formed", () => {
    const l = new CapacityLedger(CAPACITY);
    const seedEvents: JournalEvent[] = [l.start(T, "b", "s1", "bob@b.example")!, l.start(T, "b", "s2")!, l.stop(T + 5000, "b", "s1", 5)!, ...l.snapshot(T + 6000)];
    const seed = Buffer.from(seedEvents.map((e) => `${JSON.stringify(e)}\n`).join(""));
    const jsonish = { interesting: (out: Buffer, pos: number, r: () => number) => void (out[pos] = [0x22, 0x7b, 0x7d, 0x0a, 0x3a, 0x5b, 0x2d][Math.floor(r() * 7)]!), fixLength: () => {} };
    const rnd = seededRandom(fuzzSeed());
    let events = 0;
    for (let i = 0; i < 100_000; i++) {
      const parsed = parseCapacityJournal(mutateBytes(seed, rnd, jsonish).toString("utf8"));
      for (const e of parsed.events) {
        expect(journalEventOf(JSON.parse(JSON.stringify(e)) as Record<string, unknown>)).toEqual(e);
        new CapacityLedger(CAPACITY).apply(e);
      }
      events += parsed.events.length;
    }
    expect(events).toBeGreaterThan(0);
  });

  it("property: a ledger rebuilt from its snapshot decides as the one that lived through the events", () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant("start" as const), provider: fc.constantFrom("b", "c"), session: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ kind: fc.constant("stop" as const), provider: fc.constantFrom("b", "c"), session: fc.integer({ min: 0, max: 9 }), seconds: fc.integer({ min: 0, max: 4000 }) }),
      fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 40_000_000 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const lived = new CapacityLedger(CAPACITY);
        const journal: JournalEvent[] = [];
        let now = T;
        for (const s of steps) {
          if (s.kind === "wait") now += s.ms;
          else if (s.kind === "start") {
            const e = lived.start(now, s.provider, `s${s.session}`);
            if (e) journal.push(e);
          } else {
            const e = lived.stop(now, s.provider, `s${s.session}`, s.seconds);
            if (e) journal.push(e);
          }
        }
        const replayed = new CapacityLedger(CAPACITY);
        for (const e of journal) replayed.apply(e);
        const fromSnapshot = new CapacityLedger(CAPACITY);
        for (const e of replayed.snapshot(now)) fromSnapshot.apply(e);
        expect(stateOf(replayed, now)).toEqual(stateOf(lived, now));
        expect(stateOf(fromSnapshot, now)).toEqual(stateOf(lived, now));
        for (const p of ["b", "c"]) expect(fromSnapshot.admit(now, p)).toEqual(lived.admit(now, p));
      }),
    );
  });
});

describe("durableRealmCapacityPolicy (a policy server killed and started again)", () => {
  const REALMS: CallRealms = { master: ["master.example"], clients: [{ name: "isp-b", realms: ["isp-b.example"], virtualIdentity: { user: "isp-b-virtual" }, capacity: { ports: 2, credit: 10, pricePerMinute: 1 } }] };
  const q = (callId: string, caller: string, now = T): AaaQuery => ({ callId, side: "originating", caller, callee: "sip:bob@example.net", flows: [], now });
  const usage = (callId: string, durationS: number, endMs: number): UsageObservation => ({ callId, side: "originating", startMs: endMs - durationS * 1000, endMs, durationS, packets: 0, octets: 0 });

  function start(path: string, now: number) {
    const records: Record<string, AccountingRecord[]> = { master: [], "isp-b": [] };
    const durable = durableRealmCapacityPolicy(new DefaultPolicyAdapter(), REALMS, path, { accounting: (side) => ({ submit: (r) => records[side]!.push(...r) }), now });
    return { ...durable, records };
  }
  const users = (records: AccountingRecord[]) => records.map((r) => `${r.status} ${r.sessionId} ${String(r.attributes.find(([n]) => n === "User-Name")?.[1])}`);

  it("the two calls admitted before the restart still hold both ports; asked again they count once; their ends free the ports and are accounted", () => {
    const path = join(scratch(), "realms.jsonl");
    const before = start(path, T);
    expect(before.policy.decideAaa(q("b1", "sip:bob@isp-b.example"))).toMatchObject({ allow: true });
    expect(before.policy.decideAaa(q("b2", "sip:carol@isp-b.example"))).toMatchObject({ allow: true });
    expect(before.policy.decideAaa(q("b3", "sip:dave@isp-b.example"))).toMatchObject({ allow: false, sipStatus: 503 });
    // Killed: not closed.

    const after = start(path, T + 5000);
    expect(after.replay).toEqual({ replayed: 2, badLines: 0 });
    expect(after.policy.decideAaa(q("b4", "sip:dave@isp-b.example", T + 6000))).toEqual({ allow: false, sipStatus: 503, reason: "capacity of isp-b: ports" });
    // b1's PEP sends its REQ AAA again (resynchronisation): admitted, not a third session.
    expect(after.policy.decideAaa(q("b1", "sip:bob@isp-b.example", T + 6000))).toMatchObject({ allow: true });
    expect(after.policy.ledger.usage(T + 6000, "isp-b")).toMatchObject({ sessions: 2, reserved: 0 });
    // b1 ends (its usage reaches the restarted server): its port is free, 2 minutes charged, Stop to both sides.
    after.policy.observeUsage(usage("b1", 90, T + 90_000));
    expect(users(after.records.master)).toEqual(["Stop b1 isp-b-virtual"]);
    expect(users(after.records["isp-b"]!)).toEqual(["Stop b1 bob@isp-b.example"]);
    expect(after.policy.decideAaa(q("b5", "sip:erin@isp-b.example", T + 91_000))).toMatchObject({ allow: true, timeLimitS: 480 });
    after.close();

    // A third start: b2 and b5 hold the ports, 2 of 10 credit spent.
    const third = start(path, T + 100_000);
    expect(third.policy.ledger.usage(T + 100_000, "isp-b")).toEqual({ sessions: 2, reserved: 0, secondsThisPeriod: 90, creditLeft: 8 });
    expect(third.policy.ledger.openSessions("isp-b").map((s) => s.session)).toEqual(["b2", "b5"]);
    third.close();
  });

  it("endOpenCalls (a lab whose calls died with it): the calls the journal held are closed uncharged; time and credit spent carry over", () => {
    const path = join(scratch(), "realms.jsonl");
    const before = start(path, T);
    before.policy.decideAaa(q("b1", "sip:bob@isp-b.example"));
    before.policy.observeUsage(usage("b1", 120, T + 120_000));
    before.policy.decideAaa(q("b2", "sip:carol@isp-b.example", T + 121_000));
    before.policy.decideAaa(q("b3", "sip:dave@isp-b.example", T + 121_000));
    const records: AccountingRecord[] = [];
    const after = durableRealmCapacityPolicy(new DefaultPolicyAdapter(), REALMS, path, { accounting: (side) => (side === "isp-b" ? { submit: (r) => records.push(...r) } : undefined), now: T + 200_000, endOpenCalls: true });
    expect(after.ended).toBe(2);
    expect(after.policy.ledger.usage(T + 200_000, "isp-b")).toEqual({ sessions: 0, reserved: 0, secondsThisPeriod: 120, creditLeft: 8 });
    expect(users(records)).toEqual(["Stop b2 carol@isp-b.example", "Stop b3 dave@isp-b.example"]);
    expect(records.map((r) => r.attributes.find(([n]) => n === "Acct-Session-Time")?.[1])).toEqual([0, 0]);
    after.close();
    // Their stops are in the journal: the next start finds nothing open.
    const next = start(path, T + 300_000);
    expect(next.policy.ledger.openSessions("isp-b")).toEqual([]);
    next.close();
  });

  it("a call's start is in the file when decideAaa returns (before DEC AAA can go out), its stop when observeUsage returns", () => {
    const path = join(scratch(), "realms.jsonl");
    writeFileSync(path, "");
    const server = start(path, T);
    const lines = () => parseCapacityJournal(readFileSync(path, "utf8")).events.map((e) => `${e.kind} ${"session" in e ? e.session : ""}`);
    server.policy.decideAaa(q("b1", "sip:bob@isp-b.example"));
    expect(lines()).toEqual(["start b1"]);
    server.policy.decideAaa(q("m1", "sip:alice@master.example"));
    expect(lines()).toEqual(["start b1"]);
    server.policy.observeUsage(usage("b1", 10, T + 10_000));
    expect(lines()).toEqual(["start b1", "stop b1"]);
    server.close();
  });
});
