// SIP over UDP on the socket driver: one socket per node, datagrams named by their source (sip-peers.ts), and a
// lab's outside caller answered where RFC 3261 §18.2.2 and RFC 3581 say.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { parseSipMessage, parseViaValue } from "../../protocols/sip/index.js";
import type { SendAction } from "./node.js";
import { isLoopback, literalLookup, LOOPBACK, foreignAddress } from "./socket-addresses.js";
import { callerMessage, type SipPeers } from "./sip-peers.js";
import type { Address, SocketDriverContext } from "./socket-types.js";

/** A node's UDP socket, if it has one, and where it is bound (the network's own record: read, never copied). */
export interface UdpEndpoint {
  udp?: UdpSocket;
  bound: { sipUdp?: Address };
}

/** SIP datagrams between nodes, to and from nodes of other processes, and from a lab's outside caller. */
export class SipUdpTransport {
  /** Source of the last request from the external SIP peer: where requests to it go. */
  private externalSource: { address: string; port: number } | undefined;

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
    if (caller.request) this.externalSource = { address: rinfo.address, port: rinfo.port };
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

  send(from: string, a: SendAction): void {
    const here = this.endpointOf(from);
    const src = here?.udp;
    const ext = this.net.options.externalSipPeer;
    if (src && ext && from === ext.acceptor && a.to === ext.as && !this.endpointOf(a.to)) {
      const dest = this.externalDestination(a.bytes);
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
