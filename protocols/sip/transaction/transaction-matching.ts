// RFC 3261 §17.1.3 / §17.2.3 transaction matching keys, §9.2 CANCEL matching, §8.2.2.2 merged requests.
import type { SipRequest, SipResponse } from "../codec/sip-message.js";

// RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with the magic cookie.
/** The branch prefix of RFC 3261 (§8.1.1.7). */
export const MAGIC_COOKIE = "z9hG4bK";

function sentBy(host: string, port: number | undefined): string {
  return `${host.toLowerCase()}:${port ?? ""}`;
}

/** §17.1.3: a response belongs to the client transaction whose request had this top-Via branch and CSeq method. */
export function clientTransactionKey(branch: string, method: string): string {
  return `${branch}\u0000${method.toUpperCase()}`;
}

/** The key of a client transaction: top-Via branch and CSeq method. */
export function clientKeyOfRequest(request: SipRequest): string {
  return clientTransactionKey(request.topVia.branch ?? "", request.method);
}

/** The client transaction key a response matches. */
export function clientKeyOfResponse(response: SipResponse): string {
  return clientTransactionKey(response.topVia.branch ?? "", response.cseq.method);
}

/**
 * §17.2.3: key of the server transaction a request belongs to. ACK maps onto its INVITE; `asMethod` lets a
 * CANCEL look up the transaction it cancels (§9.2). Requests from RFC 2543 elements (no magic cookie) are
 * keyed by Request-URI, From tag, Call-ID, CSeq number and top Via; the To tag takes part only for methods other
 * than INVITE/ACK (the ACK's To tag is checked against the response separately, see `rfc2543AckMatches`).
 */
export function serverTransactionKey(request: SipRequest, asMethod?: string): string {
  const via = request.topVia;
  let method = (asMethod ?? request.method).toUpperCase();
  if (method === "ACK") method = "INVITE";
  const branch = via.branch;
  if (branch !== undefined && branch.startsWith(MAGIC_COOKIE)) {
    return `3261\u0000${branch}\u0000${sentBy(via.host, via.port)}\u0000${method}`;
  }
  const toTag = method === "INVITE" || method === "CANCEL" ? "" : (request.to.tag ?? "");
  return [
    "2543",
    request.uri,
    toTag,
    request.from.tag ?? "",
    request.callId,
    String(request.cseq.seq),
    sentBy(via.host, via.port),
    branch ?? "",
    method,
  ].join("\u0000");
}

/** Whether the top Via's branch starts with the RFC 3261 magic cookie. */
export function isRfc3261Branch(request: SipRequest): boolean {
  return request.topVia.branch?.startsWith(MAGIC_COOKIE) ?? false;
}

/** §17.2.3 (RFC 2543 fallback): an ACK matches the INVITE transaction whose response carried the ACK's To tag. */
export function rfc2543AckMatches(ack: SipRequest, lastResponse: SipResponse | undefined): boolean {
  if (!lastResponse) return false;
  return (ack.to.tag ?? "") === (lastResponse.to.tag ?? "");
}

/** §8.2.2.2: requests without To tag that share From tag, Call-ID and CSeq are copies of one request. */
export function mergedRequestKey(request: SipRequest): string | undefined {
  if (request.to.tag !== undefined) return undefined;
  return [request.from.tag ?? "", request.callId, String(request.cseq.seq), request.cseq.method.toUpperCase()].join("\u0000");
}
