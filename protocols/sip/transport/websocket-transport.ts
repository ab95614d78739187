// RFC 7118: SIP over WebSocket (subprotocol "sip", one SIP message per WebSocket message), via `ws`. WSS is
// the same over TLS (RFC 7118 §3, RFC 6455 §11.1.2): its own HTTPS server, certificate and key required.
import { WebSocket, WebSocketServer } from "ws";
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { SecureContextOptions } from "node:tls";
import { ConnectionGate, DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "../../net/connection-limits.js";
import { DEFAULT_SIP_PARSE_LIMITS, parseSipMessage, type SipParseLimits } from "../codec/message-parser.js";
import { ConnectionTable, normaliseAddress, type TransportConnection } from "./transport-connections.js";
import type { SipTransport, TransportEvents } from "./transport-interface.js";
import { SipTransportError, type TransportAddress } from "./transport-types.js";

/** Address, limits, TLS and connect timeout of a WebSocketTransport. */
export interface WebSocketTransportOptions {
  host: string;
  port: number;
  limits?: Partial<SipParseLimits>;
  /** "ws" (default) or "wss": WebSocket over TLS, which needs `tls`. */
  protocol?: "ws" | "wss";
  connectTimeoutMs?: number;
  /** wss: certificate and key presented, CA for verifying peers (server and, with requireClientCert, clients). */
  tls?: WebSocketTlsOptions;
  /**
   * The connection cap, per-source cap and head deadline (the TLS handshake and the HTTP upgrade request)
   * apply; the idle timeout does not: an upgraded connection may stay silent (RFC 7118 leaves keep-alives
   * to the client).
   */
  connectionLimits?: Partial<ConnectionLimits>;
}

/** TLS for SIP over secure WebSocket (wss, RFC 7118 §5): certificates and peer verification. */
export interface WebSocketTlsOptions {
  secureContext: SecureContextOptions;
  /** Ask every client for a certificate and refuse the handshake without a valid one (mutual TLS). */
  requireClientCert?: boolean;
  /** Verify the server's certificate on outbound wss connections (default true). */
  rejectUnauthorized?: boolean;
}

type Connection = TransportConnection<WebSocket>;

/** SIP over WebSocket (RFC 7118). */
export class WebSocketTransport implements SipTransport {
  readonly protocol: "ws" | "wss";
  readonly reliable = true;
  private server: WebSocketServer | undefined;
  /** The HTTP (ws) or HTTPS (wss) server the WebSocket server upgrades from. */
  private httpServer: HttpServer | undefined;
  private events: TransportEvents | undefined;
  private bound: TransportAddress;
  private readonly connections = new ConnectionTable<WebSocket>(
    (socket) => socket.readyState === WebSocket.OPEN,
    (peer) => `${peer.host}|${peer.port}`,
  );

  constructor(private readonly options: WebSocketTransportOptions) {
    this.protocol = options.protocol ?? "ws";
    this.bound = { protocol: this.protocol, host: options.host, port: options.port };
  }

  get local(): TransportAddress {
    return this.bound;
  }

  listen(events: TransportEvents): Promise<void> {
    this.events = events;
    const maxPayload = { ...DEFAULT_SIP_PARSE_LIMITS, ...this.options.limits }.maxMessageBytes;
    const tls = this.options.tls;
    if (this.protocol === "wss" && !tls) return Promise.reject(new SipTransportError("listen-failed", "wss listener needs a certificate and key (RFC 7118 §3: WSS is WebSocket over TLS)", this.bound));
    const mutual = tls?.requireClientCert === true;
    const headerTimeoutMs = this.options.connectionLimits?.headerTimeoutMs ?? DEFAULT_CONNECTION_LIMITS.headerTimeoutMs;
    const handshake = headerTimeoutMs > 0 ? { handshakeTimeout: headerTimeoutMs } : {};
    const tlsServer = this.protocol === "wss" && tls ? createHttpsServer({ ...tls.secureContext, requestCert: mutual, rejectUnauthorized: mutual, ...handshake }) : undefined;
    // Our own HTTP server for ws too, so the listener's limits hold before any upgrade.
    const httpServer: HttpServer = tlsServer ?? createHttpServer();
    this.httpServer = httpServer;
    new ConnectionGate({ ...this.options.connectionLimits, idleTimeoutMs: 0 }, (cause, peer) =>
      this.events?.rejected(cause, { protocol: this.protocol, host: peer.address, port: peer.port }, `${cause} (${this.protocol} listener)`),
    ).attach(httpServer);
    if (headerTimeoutMs > 0) httpServer.headersTimeout = headerTimeoutMs;
    const server = new WebSocketServer({
      server: httpServer,
      maxPayload, // ws refuses larger frames before buffering them (close 1009)
      // RFC 7118 §4: the "sip" subprotocol is mandatory.
      handleProtocols: (protocols) => (protocols.has("sip") ? "sip" : false),
    });
    this.server = server;
    server.on("connection", (socket: WebSocket, req: IncomingMessage) => {
      if (socket.protocol !== "sip") {
        socket.close(1002, "subprotocol sip required");
        return;
      }
      this.adopt(socket, { protocol: this.protocol, host: normaliseAddress(req.socket.remoteAddress), port: req.socket.remotePort ?? 0 });
    });
    return new Promise((resolve, reject) => {
      const listening = httpServer;
      listening.once("error", (err: Error) => reject(new SipTransportError("listen-failed", `${this.protocol} listen on ${this.options.host}:${this.options.port}: ${err.message}`)));
      httpServer.listen(this.options.port, this.options.host);
      listening.once("listening", () => {
        const a = listening.address();
        this.bound = { protocol: this.protocol, host: this.options.host, port: typeof a === "object" && a ? a.port : this.options.port };
        listening.removeAllListeners("error");
        listening.on("error", () => undefined);
        // A failed or timed-out handshake closes that socket only (node leaves it open without this listener).
        tlsServer?.on("tlsClientError", (_err, socket) => socket.destroy());
        resolve();
      });
    });
  }

  private adopt(socket: WebSocket, peer: TransportAddress): Connection {
    const conn = this.connections.add(this.protocol, socket, peer);
    socket.on("message", (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      // RFC 7118 §5.5 / RFC 5626 keep-alive: a bare CRLF(CRLF) is not a message.
      if (!isBinary && /^(\r\n)+$/.test(buf.toString("latin1"))) return;
      let message;
      try {
        message = parseSipMessage(buf, this.options.limits ? { limits: this.options.limits } : {});
      } catch (err) {
        this.events?.rejected("bad-frame", peer, err instanceof Error ? err.message : String(err));
        socket.close(1007, "malformed SIP message");
        return;
      }
      this.events?.message(message, { source: peer, local: this.local, connectionId: conn.id });
    });
    socket.on("error", () => undefined);
    socket.on("close", () => this.connections.remove(conn));
    return conn;
  }

  hasConnection(connectionId: string): boolean {
    return this.connections.hasOpen(connectionId);
  }

  async send(data: Buffer, destination: TransportAddress, connectionId?: string): Promise<void> {
    const conn = this.connections.reusable(connectionId, destination) ?? (await this.connect(destination));
    const socket = conn.socket;
    await new Promise<void>((resolve, reject) => {
      // RFC 7118 §5.1: text frames for UTF-8 messages; binary is also allowed, text is what browsers expect.
      socket.send(data, { binary: false }, (err) => {
        if (err) reject(new SipTransportError("send-failed", `ws send to ${destination.host}:${destination.port} failed: ${err.message}`, destination, { cause: err }));
        else resolve();
      });
    });
  }

  private connect(destination: TransportAddress): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const scheme = destination.protocol === "wss" ? "wss" : "ws";
      const host = destination.host.includes(":") ? `[${destination.host}]` : destination.host;
      const tls = scheme === "wss" ? this.options.tls : undefined;
      const secure = tls ? { ...tls.secureContext, rejectUnauthorized: tls.rejectUnauthorized ?? true } : {};
      const socket = new WebSocket(`${scheme}://${host}:${destination.port}`, "sip", { handshakeTimeout: this.options.connectTimeoutMs ?? 5000, ...secure });
      socket.once("open", () => resolve(this.adopt(socket, { ...destination })));
      socket.once("error", (err) => reject(new SipTransportError("unreachable", `ws connect to ${destination.host}:${destination.port} failed: ${err.message}`, destination, { cause: err })));
    });
  }

  close(): Promise<void> {
    this.connections.closeAll((socket) => socket.terminate());
    const s = this.server;
    const t = this.httpServer;
    this.server = undefined;
    this.httpServer = undefined;
    if (!s) return Promise.resolve();
    t?.closeAllConnections();
    return new Promise((resolve) => s.close(() => (t ? t.close(() => resolve()) : resolve())));
  }
}
