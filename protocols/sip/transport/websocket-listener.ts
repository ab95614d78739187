// RFC 7118 listener pieces shared by the WebSocketTransport and the socket driver's WebSocket links: the HTTP(S)
// server a WebSocket upgrades from, with the listener's connection limits applied before any upgrade, the "sip"
// subprotocol required (§4), frames above the message size refused unread (close 1009), and one SIP message per
// WebSocket message (§5.1).
import { WebSocket, WebSocketServer } from "ws";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { SecureContextOptions } from "node:tls";
import { normaliseAddress } from "./transport-connections.js";
import { ConnectionGate, DEFAULT_CONNECTION_LIMITS, type ConnectionLimits, type ConnectionPeer, type ConnectionRefusal } from "../../net/connection-limits.js";

/** Where and how a SIP WebSocket listener listens, and who hears of its connections and refusals. */
export interface SipWebSocketListenerOptions {
  host: string;
  port: number;
  /** "wss" is WebSocket over TLS (RFC 7118 §3): `tls` then carries the certificate and key. */
  protocol: "ws" | "wss";
  tls?: { secureContext: SecureContextOptions; requireClientCert?: boolean };
  /** Frames larger than this are refused before they are buffered (close 1009). */
  maxMessageBytes: number;
  /** Connection cap, per-source cap, and the head deadline for the TLS handshake and the upgrade request. */
  connectionLimits?: Partial<ConnectionLimits>;
  /** An upgraded connection that chose the "sip" subprotocol: its peer, and the local port it came in on. */
  onConnection(socket: WebSocket, peer: { address: string; port: number; localPort: number }): void;
  /** A connection the listener's limits refused. */
  onRefused(cause: ConnectionRefusal, peer: ConnectionPeer): void;
}

/** A bound SIP WebSocket listener. */
export interface SipWebSocketListener {
  readonly port: number;
  /** Connections accepted and not yet closed (upgraded or not). */
  readonly open: number;
  close(): Promise<void>;
}

/** Binds a SIP WebSocket listener (rejects with the bind error). */
export function listenSipWebSocket(options: SipWebSocketListenerOptions): Promise<SipWebSocketListener> {
  const tls = options.tls;
  if (options.protocol === "wss" && !tls) return Promise.reject(new Error("wss listener needs a certificate and key (RFC 7118 §3: WSS is WebSocket over TLS)"));
  const mutual = tls?.requireClientCert === true;
  const headerTimeoutMs = options.connectionLimits?.headerTimeoutMs ?? DEFAULT_CONNECTION_LIMITS.headerTimeoutMs;
  const handshake = headerTimeoutMs > 0 ? { handshakeTimeout: headerTimeoutMs } : {};
  const tlsServer = options.protocol === "wss" && tls ? createHttpsServer({ ...tls.secureContext, requestCert: mutual, rejectUnauthorized: mutual, ...handshake }) : undefined;
  // Our own HTTP server for ws too, so the listener's limits hold before any upgrade.
  const httpServer: HttpServer = tlsServer ?? createHttpServer();
  // An upgraded connection may stay silent: RFC 7118 leaves keep-alives to the client, so no idle timeout.
  const gate = new ConnectionGate({ ...options.connectionLimits, idleTimeoutMs: 0 }, (cause, peer) => options.onRefused(cause, peer));
  gate.attach(httpServer);
  if (headerTimeoutMs > 0) httpServer.headersTimeout = headerTimeoutMs;
  // A plain HTTP request (no upgrade) gets 426 and the connection closes (RFC 6455 §4.2.2): it holds nothing.
  httpServer.on("request", (_req, res) => {
    res.writeHead(426, { Upgrade: "websocket", Connection: "close", "Content-Length": "0" });
    res.end();
  });
  // A failed or timed-out TLS handshake closes its socket.
  tlsServer?.on("tlsClientError", (_err, socket) => socket.destroy());
  const server = new WebSocketServer({
    server: httpServer,
    maxPayload: options.maxMessageBytes,
    // RFC 7118 §4: the "sip" subprotocol is mandatory.
    handleProtocols: (protocols) => (protocols.has("sip") ? "sip" : false),
  });
  server.on("connection", (socket, req) => {
    if (socket.protocol !== "sip") {
      socket.close(1002, "subprotocol sip required");
      return;
    }
    options.onConnection(socket, { address: normaliseAddress(req.socket.remoteAddress), port: req.socket.remotePort ?? 0, localPort: req.socket.localPort ?? 0 });
  });
  return new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(options.port, options.host, () => {
      httpServer.removeListener("error", reject);
      httpServer.on("error", () => undefined);
      const a = httpServer.address();
      resolve({
        port: typeof a === "object" && a ? a.port : options.port,
        get open() {
          return gate.open;
        },
        close: () =>
          new Promise((done) => {
            for (const c of server.clients) c.terminate();
            httpServer.closeAllConnections();
            server.close(() => httpServer.close(() => done()));
          }),
      });
    });
  });
}

/**
 * The SIP message a WebSocket message carries (RFC 7118 §5.1: exactly one), or undefined for a keep-alive: a bare
 * CRLF or CRLFCRLF (RFC 5626 §4.4.1) is no message.
 */
export function sipWebSocketMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): Buffer | undefined {
  const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  if (!isBinary && isKeepAlive(buf)) return undefined;
  return buf;
}

function isKeepAlive(buf: Buffer): boolean {
  if (buf.length === 0 || buf.length % 2 !== 0) return false;
  for (let i = 0; i < buf.length; i += 2) if (buf[i] !== 13 || buf[i + 1] !== 10) return false;
  return true;
}

export type { WebSocket };
