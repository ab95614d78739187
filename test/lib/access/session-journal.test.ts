// The concentrator's session journal: records on disk before their promise resolves, stale sessions found again
// after a run that never closed them, a line cut by a kill ignored.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openSessionJournal } from "../../../lib/access/session-journal.js";

const dir = mkdtempSync(join(tmpdir(), "journal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const session = (n: number) => ({ key: `k${n}`, line: n, sessionId: n, serverMac: "02:00:00:00:00:01", user: `u${n}`, startedAt: 1000 + n });

describe("the concentrator's session journal", () => {
  it("groups the records of one turn into one flush, and a reopen returns the sessions left open", async () => {
    const path = join(dir, "a.journal");
    const journal = openSessionJournal(path);
    expect(journal.open).toEqual([]);
    await Promise.all([1, 2, 3].map((n) => journal.opened(session(n))));
    expect(journal.flushes).toBe(1);
    // On disk once the promise resolved, before any close.
    expect(readFileSync(path, "utf8").trim().split("\n")).toHaveLength(3);
    await journal.closed("k2");
    // The process dies here (no close()), in the middle of writing a line.
    appendFileSync(path, '{"op":"open","key":"k4","li');
    const again = openSessionJournal(path);
    expect(again.open).toEqual([session(1), session(3)]);
    expect(again.badLines).toBe(1);
    // The rewritten file holds exactly the stale sessions until they are closed.
    expect(readFileSync(path, "utf8").trim().split("\n")).toHaveLength(2);
    await again.closed("k1");
    await again.closed("k3");
    again.close();
    expect(openSessionJournal(path).open).toEqual([]);
  });

  it("keeps the last interim counts of a session left open, for its Stop after the restart", async () => {
    const path = join(dir, "b.journal");
    const journal = openSessionJournal(path);
    await journal.opened(session(1));
    await journal.updated("k1", { usage: { octetsIn: 10, octetsOut: 20, packetsIn: 1, packetsOut: 2 } });
    await journal.updated("k1", { usage: { octetsIn: 15, octetsOut: 30, packetsIn: 2, packetsOut: 3 } });
    const again = openSessionJournal(path);
    expect(again.open).toEqual([{ ...session(1), usage: { octetsIn: 15, octetsOut: 30, packetsIn: 2, packetsOut: 3 } }]);
    // The rewrite keeps them.
    again.close();
    expect(openSessionJournal(path).open[0]?.usage?.octetsIn).toBe(15);
  });

  it("a session opened again once its user is known replaces the first record", async () => {
    const path = join(dir, "c.journal");
    const journal = openSessionJournal(path);
    await journal.opened({ ...session(1), user: "" });
    await journal.opened(session(1));
    journal.close();
    expect(openSessionJournal(path).open).toEqual([session(1)]);
  });

  it("reads a file of the format as written before (usage lines, an address, a cut line) and counts lines of no known shape", () => {
    const path = join(dir, "d.journal");
    writeFileSync(
      path,
      [
        '{"op":"open","key":"a1-1-7","line":1,"sessionId":7,"serverMac":"02:00:00:00:00:01","user":"","startedAt":1000}',
        '{"op":"open","key":"a1-2-10.0.0.2","line":2,"sessionId":0,"serverMac":"02:00:00:00:00:01","user":"bob","address":"10.0.0.2","startedAt":1001}',
        '{"op":"open","key":"a1-1-7","line":1,"sessionId":7,"serverMac":"02:00:00:00:00:01","user":"alice","startedAt":1000}',
        '{"op":"usage","key":"a1-1-7","usage":{"octetsIn":5,"octetsOut":6,"packetsIn":1,"packetsOut":2}}',
        '{"op":"usage","key":"a1-1-7","usage":{"octetsIn":-5,"octetsOut":6,"packetsIn":1,"packetsOut":2}}',
        '{"op":"open","key":"a1-3-9","line":"three","sessionId":9,"serverMac":"02:00:00:00:00:01","user":"","startedAt":1}',
        '{"op":"shut","key":"a1-2-10.0.0.2"}',
        '{"op":"open","key":"a1-4-11","line":4,"sessionId":11,"serverMac":"02:00:00:00:00:01","user":"","startedAt":1002}',
        '{"op":"close","key":"a1-4-11"}',
        '{"op":"open","key":"a1-5',
      ].join("\n"),
    );
    const journal = openSessionJournal(path);
    expect(journal.open).toEqual([
      { key: "a1-1-7", line: 1, sessionId: 7, serverMac: "02:00:00:00:00:01", user: "alice", startedAt: 1000, usage: { octetsIn: 5, octetsOut: 6, packetsIn: 1, packetsOut: 2 } },
      { key: "a1-2-10.0.0.2", line: 2, sessionId: 0, serverMac: "02:00:00:00:00:01", user: "bob", address: "10.0.0.2", startedAt: 1001 },
    ]);
    // Negative counts, a line number that is no number, an unknown op, a torn line.
    expect(journal.badLines).toBe(4);
    journal.close();
  });
});
