// Interop: a policy server built on the TransNexus OSP Toolkit (Debian libosptk-dev, the library behind
// Kamailio's and Asterisk's OSP modules) against callgate's clearinghouse over loopback HTTP. The toolkit
// sends AuthorizationRequest and UsageIndication, reads our AuthorizationResponse, validates our PKCS#7
// token locally against its CA, and reads our UsageConfirmation. Needs gcc and libosptk-dev: fails without.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OspDecodeError, decodeOspMessage, type OspComponent } from "../../../protocols/osp/index.js";
import { SqliteCdrStore } from "../../../lib/adapters/cdr-store-sqlite.js";
import { Clearinghouse } from "../../../lib/roles/clearinghouse.js";
import { startClearinghouseServer } from "../../../lib/roles/clearinghouse-server.js";
import { makeTestPki, type TestPki } from "../../protocols/osp/test-pki.js";

const dir = mkdtempSync(join(tmpdir(), "callgate-osptk-"));
const peer = join(dir, "toolkit-peer");
const numbers = join(dir, "toolkit-numbers");
let pki: TestPki;
let otherPki: TestPki;
let ecPki: TestPki;

beforeAll(() => {
  if (!existsSync("/usr/include/osp/osp.h")) throw new Error("libosptk-dev is not installed (apt-get install libosptk-dev)");
  execFileSync("gcc", ["-Wall", "-o", peer, join(process.cwd(), "test/interop/osp/toolkit-peer.c"), "-losptk", "-lssl", "-lcrypto", "-lpthread", "-lm"]);
  execFileSync("gcc", ["-Wall", "-o", numbers, join(process.cwd(), "test/interop/osp/toolkit-numbers.c"), "-losptk", "-lssl", "-lcrypto", "-lpthread", "-lm"]);
  pki = makeTestPki("Callgate Interop CA", { rsaBits: 2048 });
  otherPki = makeTestPki("Stranger CA", { rsaBits: 2048 });
  ecPki = makeTestPki("Callgate Interop EC CA", { keyType: "p256" });
  writeFileSync(join(dir, "key.pem"), pki.signer.privateKeyPem);
  writeFileSync(join(dir, "cert.pem"), pki.signer.certificatePem);
  writeFileSync(join(dir, "ca.pem"), pki.caCertificatePem);
  writeFileSync(join(dir, "ec-ca.pem"), ecPki.caCertificatePem);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface PeerResult {
  ok: boolean;
  step?: string;
  error?: number;
  numdest?: number;
  destination?: string;
  called?: string;
  timelimit?: number;
  authorised?: number;
  termlimit?: number;
}

/** `caFile`: the CA the toolkit trusts when it validates the token (its own key and certificate stay RSA). */
function runPeer(url: string, callId: string, caFile = "ca.pem"): Promise<PeerResult> {
  return new Promise((resolve, reject) => {
    const args = [url, join(dir, "key.pem"), join(dir, "cert.pem"), join(dir, caFile), "14045266060", "14043342535", callId];
    execFile(peer, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const line = stdout.trim().split("\n").pop() ?? "";
      try {
        resolve(JSON.parse(line) as PeerResult);
      } catch {
        reject(new Error(`toolkit peer printed no result (${String(err)}): ${stdout}\n${stderr}`));
      }
    });
  });
}

/** `calls` calls from one toolkit process, back to back, post-dial delays on and both sides reporting usage. */
function runPeerCalls(url: string, callPrefix: string, calls: number): Promise<PeerResult[]> {
  return new Promise((resolve, reject) => {
    const args = [url, join(dir, "key.pem"), join(dir, "cert.pem"), join(dir, "ca.pem"), "14045266060", "14043342535", callPrefix, "both-sides", String(calls)];
    execFile(peer, args, { timeout: 120_000 }, (err, stdout, stderr) => {
      try {
        resolve(stdout.trim().split("\n").map((l) => JSON.parse(l) as PeerResult));
      } catch {
        reject(new Error(`toolkit peer printed no results (${String(err)}): ${stdout}\n${stderr}`));
      }
    });
  });
}

async function withClearinghouse<T>(
  options: { signerPki: TestPki; spelling?: "toolkit" | "etsi"; db: string },
  body: (url: string, seen: Buffer[], store: SqliteCdrStore) => Promise<T>,
): Promise<T> {
  const store = new SqliteCdrStore(join(dir, options.db));
  const ch = new Clearinghouse({
    routes: [{ prefix: "1404", timeLimitSeconds: 3600, destinations: [{ address: "[192.0.2.20]:5060" }, { address: "[192.0.2.21]:5060" }] }],
    store,
    signer: options.signerPki.signer,
    ...(options.spelling ? { spelling: options.spelling } : {}),
  });
  const seen: Buffer[] = [];
  const handle = ch.handle.bind(ch);
  ch.handle = (request, nowMs, from) => {
    if (Buffer.isBuffer(request)) seen.push(request);
    return handle(request, nowMs, from);
  };
  const server = await startClearinghouseServer(ch, { url: "http://127.0.0.1:0/osp" });
  try {
    return await body(server.url, seen, store);
  } finally {
    await server.close();
    await store.close();
  }
}

describe("TransNexus OSP Toolkit as the policy server", () => {
  it("authorises, validates our signed token, and reports usage that becomes a CDR", async () => {
    await withClearinghouse({ signerPki: pki, db: "cdr-1.sqlite" }, async (url, seen, store) => {
      const result = await runPeer(url, "call-1@192.0.2.10");
      expect(result).toMatchObject({
        ok: true,
        numdest: 2,
        destination: "[192.0.2.20]:5060",
        called: "14043342535",
        timelimit: 3600,
        authorised: 1,
        termlimit: 3600,
      });
      // What the toolkit sent, as our codec reads it.
      const kinds = seen.map((b) => decodeOspMessage(b).components[0]!.kind);
      expect(kinds).toEqual(["AuthorisationRequest", "UsageIndication"]);
      expect(seen[0]!.toString()).toContain("<AuthorizationRequest ");
      const usage = decodeOspMessage(seen[1]!).components[0] as OspComponent;
      if (usage.kind !== "UsageIndication") throw new Error(usage.kind);
      expect(usage.deviceInfo).toEqual([{ type: "transport", value: "[192.0.2.10]" }]);
      expect(usage.usageDetails[0]).toMatchObject({ amount: 61, increment: 1, unit: "s", releaseSource: "source" });
      expect(usage.usageDetails[0]!.endTime! - usage.usageDetails[0]!.startTime!).toBe(61_000);
      const cdrs = await store.query();
      expect(cdrs.length).toBe(1);
      expect(cdrs[0]).toMatchObject({
        role: "source",
        callId: Buffer.from("call-1@192.0.2.10").toString("base64"),
        source: "14045266060",
        destination: "14043342535",
        destinationSignalAddress: "[192.0.2.20]:5060",
        duration: 61,
        unit: "s",
      });
      expect(cdrs[0]!.endTime! - cdrs[0]!.startTime!).toBe(61_000);
    });
  });

  it("refuses a token signed under a CA it does not trust", async () => {
    await withClearinghouse({ signerPki: otherPki, db: "cdr-2.sqlite" }, async (url) => {
      const result = await runPeer(url, "call-2@192.0.2.10");
      expect(result.ok).toBe(false);
      expect(result.step).toBe("validate");
    });
  });

  it("validates an ECDSA P-256 token (ecdsa-with-SHA256, RFC 5753) under an EC CA", async () => {
    await withClearinghouse({ signerPki: ecPki, db: "cdr-4.sqlite" }, async (url, _seen, store) => {
      const result = await runPeer(url, "call-4@192.0.2.10", "ec-ca.pem");
      expect(result).toMatchObject({ ok: true, authorised: 1, termlimit: 3600, destination: "[192.0.2.20]:5060", called: "14043342535" });
      expect((await store.query()).length).toBe(1);
    });
  });

  it("refuses an ECDSA token when it trusts only the RSA CA", async () => {
    await withClearinghouse({ signerPki: ecPki, db: "cdr-5.sqlite" }, async (url) => {
      const result = await runPeer(url, "call-5@192.0.2.10");
      expect(result).toMatchObject({ ok: false, step: "validate" });
    });
  });

  it("also reads the ETSI spelling (AuthorisationResponse)", async () => {
    await withClearinghouse({ signerPki: pki, spelling: "etsi", db: "cdr-3.sqlite" }, async (url) => {
      const result = await runPeer(url, "call-3@192.0.2.10");
      expect(result).toMatchObject({ ok: true, authorised: 1, destination: "[192.0.2.20]:5060" });
    });
  });

  it("50 calls within one second, post-dial delays on: one CDR per call and side, none merged", { timeout: 120_000 }, async () => {
    await withClearinghouse({ signerPki: pki, db: "cdr-burst.sqlite" }, async (url, seen, store) => {
      // Start at the top of a second: the toolkit's messageIds (rand_r seeded with time(NULL)) collide within one.
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 10));
      const results = await runPeerCalls(url, "burst@192.0.2.10", 50);
      const calls = Array.from({ length: 50 }, (_, i) => `burst@192.0.2.10-${i}`);
      expect(results.length).toBe(50);
      expect(results.filter((r) => !r.ok)).toEqual([]);
      const requests = seen.map((b) => decodeOspMessage(b));
      const authorisationIds = requests.filter((m) => m.components[0]!.kind === "AuthorisationRequest").map((m) => m.messageId);
      const usageIds = requests.filter((m) => m.components[0]!.kind === "UsageIndication").map((m) => m.messageId);
      expect(authorisationIds.length).toBe(50);
      expect(usageIds.length).toBe(100);
      const stamps = requests.map((m) => m.components[0]!).filter((c) => c.kind === "AuthorisationRequest").map((c) => c.timestamp!);
      console.log(
        `toolkit burst: ${new Set(authorisationIds).size} distinct AuthorizationRequest messageIds, ${new Set(usageIds).size} distinct ` +
          `UsageIndication messageIds for 50 calls; AuthorizationRequest timestamps span ${(Math.max(...stamps) - Math.min(...stamps)) / 1000} s`,
      );
      // The scenario of the lost CDRs: messageIds shared between calls.
      expect(new Set(authorisationIds).size).toBeLessThan(50);
      // What the toolkit wrote for post-dial delay, as read.
      const originating = requests.map((m) => m.components[0]!).find((c) => c.kind === "UsageIndication" && c.role === "source");
      if (originating?.kind !== "UsageIndication") throw new Error("no originating UsageIndication");
      expect(originating.usageDetails[0]!.postDialDelays).toEqual([
        { type: "destination", seconds: 1.234 },
        { type: "source", seconds: 1.01 },
      ]);
      const cdrs = await store.query();
      const bySide = (role: string) => cdrs.filter((c) => c.role === role);
      expect(bySide("source").length).toBe(50);
      expect(bySide("destination").length).toBe(50);
      const transactions = new Set(cdrs.map((c) => c.transactionId));
      expect(transactions.size).toBe(50);
      for (const tid of transactions) {
        const pair = await store.query({ transactionId: tid! });
        expect(pair.map((c) => c.role).sort()).toEqual(["destination", "source"]);
        expect(pair[0]!.callId).toBe(pair[1]!.callId);
      }
      expect(new Set(bySide("source").map((c) => Buffer.from(c.callId!, "base64").toString()))).toEqual(new Set(calls));
    });
  });
});

describe("the toolkit's number writers, read by callgate's codec", () => {
  interface Written {
    writer: "num" | "float" | "code" | "transaction-id" | "time";
    given: string;
    text: string;
  }
  const written = (): Written[] =>
    execFileSync(numbers, { encoding: "utf8" })
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Written);

  const usageWith = (detail: string, extra = "") =>
    `<?xml version="1.0"?><Message messageId="1"><UsageIndication componentId="1">${extra}<UsageDetail>${detail}</UsageDetail></UsageIndication></Message>`;
  const usageDetailOf = (xml: string) => {
    const c = decodeOspMessage(xml).components[0]!;
    if (c.kind !== "UsageIndication") throw new Error(c.kind);
    return c;
  };

  it("reads every float the toolkit writes (%.4f) as Amount and PostDialDelay", () => {
    const floats = written().filter((w) => w.writer === "float");
    expect(floats.length).toBeGreaterThan(5);
    for (const { given, text } of floats) {
      const c = usageDetailOf(usageWith(`<PostDialDelay type="source">${text}</PostDialDelay><Amount>${text}</Amount><Increment>1</Increment><Unit>s</Unit>`));
      const d = c.usageDetails[0]!;
      const tolerance = 5e-5 + Math.abs(Number(given)) * 1e-7; // four decimals of a float32
      expect(Math.abs(d.amount - Number(given))).toBeLessThanOrEqual(tolerance);
      expect(Math.abs(d.postDialDelays![0]!.seconds - Number(given))).toBeLessThanOrEqual(tolerance);
    }
  });

  it("reads every code (%03ld) as Status Code and TCCode, and every transaction id as written", () => {
    const all = written();
    for (const { given, text } of all.filter((w) => w.writer === "code")) {
      const cnf = decodeOspMessage(`<Message messageId="1"><UsageConfirmation><Status><Code>${text}</Code></Status></UsageConfirmation></Message>`).components[0]!;
      expect(cnf.kind === "UsageConfirmation" && cnf.status.code).toBe(Number(given));
      const c = usageDetailOf(usageWith("<Amount>1</Amount><Increment>1</Increment><Unit>s</Unit>", `<TerminationCause type="q850"><TCCode>${text}</TCCode></TerminationCause>`));
      expect(c.terminationCause?.code).toBe(Number(given));
    }
    const trx = all.filter((w) => w.writer === "transaction-id");
    expect(trx.map((w) => w.text)).toContain("18446744073709551615");
    for (const { given, text } of trx) expect(usageDetailOf(usageWith("<Amount>1</Amount><Increment>1</Increment><Unit>s</Unit>", `<TransactionId>${text}</TransactionId>`)).transactionId).toBe(given);
  });

  it("reads every time the toolkit writes as StartTime", () => {
    const times = written().filter((w) => w.writer === "time");
    expect(times.length).toBe(4);
    for (const { given, text } of times) {
      expect(usageDetailOf(usageWith("<Amount>1</Amount><Increment>1</Increment><Unit>s</Unit>", `<StartTime>${text}</StartTime>`)).startTime).toBe(Number(given) * 1000);
    }
  });

  it("reads every unsigned long (%lu) as Increment up to 2^53 - 1, and names the element of a larger one", () => {
    for (const { given, text } of written().filter((w) => w.writer === "num")) {
      const xml = usageWith(`<Amount>${text}</Amount><Increment>${text}</Increment><Unit>s</Unit>`);
      if (BigInt(given) <= BigInt(Number.MAX_SAFE_INTEGER)) {
        expect(usageDetailOf(xml).usageDetails[0]!.increment).toBe(Number(given));
      } else {
        let error: unknown;
        try {
          decodeOspMessage(xml);
        } catch (err) {
          error = err;
        }
        expect(error).toBeInstanceOf(OspDecodeError);
        expect(error).toMatchObject({ code: "bad-value", path: "Message/UsageIndication/UsageDetail/Increment", componentId: "1" });
        expect((error as OspDecodeError).reason).toContain("exceeds");
      }
    }
  });
});
