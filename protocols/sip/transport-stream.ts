// RFC 3261 §18.3 framing over a byte stream (TCP, TLS): connection reuse, per-connection stream parser,
// garbage or oversized input closes the connection before anything is buffered whole.
import type { Server, Socket } from "node:net";
import type { SipParseLimits } from "./message-parser.js";
import { SipParseError } from "./sip-parse-error.js";
import { SipStreamParser } from "./stream-parser.js";
import { ConnectionTable, normaliseAddress, type TransportConnection } from "./transport-connections.js";
import type { SipTransport, TransportEvents } from "./transport-interface.js";
import { SipTransportError, type TransportAddress } from "./transport-types.js";

export interface StreamTransportOptions {
  host: string;
  port: number;
  limits?: Partial<SipParseLimits>;
  /** Give up connecting after this long (ms). */
  connectTimeoutMs?: number;
  /** Close connections idle this long (ms); 0 keeps them. */
  idleTimeoutMs?: number;
}

type Connection = TransportConnection<Socket>;

function peerKey(a: { host: string; port: number }): string {
  return `${a.host.toLowerCase()}|${a.port}`;
}

export abstract class StreamTransport implements SipTransport {
  abstract readonly protocol: "tcp" | "tls";
  readonly reliable = true;
  private server: Server | undefined;
  private events: TransportEvents | undefined;
  private bound: TransportAddress | undefined;
  private readonly connections = new ConnectionTable<Socket>((socket) => !socket.destroyed, peerKey);
  private readonly connecting = new Map<string, Promise<Connection>>();

  constructor(protected readonly options: StreamTransportOptions) {}

  protected abstract createServer(onSocket: (socket: Socket) => void): Server;
  protected abstract connectSocket(destination: TransportAddress): Socket;
  /** Event name signalling an outbound socket is ready to carry data. */
  protected abstract readonly readyEvent: "connect" | "secureConnect";

  get local(): TransportAddress {
    return this.bound ?? { protocol: this.protocol, host: this.options.host, port: this.options.port };
  }

  get openConnections(): number {
    return this.connections.size;
  }

  listen(events: TransportEvents): Promise<void> {
    this.events = events;
    const server = this.createServer((socket) => this.adopt(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", (err) => reject(new SipTransportError("listen-failed", `${this.protocol} listen on ${this.options.host}:${this.options.port}: ${err.message}`)));
      server.listen(this.options.port, this.options.host, () => {
        const a = server.address();
        const port = typeof a === "object" && a ? a.port : this.options.port;
        this.bound = { protocol: this.protocol, host: this.options.host, port };
        server.removeAllListeners("error");
        server.on("error", () => undefined);
        resolve();
      });
    });
  }

  private adopt(socket: Socket, peerOverride?: TransportAddress): Connection {
    const peer: TransportAddress = peerOverride ?? {
      protocol: this.protocol,
      host: normaliseAddress(socket.remoteAddress),
      port: socket.remotePort ?? 0,
    };
    const conn = this.connections.add(this.protocol, socket, peer);
    const id = conn.id;
    const parser = new SipStreamParser(this.options.limits ? { limits: this.options.limits } : {});
    socket.setNoDelay(true);
    if (this.options.idleTimeoutMs) socket.setTimeout(this.options.idleTimeoutMs, () => socket.destroy());
    socket.on("data", (chunk: Buffer) => {
      let messages;
      try {
        messages = parser.push(chunk);
      } catch (err) {
        const oversized = err instanceof SipParseError && (err.code === "message-too-large" || err.code === "line-too-long" || err.code === "too-many-headers");
        this.events?.rejected(oversized ? "oversized" : "malformed-stream", peer, err instanceof Error ? err.message : String(err));
        socket.destroy();
        return;
      }
      for (const m of messages) this.events?.message(m, { source: peer, local: this.local, connectionId: id });
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
      socket.write(data, (err) => {
        if (err) reject(new SipTransportError("send-failed", `${this.protocol} write to ${destination.host}:${destination.port} failed: ${err.message}`, destination, { cause: err }));
        else resolve();
      });
    });
  }

  private connect(destination: TransportAddress): Promise<Connection> {
    const key = peerKey(destination);
    const pending = this.connecting.get(key);
    if (pending) return pending;
    const attempt = new Promise<Connection>((resolve, reject) => {
      const socket = this.connectSocket(destination);
      const timeout = setTimeout(() => {
        socket.destroy();
        reject(new SipTransportError("unreachable", `${this.protocol} connect to ${destination.host}:${destination.port} timed out`, destination));
      }, this.options.connectTimeoutMs ?? 5000);
      socket.once("error", (err) => {
        clearTimeout(timeout);
        reject(new SipTransportError("unreachable", `${this.protocol} connect to ${destination.host}:${destination.port} failed: ${err.message}`, destination, { cause: err }));
      });
      socket.once(this.readyEvent, () => {
        clearTimeout(timeout);
        resolve(this.adopt(socket, { ...destination, protocol: this.protocol }));
      });
    });
    this.connecting.set(key, attempt);
    const clear = () => this.connecting.delete(key);
    attempt.then(clear, clear);
    return attempt;
  }

  close(): Promise<void> {
    this.connections.closeAll((socket) => socket.destroy());
    const s = this.server;
    this.server = undefined;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.close(() => resolve()));
  }
}
