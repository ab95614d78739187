// SIP over WebSocket (RFC 7118) into a node of the socket driver: the node's WebSocket listener (ws, or wss with the
// run's TLS), one SIP message per WebSocket message. A lab's outside caller is the peer `as` of the acceptor; in a
// deployment of processes each connection is a foreign element named by its address, as stream peers are. Every
// message goes back on the connection its peer used (RFC 7118 §5, RFC 3261 §18.2.2): a response to the connection
// its transaction's request came on (top Via branch and sent-by, §17.2.3), else the one its received/rport name
// (RFC 3581); a request to the connection that carries its call (RFC 3261 §12.2, RFC 7118 §5), none when that
// connection is gone (RFC 5626 §5.3).
import type { WebSocket } from "ws";
import { DEFAULT_SIP_PARSE_LIMITS } from "../../protocols/sip/index.js";
import { isSipStartLine } from "../../protocols/sip/codec/stream-parser.js";
import { listenSipWebSocket, sipWebSocketMessage, type SipWebSocketListener } from "../../protocols/sip/transport/websocket-listener.js";
import type { SendAction } from "./node.js";
import { LOOPBACK } from "./socket-addresses.js";
import { tlsFor, tlsServerOptions } from "./socket-tls.js";
import { handshakeTimeoutMs } from "./socket-listeners.js";
import { CallerCalls, isResponse, type CallerRoute } from "./caller-calls.js";
import { callerMessage, type SipPeers } from "./sip-peers.js";
import type { SocketDriverContext, Transport } from "./socket-types.js";

interface WsConnection extends CallerRoute {
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
}

/** Bytes queued for a peer that does not read before its connection is closed (a slow reader holds no more). */
const MAX_UNREAD_BYTES = 1 << 20;

/** The WebSocket listeners of one network and their connections. */
export class WsLinks {
  private readonly listeners = new Map<string, SipWebSocketListener>();
  /** Open connections by their peer's "address:port". */
  private readonly connections = new Map<string, WsConnection>();
  /** The lab's outside caller's calls and transactions, by the connection each came on. */
  private readonly callers = new CallerCalls<WsConnection>();

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
    const conn: WsConnection = { socket, peer, acceptor, key: `${address}:${port}`, address, port, localPort, secure: opts.tls !== undefined && tlsFor(opts.tls, "SIP"), transactions: new Map(), calls: new Set() };
    this.connections.set(conn.key, conn);
    socket.on("message", (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => this.onMessage(conn, data, isBinary));
    socket.on("error", (err) => {
      // ws closes with 1009 on a frame above maxPayload: counted as the cause it is.
      const cause = (err as { code?: string }).code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH" ? "ws-message-too-large" : "ws-protocol-error";
      opts.onDrop?.("SIP", cause, `${conn.key}: ${err.message}`);
    });
    socket.on("close", () => {
      if (this.connections.get(conn.key) === conn) this.connections.delete(conn.key);
      this.callers.closed(conn);
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
    if (ext !== undefined && conn.peer === ext.as) {
      // The outside caller records nothing itself: what it sends is recorded here, as for its datagrams.
      const caller = callerMessage(conn.acceptor, bytes);
      if (caller.error !== undefined) opts.onDrop?.("SIP", "ws-malformed-message", `${conn.key}: ${caller.error instanceof Error ? caller.error.message : String(caller.error)}`);
      // Its connections share its name: their responses are found by transaction, their requests by call (a
      // foreign peer's both by its name).
      this.callers.fromCaller(conn, bytes, caller.message);
      this.net.record(conn.peer, caller.send, this.transportOf(conn, true));
    }
    this.net.deliver("SIP", conn.peer, conn.acceptor, bytes, undefined, undefined, { host: conn.address, port: conn.port }, conn.secure ? "wss" : "ws");
  }

  /** Sends `a` over WebSocket when its destination is a peer of a WebSocket connection; false when it is not. */
  send(from: string, a: SendAction): boolean {
    if (this.connections.size === 0 && this.callers.empty) return false;
    const conn = this.connectionFor(from, a);
    if (conn === null) {
      // RFC 5626 §5.3: the call's flow failed; no other connection (another caller's) gets its request.
      this.net.options.onDrop?.("SIP", "ws-call-gone", `${a.label} in call ${a.callId}: its WebSocket connection is gone`);
      return true;
    }
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

  /** The connection `a` goes on; null for a request in a call whose connection is gone, undefined when not over WebSocket. */
  private connectionFor(from: string, a: SendAction): WsConnection | null | undefined {
    const named = this.connections.get(a.to);
    if (named !== undefined) return named;
    // Past here only the lab's outside caller, whose connections share its name: any other peer is not on one.
    const ext = this.net.options.externalSipPeer;
    if (a.to !== ext?.as) return undefined;
    if (!isResponse(a.bytes)) {
      // A request goes on its call's connection; a call never carried over WebSocket is another transport's.
      const carrier = this.callers.requestRoute(a.callId);
      return carrier === null && from !== ext.acceptor ? undefined : carrier;
    }
    // A response goes back on the connection its request came on (RFC 3261 §18.2.2): its transaction's, else the
    // one its top Via's received and rport name (RFC 3581 §4).
    const { route, via } = this.callers.responseRoute(a.bytes);
    if (route !== undefined) return route;
    const conn = via?.received !== undefined && typeof via.rport === "number" ? this.connections.get(`${via.received}:${via.rport}`) : undefined;
    return conn?.peer === a.to ? conn : undefined;
  }

  private transportOf(conn: WsConnection, fromPeer: boolean): Transport {
    const [src, srcPort, dst, dstPort] = fromPeer ? [conn.address, conn.port, LOOPBACK, conn.localPort] : [LOOPBACK, conn.localPort, conn.address, conn.port];
    return { kind: "tcp", src, srcPort, dst, dstPort };
  }

  /** Closes every listener and connection (the network stops). */
  async destroy(): Promise<void> {
    this.connections.clear();
    this.callers.clear();
    const closing = [...this.listeners.values()].map((l) => l.close());
    this.listeners.clear();
    await Promise.all(closing);
  }
}
