// RFC 3261 §17.1.1.3: the ACK an INVITE client transaction sends for a non-2xx final response.
import { headerNameMatches } from "../codec/header-names.js";
import { SipRequest, type SipHeader, type SipResponse } from "../codec/sip-message.js";

/** The ACK for a non-2xx final response, built by the INVITE client transaction (RFC 3261 §17.1.1.3). */
export function buildAckForNonSuccess(invite: SipRequest, response: SipResponse): SipRequest {
  const headers: SipHeader[] = [];
  // A single Via, equal to the INVITE's top Via.
  const topVia = invite.getHeaders("Via")[0];
  if (topVia !== undefined) headers.push({ name: "Via", value: topVia });
  // Route header fields of the INVITE are kept (§17.1.1.3).
  for (const h of invite.headers) if (headerNameMatches(h.name, "route")) headers.push({ name: h.name, value: h.value });
  const copy = (name: string, from: SipRequest | SipResponse): void => {
    const value = from.getHeader(name);
    if (value !== undefined) headers.push({ name, value });
  };
  headers.push({ name: "Max-Forwards", value: "70" });
  copy("From", invite);
  copy("To", response); // To of the response, carrying its tag
  copy("Call-ID", invite);
  headers.push({ name: "CSeq", value: `${invite.cseq.seq} ACK` });
  headers.push({ name: "Content-Length", value: "0" });
  return new SipRequest("ACK", invite.uri, headers);
}
