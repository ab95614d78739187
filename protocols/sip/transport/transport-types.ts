// RFC 3261 §18: what the transaction layer and proxy need from a transport, independent of UDP/TCP/TLS/WS.

/** The SIP transports: udp, tcp, tls, ws, wss. */
export type TransportProtocol = "udp" | "tcp" | "tls" | "ws" | "wss";

/** A protocol, host and port. */
export interface TransportAddress {
  protocol: TransportProtocol;
  host: string;
  port: number;
}

/** Where an inbound message came from; responses to it are routed from this (§18.2.2). */
export interface InboundContext {
  source: TransportAddress;
  local: TransportAddress;
  /** Set for connection-oriented transports while the connection is known. */
  connectionId?: string;
}

/** Reliable transports need no retransmission (§17.1.1.2 etc.). */
export function isReliableProtocol(p: TransportProtocol): boolean {
  return p !== "udp";
}

/** Via transport token for a protocol (RFC 3261 §20.42, RFC 7118 §5.1). */
export function viaTransportToken(p: TransportProtocol): string {
  return p === "wss" ? "WSS" : p.toUpperCase();
}

/** The transport protocol a Via's transport token names. */
export function protocolFromViaTransport(token: string): TransportProtocol | undefined {
  const t = token.toLowerCase();
  return t === "udp" || t === "tcp" || t === "tls" || t === "ws" || t === "wss" ? t : undefined;
}

/** RFC 3261 §19.1.2: default port per transport (5061 for TLS, RFC 7118 §5.2 leaves WS to 80/443). */
export function defaultPort(p: TransportProtocol): number {
  if (p === "tls") return 5061;
  if (p === "ws") return 80;
  if (p === "wss") return 443;
  return 5060;
}

/** A transport address as `proto:host:port`. */
export function formatTransportAddress(a: TransportAddress): string {
  const host = a.host.includes(":") && !a.host.startsWith("[") ? `[${a.host}]` : a.host;
  return `${a.protocol}:${host}:${a.port}`;
}

/** Parses "udp:127.0.0.1:5060" / "tcp:[::1]:5060" (the CLI's --listen/--next-hop syntax). */
export function parseTransportAddress(text: string): TransportAddress {
  const m = /^(udp|tcp|tls|ws|wss):(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/i.exec(text.trim());
  if (!m) throw new SipTransportError("bad-address", `cannot parse transport address '${text}' (want proto:host:port)`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new SipTransportError("bad-address", `port out of range in '${text}'`);
  const host = m[2]!.startsWith("[") ? m[2]!.slice(1, -1) : m[2]!;
  return { protocol: m[1]!.toLowerCase() as TransportProtocol, host, port };
}

/** Why a transport could not send or keep a connection. */
export type SipTransportErrorCode =
  | "bad-address"
  | "unreachable"
  | "connection-closed"
  | "no-transport"
  | "message-too-large"
  | "send-failed"
  | "destination-refused"
  | "listen-failed";

/** Transport failure, carried to the transaction as a transport-error event (§17.1.4, §17.2.4). */
export class SipTransportError extends Error {
  override readonly name = "SipTransportError";
  constructor(
    readonly code: SipTransportErrorCode,
    message: string,
    readonly destination?: TransportAddress,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
