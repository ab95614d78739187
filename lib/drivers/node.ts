// The one shape every role has: a sans-I/O node that takes events and returns actions. Drivers move the bytes,
// run the timers and record every message; nodes read time only from the events they are given.
import type { Protocol } from "./message-record.js";

/** Where a node's SIP is reached (RFC 3261 §18.2.1 sent-by, §16.6 step 4 Record-Route): its listener, as peers dial it. */
export interface SipListenAddress {
  host: string;
  port: number;
  transport: "UDP" | "TCP" | "TLS" | "WS" | "WSS";
}

/** The SIP transports of the drivers (RFC 3261 §18). */
export type SipTransportName = "udp" | "tcp" | "tls";

/**
 * Where a SIP message came in (RFC 5658 §4): its transport, and the node's listener of that transport as peers reach
 * it (the in-memory driver has no listeners and gives none). One object per listener, shared by its messages.
 */
export interface SipArrival {
  /** ws/wss: SIP over WebSocket from an outside caller (RFC 7118), a listener of the socket driver only. */
  transport: SipTransportName | "ws" | "wss";
  listener?: SipListenAddress;
}

/** What a driver gives a node: start, a delivered message, a fired timer, a peer down or up, a restart. */
export type NodeEvent =
  /**
   * `sip`: the node's SIP listener, once the driver has bound it (the in-memory driver gives none); `sipPeers`: the
   * SIP address ("host:port") of each peer in another process, by name; `sipListeners`: every SIP listener of the
   * node, one per transport (UDP, and the TCP or TLS stream listener), when it has more than `sip`.
   */
  | { type: "start"; now: number; sip?: SipListenAddress; sipPeers?: Record<string, string>; sipListeners?: readonly SipListenAddress[] }
  /**
   * `callId` and `label` are the sender's call and message label when the driver knows them (hints for records and
   * diagnostics, never for decisions); `source` is the address the bytes came from (RFC 3581 §4 received/rport);
   * `arrival`: the SIP transport the bytes came in on and the node's listener of that transport (RFC 5658 §4).
   */
  | { type: "deliver"; now: number; proto: Protocol; from: string; bytes: Buffer; callId?: string; label?: string; source?: { host: string; port: number }; arrival?: SipArrival }
  | { type: "timer"; now: number; key: string }
  /** The peer of a COPS/HTTP connection went away (network driver) or was declared down (memory driver). */
  | { type: "peer-down"; now: number; proto: Protocol; peer: string }
  | { type: "peer-up"; now: number; proto: Protocol; peer: string }
  /** The node came back after being down: its volatile state is gone (a restarted process). */
  | { type: "restart"; now: number };

/** Send bytes to a peer, with the label and call id the record stream shows. */
export interface SendAction {
  type: "send";
  proto: Protocol;
  to: string;
  bytes: Buffer;
  /** Label of ../shared/reference/wo0135294-flows.yaml (SIP method or "code reason", "REQ AAA", OSP element). */
  label: string;
  callId: string;
}

/** What a node asks of its driver: send, set or cancel a timer, emit a call event, close a connection. */
export type NodeAction<E = unknown> =
  | SendAction
  | { type: "set-timer"; key: string; delayMs: number }
  | { type: "cancel-timer"; key: string }
  | { type: "emit"; event: E }
  /** Close the connection with `peer` once what was sent on it is written (a COPS CC, RFC 2748 §3.7). */
  | { type: "close"; proto: Protocol; peer: string; reason: string };

/** A sans-I/O role: takes events, returns actions (or a promise of them). Both drivers run the same nodes. */
export interface FlowNode<E = unknown> {
  readonly name: string;
  /** Synchronous for protocol machines; a node wrapping an asynchronous core (a CDR store) may return a promise. */
  handle(event: NodeEvent): NodeAction<E>[] | Promise<NodeAction<E>[]>;
}

export function send(proto: Protocol, to: string, bytes: Buffer, label: string, callId: string): SendAction {
  return { type: "send", proto, to, bytes, label, callId };
}
