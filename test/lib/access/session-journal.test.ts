// The concentrator's session journal: records on disk before their promise resolves, stale sessions found again
// after a run that never closed them, a line cut by a kill ignored.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SessionJournal } from "../../../lib/access/session-journal.js";

const dir = mkdtempSync(join(tmpdir(), "journal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const session = (n: number) => ({ key: `k${n}`, line: n, sessionId: n, serverMac: "02:00:00:00:00:01", user: `u${n}`, startedAt: 1000 + n });

describe("SessionJournal", () => {
  it("groups the records of one turn into one flush, and a reopen returns the sessions left open", async () => {
    const path = join(dir, "a.journal");
    const { journal, stale } = SessionJournal.open(path);
    expect(stale).toEqual([]);
    await Promise.all([1, 2, 3].map((n) => journal.opened(session(n))));
    expect(journal.flushes).toBe(1);
    // On disk once the promise resolved, before any close.
    expect(readFileSync(path, "utf8").trim().split("\n")).toHaveLength(3);
    await journal.closed("k2");
    // The process dies here (no close()), in the middle of writing a line.
    appendFileSync(path, '{"op":"open","key":"k4","li');
    const again = SessionJournal.open(path);
    expect(again.stale).toEqual([session(1), session(3)]);
    // The rewritten file holds exactly the stale sessions until they are closed.
    await again.journal.closed("k1");
    await again.journal.closed("k3");
    again.journal.close();
    expect(SessionJournal.open(path).stale).toEqual([]);
  });

  it("keeps the last interim counts of a session left open, for its Stop after the restart", async () => {
    const path = join(dir, "b.journal");
    const { journal } = SessionJournal.open(path);
    await journal.opened(session(1));
    await journal.usage("k1", { octetsIn: 10, octetsOut: 20, packetsIn: 1, packetsOut: 2 });
    await journal.usage("k1", { octetsIn: 15, octetsOut: 30, packetsIn: 2, packetsOut: 3 });
    const again = SessionJournal.open(path);
    expect(again.stale).toEqual([{ ...session(1), usage: { octetsIn: 15, octetsOut: 30, packetsIn: 2, packetsOut: 3 } }]);
    // The rewrite keeps them.
    again.journal.close();
    expect(SessionJournal.open(path).stale[0]?.usage?.octetsIn).toBe(15);
  });
});
