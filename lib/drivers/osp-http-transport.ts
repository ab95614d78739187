// OSP on the socket driver (ETSI TS 101 321 over HTTP/1.1 POST): the clearinghouse's HTTP(S) listener, keep-alive
// POST pools from each policy server, or an in-process hand-over when the run asks for no HTTP.
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { MAX_OSP_DOCUMENT_BYTES } from "../../protocols/osp/xml-tree.js";
import { HttpPostPool } from "./http-post-pool.js";
import type { SendAction } from "./node.js";
import { LOOPBACK } from "./socket-addresses.js";
import { certifiedPeer, closeFailedHandshakes, handshakeTimeoutMs, type ListenerGates } from "./socket-listeners.js";
import { tlsClientOptions, tlsFor, tlsServerOptions } from "./socket-tls.js";
import type { SocketDriverContext } from "./socket-types.js";

type PendingHttp = { res: ServerResponse; requester: string };

/** OSP requests and answers between nodes: HTTP listeners of OSP servers, POST pools of their clients. */
export class OspHttpTransport {
  /** OSP clients: keep-alive connections from a node to an OSP server, by "from|to". */
  private readonly pools = new Map<string, HttpPostPool>();

  constructor(
    private readonly net: SocketDriverContext,
    private readonly gates: ListenerGates,
  ) {}

  listen(name: string): Promise<HttpServer> {
    const opts = this.net.options;
    return new Promise((resolve, reject) => {
      const tls = opts.tls;
      const listener = (req: IncomingMessage, res: ServerResponse): void => this.onRequest(name, req, res);
      const server = tls && tlsFor(tls, "OSP") ? closeFailedHandshakes(createHttpsServer({ ...tlsServerOptions(tls, name, handshakeTimeoutMs(opts)), keepAlive: true }, listener)) : createHttpServer({ keepAlive: true }, listener);
      server.keepAliveTimeout = 30_000;
      server.once("error", reject);
      this.gates.limit(server, name, "OSP");
      const d = opts.directory?.[name];
      server.listen(d?.osp ?? 0, d?.host ?? LOOPBACK, () => resolve(server));
    });
  }

  private onRequest(server: string, req: IncomingMessage, res: ServerResponse): void {
    const opts = this.net.options;
    const chunks: Buffer[] = [];
    let size = Number(req.headers["content-length"] ?? 0); // a declared length over the bound is refused before its body
    const tooLarge = (): void => {
      // RFC 9110 §15.5.14: no OSP document is this large; the rest is not read.
      opts.onDrop?.("OSP", "body-too-large", `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? 0}`);
      res.writeHead(413, { connection: "close", "content-length": 0 }).end();
      req.destroy();
    };
    if (size > MAX_OSP_DOCUMENT_BYTES * 2) {
      tooLarge();
      return;
    }
    size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_OSP_DOCUMENT_BYTES * 2) chunks.push(c);
      else if (!res.headersSent) tooLarge();
    });
    req.on("end", () => {
      const requester = /callgate-(\S+)/.exec(req.headers["user-agent"] ?? "")?.[1];
      if (req.method !== "POST" || requester === undefined || !(this.net.isLocal(requester) || opts.directory?.[requester])) {
        res.writeHead(400).end();
        return;
      }
      if (!certifiedPeer(opts, "OSP", req.socket, requester)) {
        res.writeHead(403, { connection: "close" }).end(); // mutual TLS: the certificate does not name the requester
        return;
      }
      const pending: PendingHttp = { res, requester };
      const remotePort = req.socket.remotePort ?? 0;
      const localPort = req.socket.localPort ?? 0;
      const body = Buffer.concat(chunks);
      this.net.deliver("OSP", requester, server, body, this.net.hints.take("OSP", requester, server, body), (a) => {
        if (a.proto !== "OSP" || a.to !== pending.requester || pending.res.headersSent) return false;
        this.net.record(server, a, { kind: "http", src: req.socket.localAddress ?? LOOPBACK, srcPort: localPort, dst: req.socket.remoteAddress ?? LOOPBACK, dstPort: remotePort });
        // TS 101 321 over HTTP: the answer is the response body.
        pending.res.writeHead(200, { "content-type": "text/plain", "content-length": a.bytes.length }).end(a.bytes);
        return true;
      });
    });
  }

  send(from: string, a: SendAction): void {
    const net = this.net;
    const opts = net.options;
    if (opts.osp === "in-process") {
      net.record(from, a, undefined);
      setImmediate(() => net.deliver("OSP", from, a.to, a.bytes, a.callId, (reply) => {
        if (reply.proto !== "OSP" || reply.to !== from) return false;
        net.record(a.to, reply, undefined);
        setImmediate(() => net.deliver("OSP", a.to, from, reply.bytes, reply.callId));
        return true;
      }));
      return;
    }
    const addr = net.listening(a.to, "osp");
    if (!addr) return;
    let pool = this.pools.get(`${from}|${a.to}`);
    if (!pool) {
      const tls = opts.tls;
      const secure = tls && tlsFor(tls, "OSP") ? { tls: tlsClientOptions(tls, from, a.to, addr.host, addr.port) } : {};
      pool = new HttpPostPool({ host: addr.host, port: addr.port, path: "/osp", ...secure }, 8, `Content-Type: text/plain\r\nUser-Agent: callgate-${from}\r\n`);
      this.pools.set(`${from}|${a.to}`, pool);
    }
    const t = net.now;
    if (net.isLocal(a.to)) net.hints.add("OSP", from, a.to, a.bytes, a.callId);
    pool.post(a.bytes, {
      onSocket: (sock) => {
        if (opts.onRecord) net.record(from, a, { kind: "http", src: sock.localAddress ?? LOOPBACK, srcPort: sock.localPort ?? 0, dst: addr.host, dstPort: addr.port }, t);
      },
      // One request at a time per connection (no pipelining): the answer belongs to this request's call.
      onAnswer: (status, body) => {
        if (status === 200) net.deliver("OSP", a.to, from, body, a.callId);
      },
      onError: () => undefined, // unreachable clearinghouse: the policy server's timer decides
    });
  }

  destroy(): void {
    for (const pool of this.pools.values()) pool.destroy();
  }
}
