// SIP over WebSocket (RFC 7118) into a node of the socket driver: the node's WebSocket listener (ws, or wss with the
// run's TLS), one SIP message per WebSocket message. A lab's outside caller is the peer `as` of the acceptor; in a
// deployment of processes each connection is a foreign element named by its address, as stream peers are. Every
// message goes back on the connection its peer used (RFC 7118 §5, RFC 3261 §18.2.2): a response to the connection
// its transaction's request came on (top Via branch and sent-by, §17.2.3), else the one its received/rport name
// (RFC 3581); a request to the connection that carries its call (RFC 3261 §12.2, RFC 7118 §5), none when that
// connection is gone (RFC 5626 §5.3).
import type { WebSocket } from "ws";
import { DEFAULT_SIP_PARSE_LIMITS, ownString, parseSipMessage, parseViaValue, type SipMessage, type SipRequest, type SipResponse, type ViaHeader } from "../../protocols/sip/index.js";
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
  /**
   * Keys of the transactions whose requests came on it (see transactionKey), oldest first, each with the Call-ID
   * of the call its final response may end (its initial INVITE's or a BYE's, see WsLinks.settle).
   */
  transactions: Map<string, string | undefined>;
  /** Call-IDs of the calls it carries (see WsLinks.byCall), least recently used first. */
  calls: Set<string>;
}

/** Transactions remembered per connection: a peer with more under way has its oldest answered by received/rport only. */
const TRANSACTIONS_PER_CONNECTION = 64;
/** Calls remembered per connection: a peer with more has its least recently used forgotten (its requests dropped). */
const CALLS_PER_CONNECTION = 64;
/** Calls whose connection is gone remembered in all, oldest first: their requests are dropped, not sent elsewhere. */
const GONE_CALLS = 1024;
/** Bytes queued for a peer that does not read before its connection is closed (a slow reader holds no more). */
const MAX_UNREAD_BYTES = 1 << 20;

/** Whether a SIP message (its start line checked) is a response: its Status-Line starts "SIP/2.0 " (RFC 3261 §7.2). */
function isResponse(b: Buffer): boolean {
  return b[0] === 83 && b[1] === 73 && b[2] === 80 && b[3] === 47 && b[4] === 50 && b[5] === 46 && b[6] === 48 && b[7] === 32;
}

/** The status code of a response (its Status-Line checked by isResponse and written by the codec). */
function statusOf(b: Buffer): number {
  return (b[8]! - 48) * 100 + (b[9]! - 48) * 10 + (b[10]! - 48);
}

/** Whether a request's final response can end its call: a BYE's, or the initial INVITE's (no To tag, RFC 3261 §12.1). */
function mayEndCall(req: SipRequest): boolean {
  if (req.method === "BYE") return true;
  if (req.method !== "INVITE") return false;
  try {
    return req.to.tag === undefined;
  } catch {
    return false; // a To that does not parse: the transaction layer answers it 400
  }
}

/**
 * Whether a final response to a BYE ends its call for routing: any but a challenge (401, 407), which asks for the
 * BYE again with credentials (RFC 3261 §22.2; §15.1.1 ends the dialog on 481, 408 and the rest).
 */
function byeEnds(status: number): boolean {
  return status >= 200 && status !== 401 && status !== 407;
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
  /**
   * The connection each call (by Call-ID) of the lab's outside caller is carried on: the first that sent a request in
   * it, so another connection naming its Call-ID gets none of its requests; a caller that reconnects after its
   * connection closed takes the call over with its next request.
   */
  private readonly byCall = new Map<string, WsConnection>();
  /** Calls whose connection closed or forgot them, oldest first: a request in one is dropped (RFC 5626 §5.3). */
  private readonly goneCalls = new Set<string>();
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
      for (const key of conn.transactions.keys()) if (this.byTransaction.get(key) === conn) this.byTransaction.delete(key);
      for (const callId of conn.calls) this.forgetCall(conn, callId);
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
    if (ext !== undefined && conn.peer === ext.as) {
      // The outside caller records nothing itself: what it sends is recorded here, as for its datagrams.
      const caller = callerMessage(conn.acceptor, bytes);
      if (caller.error !== undefined) opts.onDrop?.("SIP", "ws-malformed-message", `${conn.key}: ${caller.error instanceof Error ? caller.error.message : String(caller.error)}`);
      // Its connections share its name: their responses are found by transaction, their requests by call (a
      // foreign peer's both by its name).
      const m = caller.message;
      if (request) {
        const req = m !== undefined && !("status" in m) ? m : undefined;
        const callId = req !== undefined ? this.carry(conn, req) : undefined;
        this.remember(conn, bytes, m, callId !== undefined && mayEndCall(req!) ? callId : undefined);
      } else if (m !== undefined && "status" in m) this.answeredBy(conn, m);
      this.net.record(conn.peer, caller.send, this.transportOf(conn, true));
    }
    this.net.deliver("SIP", conn.peer, conn.acceptor, bytes, undefined, undefined, { host: conn.address, port: conn.port }, conn.secure ? "wss" : "ws");
  }

  /**
   * The call of a request from `conn` (RFC 3261 §12.2: a dialog's requests go to its remote target, which for a
   * WebSocket caller is its connection): `conn` carries it when it is the first to send a request in it, or the call's
   * connection is gone; another connection's call stays with it. An ACK or a CANCEL belongs to a transaction under way
   * (§17.1.1.3, §9.1) and takes no call. Returns the Call-ID when `conn` carries the call.
   */
  private carry(conn: WsConnection, req: SipRequest): string | undefined {
    const callId = req.callId;
    const holder = this.byCall.get(callId);
    if (holder === conn) {
      const own = ownString(callId);
      conn.calls.delete(own);
      conn.calls.add(own);
      return own;
    }
    if (holder !== undefined || req.method === "ACK" || req.method === "CANCEL") return undefined;
    const own = ownString(callId); // not the message text it was cut from
    this.goneCalls.delete(own);
    if (conn.calls.size >= CALLS_PER_CONNECTION) this.forgetCall(conn, conn.calls.values().next().value as string);
    this.byCall.set(own, conn);
    conn.calls.add(own);
    return own;
  }

  /** `conn` no longer carries `callId`: it closed, the call ended, or it has too many. */
  private forgetCall(conn: WsConnection, callId: string): void {
    conn.calls.delete(callId);
    if (this.byCall.get(callId) !== conn) return;
    this.byCall.delete(callId);
    this.goneCalls.add(ownString(callId));
    if (this.goneCalls.size > GONE_CALLS) this.goneCalls.delete(this.goneCalls.values().next().value as string);
  }

  /** A response from the caller on `conn`: a final answer to a BYE in a call it carries ends the call. */
  private answeredBy(conn: WsConnection, res: SipResponse): void {
    if (!byeEnds(res.status)) return;
    try {
      if (res.cseq.method === "BYE" && this.byCall.get(res.callId) === conn) this.forgetCall(conn, res.callId);
    } catch {
      // a CSeq or Call-ID that does not parse answers nothing
    }
  }

  /**
   * A final response to the caller on `conn` in the transaction `key` whose request may end call `callId`: a BYE's
   * (but a challenge) ends it, as does a failure of its initial INVITE (§13.2.2.3); a 2xx confirms the call. A
   * CANCEL's response (same branch, §9.1) leaves it.
   */
  private settle(conn: WsConnection, key: string, callId: string, bytes: Buffer, status: number): void {
    let method: string;
    try {
      method = parseSipMessage(bytes).cseq.method;
    } catch {
      return;
    }
    if (method !== "INVITE" && method !== "BYE") return;
    conn.transactions.set(key, undefined);
    if (method === "INVITE" ? status >= 300 : byeEnds(status)) this.forgetCall(conn, callId);
  }

  /**
   * Remembers the transaction of a request from `conn`, its top Via read from `message` when it parsed (else from
   * its head), with the call its final response may end; none for an ACK: no response follows (RFC 3261 §17.1.1.3).
   */
  private remember(conn: WsConnection, bytes: Buffer, message: SipMessage | undefined, endsCall: string | undefined): void {
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
        const ends = conn.transactions.get(key);
        conn.transactions.delete(key);
        conn.transactions.set(key, ends);
      }
      return;
    }
    if (conn.transactions.size >= TRANSACTIONS_PER_CONNECTION) {
      const oldest = conn.transactions.keys().next().value as string;
      conn.transactions.delete(oldest);
      if (this.byTransaction.get(oldest) === conn) this.byTransaction.delete(oldest);
    }
    this.byTransaction.set(key, conn);
    conn.transactions.set(key, endsCall);
  }

  /** Sends `a` over WebSocket when its destination is a peer of a WebSocket connection; false when it is not. */
  send(from: string, a: SendAction): boolean {
    if (this.connections.size === 0 && this.goneCalls.size === 0) return false;
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
      const carrier = this.byCall.get(a.callId);
      if (carrier !== undefined) return carrier;
      return from === ext.acceptor && this.goneCalls.has(a.callId) ? null : undefined;
    }
    // A response goes back on the connection its request came on (RFC 3261 §18.2.2): its transaction's, else the
    // one its top Via's received and rport name (RFC 3581 §4).
    const via = topViaOf(a.bytes);
    if (via === undefined) return undefined;
    const key = transactionKey(via);
    const held = this.byTransaction.get(key);
    if (held !== undefined) {
      if (held.peer !== a.to) return undefined;
      const callId = held.transactions.get(key);
      if (callId !== undefined) {
        const status = statusOf(a.bytes);
        if (status >= 200) this.settle(held, key, callId, a.bytes, status);
      }
      return held;
    }
    const conn = via.received !== undefined && typeof via.rport === "number" ? this.connections.get(`${via.received}:${via.rport}`) : undefined;
    return conn?.peer === a.to ? conn : undefined;
  }

  private transportOf(conn: WsConnection, fromPeer: boolean): Transport {
    const [src, srcPort, dst, dstPort] = fromPeer ? [conn.address, conn.port, LOOPBACK, conn.localPort] : [LOOPBACK, conn.localPort, conn.address, conn.port];
    return { kind: "tcp", src, srcPort, dst, dstPort };
  }

  /** Closes every listener and connection (the network stops). */
  async destroy(): Promise<void> {
    this.connections.clear();
    this.byCall.clear();
    this.goneCalls.clear();
    this.byTransaction.clear();
    const closing = [...this.listeners.values()].map((l) => l.close());
    this.listeners.clear();
    await Promise.all(closing);
  }
}
