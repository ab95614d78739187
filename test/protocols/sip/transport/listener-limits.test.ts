// Connection limits of the SIP stream listener (caps, idle timeout, head and body deadlines) and the
// refusals RFC 3261 asks for on input that does not parse whole: 513 (§21.5.7) and 400 (§18.3) on a
// stream before closing it, 400 for a datagram whose Content-Length exceeds it (§18.3) or that lacks a
// mandatory header (§8.2, §16.3 step 1). Real loopback sockets, a real proxy.
import { createConnection, type Socket } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SipStreamParser, startProxyServer, type ProxyServer, type SipResponse } from "../../../../protocols/sip/index.js";
import { DEFAULT_CONNECTION_LIMITS, resolveConnectionLimits, type ConnectionLimits } from "../../../../protocols/net/connection-limits.js";
import { UdpPeer, eventually, optionsText, tcpClient } from "./loopback-fixtures.js";

const servers: ProxyServer[] = [];
const sockets: Socket[] = [];
const drops: string[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  drops.length = 0;
});

async function proxy(connectionLimits: Partial<ConnectionLimits>, maxServerTransactions?: number): Promise<{ server: ProxyServer; udp: number; tcp: number }> {
  const server = await startProxyServer({
    ...(maxServerTransactions !== undefined ? { maxServerTransactions } : {}),
    listen: [
      { protocol: "udp", host: "127.0.0.1", port: 0 },
      { protocol: "tcp", host: "127.0.0.1", port: 0 },
    ],
    hook: () => ({ action: "respond", status: 200 }),
    connectionLimits,
    onDrop: (cause) => drops.push(cause),
    allowDestination: (d) => d.host === "127.0.0.1",
  });
  servers.push(server);
  return { server, udp: server.addresses.find((a) => a.protocol === "udp")!.port, tcp: server.addresses.find((a) => a.protocol === "tcp")!.port };
}

function connect(port: number, localAddress = "127.0.0.1"): Promise<{ socket: Socket; closed: Promise<void>; isClosed: () => boolean }> {
  const socket = createConnection({ host: "127.0.0.1", port, localAddress });
  sockets.push(socket);
  let closedFlag = false;
  const closed = new Promise<void>((r) =>
    socket.once("close", () => {
      closedFlag = true;
      r();
    }),
  );
  socket.on("error", () => undefined);
  socket.on("data", () => undefined);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve({ socket, closed, isClosed: () => closedFlag }));
    socket.once("error", reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("SIP stream listener limits", () => {
  it("closes connections beyond the connection cap, counted and reported", async () => {
    const { server, tcp } = await proxy({ maxConnections: 5, maxConnectionsPerSource: 0 });
    const conns = await Promise.all(Array.from({ length: 8 }, () => connect(tcp)));
    await eventually(() => conns.filter((c) => c.isClosed()).length === 3);
    await sleep(100);
    expect(conns.filter((c) => c.isClosed())).toHaveLength(3);
    expect(server.transport.stats.connectionCap).toBe(3);
    expect(drops.filter((d) => d === "connection-cap")).toHaveLength(3);
    // A place frees up when one closes.
    conns.find((c) => !c.isClosed())!.socket.destroy();
    await sleep(200);
    const again = await connect(tcp);
    await sleep(100);
    expect(again.isClosed()).toBe(false);
  });

  it("caps connections per source address; another source still gets in", async () => {
    const { server, tcp } = await proxy({ maxConnectionsPerSource: 2 });
    const a = await Promise.all([connect(tcp), connect(tcp), connect(tcp)]);
    await eventually(() => a.filter((c) => c.isClosed()).length === 1);
    const other = await connect(tcp, "127.0.0.2");
    await sleep(100);
    expect(other.isClosed()).toBe(false);
    expect(server.transport.stats.sourceCap).toBe(1);
  });

  it("closes an idle connection after the idle timeout", async () => {
    const { server, tcp } = await proxy({ idleTimeoutMs: 300 });
    const c = await connect(tcp);
    await c.closed;
    expect(server.transport.stats.idleTimeouts).toBe(1);
    expect(drops).toContain("idle-timeout");
  });

  it("closes a slowloris head (a byte every 50 ms) at the header deadline, though bytes keep coming", async () => {
    const { server, tcp } = await proxy({ headerTimeoutMs: 400, idleTimeoutMs: 10_000 });
    const c = await connect(tcp);
    const text = optionsText({ port: 1, uriPort: tcp, transport: "TCP" });
    let i = 0;
    const drip = setInterval(() => {
      if (!c.isClosed()) c.socket.write(text[i++ % text.length]!);
    }, 50);
    try {
      await c.closed;
    } finally {
      clearInterval(drip);
    }
    expect(i).toBeLessThan(text.length); // closed before the head could be whole
    expect(server.transport.stats.headerTimeouts).toBe(1);
  });

  it("closes a connection whose body does not arrive by the body deadline", async () => {
    const { server, tcp } = await proxy({ bodyTimeoutMs: 300, idleTimeoutMs: 10_000 });
    const c = await connect(tcp);
    const text = optionsText({ port: 1, uriPort: tcp, transport: "TCP", body: "x".repeat(100) });
    c.socket.write(text.slice(0, text.length - 50)); // head and half the body
    await c.closed;
    expect(server.transport.stats.bodyTimeouts).toBe(1);
  });

  it("keeps a connection that sends whole messages, and answers them", async () => {
    const { server, tcp } = await proxy({ headerTimeoutMs: 300, bodyTimeoutMs: 300, idleTimeoutMs: 10_000 });
    const c = await tcpClient(tcp);
    sockets.push(c.socket);
    for (let k = 0; k < 5; k++) {
      c.socket.write(optionsText({ port: c.socket.localPort!, uriPort: tcp, transport: "TCP" }));
      await sleep(150);
    }
    await eventually(() => c.messages.length === 5);
    expect(c.messages.map((m) => (m as SipResponse).status)).toEqual([200, 200, 200, 200, 200]);
    expect(server.transport.stats).toMatchObject({ headerTimeouts: 0, bodyTimeouts: 0, idleTimeouts: 0 });
  });
});

describe("SIP WebSocket listener limits", () => {
  it("caps connections per source and closes an upgrade request that stops half-way at the header deadline", async () => {
    const server = await startProxyServer({
      listen: [{ protocol: "ws", host: "127.0.0.1", port: 0 }],
      hook: () => ({ action: "respond", status: 200 }),
      connectionLimits: { maxConnectionsPerSource: 2, headerTimeoutMs: 300 },
      onDrop: (cause) => drops.push(cause),
    });
    servers.push(server);
    const port = server.addresses[0]!.port;
    const open = await Promise.all([connect(port), connect(port), connect(port)]);
    await eventually(() => open.filter((c) => c.isClosed()).length === 1);
    const other = await connect(port, "127.0.0.2");
    other.socket.write("GET / HTTP/1.1\r\nHost: x\r\n"); // never ends its head
    await other.closed;
    expect(drops).toContain("source-cap");
    expect(server.transport.stats.sourceCap).toBe(1);
  });
});

describe("SIP refusals for input that does not parse whole", () => {
  it("stream: a Content-Length past the message size limit gets 513 Message Too Large, then the connection closes", async () => {
    const { server, tcp } = await proxy({});
    const c = await tcpClient(tcp);
    sockets.push(c.socket);
    const text = optionsText({ port: c.socket.localPort!, uriPort: tcp, transport: "TCP" }).replace("Content-Length: 0", "Content-Length: 1000000");
    c.socket.write(text);
    await c.closed;
    expect(c.messages).toHaveLength(1);
    expect((c.messages[0] as SipResponse).status).toBe(513);
    expect(c.messages[0]!.callId).toMatch(/^opt-/);
    expect(server.transport.stats).toMatchObject({ oversized: 1, refusalsSent: 1 });
  });

  it("stream: a request without Content-Length gets 400, then the connection closes (§18.3)", async () => {
    const { server, tcp } = await proxy({});
    const c = await tcpClient(tcp);
    sockets.push(c.socket);
    const text = optionsText({ port: c.socket.localPort!, uriPort: tcp, transport: "TCP" }).replace("Content-Length: 0\r\n", "");
    c.socket.write(text);
    await c.closed;
    expect((c.messages[0] as SipResponse).status).toBe(400);
    expect(server.transport.stats.malformedStreams).toBe(1);
  });

  it("stream: garbage closes the connection without an answer", async () => {
    const { server, tcp } = await proxy({});
    const c = await tcpClient(tcp);
    sockets.push(c.socket);
    c.socket.write(Buffer.from("\x00\x01garbage that is no start line\r\n\r\n", "latin1"));
    await c.closed;
    expect(c.messages).toHaveLength(0);
    expect(server.transport.stats.malformedStreams).toBe(1);
  });

  it("UDP: a request whose Content-Length exceeds the datagram gets 400 (§18.3)", async () => {
    const { server, udp } = await proxy({});
    const peer = new UdpPeer();
    const port = await peer.bind();
    try {
      const text = optionsText({ port, uriPort: udp, body: "v=0\r\n" }).replace("Content-Length: 5", "Content-Length: 500");
      await peer.send(text, udp);
      const answer = (await peer.waitFor((m) => "status" in m)) as SipResponse;
      expect(answer.status).toBe(400);
      expect(answer.reason).toContain("Content-Length");
      expect(answer.cseq.method).toBe("OPTIONS");
      expect(answer.to.params.get("tag")).toBeDefined();
      expect(server.transport.stats).toMatchObject({ malformedDatagrams: 1, refusalsSent: 1 });
      expect(drops).toEqual(["malformed-datagram"]);
    } finally {
      await peer.close();
    }
  });

  it("UDP: a Content-Length that is no number gets 400 naming it; a request missing Call-ID or its request line is dropped", async () => {
    const { server, udp } = await proxy({});
    const peer = new UdpPeer();
    const port = await peer.bind();
    try {
      const text = optionsText({ port, uriPort: udp });
      await peer.send(text.replace("Content-Length: 0", "Content-Length: zero"), udp);
      const answer = (await peer.waitFor((m) => "status" in m)) as SipResponse;
      expect(answer.status).toBe(400);
      expect(answer.reason).toContain("Content-Length");
      // No answer could carry the Call-ID a client matches on (§17.1.3), nor go to a request that is none.
      await peer.send(text.replace(/Call-ID: [^\r]*\r\n/, ""), udp);
      await peer.send(text.replace(/^OPTIONS [^\r]*/, "HELLO"), udp);
      await eventually(() => server.transport.stats.malformedDatagrams === 3);
      await sleep(100);
      expect(peer.received).toHaveLength(1);
      expect(server.transport.stats.refusalsSent).toBe(1);
    } finally {
      await peer.close();
    }
  });

  it("UDP: Max-Forwards 0 gets 483 Too Many Hops (§16.3 step 3)", async () => {
    const { udp } = await proxy({});
    const peer = new UdpPeer();
    const port = await peer.bind();
    try {
      await peer.send(optionsText({ port, uriPort: udp }).replace("Max-Forwards: 70", "Max-Forwards: 0"), udp);
      const answer = (await peer.waitFor((m) => "status" in m)) as SipResponse;
      expect(answer.status).toBe(483);
    } finally {
      await peer.close();
    }
  });
});

describe("SIP overload", () => {
  it("past the server-transaction bound a new request gets 503 with Retry-After (§21.5.4); a retransmission still finds its transaction", async () => {
    const { server, udp } = await proxy({}, 3);
    const peer = new UdpPeer();
    const port = await peer.bind();
    try {
      const texts = Array.from({ length: 5 }, () => optionsText({ port, uriPort: udp }));
      for (const t of texts.slice(0, 3)) await peer.send(t, udp);
      await eventually(() => peer.received.length === 3);
      for (const t of texts.slice(3)) await peer.send(t, udp);
      await eventually(() => peer.received.length === 5);
      await peer.send(texts[0]!, udp); // §17.2.2: the completed transaction answers its retransmission again
      await eventually(() => peer.received.length === 6);
      const statuses = peer.received.map((m) => (m as SipResponse).status);
      expect(statuses).toEqual([200, 200, 200, 503, 503, 200]);
      expect(peer.received[3]!.getHeader("retry-after")).toBe("5");
      expect(server.transport.stats.overloadRefusals).toBe(2);
      expect(server.transactions.serverCount).toBe(3);
      expect(drops.filter((d) => d === "overload")).toHaveLength(2);
    } finally {
      await peer.close();
    }
  });
});

describe("SipStreamParser framing is linear", () => {
  it("a 60 KB message fed one byte at a time is framed whole with O(log n) buffer allocations", () => {
    const body = "a".repeat(60_000);
    const text = optionsText({ port: 5060, uriPort: 5060, transport: "TCP", body });
    const bytes = Buffer.from(text);
    const parser = new SipStreamParser();
    const allocs = vi.spyOn(Buffer, "allocUnsafe");
    const got = [];
    try {
      for (let i = 0; i < bytes.length; i++) got.push(...parser.push(bytes.subarray(i, i + 1)));
    } finally {
      allocs.mockRestore();
    }
    expect(got).toHaveLength(1);
    expect(got[0]!.body.toString()).toBe(body);
    // Doubling from 4 KiB to 128 KiB: 6 allocations (a copy per byte would be 60,000).
    expect(allocs.mock.calls.length).toBeLessThanOrEqual(8);
    expect(parser.bufferedBytes).toBe(0);
    expect(parser.phase).toBe("idle");
  });

  it("refuses a first line that is no Request-Line or Status-Line as soon as it ends, before the head does", () => {
    const garbage = new SipStreamParser();
    expect(garbage.push(Buffer.from("\x16\x03\x01 hello"))).toEqual([]);
    expect(() => garbage.push(Buffer.from(" there\r\nmore"))).toThrow(/bad-start-line/);
    const fine = new SipStreamParser();
    expect(fine.push(Buffer.from("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"))).toEqual([]);
    expect(new SipStreamParser().push(Buffer.from("SIP/2.0 180 Ringing\r\nVia: x"))).toEqual([]);
    expect(fine.phase).toBe("head");
  });

  it("says which part of a message it waits for", () => {
    const parser = new SipStreamParser();
    const text = optionsText({ port: 5060, uriPort: 5060, transport: "TCP", body: "hello" });
    const headEnd = text.indexOf("\r\n\r\n") + 4;
    expect(parser.phase).toBe("idle");
    parser.push(Buffer.from(text.slice(0, 10)));
    expect(parser.phase).toBe("head");
    parser.push(Buffer.from(text.slice(10, headEnd + 2)));
    expect(parser.phase).toBe("body");
    expect(parser.push(Buffer.from(text.slice(headEnd + 2)))).toHaveLength(1);
    expect(parser.phase).toBe("idle");
  });
});

describe("connection limit settings", () => {
  it("fills in the defaults and refuses a setting that is not a non-negative integer, by name", () => {
    expect(resolveConnectionLimits({ idleTimeoutMs: 5 })).toEqual({ ...DEFAULT_CONNECTION_LIMITS, idleTimeoutMs: 5 });
    expect(() => resolveConnectionLimits({ maxConnectionsPerSource: -1 })).toThrow(/maxConnectionsPerSource/);
    expect(() => resolveConnectionLimits({ headerTimeoutMs: 1.5 })).toThrow(/headerTimeoutMs/);
  });
});
