// Socket network driver: every node on its own ephemeral 127.0.0.1 ports, all in one process. SIP over UDP
// (or TCP, one connection per pair), COPS over TCP (one connection per PEP–PDP pair, calls multiplexed by
// Handle), OSP over HTTP/1.1 POST (or an in-process call). Timers are real; `now` is ms since start().
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { lookup as dnsLookup, type LookupOneOptions } from "node:dns";
import { createServer as createHttpsServer } from "node:https";
import { createConnection, createServer as createTcpServer, isIPv4, type Server as TcpServer, type Socket } from "node:net";
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from "node:tls";
import { CopsDecodeError, CopsFrameSplitter, encodeCopsMessage } from "../../protocols/cops/index.js";
import { SipStreamParser, parseSipMessage, parseViaValue, serializeSipMessage } from "../../protocols/sip/index.js";
import { DeadlineTimers } from "./deadline-timers.js";
import { FaultPlan } from "./fault-plan.js";
import { HttpPostPool } from "./http-post-pool.js";
import { ConnectionGate, DEFAULT_CONNECTION_LIMITS, type ConnectionLimits, type MessagePhase } from "../../protocols/net/connection-limits.js";
import { limitHttpServer } from "../../protocols/net/http-limits.js";
import { MAX_OSP_DOCUMENT_BYTES } from "../../protocols/osp/xml-tree.js";
import type { MessageRecord, Protocol } from "./message-record.js";
import type { FlowNode, NodeAction, NodeEvent, SendAction, SipListenAddress } from "./node.js";
import { certifiedAs, tlsClientOptions, tlsFor, tlsServerOptions, type SocketTlsOptions } from "./socket-tls.js";

const LOOPBACK = "127.0.0.1";

/** A peer named by its IPv4 address ("host:port"): a foreign SIP element, reached there. */
function foreignAddress(name: string): Address | undefined {
  const colon = name.lastIndexOf(":");
  if (colon < 0) return undefined;
  const host = name.slice(0, colon);
  const port = Number(name.slice(colon + 1));
  return isIPv4(host) && Number.isInteger(port) && port > 0 && port < 65536 ? { host, port } : undefined;
}

function isLoopback(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

/** dgram resolves the destination of every send; an IPv4 literal needs no dns.lookup round trip. */
function literalLookup(host: string, options: LookupOneOptions, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  if (isIPv4(host)) callback(null, host, 4);
  else dnsLookup(host, options, callback);
}

/** FNV-1a of a message: with sender and receiver, the key of its call-id hint. */
function fingerprint(bytes: Buffer): number {
  let h = 0x811c9dc5 ^ bytes.length;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  return h >>> 0;
}

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
  /** SIP between nodes: UDP, or one stream per pair over TCP or TLS ("tls" needs `tls` with `sip: true`). */
  sipTransport?: "udp" | "tcp" | "tls";
  /** TLS for SIP streams, COPS (RFC 4261) and OSP (HTTPS): certificates, the pinned CA, mutual TLS. */
  tls?: SocketTlsOptions;
  /** "in-process" hands OSP bytes to the clearinghouse node directly instead of over HTTP. */
  osp?: "http" | "in-process";
  faults?: FaultPlan;
  /** Called with every message moved, as it is recorded. */
  onRecord?: (record: MessageRecord) => void;
  /** Called with every event a node emits (the roles' call events). */
  onEmit?: (node: string, event: E, now: number) => void;
  /** Called with an error a node or socket raised, and where. */
  onError?: (where: string, err: unknown) => void;
  /** Caps and timeouts of every SIP stream, COPS and OSP HTTP listener (DEFAULT_CONNECTION_LIMITS where not given). */
  limits?: Partial<ConnectionLimits>;
  /** Called for every connection or request a listener's limits refuse, and every stream or first message refused (a COPS CC), with a cause token (e.g. "source-cap", "cops-pep-not-admitted"). */
  onDrop?: (proto: Protocol, cause: string, detail: string) => void;
  /** Fixed UDP ports for SIP nodes (by node name); the others bind ephemeral ports. */
  sipPorts?: Record<string, number>;
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
  cops?: number;
  osp?: number;
}

type Address = { host: string; port: number };

function boundAddress(server: { address(): unknown } | undefined): Address | undefined {
  const a = server?.address() as { address: string; port: number } | null | undefined;
  return a && typeof a === "object" ? { host: a.address, port: a.port } : undefined;
}

interface Endpoints {
  udp?: UdpSocket;
  sipTcp?: TcpServer;
  cops?: TcpServer;
  http?: HttpServer;
  /** Where the sockets above are bound, read once after binding (address() is a system call). */
  bound: { sipUdp?: Address; sipTcp?: Address; cops?: Address; osp?: Address };
}

interface Link {
  proto: Protocol;
  connector: string;
  acceptor: string;
  client: Socket;
  server?: Socket;
  connected: boolean;
  /** Messages from the connector waiting for the connection; recorded when written (real ports then known). */
  queue: Array<{ from: string; action: SendAction; t: number }>;
  /** Call ids of the messages written and not yet read, connector→acceptor and back (TCP keeps the order). */
  hints: [string[], string[]];
  /** Record transports connector→acceptor and back, once both ports are known. */
  transports?: [Transport, Transport];
}

type Transport = NonNullable<MessageRecord["transport"]>;

type PendingHttp = { res: ServerResponse; requester: string };

/** Call-id hints held per sender–receiver pair: far more than are ever in flight on loopback at once. */
const HINTS_PER_PAIR = 4096;

/** The socket driver: runs the same nodes as the in-memory driver on real sockets (SIP UDP/TCP/TLS, COPS TCP, OSP HTTP). */
export class SocketNetwork<E = unknown> {
  private readonly nodes = new Map<string, FlowNode<E>>();
  private readonly specs = new Map<string, SocketEndpointsSpec>();
  private readonly endpoints = new Map<string, Endpoints>();
  private readonly udpOwner = new Map<number, string>();
  /** SIP/UDP sources ("host:port") of nodes in other processes. */
  private readonly remoteUdp = new Map<string, string>();
  /** SIP stream listeners ("host:port") of nodes in other processes, as their Vias name them. */
  private readonly remoteStreamSip = new Map<string, string>();
  private readonly tcpClientOwner = new Map<number, Link>();
  private readonly links = new Map<string, Link>();
  /** Every node's timers, keyed "node\0key": one armed setTimeout for the earliest deadline. */
  private readonly timers = new DeadlineTimers(
    () => performance.now(),
    (key) => {
      const cut = key.indexOf("\u0000");
      this.dispatch(key.slice(0, cut), { type: "timer", now: this.now, key: key.slice(cut + 1) });
    },
  );
  /** Call ids of datagrams and OSP requests in flight, by "proto|from|to", then by fingerprint. */
  private readonly hints = new Map<string, Map<number, string | string[]>>();
  /** OSP clients: keep-alive connections from a node to an OSP server, by "from|to". */
  private readonly ospPools = new Map<string, HttpPostPool>();
  private readonly faults: FaultPlan;
  private readonly extraTimeouts = new Set<NodeJS.Timeout>();
  /** Sockets corked during this turn of the event loop. */
  private readonly corked = new Set<Socket>();
  /** Connection limits of each listener, by "node|proto". */
  private readonly gates = new Map<string, ConnectionGate>();
  private t0 = 0;
  /** Source of the last request from the external SIP peer: where requests to it go. */
  private externalSource: { address: string; port: number } | undefined;
  private stopped = false;
  messagesMoved = 0;

  constructor(private readonly opts: SocketNetworkOptions<E> = {}) {
    this.faults = opts.faults ?? new FaultPlan();
  }

  get now(): number {
    return Math.floor(performance.now() - this.t0);
  }

  /** Adds a node and the listeners it needs; they bind when the network starts. */
  add(node: FlowNode<E>, spec: SocketEndpointsSpec): this {
    this.nodes.set(node.name, node);
    this.specs.set(node.name, spec);
    return this;
  }

  /** Inbound connections open now, by "node protocol" listener (SIP streams, COPS, OSP). */
  openConnections(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, gate] of this.gates) out[key.replace("|", " ")] = gate.open;
    return out;
  }

  /** Addresses each node listens on ("127.0.0.1:port"), for captures and for `callgate serve`. */
  addresses(): Record<string, { sip?: string; cops?: string; osp?: string }> {
    const out: Record<string, { sip?: string; cops?: string; osp?: string }> = {};
    for (const [name, ep] of this.endpoints) {
      const entry: { sip?: string; cops?: string; osp?: string } = {};
      const tcpAddr = boundAddress(ep.sipTcp);
      const udpAddr = boundAddress(ep.udp);
      // The node that takes an outside caller is reached by it over UDP, whatever its peers inside use.
      if (tcpAddr && name !== this.opts.externalSipPeer?.acceptor) entry.sip = `${tcpAddr.host}:${tcpAddr.port};transport=${this.opts.sipTransport === "tls" ? "tls" : "tcp"}`;
      else if (udpAddr) entry.sip = `${udpAddr.host}:${udpAddr.port}`;
      const copsAddr = boundAddress(ep.cops);
      if (copsAddr) entry.cops = `${copsAddr.host}:${copsAddr.port}`;
      const httpAddr = boundAddress(ep.http);
      if (httpAddr) entry.osp = `${tlsFor(this.opts.tls, "OSP") ? "https" : "http"}://${httpAddr.host}:${httpAddr.port}/osp`;
      out[name] = entry;
    }
    return out;
  }

  /** Binds every node's sockets, then delivers `start` to each. */
  async start(): Promise<void> {
    for (const [name, spec] of this.specs) {
      const ep: Endpoints = { bound: {} };
      this.endpoints.set(name, ep); // known before binding: stop() closes what did bind if a later bind fails
      if (spec.sip) {
        ep.udp = await this.bindUdp(name);
        // The stream listener (TCP, or TLS on the directory's sipTls port) is kept as sipTcp.
        if (this.streamSip) ep.sipTcp = await this.listenTcp(name, "SIP");
        // The node that takes an outside caller takes it over TCP too, on its UDP port (RFC 3261 §18: both).
        else if (this.opts.externalSipPeer?.acceptor === name) ep.sipTcp = await this.listenTcp(name, "SIP", boundAddress(ep.udp)?.port);
      }
      if (spec.copsServer) ep.cops = await this.listenTcp(name, "COPS");
      if (spec.ospServer && this.opts.osp !== "in-process") ep.http = await this.listenHttp(name);
      ep.bound = { sipUdp: boundAddress(ep.udp), sipTcp: boundAddress(ep.sipTcp), cops: boundAddress(ep.cops), osp: boundAddress(ep.http) };
    }
    const sipPeers: Record<string, string> = {};
    for (const [name, d] of Object.entries(this.opts.directory ?? {})) {
      if (this.nodes.has(name)) continue;
      if (d.sipUdp !== undefined) this.remoteUdp.set(`${d.host}:${d.sipUdp}`, name);
      // A stream peer names itself by the sent-by of its first request's top Via (RFC 3261 §18.2.1).
      for (const port of [d.sipTcp, d.sipTls]) if (port !== undefined) this.remoteStreamSip.set(`${d.host}:${port}`, name);
      const port = this.streamSip ? (this.opts.sipTransport === "tls" ? d.sipTls : d.sipTcp) : d.sipUdp;
      if (port !== undefined) sipPeers[name] = `${d.host}:${port}`;
    }
    const peers = Object.keys(sipPeers).length > 0 ? { sipPeers } : {};
    this.t0 = performance.now() - (this.opts.wallClock ? Date.now() : 0);
    this.scheduleDownWindows();
    for (const name of this.nodes.keys()) {
      const sip = this.sipListenAddress(name);
      this.dispatch(name, { type: "start", now: this.opts.wallClock ? this.now : 0, ...(sip ? { sip } : {}), ...peers });
    }
  }

  /** The SIP listener a node's peers reach it on: the stream listener when SIP runs over TCP/TLS, else its UDP socket. */
  private sipListenAddress(name: string): SipListenAddress | undefined {
    const bound = this.endpoints.get(name)?.bound;
    const stream = this.streamSip ? bound?.sipTcp : undefined;
    const a = stream ?? bound?.sipUdp;
    if (!a) return undefined;
    const transport = stream === undefined ? "UDP" : this.opts.sipTransport === "tls" ? "TLS" : "TCP";
    return { host: a.host, port: a.port, transport };
  }

  /** Stops every timer, closes every socket and connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.clear();
    for (const t of this.extraTimeouts) clearTimeout(t);
    for (const link of this.links.values()) {
      link.client.destroy();
      link.server?.destroy();
    }
    this.links.clear();
    for (const pool of this.ospPools.values()) pool.destroy();
    const closing: Promise<void>[] = [];
    for (const ep of this.endpoints.values()) {
      if (ep.udp) closing.push(new Promise((r) => ep.udp?.close(() => r())));
      for (const s of [ep.sipTcp, ep.cops, ep.http]) if (s) closing.push(new Promise((r) => s.close(() => r())));
      if (ep.http) ep.http.closeAllConnections();
    }
    await Promise.all(closing);
  }

  /** Run actions a node produced outside an event. */
  perform(node: string, actions: NodeAction<E>[]): void {
    this.apply(node, actions);
  }

  // ---- events into nodes ----

  private dispatch(name: string, event: NodeEvent, intercept?: (a: SendAction) => boolean): void {
    if (this.stopped) return;
    const node = this.nodes.get(name);
    if (!node) return;
    if (this.faults.isDown(name, this.now) && event.type !== "start") return;
    let out: NodeAction<E>[] | Promise<NodeAction<E>[]>;
    try {
      out = node.handle(event);
    } catch (err) {
      this.opts.onError?.(`${name} handling ${event.type}`, err);
      return;
    }
    if (Array.isArray(out)) this.apply(name, out, intercept);
    else out.then((a) => this.apply(name, a, intercept), (err: unknown) => this.opts.onError?.(`${name} (async)`, err));
  }

  /** `hint`: the sender's call id when this process sent the message (a TCP link's order, a fingerprint, the HTTP exchange). */
  private deliver(proto: Protocol, from: string, to: string, bytes: Buffer, hint: string | undefined, intercept?: (a: SendAction) => boolean, source?: { host: string; port: number }): void {
    const event: NodeEvent = { type: "deliver", now: this.now, proto, from, bytes };
    if (hint !== undefined) event.callId = hint; // none for a message from another process: no node decides on it
    if (source !== undefined) event.source = source;
    this.dispatch(to, event, intercept);
  }

  // ---- actions out of nodes ----

  private apply(from: string, actions: NodeAction<E>[], intercept?: (a: SendAction) => boolean): void {
    if (this.stopped) return;
    for (const action of actions) {
      switch (action.type) {
        case "send": {
          if (intercept?.(action)) break;
          const verdict = this.faults.judge(action.proto, from, action.to, action.label, this.now);
          for (let copy = 0; copy < verdict.copies; copy++) {
            if (verdict.extraDelayMs > 0) {
              const t = setTimeout(() => {
                this.extraTimeouts.delete(t);
                this.transmit(from, action);
              }, verdict.extraDelayMs);
              this.extraTimeouts.add(t);
            } else {
              this.transmit(from, action);
            }
          }
          break;
        }
        case "set-timer":
          this.timers.set(`${from}\u0000${action.key}`, action.delayMs);
          break;
        case "cancel-timer":
          this.timers.cancel(`${from}\u0000${action.key}`);
          break;
        case "emit":
          this.opts.onEmit?.(from, action.event, this.now);
          break;
        case "close":
          this.closeLink(action.proto, from, action.peer);
          break;
      }
    }
  }

  private record(from: string, a: SendAction, transport: MessageRecord["transport"], t = this.now): void {
    this.messagesMoved++;
    if (!this.opts.onRecord) return;
    const r: MessageRecord = { t, proto: a.proto, from, to: a.to, msg: a.label, callId: a.callId, bytes: a.bytes };
    if (transport) r.transport = transport;
    this.opts.onRecord(r);
  }

  private transmit(from: string, a: SendAction): void {
    if (this.stopped) return;
    if (a.proto === "SIP") {
      const ext = this.opts.externalSipPeer;
      const toCaller = ext !== undefined && from === ext.acceptor && a.to === ext.as;
      // The outside caller is answered on the connection it called over, else by UDP.
      if (toCaller ? this.links.has(`SIP|${ext.as}|${from}`) : this.streamSip) this.sendOnLink("SIP", from, a);
      else this.sendUdp(from, a);
    } else if (a.proto === "COPS") {
      this.sendOnLink("COPS", from, a);
    } else if (a.proto === "OSP") {
      this.sendOsp(from, a);
    }
  }

  // ---- call-id hints (records only; the receiving node never decides on them) ----

  /** Call-id hints held for messages in flight (a gauge: back to 0 once nothing is in flight). */
  get hintsHeld(): number {
    let n = 0;
    for (const byPrint of this.hints.values()) for (const held of byPrint.values()) n += typeof held === "string" ? 1 : held.length;
    for (const link of this.links.values()) n += link.hints[0].length + link.hints[1].length;
    return n;
  }

  private addHint(proto: Protocol, from: string, to: string, bytes: Buffer, callId: string): void {
    if (!this.nodes.has(to)) return; // read in another process
    const pair = `${proto}|${from}|${to}`;
    let byPrint = this.hints.get(pair);
    if (!byPrint) this.hints.set(pair, (byPrint = new Map()));
    const print = fingerprint(bytes);
    const held = byPrint.get(print);
    if (held === undefined) {
      // A datagram lost on the way never takes its hint: the oldest go first, so the map stays bounded.
      if (byPrint.size >= HINTS_PER_PAIR) byPrint.delete(byPrint.keys().next().value as number);
      byPrint.set(print, callId);
    } else if (typeof held === "string") byPrint.set(print, [held, callId]);
    else if (held.length < HINTS_PER_PAIR) held.push(callId);
  }

  private takeHint(proto: Protocol, from: string, to: string, bytes: Buffer): string | undefined {
    const byPrint = this.hints.get(`${proto}|${from}|${to}`);
    if (!byPrint) return undefined;
    const print = fingerprint(bytes);
    const held = byPrint.get(print);
    if (held === undefined || typeof held === "string") {
      byPrint.delete(print);
      return held;
    }
    const v = held.shift();
    if (held.length === 0) byPrint.delete(print);
    return v;
  }

  // ---- UDP (SIP) ----

  private bindUdp(name: string): Promise<UdpSocket> {
    return new Promise((resolve, reject) => {
      const sock = createSocket({ type: "udp4", lookup: literalLookup });
      sock.on("error", (err) => this.opts.onError?.(`${name} udp`, err));
      sock.on("message", (msg, rinfo) => {
        const from = this.udpOwner.get(rinfo.port) ?? this.remoteUdp.get(`${rinfo.address}:${rinfo.port}`) ?? this.foreignSipPeer(rinfo.address, rinfo.port);
        if (from !== undefined) this.deliver("SIP", from, name, msg, this.takeHint("SIP", from, name, msg), undefined, { host: rinfo.address, port: rinfo.port });
        else if (this.opts.externalSipPeer?.acceptor === name && isLoopback(rinfo.address)) this.fromExternal(name, sock, msg, rinfo);
      });
      sock.once("error", reject);
      const d = this.opts.directory?.[name];
      sock.bind(d?.sipUdp ?? this.opts.sipPorts?.[name] ?? 0, d?.host ?? LOOPBACK, () => {
        this.udpOwner.set(sock.address().port, name);
        resolve(sock);
      });
    });
  }

  private fromExternal(acceptor: string, sock: UdpSocket, msg: Buffer, rinfo: { address: string; port: number }): void {
    const peer = this.opts.externalSipPeer?.as ?? "";
    let label = "unparsable";
    let callId = "";
    try {
      const m = parseSipMessage(msg);
      label = "status" in m ? `${m.status} ${m.reason}` : m.method;
      callId = m.callId;
      if (!("status" in m)) this.externalSource = { address: rinfo.address, port: rinfo.port };
    } catch (err) {
      // The acceptor's transaction layer judges the datagram (a request it can still answer gets 400,
      // RFC 3261 §18.3); the record keeps the bytes, the drop log counts the cause.
      this.opts.onDrop?.("SIP", "malformed-datagram", `${rinfo.address}:${rinfo.port}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const transport = { kind: "udp" as const, src: rinfo.address, srcPort: rinfo.port, dst: LOOPBACK, dstPort: sock.address().port };
    this.record(peer, { type: "send", proto: "SIP", to: acceptor, bytes: msg, label, callId }, transport);
    this.deliver("SIP", peer, acceptor, msg, undefined, undefined, { host: rinfo.address, port: rinfo.port });
  }

  private recordFromCaller(peer: string, acceptor: string, msg: Buffer, transport: MessageRecord["transport"]): void {
    let label = "unparsable";
    let callId = "";
    try {
      const m = parseSipMessage(msg);
      label = "status" in m ? `${m.status} ${m.reason}` : m.method;
      callId = m.callId;
    } catch {
      // framed but unreadable: the acceptor's transaction layer judges it; the record keeps the bytes
    }
    this.record(peer, { type: "send", proto: "SIP", to: acceptor, bytes: msg, label, callId }, transport);
  }

  /** Where a message to the external peer goes: a response by its top Via (RFC 3261 §18.2.2, RFC 3581 rport), a request to the last source. */
  private externalDestination(bytes: Buffer): { address: string; port: number } | undefined {
    if (bytes.subarray(0, 8).toString("latin1") !== "SIP/2.0 ") return this.externalSource;
    try {
      const top = parseSipMessage(bytes).getHeaders("Via")[0];
      const via = top === undefined ? undefined : parseViaValue(top)[0];
      if (!via) return this.externalSource;
      const address = via.received ?? via.host;
      const port = typeof via.rport === "number" ? via.rport : (via.port ?? 5060);
      return isLoopback(address) ? { address, port } : this.externalSource;
    } catch {
      return this.externalSource;
    }
  }

  private sendUdp(from: string, a: SendAction): void {
    const src = this.endpoints.get(from)?.udp;
    const ext = this.opts.externalSipPeer;
    if (src && ext && from === ext.acceptor && a.to === ext.as && !this.endpoints.has(a.to)) {
      const dest = this.externalDestination(a.bytes);
      if (!dest) return;
      this.record(from, a, { kind: "udp", src: LOOPBACK, srcPort: this.endpoints.get(from)?.bound.sipUdp?.port ?? 0, dst: dest.address, dstPort: dest.port });
      src.send(a.bytes, dest.port, dest.address);
      return;
    }
    const dst = this.listening(a.to, "sipUdp") ?? foreignAddress(a.to);
    if (!src || !dst) return;
    const here = this.endpoints.get(from)?.bound.sipUdp;
    this.addHint("SIP", from, a.to, a.bytes, a.callId);
    this.record(from, a, { kind: "udp", src: here?.host ?? LOOPBACK, srcPort: here?.port ?? 0, dst: dst.host, dstPort: dst.port });
    src.send(a.bytes, dst.port, dst.host);
  }

  /** Where a node listens for a protocol: its own socket here, or its directory entry in another process. */
  private listening(name: string, kind: "sipUdp" | "sipTcp" | "cops" | "osp"): Address | undefined {
    const ep = this.endpoints.get(name);
    if (ep) return ep.bound[kind];
    const d = this.opts.directory?.[name];
    const port = kind === "sipTcp" && this.opts.sipTransport === "tls" ? d?.sipTls : d?.[kind];
    return d && port !== undefined ? { host: d.host, port } : undefined;
  }

  // ---- TCP links (COPS; SIP over TCP) ----

  private listenTcp(name: string, proto: Protocol, port?: number): Promise<TcpServer> {
    return new Promise((resolve, reject) => {
      const tls = this.opts.tls;
      const server = tls && tlsFor(tls, proto)
        ? SocketNetwork.closeFailedHandshakes(createTlsServer(tlsServerOptions(tls, name, this.handshakeTimeoutMs), (sock) => this.accept(name, proto, sock)))
        : createTcpServer((sock) => this.accept(name, proto, sock));
      server.once("error", reject);
      this.limitListener(server, name, proto);
      const d = this.opts.directory?.[name];
      const sipPort = this.opts.sipTransport === "tls" ? d?.sipTls : d?.sipTcp;
      server.listen(port ?? (proto === "COPS" ? d?.cops : sipPort) ?? 0, d?.host ?? LOOPBACK, () => resolve(server));
    });
  }

  /** The listener's connection limits: caps and idle timeout here, head and body deadlines through `framer`. */
  private limitListener(server: TcpServer | HttpServer, name: string, proto: Protocol): void {
    const onRefuse = (cause: string, peer: { address: string; port: number }): void => this.opts.onDrop?.(proto, cause, `${peer.address}:${peer.port}`);
    if (proto === "OSP") {
      const gate = limitHttpServer(server as HttpServer, { ...(this.opts.limits ? { limits: this.opts.limits } : {}), onRefuse, onClientError: (cause, detail) => this.opts.onDrop?.(proto, cause, detail) });
      this.gates.set(`${name}|${proto}`, gate);
      return;
    }
    const gate = new ConnectionGate(this.opts.limits, onRefuse);
    gate.attach(server);
    this.gates.set(`${name}|${proto}`, gate);
  }

  private accept(acceptor: string, proto: Protocol, sock: Socket): void {
    sock.setNoDelay(true);
    const frames = this.framer(proto, this.gates.get(`${acceptor}|${proto}`)?.watch(sock));
    let link: Link | undefined;
    let certified = false;
    sock.on("data", (chunk) => {
      link ??= this.tcpClientOwner.get(sock.remotePort ?? -1);
      if (link && !certified) {
        // Mutual TLS: once per connection, the client certificate must name the connecting node.
        if (!this.certifiedPeer(proto, sock, link.connector)) {
          sock.destroy();
          return;
        }
        certified = true;
      }
      if (link) {
        if (link.server !== sock) sock.setTimeout(0); // a known peer: its liveness is its protocol's (COPS KA, RFC 2748 §2.6)
        link.server = sock;
        this.onFrames(frames, chunk, link, 0, sock);
      } else if (this.opts.identifyTcpPeer) {
        link = this.acceptRemote(frames, chunk, acceptor, proto, sock);
        if (link) sock.setTimeout(0);
      } else if (proto === "SIP" && this.opts.externalSipPeer?.acceptor === acceptor) {
        // The outside caller over TCP: its connection is the peer `as` (§18.2.2: responses go back on it).
        const list = this.frame(frames, chunk, this.opts.externalSipPeer.as, acceptor, proto, sock);
        if (list) link = this.linkAccepted(list, acceptor, proto, sock, this.opts.externalSipPeer.as, { address: sock.remoteAddress ?? "", port: sock.remotePort ?? 0, linked: () => false });
      } else {
        // Every peer of a one-process network connects from this process: anyone else is closed at once.
        this.opts.onDrop?.(proto, "unknown-peer", `${sock.remoteAddress ?? "?"}:${sock.remotePort ?? 0}`);
        sock.destroy();
      }
    });
    sock.on("error", () => undefined);
    sock.on("close", () => {
      if (link) this.dropLink(link);
    });
  }

  /** Frames a stream; `phase` (an accepted connection's deadlines) learns what the stream waits for after each chunk. */
  private framer(proto: Protocol, phase?: (p: MessagePhase) => void): (chunk: Buffer) => Buffer[] {
    if (proto === "COPS") {
      const splitter = new CopsFrameSplitter();
      return (chunk) => {
        const frames = splitter.push(chunk);
        phase?.(splitter.buffered === 0 ? "idle" : splitter.buffered < 8 ? "head" : "body"); // 8: the common header (RFC 2748 §2.1)
        return frames;
      };
    }
    const parser = new SipStreamParser();
    return (chunk) => {
      const messages = parser.push(chunk);
      phase?.(parser.phase);
      return messages.map((m) => serializeSipMessage(m));
    };
  }

  /** Whole messages of a chunk read on a link, `dir` 0 from the connector, 1 from the acceptor. */
  private onFrames(frames: (chunk: Buffer) => Buffer[], chunk: Buffer, link: Link, dir: 0 | 1, sock: Socket): void {
    const [from, to] = dir === 0 ? [link.connector, link.acceptor] : [link.acceptor, link.connector];
    const list = this.frame(frames, chunk, from, to, link.proto, sock);
    if (!list) return;
    const source = link.proto === "SIP" ? { host: sock.remoteAddress ?? "", port: sock.remotePort ?? 0 } : undefined;
    // The outside caller records nothing itself: what it sends is recorded here, as for its datagrams.
    const outside = dir === 0 && link.proto === "SIP" && from === this.opts.externalSipPeer?.as && this.opts.externalSipPeer.acceptor === to;
    for (const f of list) {
      if (outside) this.recordFromCaller(from, to, f, this.linkTransport(link, true));
      this.deliver(link.proto, from, to, f, link.hints[dir].shift(), undefined, source);
    }
  }

  private frame(frames: (chunk: Buffer) => Buffer[], chunk: Buffer, from: string, to: string, proto: Protocol, sock: Socket): Buffer[] | undefined {
    if (sock.writableEnded) return undefined; // refused: nothing more is read
    try {
      return frames(chunk);
    } catch (err) {
      // A stream that cannot be framed is closed (RFC 2748 §2.1 / RFC 3261 §18.3); COPS first says why in a CC (§3.7).
      if (err instanceof CopsDecodeError) {
        // A drop by its code (one cause whatever the offset); the peer is told by CC.
        this.opts.onDrop?.(proto, `cops-${err.code}`, `${from}→${to}: ${err.message}`);
        this.refuse(sock, encodeCopsMessage({ op: "CC", clientType: 0, error: err.copsErrorCode }));
      } else {
        this.opts.onError?.(`${proto} stream ${from}→${to}`, err);
        sock.destroy();
      }
      return undefined;
    }
  }

  /** Writes `answer`, then closes the connection (destroyed if the peer does not close within a second). */
  private refuse(sock: Socket, answer: Buffer): void {
    this.corked.delete(sock);
    sock.end(answer);
    setTimeout(() => sock.destroy(), 1000).unref();
  }

  /** A node closes its connection with `peer` (after a COPS CC): what it wrote goes out first. */
  private closeLink(proto: Protocol, node: string, peer: string): void {
    const link = this.links.get(`${proto}|${peer}|${node}`) ?? this.links.get(`${proto}|${node}|${peer}`);
    if (!link) return;
    this.links.delete(`${proto}|${link.connector}|${link.acceptor}`);
    this.tcpClientOwner.delete(link.client.localPort ?? -1);
    // The peer reads what was written (the CC), then the close; a PEP of this process fails over on the CC.
    this.refuse(link.connector === node ? link.client : (link.server ?? link.client), Buffer.alloc(0));
  }

  /** A connection from a node in another process: its first message names it; the link is then used both ways. */
  private acceptRemote(frames: (chunk: Buffer) => Buffer[], chunk: Buffer, acceptor: string, proto: Protocol, sock: Socket): Link | undefined {
    const list = this.frame(frames, chunk, "?", acceptor, proto, sock);
    const first = list?.[0];
    if (!list || !first) return undefined;
    const source: TcpPeerSource = {
      address: sock.remoteAddress ?? "",
      port: sock.remotePort ?? 0,
      linked: (name) => this.links.has(`${proto}|${name}|${acceptor}`),
    };
    const peer = (proto === "SIP" ? this.sipPeerOfVia(first) : undefined) ?? this.opts.identifyTcpPeer?.(proto, acceptor, first, source);
    if (typeof peer === "object") {
      // Refused as its protocol says (a COPS CC with Error); a link the peer name already has is left alone.
      this.opts.onDrop?.(proto, peer.cause, `${source.address}:${source.port}`);
      this.refuse(sock, peer.answer);
      return undefined;
    }
    if (peer === undefined && proto === "SIP") {
      // A SIP peer outside the deployment (a foreign proxy): known by its connection, answered on it (§18.2.2).
      const named = this.foreignSipPeer(source.address, source.port);
      if (named !== undefined) return this.linkAccepted(list, acceptor, proto, sock, named, source);
    }
    if (peer === undefined || this.nodes.has(peer)) {
      this.opts.onError?.(`${proto} connection to ${acceptor}`, new Error(`no known peer sent ${sock.remoteAddress ?? "?"}:${sock.remotePort ?? 0}'s first message`));
      sock.destroy();
      return undefined;
    }
    if (!this.certifiedPeer(proto, sock, peer)) {
      this.opts.onError?.(`${proto} connection to ${acceptor}`, new Error(`the client certificate of ${sock.remoteAddress ?? "?"}:${sock.remotePort ?? 0} does not name ${peer}`));
      sock.destroy();
      return undefined;
    }
    return this.linkAccepted(list, acceptor, proto, sock, peer, source);
  }

  private linkAccepted(list: Buffer[], acceptor: string, proto: Protocol, sock: Socket, peer: string, source: TcpPeerSource): Link {
    const link: Link = { proto, connector: peer, acceptor, client: sock, server: sock, connected: true, queue: [], hints: [[], []] };
    this.dropLink(this.links.get(`${proto}|${peer}|${acceptor}`));
    this.links.set(`${proto}|${peer}|${acceptor}`, link);
    const from = proto === "SIP" ? { host: source.address, port: source.port } : undefined;
    const outside = proto === "SIP" && peer === this.opts.externalSipPeer?.as && acceptor === this.opts.externalSipPeer.acceptor;
    for (const f of list) {
      if (outside) this.recordFromCaller(peer, acceptor, f, this.linkTransport(link, true));
      this.deliver(proto, peer, acceptor, f, undefined, undefined, from);
    }
    return link;
  }

  /**
   * A SIP peer outside the deployment, named by its address ("127.0.0.1:5070"): only in a deployment of processes
   * (a directory), where proxies take SIP from foreign proxies; a one-process network knows every peer.
   */
  private foreignSipPeer(address: string, port: number): string | undefined {
    return this.opts.directory !== undefined ? `${address}:${port}` : undefined;
  }

  /** The peer whose stream listener the top Via of a first request names as its sent-by (RFC 3261 §18.2.1). */
  private sipPeerOfVia(first: Buffer): string | undefined {
    if (this.remoteStreamSip.size === 0) return undefined;
    try {
      const m = parseSipMessage(first);
      if ("status" in m) return undefined;
      const via = m.topVia;
      return this.remoteStreamSip.get(`${via.host}:${via.port ?? (via.transport.toUpperCase() === "TLS" ? 5061 : 5060)}`);
    } catch {
      return undefined; // not a request whose Via can be read: the deployment's own rule judges it
    }
  }

  private linkFor(proto: Protocol, from: string, to: string): Link | undefined {
    const mine = this.links.get(`${proto}|${from}|${to}`);
    if (mine) return mine;
    const theirs = this.links.get(`${proto}|${to}|${from}`);
    if (theirs) return theirs;
    const addr = this.listening(to, proto === "COPS" ? "cops" : "sipTcp") ?? (proto === "SIP" ? foreignAddress(to) : undefined);
    if (!addr) return undefined;
    const tls = this.opts.tls;
    const secure = tls !== undefined && tlsFor(tls, proto);
    const client = secure ? tlsConnect(tlsClientOptions(tls, from, to, addr.host, addr.port)) : createConnection({ host: addr.host, port: addr.port });
    client.setNoDelay(true);
    const link: Link = { proto, connector: from, acceptor: to, client, connected: false, queue: [], hints: [[], []] };
    this.links.set(`${proto}|${from}|${to}`, link);
    const frames = this.framer(proto);
    client.on(secure ? "secureConnect" : "connect", () => {
      this.tcpClientOwner.set(client.localPort ?? -1, link);
      link.connected = true;
      for (const q of link.queue.splice(0)) {
        this.record(q.from, q.action, this.linkTransport(link, true), q.t);
        this.write(client, q.action.bytes);
      }
    });
    client.on("data", (chunk) => this.onFrames(frames, chunk, link, 1, client));
    client.on("error", () => undefined);
    client.on("close", () => this.dropLink(link));
    return link;
  }

  /** SIP and COPS links a node accepts are either plain or TLS; with mutual TLS the client certificate must name the peer. */
  private get streamSip(): boolean {
    return this.opts.sipTransport === "tcp" || this.opts.sipTransport === "tls";
  }

  /** A failed or timed-out handshake closes its socket (node leaves it open when nobody listens). */
  private static closeFailedHandshakes<S extends { on(event: "tlsClientError", listener: (err: Error, socket: { destroy(): void }) => void): unknown }>(server: S): S {
    server.on("tlsClientError", (_err, socket) => socket.destroy());
    return server;
  }

  /** A TLS handshake is a connection's first head: it gets the listeners' header deadline. */
  private get handshakeTimeoutMs(): number {
    return this.opts.limits?.headerTimeoutMs ?? DEFAULT_CONNECTION_LIMITS.headerTimeoutMs;
  }

  private certifiedPeer(proto: Protocol, sock: Socket, peer: string): boolean {
    const tls = this.opts.tls;
    if (!tls?.requireClientCert || !tlsFor(tls, proto)) return true;
    return certifiedAs(sock as TLSSocket, peer);
  }

  private dropLink(link: Link | undefined): void {
    if (!link) return;
    const key = `${link.proto}|${link.connector}|${link.acceptor}`;
    if (this.links.get(key) !== link) return;
    this.links.delete(key);
    this.tcpClientOwner.delete(link.client.localPort ?? -1);
    link.client.destroy();
    link.server?.destroy();
    if (this.stopped) return;
    // The connecting side (a COPS PEP) learns its PDP went away (RFC 2748 §2.5 fail-over); a node accepting a
    // peer of another process learns that peer is gone (a PDP frees the PEP's states).
    this.dispatch(link.connector, { type: "peer-down", now: this.now, proto: link.proto, peer: link.acceptor });
    if (!this.nodes.has(link.connector)) this.dispatch(link.acceptor, { type: "peer-down", now: this.now, proto: link.proto, peer: link.connector });
  }

  private sendOnLink(proto: Protocol, from: string, a: SendAction): void {
    const link = this.linkFor(proto, from, a.to);
    if (!link) return;
    const fromConnector = link.connector === from;
    const sock = fromConnector ? link.client : link.server;
    if (fromConnector && !link.connected) {
      if (this.nodes.has(a.to)) link.hints[0].push(a.callId);
      link.queue.push({ from, action: a, t: this.now });
      return;
    }
    if (!sock || sock.destroyed) return;
    if (this.nodes.has(a.to)) link.hints[fromConnector ? 0 : 1].push(a.callId);
    this.record(from, a, this.linkTransport(link, fromConnector));
    this.write(sock, a.bytes);
  }

  /**
   * Writes of one turn of the event loop go out together: the socket is corked at its first write and
   * uncorked once the turn's I/O callbacks have run (setImmediate), so messages to one peer share a segment.
   */
  private write(sock: Socket, bytes: Buffer): void {
    if (!this.corked.has(sock)) {
      sock.cork();
      this.corked.add(sock);
      if (this.corked.size === 1) setImmediate(this.uncorkAll);
    }
    sock.write(bytes);
  }

  private readonly uncorkAll = (): void => {
    for (const sock of this.corked) sock.uncork();
    this.corked.clear();
  };

  private linkTransport(link: Link, fromConnector: boolean): Transport {
    let both = link.transports;
    if (!both) {
      const c = link.client;
      const client = { host: c.localAddress ?? LOOPBACK, port: c.localPort ?? 0 };
      const server = { host: c.remoteAddress ?? LOOPBACK, port: c.remotePort ?? 0 };
      if (link.server === c) [client.host, client.port, server.host, server.port] = [server.host, server.port, client.host, client.port];
      both = [
        { kind: "tcp", src: client.host, srcPort: client.port, dst: server.host, dstPort: server.port },
        { kind: "tcp", src: server.host, srcPort: server.port, dst: client.host, dstPort: client.port },
      ];
      // Cached once the connection's ports are known (they are for every write after "connect").
      if (c.localPort !== undefined && c.remotePort !== undefined) link.transports = both;
    }
    return both[fromConnector ? 0 : 1];
  }

  // ---- OSP over HTTP ----

  private listenHttp(name: string): Promise<HttpServer> {
    return new Promise((resolve, reject) => {
      const tls = this.opts.tls;
      const listener = (req: IncomingMessage, res: ServerResponse): void => this.onHttpRequest(name, req, res);
      const server = tls && tlsFor(tls, "OSP") ? SocketNetwork.closeFailedHandshakes(createHttpsServer({ ...tlsServerOptions(tls, name, this.handshakeTimeoutMs), keepAlive: true }, listener)) : createHttpServer({ keepAlive: true }, listener);
      server.keepAliveTimeout = 30_000;
      server.once("error", reject);
      this.limitListener(server, name, "OSP");
      const d = this.opts.directory?.[name];
      server.listen(d?.osp ?? 0, d?.host ?? LOOPBACK, () => resolve(server));
    });
  }

  private onHttpRequest(server: string, req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = Number(req.headers["content-length"] ?? 0); // a declared length over the bound is refused before its body
    const tooLarge = (): void => {
      // RFC 9110 §15.5.14: no OSP document is this large; the rest is not read.
      this.opts.onDrop?.("OSP", "body-too-large", `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? 0}`);
      res.writeHead(413, { connection: "close", "content-length": 0 }).end();
      req.destroy();
    };
    if (size > MAX_OSP_DOCUMENT_BYTES * 2) {
      tooLarge();
      return;
    }
    size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_OSP_DOCUMENT_BYTES * 2) chunks.push(c);
      else if (!res.headersSent) tooLarge();
    });
    req.on("end", () => {
      const requester = /callgate-(\S+)/.exec(req.headers["user-agent"] ?? "")?.[1];
      if (req.method !== "POST" || requester === undefined || !(this.nodes.has(requester) || this.opts.directory?.[requester])) {
        res.writeHead(400).end();
        return;
      }
      if (!this.certifiedPeer("OSP", req.socket, requester)) {
        res.writeHead(403, { connection: "close" }).end(); // mutual TLS: the certificate does not name the requester
        return;
      }
      const pending: PendingHttp = { res, requester };
      const remotePort = req.socket.remotePort ?? 0;
      const localPort = req.socket.localPort ?? 0;
      const body = Buffer.concat(chunks);
      this.deliver("OSP", requester, server, body, this.takeHint("OSP", requester, server, body), (a) => {
        if (a.proto !== "OSP" || a.to !== pending.requester || pending.res.headersSent) return false;
        this.record(server, a, { kind: "http", src: req.socket.localAddress ?? LOOPBACK, srcPort: localPort, dst: req.socket.remoteAddress ?? LOOPBACK, dstPort: remotePort });
        // TS 101 321 over HTTP: the answer is the response body.
        pending.res.writeHead(200, { "content-type": "text/plain", "content-length": a.bytes.length }).end(a.bytes);
        return true;
      });
    });
  }

  private sendOsp(from: string, a: SendAction): void {
    if (this.opts.osp === "in-process") {
      this.record(from, a, undefined);
      setImmediate(() => this.deliver("OSP", from, a.to, a.bytes, a.callId, (reply) => {
        if (reply.proto !== "OSP" || reply.to !== from) return false;
        this.record(a.to, reply, undefined);
        setImmediate(() => this.deliver("OSP", a.to, from, reply.bytes, reply.callId));
        return true;
      }));
      return;
    }
    const addr = this.listening(a.to, "osp");
    if (!addr) return;
    let pool = this.ospPools.get(`${from}|${a.to}`);
    if (!pool) {
      const tls = this.opts.tls;
      const secure = tls && tlsFor(tls, "OSP") ? { tls: tlsClientOptions(tls, from, a.to, addr.host, addr.port) } : {};
      pool = new HttpPostPool({ host: addr.host, port: addr.port, path: "/osp", ...secure }, 8, `Content-Type: text/plain\r\nUser-Agent: callgate-${from}\r\n`);
      this.ospPools.set(`${from}|${a.to}`, pool);
    }
    const t = this.now;
    this.addHint("OSP", from, a.to, a.bytes, a.callId);
    pool.post(a.bytes, {
      onSocket: (sock) => {
        if (!this.opts.onRecord) return;
        this.messagesMoved++;
        this.opts.onRecord({ t, proto: "OSP", from, to: a.to, msg: a.label, callId: a.callId, bytes: a.bytes, transport: { kind: "http", src: sock.localAddress ?? LOOPBACK, srcPort: sock.localPort ?? 0, dst: addr.host, dstPort: addr.port } });
      },
      // One request at a time per connection (no pipelining): the answer belongs to this request's call.
      onAnswer: (status, body) => {
        if (status === 200) this.deliver("OSP", a.to, from, body, a.callId);
      },
      onError: () => undefined, // unreachable clearinghouse: the policy server's timer decides
    });
  }

  // ---- roles down between two instants ----

  private scheduleDownWindows(): void {
    for (const w of this.faults.downWindows) {
      const down = setTimeout(() => {
        for (const link of [...this.links.values()]) if (link.connector === w.role || link.acceptor === w.role) this.dropLink(link);
        for (const name of this.nodes.keys()) if (name !== w.role) this.dispatch(name, { type: "peer-down", now: this.now, proto: "COPS", peer: w.role });
      }, w.fromMs);
      const up = setTimeout(() => {
        this.dispatch(w.role, { type: "restart", now: this.now });
        for (const name of this.nodes.keys()) if (name !== w.role) this.dispatch(name, { type: "peer-up", now: this.now, proto: "COPS", peer: w.role });
      }, w.toMs);
      this.extraTimeouts.add(down);
      this.extraTimeouts.add(up);
    }
  }
}
