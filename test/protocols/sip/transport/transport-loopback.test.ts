// Transports on real loopback sockets: received/rport, §18.2.2 routing, §18.1.1 size rule, connection reuse,
// unreachable peers, garbage and oversized streams, WebSocket (RFC 7118) and TLS.
import { generateKeyPairSync } from "node:crypto";
import forge from "node-forge";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  SipRequest,
  SipTransportError,
  SipTransportLayer,
  TcpTransport,
  TransactionLayer,
  buildRequest,
  parseSipMessage,
  startProxyServer,
  type ProxyHook,
  type ProxyServer,
  type SipResponse,
  type TerminationReason,
} from "../../../../protocols/sip/index.js";
import { TcpPeer, UdpPeer, eventually, optionsText, tcpClient } from "./loopback-fixtures.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** OPTIONS is answered by the proxy itself; everything else goes to `nextHopPort`. */
function hookTo(nextHop?: { protocol: "udp" | "tcp"; port: number }): ProxyHook {
  return (ctx) =>
    ctx.method === "OPTIONS" || !nextHop
      ? { action: "respond", status: 200 }
      : { action: "forward", targets: [{ nextHop: { protocol: nextHop.protocol, host: "127.0.0.1", port: nextHop.port } }] };
}

async function proxy(listen: ("udp" | "tcp" | "ws")[], hook: ProxyHook, extra: Partial<Parameters<typeof startProxyServer>[0]> = {}): Promise<ProxyServer> {
  const s = await startProxyServer({ listen: listen.map((protocol) => ({ protocol, host: "127.0.0.1", port: 0 })), hook, ...extra });
  cleanups.push(() => s.close());
  return s;
}

function portOf(s: ProxyServer, protocol: string): number {
  return s.addresses.find((a) => a.protocol === protocol)!.port;
}

describe("UDP", () => {
  it("stamps received and rport on the Via and routes the response to them (RFC 3581, §18.2.2)", async () => {
    const s = await proxy(["udp"], hookTo());
    const peer = new UdpPeer();
    const port = await peer.bind();
    cleanups.push(() => peer.close());
    // The Via claims a documentation address; only received/rport lead back to us.
    await peer.send(optionsText({ port, sentBy: "192.0.2.77:5099", rport: true, uriPort: portOf(s, "udp") }), portOf(s, "udp"));
    const r = (await peer.waitFor((m) => "status" in m && m.status === 200)) as SipResponse;
    expect(r.topVia.received).toBe("127.0.0.1");
    expect(r.topVia.rport).toBe(port);
  });

  it("counts and drops malformed datagrams, then still serves", async () => {
    const s = await proxy(["udp"], hookTo());
    const peer = new UdpPeer();
    const port = await peer.bind();
    cleanups.push(() => peer.close());
    await peer.send("this is not SIP\r\n\r\n", portOf(s, "udp"));
    await peer.send(Buffer.from([0, 1, 2, 3, 255]), portOf(s, "udp"));
    await peer.send(optionsText({ port, uriPort: portOf(s, "udp") }), portOf(s, "udp"));
    await peer.waitFor((m) => "status" in m && m.status === 200);
    expect(s.transport.stats.malformedDatagrams).toBe(2);
  });

  it("answers 400 to a request whose CSeq is malformed (§8.2, §16.3 step 1)", async () => {
    const s = await proxy(["udp"], hookTo());
    const peer = new UdpPeer();
    const port = await peer.bind();
    cleanups.push(() => peer.close());
    await peer.send(optionsText({ port, uriPort: portOf(s, "udp") }).replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS"), portOf(s, "udp"));
    const r = (await peer.waitFor((m) => "status" in m)) as SipResponse;
    expect(r.status).toBe(400);
  });

  it("sends a request over TCP when it exceeds 1300 bytes (§18.1.1), with a TCP Via", async () => {
    const next = new TcpPeer();
    const nextPort = await next.listen();
    cleanups.push(() => next.close());
    const s = await proxy(["udp", "tcp"], hookTo({ protocol: "udp", port: nextPort }));
    const peer = new UdpPeer();
    const port = await peer.bind();
    cleanups.push(() => peer.close());
    const big = optionsText({ port, uriPort: portOf(s, "udp"), body: "v=0\r\n" + "a=x-padding:".padEnd(1500, "z") + "\r\n" }).replace(/OPTIONS/g, "MESSAGE");
    await peer.send(big, portOf(s, "udp"));
    await eventually(() => next.received.length > 0);
    const fwd = next.received[0] as SipRequest;
    expect(fwd.method).toBe("MESSAGE");
    expect(fwd.topVia.transport).toBe("TCP");
    expect(fwd.topVia.port).toBe(portOf(s, "tcp"));
    expect(s.transport.stats.sizeRuleSwitches).toBe(1);
  });
});

describe("TCP", () => {
  it("reuses one connection for requests to the same next hop", async () => {
    const next = new TcpPeer();
    const nextPort = await next.listen();
    cleanups.push(() => next.close());
    const s = await proxy(["udp", "tcp"], hookTo({ protocol: "tcp", port: nextPort }));
    const peer = new UdpPeer();
    const port = await peer.bind();
    cleanups.push(() => peer.close());
    for (let i = 0; i < 3; i++) await peer.send(optionsText({ port, uriPort: portOf(s, "udp") }).replace(/OPTIONS/g, "MESSAGE"), portOf(s, "udp"));
    await eventually(() => next.received.length === 3);
    expect(next.connections).toBe(1);
  });

  it("surfaces an unreachable peer to the client transaction as a transport error", async () => {
    const closed = new TcpPeer();
    const deadPort = await closed.listen();
    await closed.close(); // nobody listens there now
    const tcp = new TcpTransport({ host: "127.0.0.1", port: 0 });
    const transport = new SipTransportLayer({ transports: [tcp] });
    await transport.start();
    cleanups.push(() => transport.close());
    const layer = new TransactionLayer({ sender: transport });
    const req = buildRequest({
      method: "OPTIONS",
      uri: `sip:x@127.0.0.1:${deadPort};transport=tcp`,
      from: "<sip:a@example.com>;tag=1",
      to: "<sip:x@example.com>",
      callId: "unreach@example.com",
      cseq: 1,
      via: { host: "127.0.0.1", port: tcp.local.port, transport: "TCP" },
    });
    const result = await new Promise<{ reason: TerminationReason; error?: Error }>((resolve) =>
      layer.sendRequest(req, { protocol: "tcp", host: "127.0.0.1", port: deadPort }, {
        onResponse: () => undefined,
        onTerminated: (reason, _tx, error) => resolve({ reason, ...(error ? { error } : {}) }),
      }),
    );
    expect(result.reason).toBe("transport-error");
    expect(result.error).toBeInstanceOf(SipTransportError);
    expect((result.error as SipTransportError).code).toBe("unreachable");
  });

  it("a proxy whose TCP next hop refuses answers 500 at once rather than timing out", async () => {
    const closed = new TcpPeer();
    const deadPort = await closed.listen();
    await closed.close();
    const s = await proxy(["udp", "tcp"], hookTo({ protocol: "tcp", port: deadPort }));
    const peer = new UdpPeer();
    const port = await peer.bind();
    cleanups.push(() => peer.close());
    await peer.send(optionsText({ port, uriPort: portOf(s, "udp") }).replace(/OPTIONS/g, "MESSAGE"), portOf(s, "udp"));
    const r = (await peer.waitFor((m) => "status" in m && m.status >= 200)) as SipResponse;
    expect(r.status).toBe(500);
  });

  it("closes a connection that sends garbage", async () => {
    const s = await proxy(["tcp"], hookTo());
    const c = await tcpClient(portOf(s, "tcp"));
    c.socket.write("GARBAGE GARBAGE\r\nno colon here\r\n\r\n");
    await c.closed;
    expect(s.transport.stats.malformedStreams).toBe(1);
  });

  it("refuses an oversized message from its Content-Length, before the body arrives", async () => {
    const s = await proxy(["tcp"], hookTo());
    const c = await tcpClient(portOf(s, "tcp"));
    const head = optionsText({ port: 1, transport: "TCP", uriPort: portOf(s, "tcp") }).replace("Content-Length: 0", "Content-Length: 50000000");
    c.socket.write(head);
    await c.closed; // closed although not one body byte was sent
    expect(s.transport.stats.oversized).toBe(1);
  });

  it("answers over the connection the request came on (§18.2.2)", async () => {
    const s = await proxy(["tcp"], hookTo());
    const c = await tcpClient(portOf(s, "tcp"));
    c.socket.write(optionsText({ port: 9, sentBy: "192.0.2.5:5060", transport: "TCP", uriPort: portOf(s, "tcp") }));
    await eventually(() => c.messages.length > 0);
    expect((c.messages[0] as SipResponse).status).toBe(200);
    c.socket.destroy();
  });
});

describe("WebSocket (RFC 7118)", () => {
  async function wsConnect(port: number, protocols: string[] = ["sip"]): Promise<{ ws: WebSocket; messages: string[]; closed: Promise<number> }> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, protocols);
    const messages: string[] = [];
    ws.on("message", (d) => messages.push(d.toString()));
    const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return { ws, messages, closed };
  }

  it("carries one SIP message per WebSocket message and answers on the same connection", async () => {
    const s = await proxy(["ws"], hookTo());
    const c = await wsConnect(portOf(s, "ws"));
    c.ws.send(optionsText({ port: 1, transport: "WS", sentBy: "df7jal23ls0d.invalid", uriPort: portOf(s, "ws") }));
    await eventually(() => c.messages.length > 0);
    const r = parseSipMessage(Buffer.from(c.messages[0]!)) as SipResponse;
    expect(r.status).toBe(200);
    expect(r.topVia.received).toBe("127.0.0.1");
    c.ws.close();
  });

  it("refuses a handshake without the sip subprotocol", async () => {
    const s = await proxy(["ws"], hookTo());
    await expect(wsConnect(portOf(s, "ws"), ["chat"])).rejects.toThrow();
  });

  it("closes with 1007 on a malformed SIP message", async () => {
    const s = await proxy(["ws"], hookTo());
    const c = await wsConnect(portOf(s, "ws"));
    c.ws.send("NOT SIP AT ALL\r\n\r\n");
    expect(await c.closed).toBe(1007);
    expect(s.transport.stats.badFrames).toBe(1);
  });
});

describe("TLS", () => {
  it("answers OPTIONS over TLS with a self-signed certificate", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const keyPem = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString());
    cert.serialNumber = "01";
    cert.validity.notBefore = new Date(Date.now() - 60_000);
    cert.validity.notAfter = new Date(Date.now() + 3_600_000);
    const attrs = [{ name: "commonName", value: "proxy.example.com" }];
    cert.setSubject(attrs);
    cert.setIssuer(attrs);
    cert.setExtensions([{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }]);
    cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
    const certPem = forge.pki.certificateToPem(cert);
    const s = await startProxyServer({
      listen: [{ protocol: "tls", host: "127.0.0.1", port: 0 }],
      hook: hookTo(),
      tls: { secureContext: { key: keyPem, cert: certPem } },
    });
    cleanups.push(() => s.close());
    const { connect } = await import("node:tls");
    const sock = connect({ host: "127.0.0.1", port: portOf(s, "tls"), ca: certPem });
    await new Promise<void>((resolve, reject) => {
      sock.once("secureConnect", () => resolve());
      sock.once("error", reject);
    });
    let data = "";
    sock.on("data", (d: Buffer) => (data += d.toString()));
    sock.write(optionsText({ port: 1, transport: "TLS", uriPort: portOf(s, "tls") }));
    await eventually(() => data.includes("\r\n\r\n"));
    expect(data.startsWith("SIP/2.0 200")).toBe(true);
    sock.destroy();
  });
});
