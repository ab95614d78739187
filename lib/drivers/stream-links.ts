// Stream links of the socket driver: one TCP (or TLS) connection per node pair, for COPS (calls multiplexed by
// Handle) and for SIP when it runs over streams. A link a node of this process opens is known by its local port; a
// connection from another process is named by its first message (a COPS OPN's PEPID, a SIP request's top Via),
// and a foreign SIP element or a lab's outside caller by its connection (RFC 3261 §18.2.2: answered on it). Each of
// the outside caller's connections lives on its own: its responses and its calls' requests go on it (caller-calls.ts).
import { createConnection, createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { connect as tlsConnect, createServer as createTlsServer } from "node:tls";
import type { Protocol } from "./message-record.js";
import type { SendAction } from "./node.js";
import { LOOPBACK, foreignAddress } from "./socket-addresses.js";
import { certifiedPeer, closeFailedHandshakes, handshakeTimeoutMs, type ListenerGates } from "./socket-listeners.js";
import { tlsClientOptions, tlsFor, tlsServerOptions } from "./socket-tls.js";
import type { SocketDriverContext, TcpPeerSource, Transport } from "./socket-types.js";
import { CallerCalls, isResponse, MANY_CALLS_LIMITS, type CallerRoute } from "./caller-calls.js";
import { callerMessage, type SipPeers } from "./sip-peers.js";
import { framingRefusal, streamFramer, type StreamFramer } from "./stream-framers.js";

/** Link keys kept for reuse at most (the pairs of one run are far fewer). */
const PAIR_KEYS_MAX = 4096;

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

/** A connection of the lab's outside caller: one of many under its one peer name, with the calls it carries. */
interface CallerLink extends Link, CallerRoute {}

/** The stream links of one network: listeners, connections, framing, corked writes. */
export class StreamLinks {
  private readonly links = new Map<string, Link>();
  /** The links' keys "proto|connector|acceptor", made once per pair: a send looks its link up by the same string. */
  private readonly pairKeys = new Map<Protocol, Map<string, Map<string, string>>>();
  private pairKeyCount = 0;
  /** The link of each connection a node of this process opened, by its local port. */
  private readonly clientOwner = new Map<number, Link>();
  /** The outside caller's connections (each its own link, not in `links`: they share one peer name). */
  private readonly callerLinks = new Set<CallerLink>();
  /** Their calls and transactions, by the connection each came on. */
  private readonly callers = new CallerCalls<CallerLink>(MANY_CALLS_LIMITS);
  /** Sockets corked during this turn of the event loop. */
  private readonly corked = new Set<Socket>();

  constructor(
    private readonly net: SocketDriverContext,
    private readonly gates: ListenerGates,
    private readonly sipPeers: SipPeers,
  ) {}

  /** Call-id hints held for messages written and not yet read. */
  get hintsHeld(): number {
    let n = 0;
    for (const link of this.links.values()) n += link.hints[0].length + link.hints[1].length;
    return n;
  }

  /** Listens for `proto` streams to node `name` (TLS when the run's TLS covers the protocol), on `port` if given. */
  listen(name: string, proto: Protocol, port?: number): Promise<TcpServer> {
    const opts = this.net.options;
    return new Promise((resolve, reject) => {
      const tls = opts.tls;
      const server = tls && tlsFor(tls, proto)
        ? closeFailedHandshakes(createTlsServer(tlsServerOptions(tls, name, handshakeTimeoutMs(opts)), (sock) => this.accept(name, proto, sock)))
        : createTcpServer((sock) => this.accept(name, proto, sock));
      server.once("error", reject);
      this.gates.limit(server, name, proto);
      const d = opts.directory?.[name];
      const sipPort = opts.sipTransport === "tls" ? d?.sipTls : d?.sipTcp;
      server.listen(port ?? (proto === "COPS" ? d?.cops : sipPort) ?? 0, d?.host ?? LOOPBACK, () => resolve(server));
    });
  }

  private accept(acceptor: string, proto: Protocol, sock: Socket): void {
    const opts = this.net.options;
    sock.setNoDelay(true);
    const frames = streamFramer(proto, this.gates.get(acceptor, proto)?.watch(sock));
    let link: Link | undefined;
    let certified = false;
    sock.on("data", (chunk: Buffer) => {
      link ??= this.clientOwner.get(sock.remotePort ?? -1);
      if (link && !certified) {
        // Mutual TLS: once per connection, the client certificate must name the connecting node.
        if (!certifiedPeer(opts, proto, sock, link.connector)) {
          sock.destroy();
          return;
        }
        certified = true;
      }
      if (link) {
        if (link.server !== sock) sock.setTimeout(0); // a known peer: its liveness is its protocol's (COPS KA, RFC 2748 §2.6)
        link.server = sock;
        this.onFrames(frames, chunk, link, 0, sock);
      } else if (opts.identifyTcpPeer) {
        link = this.acceptRemote(frames, chunk, acceptor, proto, sock);
        if (link) sock.setTimeout(0);
      } else if (proto === "SIP" && opts.externalSipPeer?.acceptor === acceptor) {
        // The outside caller over TCP: each of its connections is a link of the peer `as` of its own (§18.2.2:
        // responses go back on it), however many it opens.
        const list = this.frame(frames, chunk, opts.externalSipPeer.as, acceptor, proto, sock);
        if (list) link = this.acceptCaller(list, acceptor, opts.externalSipPeer.as, sock);
      } else {
        // Every peer of a one-process network connects from this process: anyone else is closed at once.
        opts.onDrop?.(proto, "unknown-peer", `${sock.remoteAddress ?? "?"}:${sock.remotePort ?? 0}`);
        sock.destroy();
      }
    });
    sock.on("error", () => undefined);
    sock.on("close", () => {
      if (link) this.drop(link);
    });
  }

  /** Whole messages of a chunk read on a link, `dir` 0 from the connector, 1 from the acceptor. */
  private onFrames(frames: StreamFramer, chunk: Buffer, link: Link, dir: 0 | 1, sock: Socket): void {
    const [from, to] = dir === 0 ? [link.connector, link.acceptor] : [link.acceptor, link.connector];
    const list = this.frame(frames, chunk, from, to, link.proto, sock);
    if (!list) return;
    const source = link.proto === "SIP" ? { host: sock.remoteAddress ?? "", port: sock.remotePort ?? 0 } : undefined;
    const arrival = link.proto === "SIP" ? this.sipStreamKind : undefined;
    // The outside caller records nothing itself: what it sends is recorded here, as for its datagrams.
    const ext = this.net.options.externalSipPeer;
    const outside = dir === 0 && link.proto === "SIP" && from === ext?.as && ext.acceptor === to;
    for (const f of list) {
      if (outside) this.fromCaller(link as CallerLink, f);
      this.net.deliver(link.proto, from, to, f, link.hints[dir].shift(), undefined, source, arrival);
    }
  }

  /** A message of the outside caller on its link: recorded (it records nothing itself), its call and transaction noted. */
  private fromCaller(link: CallerLink, bytes: Buffer): void {
    const caller = callerMessage(link.acceptor, bytes);
    this.callers.fromCaller(link, bytes, caller.message);
    this.net.record(link.connector, caller.send, this.transportOf(link, true));
  }

  /** A connection of the lab's outside caller (named `peer`), its first messages in `list`: a link of its own. */
  private acceptCaller(list: Buffer[], acceptor: string, peer: string, sock: Socket): CallerLink {
    const link: CallerLink = { proto: "SIP", connector: peer, acceptor, client: sock, server: sock, connected: true, queue: [], hints: [[], []], transactions: new Map(), calls: new Set() };
    this.callerLinks.add(link);
    const from = { host: sock.remoteAddress ?? "", port: sock.remotePort ?? 0 };
    for (const f of list) {
      this.fromCaller(link, f);
      this.net.deliver("SIP", peer, acceptor, f, undefined, undefined, from, this.sipStreamKind);
    }
    return link;
  }

  private frame(frames: StreamFramer, chunk: Buffer, from: string, to: string, proto: Protocol, sock: Socket): Buffer[] | undefined {
    if (sock.writableEnded) return undefined; // refused: nothing more is read
    try {
      return frames(chunk);
    } catch (err) {
      // A stream that cannot be framed is closed (RFC 2748 §2.1 / RFC 3261 §18.3); COPS first says why in a CC (§3.7).
      const refusal = framingRefusal(err);
      if (refusal) {
        this.net.options.onDrop?.(proto, refusal.cause, `${from}→${to}: ${err instanceof Error ? err.message : String(err)}`);
        this.refuse(sock, refusal.answer);
      } else {
        this.net.options.onError?.(`${proto} stream ${from}→${to}`, err);
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
  close(proto: Protocol, node: string, peer: string): void {
    const link = this.links.get(this.pairKey(proto, peer, node)) ?? this.links.get(this.pairKey(proto, node, peer));
    if (!link) return;
    this.links.delete(this.pairKey(proto, link.connector, link.acceptor));
    this.clientOwner.delete(link.client.localPort ?? -1);
    // The peer reads what was written (the CC), then the close; a PEP of this process fails over on the CC.
    this.refuse(link.connector === node ? link.client : (link.server ?? link.client), Buffer.alloc(0));
  }

  /** A connection from a node in another process: its first message names it; the link is then used both ways. */
  private acceptRemote(frames: StreamFramer, chunk: Buffer, acceptor: string, proto: Protocol, sock: Socket): Link | undefined {
    const opts = this.net.options;
    const list = this.frame(frames, chunk, "?", acceptor, proto, sock);
    const first = list?.[0];
    if (!list || !first) return undefined;
    const source: TcpPeerSource = {
      address: sock.remoteAddress ?? "",
      port: sock.remotePort ?? 0,
      linked: (name) => this.links.has(this.pairKey(proto, name, acceptor)),
    };
    const peer = (proto === "SIP" ? this.sipPeers.ofFirstRequest(first) : undefined) ?? opts.identifyTcpPeer?.(proto, acceptor, first, source);
    if (typeof peer === "object") {
      // Refused as its protocol says (a COPS CC with Error); a link the peer name already has is left alone.
      opts.onDrop?.(proto, peer.cause, `${source.address}:${source.port}`);
      this.refuse(sock, peer.answer);
      return undefined;
    }
    if (peer === undefined && proto === "SIP") {
      // A SIP peer outside the deployment (a foreign proxy): known by its connection, answered on it (§18.2.2).
      const named = this.sipPeers.foreign(source.address, source.port);
      if (named !== undefined) return this.linkAccepted(list, acceptor, proto, sock, named, source);
    }
    if (peer === undefined || this.net.isLocal(peer)) {
      opts.onError?.(`${proto} connection to ${acceptor}`, new Error(`no known peer sent ${sock.remoteAddress ?? "?"}:${sock.remotePort ?? 0}'s first message`));
      sock.destroy();
      return undefined;
    }
    if (!certifiedPeer(opts, proto, sock, peer)) {
      opts.onError?.(`${proto} connection to ${acceptor}`, new Error(`the client certificate of ${sock.remoteAddress ?? "?"}:${sock.remotePort ?? 0} does not name ${peer}`));
      sock.destroy();
      return undefined;
    }
    return this.linkAccepted(list, acceptor, proto, sock, peer, source);
  }

  private linkAccepted(list: Buffer[], acceptor: string, proto: Protocol, sock: Socket, peer: string, source: TcpPeerSource): Link {
    const link: Link = { proto, connector: peer, acceptor, client: sock, server: sock, connected: true, queue: [], hints: [[], []] };
    this.drop(this.links.get(this.pairKey(proto, peer, acceptor)));
    this.links.set(this.pairKey(proto, peer, acceptor), link);
    const from = proto === "SIP" ? { host: source.address, port: source.port } : undefined;
    for (const f of list) {
      this.net.deliver(proto, peer, acceptor, f, undefined, undefined, from, proto === "SIP" ? this.sipStreamKind : undefined);
    }
    return link;
  }

  private pairKey(proto: Protocol, connector: string, acceptor: string): string {
    let byConnector = this.pairKeys.get(proto);
    if (byConnector === undefined) this.pairKeys.set(proto, (byConnector = new Map()));
    let byAcceptor = byConnector.get(connector);
    if (byAcceptor === undefined) byConnector.set(connector, (byAcceptor = new Map()));
    let key = byAcceptor.get(acceptor);
    if (key === undefined) {
      // Peers of other processes come and go under new names: the cache is bounded (a key is equal text anyway).
      if (++this.pairKeyCount > PAIR_KEYS_MAX) {
        this.pairKeys.clear();
        this.pairKeyCount = 1;
        this.pairKeys.set(proto, (byConnector = new Map([[connector, (byAcceptor = new Map())]])));
      }
      byAcceptor.set(acceptor, (key = `${proto}|${connector}|${acceptor}`));
    }
    return key;
  }

  private linkFor(proto: Protocol, from: string, to: string): Link | undefined {
    const mine = this.links.get(this.pairKey(proto, from, to));
    if (mine) return mine;
    const theirs = this.links.get(this.pairKey(proto, to, from));
    if (theirs) return theirs;
    const addr = this.net.listening(to, proto === "COPS" ? "cops" : "sipTcp") ?? (proto === "SIP" ? foreignAddress(to) : undefined);
    if (!addr) return undefined;
    const tls = this.net.options.tls;
    const secure = tls !== undefined && tlsFor(tls, proto);
    const client = secure ? tlsConnect(tlsClientOptions(tls, from, to, addr.host, addr.port)) : createConnection({ host: addr.host, port: addr.port });
    client.setNoDelay(true);
    const link: Link = { proto, connector: from, acceptor: to, client, connected: false, queue: [], hints: [[], []] };
    this.links.set(this.pairKey(proto, from, to), link);
    const frames = streamFramer(proto);
    client.on(secure ? "secureConnect" : "connect", () => {
      this.clientOwner.set(client.localPort ?? -1, link);
      link.connected = true;
      for (const q of link.queue.splice(0)) {
        this.net.record(q.from, q.action, this.transportOf(link, true), q.t);
        this.write(client, q.action.bytes);
      }
    });
    client.on("data", (chunk: Buffer) => this.onFrames(frames, chunk, link, 1, client));
    client.on("error", () => undefined);
    client.on("close", () => this.drop(link));
    return link;
  }

  private drop(link: Link | undefined): void {
    if (!link) return;
    if (this.callerLinks.delete(link as CallerLink)) this.callers.closed(link as CallerLink);
    else {
      const key = this.pairKey(link.proto, link.connector, link.acceptor);
      if (this.links.get(key) !== link) return;
      this.links.delete(key);
    }
    this.clientOwner.delete(link.client.localPort ?? -1);
    link.client.destroy();
    link.server?.destroy();
    if (this.net.stopped) return;
    // The connecting side (a COPS PEP) learns its PDP went away (RFC 2748 §2.5 fail-over); a node accepting a
    // peer of another process learns that peer is gone (a PDP frees the PEP's states).
    this.net.dispatch(link.connector, { type: "peer-down", now: this.net.now, proto: link.proto, peer: link.acceptor });
    if (!this.net.isLocal(link.connector)) this.net.dispatch(link.acceptor, { type: "peer-down", now: this.net.now, proto: link.proto, peer: link.connector });
  }

  /** Breaks every link of a role (it went down). */
  dropRole(role: string): void {
    for (const link of [...this.links.values(), ...this.callerLinks]) if (link.connector === role || link.acceptor === role) this.drop(link);
  }

  /**
   * Sends `a` to the lab's outside caller when one of its connections is where it goes: a request on the connection
   * that carries its call (RFC 3261 §12.2), none when that one closed (RFC 5626 §5.3: never another caller's); a
   * response on the connection its transaction's request came on, else the one its Via's received and rport name
   * (§18.2.2, RFC 3581 §4). False when no connection of the caller is for it (it is UDP's).
   */
  sendToCaller(from: string, a: SendAction): boolean {
    if (this.callerLinks.size === 0 && this.callers.empty) return false;
    let link: CallerLink | null | undefined;
    if (!isResponse(a.bytes)) {
      link = this.callers.requestRoute(a.callId);
      if (link === null) {
        this.net.options.onDrop?.("SIP", "caller-call-gone", `${a.label} in call ${a.callId}: its TCP connection is gone`);
        return true;
      }
    } else {
      const { route, via } = this.callers.responseRoute(a.bytes);
      link = route;
      if (link === undefined && via?.received !== undefined && typeof via.rport === "number") {
        for (const l of this.callerLinks) if (l.client.remotePort === via.rport && l.client.remoteAddress === via.received) link = l;
      }
    }
    if (link === undefined) return false;
    if (link.acceptor !== from || link.client.destroyed) return true; // closed: what was for it is lost with it
    this.net.record(from, a, this.transportOf(link, false));
    this.write(link.client, a.bytes);
    return true;
  }

  send(proto: Protocol, from: string, a: SendAction): void {
    const link = this.linkFor(proto, from, a.to);
    if (!link) return;
    const fromConnector = link.connector === from;
    const sock = fromConnector ? link.client : link.server;
    if (fromConnector && !link.connected) {
      if (this.net.isLocal(a.to)) link.hints[0].push(a.callId);
      link.queue.push({ from, action: a, t: this.net.now });
      return;
    }
    if (!sock || sock.destroyed) return;
    if (this.net.isLocal(a.to)) link.hints[fromConnector ? 0 : 1].push(a.callId);
    this.net.record(from, a, this.transportOf(link, fromConnector));
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

  private transportOf(link: Link, fromConnector: boolean): Transport {
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

  /** The transport a SIP stream of this network is (RFC 3261 §18): TLS when the run's TLS covers SIP. */
  private get sipStreamKind(): "tcp" | "tls" {
    const tls = this.net.options.tls;
    return tls !== undefined && tlsFor(tls, "SIP") ? "tls" : "tcp";
  }

  /** Closes every connection (the network stops). */
  destroy(): void {
    for (const link of [...this.links.values(), ...this.callerLinks]) {
      link.client.destroy();
      link.server?.destroy();
    }
    this.links.clear();
    this.callerLinks.clear();
    this.callers.clear();
  }
}
