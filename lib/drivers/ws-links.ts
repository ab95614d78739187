// SIP over WebSocket (RFC 7118) into a node of the socket driver: the node's WebSocket listener (ws, or wss with the
// run's TLS), one SIP message per WebSocket message. A lab's outside caller is the peer `as` of the acceptor; in a
// deployment of processes each connection is a foreign element named by its address, as stream peers are. Every
// message goes back on the connection its peer used (RFC 7118 §5, RFC 3261 §18.2.2): a response to the connection
// its transaction's request came on (top Via branch and sent-by, §17.2.3), else the one its received/rport name
// (RFC 3581); a request to the connection the peer last sent a request on.
import type { WebSocket } from "ws";
import { DEFAULT_SIP_PARSE_LIMITS, parseViaValue, type SipMessage, type ViaHeader } from "../../protocols/sip/index.js";
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
  /** Keys of the transactions whose requests came on it (see transactionKey), oldest first. */
  transactions: Set<string>;
}

/** Transactions remembered per connection: a peer with more under way has its oldest answered by received/rport only. */
const TRANSACTIONS_PER_CONNECTION = 64;
/** Bytes queued for a peer that does not read before its connection is closed (a slow reader holds no more). */
const MAX_UNREAD_BYTES = 1 << 20;

/** Whether a SIP message (its start line checked) is a response: its Status-Line starts "SIP/2.0 " (RFC 3261 §7.2). */
function isResponse(b: Buffer): boolean {
  return b[0] === 83 && b[1] === 73 && b[2] === 80 && b[3] === 47 && b[4] === 50 && b[5] === 46 && b[6] === 48 && b[7] === 32;
}

/**
 * The first Via of a message (RFC 3261 §20.42): its header line found in the head (name "Via" or "v" in any case,
 * §7.3.1 folding undone) and its value read by the codec's Via parser; undefined when there is none or it does not
 * parse. Reads nothing past the head's empty line.
 */
function topViaOf(bytes: Buffer): ViaHeader | undefined {
  const n = bytes.length;
  let lf = bytes.indexOf(10); // the start line's end
  while (lf >= 0 && lf + 1 < n) {
    const line = lf + 1;
    lf = bytes.indexOf(10, line);
    const end = lf < 0 ? n : lf;
    const stop = end > line && bytes[end - 1] === 13 ? end - 1 : end;
    if (stop === line) return undefined; // the empty line: no Via in the head
    const at = viaValueStart(bytes, line, stop);
    if (at < 0) continue;
    let value = bytes.toString("latin1", at, stop);
    // §7.3.1: a line starting with whitespace continues the header
    while (lf >= 0 && (bytes[lf + 1] === 32 || bytes[lf + 1] === 9)) {
      const next = lf + 1;
      lf = bytes.indexOf(10, next);
      const e = lf < 0 ? n : lf;
      value += " " + bytes.toString("latin1", next, e > next && bytes[e - 1] === 13 ? e - 1 : e);
    }
    try {
      return parseViaValue(value.trim())[0];
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Where the value of a Via header line bytes[line, stop) starts (after "Via" or "v", WSP and the colon), else -1. */
function viaValueStart(bytes: Buffer, line: number, stop: number): number {
  if ((bytes[line]! | 0x20) !== 118) return -1; // v
  let k = line + 1;
  if (k + 1 < stop && (bytes[k]! | 0x20) === 105 && (bytes[k + 1]! | 0x20) === 97) k += 2; // ia
  while (k < stop && (bytes[k] === 32 || bytes[k] === 9)) k++;
  return k < stop && bytes[k] === 58 ? k + 1 : -1;
}

/** A server transaction as RFC 3261 §17.2.3 matches it: the top Via's branch and sent-by (host in lower case, port). */
function transactionKey(via: ViaHeader): string {
  return `${via.branch ?? ""} ${via.host.toLowerCase()}:${via.port ?? ""}`;
}

/** The WebSocket listeners of one network and their connections. */
export class WsLinks {
  private readonly listeners = new Map<string, SipWebSocketListener>();
  /** Open connections by their peer's "address:port". */
  private readonly connections = new Map<string, WsConnection>();
  /** Per peer name, the connection it last sent a request on. */
  private readonly lastRequest = new Map<string, WsConnection>();
  /**
   * The connection each transaction's request came on, for connections that share a peer name (a lab's outside
   * callers): its first, so another connection naming the same branch and sent-by gets none of its responses.
   */
  private readonly byTransaction = new Map<string, WsConnection>();

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
    const conn: WsConnection = { socket, peer, acceptor, key: `${address}:${port}`, address, port, localPort, secure: opts.tls !== undefined && tlsFor(opts.tls, "SIP"), transactions: new Set() };
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
      for (const key of conn.transactions) if (this.byTransaction.get(key) === conn) this.byTransaction.delete(key);
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
    const request = !isResponse(bytes);
    if (request) this.lastRequest.set(conn.peer, conn);
    if (ext !== undefined && conn.peer === ext.as) {
      // The outside caller records nothing itself: what it sends is recorded here, as for its datagrams.
      const caller = callerMessage(conn.acceptor, bytes);
      if (caller.error !== undefined) opts.onDrop?.("SIP", "ws-malformed-message", `${conn.key}: ${caller.error instanceof Error ? caller.error.message : String(caller.error)}`);
      // Its connections share its name: their responses are found by transaction (a foreign peer's by its name).
      if (request) this.remember(conn, bytes, caller.message);
      this.net.record(conn.peer, caller.send, this.transportOf(conn, true));
    }
    this.net.deliver("SIP", conn.peer, conn.acceptor, bytes, undefined, undefined, { host: conn.address, port: conn.port }, conn.secure ? "wss" : "ws");
  }

  /**
   * Remembers the transaction of a request from `conn`, its top Via read from `message` when it parsed (else from
   * its head); none for an ACK: no response follows (RFC 3261 §17.1.1.3).
   */
  private remember(conn: WsConnection, bytes: Buffer, message: SipMessage | undefined): void {
    if (bytes[0] === 65 && bytes[1] === 67 && bytes[2] === 75 && bytes[3] === 32) return; // "ACK "
    let via: ViaHeader | undefined;
    try {
      via = message !== undefined ? message.topVia : topViaOf(bytes);
    } catch {
      return; // no Via that parses: nothing to answer it by
    }
    if (via === undefined) return;
    const key = transactionKey(via);
    const holder = this.byTransaction.get(key);
    if (holder !== undefined) {
      // §18.2.2: the transaction stays on the connection its request first came on (a CANCEL's refreshes it there)
      if (holder === conn) {
        conn.transactions.delete(key);
        conn.transactions.add(key);
      }
      return;
    }
    if (conn.transactions.size >= TRANSACTIONS_PER_CONNECTION) {
      const oldest = conn.transactions.values().next().value as string;
      conn.transactions.delete(oldest);
      if (this.byTransaction.get(oldest) === conn) this.byTransaction.delete(oldest);
    }
    this.byTransaction.set(key, conn);
    conn.transactions.add(key);
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
    // Past here only the lab's outside caller, whose connections share its name: any other peer is not on one.
    if (a.to !== this.net.options.externalSipPeer?.as) return undefined;
    if (!isResponse(a.bytes)) return this.lastRequest.get(a.to);
    // A response goes back on the connection its request came on (RFC 3261 §18.2.2): its transaction's, else the
    // one its top Via's received and rport name (RFC 3581 §4).
    const via = topViaOf(a.bytes);
    if (via === undefined) return undefined;
    const conn = this.byTransaction.get(transactionKey(via)) ?? (via.received !== undefined && typeof via.rport === "number" ? this.connections.get(`${via.received}:${via.rport}`) : undefined);
    return conn?.peer === a.to ? conn : undefined;
  }

  private transportOf(conn: WsConnection, fromPeer: boolean): Transport {
    const [src, srcPort, dst, dstPort] = fromPeer ? [conn.address, conn.port, LOOPBACK, conn.localPort] : [LOOPBACK, conn.localPort, conn.address, conn.port];
    return { kind: "tcp", src, srcPort, dst, dstPort };
  }

  /** Closes every listener and connection (the network stops). */
  async destroy(): Promise<void> {
    this.connections.clear();
    this.lastRequest.clear();
    this.byTransaction.clear();
    const closing = [...this.listeners.values()].map((l) => l.close());
    this.listeners.clear();
    await Promise.all(closing);
  }
}
