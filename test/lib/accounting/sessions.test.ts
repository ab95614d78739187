// A policy server restarted mid-call: the journal of open accounting sessions gives back the sessions still
// open (a torn or damaged line ignored and counted; 10^4 mutated journals read without an exception), and the
// recorder resumes them with Interim-Updates numbered and timed as the first process's, its Start again as the
// same record, and one Stop.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AccountingRecorder } from "../../../lib/accounting/records.js";
import { openAccountingSessionJournal, parseSessionJournal, sessionOfRecord } from "../../../lib/accounting/sessions.js";
import { mutateBytes } from "../../support/byte-mutations.js";
import { seededRandom } from "../../support/seeded-random.js";

const dir = mkdtempSync(join(tmpdir(), "acct-sessions-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T = Date.parse("2026-06-10T08:00:00Z");
const attrs = (r: { attributes: [string, string | number][] }) => Object.fromEntries(r.attributes);
const policyRecorder = () => new AccountingRecorder({ nasIdentifier: "callgate-POL1", interimIntervalS: 10, startOnInstall: true, startFromUsage: true, describe: () => undefined });

describe("the journal of open accounting sessions", () => {
  it("keeps the sessions opened and not closed across a reopening, fsynced line by line; a torn last line is counted, not thrown", () => {
    const path = join(dir, "a.sessions");
    const first = openAccountingSessionJournal(path);
    void first.opened({ callId: "c1", side: "originating", startMs: T });
    // On disk when opened returns, before the event loop turns.
    expect(parseSessionJournal(readFileSync(path, "utf8")).open).toEqual([{ callId: "c1", side: "originating", startMs: T }]);
    void first.opened({ callId: "c2", side: "originating", startMs: T + 1000 });
    void first.opened({ callId: "c1", side: "originating", startMs: T + 5000 }); // already open: kept as it was
    void first.closed("c2;originating");
    void first.closed("c3;terminating"); // never opened: nothing
    // killed without close(), mid-write of a line
    appendFileSync(path, '{"open":"c4;originating","callId":"c4","si');
    const again = openAccountingSessionJournal(path);
    expect(again.open).toEqual([{ callId: "c1", side: "originating", startMs: T }]);
    expect(again.badLines).toBe(1);
    // reopening rewrote the file with only what is open
    expect(readFileSync(path, "utf8").trim().split("\n")).toHaveLength(1);
    again.close();
  });

  it("lines of the wrong shape are counted and ignored", () => {
    const text = ['{"open":"x;originating","callId":"x","side":"sideways","startMs":1}', '{"open":"y;terminating","callId":"y","side":"terminating","startMs":"soon"}', "[1,2]", "null", '{"closed":7}', '{"open":"z;terminating","callId":"z","side":"terminating","startMs":5}'].join("\n");
    expect(parseSessionJournal(text)).toEqual({ open: [{ callId: "z", side: "terminating", startMs: 5 }], badLines: 5 });
  });

  it("10^4 mutated journals: parsing never throws, and every session it gives back is well-formed", () => {
    const path = join(dir, "fuzz.sessions");
    const j = openAccountingSessionJournal(path);
    void j.opened({ callId: "c1@h", side: "originating", startMs: T });
    void j.opened({ callId: "c2@h", side: "terminating", startMs: T + 1 });
    void j.closed("c1@h;originating");
    j.close();
    const seed = readFileSync(path);
    const rnd = seededRandom(17);
    const jsonish = { interesting: (out: Buffer, pos: number, r: () => number) => void (out[pos] = [0x22, 0x7b, 0x7d, 0x0a, 0x3a, 0x5b][Math.floor(r() * 6)]!), fixLength: () => {} };
    let kept = 0;
    let bad = 0;
    for (let i = 0; i < 10_000; i++) {
      const { open, badLines } = parseSessionJournal(mutateBytes(seed, rnd, jsonish).toString("utf8"));
      for (const s of open) {
        expect(typeof s.callId).toBe("string");
        expect(["originating", "terminating"]).toContain(s.side);
        expect(Number.isFinite(s.startMs)).toBe(true);
      }
      kept += open.length;
      bad += badLines;
    }
    expect(kept).toBeGreaterThan(0);
    expect(bad).toBeGreaterThan(0);
  });

  it("a record's call and side come from its Acct-Session-Id, the last ';' splitting them; another shape gives none", () => {
    const rec = (sessionId: string) => ({ key: `${sessionId}|Start`, sessionId, status: "Start" as const, eventMs: 0, attributes: [] });
    expect(sessionOfRecord(rec("a;b@host;terminating"))).toEqual({ callId: "a;b@host", side: "terminating" });
    expect(sessionOfRecord(rec("ppp-17"))).toBeUndefined();
    expect(sessionOfRecord(rec(";originating"))).toBeUndefined();
  });
});

describe("AccountingRecorder.resume", () => {
  it("a restarted process goes on where the first left off: the same Start record, the next interims by number and time, one Stop", () => {
    const first = policyRecorder();
    const [start] = first.onEvent({ type: "decision", callId: "c1", role: "POL1", purpose: "Install", allow: true }, T);
    const beforeKill = first.tick(T + 25_000);
    expect(beforeKill.map((r) => r.key)).toEqual(["c1;originating|Interim-Update|1", "c1;originating|Interim-Update|2"]);
    // killed at T+25 s, started again at T+47 s: interims 3 and 4 fell in the gap and are not made up
    const second = policyRecorder();
    const resumed = second.resume("c1", "originating", T, T + 47_000);
    expect(resumed).toEqual([start]);
    expect(second.resume("c1", "originating", T, T + 48_000)).toEqual([]);
    expect(second.nextDeadline()).toBe(T + 50_000);
    const after = second.tick(T + 61_000);
    expect(after.map((r) => [r.key, r.eventMs, attrs(r)["Acct-Session-Time"]])).toEqual([
      ["c1;originating|Interim-Update|5", T + 50_000, 50],
      ["c1;originating|Interim-Update|6", T + 60_000, 60],
    ]);
    // the usage at the end: one Stop, no Start made again from it
    const end = second.onEvent({ type: "usage", callId: "c1", role: "POL1", durationS: 64, packets: 10, octets: 1000, reported: "local" }, T + 64_000);
    expect(end.map((r) => r.status)).toEqual(["Stop"]);
    expect(attrs(end[0]!)).toMatchObject({ "Acct-Session-Time": 64, "Acct-Terminate-Cause": "User-Request" });
    expect(second.nextDeadline()).toBeUndefined();
    expect(second.open).toBe(0);
  });
});
