// A billing record is never lost or merged: what makes a request a retransmission, what makes two usage
// reports one CDR, and transaction ids that stay unique across clearinghouse restarts on one CDR store.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  authorisationRequest,
  decodeOspMessage,
  encodeOspMessage,
  usageIndication,
  type OspComponent,
  type OspMessage,
} from "../../../protocols/osp/index.js";
import { cdrIdentity } from "../../../lib/adapters/cdr-store.js";
import { MemoryCdrStore } from "../../../lib/adapters/cdr-store-memory.js";
import { CDR_SCHEMA_VERSION, SqliteCdrStore } from "../../../lib/adapters/cdr-store-sqlite.js";
import { Clearinghouse, type ClearinghouseRoute } from "../../../lib/roles/clearinghouse.js";

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
const routes: ClearinghouseRoute[] = [{ prefix: "", destinations: [{ address: "[192.0.2.20]:5060" }], timeLimitSeconds: 3600 }];
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "callgate-ch-identity-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const authReq = (messageId: string, call: string) =>
  encodeOspMessage(authorisationRequest({ messageId, nowMs: T0, callId: Buffer.from(call), callingNumber: "14045266060", calledNumber: "14043342535" }));

const usage = (messageId: string, call: string, transactionId: string, role: "source" | "destination" = "source", seconds = 42) =>
  encodeOspMessage(
    usageIndication({
      messageId, nowMs: T0 + 60_000, transactionId, callId: Buffer.from(call), role, callingNumber: "14045266060",
      calledNumber: "14043342535", durationSeconds: seconds, startTimeMs: T0, endTimeMs: T0 + seconds * 1000,
    }),
  );

function component(bytes: Buffer): OspComponent {
  const m = decodeOspMessage(bytes);
  expect(m.components.length).toBe(1);
  return m.components[0]!;
}

function transactionIdOf(bytes: Buffer): string {
  const c = component(bytes);
  if (c.kind !== "AuthorisationResponse" || c.transactionId === undefined) throw new Error(`no transaction in ${c.kind}`);
  return c.transactionId;
}

describe("retransmission: the same sender sending the same bytes", () => {
  it("answers a retransmitted UsageIndication identically and stores it once", async () => {
    const store = new MemoryCdrStore();
    const ch = new Clearinghouse({ routes, store });
    const bytes = usage("m1", "call-1", "7");
    const first = await ch.handle(bytes, T0 + 61_000, "192.0.2.10");
    const again = await ch.handle(Buffer.from(bytes), T0 + 64_000, "192.0.2.10");
    expect(component(first.bytes)).toMatchObject({ kind: "UsageConfirmation", status: { code: 200 } });
    expect(again.bytes.equals(first.bytes)).toBe(true);
    expect(await store.count()).toBe(1);
  });

  it("answers a retransmitted AuthorisationRequest with the same transaction", async () => {
    const ch = new Clearinghouse({ routes, store: new MemoryCdrStore() });
    const first = await ch.handle(authReq("a1", "call-1"), T0, "192.0.2.10");
    const again = await ch.handle(authReq("a1", "call-1"), T0 + 2_000, "192.0.2.10");
    expect(again.bytes.equals(first.bytes)).toBe(true);
  });

  it("remembers at least half of replayCacheSize answers, and no more than it", async () => {
    const ch = new Clearinghouse({ routes, store: new MemoryCdrStore(), replayCacheSize: 4 });
    const first = await ch.handle(authReq("a0", "call-0"), T0, "POL1");
    for (let i = 1; i <= 2; i++) await ch.handle(authReq(`a${i}`, `call-${i}`), T0, "POL1");
    expect((await ch.handle(authReq("a0", "call-0"), T0, "POL1")).bytes.equals(first.bytes)).toBe(true);
    for (let i = 3; i <= 6; i++) await ch.handle(authReq(`a${i}`, `call-${i}`), T0, "POL1");
    const late = await ch.handle(authReq("a0", "call-0"), T0, "POL1");
    expect(transactionIdOf(late.bytes)).not.toBe(transactionIdOf(first.bytes));
  });

  it("treats the same messageId with a different body as a new request", async () => {
    const store = new MemoryCdrStore();
    const ch = new Clearinghouse({ routes, store });
    // What the toolkit does: every request of one second carries the same messageId and componentId.
    const a = await ch.handle(authReq("20277835791", "call-1"), T0, "192.0.2.10");
    const b = await ch.handle(authReq("20277835791", "call-2"), T0, "192.0.2.10");
    expect(transactionIdOf(b.bytes)).not.toBe(transactionIdOf(a.bytes));
    await ch.handle(usage("13", "call-1", transactionIdOf(a.bytes)), T0 + 61_000, "192.0.2.10");
    await ch.handle(usage("13", "call-2", transactionIdOf(b.bytes)), T0 + 61_000, "192.0.2.10");
    const cdrs = await store.query();
    expect(cdrs.map((c) => [c.transactionId, Buffer.from(c.callId!, "base64").toString()])).toEqual([
      [transactionIdOf(a.bytes), "call-1"],
      [transactionIdOf(b.bytes), "call-2"],
    ]);
  });

  it("treats the same bytes from another sender as a new request", async () => {
    const ch = new Clearinghouse({ routes, store: new MemoryCdrStore() });
    const a = await ch.handle(authReq("a1", "call-1"), T0, "192.0.2.10");
    const b = await ch.handle(authReq("a1", "call-1"), T0, "192.0.2.11");
    expect(transactionIdOf(b.bytes)).not.toBe(transactionIdOf(a.bytes));
  });

  it("tells a retransmission by its bytes when the caller hands the request over decoded", async () => {
    const store = new MemoryCdrStore();
    const ch = new Clearinghouse({ routes, store });
    const bytes = usage("m1", "call-1", "7");
    const first = await ch.handle(bytes, T0, "POL1", decodeOspMessage(bytes));
    const again = await ch.handle(bytes, T0 + 1_000, "POL1", decodeOspMessage(bytes));
    expect(again.bytes.equals(first.bytes)).toBe(true);
    const other = await ch.handle(usage("m1", "call-2", "8"), T0, "POL1", decodeOspMessage(usage("m1", "call-2", "8")));
    expect(component(other.bytes)).toMatchObject({ status: { code: 200 } });
    expect(await store.count()).toBe(2);
  });
});

describe("a CDR is the usage it reports: transaction, side, call and sender", () => {
  it("keeps two calls with the same messageId from two senders as two CDRs", async () => {
    const store = new MemoryCdrStore();
    const ch = new Clearinghouse({ routes, store });
    const pol1 = await ch.handle(authReq("pol1-1", "call-A"), T0, "192.0.2.10");
    const pol9 = await ch.handle(authReq("pol1-1", "call-B"), T0, "192.0.2.19");
    await ch.handle(usage("pol1-2", "call-A", transactionIdOf(pol1.bytes)), T0 + 61_000, "192.0.2.10");
    await ch.handle(usage("pol1-2", "call-B", transactionIdOf(pol9.bytes)), T0 + 61_000, "192.0.2.19");
    const cdrs = await store.query();
    expect(cdrs.map((c) => [c.peer, c.messageId, Buffer.from(c.callId!, "base64").toString()])).toEqual([
      ["192.0.2.10", "pol1-2", "call-A"],
      ["192.0.2.19", "pol1-2", "call-B"],
    ]);
  });

  it("keeps the source and destination sides of one call apart, and the same usage under a new messageId once", async () => {
    const store = new MemoryCdrStore();
    const ch = new Clearinghouse({ routes, store });
    await ch.handle(usage("pol1-5", "call-1", "3", "source"), T0, "POL1");
    await ch.handle(usage("pol2-5", "call-1", "3", "destination"), T0, "POL2");
    // A policy server restarted with its usage spooled reports the same usage under a new messageId.
    const again = await ch.handle(usage("pol1-k2-1", "call-1", "3", "source"), T0 + 5_000, "POL1");
    expect(component(again.bytes)).toMatchObject({ kind: "UsageConfirmation", status: { code: 200 } });
    expect((await store.query()).map((c) => [c.role, c.messageId])).toEqual([
      ["source", "pol1-5"],
      ["destination", "pol2-5"],
    ]);
    expect((await store.query({ transactionId: "3" })).length).toBe(2);
  });

  it("tells apart reports that name neither transaction nor call by their message and component", () => {
    const bare = { componentId: "1", receivedAt: T0, role: "source", peer: "POL1" };
    expect(cdrIdentity({ ...bare, messageId: "a" })).not.toBe(cdrIdentity({ ...bare, messageId: "b" }));
    expect(cdrIdentity({ ...bare, messageId: "a", transactionId: "5" })).toBe(cdrIdentity({ ...bare, messageId: "b", transactionId: "5" }));
  });

  it("keeps one row per usage in SQLite across two senders reusing one messageId", async () => {
    const store = new SqliteCdrStore(join(dir, "two-senders.sqlite"));
    const ch = new Clearinghouse({ routes, store });
    await ch.handle(usage("13", "call-1", "1"), T0, "192.0.2.10");
    await ch.handle(usage("13", "call-1", "1"), T0, "192.0.2.11");
    await ch.handle(usage("13", "call-1", "1"), T0 + 1_000, "192.0.2.11"); // a retransmission
    expect((await store.query()).map((c) => c.peer)).toEqual(["192.0.2.10", "192.0.2.11"]);
    await store.close();
  });
});

describe("transaction ids unique for the life of the CDR store", () => {
  async function authoriseCalls(ch: Clearinghouse, prefix: string, n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const reply = await ch.handle(authReq(`${prefix}-${i}`, `${prefix}-call-${i}`), T0, "192.0.2.10");
      const tid = transactionIdOf(reply.bytes);
      ids.push(tid);
      await ch.handle(usage(`${prefix}-u${i}`, `${prefix}-call-${i}`, tid), T0 + 1_000, "192.0.2.10");
    }
    return ids;
  }

  it("never reuses a transaction id after a restart on the same SQLite file", async () => {
    const path = join(dir, "restart.sqlite");
    const before: string[] = [];
    // Three lives of the clearinghouse; the first two stop mid-block (block of 4, 6 calls each).
    for (const life of ["one", "two"]) {
      const store = new SqliteCdrStore(path);
      before.push(...(await authoriseCalls(new Clearinghouse({ routes, store, transactionIdBlock: 4 }), life, 6)));
      await store.close();
    }
    const store = new SqliteCdrStore(path);
    const after = await authoriseCalls(new Clearinghouse({ routes, store, transactionIdBlock: 4 }), "three", 6);
    const stored = (await store.query()).map((c) => c.transactionId!);
    expect(stored.length).toBe(18);
    expect(new Set(stored).size).toBe(18);
    for (const tid of after) expect(before).not.toContain(tid);
    // `cdrs --transaction N` finds one call.
    for (const tid of [...before, ...after]) expect((await store.query({ transactionId: tid })).length).toBe(1);
    await store.close();
  });

  it("makes the reservation durable before handing ids out (a second store on the file continues above it)", () => {
    const path = join(dir, "reserve.sqlite");
    const a = new SqliteCdrStore(path);
    expect(a.reserveTransactionIds(10, 1n)).toBe(1n);
    const b = new SqliteCdrStore(path);
    expect(b.reserveTransactionIds(10, 1n)).toBe(11n);
    expect(a.reserveTransactionIds(5, 100n)).toBe(100n);
    expect(b.reserveTransactionIds(1, 1n)).toBe(105n);
    void a.close();
    void b.close();
  });

  it("answers 503 when the store cannot reserve transaction ids, and hands out none", async () => {
    const inner = new MemoryCdrStore();
    let broken = true;
    const store = Object.assign(Object.create(inner) as MemoryCdrStore, {
      reserveTransactionIds: (count: number, floor: bigint) => {
        if (broken) throw new Error("disk I/O error");
        return inner.reserveTransactionIds(count, floor);
      },
    });
    const ch = new Clearinghouse({ routes, store });
    const refused = component((await ch.handle(authReq("a1", "call-1"), T0, "POL1")).bytes);
    expect(refused).toMatchObject({ kind: "AuthorisationResponse", componentId: "a1", status: { code: 503, description: "transaction ids unavailable: disk I/O error" }, destinations: [] });
    broken = false;
    // The retransmission was not remembered: it is authorised now, with the store's first id.
    expect(transactionIdOf((await ch.handle(authReq("a1", "call-1"), T0 + 1_000, "POL1")).bytes)).toBe("1");
  });

  it("hands out consecutive ids from the memory store, so same-seed in-memory runs stay byte-identical", async () => {
    const run = async () => {
      const ch = new Clearinghouse({ routes, store: new MemoryCdrStore() });
      const out: Buffer[] = [];
      for (let i = 0; i < 3; i++) out.push((await ch.handle(authReq(`pol1-${i}`, `call-${i}`), T0, "POL1")).bytes);
      return out;
    };
    const [first, second] = [await run(), await run()];
    expect(first.map(transactionIdOf)).toEqual(["1", "2", "3"]);
    expect(Buffer.concat(second).equals(Buffer.concat(first))).toBe(true);
  });
});

describe("SQLite CDR file of the first schema", () => {
  function firstSchemaFile(path: string): void {
    const db = new Database(path);
    db.exec(`CREATE TABLE cdr (id INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL, component_id TEXT NOT NULL,
      received_at INTEGER NOT NULL, role TEXT, transaction_id TEXT, call_id TEXT, source TEXT, destination TEXT,
      destination_signal_address TEXT, start_time INTEGER, end_time INTEGER, duration REAL, unit TEXT,
      termination_cause INTEGER, peer TEXT, UNIQUE (message_id, component_id))`);
    const insert = db.prepare("INSERT INTO cdr (message_id, component_id, received_at, role, transaction_id, call_id, duration, peer) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    insert.run("pol1-1", "pol1-1", 1, "source", "41", "Y2FsbC0x", 10, "POL1");
    insert.run("pol2-1", "pol2-1", 2, "destination", "41", "Y2FsbC0x", 10, "POL2");
    // The same usage stored twice under two messageIds: the first schema kept both, so does the migration.
    insert.run("pol1-1b", "pol1-1b", 3, "source", "41", "Y2FsbC0x", 10, "POL1");
    insert.run("x", "x", 4, "source", "not-a-number", "Y2FsbC0y", 5, "POL1");
    db.close();
  }

  it("is migrated in place keeping every row, and transaction ids continue above the stored ones", async () => {
    const path = join(dir, "first-schema.sqlite");
    firstSchemaFile(path);
    const store = new SqliteCdrStore(path);
    expect((await store.query()).map((c) => c.messageId)).toEqual(["pol1-1", "pol2-1", "pol1-1b", "x"]);
    const ch = new Clearinghouse({ routes, store });
    expect(BigInt(transactionIdOf((await ch.handle(authReq("n1", "call-9"), T0, "POL1")).bytes))).toBe(42n);
    // The new identity holds from now on: the same usage again is not a new row.
    await ch.handle(usage("pol1-1c", "call-1", "41", "source", 10), T0, "POL1");
    expect(await store.count()).toBe(4);
    await store.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma("user_version", { simple: true })).toBe(CDR_SCHEMA_VERSION);
    db.close();
    // Opening it again is a no-op.
    const reopened = new SqliteCdrStore(path);
    expect(await reopened.count()).toBe(4);
    await reopened.close();
  });

  it("is read, not migrated, by a read-only store", async () => {
    const path = join(dir, "first-schema-read.sqlite");
    firstSchemaFile(path);
    const store = new SqliteCdrStore(path, { readOnly: true });
    expect((await store.query({ transactionId: "41" })).map((c) => c.role)).toEqual(["source", "destination", "source"]);
    await expect(store.insertOnce({ messageId: "a", componentId: "a", receivedAt: 1 })).rejects.toThrow(/read-only/);
    await store.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma("user_version", { simple: true })).toBe(0);
    db.close();
  });

  it("refuses a file of a newer schema", () => {
    const path = join(dir, "newer.sqlite");
    const db = new Database(path);
    db.pragma(`user_version = ${CDR_SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => new SqliteCdrStore(path)).toThrow(/newer than this program/);
  });
});

describe("error answers name the component and the element", () => {
  const badPdd = (pdd: string): string =>
    '<?xml version="1.0"?><Message messageId="13" random="9"><UsageIndication componentId="12"><Role>source</Role>' +
    "<TransactionId>1</TransactionId><UsageDetail><Amount>61</Amount><Increment>1</Increment><Unit>s</Unit>" +
    `<PostDialDelay type="source">${pdd}</PostDialDelay></UsageDetail></UsageIndication></Message>`;

  it("reads the toolkit's decimal PostDialDelay and records the usage", async () => {
    const store = new MemoryCdrStore();
    const reply = await new Clearinghouse({ routes, store }).handle(badPdd("1.0100"), T0, "192.0.2.10");
    expect(component(reply.bytes)).toMatchObject({ kind: "UsageConfirmation", componentId: "12", status: { code: 200 } });
    expect(await store.count()).toBe(1);
  });

  it("answers a value it cannot read with 400, the componentId and the element path", async () => {
    const store = new MemoryCdrStore();
    const reply = await new Clearinghouse({ routes, store }).handle(badPdd("1,5"), T0, "192.0.2.10");
    const c = component(reply.bytes);
    expect(c).toMatchObject({ kind: "UsageConfirmation", componentId: "12", status: { code: 400 } });
    expect(c.kind === "UsageConfirmation" && c.status.description).toBe(
      "Message/UsageIndication/UsageDetail/PostDialDelay: '1,5' is not a decimal number",
    );
    expect(await store.count()).toBe(0);
  });

  it("names the component of a document that is not well-formed XML", async () => {
    const reply = await new Clearinghouse({ routes, store: new MemoryCdrStore() }).handle(
      '<Message messageId="m9"><AuthorizationRequest componentId="c9"><CallId></AuthorizationRequest></Message>',
      T0,
    );
    const c = component(reply.bytes);
    expect(c).toMatchObject({ kind: "AuthorisationResponse", componentId: "c9", status: { code: 400 } });
    expect(c.kind === "AuthorisationResponse" && c.status.description).toMatch(/^\(document\): end tag <\/AuthorizationRequest> does not match <CallId>/);
  });

  it("refuses the whole Message when, besides a refused component, it holds an unknown critical element", async () => {
    const text =
      '<Message messageId="m7"><UsageIndication componentId="u1"><UsageDetail><Amount>x</Amount><Increment>1</Increment><Unit>s</Unit></UsageDetail></UsageIndication>' +
      '<Frobnicate critical="true"/></Message>';
    const reply = await new Clearinghouse({ routes, store: new MemoryCdrStore() }).handle(text, T0);
    const c = component(reply.bytes);
    expect(c).toMatchObject({ kind: "UsageConfirmation", componentId: "u1", status: { code: 400 } });
    expect(c.kind === "UsageConfirmation" && c.status.description).toContain("Message/Frobnicate");
  });

  it("answers each component of a batch on its own: the readable one recorded, the other refused", async () => {
    const good = decodeOspMessage(usage("b1", "call-1", "1")).components[0]!;
    const message: OspMessage = { messageId: "b1", components: [good] };
    const text = encodeOspMessage(message)
      .toString()
      .replace("</Message>", '<UsageIndication componentId="b1-2"><UsageDetail><Amount>x</Amount><Increment>1</Increment><Unit>s</Unit></UsageDetail></UsageIndication></Message>');
    const store = new MemoryCdrStore();
    const ch = new Clearinghouse({ routes, store });
    const reply = await ch.handle(text, T0, "POL1");
    const answers = decodeOspMessage(reply.bytes).components;
    expect(answers.map((c) => [c.kind, c.componentId, "status" in c ? c.status.code : undefined])).toEqual([
      ["UsageConfirmation", "b1", 200],
      ["UsageConfirmation", "b1-2", 400],
    ]);
    const refused = answers[1]!;
    expect(refused.kind === "UsageConfirmation" && refused.status.description).toBe("Message/UsageIndication/UsageDetail/Amount: 'x' is not a decimal number");
    expect((await store.query()).map((c) => c.componentId)).toEqual(["b1"]);
    // Its retransmission gets the same answer and records nothing more.
    expect((await ch.handle(text, T0 + 3_000, "POL1")).bytes.equals(reply.bytes)).toBe(true);
    expect(await store.count()).toBe(1);
  });
});
