import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import forge from "node-forge";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  OspClient,
  OspHttpError,
  authorisationRequest,
  decodeOspMessage,
  encodeOspMessage,
  startOspHttpServer,
  unwrapOspBody,
  usageIndication,
  type OspMessage,
} from "../../../protocols/osp/index.js";

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

function confirm(request: Buffer): Buffer {
  const m = decodeOspMessage(request);
  const answer: OspMessage = {
    messageId: m.messageId,
    components: m.components.map((c) =>
      c.kind === "UsageIndication"
        ? { kind: "UsageConfirmation", componentId: c.componentId, status: { code: 200 } }
        : { kind: "AuthorisationResponse", componentId: c.componentId, status: { code: 200 }, destinations: [] },
    ),
  };
  return encodeOspMessage(answer);
}

function selfSigned(): { keyPem: string; certificatePem: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 1024, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = "01";
  cert.validity.notBefore = new Date(Date.UTC(2000, 0, 1));
  cert.validity.notAfter = new Date(Date.UTC(2099, 0, 1));
  cert.setSubject([{ name: "commonName", value: "127.0.0.1" }]);
  cert.setIssuer([{ name: "commonName", value: "127.0.0.1" }]);
  cert.setExtensions([{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { keyPem: forge.pki.privateKeyToPem(keys.privateKey), certificatePem: forge.pki.certificateToPem(cert) };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "callgate-osp-http-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("OSP over HTTP/1.1", () => {
  it("POSTs text/plain bodies over one kept-alive connection", async () => {
    const sockets = new Set<string>();
    const seenTypes: string[] = [];
    const server = await startOspHttpServer({
      url: "http://127.0.0.1:0/osp",
      handler: async (body, info) => {
        sockets.add(`${info.remoteAddress}:${info.remotePort}`);
        seenTypes.push(info.contentType);
        return confirm(body);
      },
    });
    const client = new OspClient({ url: server.url, maxSockets: 1 });
    try {
      for (let i = 0; i < 5; i++) {
        const rsp = await client.authorise(
          authorisationRequest({ messageId: `m${i}`, nowMs: T0, callId: Buffer.from(`c${i}`), callingNumber: "1", calledNumber: "2" }),
        );
        expect(rsp.status.code).toBe(200);
      }
      expect(sockets.size).toBe(1);
      expect(seenTypes.every((t) => t === "text/plain")).toBe(true);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("answers 405 to GET and 404 off the service path", async () => {
    const server = await startOspHttpServer({ url: "http://127.0.0.1:0/osp", handler: async (b) => confirm(b) });
    try {
      expect((await fetch(server.url)).status).toBe(405);
      expect((await fetch(server.url.replace("/osp", "/other"), { method: "POST", body: "x" })).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it("times out a request that gets no answer", async () => {
    const silent = net.createServer((socket) => socket.resume()); // reads, never answers
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as net.AddressInfo).port;
    const client = new OspClient({ url: `http://127.0.0.1:${port}/osp`, timeoutMs: 200, attempts: 1 });
    try {
      await expect(client.post(Buffer.from("<Message/>"))).rejects.toThrow(/no answer within 200 ms/);
    } finally {
      await client.close();
      await new Promise((r) => silent.close(r));
    }
  });

  it("retries a failed request with the same bytes, so the same messageId", async () => {
    const seen: string[] = [];
    let calls = 0;
    const server = await startOspHttpServer({
      url: "http://127.0.0.1:0/osp",
      handler: async (body) => {
        seen.push(decodeOspMessage(body).messageId);
        calls++;
        if (calls === 1) return { status: 503, body: Buffer.from("busy") };
        return confirm(body);
      },
    });
    const client = new OspClient({ url: server.url, attempts: 3 });
    try {
      const rsp = await client.authorise(
        authorisationRequest({ messageId: "retry-1", nowMs: T0, callId: Buffer.from("c"), callingNumber: "1", calledNumber: "2" }),
      );
      expect(rsp.status.code).toBe(200);
      expect(seen).toEqual(["retry-1", "retry-1"]);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("does not retry a 4xx answer", async () => {
    let calls = 0;
    const server = await startOspHttpServer({
      url: "http://127.0.0.1:0/osp",
      handler: async () => {
        calls++;
        return { status: 400, body: Buffer.from("bad") };
      },
    });
    const client = new OspClient({ url: server.url, attempts: 3 });
    try {
      await expect(client.request(decodeOspMessage(confirm(encodeOspMessage(authorisationRequest({ messageId: "x", nowMs: T0, callId: Buffer.from("c"), callingNumber: "1", calledNumber: "2" })))))).rejects.toBeInstanceOf(OspHttpError);
      expect(calls).toBe(1);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("works over HTTPS with a trusted server certificate", async () => {
    const tls = selfSigned();
    const server = await startOspHttpServer({ url: "https://127.0.0.1:0/osp", tls, handler: async (b) => confirm(b) });
    const client = new OspClient({ url: server.url, caPem: [tls.certificatePem] });
    try {
      const rsp = await client.authorise(
        authorisationRequest({ messageId: "tls-1", nowMs: T0, callId: Buffer.from("c"), callingNumber: "1", calledNumber: "2" }),
      );
      expect(rsp.status.code).toBe(200);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("takes the signed part of a multipart/signed body", () => {
    const xml = '<?xml version="1.0"?><Message messageId="1"><UsageConfirmation><Status><Code>200</Code></Status></UsageConfirmation></Message>';
    const body = Buffer.from(
      `--bound\r\nContent-Type: text/plain\r\n\r\n${xml}\r\n--bound\r\nContent-Type: application/pkcs7-signature\r\n\r\nAAAA\r\n--bound--\r\n`,
    );
    const out = unwrapOspBody(body, 'multipart/signed; protocol="application/pkcs7-signature"; micalg=sha1; boundary="bound"');
    expect(out.toString()).toBe(xml);
    expect(unwrapOspBody(Buffer.from(xml), "text/plain").toString()).toBe(xml);
  });
});

describe("OspClient usage outbox", () => {
  it("spools usage while the clearinghouse is down and delivers each exactly once when it comes back", async () => {
    // Find a free port, keep it closed for a while.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const outboxPath = join(dir, "outbox-1.journal");
    const confirmed: string[] = [];
    const client = new OspClient({ url: `http://127.0.0.1:${port}/osp`, outboxPath, retryDelayMs: 50, onUsageConfirmed: (id) => confirmed.push(id) });
    const seen = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      await client.reportUsage(
        usageIndication({ messageId: `u${i}`, nowMs: T0, transactionId: "1", callId: Buffer.from(`c${i}`), role: "source", callingNumber: "1", calledNumber: "2", durationSeconds: i }),
      );
    }
    expect(client.pendingUsage()).toBe(20);
    await new Promise((r) => setTimeout(r, 150));
    expect(confirmed).toEqual([]);
    const server = await startOspHttpServer({
      url: `http://127.0.0.1:${port}/osp`,
      handler: async (body) => {
        const id = decodeOspMessage(body).messageId;
        seen.set(id, (seen.get(id) ?? 0) + 1);
        return confirm(body);
      },
    });
    try {
      await client.drainUsage();
      expect(client.pendingUsage()).toBe(0);
      expect([...seen.keys()].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `u${i}`).sort());
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(confirmed.length).toBe(20);
    } finally {
      await client.close();
      await server.close();
    }
    // Nothing is left in the journal for a new client.
    const again = new OspClient({ url: `http://127.0.0.1:${port}/osp`, outboxPath });
    expect(again.pendingUsage()).toBe(0);
    await again.close();
  });

  it("a new client picks up what an earlier one spooled", async () => {
    const outboxPath = join(dir, "outbox-2.journal");
    const first = new OspClient({ url: "http://127.0.0.1:9/osp", outboxPath, retryDelayMs: 10_000, timeoutMs: 200 });
    await first.reportUsage(
      usageIndication({ messageId: "left-1", nowMs: T0, transactionId: "1", callId: Buffer.from("c"), role: "source", callingNumber: "1", calledNumber: "2", durationSeconds: 5 }),
    );
    await first.close();
    const got: string[] = [];
    const server = await startOspHttpServer({
      url: "http://127.0.0.1:0/osp",
      handler: async (body) => {
        got.push(decodeOspMessage(body).messageId);
        return confirm(body);
      },
    });
    const second = new OspClient({ url: server.url, outboxPath });
    try {
      expect(second.pendingUsage()).toBe(1);
      await second.drainUsage();
      expect(got).toEqual(["left-1"]);
    } finally {
      await second.close();
      await server.close();
    }
  });
});
