// Socket network driver: every node on its own ephemeral 127.0.0.1 ports, all in one process. SIP over UDP
// (or TCP, one connection per pair), COPS over TCP (one connection per PEP–PDP pair, calls multiplexed by
// Handle), OSP over HTTP/1.1 POST (or an in-process call). Timers are real; `now` is ms since start().
// This module runs the nodes (events in, actions out, timers, records); each protocol's transport is its own
// module (sip-udp-transport.ts, stream-links.ts for SIP and COPS streams, osp-http-transport.ts), as are the
// call-id hints (call-hints.ts) and the faults (socket-faults.ts).
import type { Socket as UdpSocket } from "node:dgram";
import type { Server as HttpServer } from "node:http";
import type { Server as TcpServer } from "node:net";
import { CallHints } from "./call-hints.js";
import { DeadlineTimers } from "./deadline-timers.js";
import { FaultPlan } from "./fault-plan.js";
import type { MessageRecord, Protocol } from "./message-record.js";
import type { FlowNode, NodeAction, NodeEvent, SendAction, SipArrival, SipListenAddress, SipTransportName } from "./node.js";
import { OspHttpTransport } from "./osp-http-transport.js";
import { SipPeers } from "./sip-peers.js";
import { SipUdpTransport } from "./sip-udp-transport.js";
import { LOOPBACK, boundAddress } from "./socket-addresses.js";
import { SocketFaults } from "./socket-faults.js";
import { ListenerGates } from "./socket-listeners.js";
import { tlsFor } from "./socket-tls.js";
import type { Address, ListenerKind, SocketDriverContext, SocketEndpointsSpec, SocketNetworkOptions } from "./socket-types.js";
import { StreamLinks } from "./stream-links.js";
import { WsLinks } from "./ws-links.js";

/** Arrivals of a transport the receiving node has no listener of (e.g. a connection it opened itself). */
const ARRIVALS: Record<SipArrival["transport"], SipArrival> = { udp: { transport: "udp" }, tcp: { transport: "tcp" }, tls: { transport: "tls" }, ws: { transport: "ws" }, wss: { transport: "wss" } };

export type { NodeAddresses, SocketEndpointsSpec, SocketNetworkOptions, TcpPeerRefusal, TcpPeerSource } from "./socket-types.js";

interface Endpoints {
  udp?: UdpSocket;
  sipTcp?: TcpServer;
  cops?: TcpServer;
  http?: HttpServer;
  /** The SIP WebSocket listener's port (RFC 7118), when the node has one. */
  ws?: { host: string; port: number; url: string };
  /** Where the sockets above are bound, read once after binding (address() is a system call). */
  bound: { sipUdp?: Address; sipTcp?: Address; cops?: Address; osp?: Address };
}

/** The socket driver: runs the same nodes as the in-memory driver on real sockets (SIP UDP/TCP/TLS, COPS TCP, OSP HTTP). */
export class SocketNetwork<E = unknown> {
  private readonly nodes = new Map<string, FlowNode<E>>();
  private readonly specs = new Map<string, SocketEndpointsSpec>();
  private readonly endpoints = new Map<string, Endpoints>();
  /** Each node's SIP listeners by transport, as its deliveries name them (one object each, RFC 5658 §4). */
  private readonly arrivals = new Map<string, Partial<Record<SipArrival["transport"], SipArrival>>>();
  /** Every node's timers, by node and key: one armed setTimeout for the earliest deadline. */
  private readonly timers = new DeadlineTimers(
    () => performance.now(),
    (key, node) => this.dispatch(node, { type: "timer", now: this.now, key }),
  );
  private readonly hints = new CallHints();
  private readonly faults: SocketFaults;
  private readonly gates: ListenerGates;
  private readonly sipPeers: SipPeers;
  private readonly udp: SipUdpTransport;
  private readonly streams: StreamLinks;
  private readonly ws: WsLinks;
  private readonly osp: OspHttpTransport;
  private t0 = 0;
  private isStopped = false;
  messagesMoved = 0;

  constructor(private readonly opts: SocketNetworkOptions<E> = {}) {
    this.faults = new SocketFaults(opts.faults ?? new FaultPlan());
    this.gates = new ListenerGates(opts);
    this.sipPeers = new SipPeers(opts.directory);
    // What the transports see of this network.
    const network = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the context's getters read this network's state
    const context: SocketDriverContext = {
      options: opts,
      get now() {
        return network.now;
      },
      get stopped() {
        return network.stopped;
      },
      hints: this.hints,
      isLocal: (name) => this.nodes.has(name),
      listening: (name, kind) => this.listening(name, kind),
      deliver: (proto, from, to, bytes, hint, intercept, source, transport) => this.deliver(proto, from, to, bytes, hint, intercept, source, transport),
      dispatch: (name, event) => this.dispatch(name, event),
      record: (from, a, transport, t) => this.record(from, a, transport, t),
    };
    this.udp = new SipUdpTransport(context, this.sipPeers, (node) => this.endpoints.get(node));
    this.streams = new StreamLinks(context, this.gates, this.sipPeers);
    this.ws = new WsLinks(context, this.sipPeers);
    this.osp = new OspHttpTransport(context, this.gates);
  }

  get now(): number {
    return Math.floor(performance.now() - this.t0);
  }

  private get stopped(): boolean {
    return this.isStopped;
  }

  /** Adds a node and the listeners it needs; they bind when the network starts. */
  add(node: FlowNode<E>, spec: SocketEndpointsSpec): this {
    this.nodes.set(node.name, node);
    this.specs.set(node.name, spec);
    return this;
  }

  /** Inbound connections open now, by "node protocol" listener (SIP streams, COPS, OSP). */
  openConnections(): Record<string, number> {
    return { ...this.gates.open(), ...this.ws.open() };
  }

  /** Addresses each node listens on ("127.0.0.1:port"), for captures and for `callgate serve`. */
  addresses(): Record<string, { sip?: string; ws?: string; cops?: string; osp?: string }> {
    const out: Record<string, { sip?: string; ws?: string; cops?: string; osp?: string }> = {};
    for (const [name, ep] of this.endpoints) {
      const entry: { sip?: string; ws?: string; cops?: string; osp?: string } = {};
      const tcpAddr = boundAddress(ep.sipTcp);
      const udpAddr = boundAddress(ep.udp);
      // The node that takes an outside caller is reached by it over UDP, whatever its peers inside use.
      if (tcpAddr && name !== this.opts.externalSipPeer?.acceptor && this.opts.sipNodeTransports?.[name] !== "udp") entry.sip = `${tcpAddr.host}:${tcpAddr.port};transport=${this.opts.sipTransport === "tls" ? "tls" : "tcp"}`;
      else if (udpAddr) entry.sip = `${udpAddr.host}:${udpAddr.port}`;
      if (ep.ws) entry.ws = ep.ws.url;
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
        ep.udp = await this.udp.bind(name);
        // The stream listener (TCP, or TLS on the directory's sipTls port) is kept as sipTcp.
        if (this.streamSip || this.someHopStreams) ep.sipTcp = await this.streams.listen(name, "SIP");
        // The node that takes an outside caller takes it over TCP too, on its UDP port (RFC 3261 §18: both).
        else if (this.opts.externalSipPeer?.acceptor === name) ep.sipTcp = await this.streams.listen(name, "SIP", boundAddress(ep.udp)?.port);
      }
      const wsPort = spec.sip ? (this.opts.sipWebSocketPorts?.[name] ?? this.opts.directory?.[name]?.sipWs) : undefined;
      if (wsPort !== undefined) {
        const host = this.opts.directory?.[name]?.host ?? LOOPBACK;
        const port = (await this.ws.listen(name, wsPort, host)).port;
        ep.ws = { host, port, url: `${tlsFor(this.opts.tls, "SIP") ? "wss" : "ws"}://${host}:${port}` };
      }
      if (spec.copsServer) ep.cops = await this.streams.listen(name, "COPS");
      if (spec.ospServer && this.opts.osp !== "in-process") ep.http = await this.osp.listen(name);
      ep.bound = { sipUdp: boundAddress(ep.udp), sipTcp: boundAddress(ep.sipTcp), cops: boundAddress(ep.cops), osp: boundAddress(ep.http) };
    }
    const sipPeers: Record<string, string> = {};
    for (const [name, d] of Object.entries(this.opts.directory ?? {})) {
      if (this.nodes.has(name)) continue;
      this.sipPeers.remote(name, d);
      const hop = this.opts.sipNodeTransports?.[name] ?? this.localHopTransport;
      const port = hop === "udp" ? d.sipUdp : hop === "tls" ? d.sipTls : d.sipTcp;
      if (port !== undefined) sipPeers[name] = `${d.host}:${port}`;
    }
    const peers = Object.keys(sipPeers).length > 0 ? { sipPeers } : {};
    this.t0 = performance.now() - (this.opts.wallClock ? Date.now() : 0);
    this.faults.scheduleDownWindows({
      down: (role) => {
        this.streams.dropRole(role);
        for (const name of this.nodes.keys()) if (name !== role) this.dispatch(name, { type: "peer-down", now: this.now, proto: "COPS", peer: role });
      },
      up: (role) => {
        this.dispatch(role, { type: "restart", now: this.now });
        for (const name of this.nodes.keys()) if (name !== role) this.dispatch(name, { type: "peer-up", now: this.now, proto: "COPS", peer: role });
      },
    });
    for (const name of this.nodes.keys()) {
      const sip = this.sipListenAddress(name);
      const listeners = this.sipListeners(name);
      this.dispatch(name, { type: "start", now: this.opts.wallClock ? this.now : 0, ...(sip ? { sip } : {}), ...peers, ...(listeners.length > 1 ? { sipListeners: listeners } : {}) });
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

  /** Every SIP listener of a node (UDP, then the stream listener), each also the arrival its deliveries name. */
  private sipListeners(name: string): SipListenAddress[] {
    const bound = this.endpoints.get(name)?.bound;
    const out: SipListenAddress[] = [];
    const arrivals: Partial<Record<SipArrival["transport"], SipArrival>> = {};
    if (bound?.sipUdp) {
      const listener: SipListenAddress = { host: bound.sipUdp.host, port: bound.sipUdp.port, transport: "UDP" };
      out.push(listener);
      arrivals.udp = { transport: "udp", listener };
    }
    if (bound?.sipTcp) {
      const tls = tlsFor(this.opts.tls, "SIP");
      const listener: SipListenAddress = { host: bound.sipTcp.host, port: bound.sipTcp.port, transport: tls ? "TLS" : "TCP" };
      out.push(listener);
      arrivals[tls ? "tls" : "tcp"] = { transport: tls ? "tls" : "tcp", listener };
    }
    const ws = this.endpoints.get(name)?.ws;
    if (ws) {
      // RFC 7118 §5: the WebSocket listener is named like the others (transport=ws or wss).
      const wss = tlsFor(this.opts.tls, "SIP");
      const listener: SipListenAddress = { host: ws.host, port: ws.port, transport: wss ? "WSS" : "WS" };
      out.push(listener);
      arrivals[wss ? "wss" : "ws"] = { transport: wss ? "wss" : "ws", listener };
    }
    this.arrivals.set(name, arrivals);
    return out;
  }

  /** Stops every timer, closes every socket and connection. */
  async stop(): Promise<void> {
    this.isStopped = true;
    this.timers.clear();
    this.faults.clear();
    this.streams.destroy();
    this.osp.destroy();
    const closing: Promise<void>[] = [this.ws.destroy()];
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

  /** Call-id hints held for messages in flight (a gauge: back to 0 once nothing is in flight). */
  get hintsHeld(): number {
    return this.hints.held + this.streams.hintsHeld;
  }

  /** Where a node listens for a protocol: its own socket here, or its directory entry in another process. */
  private listening(name: string, kind: ListenerKind): Address | undefined {
    const ep = this.endpoints.get(name);
    if (ep) return ep.bound[kind];
    const d = this.opts.directory?.[name];
    const port = kind === "sipTcp" && this.opts.sipTransport === "tls" ? d?.sipTls : d?.[kind];
    return d && port !== undefined ? { host: d.host, port } : undefined;
  }

  // ---- events into nodes ----

  private dispatch(name: string, event: NodeEvent, intercept?: (a: SendAction) => boolean): void {
    if (this.isStopped) return;
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
  private deliver(proto: Protocol, from: string, to: string, bytes: Buffer, hint: string | undefined, intercept?: (a: SendAction) => boolean, source?: Address, transport?: SipArrival["transport"]): void {
    const event: NodeEvent = { type: "deliver", now: this.now, proto, from, bytes };
    if (hint !== undefined) event.callId = hint; // none for a message from another process: no node decides on it
    if (source !== undefined) event.source = source;
    if (transport !== undefined) event.arrival = this.arrivals.get(to)?.[transport] ?? ARRIVALS[transport];
    this.dispatch(to, event, intercept);
  }

  // ---- actions out of nodes ----

  private apply(from: string, actions: NodeAction<E>[], intercept?: (a: SendAction) => boolean): void {
    if (this.isStopped) return;
    for (const action of actions) {
      switch (action.type) {
        case "send":
          if (intercept?.(action)) break;
          if (this.faults.plan.clean) this.transmit(from, action);
          else this.faults.send(action.proto, from, action.to, action.label, this.now, () => this.transmit(from, action));
          break;
        case "set-timer":
          this.timers.set(action.key, action.delayMs, from);
          break;
        case "cancel-timer":
          this.timers.cancel(action.key, from);
          break;
        case "emit":
          this.opts.onEmit?.(from, action.event, this.now);
          break;
        case "close":
          this.streams.close(action.proto, from, action.peer);
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
    if (this.isStopped) return;
    if (a.proto === "SIP") {
      if (this.ws.send(from, a)) return;
      const ext = this.opts.externalSipPeer;
      const toCaller = ext !== undefined && from === ext.acceptor && a.to === ext.as;
      // The outside caller is answered on the connection it called over, else by UDP.
      if (toCaller) {
        if (!this.streams.sendToCaller(from, a)) this.udp.send(from, a);
      } else if (this.opts.sipNodeTransports === undefined ? this.streamSip : this.hopTransport(from, a.to) !== "udp") this.streams.send("SIP", from, a);
      else this.udp.send(from, a);
    } else if (a.proto === "COPS") {
      this.streams.send("COPS", from, a);
    } else if (a.proto === "OSP") {
      this.osp.send(from, a);
    }
  }

  private get streamSip(): boolean {
    return this.opts.sipTransport === "tcp" || this.opts.sipTransport === "tls";
  }

  /** The transport of SIP between two nodes: the receiver's entry of sipNodeTransports, the sender's, else sipTransport. */
  private hopTransport(from: string, to: string): SipTransportName {
    const byNode = this.opts.sipNodeTransports;
    return byNode?.[to] ?? byNode?.[from] ?? this.opts.sipTransport ?? "udp";
  }

  /** Whether some node's SIP runs over a stream while the rest use UDP: every SIP node then listens for streams too. */
  private get someHopStreams(): boolean {
    return Object.values(this.opts.sipNodeTransports ?? {}).some((t) => t !== "udp");
  }

  /** The transport this process's nodes reach a peer in another process on, when the peer has no entry of its own. */
  private get localHopTransport(): SipTransportName {
    for (const name of this.nodes.keys()) {
      const own = this.opts.sipNodeTransports?.[name];
      if (own !== undefined) return own;
    }
    return this.opts.sipTransport ?? "udp";
  }
}
