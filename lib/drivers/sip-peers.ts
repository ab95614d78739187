// Who sent SIP to a node of the socket driver: a node of this process (by its UDP port), a node of another process
// of the deployment (by its UDP source, or the sent-by of a stream's first Via, RFC 3261 §18.2.1), a foreign SIP
// element known by its address, or the outside caller of a lab.
import { parseSipMessage, type SipMessage } from "../../protocols/sip/index.js";
import type { SendAction } from "./node.js";
import type { NodeAddresses } from "./socket-types.js";

/** The names of SIP peers of this process's nodes. */
export class SipPeers {
  /** The node bound to each UDP port of this process. */
  private readonly udpOwner = new Map<number, string>();
  /** SIP/UDP sources ("host:port") of nodes in other processes. */
  private readonly remoteUdp = new Map<string, string>();
  /** SIP stream listeners ("host:port") of nodes in other processes, as their Vias name them. */
  private readonly remoteStream = new Map<string, string>();

  /** `directory`: where the deployment's nodes listen; a foreign element is named by its address only in one. */
  constructor(private readonly directory: Record<string, NodeAddresses> | undefined) {}

  ownUdpPort(port: number, node: string): void {
    this.udpOwner.set(port, node);
  }

  /** A node of another process: known by its UDP source and its stream listeners. */
  remote(name: string, d: NodeAddresses): void {
    if (d.sipUdp !== undefined) this.remoteUdp.set(`${d.host}:${d.sipUdp}`, name);
    // A stream peer names itself by the sent-by of its first request's top Via (RFC 3261 §18.2.1).
    for (const port of [d.sipTcp, d.sipTls]) if (port !== undefined) this.remoteStream.set(`${d.host}:${port}`, name);
  }

  /** The sender of a datagram: a node of this process, of the deployment, or a foreign element (undefined: none). */
  ofDatagram(address: string, port: number): string | undefined {
    return this.udpOwner.get(port) ?? this.remoteUdp.get(`${address}:${port}`) ?? this.foreign(address, port);
  }

  /**
   * A SIP peer outside the deployment, named by its address ("127.0.0.1:5070"): only in a deployment of processes
   * (a directory), where proxies take SIP from foreign proxies; a one-process network knows every peer.
   */
  foreign(address: string, port: number): string | undefined {
    return this.directory !== undefined ? `${address}:${port}` : undefined;
  }

  /** The peer whose stream listener the top Via of a first request names as its sent-by (RFC 3261 §18.2.1). */
  ofFirstRequest(first: Buffer): string | undefined {
    if (this.remoteStream.size === 0) return undefined;
    try {
      const m = parseSipMessage(first);
      if ("status" in m) return undefined;
      const via = m.topVia;
      return this.remoteStream.get(`${via.host}:${via.port ?? (via.transport.toUpperCase() === "TLS" ? 5061 : 5060)}`);
    } catch {
      return undefined; // not a request whose Via can be read: the deployment's own rule judges it
    }
  }
}

/** A message from a peer that records nothing itself (a lab's outside caller), read for its record. */
export interface CallerMessage {
  /** The send its record shows: the label and call id, or "unparsable" (the record keeps the bytes). */
  send: SendAction;
  request: boolean;
  /** The message as parsed, when it parses. */
  message?: SipMessage;
  /** Why it does not parse (the acceptor's transaction layer judges it all the same). */
  error?: unknown;
}

export function callerMessage(acceptor: string, bytes: Buffer): CallerMessage {
  try {
    const m = parseSipMessage(bytes);
    const request = !("status" in m);
    return { send: { type: "send", proto: "SIP", to: acceptor, bytes, label: "status" in m ? `${m.status} ${m.reason}` : m.method, callId: m.callId }, request, message: m };
  } catch (error) {
    return { send: { type: "send", proto: "SIP", to: acceptor, bytes, label: "unparsable", callId: "" }, request: false, error };
  }
}
