// RFC 7118: SIP over WebSocket (subprotocol "sip", one SIP message per WebSocket message), via `ws`. WSS is
// the same over TLS (RFC 7118 §3, RFC 6455 §11.1.2): its own HTTPS server, certificate and key required.
import { WebSocket } from "ws";
import type { SecureContextOptions } from "node:tls";
import type { ConnectionLimits } from "../../net/connection-limits.js";
import { DEFAULT_SIP_PARSE_LIMITS, parseSipMessage, type SipParseLimits } from "../codec/message-parser.js";
import { ConnectionTable, type TransportConnection } from "./transport-connections.js";
import type { SipTransport, TransportEvents } from "./transport-interface.js";
import { SipTransportError, type TransportAddress } from "./transport-types.js";
import { listenSipWebSocket, sipWebSocketMessage, type SipWebSocketListener } from "./websocket-listener.js";

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
  private listener: SipWebSocketListener | undefined;
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

  async listen(events: TransportEvents): Promise<void> {
    this.events = events;
    const tls = this.options.tls;
    try {
      this.listener = await listenSipWebSocket({
        host: this.options.host,
        port: this.options.port,
        protocol: this.protocol,
        ...(tls ? { tls } : {}),
        maxMessageBytes: { ...DEFAULT_SIP_PARSE_LIMITS, ...this.options.limits }.maxMessageBytes,
        ...(this.options.connectionLimits ? { connectionLimits: this.options.connectionLimits } : {}),
        onConnection: (socket, peer) => this.adopt(socket, { protocol: this.protocol, host: peer.address, port: peer.port }),
        onRefused: (cause, peer) => this.events?.rejected(cause, { protocol: this.protocol, host: peer.address, port: peer.port }, `${cause} (${this.protocol} listener)`),
      });
    } catch (err) {
      throw new SipTransportError("listen-failed", `${this.protocol} listen on ${this.options.host}:${this.options.port}: ${err instanceof Error ? err.message : String(err)}`, this.bound);
    }
    this.bound = { protocol: this.protocol, host: this.options.host, port: this.listener.port };
  }

  private adopt(socket: WebSocket, peer: TransportAddress): Connection {
    const conn = this.connections.add(this.protocol, socket, peer);
    socket.on("message", (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const buf = sipWebSocketMessage(data, isBinary);
      if (buf === undefined) return;
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
    const listener = this.listener;
    this.listener = undefined;
    return listener ? listener.close() : Promise.resolve();
  }
}
