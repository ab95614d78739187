import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  OspClient,
  OspTokenValidator,
  authorisationRequest,
  decodeOspMessage,
  encodeOspMessage,
  usageIndication,
  type OspComponent,
} from "../../../protocols/osp/index.js";
import { cdrsToCsv, type CallDetailRecord, type CdrStore } from "../../../lib/adapters/cdr-store.js";
import { MemoryCdrStore } from "../../../lib/adapters/cdr-store-memory.js";
import { SqliteCdrStore } from "../../../lib/adapters/cdr-store-sqlite.js";
import { Clearinghouse } from "../../../lib/roles/clearinghouse.js";
import { parseRoutesYaml, selectRoute } from "../../../lib/roles/clearinghouse-routes.js";
import { startClearinghouseServer } from "../../../lib/roles/clearinghouse-server.js";
import { makeTestPki, type TestPki } from "../../protocols/osp/test-pki.js";

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
const routes = parseRoutesYaml(readFileSync(join(process.cwd(), "examples/deploy/osp-routes.yaml"), "utf8")).routes;

let pki: TestPki;
let dir: string;
beforeAll(() => {
  pki = makeTestPki("Clearinghouse Test CA");
  dir = mkdtempSync(join(tmpdir(), "callgate-ch-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function authReq(messageId: string, calledNumber: string, callingNumber = "14045266060", extra: { sourceAddress?: string; maximumDestinations?: number } = {}) {
  return authorisationRequest({ messageId, nowMs: T0, callId: Buffer.from(`call-${messageId}`), callingNumber, calledNumber, ...extra });
}

function only(components: OspComponent[] | undefined): OspComponent {
  expect(components?.length).toBe(1);
  return components![0]!;
}

describe("routing table", () => {
  it("loads examples/deploy/osp-routes.yaml", () => {
    expect(routes.map((r) => r.prefix)).toEqual(["1404", "44", ""]);
    expect(routes[0]!.destinations).toEqual([{ address: "[192.0.2.20]:5060" }, { address: "[192.0.2.21]:5060" }]);
    expect(routes[1]!.allowedSources).toEqual(["1408", "[192.0.2.10]"]);
  });

  it("picks the longest allowed prefix and applies per-source rules", () => {
    expect(selectRoute(routes, { calledNumber: "14043342535" })).toMatchObject({ ok: true, route: { prefix: "1404" } });
    expect(selectRoute(routes, { calledNumber: "441632960002", callingNumber: "14085550000" })).toMatchObject({ ok: true, route: { prefix: "44" } });
    expect(selectRoute(routes, { calledNumber: "441632960002", callingNumber: "1999", sourceAddress: "[192.0.2.10]" })).toMatchObject({ ok: true, route: { prefix: "44" } });
    // Not allowed on the 44 route: falls back to the catch-all.
    expect(selectRoute(routes, { calledNumber: "441632960002", callingNumber: "1999" })).toMatchObject({ ok: true, route: { prefix: "" } });
    expect(selectRoute(routes.slice(0, 2), { calledNumber: "441632960002", callingNumber: "1999" })).toEqual({ ok: false, reason: "source-not-allowed" });
    expect(selectRoute(routes.slice(0, 2), { calledNumber: "33" })).toEqual({ ok: false, reason: "no-route" });
  });

  it("rejects a malformed routes file with a clear message", () => {
    expect(() => parseRoutesYaml("routes: [{prefix: '1'}]")).toThrow(/routes\[0\]: 'destinations'/);
    expect(() => parseRoutesYaml("hello: 1")).toThrow(/'routes' list/);
  });
});

describe("Clearinghouse: authorisation", () => {
  it("answers an AuthorisationRequest with one signed token per destination, in route order", async () => {
    const ch = new Clearinghouse({ routes, store: new MemoryCdrStore(), signer: pki.signer, tokenLifetimeMs: 120_000 });
    const reply = await ch.handle(encodeOspMessage(authReq("a1", "14043342535", undefined, { maximumDestinations: 5 })), T0 + 400);
    expect(reply.httpStatus).toBe(200);
    expect(reply.bytes.toString()).toContain("<AuthorizationResponse ");
    const rsp = only(decodeOspMessage(reply.bytes).components);
    if (rsp.kind !== "AuthorisationResponse") throw new Error(rsp.kind);
    expect(rsp.status.code).toBe(200);
    expect(rsp.componentId).toBe("a1");
    expect(rsp.destinations.map((d) => d.destinationSignalAddress)).toEqual(["[192.0.2.20]:5060", "[192.0.2.21]:5060"]);
    const validator = new OspTokenValidator({ caCertificatesPem: [pki.caCertificatePem] });
    for (const d of rsp.destinations) {
      expect(d.usageDetail).toMatchObject({ amount: 3600, unit: "s" });
      expect(d.validAfter).toBe(T0);
      expect(d.validUntil).toBe(T0 + 120_000);
      expect(d.tokens.length).toBe(1);
      const verdict = validator.validate(d.tokens[0]!, { callId: Buffer.from("call-a1"), destination: d.destinationSignalAddress! }, T0 + 1000);
      expect(verdict).toMatchObject({ ok: true });
      if (verdict.ok) expect(verdict.info.transactionId).toBe(rsp.transactionId);
    }
  });

  it("offers no more destinations than MaximumDestinations", async () => {
    const ch = new Clearinghouse({ routes, store: new MemoryCdrStore() });
    const rsp = only((await ch.handle(authReq("a2", "14043342535", undefined, { maximumDestinations: 1 }), T0)).message?.components);
    expect(rsp.kind === "AuthorisationResponse" && rsp.destinations.length).toBe(1);
  });

  it("refuses with 404 when no route exists and 403 when the source is not allowed", async () => {
    const ch = new Clearinghouse({ routes: routes.slice(0, 2), store: new MemoryCdrStore() });
    const none = only((await ch.handle(authReq("a3", "33123"), T0)).message?.components);
    expect(none).toMatchObject({ kind: "AuthorisationResponse", status: { code: 404 }, destinations: [] });
    const denied = only((await ch.handle(authReq("a4", "441632960002", "1999"), T0)).message?.components);
    expect(denied).toMatchObject({ kind: "AuthorisationResponse", status: { code: 403 }, destinations: [] });
  });

  it("answers a retransmitted request (same bytes) with the same answer", async () => {
    const ch = new Clearinghouse({ routes, store: new MemoryCdrStore(), signer: pki.signer });
    const first = await ch.handle(encodeOspMessage(authReq("a5", "14043342535")), T0);
    const again = await ch.handle(encodeOspMessage(authReq("a5", "14043342535")), T0 + 2000);
    const other = await ch.handle(encodeOspMessage(authReq("a6", "14043342535")), T0 + 2000);
    expect(again.bytes.equals(first.bytes)).toBe(true);
    const tid = (b: Buffer) => {
      const c = decodeOspMessage(b).components[0]!;
      return c.kind === "AuthorisationResponse" ? c.transactionId : undefined;
    };
    expect(tid(other.bytes)).not.toBe(tid(first.bytes));
  });

  it("forgets an answer once the retransmission window has passed, and keeps it within the window", async () => {
    const ch = new Clearinghouse({ routes, store: new MemoryCdrStore(), replayWindowMs: 10_000 });
    const first = await ch.handle(encodeOspMessage(authReq("a8", "14043342535")), T0);
    const within = await ch.handle(encodeOspMessage(authReq("a8", "14043342535")), T0 + 9_000);
    const after = await ch.handle(encodeOspMessage(authReq("a8", "14043342535")), T0 + 10_000);
    expect(within.bytes.equals(first.bytes)).toBe(true);
    expect(after.bytes.equals(first.bytes)).toBe(false); // a new transaction, not the remembered answer
  });

  it("writes ETSI spelling when configured", async () => {
    const ch = new Clearinghouse({ routes, store: new MemoryCdrStore(), spelling: "etsi" });
    expect((await ch.handle(authReq("a7", "1404"), T0)).bytes.toString()).toContain("<AuthorisationResponse ");
  });
});

describe("Clearinghouse: usage", () => {
  const ui = (messageId: string, seconds = 42) =>
    usageIndication({
      messageId, nowMs: T0 + 60_000, transactionId: "9", callId: Buffer.from(`call-${messageId}`), role: "source",
      callingNumber: "14045266060", calledNumber: "14043342535", destinationAddress: "[192.0.2.20]:5060",
      durationSeconds: seconds, startTimeMs: T0, endTimeMs: T0 + seconds * 1000, terminationCause: 16,
    });

  it("turns a UsageIndication into a CDR and confirms it", async () => {
    const store = new MemoryCdrStore();
    const ch = new Clearinghouse({ routes, store });
    const reply = await ch.handle(encodeOspMessage(ui("u1")), T0 + 61_000, "192.0.2.10");
    expect(only(reply.message?.components)).toMatchObject({ kind: "UsageConfirmation", componentId: "u1", status: { code: 200 } });
    const cdrs = await store.query();
    expect(cdrs).toEqual([
      {
        messageId: "u1", componentId: "u1", receivedAt: T0 + 61_000, role: "source", transactionId: "9",
        callId: Buffer.from("call-u1").toString("base64"), source: "14045266060", destination: "14043342535",
        destinationSignalAddress: "[192.0.2.20]:5060", startTime: T0, endTime: T0 + 42_000, duration: 42, unit: "s",
        terminationCause: 16, peer: "192.0.2.10",
      },
    ]);
  });

  it("records a retransmitted UsageIndication once and confirms it again", async () => {
    const store = new MemoryCdrStore();
    const ch = new Clearinghouse({ routes, store });
    for (let i = 0; i < 3; i++) {
      const reply = await ch.handle(encodeOspMessage(ui("u2")), T0 + i);
      expect(only(reply.message?.components)).toMatchObject({ kind: "UsageConfirmation", status: { code: 200 } });
    }
    expect(await store.count()).toBe(1);
  });

  it("sends the UsageConfirmation only after the store has the record", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const inner = new MemoryCdrStore();
    const slowStore: CdrStore = {
      insertOnce: async (r: CallDetailRecord) => {
        await gate;
        return inner.insertOnce(r);
      },
      reserveTransactionIds: (count, floor) => inner.reserveTransactionIds(count, floor),
      query: (q) => inner.query(q),
      count: () => inner.count(),
      close: () => inner.close(),
    };
    const ch = new Clearinghouse({ routes, store: slowStore });
    let answered = false;
    const pending = ch.handle(ui("u3"), T0).then((r) => {
      answered = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(answered).toBe(false);
    expect(await inner.count()).toBe(0);
    release();
    const reply = await pending;
    expect(await inner.count()).toBe(1);
    expect(only(reply.message?.components)).toMatchObject({ status: { code: 200 } });
  });

  it("answers 503 (retry later) when the record cannot be stored", async () => {
    const failing: CdrStore = {
      insertOnce: async () => {
        throw new Error("disk full");
      },
      reserveTransactionIds: () => 1n,
      query: async () => [],
      count: async () => 0,
      close: async () => {},
    };
    const reply = await new Clearinghouse({ routes, store: failing }).handle(ui("u4"), T0);
    expect(only(reply.message?.components)).toMatchObject({ kind: "UsageConfirmation", status: { code: 503 } });
  });

  it("confirms each component of a batched Message", async () => {
    const store = new MemoryCdrStore();
    const batch = ui("b1");
    const second = { ...ui("b1").components[0]!, componentId: "b1-2", callId: Buffer.from("call-b1-2") } as OspComponent;
    batch.components.push(second);
    const reply = await new Clearinghouse({ routes, store }).handle(batch, T0);
    expect(reply.message?.components.map((c) => [c.kind, c.componentId])).toEqual([
      ["UsageConfirmation", "b1"],
      ["UsageConfirmation", "b1-2"],
    ]);
    expect(await store.count()).toBe(2);
  });
});

describe("Clearinghouse: requests it cannot read", () => {
  it("answers in OSP with status 400 when messageId and component are visible", async () => {
    const ch = new Clearinghouse({ routes, store: new MemoryCdrStore() });
    const reply = await ch.handle('<Message messageId="x1"><UsageIndication><Frob>1</Frob></UsageIndication></Message>', T0);
    expect(reply.httpStatus).toBe(200);
    const c = only(reply.message?.components);
    expect(c).toMatchObject({ kind: "UsageConfirmation", status: { code: 400 } });
    expect(c.kind === "UsageConfirmation" && c.status.description).toContain("Frob");
  });

  it("answers HTTP 400 to something that is not OSP at all", async () => {
    const reply = await new Clearinghouse({ routes, store: new MemoryCdrStore() }).handle("hello", T0);
    expect(reply.httpStatus).toBe(400);
    expect(reply.message).toBeUndefined();
  });
});

describe("SQLite CDR store", () => {
  it("runs in WAL mode with synchronous=FULL and keeps one row per usage (same transaction, side, call, sender)", async () => {
    const path = join(dir, "cdr-1.sqlite");
    const store = new SqliteCdrStore(path);
    const rec = (id: string, at: number): CallDetailRecord => ({ messageId: id, componentId: id, receivedAt: at, transactionId: `t${id}`, duration: 7 });
    const results = await Promise.all([store.insertOnce(rec("1", 10)), store.insertOnce(rec("2", 20)), store.insertOnce(rec("1", 30))]);
    expect(results).toEqual([true, true, false]);
    expect(await store.insertOnce(rec("2", 40))).toBe(false);
    expect(await store.count()).toBe(2);
    expect((await store.query({ since: 15 })).map((r) => r.messageId)).toEqual(["2"]);
    expect((await store.query({ transactionId: "t1" })).map((r) => r.receivedAt)).toEqual([10]);
    await store.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
    const reopened = new SqliteCdrStore(path);
    expect(await reopened.count()).toBe(2);
    expect((reopened as unknown as { db: Database.Database }).db.pragma("synchronous", { simple: true })).toBe(2); // FULL
    await reopened.close();
  });

  it("exports CSV with a header and quoted fields", () => {
    const csv = cdrsToCsv([{ messageId: "m,1", componentId: "c", receivedAt: 5, source: 'a"b' }]);
    const [header, row] = csv.split("\r\n");
    expect(header!.split(",")[0]).toBe("messageId");
    expect(row).toBe('"m,1",c,5,,,,"a""b",,,,,,,,');
  });
});

describe("Clearinghouse over HTTP", () => {
  it("serves OspClient authorisation and usage round trips", async () => {
    const store = new SqliteCdrStore(join(dir, "cdr-http.sqlite"));
    const ch = new Clearinghouse({ routes, store, signer: pki.signer });
    const server = await startClearinghouseServer(ch, { url: "http://127.0.0.1:0/osp", now: () => T0 });
    const client = new OspClient({ url: server.url, outboxPath: join(dir, "http-outbox.journal") });
    try {
      const rsp = await client.authorise(authReq("h1", "14043342535", undefined, { maximumDestinations: 5 }));
      expect(rsp.status.code).toBe(200);
      expect(rsp.destinations.length).toBe(2);
      await client.reportUsage(usageIndication({ messageId: "h2", nowMs: T0, transactionId: rsp.transactionId!, callId: Buffer.from("call-h1"), role: "source", callingNumber: "14045266060", calledNumber: "14043342535", durationSeconds: 30 }));
      await client.drainUsage();
      const cdrs = await store.query();
      expect(cdrs.map((c) => [c.messageId, c.transactionId, c.duration, c.peer])).toEqual([["h2", rsp.transactionId, 30, "127.0.0.1"]]);
    } finally {
      await client.close();
      await server.close();
      await store.close();
    }
  });
});
