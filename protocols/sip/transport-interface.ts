// RFC 3261 §18: the one interface every transport (UDP, TCP, TLS, WebSocket) implements.
import type { SipMessage } from "./sip-message.js";
import type { InboundContext, TransportAddress, TransportProtocol } from "./transport-types.js";

/** Why an inbound message or connection was refused (counted by the transport layer). */
export type InboundRejection = "malformed-datagram" | "malformed-stream" | "oversized" | "bad-frame";

export interface TransportEvents {
  message(message: SipMessage, context: InboundContext): void;
  rejected(reason: InboundRejection, source: TransportAddress, detail: string): void;
}

export interface SipTransport {
  readonly protocol: TransportProtocol;
  readonly reliable: boolean;
  /** The bound address (actual port once listening). */
  readonly local: TransportAddress;
  listen(events: TransportEvents): Promise<void>;
  /**
   * Sends bytes. Connection-oriented transports reuse `connectionId` when open, else an open connection to
   * `destination`, else connect. Rejects with SipTransportError when the peer cannot be reached.
   */
  send(data: Buffer, destination: TransportAddress, connectionId?: string): Promise<void>;
  /** Whether a connection is still open (§18.2.2: responses prefer the request's connection). */
  hasConnection(connectionId: string): boolean;
  close(): Promise<void>;
}
