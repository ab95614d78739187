// RFC 7118: SIP over WebSocket (subprotocol "sip", one SIP message per WebSocket message), via `ws`.
import { WebSocket, WebSocketServer } from "ws";
import type { IncomingMessage } from "node:http";
import { DEFAULT_SIP_PARSE_LIMITS, parseSipMessage, type SipParseLimits } from "./message-parser.js";
import { ConnectionTable, normaliseAddress, type TransportConnection } from "./transport-connections.js";
import type { SipTransport, TransportEvents } from "./transport-interface.js";
import { SipTransportError, type TransportAddress } from "./transport-types.js";

export interface WebSocketTransportOptions {
  host: string;
  port: number;
  limits?: Partial<SipParseLimits>;
  /** "ws" (default) or "wss" when fronted by TLS termination; only changes how addresses are labelled. */
  protocol?: "ws" | "wss";
  connectTimeoutMs?: number;
}

type Connection = TransportConnection<WebSocket>;

export class WebSocketTransport implements SipTransport {
  readonly protocol: "ws" | "wss";
  readonly reliable = true;
  private server: WebSocketServer | undefined;
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
    const server = new WebSocketServer({
      host: this.options.host,
      port: this.options.port,
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
      server.once("error", (err) => reject(new SipTransportError("listen-failed", `ws listen on ${this.options.host}:${this.options.port}: ${err.message}`)));
      server.once("listening", () => {
        const a = server.address();
        this.bound = { protocol: this.protocol, host: this.options.host, port: typeof a === "object" && a ? a.port : this.options.port };
        server.removeAllListeners("error");
        server.on("error", () => undefined);
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
      const socket = new WebSocket(`${scheme}://${host}:${destination.port}`, "sip", { handshakeTimeout: this.options.connectTimeoutMs ?? 5000 });
      socket.once("open", () => resolve(this.adopt(socket, { ...destination })));
      socket.once("error", (err) => reject(new SipTransportError("unreachable", `ws connect to ${destination.host}:${destination.port} failed: ${err.message}`, destination, { cause: err })));
    });
  }

  close(): Promise<void> {
    this.connections.closeAll((socket) => socket.terminate());
    const s = this.server;
    this.server = undefined;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.close(() => resolve()));
  }
}
