// SIP over UDP on the socket driver: one socket per node, datagrams named by their source (sip-peers.ts), and a
// lab's outside callers answered where RFC 3261 §18.2.2 and RFC 3581 say, each call's requests sent to the source
// its own requests came from (§12.2, caller-calls.ts).
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { CallerCalls, isResponse, MANY_CALLS_LIMITS, type CallerRoute } from "./caller-calls.js";
import type { SendAction } from "./node.js";
import { isLoopback, literalLookup, LOOPBACK, foreignAddress } from "./socket-addresses.js";
import { callerMessage, type SipPeers } from "./sip-peers.js";
import type { Address, SocketDriverContext } from "./socket-types.js";

/** A node's UDP socket, if it has one, and where it is bound (the network's own record: read, never copied). */
export interface UdpEndpoint {
  udp?: UdpSocket;
  bound: { sipUdp?: Address };
}

/** A source address the lab's outside caller sent from: where its calls' requests and its responses go back. */
interface CallerSource extends CallerRoute {
  address: string;
  port: number;
}

/** Outside callers' sources remembered, least recently heard first: the oldest is forgotten with its calls. */
const CALLER_SOURCES = 256;

/** SIP datagrams between nodes, to and from nodes of other processes, and from a lab's outside caller. */
export class SipUdpTransport {
  /** The outside callers' sources by "address:port", least recently heard first. */
  private readonly callerSources = new Map<string, CallerSource>();
  /** Their calls and transactions, by the source each came from. */
  private readonly callers = new CallerCalls<CallerSource>(MANY_CALLS_LIMITS);

  constructor(
    private readonly net: SocketDriverContext,
    private readonly peers: SipPeers,
    /** The UDP endpoint of a node of this process (undefined for a node elsewhere). */
    private readonly endpointOf: (node: string) => UdpEndpoint | undefined,
  ) {}

  bind(name: string): Promise<UdpSocket> {
    const opts = this.net.options;
    return new Promise((resolve, reject) => {
      const sock = createSocket({ type: "udp4", lookup: literalLookup });
      sock.on("error", (err) => opts.onError?.(`${name} udp`, err));
      sock.on("message", (msg, rinfo) => {
        const from = this.peers.ofDatagram(rinfo.address, rinfo.port);
        if (from !== undefined) this.net.deliver("SIP", from, name, msg, this.net.hints.take("SIP", from, name, msg), undefined, { host: rinfo.address, port: rinfo.port }, "udp");
        else if (opts.externalSipPeer?.acceptor === name && isLoopback(rinfo.address)) this.fromExternal(name, sock, msg, rinfo);
      });
      sock.once("error", reject);
      const d = opts.directory?.[name];
      sock.bind(d?.sipUdp ?? opts.sipPorts?.[name] ?? 0, d?.host ?? LOOPBACK, () => {
        this.peers.ownUdpPort(sock.address().port, name);
        resolve(sock);
      });
    });
  }

  private fromExternal(acceptor: string, sock: UdpSocket, msg: Buffer, rinfo: { address: string; port: number }): void {
    const opts = this.net.options;
    const peer = opts.externalSipPeer?.as ?? "";
    const caller = callerMessage(acceptor, msg);
    this.callers.fromCaller(this.callerSource(rinfo.address, rinfo.port), msg, caller.message);
    if (caller.error !== undefined) {
      // The acceptor's transaction layer judges the datagram (a request it can still answer gets 400,
      // RFC 3261 §18.3); the record keeps the bytes, the drop log counts the cause.
      const err = caller.error;
      opts.onDrop?.("SIP", "malformed-datagram", `${rinfo.address}:${rinfo.port}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const transport = { kind: "udp" as const, src: rinfo.address, srcPort: rinfo.port, dst: LOOPBACK, dstPort: sock.address().port };
    this.net.record(peer, caller.send, transport);
    this.net.deliver("SIP", peer, acceptor, msg, undefined, undefined, { host: rinfo.address, port: rinfo.port }, "udp");
  }

  /** The source `address`:`port` of an outside caller, heard now (the least recently heard forgotten past the bound). */
  private callerSource(address: string, port: number): CallerSource {
    const key = `${address}:${port}`;
    let source = this.callerSources.get(key);
    if (source !== undefined) this.callerSources.delete(key);
    else {
      source = { address, port, transactions: new Map(), calls: new Set() };
      if (this.callerSources.size >= CALLER_SOURCES) {
        const oldest = this.callerSources.values().next().value as CallerSource;
        this.callerSources.delete(`${oldest.address}:${oldest.port}`);
        this.callers.closed(oldest);
      }
    }
    this.callerSources.set(key, source);
    return source;
  }

  /**
   * Where a message to the outside caller goes, undefined when nowhere (a drop counted): a request to the source of
   * its call's requests (RFC 3261 §12.2); a response to the source of its transaction's request, else by its top Via
   * (§18.2.2: received, else sent-by host; rport, else sent-by port, RFC 3581 §4) when a caller sent from there: a Via
   * names no address the lab sends to unasked.
   */
  private externalDestination(a: SendAction): CallerSource | undefined {
    const opts = this.net.options;
    if (!isResponse(a.bytes)) {
      const source = this.callers.requestRoute(a.callId);
      if (source) return source;
      opts.onDrop?.("SIP", source === null ? "caller-call-gone" : "caller-call-unknown", `${a.label} in call ${a.callId}: no outside caller's source carries it`);
      return undefined;
    }
    const { route, via } = this.callers.responseRoute(a.bytes);
    if (route !== undefined) return route;
    if (via !== undefined) {
      const address = via.received ?? via.host;
      const port = typeof via.rport === "number" ? via.rport : (via.port ?? 5060);
      const source = this.callerSources.get(`${address}:${port}`);
      if (source !== undefined) return source;
    }
    opts.onDrop?.("SIP", "caller-unknown-destination", `${a.label} in call ${a.callId}: its Via names no address an outside caller sent from`);
    return undefined;
  }

  send(from: string, a: SendAction): void {
    const here = this.endpointOf(from);
    const src = here?.udp;
    const ext = this.net.options.externalSipPeer;
    if (src && ext && from === ext.acceptor && a.to === ext.as && !this.endpointOf(a.to)) {
      const dest = this.externalDestination(a);
      if (!dest) return;
      this.net.record(from, a, { kind: "udp", src: LOOPBACK, srcPort: here.bound.sipUdp?.port ?? 0, dst: dest.address, dstPort: dest.port });
      src.send(a.bytes, dest.port, dest.address);
      return;
    }
    const dst = this.net.listening(a.to, "sipUdp") ?? foreignAddress(a.to);
    if (!src || !dst) return;
    if (this.net.isLocal(a.to)) this.net.hints.add("SIP", from, a.to, a.bytes, a.callId);
    const bound = here.bound.sipUdp;
    this.net.record(from, a, { kind: "udp", src: bound?.host ?? LOOPBACK, srcPort: bound?.port ?? 0, dst: dst.host, dstPort: dst.port });
    src.send(a.bytes, dst.port, dst.host);
  }
}
