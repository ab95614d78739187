// RFC 3261 §18.3 framing over a byte stream (TCP, TLS): connection reuse, per-connection stream parser,
// garbage or oversized input closes the connection before anything is buffered whole (an oversized or
// unframable request whose head was read is answered first: §21.5.7 513, §18.3 400). Inbound connections
// are held to the listener's connection limits (caps, idle timeout, head and body deadlines).
import type { Server, Socket } from "node:net";
import { ConnectionGate, type ConnectionLimits } from "../../net/connection-limits.js";
import type { SipParseLimits } from "../codec/message-parser.js";
import { SipParseError } from "../codec/sip-parse-error.js";
import { SipStreamParser } from "../codec/stream-parser.js";
import { ConnectionTable, normaliseAddress, type TransportConnection } from "./transport-connections.js";
import type { SipTransport, TransportEvents } from "./transport-interface.js";
import { SipTransportError, type TransportAddress } from "./transport-types.js";

/** Address, message and connection limits, and connect timeout of a StreamTransport. */
export interface StreamTransportOptions {
  host: string;
  port: number;
  limits?: Partial<SipParseLimits>;
  /** Give up connecting after this long (ms). */
  connectTimeoutMs?: number;
  /** Caps and timeouts of inbound connections (DEFAULT_CONNECTION_LIMITS where not given). */
  connectionLimits?: Partial<ConnectionLimits>;
}

/** How long a refused connection may take to read our answer before it is destroyed. */
const LINGER_MS = 2000;

type Connection = TransportConnection<Socket>;

function peerKey(a: { host: string; port: number }): string {
  return `${a.host.toLowerCase()}|${a.port}`;
}

/** SIP over a byte stream (TCP or TLS): connections, framing, limits. */
export abstract class StreamTransport implements SipTransport {
  abstract readonly protocol: "tcp" | "tls";
  readonly reliable = true;
  private server: Server | undefined;
  private events: TransportEvents | undefined;
  private bound: TransportAddress | undefined;
  private readonly connections = new ConnectionTable<Socket>((socket) => !socket.destroyed, peerKey);
  private readonly connecting = new Map<string, Promise<Connection>>();
  /** Limits of inbound connections; refusals are reported as rejections. */
  readonly gate: ConnectionGate;

  constructor(protected readonly options: StreamTransportOptions) {
    this.gate = new ConnectionGate(options.connectionLimits, (cause, peer) =>
      this.events?.rejected(cause, { protocol: this.protocol, host: peer.address, port: peer.port }, `${cause} (${this.protocol} listener)`),
    );
  }

  /** The listening server of this transport; `onSocket` gets each accepted connection. */
  protected abstract createServer(onSocket: (socket: Socket) => void): Server;
  /** Opens an outbound connection to the destination. */
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
    const server = this.createServer((socket) => {
      if (!socket.destroyed) this.adopt(socket, undefined, true);
    });
    this.gate.attach(server);
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

  private adopt(socket: Socket, peerOverride?: TransportAddress, inbound = false): Connection {
    const peer: TransportAddress = peerOverride ?? {
      protocol: this.protocol,
      host: normaliseAddress(socket.remoteAddress),
      port: socket.remotePort ?? 0,
    };
    const conn = this.connections.add(this.protocol, socket, peer);
    const id = conn.id;
    const parser = new SipStreamParser(this.options.limits ? { limits: this.options.limits } : {});
    socket.setNoDelay(true);
    const phase = inbound ? this.gate.watch(socket) : undefined;
    let failed = false;
    socket.on("data", (chunk: Buffer) => {
      if (failed) return;
      let messages;
      try {
        messages = parser.push(chunk);
      } catch (err) {
        failed = true;
        phase?.("idle");
        this.refuseStream(socket, parser, peer, id, err);
        return;
      }
      phase?.(parser.phase);
      for (const m of messages) this.events?.message(m, { source: peer, local: this.local, connectionId: id });
    });
    socket.on("error", () => undefined);
    socket.on("close", () => this.connections.remove(conn));
    return conn;
  }

  /** The stream cannot be framed: count it, answer a request whose head was read (§21.5.7, §18.3), close. */
  private refuseStream(socket: Socket, parser: SipStreamParser, peer: TransportAddress, connectionId: string, err: unknown): void {
    const code = err instanceof SipParseError ? err.code : undefined;
    const oversized = code === "message-too-large" || code === "line-too-long" || code === "too-many-headers";
    const failed = parser.failedMessage;
    const request = failed !== undefined && !("status" in failed) && failed.method !== "ACK" ? failed : undefined;
    const detail = err instanceof Error ? err.message : String(err);
    if (request) {
      const [status, reason] = code === "message-too-large" ? [513, "Message Too Large"] : [400, "Bad Request (Content-Length missing)"];
      this.events?.rejected(oversized ? "oversized" : "malformed-stream", peer, detail, { request, status, reason, context: { source: peer, local: this.local, connectionId } });
      socket.end(); // after the answer the layer wrote (synchronously) on this connection
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
    } else {
      this.events?.rejected(oversized ? "oversized" : "malformed-stream", peer, detail, { error: err });
      socket.destroy();
    }
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
