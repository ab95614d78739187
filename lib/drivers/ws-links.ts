// SIP over WebSocket (RFC 7118) into a node of the socket driver: the node's WebSocket listener (ws, or wss with the
// run's TLS), one SIP message per WebSocket message. A lab's outside caller is the peer `as` of the acceptor; in a
// deployment of processes each connection is a foreign element named by its address, as stream peers are. Every
// message goes back on the connection its peer used (RFC 7118 §5, RFC 3261 §18.2.2): a response to the connection
// its top Via's received/rport names (RFC 3581), a request to the connection the peer last sent a request on.
import type { WebSocket } from "ws";
import { DEFAULT_SIP_PARSE_LIMITS, parseSipMessage, parseViaValue } from "../../protocols/sip/index.js";
import { isSipStartLine } from "../../protocols/sip/codec/stream-parser.js";
import { listenSipWebSocket, sipWebSocketMessage, type SipWebSocketListener } from "../../protocols/sip/transport/websocket-listener.js";
import type { SendAction } from "./node.js";
import { LOOPBACK } from "./socket-addresses.js";
import { tlsFor, tlsServerOptions } from "./socket-tls.js";
import { handshakeTimeoutMs } from "./socket-listeners.js";
import { callerMessage, type SipPeers } from "./sip-peers.js";
import type { SocketDriverContext, Transport } from "./socket-types.js";

interface WsConnection {
  socket: WebSocket;
  /** The peer name its messages are delivered as. */
  peer: string;
  acceptor: string;
  key: string;
  address: string;
  port: number;
  localPort: number;
  /** Over TLS (wss). */
  secure: boolean;
  /** Sent-by hosts its requests' top Vias named. */
  sentBy: Set<string>;
}

/** Sent-by hosts remembered per connection (a client names one; a peer that names many keeps its last few). */
const SENT_BY_PER_CONNECTION = 8;
/** Bytes queued for a peer that does not read before its connection is closed (a slow reader holds no more). */
const MAX_UNREAD_BYTES = 1 << 20;

/** The sent-by host of a message's first Via header (RFC 3261 §20.42), read from its head. */
const TOP_VIA_HOST = /\n(?:via|v)[ \t]*:[ \t]*SIP[ \t]*\/[ \t]*2\.0[ \t]*\/[ \t]*[A-Za-z]+[ \t]+(\[[^\]]*\]|[^;:, \t\r\n]+)/i;

/** The WebSocket listeners of one network and their connections. */
export class WsLinks {
  private readonly listeners = new Map<string, SipWebSocketListener>();
  /** Open connections by their peer's "address:port". */
  private readonly connections = new Map<string, WsConnection>();
  /** Per peer name, the connection it last sent a request on. */
  private readonly lastRequest = new Map<string, WsConnection>();
  /** The connection each sent-by host of a request's top Via came on (a WebSocket client's own `.invalid` host, RFC 7118 §5.2). */
  private readonly bySentBy = new Map<string, WsConnection>();

  constructor(
    private readonly net: SocketDriverContext,
    private readonly sipPeers: SipPeers,
  ) {}

  /** Connections open now, by "node WS" listener. */
  open(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, l] of this.listeners) out[`${name} WS`] = l.open;
    return out;
  }

  /** Listens for SIP over WebSocket to node `name` on `port` (0: an ephemeral one); wss when the run's TLS covers SIP. */
  async listen(name: string, port: number, host: string): Promise<SipWebSocketListener> {
    const opts = this.net.options;
    const secure = opts.tls !== undefined && tlsFor(opts.tls, "SIP");
    const tls = secure && opts.tls ? { secureContext: tlsServerOptions(opts.tls, name, handshakeTimeoutMs(opts)), requireClientCert: false } : undefined;
    const listener = await listenSipWebSocket({
      host,
      port,
      protocol: secure ? "wss" : "ws",
      ...(tls ? { tls } : {}),
      maxMessageBytes: DEFAULT_SIP_PARSE_LIMITS.maxMessageBytes,
      ...(opts.limits ? { connectionLimits: opts.limits } : {}),
      onConnection: (socket, peer) => this.accept(name, socket, peer.address, peer.port, peer.localPort),
      onRefused: (cause, peer) => opts.onDrop?.("SIP", `ws-${cause}`, `${peer.address}:${peer.port}`),
    });
    this.listeners.set(name, listener);
    return listener;
  }

  private accept(acceptor: string, socket: WebSocket, address: string, port: number, localPort: number): void {
    const opts = this.net.options;
    const ext = opts.externalSipPeer;
    const peer = ext?.acceptor === acceptor ? ext.as : this.sipPeers.foreign(address, port);
    if (peer === undefined) {
      opts.onDrop?.("SIP", "ws-unknown-peer", `${address}:${port}`);
      socket.terminate();
      return;
    }
    const conn: WsConnection = { socket, peer, acceptor, key: `${address}:${port}`, address, port, localPort, secure: opts.tls !== undefined && tlsFor(opts.tls, "SIP"), sentBy: new Set() };
    this.connections.set(conn.key, conn);
    socket.on("message", (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => this.onMessage(conn, data, isBinary));
    socket.on("error", (err) => {
      // ws closes with 1009 on a frame above maxPayload: counted as the cause it is.
      const cause = (err as { code?: string }).code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH" ? "ws-message-too-large" : "ws-protocol-error";
      opts.onDrop?.("SIP", cause, `${conn.key}: ${err.message}`);
    });
    socket.on("close", () => {
      if (this.connections.get(conn.key) === conn) this.connections.delete(conn.key);
      if (this.lastRequest.get(conn.peer) === conn) this.lastRequest.delete(conn.peer);
      for (const host of conn.sentBy) if (this.bySentBy.get(host) === conn) this.bySentBy.delete(host);
    });
  }

  private onMessage(conn: WsConnection, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (this.net.stopped) return;
    const bytes = sipWebSocketMessage(data, isBinary);
    if (bytes === undefined) return; // a keep-alive
    const opts = this.net.options;
    // RFC 7118 §5.1: every WebSocket message is one SIP message; anything else ends the connection (1007).
    if (!isSipStartLine(bytes)) {
      opts.onDrop?.("SIP", "ws-not-sip", `${conn.key}: a WebSocket message of ${bytes.length} bytes that is no SIP message`);
      conn.socket.close(1007, "not a SIP message");
      return;
    }
    const ext = opts.externalSipPeer;
    const request = bytes.subarray(0, 8).toString("latin1") !== "SIP/2.0 ";
    if (request) {
      this.lastRequest.set(conn.peer, conn);
      const sentBy = TOP_VIA_HOST.exec(bytes.toString("latin1", 0, Math.min(bytes.length, 2048)))?.[1]?.toLowerCase();
      if (sentBy !== undefined && this.bySentBy.get(sentBy) !== conn) {
        if (conn.sentBy.size >= SENT_BY_PER_CONNECTION) {
          const oldest = conn.sentBy.values().next().value as string;
          conn.sentBy.delete(oldest);
          if (this.bySentBy.get(oldest) === conn) this.bySentBy.delete(oldest);
        }
        this.bySentBy.set(sentBy, conn);
        conn.sentBy.add(sentBy);
      }
    }
    if (ext !== undefined && conn.peer === ext.as) {
      // The outside caller records nothing itself: what it sends is recorded here, as for its datagrams.
      const caller = callerMessage(conn.acceptor, bytes);
      if (caller.error !== undefined) opts.onDrop?.("SIP", "ws-malformed-message", `${conn.key}: ${caller.error instanceof Error ? caller.error.message : String(caller.error)}`);
      this.net.record(conn.peer, caller.send, this.transportOf(conn, true));
    }
    this.net.deliver("SIP", conn.peer, conn.acceptor, bytes, undefined, undefined, { host: conn.address, port: conn.port }, conn.secure ? "wss" : "ws");
  }

  /** Sends `a` over WebSocket when its destination is a peer of a WebSocket connection; false when it is not. */
  send(from: string, a: SendAction): boolean {
    if (this.connections.size === 0) return false;
    const conn = this.connectionFor(a);
    if (conn === undefined || conn.acceptor !== from) return false;
    if (conn.socket.readyState !== conn.socket.OPEN) return true; // closing: what was for it is lost with it
    if (conn.socket.bufferedAmount > MAX_UNREAD_BYTES) {
      // A peer that does not read what it asked for: its connection is closed, not its queue grown.
      this.net.options.onDrop?.("SIP", "ws-slow-reader", `${conn.key}: more than ${MAX_UNREAD_BYTES} bytes unread`);
      conn.socket.terminate();
      return true;
    }
    this.net.record(from, a, this.transportOf(conn, false));
    // RFC 7118 §5.1: text frames for UTF-8 messages, as browsers expect.
    conn.socket.send(a.bytes, { binary: false });
    return true;
  }

  private connectionFor(a: SendAction): WsConnection | undefined {
    const named = this.connections.get(a.to);
    if (named !== undefined) return named;
    if (a.bytes.subarray(0, 8).toString("latin1") !== "SIP/2.0 ") return this.lastRequest.get(a.to);
    // A response goes back on the connection its request came on (RFC 3261 §18.2.2): the one its top Via's
    // received and rport name (RFC 3581 §4), else the one whose requests named that sent-by host.
    try {
      const top = parseSipMessage(a.bytes).getHeaders("Via")[0];
      const via = top === undefined ? undefined : parseViaValue(top)[0];
      if (via === undefined) return undefined;
      const conn = (via.received !== undefined && typeof via.rport === "number" ? this.connections.get(`${via.received}:${via.rport}`) : undefined) ?? this.bySentBy.get(via.host.toLowerCase());
      return conn?.peer === a.to ? conn : undefined;
    } catch {
      return undefined;
    }
  }

  private transportOf(conn: WsConnection, fromPeer: boolean): Transport {
    const [src, srcPort, dst, dstPort] = fromPeer ? [conn.address, conn.port, LOOPBACK, conn.localPort] : [LOOPBACK, conn.localPort, conn.address, conn.port];
    return { kind: "tcp", src, srcPort, dst, dstPort };
  }

  /** Closes every listener and connection (the network stops). */
  async destroy(): Promise<void> {
    this.connections.clear();
    this.lastRequest.clear();
    this.bySentBy.clear();
    const closing = [...this.listeners.values()].map((l) => l.close());
    this.listeners.clear();
    await Promise.all(closing);
  }
}
