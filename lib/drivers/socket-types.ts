// The socket driver's shared shapes: its options, where nodes listen, and the context its per-protocol
// transports (SIP over UDP, stream links for SIP and COPS, OSP over HTTP) share with the network that runs the
// nodes. Types only, so the transports and the network import this module and never each other's.
import type { ConnectionLimits } from "../../protocols/net/connection-limits.js";
import type { CallHints } from "./call-hints.js";
import type { FaultPlan } from "./fault-plan.js";
import type { MessageRecord, Protocol } from "./message-record.js";
import type { NodeEvent, SendAction, SipArrival } from "./node.js";
import type { SocketTlsOptions } from "./socket-tls.js";

/** Which listeners a node needs on the socket driver. */
export interface SocketEndpointsSpec {
  /** The node speaks SIP (binds a UDP socket, and a TCP listener when SIP runs over TCP). */
  sip?: boolean;
  /** The node is a COPS PDP (listens on TCP). */
  copsServer?: boolean;
  /** The node is an OSP server (listens for HTTP). */
  ospServer?: boolean;
}

/** Settings of a SocketNetwork: SIP transport, TLS, OSP, faults, listener limits, fixed ports and peers, and what to call for records, events, errors and drops. */
export interface SocketNetworkOptions<E> {
  /** Called with every event a node emits (the roles' call events). */
  onEmit?: (node: string, event: E, now: number) => void;
  /** SIP between nodes: UDP, or one stream per pair over TCP or TLS ("tls" needs `tls` with `sip: true`). */
  sipTransport?: "udp" | "tcp" | "tls";
  /**
   * SIP to and from these nodes runs over this transport instead of `sipTransport` (a user agent whose hop to its
   * proxy differs from the proxies' hop: the proxy then record-routes twice, RFC 5658). A node named here by a node
   * that sends to it decides; else the sender's entry; else `sipTransport`.
   */
  sipNodeTransports?: Record<string, "udp" | "tcp" | "tls">;
  /** TLS for SIP streams, COPS (RFC 4261) and OSP (HTTPS): certificates, the pinned CA, mutual TLS. */
  tls?: SocketTlsOptions;
  /** "in-process" hands OSP bytes to the clearinghouse node directly instead of over HTTP. */
  osp?: "http" | "in-process";
  faults?: FaultPlan;
  /** Called with every message moved, as it is recorded. */
  onRecord?: (record: MessageRecord) => void;
  /** Called with an error a node or socket raised, and where. */
  onError?: (where: string, err: unknown) => void;
  /** Caps and timeouts of every SIP stream, COPS and OSP HTTP listener (DEFAULT_CONNECTION_LIMITS where not given). */
  limits?: Partial<ConnectionLimits>;
  /** Called for every connection or request a listener's limits refuse, and every stream or first message refused (a COPS CC), with a cause token (e.g. "source-cap", "cops-pep-not-admitted"). */
  onDrop?: (proto: Protocol, cause: string, detail: string) => void;
  /** Fixed UDP ports for SIP nodes (by node name); the others bind ephemeral ports. */
  sipPorts?: Record<string, number>;
  /** SIP over WebSocket (RFC 7118; wss when `tls` covers SIP): the nodes that listen for it, by name, on this port (0: ephemeral). */
  sipWebSocketPorts?: Record<string, number>;
  /**
   * One node (`acceptor`, e.g. SIP1) also takes SIP over UDP from a peer outside the driver on any loopback
   * address; the driver names that peer `as` (e.g. "UAC") in events and records. UDP only.
   */
  externalSipPeer?: { acceptor: string; as: string };
  /**
   * Loopback addresses by node name: nodes added here bind them; the others are peers in other processes
   * (`callgate serve`), reached there and known by their SIP/UDP source.
   */
  directory?: Record<string, NodeAddresses>;
  /** Names the peer of a TCP connection from another process by its first message (a COPS OPN's PEPID, a SIP Via). */
  identifyTcpPeer?: (proto: Protocol, acceptor: string, first: Buffer, source: TcpPeerSource) => string | TcpPeerRefusal | undefined;
  /** `now` is ms since the Unix epoch, not since start(): the processes of one deployment agree on token validity and CDR times. */
  wallClock?: boolean;
}

/** The settings of a SocketNetwork its transports read (all but the node events). */
export type SocketTransportOptions = Omit<SocketNetworkOptions<unknown>, "onEmit">;

/** Who opened a TCP connection, as the acceptor sees it, and whether a peer already holds a link to it. */
export interface TcpPeerSource {
  address: string;
  port: number;
  /** Whether the named peer already holds a link to this acceptor. */
  linked(peer: string): boolean;
}

/** A first message refused: `answer` is written (e.g. a COPS CC with Error, RFC 2748 §3.7), then the connection closes. */
export interface TcpPeerRefusal {
  answer: Buffer;
  cause: string;
}

/** Where a node listens: one loopback host, a port per protocol (OSP over HTTP at path /osp). */
export interface NodeAddresses {
  host: string;
  sipUdp?: number;
  sipTcp?: number;
  sipTls?: number;
  /** SIP over WebSocket (RFC 7118): a node of this process listens there for outside callers. */
  sipWs?: number;
  cops?: number;
  osp?: number;
}

export type Address = { host: string; port: number };

/** A listener kind of a node: SIP over UDP, the SIP stream listener (TCP or TLS), COPS, OSP over HTTP. */
export type ListenerKind = "sipUdp" | "sipTcp" | "cops" | "osp";

export type Transport = NonNullable<MessageRecord["transport"]>;

/** What the transports need of the network that runs the nodes: its clock, its nodes, delivery and records. */
export interface SocketDriverContext {
  readonly options: SocketTransportOptions;
  /** ms since start() (or since the epoch with `wallClock`). */
  readonly now: number;
  /** Whether the network was stopped: nothing more is delivered or sent. */
  readonly stopped: boolean;
  /** Call-id hints of messages in flight between nodes of this process. */
  readonly hints: CallHints;
  /** Whether the node runs in this process. */
  isLocal(name: string): boolean;
  /** Where a node listens for a protocol: its own socket here, or its directory entry in another process. */
  listening(name: string, kind: ListenerKind): Address | undefined;
  /**
   * Hands bytes to a node; `hint` is the sender's call id when this process sent them; `transport`: the SIP transport
   * they came in on (the node's listener of it is named to the node).
   */
  deliver(proto: Protocol, from: string, to: string, bytes: Buffer, hint: string | undefined, intercept?: (a: SendAction) => boolean, source?: Address, transport?: SipArrival["transport"]): void;
  /** Gives a node an event (peer down, restart). */
  dispatch(name: string, event: NodeEvent): void;
  /** Records one message moved. */
  record(from: string, a: SendAction, transport: MessageRecord["transport"], t?: number): void;
}
