import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { AnswerReader, HttpPostPool } from "../../../lib/drivers/http-post-pool.js";

type Outcome = { status: number; body: string; port: number } | { error: string };

function post(pool: HttpPostPool, body: string): Promise<Outcome> {
  return new Promise((resolve) => {
    let port = 0;
    pool.post(Buffer.from(body), {
      onSocket: (sock) => (port = sock.localPort ?? 0),
      onAnswer: (status, answer) => resolve({ status, body: answer.toString(), port }),
      onError: (err) => resolve({ error: err.message }),
    });
  });
}

const closers: Array<() => void> = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

async function httpServer(handler: Parameters<typeof createHttpServer>[1]): Promise<{ server: HttpServer; port: number }> {
  const server = createHttpServer({ keepAlive: true }, handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return { server, port: (server.address() as AddressInfo).port };
}

/** A raw TCP server answering every request (read up to its blank line and body) with the given bytes. */
async function rawServer(answer: (n: number) => string | undefined): Promise<{ port: number; accepted: () => number }> {
  let accepted = 0;
  let n = 0;
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((sock) => {
    accepted++;
    sockets.add(sock);
    let buf = "";
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        buf = buf.slice(end + 4 + length);
        const out = answer(n++);
        if (out === undefined) sock.destroy();
        else sock.write(out);
      }
    });
    sock.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, accepted: () => accepted };
}

describe("HttpPostPool (the socket driver's OSP-over-HTTP client)", () => {
  it("POSTs to node:http with the given fields and reuses one keep-alive connection", async () => {
    const seen: Array<{ method?: string; url?: string; ua?: string; ct?: string; body: string }> = [];
    const { port } = await httpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString();
        seen.push({ method: req.method, url: req.url, ua: req.headers["user-agent"], ct: req.headers["content-type"], body });
        const out = Buffer.from(`answer to ${body}`);
        res.writeHead(200, { "content-type": "text/plain", "content-length": out.length }).end(out);
      });
    });
    const pool = new HttpPostPool({ host: "127.0.0.1", port, path: "/osp" }, 4, "Content-Type: text/plain\r\nUser-Agent: callgate-POL1\r\n");
    closers.push(() => pool.destroy());
    const a = await post(pool, "<Message>1</Message>");
    const b = await post(pool, "<Message>2</Message>");
    expect(a).toMatchObject({ status: 200, body: "answer to <Message>1</Message>" });
    expect(b).toMatchObject({ status: 200, body: "answer to <Message>2</Message>" });
    expect("port" in a && "port" in b && a.port === b.port).toBe(true);
    expect(seen[0]).toEqual({ method: "POST", url: "/osp", ua: "callgate-POL1", ct: "text/plain", body: "<Message>1</Message>" });
  });

  it("answers concurrent requests in order on at most maxSockets connections, queueing the rest", async () => {
    const { server, port } = await httpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => setTimeout(() => res.writeHead(200, { "content-length": Buffer.concat(chunks).length }).end(Buffer.concat(chunks)), 5));
    });
    let connections = 0;
    server.on("connection", () => connections++);
    const pool = new HttpPostPool({ host: "127.0.0.1", port, path: "/osp" }, 3, "");
    closers.push(() => pool.destroy());
    const bodies = Array.from({ length: 20 }, (_, i) => `body-${i}-${"x".repeat(i * 500)}`);
    const out = await Promise.all(bodies.map((b) => post(pool, b)));
    expect(out.map((o) => ("body" in o ? o.body : o.error))).toEqual(bodies);
    expect(connections).toBe(3);
  });

  it("passes non-200 answers on (empty body, chunked body from node:http)", async () => {
    const { port } = await httpServer((req, res) => {
      req.resume();
      req.on("end", () => {
        if (req.headers["user-agent"] === "empty") res.writeHead(400).end();
        else {
          res.writeHead(500, { "content-type": "text/plain" });
          res.write("first part, ");
          res.end("second part");
        }
      });
    });
    const empty = new HttpPostPool({ host: "127.0.0.1", port, path: "/osp" }, 1, "User-Agent: empty\r\n");
    const chunked = new HttpPostPool({ host: "127.0.0.1", port, path: "/osp" }, 1, "User-Agent: chunked\r\n");
    closers.push(() => empty.destroy(), () => chunked.destroy());
    expect(await post(empty, "x")).toMatchObject({ status: 400, body: "" });
    expect(await post(chunked, "x")).toMatchObject({ status: 500, body: "first part, second part" });
    expect(await post(chunked, "y")).toMatchObject({ status: 500, body: "first part, second part" });
  });

  it("skips 100 Continue, honours Connection: close and close-delimited bodies", async () => {
    const answers = [
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
      "HTTP/1.0 200 OK\r\n\r\nuntil close",
    ];
    const { port, accepted } = await rawServer((n) => answers[n]);
    const pool = new HttpPostPool({ host: "127.0.0.1", port, path: "/osp" }, 1, "");
    closers.push(() => pool.destroy());
    expect(await post(pool, "a")).toMatchObject({ status: 200, body: "hello" });
    expect(await post(pool, "b")).toMatchObject({ status: 200, body: "abcde" });
    expect(await post(pool, "c")).toMatchObject({ status: 200, body: "ok" });
    expect(accepted()).toBe(1);
    // The server's close ended that connection: the next request opens another (n counts per server).
    const second = await rawServer((n) => (n === 0 ? answers[3] : undefined));
    const pool2 = new HttpPostPool({ host: "127.0.0.1", port: second.port, path: "/osp" }, 1, "");
    closers.push(() => pool2.destroy());
    const closeDelimited = new Promise<Outcome>((resolve) =>
      pool2.post(Buffer.from("d"), { onSocket: () => undefined, onAnswer: (status, body) => resolve({ status, body: body.toString(), port: 0 }), onError: (e) => resolve({ error: e.message }) }),
    );
    // The raw server keeps the connection open after a close-delimited answer: end it from the server side.
    setTimeout(() => closers.splice(-2, 1)[0]?.(), 50);
    expect(await closeDelimited).toMatchObject({ status: 200, body: "until close" });
  });

  it("AnswerReader: the same answers fed one byte at a time, or all in one chunk, give the same bodies", () => {
    const stream =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
      "HTTP/1.1 503 Busy\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
      "HTTP/1.1 204 No Content\r\n\r\n" +
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    const expected = [
      { status: 200, body: "hello", close: false },
      { status: 503, body: "abc", close: false },
      { status: 204, body: "", close: false },
      { status: 200, body: "", close: true },
    ];
    for (const step of [1, 2, 7, stream.length]) {
      const reader = new AnswerReader();
      const out: Array<{ status: number; body: Buffer; close: boolean }> = [];
      for (let i = 0; i < stream.length; i += step) reader.push(Buffer.from(stream.slice(i, i + step), "latin1"), out);
      expect(out.map((a) => ({ ...a, body: a.body.toString() }))).toEqual(expected);
      expect(reader.idle).toBe(true);
    }
    expect(() => new AnswerReader().push(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"), [])).toThrow(/Content-Length/);
    expect(() => new AnswerReader().push(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), [])).toThrow(/chunk size/);
  });

  it("reports an error when the connection closes before the answer, or nobody listens, or the answer is not HTTP", async () => {
    const { port } = await rawServer(() => undefined);
    const pool = new HttpPostPool({ host: "127.0.0.1", port, path: "/osp" }, 1, "");
    closers.push(() => pool.destroy());
    expect(await post(pool, "a")).toEqual({ error: "connection closed before the answer" });
    const garbage = await rawServer(() => "SIP/2.0 200 OK\r\n\r\n");
    const pool2 = new HttpPostPool({ host: "127.0.0.1", port: garbage.port, path: "/osp" }, 1, "");
    closers.push(() => pool2.destroy());
    expect(await post(pool2, "a")).toMatchObject({ error: expect.stringMatching(/not an HTTP\/1\.x answer/) });
    const dead = await rawServer(() => undefined);
    closers.splice(-1, 1)[0]?.();
    const pool3 = new HttpPostPool({ host: "127.0.0.1", port: dead.port, path: "/osp" }, 1, "");
    closers.push(() => pool3.destroy());
    expect(await post(pool3, "a")).toHaveProperty("error");
  });

  it("a connection the server closed while idle is replaced for the next request", async () => {
    const { server, port } = await httpServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(200, { "content-length": 2 }).end("ok"));
    });
    const pool = new HttpPostPool({ host: "127.0.0.1", port, path: "/osp" }, 1, "");
    closers.push(() => pool.destroy());
    const first = await post(pool, "a");
    server.closeIdleConnections();
    await new Promise((r) => setTimeout(r, 100));
    const second = await post(pool, "b");
    expect(second).toMatchObject({ status: 200, body: "ok" });
    expect("port" in first && "port" in second && first.port !== second.port).toBe(true);
  });
});
