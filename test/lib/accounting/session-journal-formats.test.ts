// The two journals' line formats: any sequence of notes, read back after a reopening, gives what a model of the
// notes says is open (fast-check, both durabilities); 10^5 mutated concentrator journals read without an
// exception, every session given back well-formed.
import fc from "fast-check";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ACCESS_SESSION_FORMAT, openSessionJournal, type JournalSession } from "../../../lib/access/session-journal.js";
import { readSessionJournal } from "../../../lib/accounting/open-session-journal.js";
import { ACCOUNTING_SESSION_FORMAT, openAccountingSessionJournal, type OpenAccountingSession } from "../../../lib/accounting/sessions.js";
import { mutateBytes } from "../../support/byte-mutations.js";
import { seededRandom } from "../../support/seeded-random.js";

const dir = mkdtempSync(join(tmpdir(), "journal-formats-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const count = fc.nat({ max: 2 ** 40 });
const usage = fc.record({ octetsIn: count, octetsOut: count, packetsIn: count, packetsOut: count });
const accessSession = (key: string) =>
  fc.record(
    { key: fc.constant(key), line: fc.nat({ max: 65535 }), sessionId: fc.nat({ max: 65535 }), serverMac: fc.constantFrom("02:00:00:00:00:01", "0a:1b:2c:3d:4e:5f"), user: fc.string(), address: fc.ipV4(), startedAt: fc.nat(), usage },
    { requiredKeys: ["key", "line", "sessionId", "serverMac", "user", "startedAt"] },
  );
const keys = fc.constantFrom("k1", "k2", "k3", "k\"4\\n");

type AccessNote = { op: "open"; session: JournalSession } | { op: "usage"; key: string; usage: JournalSession["usage"] & object } | { op: "close"; key: string };
const accessNotes = fc.array(
  fc.oneof(
    keys.chain((k) => accessSession(k)).map((session): AccessNote => ({ op: "open", session })),
    fc.tuple(keys, usage).map(([key, u]): AccessNote => ({ op: "usage", key, usage: u })),
    keys.map((key): AccessNote => ({ op: "close", key })),
  ),
  { maxLength: 30 },
);

type AccountingNote = { op: "open"; session: OpenAccountingSession } | { op: "close"; key: string };
const callIds = fc.constantFrom("a@h", "b;c@h", "d\u00e9@h");
const sides = fc.constantFrom("originating" as const, "terminating" as const);
const accountingNotes = fc.array(
  fc.oneof(
    fc.record({ callId: callIds, side: sides, startMs: fc.nat() }).map((session): AccountingNote => ({ op: "open", session })),
    fc.tuple(callIds, sides).map(([c, s]): AccountingNote => ({ op: "close", key: `${c};${s}` })),
  ),
  { maxLength: 30 },
);

describe("journal formats", () => {
  it("the concentrator's: notes in groups, reopened, give the model's open sessions (a reopen replaces, usage merges)", async () => {
    await fc.assert(
      fc.asyncProperty(accessNotes, async (notes) => {
        const path = join(dir, `access-${files++}.journal`);
        const journal = openSessionJournal(path);
        const model = new Map<string, JournalSession>();
        const written: Promise<void>[] = [];
        for (const n of notes) {
          if (n.op === "open") {
            model.set(n.session.key, n.session);
            written.push(journal.opened(n.session));
          } else if (n.op === "usage") {
            const s = model.get(n.key);
            if (s) model.set(n.key, { ...s, usage: n.usage });
            written.push(journal.updated(n.key, { usage: n.usage }));
          } else {
            model.delete(n.key);
            written.push(journal.closed(n.key));
          }
        }
        await Promise.all(written);
        // Read before any rewrite (as a killed process leaves it), then reopened (rewritten).
        expect(readSessionJournal(readFileSync(path, "utf8"), ACCESS_SESSION_FORMAT)).toEqual({ open: model, badLines: 0 });
        journal.close();
        const again = openSessionJournal(path);
        expect(new Map(again.open.map((s) => [s.key, s]))).toEqual(model);
        again.close();
      }),
      { numRuns: 150 },
    );
  });

  it("the accounting one: notes synced one by one, reopened, give the model's open sessions (a reopen keeps the first)", () => {
    fc.assert(
      fc.property(accountingNotes, (notes) => {
        const path = join(dir, `acct-${files++}.sessions`);
        const journal = openAccountingSessionJournal(path);
        const model = new Map<string, OpenAccountingSession>();
        for (const n of notes) {
          if (n.op === "open") {
            const key = `${n.session.callId};${n.session.side}`;
            if (!model.has(key)) model.set(key, n.session);
            void journal.opened(n.session);
          } else {
            model.delete(n.key);
            void journal.closed(n.key);
          }
          // Synced line by line: the file says so after every note.
          expect(readSessionJournal(readFileSync(path, "utf8"), ACCOUNTING_SESSION_FORMAT).open).toEqual(model);
        }
        journal.close();
        expect(openAccountingSessionJournal(path).open).toEqual([...model.values()]);
      }),
      { numRuns: 100 },
    );
  });

  it("10^5 mutated concentrator journals: reading never throws, and every session it gives back is well-formed", async () => {
    const path = join(dir, "fuzz.journal");
    const j = openSessionJournal(path);
    await Promise.all([
      j.opened({ key: "r-1-7", line: 1, sessionId: 7, serverMac: "02:00:00:00:00:01", user: "alice@example.net", startedAt: 1000 }),
      j.opened({ key: "r-2-x", line: 2, sessionId: 0, serverMac: "02:00:00:00:00:01", user: "", address: "10.0.0.2", startedAt: 1001 }),
    ]);
    await j.updated("r-1-7", { usage: { octetsIn: 10, octetsOut: 20, packetsIn: 1, packetsOut: 2 } });
    await j.closed("r-2-x");
    j.close();
    const seed = readFileSync(path);
    const rnd = seededRandom(23);
    const jsonish = { interesting: (out: Buffer, pos: number, r: () => number) => void (out[pos] = [0x22, 0x7b, 0x7d, 0x0a, 0x3a, 0x2d, 0x30][Math.floor(r() * 7)]!), fixLength: () => {} };
    let kept = 0;
    let bad = 0;
    for (let i = 0; i < 100_000; i++) {
      const { open, badLines } = readSessionJournal(mutateBytes(seed, rnd, jsonish).toString("utf8"), ACCESS_SESSION_FORMAT);
      for (const s of open.values()) {
        if (typeof s.key !== "string" || !Number.isSafeInteger(s.line) || s.line < 0 || !Number.isSafeInteger(s.sessionId) || typeof s.serverMac !== "string" || typeof s.user !== "string" || !Number.isFinite(s.startedAt))
          throw new Error(`ill-formed session ${JSON.stringify(s)}`);
        if (s.usage !== undefined && !Object.values(s.usage).every((v) => Number.isSafeInteger(v) && v >= 0)) throw new Error(`ill-formed usage ${JSON.stringify(s)}`);
      }
      kept += open.size;
      bad += badLines;
    }
    expect(kept).toBeGreaterThan(0);
    expect(bad).toBeGreaterThan(0);
  });
});
