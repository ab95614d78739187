// RFC 3261 §18: the one interface every transport (UDP, TCP, TLS, WebSocket) implements.
import type { ConnectionRefusal } from "../../net/connection-limits.js";
import type { SipMessage, SipRequest } from "../codec/sip-message.js";
import type { InboundContext, TransportAddress, TransportProtocol } from "./transport-types.js";

/** Why an inbound message or connection was refused (counted by the transport layer). */
export type InboundRejection = "malformed-datagram" | "malformed-stream" | "oversized" | "bad-frame" | ConnectionRefusal;

/** What a transport knows of refused input, so the layer can answer it where the RFC asks for an answer. */
export interface RejectedInput {
  /** The datagram as received (RFC 3261 §18.3: a request whose Content-Length exceeds it gets 400). */
  datagram?: Buffer;
  /** The parse error, when parsing failed. */
  error?: unknown;
  /** A request whose head was read on a stream before the stream failed, with the answer it gets. */
  request?: SipRequest;
  status?: number;
  reason?: string;
  /** The connection the input came on (the answer goes back on it, §18.2.2). */
  context?: InboundContext;
}

/** What a transport reports: messages received, and input it rejected. */
export interface TransportEvents {
  /** A whole message arrived. */
  message(message: SipMessage, context: InboundContext): void;
  /** Input was refused or dropped, and why. */
  rejected(reason: InboundRejection, source: TransportAddress, detail: string, input?: RejectedInput): void;
}

/** One listener of SIP: sends and receives messages on its protocol. */
export interface SipTransport {
  readonly protocol: TransportProtocol;
  readonly reliable: boolean;
  /** The bound address (actual port once listening). */
  readonly local: TransportAddress;
  /** Starts listening; resolves once bound. */
  listen(events: TransportEvents): Promise<void>;
  /**
   * Sends bytes. Connection-oriented transports reuse `connectionId` when open, else an open connection to
   * `destination`, else connect. Rejects with SipTransportError when the peer cannot be reached.
   */
  send(data: Buffer, destination: TransportAddress, connectionId?: string): Promise<void>;
  /** Whether a connection is still open (§18.2.2: responses prefer the request's connection). */
  hasConnection(connectionId: string): boolean;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}
