// The accounting exporter against this project's own RADIUS server on loopback (a stand-in with a chosen
// behaviour; the FreeRADIUS tests are in test/interop): a lying server (wrong secret) gets its answers dropped
// and counted and the records stay spooled; a flood of garbage at the exporter's port is dropped and counted;
// a slow server is waited for; a silent first server is failed over from and tried again once its back-off ends
// (the exporter's wake-up, with nothing else in flight); a damaged spool is read without an exception (10^5
// mutated spools, one record carrying bytes); binary attribute values (Class, RFC 2865 §5.25) go through the spool
// and onto the wire byte for byte, spool lines written before them still read, and a line the dictionary cannot
// encode is skipped (not thrown on when the exporter sends).
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AccountingExporter } from "../../../lib/accounting/exporter.js";
import { AccountingRecorder, toRadiusAttribute, type AccountingRecord } from "../../../lib/accounting/records.js";
import { AccountingSpool, parseSpool } from "../../../lib/accounting/spool.js";
import { RadiusCode, RadiusUdpServer, attributeValue } from "../../../protocols/radius/index.js";
import { mutateBytes } from "../../support/byte-mutations.js";
import { seededRandom } from "../../support/seeded-random.js";

const dir = mkdtempSync(join(tmpdir(), "acct-exporter-"));
/** A Class (RFC 2865 §5.25) of bytes that are not UTF-8 text, to be passed on unchanged. */
const CLASS_BYTES = Buffer.from([0x00, 0xff, 0x80, 0x0a, 0x22, 0x7b, 0xc3, 0x28]);
/** A Vendor-Specific's octets (RFC 2865 §5.26: Vendor-Id 9, one sub-attribute), kept as type 26 and its octets. */
const VSA_OCTETS = Buffer.from([0, 0, 0, 9, 1, 6, 0xff, 0, 0x22, 0x0a]);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function records(n: number, prefix: string): AccountingRecord[] {
  const rec = new AccountingRecorder({ nasIdentifier: "t", describe: () => ({ caller: "sip:a@x", callee: "sip:b@y" }) });
  const out: AccountingRecord[] = [];
  for (let i = 0; i < n; i++) {
    out.push(...rec.onEvent({ type: "established", callId: `${prefix}${i}`, role: "UAC", at: 0 }, Date.now()));
    out.push(...rec.onEvent({ type: "usage", callId: `${prefix}${i}`, role: "POL1", durationS: 3, packets: 150, octets: 30000, reported: "local" }, Date.now()));
  }
  return out;
}

async function server(secret: string, delayMs = 0) {
  const seen: string[] = [];
  const s = await RadiusUdpServer.listen({
    port: 0,
    secretFor: () => secret,
    handler: async (p) => {
      seen.push(`${attributeValue(p, "Acct-Session-Id") as string}|${attributeValue(p, "Acct-Status-Type") as number}`);
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      return { code: RadiusCode.AccountingResponse, attributes: [] };
    },
  });
  return { s, seen };
}

describe("AccountingExporter fails over", () => {
  it("a silent first server is passed over for the second; with the second gone, the first is tried again when its back-off ends and takes the rest", async () => {
    let answering = false;
    const first = await RadiusUdpServer.listen({
      port: 0,
      secretFor: () => "s3cret",
      handler: () => (answering ? { code: RadiusCode.AccountingResponse, attributes: [] } : undefined),
    });
    const second = await server("s3cret");
    const states: string[] = [];
    const ex = await AccountingExporter.open({
      spoolPath: join(dir, "failover.spool"),
      servers: [first.address(), second.s.address()],
      secret: "s3cret",
      bindAddress: "127.0.0.1",
      initialTimeoutMs: 50,
      maxTimeoutMs: 100,
      maxRetransmissions: 2,
      maxDurationMs: 300,
      serverRetryMs: 5000,
      onServer: (s, state) => states.push(`${s.port === first.address().port ? "first" : "second"} ${state}`),
    });
    ex.submit(records(10, "f1-"));
    expect(await ex.drained(20_000)).toBe(true);
    expect(second.seen).toHaveLength(20);
    expect(states).toEqual(["first down"]);
    // the second goes away, the first answers now: records submitted while the first is still passed over go to
    // the second, time out, and wait for the end of the first's back-off; nothing is in flight then, so only the
    // wake-up hook sets the timer that tries the first again
    await second.s.close();
    answering = true;
    ex.submit(records(5, "f2-"));
    expect(await ex.drained(30_000)).toBe(true);
    expect(ex.answered).toBe(30);
    expect(states).toEqual(["first down", "second down", "first up"]);
    await ex.close();
    await first.close();
  }, 60_000);
});

describe("AccountingExporter stays bounded", () => {
  it("keeps at most answeredKeysKept answered keys and rewrites the spool past compactAfterLines; a key still held is refused again", async () => {
    const ok = await server("s3cret");
    const spoolPath = join(dir, "bounded.spool");
    const ex = await AccountingExporter.open({ spoolPath, servers: [ok.s.address()], secret: "s3cret", bindAddress: "127.0.0.1", answeredKeysKept: 50, compactAfterLines: 100 });
    for (let round = 0; round < 10; round++) {
      ex.submit(records(20, `b${round}-`));
      expect(await ex.drained(5000)).toBe(true);
    }
    expect(ex.answered).toBe(400);
    expect(ex.answeredKeysHeld).toBe(50);
    // the file holds its header, the 50 keys kept and what was appended since the last rewrite
    const lines = readFileSync(spoolPath, "utf8").split("\n").filter(Boolean).length;
    expect(lines).toBeLessThanOrEqual(1 + 50 + 100 + 3 * 40);
    expect(ex.submit(records(20, "b9-"))).toBe(0);
    await ex.close();
    // reopened: the keys kept are still refused, nothing is pending
    const again = await AccountingExporter.open({ spoolPath, servers: [ok.s.address()], secret: "s3cret", bindAddress: "127.0.0.1", answeredKeysKept: 50 });
    expect(again.backlog).toBe(0);
    expect(again.submit(records(20, "b9-"))).toBe(0);
    expect(new Set(ok.seen).size).toBe(400);
    await again.close();
    await ok.s.close();
  });
});

describe("AccountingExporter with hostile and slow peers", () => {
  it("answers signed with another secret are dropped and counted; the records stay spooled until a true answer", async () => {
    // a liar: answers every request at once with an Accounting-Response whose authenticator is made up
    const liar = createSocket("udp4");
    await new Promise<void>((r) => liar.bind(0, "127.0.0.1", () => r()));
    liar.on("message", (msg, from) => {
      const answer = Buffer.alloc(20);
      answer[0] = RadiusCode.AccountingResponse;
      answer[1] = msg[1]!;
      answer.writeUInt16BE(20, 2);
      answer.fill(0x5a, 4);
      liar.send(answer, from.port, from.address);
    });
    const spoolPath = join(dir, "liar.spool");
    const ex = await AccountingExporter.open({ spoolPath, servers: [{ address: "127.0.0.1", port: liar.address().port }], secret: "s3cret", bindAddress: "127.0.0.1", initialTimeoutMs: 200, maxDurationMs: 1000, serverRetryMs: 200 });
    ex.submit(records(5, "l"));
    expect(await ex.drained(1500)).toBe(false);
    expect(ex.backlog).toBe(10);
    expect([...ex.drops.keys()].some((cause) => /authenticator/i.test(cause)), [...ex.drops.keys()].join()).toBe(true);
    await ex.close();
    liar.close();
    // the same spool, an honest server: everything goes, once
    const honest = await server("s3cret");
    const again = await AccountingExporter.open({ spoolPath, servers: [honest.s.address()], secret: "s3cret", bindAddress: "127.0.0.1" });
    expect(await again.drained(5000)).toBe(true);
    expect(new Set(honest.seen).size).toBe(10);
    await again.close();
    await honest.s.close();
  });

  it("a flood of garbage at the exporter's port is dropped and counted, and the records still go", async () => {
    const ok = await server("s3cret", 20);
    const ex = await AccountingExporter.open({ spoolPath: join(dir, "flood.spool"), servers: [ok.s.address()], secret: "s3cret", bindAddress: "127.0.0.1" });
    const flood = createSocket("udp4");
    const rnd = seededRandom(7);
    ex.submit(records(50, "f"));
    for (let i = 0; i < 1000; i++) {
      flood.send(Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 60) }, () => Math.floor(rnd() * 256))), ex.localPort, "127.0.0.1");
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5)); // within the socket's receive buffer
    }
    expect(await ex.drained(10_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    const dropped = [...ex.drops.values()].reduce((a, b) => a + b, 0);
    expect(dropped).toBeGreaterThan(500); // each one that reached the socket (UDP on a loaded loopback loses some)
    expect(ex.answered).toBe(100);
    flood.close();
    await ex.close();
    await ok.s.close();
  });

  it("a slow server (1.5 s per answer) is retransmitted to with the same bytes and logs each record once", async () => {
    const slow = await server("s3cret", 1500);
    const ex = await AccountingExporter.open({ spoolPath: join(dir, "slow.spool"), servers: [slow.s.address()], secret: "s3cret", bindAddress: "127.0.0.1", initialTimeoutMs: 300 });
    ex.submit(records(3, "s"));
    expect(await ex.drained(10_000)).toBe(true);
    // our server's duplicate cache (RFC 5080 §2.2.2) answers the retransmissions without handling them again
    expect(slow.seen.sort()).toEqual(["s0;originating|1", "s0;originating|2", "s1;originating|1", "s1;originating|2", "s2;originating|1", "s2;originating|2"]);
    await ex.close();
    await slow.s.close();
  });
});

describe("AccountingSpool recovery from damaged files", () => {
  it("10^5 mutated spools: parsing never throws, and what it returns is well-formed", () => {
    const path = join(dir, "fuzz.spool");
    const seedSpool = AccountingSpool.open(path, AccountingSpool.recover(path), 40000);
    const recs = records(2, "z");
    recs[0]!.attributes.push(["Class", CLASS_BYTES], [26, VSA_OCTETS]);
    seedSpool.accept(recs);
    seedSpool.sent(recs[0]!.key, "127.0.0.1:1813", Buffer.from("bytes"));
    seedSpool.answered(recs[1]!.key);
    seedSpool.close();
    const seed = readFileSync(path);
    expect(parseSpool(seed.toString("utf8")).pending).toHaveLength(3);
    const rnd = seededRandom(16);
    const jsonish = { interesting: (out: Buffer, pos: number, r: () => number) => void (out[pos] = [0x22, 0x7b, 0x7d, 0x0a, 0x3a, 0x5b][Math.floor(r() * 6)]!), fixLength: () => {} };
    let recovered = 0;
    let bad = 0;
    let binary = 0;
    let raw = 0;
    for (let i = 0; i < 100_000; i++) {
      const state = parseSpool(mutateBytes(seed, rnd, jsonish).toString("utf8"));
      for (const p of state.pending) {
        expect(typeof p.record.key).toBe("string");
        expect(p.record.attributes.every((a) => typeof a[0] === "string" ? typeof a[1] === "string" || typeof a[1] === "number" || Buffer.isBuffer(a[1]) : Buffer.isBuffer(a[1]))).toBe(true);
        binary += p.record.attributes.filter((a) => Buffer.isBuffer(a[1])).length;
        raw += p.record.attributes.filter((a) => typeof a[0] === "number").length;
        // what is recovered can be sent: the exporter encodes it without an exception
        for (const a of p.record.attributes) toRadiusAttribute(a);
        if (p.lastSent) expect(Buffer.isBuffer(p.lastSent.datagram)).toBe(true);
      }
      recovered += state.pending.length;
      bad += state.badLines;
    }
    expect(recovered).toBeGreaterThan(0);
    expect(bad).toBeGreaterThan(0);
    expect(binary).toBeGreaterThan(0);
    expect(raw).toBeGreaterThan(0);
  }, 120_000);
});

describe("AccountingSpool with binary attribute values", () => {
  it("a Buffer value is spooled as base64 under an explicit marker and read back byte for byte, also after compaction", () => {
    const path = join(dir, "binary.spool");
    const spool = AccountingSpool.open(path, AccountingSpool.recover(path), 40001);
    const [rec] = records(1, "b");
    rec!.attributes.push(["Class", CLASS_BYTES]);
    spool.accept([rec!]);
    spool.close();
    expect(readFileSync(path, "utf8")).toContain(`["Class",{"b64":"${CLASS_BYTES.toString("base64")}"}]`);
    const state = AccountingSpool.recover(path);
    expect(state.badLines).toBe(0);
    const cls = state.pending[0]!.record.attributes.find((a) => a[0] === "Class")![1];
    expect(Buffer.isBuffer(cls) && cls.equals(CLASS_BYTES)).toBe(true);
    // rewritten on open (compaction) and read again: still the same bytes
    AccountingSpool.open(path, state, 40001).close();
    const again = AccountingSpool.recover(path).pending[0]!.record.attributes.find((a) => a[0] === "Class")![1];
    expect(Buffer.isBuffer(again) && again.equals(CLASS_BYTES)).toBe(true);
  });

  it("a spool line written before binary values existed still reads; a malformed bytes marker is a bad line, not an exception", () => {
    const old = '{"v":1,"port":40002}\n{"rec":{"key":"k1","sessionId":"s1","status":"Start","eventMs":1,"attributes":[["User-Name","a@x"],["Acct-Status-Type","Start"],["Acct-Session-Time",3]]}}\n';
    const state = parseSpool(old);
    expect(state.badLines).toBe(0);
    expect(state.pending.map((p) => p.record.attributes)).toEqual([[["User-Name", "a@x"], ["Acct-Status-Type", "Start"], ["Acct-Session-Time", 3]]]);
    const hostile = [
      '{"rec":{"key":"k2","sessionId":"s","status":"Start","eventMs":1,"attributes":[["Class",{"b64":"not base64!"}]]}}',
      '{"rec":{"key":"k3","sessionId":"s","status":"Start","eventMs":1,"attributes":[["Class",{"b64":"AAA"}]]}}',
      '{"rec":{"key":"k4","sessionId":"s","status":"Start","eventMs":1,"attributes":[["Class",{"b64":"AAAA","x":1}]]}}',
      '{"rec":{"key":"k5","sessionId":"s","status":"Start","eventMs":1,"attributes":[["Class",{"type":"Buffer","data":[1,2]}]]}}',
      '{"rec":{"key":"k6","sessionId":"s","status":"Start","eventMs":1,"attributes":[["Class",null]]}}',
      // well-formed JSON the dictionary cannot encode: it would throw when sent
      '{"rec":{"key":"k7","sessionId":"s","status":"Start","eventMs":1,"attributes":[["Acct-Session-Time",{"b64":"AAAA"}]]}}',
      '{"rec":{"key":"k8","sessionId":"s","status":"Start","eventMs":1,"attributes":[["Acct-Session-Time","abc"]]}}',
      '{"rec":{"key":"k9","sessionId":"s","status":"Start","eventMs":1,"attributes":[["No-Such-Attribute",1]]}}',
    ].join("\n");
    const bad = parseSpool(hostile);
    expect(bad.pending).toEqual([]);
    expect(bad.badLines).toBe(8);
  });

  it("an exporter opening a spool with a record it cannot encode skips that line and sends the rest", async () => {
    const path = join(dir, "unencodable.spool");
    const good = records(1, "u")[0]!;
    const lines = ['{"v":1}', '{"rec":{"key":"bad","sessionId":"s","status":"Start","eventMs":1,"attributes":[["Acct-Session-Time","abc"]]}}', JSON.stringify({ rec: good })];
    writeFileSync(path, `${lines.join("\n")}\n`);
    const s = await server("s3cret");
    const ex = await AccountingExporter.open({ spoolPath: path, servers: [s.s.address()], secret: "s3cret", bindAddress: "127.0.0.1" });
    expect(ex.backlog).toBe(1);
    expect(await ex.drained(10_000)).toBe(true);
    expect(s.seen).toEqual(["u0;originating|1"]);
    await ex.close();
    await s.s.close();
  });

  it("the exporter sends a binary attribute byte for byte", async () => {
    const got: Buffer[] = [];
    const s = await RadiusUdpServer.listen({
      port: 0,
      secretFor: () => "s3cret",
      handler: (p) => {
        const cls = attributeValue(p, "Class");
        if (Buffer.isBuffer(cls)) got.push(cls);
        return { code: RadiusCode.AccountingResponse, attributes: [] };
      },
    });
    const ex = await AccountingExporter.open({ spoolPath: join(dir, "binary-send.spool"), servers: [s.address()], secret: "s3cret", bindAddress: "127.0.0.1" });
    const [rec] = records(1, "c");
    rec!.attributes.push(["Class", CLASS_BYTES]);
    ex.submit([rec!]);
    expect(await ex.drained(10_000)).toBe(true);
    expect(got).toHaveLength(1);
    expect(got[0]!.equals(CLASS_BYTES)).toBe(true);
    await ex.close();
    await s.close();
  });
});
