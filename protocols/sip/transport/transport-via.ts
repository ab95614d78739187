// RFC 3261 §18.2.1 and RFC 3581 §4: stamping received/rport on the top Via of an inbound request;
// RFC 3261 §18.2.2 (and RFC 3581 §4): where a response goes, from its top Via.
import type { ViaHeader } from "../codec/header-via.js";
import type { SipRequest, SipResponse } from "../codec/sip-message.js";
import { defaultPort, protocolFromViaTransport, type TransportAddress, type TransportProtocol } from "./transport-types.js";

function bare(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** Stamps received/rport on the top Via of an inbound request (RFC 3261 §18.2.1, RFC 3581 §4); see SipRequest.stampReceived. */
export function stampReceived(request: SipRequest, source: { host: string; port: number }): boolean {
  return request.stampReceived(source);
}

/** §18.2.2 for unicast: received (if any) else sent-by host; rport (if filled) else sent-by port else default. */
export function responseDestinationFromVia(via: ViaHeader, fallbackProtocol: TransportProtocol = "udp"): TransportAddress {
  const protocol = protocolFromViaTransport(via.transport) ?? fallbackProtocol;
  const maddr = via.maddr;
  const host = bare(maddr ?? via.received ?? via.host);
  const port = typeof via.rport === "number" ? via.rport : (via.port ?? defaultPort(protocol));
  return { protocol, host, port };
}

/** Where a response goes: the top Via's received, rport or sent-by (RFC 3261 §18.2.2, RFC 3581). */
export function responseDestination(response: SipResponse, fallbackProtocol: TransportProtocol = "udp"): TransportAddress {
  return responseDestinationFromVia(response.topVia, fallbackProtocol);
}
